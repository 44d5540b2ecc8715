use crate::bindings::atrium::agent::node_attributes::Host;
use crate::host_state::HostState;
use atrium_contract::promotion_attribute;

impl HostState {
    fn node_or_local(&self, node: Option<String>) -> String {
        node.unwrap_or_else(|| self.env.services.node_name.to_string())
    }

    /// Agents read any node's attributes but write only their own node's, so an agent can
    /// never steer placement on other nodes.
    fn writable_node(&self, node: Option<String>) -> Result<String, String> {
        let node = self.node_or_local(node);
        if node == *self.env.services.node_name {
            Ok(node)
        } else {
            Err(format!("agents may change attributes of their own node ({}) only, not of {node}", self.env.services.node_name))
        }
    }
}

impl Host for HostState {
    fn local_node(&mut self) -> String {
        self.env.services.node_name.to_string()
    }

    fn get(&mut self, node: Option<String>, name: String) -> Option<String> {
        let node = self.node_or_local(node);
        self.env.services.attributes.get(&node, &name).unwrap_or_else(|e| {
            tracing::error!(agent = &*self.env.agent, "node attribute get failed: {e}");
            None
        })
    }

    fn set(&mut self, node: Option<String>, name: String, value: String) -> Result<(), String> {
        let node = self.writable_node(node)?;
        self.env.services.attributes.set(&node, &name, &value).map_err(|e| e.to_string())
    }

    fn delete(&mut self, node: Option<String>, name: String) -> Result<(), String> {
        let node = self.writable_node(node)?;
        self.env.services.attributes.delete(&node, &name).map_err(|e| e.to_string())
    }

    fn set_promotion_score(&mut self, score: i32) -> Result<(), String> {
        let name = promotion_attribute(&self.env.instance);
        let node = self.env.services.node_name.to_string();
        self.env.services.attributes.set(&node, &name, &score.to_string()).map_err(|e| e.to_string())
    }

    fn clear_promotion_score(&mut self) -> Result<(), String> {
        let name = promotion_attribute(&self.env.instance);
        let node = self.env.services.node_name.to_string();
        self.env.services.attributes.delete(&node, &name).map_err(|e| e.to_string())
    }
}

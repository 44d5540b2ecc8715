use crate::bindings::atrium::agent::state::Host;
use crate::host_state::HostState;

// The WIT interface has no error channel for state: an I/O failure is logged and reads as
// "absent", so an agent sees "not running" rather than a false "running".
impl Host for HostState {
    fn get(&mut self, key: String) -> Option<String> {
        self.env.services.state.get(&self.env.instance, &key).unwrap_or_else(|e| {
            tracing::error!(agent = &*self.env.agent, "state get failed: {e}");
            None
        })
    }

    fn set(&mut self, key: String, value: String) {
        if let Err(e) = self.env.services.state.set(&self.env.instance, &key, &value) {
            tracing::error!(agent = &*self.env.agent, "state set failed: {e}");
        }
    }

    fn delete(&mut self, key: String) {
        if let Err(e) = self.env.services.state.delete(&self.env.instance, &key) {
            tracing::error!(agent = &*self.env.agent, "state delete failed: {e}");
        }
    }
}

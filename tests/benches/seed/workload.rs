//! What each cell runs: the cluster shape and the crm configuration, the same text for Atrium
//! and for Pacemaker (crmsh loads it too).

/// The agent a cell's resources use.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Agent {
    /// The built-in WASM Dummy, `wasm:atrium:dummy`.
    Wasm,
    /// Debian's `ocf:heartbeat:Dummy` shell script (through Atrium's OCF shim, or Pacemaker's
    /// executor).
    Shell,
}

impl Agent {
    pub fn address(self) -> &'static str {
        match self {
            Agent::Wasm => "wasm:atrium:dummy",
            Agent::Shell => "ocf:heartbeat:Dummy",
        }
    }
}

/// The cluster options every cell uses, for both systems; printed with the results.
/// load-threshold is raised so that both run node-action-limit jobs per node on this loaded
/// machine, instead of each throttling by its own reading of the load average.
pub const PROPERTIES: &[(&str, &str)] =
    &[("stonith-enabled", "false"), ("node-action-limit", "4"), ("load-threshold", "10000%"), ("no-quorum-policy", "stop")];

/// The seed's operations for its Dummy resources.
pub const OPS: &str = "op start interval=0s timeout=60s op monitor interval=30s timeout=60s op stop interval=0s timeout=60s";

/// Fencing in the failover cells: the same fence-agents script for both systems, which reports
/// success at once (as a power switch would for a node already dead), so the phase measures
/// each system's fencing path rather than a BMC.
const FENCE_DEVICE: &str = "primitive fence stonith:fence_dummy params pcmk_host_check=none\n";

/// Resources a failover cell runs besides its Dummies: the fence device.
pub const FENCE_DEVICES: usize = 1;

/// `resources` primitives; resource i prefers node `home(i)` (score 100, Pacemaker's usual
/// stickiness-sized preference), which is how an "N+1" cluster keeps its spare node empty.
pub fn crm_config(agent: Agent, resources: usize, home: impl Fn(usize) -> usize) -> String {
    crm_config_with(agent, resources, home, false)
}

fn crm_config_with(agent: Agent, resources: usize, home: impl Fn(usize) -> usize, fencing: bool) -> String {
    let props: Vec<String> =
        PROPERTIES.iter().map(|(k, v)| if *k == "stonith-enabled" && fencing { format!("{k}=true") } else { format!("{k}={v}") }).collect();
    let mut c = format!("property cib-bootstrap-options: {}\n", props.join(" "));
    if fencing {
        c.push_str(FENCE_DEVICE);
    }
    for i in 0..resources {
        c.push_str(&format!("primitive r{i} {} {OPS}\n", agent.address()));
        c.push_str(&format!("location l-r{i} r{i} 100: node{}\n", home(i)));
    }
    c
}

/// An "N+1" startup cell: `active` nodes with 15 resources each and one spare.
pub fn n_plus_one(agent: Agent, active: usize, per_node: usize) -> String {
    crm_config(agent, active * per_node, |i| i / per_node + 1)
}

/// A failover cell: an "N+1" cluster with fencing on.
pub fn n_plus_one_fenced(agent: Agent, active: usize, per_node: usize) -> String {
    crm_config_with(agent, active * per_node, |i| i / per_node + 1, true)
}

/// A "1+1" cell: every resource on node1, node2 the standby.
pub fn one_plus_one(agent: Agent, resources: usize) -> String {
    crm_config(agent, resources, |_| 1)
}

/// A one-line summary of the settings, for the printed report.
pub fn settings() -> String {
    let props: Vec<String> = PROPERTIES.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}; Dummy ops: {OPS}; location preference 100 to the resource's home node; failover cells: stonith-enabled=true with `stonith:fence_dummy`", props.join(", "))
}

//! Which full node carries each action of a remote node: the one that holds the remote's
//! connection when the action runs. The DC writes it into the transition (`Step::via`), so an
//! executor knows what to carry and the cluster knows whose loss ends the action.

use std::collections::BTreeMap;

use atrium_cib::Configuration;
use atrium_scheduler::Schedule;
use atrium_scheduler::status::ResourceStatus;

use super::CONNECTION_AGENT;
use crate::daemon::transition::{Step, StepKind};

/// Sets `via` on every resource step whose node is a remote node. A connection starting in
/// this transition carries what comes after its start; stops (ordered before a connection's
/// stop) go where it runs now.
pub fn assign_via(steps: &mut [Step], schedule: &Schedule, config: &Configuration) {
    let connections: Vec<&str> = config.primitives().into_iter().filter(|p| p.agent() == CONNECTION_AGENT).map(|p| p.id.as_str()).collect();
    if connections.is_empty() {
        return;
    }
    let mut running: BTreeMap<&str, &str> = BTreeMap::new();
    for r in &schedule.current.resources {
        if let ResourceStatus::Primitive { id, node: Some(node), .. } = r
            && connections.contains(&id.as_str())
        {
            running.insert(id.as_str(), node.as_str());
        }
    }
    let starting: BTreeMap<String, String> = steps
        .iter()
        .filter(|s| s.task == "start" && s.rsc.as_deref().is_some_and(|r| connections.contains(&r)))
        .filter_map(|s| Some((s.rsc.clone()?, s.node.clone()?)))
        .collect();
    for step in steps.iter_mut().filter(|s| s.kind == StepKind::Resource) {
        let Some(node) = step.node.as_deref() else { continue };
        if !connections.contains(&node) {
            continue;
        }
        let now = running.get(node).map(|n| n.to_string());
        let next = starting.get(node).cloned();
        step.via = if matches!(step.task.as_str(), "stop" | "demote") { now.or(next) } else { next.or(now) };
    }
}

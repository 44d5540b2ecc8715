//! A transition as the cluster replicates it: the scheduler's graph with, per action, what the
//! executor needs to run it and how far it got.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What kind of work an action is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// An agent operation on a node.
    Resource,
    /// A marker: complete as soon as everything before it is.
    Pseudo,
    /// Fencing a node (`action` is reboot or off).
    Fence { action: String },
    /// The node's daemon leaves the cluster.
    Shutdown,
    /// An expired fail count is cleared.
    ClearFailcount,
}

/// How far an action got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StepState {
    /// Waiting for the actions before it.
    Pending,
    /// The scheduler marked it unrunnable (or something before it is): it never runs.
    Blocked,
    /// Handed to its node's executor by the DC of `term`.
    Dispatched { term: u64 },
    /// Finished with the expected result.
    Done,
    /// Finished with another result (or lost with its node).
    Failed { reason: String },
}

/// One action of a transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub id: usize,
    pub kind: StepKind,
    pub rsc: Option<String>,
    /// The name the agent and the status section know the resource by: the resource id, but
    /// an anonymous clone's instances all go by the clone's primitive id (instance numbers
    /// mean nothing for them and change between transitions), as in Pacemaker.
    pub instance: Option<String>,
    pub task: String,
    pub interval_ms: u64,
    pub node: Option<String>,
    /// For an action on a remote node, the full node that carries it over the remote's
    /// connection (see `remote::routing`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Agent address (`ocf:heartbeat:Dummy`, `wasm:atrium:dummy`) for resource actions, as
    /// the status section records it too.
    pub agent: Option<String>,
    pub params: BTreeMap<String, String>,
    /// Meta values passed to the agent (clone_max, ...), without the `CRM_meta_` prefix.
    pub meta: BTreeMap<String, String>,
    pub timeout_ms: u64,
    /// The OCF code that counts as success (7 for a probe expecting "not running").
    pub target_rc: i32,
    pub state: StepState,
}

impl Step {
    /// Pacemaker-style key: `rsc_start_0`, `stonith-node1-reboot`, `do_shutdown_node1`.
    pub fn key(&self) -> String {
        match (&self.kind, &self.rsc) {
            (StepKind::Fence { action }, _) => format!("stonith-{}-{action}", self.node.as_deref().unwrap_or("")),
            (_, Some(r)) => format!("{r}_{}_{}", self.task, self.interval_ms),
            (_, None) => format!("{}_{}", self.task, self.node.as_deref().unwrap_or("")),
        }
    }

    /// Runs on a node's executor (as opposed to markers the DC completes itself).
    pub fn is_executed(&self) -> bool {
        !matches!(self.kind, StepKind::Pseudo)
    }
}

/// One transition of the DC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub id: u64,
    /// Raft term of the DC that made it: executors refuse its actions once a newer DC exists.
    pub term: u64,
    pub dc: String,
    /// The CIB input generation it was computed from.
    pub generation: u64,
    /// The saved scheduler input (`pe-input-N`) it came from, on the DC.
    pub pe_input: Option<u64>,
    pub created_ms: u64,
    pub steps: Vec<Step>,
    /// (before, after) pairs.
    pub edges: Vec<(usize, usize)>,
    /// Set when the DC gave up on it: nothing more is dispatched; what runs finishes.
    pub aborted: Option<String>,
}

impl Transition {
    /// Steps whose predecessors have all finished successfully and that are still pending.
    pub fn ready(&self) -> Vec<usize> {
        if self.aborted.is_some() {
            return Vec::new();
        }
        let mut waiting = vec![false; self.steps.len()];
        for &(before, after) in &self.edges {
            if self.steps[before].state != StepState::Done {
                waiting[after] = true;
            }
        }
        self.steps.iter().filter(|s| s.state == StepState::Pending && !waiting[s.id]).map(|s| s.id).collect()
    }

    /// Steps handed out and not yet finished.
    pub fn in_flight(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| matches!(s.state, StepState::Dispatched { .. }))
    }

    /// Nothing is running and nothing more will be dispatched.
    pub fn is_finished(&self) -> bool {
        self.in_flight().next().is_none() && (self.aborted.is_some() || self.ready().is_empty())
    }

    /// Steps that can never run because a step before them failed or is blocked: they are
    /// marked blocked so the transition can finish.
    pub fn block_unreachable(&mut self) {
        loop {
            let mut changed = false;
            for &(before, after) in &self.edges {
                let stuck = matches!(self.steps[before].state, StepState::Blocked | StepState::Failed { .. });
                if stuck && self.steps[after].state == StepState::Pending {
                    self.steps[after].state = StepState::Blocked;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }

    pub fn counts(&self) -> TransitionCounts {
        let mut c = TransitionCounts::default();
        for s in &self.steps {
            match s.state {
                StepState::Pending => c.pending += 1,
                StepState::Blocked => c.blocked += 1,
                StepState::Dispatched { .. } => c.in_flight += 1,
                StepState::Done => c.done += 1,
                StepState::Failed { .. } => c.failed += 1,
            }
        }
        c
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionCounts {
    pub pending: usize,
    pub blocked: usize,
    pub in_flight: usize,
    pub done: usize,
    pub failed: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: usize, state: StepState) -> Step {
        Step {
            id,
            kind: StepKind::Resource,
            rsc: Some(format!("r{id}")),
            instance: Some(format!("r{id}")),
            task: "start".into(),
            interval_ms: 0,
            node: Some("n1".into()),
            via: None,
            agent: None,
            params: BTreeMap::new(),
            meta: BTreeMap::new(),
            timeout_ms: 20_000,
            target_rc: 0,
            state,
        }
    }

    fn transition(states: Vec<StepState>, edges: Vec<(usize, usize)>) -> Transition {
        Transition {
            id: 1,
            term: 1,
            dc: "n1".into(),
            generation: 0,
            pe_input: None,
            created_ms: 0,
            steps: states.into_iter().enumerate().map(|(i, s)| step(i, s)).collect(),
            edges,
            aborted: None,
        }
    }

    #[test]
    fn ready_follows_edges_and_failures_block_what_follows() {
        let mut t = transition(vec![StepState::Pending, StepState::Pending, StepState::Pending], vec![(0, 1), (1, 2)]);
        assert_eq!(t.ready(), vec![0]);
        t.steps[0].state = StepState::Done;
        assert_eq!(t.ready(), vec![1]);
        t.steps[1].state = StepState::Failed { reason: "rc 1".into() };
        assert!(t.ready().is_empty());
        assert_eq!(t.steps[2].state, StepState::Pending);
        t.block_unreachable();
        assert_eq!(t.steps[2].state, StepState::Blocked);
        assert!(t.is_finished());
    }

    #[test]
    fn an_aborted_transition_dispatches_nothing_but_waits_for_what_runs() {
        let mut t = transition(vec![StepState::Dispatched { term: 1 }, StepState::Pending], vec![]);
        t.aborted = Some("configuration changed".into());
        assert!(t.ready().is_empty());
        assert!(!t.is_finished());
        t.steps[0].state = StepState::Done;
        assert!(t.is_finished());
        assert_eq!(t.counts(), TransitionCounts { pending: 1, done: 1, ..Default::default() });
    }
}

//! The cluster status every node publishes in a watch channel.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{MissedTickBehavior, interval};

use crate::liveness::{Liveness, NodeLiveness};
use crate::types::{Metrics, NodeId, NodeInfo};

/// What this node knows about the cluster. The DC is the leader, and only while quorate:
/// a leader cut off from the majority keeps the title until it learns of a new term, but
/// reports `quorate: false` once its lease runs out.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterStatus {
    pub node_id: NodeId,
    pub leader: Option<NodeId>,
    pub term: u64,
    pub i_am_leader: bool,
    /// Voters and learners.
    pub members: BTreeMap<NodeId, NodeInfo>,
    pub voters: BTreeSet<NodeId>,
    pub quorate: bool,
    /// The leader's view of every member (on a follower: as of the leader's last
    /// acknowledgement).
    pub node_liveness: BTreeMap<NodeId, NodeLiveness>,
    /// Index of the last log entry applied to the local state.
    pub last_applied: Option<u64>,
    /// Set when the Raft core stopped (shutdown or fatal storage error).
    pub stopped: Option<String>,
}

impl ClusterStatus {
    pub(crate) fn initial(node_id: NodeId) -> Self {
        Self {
            node_id,
            leader: None,
            term: 0,
            i_am_leader: false,
            members: BTreeMap::new(),
            voters: BTreeSet::new(),
            quorate: false,
            node_liveness: BTreeMap::new(),
            last_applied: None,
            stopped: None,
        }
    }

    /// The DC: the leader, if this node sees it as quorate.
    pub fn dc(&self) -> Option<NodeId> {
        self.leader.filter(|_| self.quorate)
    }

    /// Equal but for the `last_seen` timestamps, which move on every heartbeat; watchers are
    /// only woken when something else changes.
    fn same_except_timestamps(&self, other: &Self) -> bool {
        let alive = |s: &Self| {
            s.node_liveness
                .iter()
                .map(|(&id, l)| (id, l.alive))
                .collect::<Vec<_>>()
        };
        self.leader == other.leader
            && self.term == other.term
            && self.i_am_leader == other.i_am_leader
            && self.members == other.members
            && self.voters == other.voters
            && self.quorate == other.quorate
            && self.last_applied == other.last_applied
            && self.stopped == other.stopped
            && alive(self) == alive(other)
    }
}

fn compute(me: NodeId, m: &Metrics, liveness: &Liveness) -> ClusterStatus {
    let view = liveness.view(m);
    let membership = m.membership_config.membership();
    ClusterStatus {
        node_id: me,
        leader: m.current_leader,
        term: m.current_term,
        i_am_leader: m.current_leader == Some(me),
        members: membership.nodes().map(|(&id, n)| (id, n.clone())).collect(),
        voters: membership.voter_ids().collect(),
        quorate: view.quorate,
        node_liveness: view.nodes,
        last_applied: m.last_applied.map(|id| id.index),
        stopped: m.running_state.as_ref().err().map(|e| e.to_string()),
    }
}

/// Recomputes the status on every Raft metrics change and every heartbeat (liveness ages).
pub(crate) async fn run(
    me: NodeId,
    mut metrics: watch::Receiver<Metrics>,
    liveness: Arc<Liveness>,
    tx: watch::Sender<ClusterStatus>,
    heartbeat: Duration,
) {
    let mut tick = interval(heartbeat);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let closed = tokio::select! {
            changed = metrics.changed() => changed.is_err(),
            _ = tick.tick() => false,
        };
        let next = compute(me, &metrics.borrow_and_update(), &liveness);
        tx.send_if_modified(|current| {
            let notify = !current.same_except_timestamps(&next);
            *current = next;
            notify
        });
        if closed {
            tx.send_modify(|s| {
                s.leader = None;
                s.i_am_leader = false;
                s.quorate = false;
                s.stopped.get_or_insert_with(|| "raft core stopped".into());
            });
            return;
        }
    }
}

//! Two-node quorum (`ClusterConfig::two_node`).
//!
//! A Raft majority of two voters is both of them, so losing either would stop the cluster. As
//! with corosync's `two_node`, fencing decides instead: the node layer fences the peer, and
//! only then does this node take the cluster over alone.
//!
//! - [`StandIn`]: once the peer is fenced, this node answers Raft calls in its place, so it can
//!   elect itself and commit the membership change that removes the peer. That is safe only
//!   because the peer is off: nothing was committed without this node, and the peer is out of
//!   the membership before it could be back.
//! - [`may_elect`]: a node campaigns only when it is the sole voter, stands in for its peer, or
//!   its peer answers and is not leading. A node that cannot reach its peer cannot win anyway;
//!   a fenced node coming back must not push its term past the survivor that removed it (the
//!   survivor would step down each time it tried to admit it again).
//! - [`readmit`]: the sole voter adds its configured peer back, as a learner that catches up
//!   and then as a voter, once the peer answers.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use openraft::ServerState;
use serde::{Deserialize, Serialize};
use tokio::time::{MissedTickBehavior, interval, timeout};

use crate::config::Member;
use crate::error::{ClusterError, Result};
use crate::forward::{self, ForwardRequest};
use crate::protocol::{Peers, Reply, Request};
use crate::state::ReplicatedState;
use crate::types::{Metrics, NodeId, Raft};

/// The fenced peer this node currently answers Raft calls for, if any.
#[derive(Debug, Default)]
pub(crate) struct StandIn(Mutex<Option<NodeId>>);

impl StandIn {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<NodeId>> {
        // A plain id; nothing to repair after a panic.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn covers(&self, id: NodeId) -> bool {
        *self.slot() == Some(id)
    }

    fn active(&self) -> bool {
        self.slot().is_some()
    }

    fn set(&self, peer: Option<NodeId>) {
        *self.slot() = peer;
    }
}

/// What a node tells its peer about itself when probed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PeerState {
    pub(crate) leading: bool,
}

pub(crate) fn peer_state(m: &Metrics) -> PeerState {
    PeerState {
        leading: m.state == ServerState::Leader,
    }
}

fn voters(m: &Metrics) -> BTreeSet<NodeId> {
    m.membership_config.membership().voter_ids().collect()
}

/// The peer's state, if it answers within `limit`.
async fn probe<S: ReplicatedState>(
    peers: &Peers<S>,
    peer: &Member,
    limit: Duration,
) -> Option<PeerState> {
    match peers
        .client(peer.id, &peer.addr)
        .call(Request::Probe, limit)
        .await
    {
        Ok(Reply::Probe(state)) => Some(state),
        _ => None,
    }
}

/// Whether this node may start an election now (see the module documentation).
pub(crate) async fn may_elect<S: ReplicatedState>(
    raft: &Raft<S>,
    peers: &Peers<S>,
    peer: &Member,
    stand_in: &StandIn,
    limit: Duration,
) -> bool {
    let (me, voters) = {
        let m = raft.metrics();
        let m = m.borrow();
        (m.id, voters(&m))
    };
    if !voters.contains(&me) {
        return false;
    }
    if voters.len() == 1 || stand_in.active() {
        return true;
    }
    probe(peers, peer, limit)
        .await
        .is_some_and(|state| !state.leading)
}

/// Elects this node with the fenced `peer`'s vote given in its place, and removes the peer from
/// the voters. The caller guarantees the peer is fenced.
pub(crate) async fn take_over<S: ReplicatedState>(
    raft: &Raft<S>,
    stand_in: &StandIn,
    peer: NodeId,
    limit: Duration,
) -> Result<()> {
    let mut metrics = raft.metrics();
    let (me, voters) = {
        let m = metrics.borrow();
        (m.id, voters(&m))
    };
    if voters == BTreeSet::from([me]) {
        return Ok(());
    }
    if voters != BTreeSet::from([me, peer]) {
        return Err(ClusterError::Membership(format!(
            "a two-node take-over needs the voters to be this node ({me}) and its peer ({peer}); they are {voters:?}"
        )));
    }
    tracing::warn!(peer, "peer fenced: taking the cluster over alone");
    stand_in.set(Some(peer));
    let result = timeout(limit, async {
        while metrics.borrow().current_leader != Some(me) {
            if metrics.borrow().state != ServerState::Candidate {
                raft.trigger()
                    .elect()
                    .await
                    .map_err(|e| ClusterError::Raft(e.to_string()))?;
            }
            metrics
                .changed()
                .await
                .map_err(|_| ClusterError::ShutDown)?;
        }
        forward::execute(raft, ForwardRequest::RemoveMember { id: peer }, limit)
            .await
            .map_err(|e| ClusterError::Membership(e.to_string()))
    })
    .await;
    stand_in.set(None);
    match result {
        Ok(Ok(_)) => {
            tracing::warn!(
                peer,
                "sole voter now; the peer is admitted again when it is back"
            );
            Ok(())
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ClusterError::NoQuorum { waited: limit }),
    }
}

/// On the sole voter of a two-node cluster: adds the configured peer back once it answers.
pub(crate) async fn readmit<S: ReplicatedState>(
    raft: Raft<S>,
    peers: std::sync::Arc<Peers<S>>,
    peer: Member,
    request_timeout: Duration,
    pause: Duration,
) {
    let metrics = raft.metrics();
    let mut tick = interval(pause);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (sole_leader, peer_is_voter) = {
            let m = metrics.borrow();
            let voters = voters(&m);
            (
                m.state == ServerState::Leader && voters == BTreeSet::from([m.id]),
                voters.contains(&peer.id),
            )
        };
        if !sole_leader || peer_is_voter || probe(&peers, &peer, pause).await.is_none() {
            continue;
        }
        tracing::info!(peer = peer.id, name = %peer.name, "two-node peer is back: admitting it again");
        let add = ForwardRequest::AddMember {
            id: peer.id,
            node: peer.info(),
        };
        match forward::execute(&raft, add, request_timeout).await {
            Ok(_) => tracing::info!(peer = peer.id, "two-node peer is a voter again"),
            Err(error) => tracing::info!(peer = peer.id, %error, "two-node peer not admitted yet"),
        }
    }
}

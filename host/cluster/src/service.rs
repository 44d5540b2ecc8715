//! Answers the requests peers send to this node.

use std::sync::Arc;
use std::time::Duration;

use crate::forward;
use crate::liveness::Liveness;
use crate::protocol::{Reply, Request};
use crate::state::ReplicatedState;
use crate::two_node;
use crate::types::Raft;

pub(crate) struct Service<S: ReplicatedState> {
    pub(crate) raft: Raft<S>,
    pub(crate) liveness: Arc<Liveness>,
    pub(crate) request_timeout: Duration,
}

impl<S: ReplicatedState> Service<S> {
    pub(crate) async fn handle(&self, request: Request<S>) -> Reply<S> {
        match request {
            Request::AppendEntries(rpc) => {
                Reply::AppendEntries(self.raft.append_entries(rpc).await)
            }
            Request::Vote(rpc) => Reply::Vote(self.raft.vote(rpc).await),
            Request::InstallSnapshot(rpc) => {
                Reply::InstallSnapshot(self.raft.install_snapshot(rpc).await)
            }
            Request::Forward(request) => {
                Reply::Forward(forward::execute(&self.raft, request, self.request_timeout).await)
            }
            Request::Lease(beat) => {
                let metrics = self.raft.metrics();
                let ack = self.liveness.on_beat(&beat, &metrics.borrow());
                Reply::Lease(ack)
            }
            Request::Probe => Reply::Probe(two_node::peer_state(&self.raft.metrics().borrow())),
        }
    }
}

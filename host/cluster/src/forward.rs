//! Requests that only the leader can serve (proposals, membership changes): executed locally
//! on the leader, forwarded to it from any other node.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use openraft::ChangeMembers;
use openraft::error::{ClientWriteError, RaftError};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout, timeout_at};

use crate::error::ClusterError;
use crate::protocol::{Peers, Reply, Request};
use crate::rpc::CallError;
use crate::state::ReplicatedState;
use crate::status::ClusterStatus;
use crate::types::{NodeId, NodeInfo, Raft};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum ForwardRequest<C> {
    Propose(C),
    AddMember { id: NodeId, node: NodeInfo },
    RemoveMember { id: NodeId },
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ForwardReply<R> {
    Applied(R),
    MembershipChanged,
}

/// Why the leader did not serve a request.
#[derive(Debug, Serialize, Deserialize, thiserror::Error)]
pub(crate) enum ForwardError {
    #[error("not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<NodeId> },
    #[error("not committed within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Membership(String),
    #[error("{0}")]
    Raft(String),
}

type WriteError = RaftError<NodeId, ClientWriteError<NodeId, NodeInfo>>;

impl From<WriteError> for ForwardError {
    fn from(e: WriteError) -> Self {
        match e {
            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => ForwardError::NotLeader {
                leader: f.leader_id,
            },
            RaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => {
                ForwardError::Membership(c.to_string())
            }
            RaftError::Fatal(f) => ForwardError::Raft(f.to_string()),
        }
    }
}

/// Serves `request` on this node, which believes it is the leader.
pub(crate) async fn execute<S: ReplicatedState>(
    raft: &Raft<S>,
    request: ForwardRequest<S::Command>,
    limit: Duration,
) -> Result<ForwardReply<S::Response>, ForwardError> {
    timeout(limit, serve(raft, request))
        .await
        .unwrap_or(Err(ForwardError::Timeout(limit)))
}

async fn serve<S: ReplicatedState>(
    raft: &Raft<S>,
    request: ForwardRequest<S::Command>,
) -> Result<ForwardReply<S::Response>, ForwardError> {
    match request {
        ForwardRequest::Propose(command) => {
            let response = raft.client_write(command).await?;
            response
                .data
                .map(ForwardReply::Applied)
                .ok_or_else(|| ForwardError::Raft("a command entry produced no response".into()))
        }
        ForwardRequest::AddMember { id, node } => {
            // A learner first, so it catches up before it counts towards the quorum.
            raft.add_learner(id, node, true).await?;
            raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
                .await?;
            Ok(ForwardReply::MembershipChanged)
        }
        ForwardRequest::RemoveMember { id } => {
            let is_voter = raft
                .metrics()
                .borrow()
                .membership_config
                .membership()
                .voter_ids()
                .any(|v| v == id);
            let change = if is_voter {
                ChangeMembers::RemoveVoters(BTreeSet::from([id]))
            } else {
                ChangeMembers::RemoveNodes(BTreeSet::from([id]))
            };
            raft.change_membership(change, false).await?;
            Ok(ForwardReply::MembershipChanged)
        }
    }
}

/// Sends requests to wherever the leader is, waiting (up to the request timeout) for a
/// quorate leader to exist.
pub(crate) struct Forwarder<S: ReplicatedState> {
    pub(crate) me: NodeId,
    pub(crate) raft: Raft<S>,
    pub(crate) peers: Arc<Peers<S>>,
    pub(crate) status: watch::Receiver<ClusterStatus>,
    pub(crate) request_timeout: Duration,
    /// Pause before retrying after a leader change or an unreachable leader.
    pub(crate) retry_pause: Duration,
}

impl<S: ReplicatedState> Forwarder<S> {
    /// A request is retried only when it certainly was not accepted (refused by a node that
    /// is not the leader, or never sent), so it is applied at most once.
    pub(crate) async fn submit(
        &self,
        request: ForwardRequest<S::Command>,
    ) -> Result<ForwardReply<S::Response>, ClusterError> {
        let start = Instant::now();
        let deadline = start + self.request_timeout;
        let mut status = self.status.clone();
        loop {
            let (leader, leader_addr) = match timeout_at(
                deadline,
                status.wait_for(|s| s.quorate && s.leader.is_some()),
            )
            .await
            {
                Ok(Ok(s)) => {
                    let leader = s.leader.expect("waited for a leader");
                    (leader, s.members.get(&leader).map(|n| n.addr.clone()))
                }
                Ok(Err(_)) => return Err(ClusterError::ShutDown),
                Err(_) => {
                    return Err(ClusterError::NoQuorum {
                        waited: start.elapsed(),
                    });
                }
            };
            let remaining = deadline.saturating_duration_since(Instant::now());
            let outcome = if leader == self.me {
                execute(&self.raft, request.clone(), remaining).await
            } else {
                let Some(addr) = leader_addr else {
                    return Err(ClusterError::Raft(format!(
                        "leader {leader} has no address in the membership"
                    )));
                };
                let client = self.peers.client(leader, &addr);
                match client
                    .call(Request::Forward(request.clone()), remaining)
                    .await
                {
                    Ok(Reply::Forward(result)) => result,
                    Ok(other) => {
                        return Err(ClusterError::Raft(format!(
                            "leader {leader} answered a forwarded request with a {} reply",
                            other.kind()
                        )));
                    }
                    Err(CallError::NotSent(reason)) => {
                        tracing::debug!(leader, %reason, "leader unreachable; retrying");
                        Err(ForwardError::NotLeader { leader: None })
                    }
                    Err(CallError::Timeout(_)) => {
                        return Err(ClusterError::Timeout {
                            leader,
                            waited: start.elapsed(),
                        });
                    }
                    Err(e @ CallError::Closed) => {
                        return Err(ClusterError::Indeterminate {
                            leader,
                            reason: e.to_string(),
                        });
                    }
                }
            };
            match outcome {
                Ok(reply) => return Ok(reply),
                Err(ForwardError::NotLeader { .. }) => {
                    let pause = Instant::now() + self.retry_pause;
                    if pause >= deadline {
                        return Err(ClusterError::NoQuorum {
                            waited: start.elapsed(),
                        });
                    }
                    sleep_until(pause).await;
                }
                Err(ForwardError::Timeout(_)) => {
                    return Err(ClusterError::Timeout {
                        leader,
                        waited: start.elapsed(),
                    });
                }
                Err(ForwardError::Membership(reason)) => {
                    return Err(ClusterError::Membership(reason));
                }
                Err(ForwardError::Raft(reason)) => return Err(ClusterError::Raft(reason)),
            }
        }
    }
}

//! openraft's network: append-entries, vote and install-snapshot RPCs through [`Peers`].

use std::sync::Arc;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RPCTypes, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use crate::protocol::{PeerClient, Peers, Reply, Request};
use crate::rpc::CallError;
use crate::state::ReplicatedState;
use crate::two_node::StandIn;
use crate::types::{NodeId, NodeInfo, TypeConfig};

pub(crate) struct Network<S: ReplicatedState> {
    me: NodeId,
    peers: Arc<Peers<S>>,
    stand_in: Arc<StandIn>,
}

impl<S: ReplicatedState> Network<S> {
    pub(crate) fn new(me: NodeId, peers: Arc<Peers<S>>, stand_in: Arc<StandIn>) -> Self {
        Self {
            me,
            peers,
            stand_in,
        }
    }
}

impl<S: ReplicatedState> RaftNetworkFactory<TypeConfig<S>> for Network<S> {
    type Network = PeerNetwork<S>;

    async fn new_client(&mut self, target: NodeId, node: &NodeInfo) -> Self::Network {
        PeerNetwork {
            me: self.me,
            target,
            client: self.peers.client(target, &node.addr),
            stand_in: Arc::clone(&self.stand_in),
        }
    }
}

pub(crate) struct PeerNetwork<S: ReplicatedState> {
    me: NodeId,
    target: NodeId,
    client: Arc<PeerClient<S>>,
    /// While this node stands in for the target (a fenced two-node peer), calls are answered
    /// here as an agreeing peer would answer them; see `two_node`.
    stand_in: Arc<StandIn>,
}

type RpcResult<T, E = openraft::error::Infallible> =
    Result<T, RPCError<NodeId, NodeInfo, RaftError<NodeId, E>>>;

impl<S: ReplicatedState> PeerNetwork<S> {
    async fn call<T, E: std::error::Error>(
        &self,
        action: RPCTypes,
        request: Request<S>,
        timeout: Duration,
        unpack: impl FnOnce(Reply<S>) -> Result<Result<T, RaftError<NodeId, E>>, &'static str>,
    ) -> RpcResult<T, E> {
        let reply = self
            .client
            .call(request, timeout)
            .await
            .map_err(|e| match e {
                // openraft backs off before retrying an unreachable peer instead of spinning.
                CallError::NotSent(_) => RPCError::Unreachable(Unreachable::new(&e)),
                CallError::Timeout(_) => RPCError::Timeout(Timeout {
                    action,
                    id: self.me,
                    target: self.target,
                    timeout,
                }),
                CallError::Closed => RPCError::Network(NetworkError::new(&e)),
            })?;
        match unpack(reply) {
            Ok(result) => {
                result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Err(kind) => Err(RPCError::Network(NetworkError::new(
                &openraft::AnyError::error(format!(
                    "peer {} answered a {action:?} request with a {kind} reply",
                    self.target
                )),
            ))),
        }
    }
}

impl<S: ReplicatedState> RaftNetwork<TypeConfig<S>> for PeerNetwork<S> {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig<S>>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        if self.stand_in.covers(self.target) {
            return Ok(AppendEntriesResponse::Success);
        }
        self.call(
            RPCTypes::AppendEntries,
            Request::AppendEntries(rpc),
            option.hard_ttl(),
            |r| match r {
                Reply::AppendEntries(result) => Ok(result),
                other => Err(other.kind()),
            },
        )
        .await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig<S>>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        if self.stand_in.covers(self.target) {
            return Ok(InstallSnapshotResponse { vote: rpc.vote });
        }
        self.call(
            RPCTypes::InstallSnapshot,
            Request::InstallSnapshot(rpc),
            option.hard_ttl(),
            |r| match r {
                Reply::InstallSnapshot(result) => Ok(result),
                other => Err(other.kind()),
            },
        )
        .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>> {
        if self.stand_in.covers(self.target) {
            return Ok(VoteResponse::new(rpc.vote, rpc.last_log_id, true));
        }
        self.call(
            RPCTypes::Vote,
            Request::Vote(rpc),
            option.hard_ttl(),
            |r| match r {
                Reply::Vote(result) => Ok(result),
                other => Err(other.kind()),
            },
        )
        .await
    }
}

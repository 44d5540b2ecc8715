//! The cluster handle: starts a node and serves the application's requests.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use atrium_transport::{Identity, Listener};
use openraft::error::{InitializeError, RaftError};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::ClusterConfig;
use crate::election::{self, TwoNodeGate};
use crate::error::{ClusterError, Result};
use crate::forward::{ForwardReply, ForwardRequest, Forwarder};
use crate::liveness::{self, Liveness};
use crate::log_store::LogStore;
use crate::network::Network;
use crate::protocol::{Peers, Request};
use crate::rpc;
use crate::service::Service;
use crate::state::ReplicatedState;
use crate::state_machine::{SharedState, StateMachine, read_state};
use crate::status::{self, ClusterStatus};
use crate::storage::Storage;
use crate::two_node::{self, StandIn};
use crate::types::{NodeId, NodeInfo, Raft};

/// A running cluster node. Dropping it stops the node (abruptly, like a crash);
/// [`shutdown`](Self::shutdown) stops it in order.
pub struct Cluster<S: ReplicatedState> {
    id: NodeId,
    /// Two-node mode: the peer.
    two_node_peer: Option<NodeId>,
    stand_in: Arc<StandIn>,
    request_timeout: std::time::Duration,
    raft: Raft<S>,
    state: SharedState<S>,
    status: watch::Receiver<ClusterStatus>,
    forwarder: Arc<Forwarder<S>>,
    /// The runtime the node's tasks live on; requests run there too, so a stalled runtime
    /// stalls the whole node, as a stalled process would.
    runtime: Handle,
    tasks: JoinSet<()>,
    stopped: bool,
}

impl<S: ReplicatedState> Cluster<S> {
    /// Starts the node: listens on `listen_addr`, opens the log in `storage`, restores the
    /// latest snapshot into `state` and replays the log after it. On a fresh cluster, the
    /// initial member with the lowest id writes the first membership.
    pub async fn start(config: ClusterConfig, state: S, storage: Storage) -> Result<Self> {
        config.validate()?;
        let id = config.node_id;
        let timings = config.timings.clone();
        let raft_config = Arc::new(config.raft_config()?);
        let identity = Identity::new(config.node_name.clone(), Some(id))?;
        let listener = Listener::bind(
            config.listen_addr.as_str(),
            config.key.clone(),
            identity.clone(),
        )
        .await?;
        let peers = Arc::new(Peers::new(config.key.clone(), identity));
        let stand_in = Arc::new(StandIn::default());

        let state_machine = StateMachine::open(state, storage.clone()).await?;
        let state = state_machine.shared_state();
        let raft = Raft::new(
            id,
            raft_config,
            Network::new(id, Arc::clone(&peers), Arc::clone(&stand_in)),
            LogStore::<S>::new(storage),
            state_machine,
        )
        .await
        .map_err(|e| ClusterError::Raft(e.to_string()))?;

        let liveness = Arc::new(Liveness::new(id, &timings));
        let (status_tx, status_rx) = watch::channel(ClusterStatus::initial(id));
        let service = Arc::new(Service {
            raft: raft.clone(),
            liveness: Arc::clone(&liveness),
            request_timeout: timings.request_timeout,
        });
        let mut tasks = JoinSet::new();
        tasks.spawn(rpc::serve(listener, move |request: Request<S>| {
            let service = Arc::clone(&service);
            async move { service.handle(request).await }
        }));
        tasks.spawn(status::run(
            id,
            raft.metrics(),
            Arc::clone(&liveness),
            status_tx,
            timings.heartbeat,
        ));
        tasks.spawn(liveness::run_beats(
            id,
            raft.clone(),
            Arc::clone(&peers),
            liveness,
            timings.heartbeat,
        ));
        let gate = config.two_node_peer().map(|peer| TwoNodeGate {
            peers: Arc::clone(&peers),
            peer: peer.clone(),
            stand_in: Arc::clone(&stand_in),
        });
        if let Some(peer) = config.two_node_peer() {
            tasks.spawn(two_node::readmit(
                raft.clone(),
                Arc::clone(&peers),
                peer.clone(),
                timings.request_timeout,
                timings.heartbeat * 10,
            ));
        }
        tasks.spawn(election::run(raft.clone(), timings.clone(), gate));

        let forwarder = Arc::new(Forwarder {
            me: id,
            raft: raft.clone(),
            peers,
            status: status_rx.clone(),
            request_timeout: timings.request_timeout,
            retry_pause: timings.heartbeat,
        });
        let cluster = Self {
            id,
            two_node_peer: config.two_node_peer().map(|m| m.id),
            stand_in,
            request_timeout: timings.request_timeout,
            raft,
            state,
            status: status_rx,
            forwarder,
            runtime: Handle::current(),
            tasks,
            stopped: false,
        };
        if config.is_bootstrapper() {
            cluster.bootstrap(&config).await?;
        }
        Ok(cluster)
    }

    /// Writes the first membership unless this node already has a log.
    async fn bootstrap(&self, config: &ClusterConfig) -> Result<()> {
        let initialized = self
            .raft
            .is_initialized()
            .await
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        if initialized {
            return Ok(());
        }
        let members: BTreeMap<NodeId, NodeInfo> = config
            .initial_members
            .iter()
            .map(|m| (m.id, m.info()))
            .collect();
        tracing::info!(node = self.id, voters = ?members.keys().collect::<Vec<_>>(), "initialising a new cluster");
        match self.raft.initialize(members).await {
            Ok(()) | Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(ClusterError::Raft(e.to_string())),
        }
    }

    pub fn node_id(&self) -> NodeId {
        self.id
    }

    /// Replicates `command` through the leader (forwarded there from a follower) and returns
    /// the leader's response once the entry is committed and applied there. Fails with
    /// [`ClusterError::NoQuorum`] when no quorate leader appears within the request timeout.
    /// A request that may have reached the leader is not retried, so a command is applied at
    /// most once per call; `Timeout` and `Indeterminate` mean it may or may not be.
    pub async fn propose(&self, command: S::Command) -> Result<S::Response> {
        match self.submit(ForwardRequest::Propose(command)).await? {
            ForwardReply::Applied(response) => Ok(response),
            ForwardReply::MembershipChanged => Err(ClusterError::Raft(
                "a proposal was answered as a membership change".into(),
            )),
        }
    }

    /// Adds a voter: first as a learner that catches up, then through joint consensus.
    pub async fn add_member(
        &self,
        id: NodeId,
        name: impl Into<String>,
        addr: impl Into<String>,
    ) -> Result<()> {
        let node = NodeInfo {
            name: name.into(),
            addr: addr.into(),
        };
        self.submit(ForwardRequest::AddMember { id, node })
            .await
            .map(drop)
    }

    /// Two-node mode: once the node layer has fenced the peer (it is off, and stays off until
    /// it is admitted again), elects this node with the peer's vote given in its place and
    /// makes it the only voter. Refused when not in two-node mode or when the voters are not
    /// this node and its peer.
    pub async fn take_over_from_fenced_peer(&self) -> Result<()> {
        let Some(peer) = self.two_node_peer else {
            return Err(ClusterError::Membership("not a two-node cluster".into()));
        };
        let (raft, stand_in, limit) = (
            self.raft.clone(),
            Arc::clone(&self.stand_in),
            self.request_timeout,
        );
        self.on_node_runtime(
            async move { two_node::take_over(&raft, &stand_in, peer, limit).await },
        )
        .await
    }

    /// Two-node mode: the peer's id.
    pub fn two_node_peer(&self) -> Option<NodeId> {
        self.two_node_peer
    }

    /// Removes a voter (through joint consensus) or a learner.
    pub async fn remove_member(&self, id: NodeId) -> Result<()> {
        self.submit(ForwardRequest::RemoveMember { id })
            .await
            .map(drop)
    }

    async fn submit(
        &self,
        request: ForwardRequest<S::Command>,
    ) -> Result<ForwardReply<S::Response>> {
        let forwarder = Arc::clone(&self.forwarder);
        self.on_node_runtime(async move { forwarder.submit(request).await })
            .await
    }

    async fn on_node_runtime<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        self.runtime
            .spawn(work)
            .await
            .map_err(|_| ClusterError::ShutDown)?
    }

    /// Reads the local state: everything applied on this node so far (possibly behind the
    /// leader). Keep `f` short: applying waits while it runs.
    pub fn read<R>(&self, f: impl FnOnce(&S) -> R) -> R {
        f(&read_state(&self.state))
    }

    /// The current status.
    pub fn status(&self) -> ClusterStatus {
        self.status.borrow().clone()
    }

    /// A receiver woken on every change of leader, term, membership, quorum, applied index or
    /// node liveness.
    pub fn watch(&self) -> watch::Receiver<ClusterStatus> {
        self.status.clone()
    }

    /// Stops the node in order: the Raft core, then the network and background tasks.
    pub async fn shutdown(mut self) -> Result<()> {
        self.stopped = true;
        let raft = self.raft.clone();
        let result = self
            .on_node_runtime(async move {
                raft.shutdown()
                    .await
                    .map_err(|e| ClusterError::Raft(e.to_string()))
            })
            .await;
        self.tasks.shutdown().await;
        result
    }
}

impl<S: ReplicatedState> Drop for Cluster<S> {
    fn drop(&mut self) {
        // The tasks are aborted by the JoinSet's drop; the Raft core needs telling.
        if !self.stopped {
            let raft = self.raft.clone();
            self.runtime.spawn(async move {
                let _ = raft.shutdown().await;
            });
        }
    }
}

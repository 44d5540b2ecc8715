//! Test harness: in-process nodes on 127.0.0.1, each on its own single-threaded runtime and
//! OS thread, so a node can be paused (its thread blocked, sockets left open, like SIGSTOP)
//! or crashed (its runtime dropped, every socket closed) independently of the others.

use std::net::TcpListener;
use std::time::Duration;

use atrium_cluster::{
    ApplyContext, Cluster, ClusterConfig, ClusterKey, ClusterStatus, Member, NodeId,
    ReplicatedState, SnapshotPolicy, Storage, Timings,
};
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::time::{Instant, timeout};

/// A state that records every command with its log position, so tests can compare order.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub entries: Vec<(u64, u64, String)>,
}

impl Journal {
    pub fn commands(&self) -> Vec<String> {
        self.entries.iter().map(|(_, _, c)| c.clone()).collect()
    }
}

impl ReplicatedState for Journal {
    type Command = String;
    /// The log index the command was applied at.
    type Response = u64;
    type RestoreError = serde_json::Error;

    fn apply(&mut self, command: &String, ctx: ApplyContext) -> u64 {
        self.entries.push((ctx.index, ctx.term, command.clone()));
        ctx.index
    }

    fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("journal serialises")
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), serde_json::Error> {
        *self = serde_json::from_slice(bytes)?;
        Ok(())
    }
}

pub fn key() -> ClusterKey {
    ClusterKey::from_bytes(vec![0x5a; 32]).expect("valid key")
}

pub fn wrong_key() -> ClusterKey {
    ClusterKey::from_bytes(vec![0xa5; 32]).expect("valid key")
}

/// Distinct free loopback ports (held together while choosing, so they differ).
pub fn free_addrs(n: usize) -> Vec<String> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("addr").to_string())
        .collect()
}

/// Configurations for an `n`-node cluster with ids 1..=n.
pub fn configs(n: usize, timings: Timings) -> Vec<ClusterConfig> {
    configs_with(n, timings, SnapshotPolicy::default())
}

pub fn configs_with(n: usize, timings: Timings, snapshots: SnapshotPolicy) -> Vec<ClusterConfig> {
    let addrs = free_addrs(n);
    let members: Vec<Member> = addrs
        .iter()
        .enumerate()
        .map(|(i, addr)| Member::new(i as NodeId + 1, format!("node{}", i + 1), addr.clone()))
        .collect();
    members
        .iter()
        .map(|m| ClusterConfig {
            timings: timings.clone(),
            snapshots,
            ..ClusterConfig::new(m.id, &m.name, &m.addr, members.clone(), key())
        })
        .collect()
}

pub struct TestNode {
    pub id: NodeId,
    pub config: ClusterConfig,
    pub storage: Storage,
    pub cluster: Cluster<Journal>,
    runtime: Handle,
    stop: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl TestNode {
    pub async fn start(config: ClusterConfig, storage: Storage) -> TestNode {
        let (handle_tx, handle_rx) = oneshot::channel();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("node{}", config.node_id))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                let _ = handle_tx.send(rt.handle().clone());
                rt.block_on(async {
                    let _ = stop_rx.await;
                });
            })
            .expect("spawn node thread");
        let runtime = handle_rx.await.expect("node runtime");
        let cluster = runtime
            .spawn(Cluster::start(
                config.clone(),
                Journal::default(),
                storage.clone(),
            ))
            .await
            .expect("start task")
            .unwrap_or_else(|e| panic!("node {} failed to start: {e}", config.node_id));
        TestNode {
            id: config.node_id,
            config,
            storage,
            cluster,
            runtime,
            stop,
            thread,
        }
    }

    /// Kills the node like a crash: no orderly shutdown, every socket closed at once.
    /// Returns what is needed to restart it.
    pub async fn crash(self) -> (ClusterConfig, Storage) {
        drop(self.cluster);
        let _ = self.stop.send(());
        tokio::task::spawn_blocking(move || self.thread.join())
            .await
            .expect("join")
            .expect("node thread");
        (self.config, self.storage)
    }

    /// Stops the node in order.
    pub async fn shutdown(self) -> (ClusterConfig, Storage) {
        self.cluster.shutdown().await.expect("shutdown");
        let _ = self.stop.send(());
        tokio::task::spawn_blocking(move || self.thread.join())
            .await
            .expect("join")
            .expect("node thread");
        (self.config, self.storage)
    }

    /// Freezes the node's runtime for `d` (like SIGSTOP / SIGCONT).
    pub fn pause(&self, d: Duration) {
        self.runtime.spawn(async move { std::thread::sleep(d) });
    }

    pub fn status(&self) -> ClusterStatus {
        self.cluster.status()
    }

    pub fn journal(&self) -> Journal {
        self.cluster.read(Journal::clone)
    }

    /// Waits until `pred` holds for this node's status; panics after `limit`.
    pub async fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        pred: impl FnMut(&ClusterStatus) -> bool,
    ) -> ClusterStatus {
        let mut watch = self.cluster.watch();
        match timeout(limit, watch.wait_for(pred)).await {
            Ok(Ok(status)) => status.clone(),
            Ok(Err(_)) => panic!("node {}: status channel closed waiting for {what}", self.id),
            Err(_) => panic!(
                "node {}: no {what} within {limit:?}; status: {:?}",
                self.id,
                self.status()
            ),
        }
    }
}

pub async fn start_all(configs: &[ClusterConfig], storages: Vec<Storage>) -> Vec<TestNode> {
    let mut nodes = Vec::new();
    for (config, storage) in configs.iter().zip(storages) {
        nodes.push(TestNode::start(config.clone(), storage).await);
    }
    nodes
}

pub async fn start_memory_cluster(n: usize, timings: Timings) -> Vec<TestNode> {
    let configs = configs(n, timings);
    start_all(&configs, (0..n).map(|_| Storage::memory()).collect()).await
}

/// Waits until every node in `nodes` sees the same quorate leader (one of them); returns it.
pub async fn agreed_leader(nodes: &[&TestNode], limit: Duration) -> NodeId {
    let deadline = Instant::now() + limit;
    let ids: Vec<NodeId> = nodes.iter().map(|n| n.id).collect();
    loop {
        let statuses: Vec<ClusterStatus> = nodes.iter().map(|n| n.status()).collect();
        if let Some(leader) = statuses[0].leader
            && ids.contains(&leader)
            && statuses
                .iter()
                .all(|s| s.leader == Some(leader) && s.quorate)
        {
            return leader;
        }
        assert!(
            Instant::now() < deadline,
            "no agreed quorate leader among {ids:?} within {limit:?}: {statuses:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every node has applied at least `index`.
pub async fn all_applied(nodes: &[&TestNode], index: u64, limit: Duration) {
    for node in nodes {
        node.wait_for(&format!("applied index {index}"), limit, |s| {
            s.last_applied.is_some_and(|a| a >= index)
        })
        .await;
    }
}

pub fn by_id(nodes: &[TestNode], id: NodeId) -> &TestNode {
    nodes.iter().find(|n| n.id == id).expect("node id")
}

pub fn others(nodes: &[TestNode], id: NodeId) -> Vec<&TestNode> {
    nodes.iter().filter(|n| n.id != id).collect()
}

pub fn take(nodes: &mut Vec<TestNode>, id: NodeId) -> TestNode {
    let i = nodes.iter().position(|n| n.id == id).expect("node id");
    nodes.remove(i)
}

//! Loopback figures for a 3-node cluster: election time, DC failover time, proposal commit
//! latency (on the leader and forwarded from a follower) and throughput.
//!
//! cargo run --release --example bench [-- sqlite]
//! (`sqlite`: durable storage in a temporary directory; default: in memory)

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use atrium_cluster::{
    ApplyContext, Cluster, ClusterConfig, ClusterKey, Member, NodeId, ReplicatedState, Storage,
    Timings,
};
use tokio::task::JoinSet;
use tokio::time::Instant;

struct Counter(u64);

impl ReplicatedState for Counter {
    type Command = u64;
    type Response = u64;
    type RestoreError = serde_json::Error;

    fn apply(&mut self, command: &u64, _: ApplyContext) -> u64 {
        self.0 += command;
        self.0
    }

    fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).expect("u64 serialises")
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), serde_json::Error> {
        self.0 = serde_json::from_slice(bytes)?;
        Ok(())
    }
}

struct Bench {
    sqlite: Option<tempfile::TempDir>,
    round: usize,
}

impl Bench {
    fn configs(&self) -> Vec<ClusterConfig> {
        let listeners: Vec<TcpListener> = (0..3)
            .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
            .collect();
        let members: Vec<Member> = listeners
            .iter()
            .enumerate()
            .map(|(i, l)| {
                Member::new(
                    i as NodeId + 1,
                    format!("node{}", i + 1),
                    l.local_addr().expect("addr").to_string(),
                )
            })
            .collect();
        let key = ClusterKey::from_bytes(vec![0x42; 32]).expect("key");
        members
            .iter()
            .map(|m| ClusterConfig::new(m.id, &m.name, &m.addr, members.clone(), key.clone()))
            .collect()
    }

    async fn storage(&mut self, id: NodeId) -> Storage {
        match &self.sqlite {
            Some(dir) => {
                self.round += 1;
                let path = dir.path().join(format!("r{}-node{id}.db", self.round));
                Storage::open(path.to_str().expect("utf-8"))
                    .await
                    .expect("sqlite")
            }
            None => Storage::memory(),
        }
    }

    /// Starts a fresh cluster; returns it with the time since the storage was ready.
    async fn start(
        &mut self,
    ) -> (
        Vec<ClusterConfig>,
        Vec<(Arc<Cluster<Counter>>, Storage)>,
        Instant,
    ) {
        let configs = self.configs();
        let mut storages = Vec::new();
        for config in &configs {
            storages.push(self.storage(config.node_id).await);
        }
        let started = Instant::now();
        let mut nodes = Vec::new();
        for (config, storage) in configs.iter().zip(storages) {
            let cluster = Cluster::start(config.clone(), Counter(0), storage.clone())
                .await
                .expect("start");
            nodes.push((Arc::new(cluster), storage));
        }
        (configs, nodes, started)
    }
}

async fn agreed_leader(nodes: &[&Cluster<Counter>]) -> NodeId {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let statuses: Vec<_> = nodes.iter().map(|n| n.status()).collect();
        if let Some(leader) = statuses[0].leader
            && nodes.iter().any(|n| n.node_id() == leader)
            && statuses
                .iter()
                .all(|s| s.leader == Some(leader) && s.quorate)
        {
            return leader;
        }
        assert!(Instant::now() < deadline, "no leader: {statuses:#?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until every node has applied the same last entry: a failover measured right after a
/// restart would otherwise include the restarted node's catch-up (a node whose log is behind
/// cannot win, and without pre-vote its campaigns cost the others a round).
async fn caught_up(nodes: &[&Cluster<Counter>]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let applied: Vec<_> = nodes.iter().map(|n| n.status().last_applied).collect();
        if applied.iter().all(|a| a.is_some() && *a == applied[0]) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nodes do not catch up: {applied:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn summary(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{label:<34} n={:<5} min {:>9.2?}  median {:>9.2?}  p99 {:>9.2?}  max {:>9.2?}",
        samples.len(),
        samples[0],
        pct(0.5),
        pct(0.99),
        samples[samples.len() - 1]
    );
}

async fn latency(cluster: &Cluster<Counter>, n: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        cluster.propose(1).await.expect("propose");
        samples.push(start.elapsed());
    }
    samples
}

#[tokio::main]
async fn main() {
    let sqlite = std::env::args().any(|a| a == "sqlite");
    let mut bench = Bench {
        sqlite: sqlite.then(|| tempfile::tempdir().expect("tempdir")),
        round: 0,
    };
    println!(
        "storage: {}",
        if sqlite {
            "SQLite (atrium-db)"
        } else {
            "memory"
        }
    );
    println!("timings: {:?}", Timings::default());

    let mut elections = Vec::new();
    for _ in 0..5 {
        let (_, nodes, start) = bench.start().await;
        let refs: Vec<&Cluster<Counter>> = nodes.iter().map(|(c, _)| &**c).collect();
        agreed_leader(&refs).await;
        elections.push(start.elapsed());
        for (cluster, _) in nodes {
            let cluster = Arc::into_inner(cluster).expect("sole owner");
            cluster.shutdown().await.expect("shutdown");
        }
    }
    summary("election, fresh 3-node cluster", elections);

    let (configs, mut nodes, _) = bench.start().await;
    let refs: Vec<&Cluster<Counter>> = nodes.iter().map(|(c, _)| &**c).collect();
    let leader = agreed_leader(&refs).await;
    let leader_node = nodes
        .iter()
        .map(|(c, _)| c)
        .find(|c| c.node_id() == leader)
        .expect("leader")
        .clone();
    let follower_node = nodes
        .iter()
        .map(|(c, _)| c)
        .find(|c| c.node_id() != leader)
        .expect("follower")
        .clone();
    latency(&leader_node, 50).await; // warm up connections
    summary(
        "commit latency, on the leader",
        latency(&leader_node, 1000).await,
    );
    summary(
        "commit latency, from a follower",
        latency(&follower_node, 1000).await,
    );
    drop(follower_node);

    for concurrency in [1usize, 16, 64] {
        let window = Duration::from_secs(3);
        let mut workers = JoinSet::new();
        let end = Instant::now() + window;
        for _ in 0..concurrency {
            // Each worker proposes back to back on the leader until the window closes.
            let cluster = Arc::clone(&leader_node);
            workers.spawn(async move {
                let mut done = 0u64;
                while Instant::now() < end {
                    cluster.propose(1).await.expect("propose");
                    done += 1;
                }
                done
            });
        }
        let total: u64 = workers.join_all().await.into_iter().sum();
        println!(
            "throughput, {concurrency:>2} concurrent proposers      {:>8.0} commits/s",
            total as f64 / window.as_secs_f64()
        );
    }

    drop(leader_node);
    let mut failovers = Vec::new();
    for _ in 0..5 {
        let refs: Vec<&Cluster<Counter>> = nodes.iter().map(|(c, _)| &**c).collect();
        let leader = agreed_leader(&refs).await;
        caught_up(&refs).await;
        let i = nodes
            .iter()
            .position(|(c, _)| c.node_id() == leader)
            .expect("leader");
        let (crashed, storage) = nodes.remove(i);
        let start = Instant::now();
        drop(crashed); // abrupt: sockets close, no orderly handover
        let refs: Vec<&Cluster<Counter>> = nodes.iter().map(|(c, _)| &**c).collect();
        let term_before = refs[0].status().term;
        let new_leader = agreed_leader(&refs).await;
        let elapsed = start.elapsed();
        println!(
            "  failover: node {leader} crashed, node {new_leader} leads after {elapsed:?} (terms {term_before} -> {})",
            refs[0].status().term
        );
        failovers.push(elapsed);
        let config = configs
            .iter()
            .find(|c| c.node_id == leader)
            .expect("config")
            .clone();
        let restarted = Cluster::start(config, Counter(0), storage.clone())
            .await
            .expect("restart");
        nodes.push((Arc::new(restarted), storage));
    }
    summary("DC failover (leader crash)", failovers);
}

//! Multi-node tests on loopback: real TCP, the real transport, in-process nodes.
//! Timing assertions are generous upper bounds; measured times are printed.

mod common;

use std::time::Duration;

use atrium_cluster::{ClusterError, SnapshotPolicy, Storage, Timings};
use common::*;
use tokio::time::Instant;

const BOUND: Duration = Duration::from_secs(5);
const CATCH_UP: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_elect_a_leader_and_apply_proposals_in_the_same_order() {
    let start = Instant::now();
    let nodes = start_memory_cluster(3, Timings::default()).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader = agreed_leader(&all, BOUND).await;
    println!(
        "fresh 3-node cluster: leader {leader} elected in {:?}",
        start.elapsed()
    );

    let follower = others(&nodes, leader)[0];
    let mut last = 0;
    for i in 0..20 {
        last = follower
            .cluster
            .propose(format!("cmd-{i}"))
            .await
            .expect("propose on a follower");
    }
    all_applied(&all, last, CATCH_UP).await;

    let journals: Vec<_> = nodes.iter().map(TestNode::journal).collect();
    let expected: Vec<String> = (0..20).map(|i| format!("cmd-{i}")).collect();
    assert_eq!(journals[0].commands(), expected);
    assert!(
        journals.iter().all(|j| *j == journals[0]),
        "journals differ: {journals:#?}"
    );
    // Every entry carries the term it was appended in (the DC's fencing token): never
    // decreasing along the log, never beyond the current term.
    let term = by_id(&nodes, leader).status().term;
    let terms: Vec<u64> = journals[0].entries.iter().map(|(_, t, _)| *t).collect();
    assert!(
        terms.windows(2).all(|w| w[0] <= w[1]) && terms.iter().all(|&t| t >= 1 && t <= term),
        "{terms:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_failover_elects_a_new_leader_and_loses_no_committed_entry() {
    let mut nodes = start_memory_cluster(3, Timings::default()).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader = agreed_leader(&all, BOUND).await;
    let mut acknowledged = Vec::new();
    for i in 0..10 {
        let cmd = format!("before-{i}");
        by_id(&nodes, leader)
            .cluster
            .propose(cmd.clone())
            .await
            .expect("propose");
        acknowledged.push(cmd);
    }

    let old = take(&mut nodes, leader);
    let old_term = old.status().term;
    let stopped = Instant::now();
    old.crash().await;
    let survivors: Vec<&TestNode> = nodes.iter().collect();
    let new_leader = agreed_leader(&survivors, BOUND).await;
    let failover = stopped.elapsed();
    println!("DC failover: node {leader} crashed, node {new_leader} leads after {failover:?}");
    assert_ne!(new_leader, leader);
    assert!(by_id(&nodes, new_leader).status().term > old_term);

    let mut last = 0;
    for i in 0..10 {
        let cmd = format!("after-{i}");
        last = nodes[0]
            .cluster
            .propose(cmd.clone())
            .await
            .expect("propose after failover");
        acknowledged.push(cmd);
    }
    all_applied(&survivors, last, CATCH_UP).await;
    for node in &nodes {
        assert_eq!(node.journal().commands(), acknowledged, "node {}", node.id);
    }
}

/// openraft 0.9.25 can split votes forever between two survivors; the election guard must make
/// every failover converge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failovers_always_converge() {
    let mut nodes = start_memory_cluster(3, Timings::default()).await;
    let mut times = Vec::new();
    for round in 0..5 {
        let all: Vec<&TestNode> = nodes.iter().collect();
        let leader = agreed_leader(&all, BOUND).await;
        let index = by_id(&nodes, leader)
            .cluster
            .propose(format!("round-{round}"))
            .await
            .expect("propose");
        all_applied(&all, index, CATCH_UP).await;

        let stopped = Instant::now();
        let (config, storage) = take(&mut nodes, leader).crash().await;
        let survivors: Vec<&TestNode> = nodes.iter().collect();
        agreed_leader(&survivors, BOUND).await;
        times.push(stopped.elapsed());
        nodes.push(TestNode::start(config, storage).await);
    }
    println!("failover times over 5 rounds: {times:?}");
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader = agreed_leader(&all, BOUND).await;
    let index = by_id(&nodes, leader)
        .cluster
        .propose("last".into())
        .await
        .expect("propose");
    all_applied(&all, index, CATCH_UP).await;
    let expected: Vec<String> = (0..5)
        .map(|r| format!("round-{r}"))
        .chain(["last".to_string()])
        .collect();
    for node in &nodes {
        assert_eq!(node.journal().commands(), expected, "node {}", node.id);
    }
}

async fn sqlite_storages(dir: &tempfile::TempDir, n: usize) -> Vec<Storage> {
    let mut storages = Vec::new();
    for i in 1..=n {
        let path = dir.path().join(format!("node{i}.db"));
        storages.push(
            Storage::open(path.to_str().expect("utf-8 path"))
                .await
                .expect("open sqlite"),
        );
    }
    storages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_node_replays_its_sqlite_log_and_catches_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let configs = configs(3, Timings::default());
    let mut nodes = start_all(&configs, sqlite_storages(&dir, 3).await).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader = agreed_leader(&all, BOUND).await;
    let mut index = 0;
    for i in 0..5 {
        index = by_id(&nodes, leader)
            .cluster
            .propose(format!("first-{i}"))
            .await
            .expect("propose");
    }
    all_applied(&all, index, CATCH_UP).await;

    let follower = others(&nodes, leader)[0].id;
    let (config, _) = take(&mut nodes, follower).shutdown().await;
    for i in 0..5 {
        index = by_id(&nodes, leader)
            .cluster
            .propose(format!("second-{i}"))
            .await
            .expect("propose");
    }

    // The restarted node opens its database afresh: everything it knows comes from disk.
    let path = dir.path().join(format!("node{follower}.db"));
    let storage = Storage::open(path.to_str().expect("utf-8 path"))
        .await
        .expect("reopen sqlite");
    let restarted = TestNode::start(config, storage).await;
    // Its own committed entries are replayed from its log before it hears from the leader.
    restarted
        .wait_for("replay of its own log", CATCH_UP, |s| {
            s.last_applied.is_some_and(|a| a >= 5)
        })
        .await;
    all_applied(&[&restarted], index, CATCH_UP).await;
    let expected: Vec<String> = (0..5)
        .map(|i| format!("first-{i}"))
        .chain((0..5).map(|i| format!("second-{i}")))
        .collect();
    assert_eq!(restarted.journal().commands(), expected);
    assert_eq!(restarted.journal(), by_id(&nodes, leader).journal());
}

/// Snapshots are taken and the log behind them dropped, so the restart goes through
/// restoring the stored snapshot and replaying the log after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_cluster_restarts_from_sqlite_snapshots_and_logs_with_its_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let configs = configs_with(3, Timings::default(), SnapshotPolicy { every: 10, keep: 2 });
    let nodes = start_all(&configs, sqlite_storages(&dir, 3).await).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader = agreed_leader(&all, BOUND).await;
    let mut index = 0;
    for i in 0..35 {
        index = by_id(&nodes, leader)
            .cluster
            .propose(format!("kept-{i}"))
            .await
            .expect("propose");
    }
    all_applied(&all, index, CATCH_UP).await;
    let before = by_id(&nodes, leader).journal();
    assert_eq!(before.entries.len(), 35);
    for node in nodes {
        node.shutdown().await;
    }

    let nodes = start_all(&configs, sqlite_storages(&dir, 3).await).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader = agreed_leader(&all, BOUND).await;
    let index = by_id(&nodes, leader)
        .cluster
        .propose("after-restart".into())
        .await
        .expect("propose");
    all_applied(&all, index, CATCH_UP).await;
    for node in &nodes {
        let journal = node.journal();
        assert_eq!(
            journal.entries[..before.entries.len()],
            before.entries[..],
            "node {}",
            node.id
        );
        assert_eq!(
            journal.commands().last().map(String::as_str),
            Some("after-restart")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_reports_lost_and_returning_nodes() {
    // A paused follower must not call an election when it resumes (openraft 0.9 has no
    // pre-vote, so its higher term would depose the leader): its election timeout must
    // outlast the pause, which must outlast node_lost.
    let timings = Timings {
        election_timeout_min: Duration::from_millis(1500),
        election_timeout_max: Duration::from_millis(3000),
        lease: Duration::from_secs(7),
        ..Timings::default()
    };
    let node_lost = timings.node_lost;
    let mut nodes = start_memory_cluster(3, timings).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader = agreed_leader(&all, BOUND).await;
    let followers: Vec<_> = others(&nodes, leader).iter().map(|n| n.id).collect();
    let leader_node = by_id(&nodes, leader);
    leader_node
        .wait_for("all nodes alive", BOUND, |s| {
            s.node_liveness.len() == 3 && s.node_liveness.values().all(|l| l.alive)
        })
        .await;

    // A paused follower is reported lost, then alive again once it resumes.
    let paused = followers[0];
    by_id(&nodes, paused).pause(node_lost * 2);
    let pause_start = Instant::now();
    leader_node
        .wait_for("paused node reported lost", BOUND, |s| {
            s.node_liveness.get(&paused).is_some_and(|l| !l.alive)
        })
        .await;
    println!(
        "paused node {paused} reported lost after {:?}",
        pause_start.elapsed()
    );
    leader_node
        .wait_for("paused node alive again", BOUND, |s| {
            s.node_liveness.get(&paused).is_some_and(|l| l.alive)
        })
        .await;
    println!(
        "paused node {paused} alive again {:?} after the pause began",
        pause_start.elapsed()
    );

    // A crashed follower is reported lost within the node-lost timeout (plus a heartbeat).
    let crashed = followers[1];
    let stopped = Instant::now();
    take(&mut nodes, crashed).crash().await;
    let leader_node = by_id(&nodes, leader);
    leader_node
        .wait_for("crashed node reported lost", BOUND, |s| {
            s.node_liveness.get(&crashed).is_some_and(|l| !l.alive)
        })
        .await;
    let detected = stopped.elapsed();
    println!("crashed node {crashed} reported lost after {detected:?} (node_lost {node_lost:?})");
    // The surviving follower sees the leader's view too.
    by_id(&nodes, paused)
        .wait_for("leader's view of the lost node", BOUND, |s| {
            s.node_liveness.get(&crashed).is_some_and(|l| !l.alive)
        })
        .await;
    // Two of three voters remain: still quorate.
    assert!(leader_node.status().quorate);
}

fn short_requests() -> Timings {
    Timings {
        request_timeout: Duration::from_secs(2),
        ..Timings::default()
    }
}

async fn assert_minority(survivor: &TestNode) {
    let status = survivor
        .wait_for("loss of quorum", BOUND, |s| !s.quorate)
        .await;
    assert_eq!(status.dc(), None);
    let start = Instant::now();
    let result = survivor.cluster.propose("in the minority".into()).await;
    let waited = start.elapsed();
    println!("minority proposal failed after {waited:?}: {result:?}");
    match result {
        Err(ClusterError::NoQuorum { .. }) => {}
        other => panic!("expected NoQuorum, got {other:?}"),
    }
    assert!(
        waited < Duration::from_secs(2) + BOUND,
        "proposal hung for {waited:?}"
    );
    assert!(
        !survivor
            .journal()
            .commands()
            .contains(&"in the minority".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_left_alone_is_inquorate_and_refuses_proposals() {
    let mut nodes = start_memory_cluster(3, short_requests()).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader = agreed_leader(&all, BOUND).await;
    for id in others(&nodes, leader)
        .iter()
        .map(|n| n.id)
        .collect::<Vec<_>>()
    {
        take(&mut nodes, id).crash().await;
    }
    assert_minority(by_id(&nodes, leader)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_left_alone_is_inquorate_and_refuses_proposals() {
    let mut nodes = start_memory_cluster(3, short_requests()).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader = agreed_leader(&all, BOUND).await;
    let survivor = others(&nodes, leader)[0].id;
    for id in nodes
        .iter()
        .map(|n| n.id)
        .filter(|&id| id != survivor)
        .collect::<Vec<_>>()
    {
        take(&mut nodes, id).crash().await;
    }
    assert_minority(by_id(&nodes, survivor)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_with_the_wrong_key_never_joins() {
    let mut configs = configs(3, Timings::default());
    configs[2].key = wrong_key();
    let nodes = start_all(&configs, (0..3).map(|_| Storage::memory()).collect()).await;
    let good: Vec<&TestNode> = nodes[..2].iter().collect();
    let leader = agreed_leader(&good, BOUND).await;
    let index = by_id(&nodes, leader)
        .cluster
        .propose("members only".into())
        .await
        .expect("propose");
    all_applied(&good, index, CATCH_UP).await;

    // Its connections are refused in both directions.
    let identity = atrium_transport::Identity::new("intruder", Some(3)).expect("identity");
    let refused =
        atrium_transport::connect(&configs[0].listen_addr, &wrong_key(), &identity, BOUND).await;
    assert!(
        matches!(
            refused,
            Err(atrium_transport::TransportError::AuthenticationFailed { .. })
        ),
        "connection with the wrong key: {:?}",
        refused.map(|_| ())
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let outsider = &nodes[2];
    assert_eq!(outsider.status().leader, None);
    assert!(!outsider.status().quorate);
    assert!(outsider.journal().entries.is_empty());
    let view = by_id(&nodes, leader).status().node_liveness;
    assert!(!view[&3].alive, "leader's view: {view:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_are_added_and_removed_through_any_node() {
    let mut configs = configs(4, Timings::default());
    let fourth = configs.pop().expect("four configs");
    for config in &mut configs {
        config.initial_members.truncate(3);
    }
    let mut nodes = start_all(&configs, (0..3).map(|_| Storage::memory()).collect()).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader = agreed_leader(&all, BOUND).await;
    by_id(&nodes, leader)
        .cluster
        .propose("before join".into())
        .await
        .expect("propose");

    let mut new_config = fourth.clone();
    new_config.initial_members.clear();
    nodes.push(TestNode::start(new_config, Storage::memory()).await);
    let follower = others(&nodes[..3], leader)[0];
    follower
        .cluster
        .add_member(4, "node4", fourth.listen_addr.clone())
        .await
        .expect("add member");
    let newcomer = by_id(&nodes, 4);
    newcomer
        .wait_for("membership with node 4 as voter", CATCH_UP, |s| {
            s.voters.contains(&4) && s.voters.len() == 4
        })
        .await;
    let index = follower
        .cluster
        .propose("after join".into())
        .await
        .expect("propose");
    all_applied(&[newcomer], index, CATCH_UP).await;
    assert_eq!(newcomer.journal().commands(), ["before join", "after join"]);

    newcomer
        .cluster
        .remove_member(4)
        .await
        .expect("remove member");
    by_id(&nodes, leader)
        .wait_for("membership without node 4", CATCH_UP, |s| {
            !s.members.contains_key(&4) && s.voters.len() == 3
        })
        .await;
    take(&mut nodes, 4).crash().await;
    let index = by_id(&nodes, leader)
        .cluster
        .propose("after leave".into())
        .await
        .expect("propose");
    let rest: Vec<&TestNode> = nodes.iter().collect();
    all_applied(&rest, index, CATCH_UP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_node_catches_up_from_a_snapshot() {
    let configs = configs_with(3, Timings::default(), SnapshotPolicy { every: 20, keep: 0 });
    let mut nodes = start_all(&configs, (0..3).map(|_| Storage::memory()).collect()).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader = agreed_leader(&all, BOUND).await;
    let lagging = others(&nodes, leader)[0].id;
    let (config, storage) = take(&mut nodes, lagging).crash().await;
    let mut index = 0;
    for i in 0..100 {
        index = by_id(&nodes, leader)
            .cluster
            .propose(format!("while-away-{i}"))
            .await
            .expect("propose");
    }
    // The log it missed is gone from the leader: only the snapshot can bring it up to date.
    let restarted = TestNode::start(config, storage).await;
    all_applied(&[&restarted], index, CATCH_UP).await;
    let expected: Vec<String> = (0..100).map(|i| format!("while-away-{i}")).collect();
    assert_eq!(restarted.journal().commands(), expected);
    assert_eq!(restarted.journal(), by_id(&nodes, leader).journal());
}

/// No spurious elections or lost nodes while the cluster is busy (on a machine shared with
/// other builds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_cluster_keeps_its_leader_and_reports_no_loss() {
    let nodes = start_memory_cluster(3, Timings::default()).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader = agreed_leader(&all, BOUND).await;
    let leader_node = by_id(&nodes, leader);
    leader_node
        .wait_for("all nodes alive", BOUND, |s| {
            s.node_liveness.len() == 3 && s.node_liveness.values().all(|l| l.alive)
        })
        .await;
    let term = leader_node.status().term;
    let mut watches: Vec<_> = nodes.iter().map(|n| n.cluster.watch()).collect();
    let end = Instant::now() + Duration::from_secs(8);
    let mut proposals = 0;
    while Instant::now() < end {
        let node = &nodes[proposals % 3];
        node.cluster
            .propose(format!("busy-{proposals}"))
            .await
            .expect("propose");
        proposals += 1;
        for watch in &mut watches {
            let s = watch.borrow_and_update();
            assert_eq!(
                (s.leader, s.term),
                (Some(leader), term),
                "leadership changed on node {}",
                s.node_id
            );
            assert!(s.quorate, "node {} lost quorum", s.node_id);
        }
        let view = leader_node.status().node_liveness;
        assert!(
            view.values().all(|l| l.alive),
            "a node was reported lost: {view:?}"
        );
    }
    println!("{proposals} proposals in 8 s with no election and no lost node");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_survive_two_failures_but_not_three() {
    let mut nodes = start_memory_cluster(5, short_requests()).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader = agreed_leader(&all, BOUND).await;
    let follower = others(&nodes, leader)[0].id;
    take(&mut nodes, leader).crash().await;
    take(&mut nodes, follower).crash().await;

    let survivors: Vec<&TestNode> = nodes.iter().collect();
    let new_leader = agreed_leader(&survivors, BOUND).await;
    let index = nodes[0]
        .cluster
        .propose("three of five".into())
        .await
        .expect("propose");
    all_applied(&survivors, index, CATCH_UP).await;
    assert_eq!(by_id(&nodes, new_leader).status().voters.len(), 5);

    let another = others(&nodes, new_leader)[0].id;
    take(&mut nodes, another).crash().await;
    for node in &nodes {
        assert_minority(node).await;
    }
}

/// A DC that stalls (GC pause, overloaded host) is replaced; when it resumes it learns the
/// new term, steps down and follows, and no entry is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_leader_is_replaced_and_rejoins_as_follower() {
    let nodes = start_memory_cluster(3, Timings::default()).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader = agreed_leader(&all, BOUND).await;
    let index = by_id(&nodes, leader)
        .cluster
        .propose("before pause".into())
        .await
        .expect("propose");
    all_applied(&all, index, CATCH_UP).await;

    let old = by_id(&nodes, leader);
    let old_term = old.status().term;
    old.pause(Duration::from_secs(3));
    let rest = others(&nodes, leader);
    let new_leader = agreed_leader(&rest, BOUND).await;
    let index = rest[0]
        .cluster
        .propose("during pause".into())
        .await
        .expect("propose");

    // After the pause every node, the old leader included, follows the new one.
    let status = old
        .wait_for("the old leader to follow", BOUND, |s| {
            s.leader == Some(new_leader) && s.quorate
        })
        .await;
    assert!(status.term > old_term && !status.i_am_leader);
    let index = old
        .cluster
        .propose("after pause".into())
        .await
        .expect("propose")
        .max(index);
    all_applied(&all, index, CATCH_UP).await;
    for node in &nodes {
        assert_eq!(
            node.journal().commands(),
            ["before pause", "during pause", "after pause"],
            "node {}",
            node.id
        );
    }
}

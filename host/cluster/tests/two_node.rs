//! Two-node mode on loopback: the survivor takes over once its peer is fenced (here: crashed,
//! which is what fencing guarantees), the peer is admitted again when it comes back, and a
//! node that never saw its peer never elects itself.

#[allow(dead_code)] // the shared harness; this file uses part of it
mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use atrium_cluster::{ClusterConfig, ClusterError, Storage, Timings};
use common::*;
use tokio::time::Instant;

const BOUND: Duration = Duration::from_secs(10);

fn two_node_configs() -> Vec<ClusterConfig> {
    let timings = Timings {
        request_timeout: Duration::from_secs(2),
        ..Timings::default()
    };
    configs(2, timings)
        .into_iter()
        .map(|c| ClusterConfig {
            two_node: true,
            ..c
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survivor_takes_over_from_its_fenced_peer_which_is_admitted_again() {
    let configs = two_node_configs();
    let mut nodes = start_all(&configs, vec![Storage::memory(), Storage::memory()]).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader = agreed_leader(&all, BOUND).await;
    let survivor = others(&nodes, leader)[0].id;
    let mut acknowledged = Vec::new();
    for i in 0..5 {
        by_id(&nodes, survivor)
            .cluster
            .propose(format!("before-{i}"))
            .await
            .expect("both voters up");
        acknowledged.push(format!("before-{i}"));
    }

    // The leader goes away; the follower alone has no majority.
    let (crashed_config, crashed_storage) = take(&mut nodes, leader).crash().await;
    let node = by_id(&nodes, survivor);
    node.wait_for("loss of quorum", BOUND, |s| !s.quorate).await;
    assert!(matches!(
        node.cluster.propose("alone".into()).await,
        Err(ClusterError::NoQuorum { .. })
    ));

    // Fenced (crashed) peer: the survivor takes over and commits alone.
    let began = Instant::now();
    node.cluster
        .take_over_from_fenced_peer()
        .await
        .expect("take-over");
    let status = node
        .wait_for("sole quorate leader", BOUND, |s| {
            s.i_am_leader && s.quorate && s.voters == BTreeSet::from([survivor])
        })
        .await;
    println!(
        "take-over took {:?} (term {})",
        began.elapsed(),
        status.term
    );
    for i in 0..5 {
        node.cluster
            .propose(format!("alone-{i}"))
            .await
            .expect("sole voter commits");
        acknowledged.push(format!("alone-{i}"));
    }
    assert_eq!(node.journal().commands(), acknowledged);

    // The peer comes back with its old log: it does not campaign against the survivor, and is
    // admitted again as a voter.
    let term_before = node.status().term;
    let back = TestNode::start(crashed_config, crashed_storage).await;
    let began = Instant::now();
    nodes.push(back);
    let node = by_id(&nodes, survivor);
    node.wait_for("the peer a voter again", BOUND, |s| {
        s.voters.len() == 2 && s.quorate
    })
    .await;
    println!("peer admitted again after {:?}", began.elapsed());
    let last = node
        .cluster
        .propose("together".into())
        .await
        .expect("two voters again");
    acknowledged.push("together".into());
    let all: Vec<&TestNode> = nodes.iter().collect();
    all_applied(&all, last, BOUND).await;
    assert_eq!(agreed_leader(&all, BOUND).await, survivor);
    assert_eq!(by_id(&nodes, leader).journal().commands(), acknowledged);
    assert_eq!(node.journal(), by_id(&nodes, leader).journal());
    println!(
        "survivor's term {term_before} -> {} while admitting the peer",
        node.status().term
    );

    // Fenced again, the other way round: the returned node now takes over.
    let survivor_config = take(&mut nodes, survivor).crash().await;
    drop(survivor_config);
    let node = by_id(&nodes, leader);
    node.wait_for("loss of quorum", BOUND, |s| !s.quorate).await;
    node.cluster
        .take_over_from_fenced_peer()
        .await
        .expect("second take-over");
    node.cluster
        .propose("second survivor".into())
        .await
        .expect("commits alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_never_saw_its_peer_does_not_elect_itself() {
    let configs = two_node_configs();
    let first = TestNode::start(configs[0].clone(), Storage::memory()).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let status = first.status();
    assert_eq!(status.leader, None, "{status:?}");
    assert!(!status.quorate);
    // Campaigning needs an answering peer: the term has not moved.
    assert!(status.term <= 1, "{status:?}");

    let second = TestNode::start(configs[1].clone(), Storage::memory()).await;
    let leader = agreed_leader(&[&first, &second], BOUND).await;
    println!("leader {leader} once both were up");
    // With both up, losing one is a loss of quorum, not a take-over: that needs fencing.
    second.crash().await;
    first
        .wait_for("loss of quorum", BOUND, |s| !s.quorate)
        .await;
    assert_eq!(first.status().voters.len(), 2);
}

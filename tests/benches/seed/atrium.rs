//! The cells on Atrium: real `atrium node run` processes on loopback (release build).

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use atrium_tests::failover::{kill_and_measure, settle};
use atrium_tests::logs::{now_ms, operations_done};
use atrium_tests::{Options, TestCluster, dc, node_of, placement, procfs};

use crate::measure::Run;
use crate::workload;

/// How long one wait of a cell may take before the cell is reported failed: generous, since
/// 64 processes or 10,000 shell agents on two shared cores are slow, but never unbounded.
pub fn timeout(nodes: usize, resources: usize) -> Duration {
    Duration::from_secs(120 + nodes as u64 * 5 + resources as u64 / 10)
}

fn start_cluster(nodes: usize, config: &str, resources: usize) -> Result<TestCluster> {
    let mut options = Options::nodes(nodes);
    options.json_logs = true;
    let mut cluster = TestCluster::start_online(options, timeout(nodes, 0))?;
    let loaded = cluster.load(config).and_then(|()| wait_started(&cluster, resources, None, timeout(nodes, resources)));
    kept_on_failure(&mut cluster, loaded)?;
    Ok(cluster)
}

/// A failed cell keeps its cluster's files (node logs, databases) and says where, since its
/// cause is only found in the nodes' logs.
fn kept_on_failure<T>(cluster: &mut TestCluster, result: Result<T>) -> Result<T> {
    result.map_err(|e| {
        let dir = cluster.keep_files();
        e.context(format!("node logs kept in {}", dir.display()))
    })
}

/// Polls `atrium status` until the cluster is idle with `resources` resources started (on
/// `on` if given). The status computes a schedule, which costs time at 10,000 resources, so
/// the poll backs off to twice the last call's duration rather than loading the machine.
fn wait_started(cluster: &TestCluster, resources: usize, on: Option<&str>, timeout: Duration) -> Result<Value> {
    let deadline = Instant::now() + timeout;
    // What the last poll saw: how many started, or why `atrium status` failed.
    let mut seen;
    loop {
        let asked = Instant::now();
        match cluster.status() {
            Ok(s) => {
                let started = placement(&s).values().filter(|(node, role)| role == "Started" && (on.is_none() || node.as_deref() == on)).count();
                if s["cluster"]["idle"] == true && started == resources {
                    return Ok(s);
                }
                seen = format!("{started} of {resources} resources started{}", on.map(|n| format!(" on {n}")).unwrap_or_default());
            }
            Err(e) => seen = format!("status failed: {}", format!("{e:#}").trim()),
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?}: {seen}");
        }
        std::thread::sleep((asked.elapsed() * 2).clamp(Duration::from_millis(50), Duration::from_secs(2)));
    }
}

/// When the last start of the run finished, from the nodes' logs: every resource's first
/// `start` after `since_ms` (at most `resources` of them must be found).
fn last_start(cluster: &TestCluster, resources: usize, since_ms: f64) -> Result<f64> {
    let mut first: BTreeMap<String, f64> = BTreeMap::new();
    for node in &cluster.nodes {
        for (t, op) in operations_done(cluster, &node.name, since_ms) {
            if op.ends_with("_start_0") {
                first.entry(op).and_modify(|x| *x = x.min(t)).or_insert(t);
            }
        }
    }
    if first.len() < resources {
        bail!("only {} of {resources} starts found in the logs", first.len());
    }
    Ok(first.values().copied().fold(f64::MIN, f64::max))
}

/// Waits until `resources` resources are started (on `on`) and the logs show each one's start
/// since `since_ms`; returns when the last of those starts finished. Right after a cold
/// restart the replicated status still shows the previous boot's resources as started until
/// the nodes rejoin, so the status alone is not enough.
fn wait_started_since(cluster: &TestCluster, resources: usize, on: Option<&str>, since_ms: f64, timeout: Duration) -> Result<f64> {
    let deadline = Instant::now() + timeout;
    loop {
        wait_started(cluster, resources, on, deadline.saturating_duration_since(Instant::now()))?;
        match last_start(cluster, resources, since_ms) {
            Ok(end) => return Ok(end),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Largest peak RSS of a node process, and CPU seconds of all of them (but `skip`), now.
fn usage(cluster: &TestCluster, skip: Option<&str>) -> (u64, f64) {
    let pids: Vec<u32> = cluster.nodes.iter().filter(|n| Some(n.name.as_str()) != skip).filter_map(|n| n.pid()).collect();
    let rss = pids.iter().filter_map(|p| procfs::peak_rss(*p)).max().unwrap_or(0);
    let cpu = pids.iter().filter_map(|p| procfs::cpu_seconds(*p)).sum();
    (rss, cpu)
}

/// Cold start: every node is killed and rebooted (per-boot agent state gone, configuration
/// kept), and the time runs from starting the processes to the last resource started.
pub fn startup(nodes: usize, config: &str, resources: usize, rounds: usize, runs: &mut Vec<Run>) -> Result<()> {
    let mut cluster = start_cluster(nodes, config, resources)?;
    let names: Vec<String> = cluster.nodes.iter().map(|n| n.name.clone()).collect();
    for round in 0..rounds {
        for n in &names {
            cluster.kill(n)?;
        }
        let t0 = now_ms();
        for n in &names {
            cluster.reboot(n)?;
        }
        let end = wait_started_since(&cluster, resources, None, t0, timeout(nodes, resources)).with_context(|| format!("round {}", round + 1));
        let end = kept_on_failure(&mut cluster, end)?;
        let (peak_rss, cpu) = usage(&cluster, None);
        runs.push(Run { secs: (end - t0) / 1000.0, peak_rss, cpu, phases: None });
    }
    Ok(())
}

/// Standby of node1 with every resource on it -> all started on node2; node1 comes back online
/// (and takes its resources back) between rounds.
pub fn switchover(config: &str, resources: usize, rounds: usize, runs: &mut Vec<Run>) -> Result<()> {
    let mut cluster = start_cluster(2, config, resources)?;
    let result = switchover_rounds(&cluster, resources, rounds, runs);
    kept_on_failure(&mut cluster, result)
}

fn switchover_rounds(cluster: &TestCluster, resources: usize, rounds: usize, runs: &mut Vec<Run>) -> Result<()> {
    for round in 0..rounds {
        wait_started(cluster, resources, Some("node1"), timeout(2, resources))?;
        let (_, cpu0) = usage(cluster, None);
        let t0 = now_ms();
        cluster.atrium_ok(&["node", "standby", "node1"])?;
        let end = wait_started_since(cluster, resources, Some("node2"), t0, timeout(2, resources)).with_context(|| format!("round {}", round + 1))?;
        let (peak_rss, cpu1) = usage(cluster, None);
        runs.push(Run { secs: (end - t0) / 1000.0, peak_rss, cpu: cpu1 - cpu0, phases: None });
        cluster.atrium_ok(&["node", "online", "node1"])?;
    }
    Ok(())
}

/// kill -9 of a node that hosts resources and is not the DC; it is rebooted between rounds.
pub fn failover(nodes: usize, config: &str, resources: usize, rounds: usize, runs: &mut Vec<Run>) -> Result<()> {
    let mut cluster = start_cluster(nodes, config, resources + workload::FENCE_DEVICES)?;
    let result = failover_rounds(&mut cluster, nodes, resources, rounds, runs);
    kept_on_failure(&mut cluster, result)
}

fn failover_rounds(cluster: &mut TestCluster, nodes: usize, resources: usize, rounds: usize, runs: &mut Vec<Run>) -> Result<()> {
    let names: Vec<String> = (0..resources).map(|i| format!("r{i}")).collect();
    let limit = timeout(nodes, resources);
    for _ in 0..rounds {
        let s = settle(cluster, &names, limit)?;
        let dc_name = dc(&s).context("no DC")?;
        let victim = names.iter().filter_map(|r| node_of(&s, r)).find(|n| *n != dc_name).context("no non-DC node hosts a resource")?;
        let (_, cpu0) = usage(cluster, Some(victim.as_str()));
        let (sample, _) = kill_and_measure(cluster, &names, &victim, &dc_name, limit)?;
        let (peak_rss, cpu1) = usage(cluster, Some(victim.as_str()));
        let phases = [sample.detect / 1000.0, sample.schedule / 1000.0, sample.fence / 1000.0, sample.start / 1000.0];
        // The survivors' CPU is what recovery cost.
        runs.push(Run { secs: phases.iter().sum(), peak_rss, cpu: cpu1 - cpu0, phases: Some(phases) });
        cluster.reboot(&victim)?;
        cluster.wait_for("the node back", limit, |s| s["nodes"].as_array().is_some_and(|n| n.iter().all(|n| n["state"] == "online")))?;
    }
    Ok(())
}

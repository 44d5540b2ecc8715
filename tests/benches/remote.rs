//! Remote-node benchmark: 3 full nodes and N `atrium remote run` processes on loopback.
//!
//! Measures the time from loading the configuration (one connection resource per remote) to
//! every remote node RemoteOnline, how the connections spread over the full nodes, the memory
//! they cost there (RSS of the full nodes after minus before, per connection), and failover:
//! a remote node killed -9 (its resource restarted on another remote node) and the full node
//! holding the most connections killed -9 (its connections moved, every remote online again).
//!
//! `cargo bench -p atrium-tests --bench remote [-- --sizes 10,100,500]`

use anyhow::{Context, Result};
use serde_json::Value;
use std::time::{Duration, Instant};

use atrium_tests::remote::TestRemote;
use atrium_tests::{Options, TestCluster, dc, node_of};

const MONITOR_INTERVAL_S: u64 = 3;

fn config(remotes: &[TestRemote]) -> String {
    let mut c = String::from("property stonith-enabled=false\nrsc_defaults resource-stickiness=100\n");
    for r in remotes {
        c.push_str(&format!("primitive {}-remote ocf:pacemaker:remote params server=\"{}\" op monitor interval={MONITOR_INTERVAL_S} timeout=15\n", r.name, r.addr()));
    }
    // One resource that fails over between the first two remotes, probed only there.
    c.push_str("primitive d0 wasm:atrium:dummy op monitor interval=5s timeout=10s\n");
    c.push_str(&format!("location d0-first d0 resource-discovery=exclusive 200: {}-remote\n", remotes[0].name));
    c.push_str(&format!("location d0-second d0 resource-discovery=exclusive 100: {}-remote\n", remotes[1].name));
    c
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).context("VmRSS value")?.parse()?)
}

fn full_nodes_rss(cluster: &TestCluster) -> Result<u64> {
    cluster.nodes.iter().filter_map(|n| n.pid()).map(rss_kib).sum()
}

fn remote_states(s: &Value) -> (usize, usize) {
    let nodes = s["nodes"].as_array().map(Vec::as_slice).unwrap_or_default();
    let remote: Vec<&Value> = nodes.iter().filter(|n| n["remote"] == true).collect();
    (remote.iter().filter(|n| n["state"] == "online").count(), remote.len())
}

fn all_online(s: &Value, n: usize) -> bool {
    remote_states(s) == (n, n) && s["cluster"]["idle"] == true
}

struct Row {
    remotes: usize,
    online_s: f64,
    spread: String,
    kib_per_conn: f64,
    remote_failover_s: f64,
    holder_failover_s: f64,
}

fn run_size(n: usize) -> Result<Row> {
    let mut options = Options::nodes(3);
    options.json_logs = true;
    eprintln!("[{n} remotes] starting 3 full nodes");
    let mut cluster = TestCluster::start_online(options, Duration::from_secs(120))?;
    eprintln!("[{n} remotes] starting {n} remote processes");
    let mut remotes = Vec::new();
    for i in 0..n {
        let name = format!("r{i}");
        remotes.push(TestRemote::start(&name, &cluster.dir.path().join(&name), &cluster.key_file)?);
    }
    let timeout = Duration::from_secs(60 + n as u64);
    std::thread::sleep(Duration::from_secs(2));
    let rss_before = full_nodes_rss(&cluster)?;

    let t0 = Instant::now();
    cluster.load(&config(&remotes))?;
    let s = cluster.wait_for("every remote node online", timeout, |s| all_online(s, n) && node_of(s, "d0").is_some())?;
    let online_s = t0.elapsed().as_secs_f64();
    // Memory after the start-up's transitions, with only the connections' steady work left.
    std::thread::sleep(Duration::from_secs(2 * MONITOR_INTERVAL_S));
    let rss_after = full_nodes_rss(&cluster)?;
    let kib_per_conn = (rss_after as f64 - rss_before as f64) / n as f64;
    let mut per_node: std::collections::BTreeMap<String, usize> = cluster.nodes.iter().map(|x| (x.name.clone(), 0)).collect();
    for r in &remotes {
        if let Some(holder) = node_of(&s, &format!("{}-remote", r.name)) {
            *per_node.entry(holder).or_default() += 1;
        }
    }
    let spread = per_node.values().map(usize::to_string).collect::<Vec<_>>().join(" / ");
    eprintln!("[{n} remotes] all online after {online_s:.1} s; connections per full node {spread}");

    // A remote node dies: its resource restarts on the other remote allowed to run it.
    let first = format!("{}-remote", remotes[0].name);
    let second = format!("{}-remote", remotes[1].name);
    anyhow::ensure!(node_of(&s, "d0").as_deref() == Some(first.as_str()), "d0 is not on {first}");
    let t1 = Instant::now();
    remotes[0].kill()?;
    cluster.wait_for("d0 on the second remote", timeout, |s| node_of(s, "d0").as_deref() == Some(second.as_str()))?;
    let remote_failover_s = t1.elapsed().as_secs_f64();
    eprintln!("[{n} remotes] remote failover {remote_failover_s:.2} s");

    // The full node holding the most connections (not the DC, to measure the connections'
    // move rather than an election) dies: its connections move and every remote still
    // running comes back online without its resources restarting.
    let s = cluster.status()?;
    let the_dc = dc(&s).context("no DC")?;
    let (victim, _) = per_node.iter().filter(|(name, _)| **name != the_dc).max_by_key(|(_, c)| **c).context("no full node")?;
    let victim = victim.clone();
    let t2 = Instant::now();
    cluster.kill(&victim)?;
    cluster.wait_for("every live remote online again", timeout, |s| {
        let (online, _) = remote_states(s);
        online == n - 1 && remotes.iter().skip(1).all(|r| node_of(s, &format!("{}-remote", r.name)).is_some_and(|h| h != victim))
    })?;
    let holder_failover_s = t2.elapsed().as_secs_f64();
    eprintln!("[{n} remotes] connection holder failover {holder_failover_s:.2} s");
    Ok(Row { remotes: n, online_s, spread, kib_per_conn, remote_failover_s, holder_failover_s })
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let sizes: Vec<usize> = flag("--sizes").unwrap_or_else(|| "10,100,500".into()).split(',').filter_map(|s| s.parse().ok()).collect();
    let mut rows = Vec::new();
    for n in sizes {
        rows.push(run_size(n.max(2))?);
    }
    println!("\nRemote nodes on loopback: 3 full nodes + N remote processes (connection monitor every {MONITOR_INTERVAL_S} s)\n");
    println!("| remotes | all RemoteOnline | connections per full node | full-node RSS per connection | remote killed -> resource on another remote | connection holder killed -> all remotes online |");
    println!("|---:|---:|---|---:|---:|---:|");
    for r in rows {
        println!("| {} | {:.1} s | {} | {:.0} KiB | {:.2} s | {:.2} s |", r.remotes, r.online_s, r.spread, r.kib_per_conn, r.remote_failover_s, r.holder_failover_s);
    }
    Ok(())
}

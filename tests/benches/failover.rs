//! Failover benchmark: real node processes on loopback, at 3 and 16 nodes.
//!
//! For a kill -9 of a non-DC node: detection (kill -> the DC marks it offline), scheduling
//! (-> the recovery transition starts) and start (-> the last recovered resource's start
//! finished); for a kill -9 of the DC: the new DC, and its recovery; and `atrium status`
//! latency. Times come from the nodes' own JSON logs, so polling adds nothing.
//!
//! `cargo bench -p atrium-tests --bench failover [-- --sizes 3,16 --rounds 3]`

use anyhow::{Context, Result};
use std::time::{Duration, Instant};

use atrium_tests::failover::{Sample, kill_and_measure, settle};
use atrium_tests::stats::{median, p95};
use atrium_tests::{Options, TestCluster, dc, node_of};

const SETTLE: Duration = Duration::from_secs(120);

fn config(resources: usize) -> String {
    let mut c = String::from("property stonith-enabled=false\nrsc_defaults resource-stickiness=100\n");
    for i in 0..resources {
        c.push_str(&format!("primitive r{i} wasm:atrium:dummy op monitor interval=2s timeout=10s\n"));
    }
    c
}

struct Row {
    size: usize,
    what: &'static str,
    detect: f64,
    schedule: f64,
    start: f64,
    total: f64,
    extra: String,
}

fn run_size(size: usize, rounds: usize) -> Result<Vec<Row>> {
    let resources = size * 2;
    let names: Vec<String> = (0..resources).map(|i| format!("r{i}")).collect();
    let mut options = Options::nodes(size);
    options.json_logs = true;
    eprintln!("[{size} nodes] waiting for the cluster");
    let mut cluster = TestCluster::start_online(options, Duration::from_secs(120))?;
    cluster.load(&config(resources))?;
    settle(&cluster, &names, SETTLE)?;
    let mut node_kills = Vec::new();
    let mut dc_kills = Vec::new();
    let mut elections = Vec::new();
    for round in 0..rounds {
        for kill_dc in [false, true] {
            let s = settle(&cluster, &names, SETTLE)?;
            let dc_name = dc(&s).context("no DC")?;
            let victim = if kill_dc {
                dc_name.clone()
            } else {
                names.iter().filter_map(|r| node_of(&s, r)).find(|n| *n != dc_name).context("no non-DC host")?
            };
            eprintln!("[{size} nodes] round {}: kill -9 {victim}{}", round + 1, if kill_dc { " (the DC)" } else { "" });
            let (sample, elected) = kill_and_measure(&mut cluster, &names, &victim, &dc_name, SETTLE)?;
            if kill_dc {
                dc_kills.push(sample);
                elections.extend(elected);
            } else {
                node_kills.push(sample);
            }
            cluster.reboot(&victim)?;
            cluster.wait_for("the node back", Duration::from_secs(120), |s| {
                s["nodes"].as_array().is_some_and(|n| n.iter().all(|n| n["state"] == "online"))
            })?;
        }
    }
    let mut status_ms = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        cluster.atrium_ok(&["status"])?;
        status_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let row = |what, samples: &[Sample], extra: String| {
        let detect = median(&samples.iter().map(|s| s.detect).collect::<Vec<_>>());
        let schedule = median(&samples.iter().map(|s| s.schedule).collect::<Vec<_>>());
        let start = median(&samples.iter().map(|s| s.fence + s.start).collect::<Vec<_>>());
        let total = median(&samples.iter().map(Sample::total).collect::<Vec<_>>());
        Row { size, what, detect, schedule, start, total, extra }
    };
    Ok(vec![
        row("kill -9 non-DC node", &node_kills, String::new()),
        row("kill -9 DC", &dc_kills, format!("new DC after {:.0} ms", median(&elections))),
        Row {
            size,
            what: "atrium status (CLI)",
            detect: f64::NAN,
            schedule: f64::NAN,
            start: f64::NAN,
            total: median(&status_ms),
            extra: format!("p95 {:.1} ms", p95(&status_ms)),
        },
    ])
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let sizes: Vec<usize> = flag("--sizes").unwrap_or_else(|| "3,16".into()).split(',').filter_map(|s| s.parse().ok()).collect();
    let rounds: usize = flag("--rounds").and_then(|r| r.parse().ok()).unwrap_or(3);
    let mut rows = Vec::new();
    for size in sizes {
        rows.extend(run_size(size, rounds)?);
    }
    println!("\nFailover on loopback ({rounds} rounds, medians; milliseconds)\n");
    println!("| nodes | event | detection | scheduling | start | total | notes |");
    println!("|---:|---|---:|---:|---:|---:|---|");
    let cell = |v: f64| if v.is_nan() { "-".to_string() } else { format!("{v:.0}") };
    for r in rows {
        let total = if r.what.starts_with("atrium status") { format!("{:.1}", r.total) } else { cell(r.total) };
        println!("| {} | {} | {} | {} | {} | {} | {} |", r.size, r.what, cell(r.detect), cell(r.schedule), cell(r.start), total, r.extra);
    }
    Ok(())
}

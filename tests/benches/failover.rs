//! Failover benchmark: real node processes on loopback, at 3 and 16 nodes.
//!
//! For a kill -9 of a non-DC node: detection (kill -> the DC marks it offline), scheduling
//! (-> the recovery transition starts) and start (-> the last recovered resource's start
//! finished); for a kill -9 of the DC: the new DC, and its recovery; and `atrium status`
//! latency. Times come from the nodes' own JSON logs, so polling adds nothing.
//!
//! `cargo bench -p atrium-tests --bench failover [-- --sizes 3,16 --rounds 3]`

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use atrium_tests::{Options, TestCluster, dc, node_of, settled_with};

fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0
}

/// `2026-11-26T03:50:00.123456Z` -> Unix milliseconds.
fn parse_timestamp(ts: &str) -> Option<f64> {
    let (date, time) = ts.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (hh, mm) = (t.next()?.parse::<f64>().ok()?, t.next()?.parse::<f64>().ok()?);
    let ss = t.next()?.parse::<f64>().ok()?;
    let days = atrium_cib::rule::days_from_civil(y, m, day);
    Some(((days as f64 * 86_400.0) + hh * 3600.0 + mm * 60.0 + ss) * 1000.0)
}

/// Log lines of a node after `since_ms` whose message is `message`.
fn events(cluster: &TestCluster, node: &str, message: &str, since_ms: f64) -> Vec<(f64, Value)> {
    let dir = &cluster.nodes[cluster.index(node)].dir;
    let text = std::fs::read_to_string(dir.join("atrium.log")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == message)
        .filter_map(|v| Some((parse_timestamp(v["timestamp"].as_str()?)?, v)))
        .filter(|(t, _)| *t >= since_ms)
        .collect()
}

fn config(resources: usize) -> String {
    let mut c = String::from("property stonith-enabled=false\nrsc_defaults resource-stickiness=100\n");
    for i in 0..resources {
        c.push_str(&format!("primitive r{i} wasm:atrium:dummy op monitor interval=2s timeout=10s\n"));
    }
    c
}

struct Sample {
    detect: f64,
    schedule: f64,
    start: f64,
}

fn settle(cluster: &TestCluster, names: &[String]) -> Result<Value> {
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    cluster.wait_for("resources settled", Duration::from_secs(120), |s| settled_with(s, &refs))
}

/// Kill `victim`, then read detection, scheduling and recovery times from the logs.
fn kill_and_measure(cluster: &mut TestCluster, names: &[String], victim: &str, dc_name: &str) -> Result<(Sample, Option<f64>)> {
    let before = cluster.status()?;
    let moved: Vec<String> = names.iter().filter(|r| node_of(&before, r).as_deref() == Some(victim)).cloned().collect();
    if moved.is_empty() {
        bail!("{victim} hosts nothing");
    }
    let t0 = now_ms();
    cluster.kill(victim)?;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let after = cluster.wait_for("the victim's resources elsewhere", Duration::from_secs(120), |s| {
        settled_with(s, &refs) && moved.iter().all(|r| node_of(s, r).is_some_and(|n| n != victim))
    })?;
    let new_dc = dc(&after).context("no DC after the kill")?;
    let dc_elected = if victim == dc_name { events(cluster, &new_dc, "became DC", t0).first().map(|(t, _)| t - t0) } else { None };
    let detected = events(cluster, &new_dc, "membership changed", t0).first().map(|(t, _)| *t).context("no membership change logged")?;
    let scheduled = events(cluster, &new_dc, "transition started", detected).first().map(|(t, _)| *t).context("no transition logged")?;
    let mut started: f64 = 0.0;
    for rsc in &moved {
        let host = node_of(&after, rsc).context("moved resource not running")?;
        let op = format!("{rsc}_start_0");
        let done = events(cluster, &host, "operation done", t0).into_iter().filter(|(_, v)| v["span"]["op"] == op.as_str()).map(|(t, _)| t).next();
        started = started.max(done.with_context(|| format!("no start of {rsc} logged on {host}"))?);
    }
    Ok((Sample { detect: detected - t0, schedule: scheduled - detected, start: started - scheduled }, dc_elected))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

fn p95(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() { f64::NAN } else { v[((v.len() as f64 * 0.95).ceil() as usize).saturating_sub(1).min(v.len() - 1)] }
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
    settle(&cluster, &names)?;
    let mut node_kills = Vec::new();
    let mut dc_kills = Vec::new();
    let mut elections = Vec::new();
    for round in 0..rounds {
        for kill_dc in [false, true] {
            let s = settle(&cluster, &names)?;
            let dc_name = dc(&s).context("no DC")?;
            let victim = if kill_dc {
                dc_name.clone()
            } else {
                names.iter().filter_map(|r| node_of(&s, r)).find(|n| *n != dc_name).context("no non-DC host")?
            };
            eprintln!("[{size} nodes] round {}: kill -9 {victim}{}", round + 1, if kill_dc { " (the DC)" } else { "" });
            let (sample, elected) = kill_and_measure(&mut cluster, &names, &victim, &dc_name)?;
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
        let detect = median(samples.iter().map(|s| s.detect).collect());
        let schedule = median(samples.iter().map(|s| s.schedule).collect());
        let start = median(samples.iter().map(|s| s.start).collect());
        let total = median(samples.iter().map(|s| s.detect + s.schedule + s.start).collect());
        Row { size, what, detect, schedule, start, total, extra }
    };
    Ok(vec![
        row("kill -9 non-DC node", &node_kills, String::new()),
        row("kill -9 DC", &dc_kills, format!("new DC after {:.0} ms", median(elections))),
        Row {
            size,
            what: "atrium status (CLI)",
            detect: f64::NAN,
            schedule: f64::NAN,
            start: f64::NAN,
            total: median(status_ms.clone()),
            extra: format!("p95 {:.1} ms", p95(status_ms)),
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

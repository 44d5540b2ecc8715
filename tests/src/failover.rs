//! One measured failover: kill -9 a node of a settled cluster and split the time until its
//! resources run elsewhere into detection, scheduling, fencing (when on) and agent starts, from
//! the nodes' JSON logs. Used by the failover and seed benchmarks.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::logs::{events, now_ms, operations_done};
use crate::{TestCluster, dc, node_of, settled_with};

/// Milliseconds: kill -> the DC marks the node lost; -> the recovery transition starts; -> the
/// node is fenced (0 with fencing off); -> the last moved resource's start finished.
pub struct Sample {
    pub detect: f64,
    pub schedule: f64,
    pub fence: f64,
    pub start: f64,
}

impl Sample {
    pub fn total(&self) -> f64 {
        self.detect + self.schedule + self.fence + self.start
    }
}

pub fn settle(cluster: &TestCluster, names: &[String], timeout: Duration) -> Result<Value> {
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    cluster.wait_for("resources settled", timeout, |s| settled_with(s, &refs))
}

/// Kills `victim`, waits up to `timeout` for its resources elsewhere, and reads the phases
/// from the logs; also how long the new DC took to be elected when the victim was the DC.
pub fn kill_and_measure(cluster: &mut TestCluster, names: &[String], victim: &str, dc_name: &str, timeout: Duration) -> Result<(Sample, Option<f64>)> {
    let before = cluster.status()?;
    let moved: Vec<String> = names.iter().filter(|r| node_of(&before, r).as_deref() == Some(victim)).cloned().collect();
    if moved.is_empty() {
        bail!("{victim} hosts nothing");
    }
    let t0 = now_ms();
    cluster.kill(victim)?;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let after = cluster.wait_for("the victim's resources elsewhere", timeout, |s| {
        settled_with(s, &refs) && moved.iter().all(|r| node_of(s, r).is_some_and(|n| n != victim))
    })?;
    let new_dc = dc(&after).context("no DC after the kill")?;
    let dc_elected = if victim == dc_name { events(cluster, &new_dc, "became DC", t0).first().map(|(t, _)| t - t0) } else { None };
    let detected = events(cluster, &new_dc, "membership changed", t0).first().map(|(t, _)| *t).context("no membership change logged")?;
    let scheduled = events(cluster, &new_dc, "transition started", detected).first().map(|(t, _)| *t).context("no transition logged")?;
    // The recovery transition fences first when fencing is on; its starts wait for it.
    let fenced = events(cluster, &new_dc, "target fenced", scheduled).first().map_or(scheduled, |(t, _)| *t);
    // Each new host's log is read once, not once per resource.
    let mut done_by_host: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    let mut started: f64 = 0.0;
    for rsc in &moved {
        let host = node_of(&after, rsc).context("moved resource not running")?;
        let done = done_by_host
            .entry(host.clone())
            .or_insert_with(|| operations_done(cluster, &host, t0).into_iter().map(|(t, op)| (op, t)).rev().collect());
        let at = done.get(&format!("{rsc}_start_0")).with_context(|| format!("no start of {rsc} logged on {host}"))?;
        started = started.max(*at);
    }
    Ok((Sample { detect: detected - t0, schedule: scheduled - detected, fence: fenced - scheduled, start: started - fenced }, dc_elected))
}

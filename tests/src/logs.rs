//! Reading the nodes' JSON logs (`Options::json_logs`): benchmarks take their times from the
//! nodes' own timestamps, so polling the cluster adds nothing to a measurement.

use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::TestCluster;

/// The wall clock in Unix milliseconds, comparable with [`parse_timestamp`].
pub fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0
}

/// `2026-11-26T03:50:00.123456Z` -> Unix milliseconds.
pub fn parse_timestamp(ts: &str) -> Option<f64> {
    let (date, time) = ts.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (hh, mm) = (t.next()?.parse::<f64>().ok()?, t.next()?.parse::<f64>().ok()?);
    let ss = t.next()?.parse::<f64>().ok()?;
    let days = atrium_cib::rule::days_from_civil(y, m, day);
    Some(((days as f64 * 86_400.0) + hh * 3600.0 + mm * 60.0 + ss) * 1000.0)
}

/// Log lines of a node at or after `since_ms` whose message is `message`, with their times.
pub fn events(cluster: &TestCluster, node: &str, message: &str, since_ms: f64) -> Vec<(f64, Value)> {
    let dir = &cluster.nodes[cluster.index(node)].dir;
    let text = std::fs::read_to_string(dir.join("atrium.log")).unwrap_or_default();
    // Parse only the lines that can match: a 10,000-resource log has hundreds of thousands.
    let needle = format!("\"message\":\"{message}\"");
    text.lines()
        .filter(|l| l.contains(&needle))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == message)
        .filter_map(|v| Some((parse_timestamp(v["timestamp"].as_str()?)?, v)))
        .filter(|(t, _)| *t >= since_ms)
        .collect()
}

/// When each operation (`RSC_OP_INTERVAL`, e.g. `r7_start_0`) last finished on `node` since
/// `since_ms`, from its "operation done" lines.
pub fn operations_done(cluster: &TestCluster, node: &str, since_ms: f64) -> Vec<(f64, String)> {
    events(cluster, node, "operation done", since_ms)
        .into_iter()
        .filter_map(|(t, v)| Some((t, v["span"]["op"].as_str()?.to_string())))
        .collect()
}

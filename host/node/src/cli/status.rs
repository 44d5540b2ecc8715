//! `atrium status`: the cluster as crm_mon shows it, once or `--watch`ed.

use anyhow::Result;
use clap::Args;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::OutputFormat;
use crate::api::types::{ResourceReport, StatusReport};
use crate::client::Client;

#[derive(Args)]
pub struct StatusArgs {
    /// Redraw every interval until interrupted, like crm_mon.
    #[arg(long, short = 'w')]
    pub watch: bool,
    /// Redraw interval with --watch.
    #[arg(long, default_value = "1s", value_parser = super::parse_duration)]
    pub interval: Duration,
}

pub fn run(args: StatusArgs, data_dir: &Path, output: OutputFormat) -> Result<ExitCode> {
    let client = Client::from_data_dir(data_dir)?;
    super::block_on(async {
        loop {
            let report: StatusReport = client.get("/v1/status").await?;
            let text = match output {
                OutputFormat::Json => serde_json::to_string_pretty(&report)?,
                OutputFormat::Text => render(&report),
            };
            if args.watch {
                // Clear the screen and home the cursor, as crm_mon redraws.
                print!("\x1b[2J\x1b[H{text}");
                if output == OutputFormat::Text {
                    println!();
                }
                tokio::time::sleep(args.interval).await;
            } else {
                println!("{}", text.trim_end());
                return Ok(ExitCode::SUCCESS);
            }
        }
    })
}

pub fn render(r: &StatusReport) -> String {
    let c = &r.cluster;
    let mut out = String::from("Cluster Summary:\n  * Stack: atrium (Raft)\n");
    match &c.dc {
        Some(dc) => {
            let id = r.nodes.iter().find(|n| &n.name == dc).map(|n| n.id.as_str()).unwrap_or("?");
            out.push_str(&format!("  * Current DC: {dc} ({id}) - partition with quorum\n"));
        }
        None => out.push_str("  * Current DC: NONE (partition WITHOUT quorum)\n"),
    }
    out.push_str(&format!("  * Last updated: {} on {}\n", format_time_ms(c.updated_ms), c.answered_by));
    out.push_str(&format!("  * Configuration version: {} (term {})\n", c.epoch, c.term));
    out.push_str(&format!("  * {} nodes configured\n", c.nodes_configured));
    out.push_str(&format!("  * {} resource instances configured\n", c.resource_instances_configured));
    if let Some(t) = &c.transition {
        let n = t.counts;
        let idle = if c.idle { "; cluster idle" } else { "" };
        out.push_str(&format!("  * Transition {}: {} ({} done, {} running, {} pending, {} failed, {} blocked){idle}\n", t.id, t.state, n.done, n.in_flight, n.pending, n.failed, n.blocked));
    }

    out.push_str("\nNode List:\n");
    let mut nodes: Vec<_> = r.nodes.iter().collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    let list = |state: &str, remote: bool| nodes.iter().filter(|n| n.state == state && n.remote == remote).map(|n| n.name.as_str()).collect::<Vec<_>>();
    for (label, state, remote) in [("Online", "online", false), ("OFFLINE", "offline", false), ("RemoteOnline", "online", true), ("RemoteOFFLINE", "offline", true)] {
        let names = list(state, remote);
        if !names.is_empty() {
            out.push_str(&format!("  * {label}: [ {} ]\n", names.join(" ")));
        }
    }
    for n in nodes.iter().filter(|n| !matches!(n.state.as_str(), "online" | "offline")) {
        let state = if n.state == "unclean" { "UNCLEAN".to_string() } else { n.state.clone() };
        let kind = if n.remote { "RemoteNode" } else { "Node" };
        out.push_str(&format!("  * {kind} {}: {state}\n", n.name));
    }

    out.push_str("\nFull List of Resources:\n");
    if r.resources.is_empty() {
        out.push_str("  * No resources\n");
    }
    for rsc in &r.resources {
        render_resource(rsc, 1, &mut out);
    }

    if !r.migration_summary.is_empty() {
        out.push_str("\nMigration Summary:\n");
        let mut by_node: std::collections::BTreeMap<&str, Vec<_>> = std::collections::BTreeMap::new();
        for m in &r.migration_summary {
            by_node.entry(m.node.as_str()).or_default().push(m);
        }
        for (node, entries) in by_node {
            out.push_str(&format!("  * Node: {node}:\n"));
            for m in entries {
                let threshold = m.migration_threshold.as_deref().unwrap_or("1000000");
                let last = m.last_failure.map(|t| format!(" last-failure='{}'", format_time_ms(t as u64 * 1000))).unwrap_or_default();
                out.push_str(&format!("    * {}: migration-threshold={threshold} fail-count={}{last}\n", m.rsc, m.fail_count));
            }
        }
    }
    if !r.failed_actions.is_empty() {
        out.push_str("\nFailed Resource Actions:\n");
        for f in &r.failed_actions {
            let reason = f.exit_reason.as_deref().map(|e| format!(", exitreason='{e}'")).unwrap_or_default();
            let when = f.last_rc_change.map(|t| format!(", last-rc-change='{}'", format_time_ms(t as u64 * 1000))).unwrap_or_default();
            out.push_str(&format!(
                "  * {}_{}_{} on {} '{}' ({}): call={}{reason}{when}\n",
                f.rsc, f.task, f.interval_ms, f.node, f.rc_text, f.rc, f.call_id
            ));
        }
    }
    out
}

fn render_resource(r: &ResourceReport, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    match r {
        ResourceReport::Primitive { id, agent, role, node, managed, disabled, blocked } => {
            let mut flags = Vec::new();
            if *disabled {
                flags.push("disabled");
            }
            if !managed {
                flags.push("unmanaged");
            }
            if *blocked {
                flags.push("blocked");
            }
            let flags = if flags.is_empty() { String::new() } else { format!(" ({})", flags.join(", ")) };
            let role = if role == "Failed" { "FAILED".to_string() } else { role.clone() };
            let at = node.as_deref().map(|n| format!(" {n}")).unwrap_or_default();
            out.push_str(&format!("{pad}* {id}\t({agent}):\t {role}{at}{flags}\n"));
        }
        ResourceReport::Group { id, disabled, members } => {
            let flags = if *disabled { " (disabled)" } else { "" };
            out.push_str(&format!("{pad}* Resource Group: {id}{flags}:\n"));
            for m in members {
                render_resource(m, depth + 1, out);
            }
        }
        ResourceReport::Clone { id, promotable, unique, instances } => {
            let kind = if *promotable { " (promotable)" } else if *unique { " (unique)" } else { "" };
            out.push_str(&format!("{pad}* Clone Set: {id}{kind}:\n"));
            // Instances in the same role are listed together, as crm_mon does.
            let mut by_role: Vec<(String, Vec<String>)> = Vec::new();
            let mut others = Vec::new();
            for i in instances {
                match i {
                    ResourceReport::Primitive { role, node, .. } if role != "Failed" => {
                        let label = if node.is_some() { role.clone() } else { "Stopped".to_string() };
                        let entry = match by_role.iter_mut().find(|(r, _)| *r == label) {
                            Some(e) => e,
                            None => {
                                by_role.push((label, Vec::new()));
                                by_role.last_mut().expect("just pushed")
                            }
                        };
                        entry.1.push(node.clone().unwrap_or_default());
                    }
                    other => others.push(other),
                }
            }
            for o in others {
                render_resource(o, depth + 1, out);
            }
            for (role, nodes) in by_role {
                let mut nodes: Vec<&str> = nodes.iter().map(String::as_str).filter(|n| !n.is_empty()).collect();
                nodes.sort_unstable();
                if role == "Stopped" {
                    out.push_str(&format!("{pad}  * Stopped: {} instance(s)\n", instances.len() - instances.iter().filter(|i| matches!(i, ResourceReport::Primitive { node: Some(_), .. })).count()));
                } else {
                    out.push_str(&format!("{pad}  * {role}: [ {} ]\n", nodes.join(" ")));
                }
            }
        }
    }
}

/// `2026-11-26 03:50:00Z` from Unix milliseconds (UTC).
pub fn format_time_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = atrium_cib::rule::civil_from_days(days as i64);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::{ClusterSummary, NodeReport};

    #[test]
    fn times_are_utc_civil_dates() {
        assert_eq!(format_time_ms(0), "1970-01-01 00:00:00Z");
        assert_eq!(format_time_ms(1_795_664_400_000), "2026-11-26 03:40:00Z");
        assert_eq!(format_time_ms(951_782_400_000), "2000-02-29 00:00:00Z");
    }

    #[test]
    fn renders_crm_mon_sections() {
        let prim = |id: &str, role: &str, node: Option<&str>| ResourceReport::Primitive {
            id: id.into(),
            agent: "wasm:atrium:dummy".into(),
            role: role.into(),
            node: node.map(str::to_string),
            managed: true,
            disabled: false,
            blocked: false,
        };
        let report = StatusReport {
            cluster: ClusterSummary {
                answered_by: "n2".into(),
                dc: Some("n1".into()),
                term: 3,
                quorate: true,
                epoch: 4,
                nodes_configured: 2,
                resource_instances_configured: 4,
                transition: None,
                idle: true,
                updated_ms: 0,
            },
            nodes: vec![
                NodeReport { name: "n1".into(), id: "1".into(), state: "online".into(), dc: true, remote: false },
                NodeReport { name: "n2".into(), id: "2".into(), state: "standby".into(), dc: false, remote: false },
                NodeReport { name: "vm02-remote".into(), id: "".into(), state: "online".into(), dc: false, remote: true },
                NodeReport { name: "vm03-remote".into(), id: "".into(), state: "offline".into(), dc: false, remote: true },
            ],
            resources: vec![
                ResourceReport::Group { id: "g".into(), disabled: false, members: vec![prim("a", "Started", Some("n1")), prim("b", "Failed", Some("n1"))] },
                ResourceReport::Clone { id: "c".into(), promotable: false, unique: false, instances: vec![prim("d:0", "Started", Some("n1")), prim("d:1", "Stopped", None)] },
            ],
            failed_actions: vec![],
            migration_summary: vec![],
        };
        let text = render(&report);
        for want in [
            "Current DC: n1 (1) - partition with quorum",
            "* Online: [ n1 ]",
            "* Node n2: standby",
            "* RemoteOnline: [ vm02-remote ]",
            "* RemoteOFFLINE: [ vm03-remote ]",
            "* Resource Group: g:",
            "    * b\t(wasm:atrium:dummy):\t FAILED n1",
            "* Clone Set: c:",
            "    * Started: [ n1 ]",
            "    * Stopped: 1 instance(s)",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }
}

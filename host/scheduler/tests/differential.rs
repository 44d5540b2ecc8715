//! Differential testing against crm_simulate 2.1.5: random CIBs are run through both
//! `crm_simulate -x FILE -S` and Atrium, and the resulting placements must match; so should the
//! Transition Summary lines.
//! ATRIUM_DIFF_CASES sets the number of cases (default 300).

mod common;

use atrium_cib::Cib;
use atrium_scheduler::simulate::{simulate, SimulateOptions};
use atrium_scheduler::status::{ClusterStatus, ResourceStatus};
use std::collections::BTreeMap;
use std::process::Command;

type Placements = BTreeMap<String, String>;

/// The share of random CIBs (percent) that place exactly as crm_simulate does today (288 of
/// the default 300). The remaining differences are open work; fewer matches is a regression.
const MATCH_PERCENT_THRESHOLD: u64 = 95;
/// The share (percent) whose Transition Summary lines match exactly, in order (277 of 300;
/// the differences are mostly the order of lines under utilization strategies).
const SUMMARY_PERCENT_THRESHOLD: u64 = 92;

/// The whitespace-normalised Transition Summary lines of crm_simulate's output.
fn summary_block(out: &str) -> Vec<String> {
    let block = out.split("Transition Summary:").nth(1).unwrap_or("");
    let block = block.split("Executing Cluster Transition:").next().unwrap_or("");
    normalise(block.lines())
}

fn normalise<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    lines.map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|l| !l.is_empty()).collect()
}

/// Placements from crm_simulate's "Revised Cluster Status" block.
fn parse_crm_simulate(out: &str) -> Placements {
    let mut map = Placements::new();
    let mut clone: Option<String> = None;
    let revised = out.split("Revised Cluster Status:").nth(1).unwrap_or("");
    for line in revised.lines() {
        let t = line.trim();
        let Some(item) = t.strip_prefix("* ") else { continue };
        if let Some(rest) = item.strip_prefix("Clone Set: ") {
            clone = rest.split_whitespace().next().map(str::to_string);
            map.entry(clone.clone().unwrap()).or_default();
        } else if let Some(nodes) = item.strip_prefix("Started: [") {
            let mut ns: Vec<&str> = nodes.trim_end_matches(']').split_whitespace().collect();
            ns.sort();
            map.insert(clone.clone().unwrap_or_default(), ns.join(" "));
        } else if let Some((id, state)) = item.split_once('\t') {
            let state = state.rsplit("):").next().unwrap_or("").trim();
            let node = match state.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["Started", n, ..] => n.to_string(),
                _ => "-".to_string(),
            };
            map.insert(id.trim().to_string(), node);
        }
    }
    map
}

fn atrium_placements(status: &ClusterStatus) -> Placements {
    fn walk(r: &ResourceStatus, map: &mut Placements) {
        match r {
            ResourceStatus::Primitive { id, node, .. } => {
                map.insert(id.clone(), node.clone().unwrap_or_else(|| "-".into()));
            }
            ResourceStatus::Group { members, .. } => members.iter().for_each(|m| walk(m, map)),
            ResourceStatus::Clone { id, instances, .. } => {
                let mut ns: Vec<String> = instances
                    .iter()
                    .filter_map(|i| match i {
                        ResourceStatus::Primitive { node, .. } => node.clone(),
                        _ => None,
                    })
                    .collect();
                ns.sort();
                map.insert(id.clone(), ns.join(" "));
            }
        }
    }
    let mut map = Placements::new();
    status.resources.iter().for_each(|r| walk(r, &mut map));
    map
}

#[test]
fn placements_match_crm_simulate() {
    let crm = which("crm_simulate").expect("crm_simulate (Debian package pacemaker-cli-utils) must be installed for the differential test");
    let cases: u64 = std::env::var("ATRIUM_DIFF_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let dir = tempfile::tempdir().unwrap();
    let now = 1_700_000_100;
    let mut mismatches = Vec::new();
    let mut summary_mismatches = Vec::new();
    for seed in 0..cases {
        let xml = common::cibgen::random_cib(seed);
        let path = dir.path().join(format!("case{seed}.xml"));
        std::fs::write(&path, &xml).unwrap();
        let out = Command::new(&crm).arg("-x").arg(&path).arg("-S").output().expect("run crm_simulate");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let theirs = parse_crm_simulate(&stdout);
        let cib = Cib::from_xml(&xml).unwrap();
        let report = simulate(&cib, &SimulateOptions { now, ..Default::default() }).unwrap();
        let ours = atrium_placements(&report.revised);
        if summary_block(&stdout) != normalise(report.summary_lines().iter().map(String::as_str)) {
            summary_mismatches.push(seed);
        }
        if theirs != ours {
            mismatches.push(seed);
            if mismatches.len() <= 5 {
                eprintln!("seed {seed}:\n  crm_simulate: {theirs:?}\n  atrium:       {ours:?}");
            }
        }
    }
    let matched = cases - mismatches.len() as u64;
    println!("differential: {matched}/{cases} random CIBs place identically to crm_simulate");
    println!("mismatching seeds: {mismatches:?}");
    let summaries = cases - summary_mismatches.len() as u64;
    println!("differential: {summaries}/{cases} Transition Summaries identical; differing seeds: {summary_mismatches:?}");
    assert!(
        summaries * 100 >= cases * SUMMARY_PERCENT_THRESHOLD,
        "only {summaries}/{cases} summaries match (threshold {SUMMARY_PERCENT_THRESHOLD}%)"
    );
    assert!(
        matched * 100 >= cases * MATCH_PERCENT_THRESHOLD,
        "only {matched}/{cases} match (threshold {MATCH_PERCENT_THRESHOLD}%); mismatching seeds: {mismatches:?}"
    );
}

fn which(bin: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| std::path::Path::new(d).join(bin)).find(|p| p.is_file())
}

//! Conformance with Pacemaker's scheduler regression cases: the Transition Summary block of
//! each case, whitespace-normalised, must match `summary/NAME.summary`; so should the current and
//! revised status blocks and the set of executed actions, and the orderings should match
//! `dot/NAME.dot`. The cases are read from the directory named by ATRIUM_PCMK_CASES (GPL
//! data, never copied into this repository).

use atrium_cib::Cib;
use atrium_scheduler::simulate::{simulate, SimulateOptions};
use std::path::PathBuf;

/// The number of cases whose Transition Summary matches today; fewer is a regression.
const PASS_THRESHOLD: usize = 52;
/// The same for the "Current cluster status" block.
const CURRENT_STATUS_THRESHOLD: usize = 52;
/// The same for the "Revised Cluster Status" block.
const REVISED_STATUS_THRESHOLD: usize = 52;
/// Cases whose set of executed actions (the "Executing Cluster Transition" lines, compared as a
/// sorted list since the graph only fixes a partial order) matches.
const ACTIONS_THRESHOLD: usize = 52;
/// Cases whose orderings (the bold "a -> b" lines of `dot/NAME.dot`) match as a set.
const EDGES_THRESHOLD: usize = 52;

fn normalise(lines: &[String]) -> Vec<String> {
    lines.iter().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|l| !l.is_empty()).collect()
}

/// The normalised lines of a block from its heading to the next top-level heading.
fn block(text: &str, heading: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with(heading) {
            inside = true;
            continue;
        }
        // Top-level headings start in column 0 and end with a colon.
        if inside && !line.starts_with(' ') && line.ends_with(':') {
            break;
        }
        if inside {
            out.push(line.to_string());
        }
    }
    normalise(&out)
}

#[test]
fn pacemaker_regression_transition_summaries() {
    let dir = PathBuf::from(std::env::var("ATRIUM_PCMK_CASES").expect(
        "set ATRIUM_PCMK_CASES to the Pacemaker regression cases directory (e.g. ../shared/pcmk-cases)",
    ));
    let names = std::fs::read_to_string(dir.join("CASES.txt")).expect("CASES.txt in ATRIUM_PCMK_CASES");
    // The expected files were generated long after their inputs, so failure timeouts in them
    // have expired: schedule as of now.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let mut passed = 0;
    let mut failed = Vec::new();
    let (mut current_ok, mut revised_ok, mut actions_ok, mut edges_ok) = (0, 0, 0, 0);
    let mut edges_failed = Vec::new();
    let mut actions_failed = Vec::new();
    let mut status_failed = Vec::new();
    let mut total = 0;
    for name in names.split_whitespace() {
        total += 1;
        let xml = std::fs::read_to_string(dir.join("xml").join(format!("{name}.xml"))).unwrap();
        let expected_text = std::fs::read_to_string(dir.join("summary").join(format!("{name}.summary"))).unwrap();
        let expected = block(&expected_text, "Transition Summary:");
        let cib = Cib::from_xml(&xml).unwrap_or_else(|e| panic!("{name}: {e}"));
        let report = simulate(&cib, &SimulateOptions { now, ..Default::default() }).unwrap();
        let got = normalise(&report.summary_lines());
        let text = report.render_text(false);
        let actions = |t: &str| {
            let mut v: Vec<String> = block(t, "Executing Cluster Transition:").into_iter().filter(|l| l.starts_with("* ")).collect();
            v.sort();
            v
        };
        let bold_edges = |dot: &str| -> std::collections::BTreeSet<String> {
            dot.lines().filter(|l| l.contains(" -> ") && l.contains("style = bold")).map(str::to_string).collect()
        };
        let expected_dot = std::fs::read_to_string(dir.join("dot").join(format!("{name}.dot"))).unwrap();
        let schedule = atrium_scheduler::schedule(&cib, now);
        if bold_edges(&schedule.graph.to_dot()) == bold_edges(&expected_dot) {
            edges_ok += 1;
        } else {
            edges_failed.push(name.to_string());
        }
        if actions(&text) == actions(&expected_text) {
            actions_ok += 1;
        } else {
            actions_failed.push(name.to_string());
        }
        for (heading, count) in [("Current cluster status:", &mut current_ok), ("Revised Cluster Status:", &mut revised_ok)] {
            if block(&text, heading) == block(&expected_text, heading) {
                *count += 1;
            } else {
                status_failed.push(format!("{name} ({heading})"));
            }
        }
        if got == expected {
            passed += 1;
        } else {
            eprintln!("--- {name}\n  expected:\n    {}\n  got:\n    {}", expected.join("\n    "), got.join("\n    "));
            failed.push(name.to_string());
        }
    }
    println!("pcmk conformance: {passed}/{total} transition summaries match");
    if !failed.is_empty() {
        println!("failing: {}", failed.join(" "));
    }
    println!("status blocks: current {current_ok}/{total}, revised {revised_ok}/{total}; differing: {status_failed:?}");
    println!("executed actions: {actions_ok}/{total}; differing: {actions_failed:?}");
    println!("orderings (dot edges): {edges_ok}/{total}; differing: {edges_failed:?}");
    assert!(passed >= PASS_THRESHOLD, "only {passed} cases pass, fewer than {PASS_THRESHOLD}; failing: {failed:?}");
    assert!(edges_ok >= EDGES_THRESHOLD, "only {edges_ok} ordering sets match (want {EDGES_THRESHOLD}); differing: {edges_failed:?}");
    assert!(actions_ok >= ACTIONS_THRESHOLD, "only {actions_ok} action sets match (want {ACTIONS_THRESHOLD}); differing: {actions_failed:?}");
    assert!(
        current_ok >= CURRENT_STATUS_THRESHOLD && revised_ok >= REVISED_STATUS_THRESHOLD,
        "status blocks regressed: current {current_ok} (want {CURRENT_STATUS_THRESHOLD}), revised {revised_ok} (want {REVISED_STATUS_THRESHOLD}); differing: {status_failed:?}"
    );
}

//! Meta-data of every installed agent parses: every OCF agent under /usr/lib/ocf and every
//! fence agent in /usr/sbin. Agents that fail to print meta-data themselves are listed with
//! their reason; a parse failure of output an agent did print fails the test.

mod common;

use atrium_contract::{AgentAddress, AgentError, MetaData};
use atrium_ocf_shim::parse_meta_data;
use common::TestShim;
use std::sync::Mutex;

enum Outcome {
    Parsed,
    AgentFailed(String),
    ParseFailed(String),
}

/// Runs `fetch` for every agent on a few threads (python fence agents take a while each).
fn survey(
    agents: &[AgentAddress],
    fetch: impl Fn(&AgentAddress) -> Result<String, AgentError> + Sync,
) -> Vec<(String, Outcome)> {
    let next = Mutex::new(agents.iter());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                while let Some(a) = { next.lock().unwrap().next() } {
                    let outcome = match fetch(a) {
                        Err(e) => Outcome::AgentFailed(e.to_string()),
                        Ok(xml) => match parse_meta_data(&a.to_string(), &xml) {
                            Err(e) => Outcome::ParseFailed(e.to_string()),
                            Ok(md) => match consistent(&md, &xml) {
                                Ok(()) => Outcome::Parsed,
                                Err(e) => Outcome::ParseFailed(format!("{a}: {e}")),
                            },
                        },
                    };
                    results.lock().unwrap().push((a.to_string(), outcome));
                }
            });
        }
    });
    let mut r = results.into_inner().unwrap();
    r.sort_by(|a, b| a.0.cmp(&b.0));
    r
}

/// Cross-checks the parse against a plain count of the tags in the text.
fn consistent(md: &MetaData, xml: &str) -> Result<(), String> {
    let lower = xml.to_ascii_lowercase();
    let count = |tag: &str| lower.matches(&format!("<{tag} ")).count() + lower.matches(&format!("<{tag}>")).count();
    if md.parameters.len() != count("parameter") {
        return Err(format!("{} parameters parsed, {} <parameter> tags", md.parameters.len(), count("parameter")));
    }
    if md.actions.len() != count("action") {
        return Err(format!("{} actions parsed, {} <action> tags", md.actions.len(), count("action")));
    }
    if md.name.is_empty() {
        return Err("empty name".into());
    }
    Ok(())
}

fn report(kind: &str, results: &[(String, Outcome)]) {
    let parsed = results.iter().filter(|(_, o)| matches!(o, Outcome::Parsed)).count();
    println!("{kind}: {} agents, {parsed} meta-data parsed", results.len());
    for (a, o) in results {
        match o {
            Outcome::AgentFailed(why) => println!("  {a}: agent did not print meta-data: {why}"),
            Outcome::ParseFailed(why) => println!("  {a}: PARSE FAILURE: {why}"),
            Outcome::Parsed => {}
        }
    }
    let failures: Vec<&String> =
        results.iter().filter(|(_, o)| matches!(o, Outcome::ParseFailed(_))).map(|(a, _)| a).collect();
    assert!(failures.is_empty(), "{kind}: meta-data that did not parse: {failures:?}");
    assert!(parsed > 0, "{kind}: no agents installed?");
}

#[test]
fn every_installed_ocf_agent_meta_data_parses() {
    let t = TestShim::system();
    let agents = atrium_ocf_shim::list_ocf_agents(&t.shim.config().ocf_root).unwrap();
    let results = survey(&agents, |a| t.shim.resource_agent(a).unwrap().meta_data_xml());
    report("OCF", &results);
}

#[test]
fn every_installed_fence_agent_metadata_parses() {
    let t = TestShim::system();
    let agents = atrium_ocf_shim::list_fence_agents(&t.shim.config().fence_dir).unwrap();
    let results = survey(&agents, |a| t.shim.fence_agent(a).unwrap().meta_data_xml());
    report("fence", &results);
}

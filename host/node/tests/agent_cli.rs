//! `atrium agent ...` as a user runs it: exit codes are OCF codes, so a cycle is scriptable;
//! the OCF wrapper makes WASM agents (and OCF scripts through the shim) pass ocf-tester.

use std::path::Path;
use std::process::{Command, Output};

fn atrium(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atrium"))
        .args(args)
        .current_dir(dir)
        .env_remove("ATRIUM_DATA_DIR")
        .output()
        .expect("atrium runs")
}

fn rc(dir: &Path, args: &[&str]) -> i32 {
    let out = atrium(dir, args);
    out.status.code().unwrap_or_else(|| panic!("atrium {args:?} died: {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn dummy_cycle_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cycle: &[(&[&str], i32)] = &[
        (&["agent", "run", "dummy", "monitor"], 7),
        (&["agent", "run", "dummy", "start"], 0),
        (&["agent", "run", "dummy", "monitor", "--interval", "10s"], 0),
        (&["agent", "run", "dummy", "start"], 0),
        (&["agent", "run", "dummy", "stop"], 0),
        (&["agent", "run", "dummy", "monitor", "--interval", "10s"], 7),
        (&["agent", "run", "dummy", "stop"], 0),
        (&["agent", "run", "dummy", "frobnicate"], 3),
    ];
    for (args, want) in cycle {
        assert_eq!(rc(d, args), *want, "atrium {args:?}");
    }
    let out = atrium(d, &["agent", "run", "dummy", "start", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["rc"].as_i64(), v["status"].as_str()), (Some(0), Some("success")));
}

#[test]
fn stateful_promote_demote_cycle_sets_promotion_scores() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |action: &str, extra: &[&str]| {
        let mut args = vec!["agent", "run", "stateful", action, "--node", "n1", "--instance", "st:0"];
        args.extend_from_slice(extra);
        rc(d, &args)
    };
    let score = || {
        let text = std::fs::read_to_string(d.join(".atrium/node-attributes.json")).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        v["n1"]["master-st"].as_str().map(str::to_string)
    };
    assert_eq!(run("start", &[]), 0);
    assert_eq!(score().as_deref(), Some("5"));
    assert_eq!(run("promote", &[]), 0);
    assert_eq!(run("monitor", &["--interval", "10s"]), 8);
    assert_eq!(score().as_deref(), Some("10"));
    assert_eq!(run("demote", &[]), 0);
    assert_eq!(run("monitor", &["--interval", "11s"]), 0);
    assert_eq!(run("stop", &[]), 0);
    assert_eq!(score(), None);
    assert_eq!(run("monitor", &[]), 7);
}

#[test]
fn ocf_script_through_the_shim_and_unknown_actions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = format!("state={}", d.join("dummy.state").display());
    let run = |action: &str| rc(d, &["agent", "run", "ocf:heartbeat:Dummy", action, "-p", &state]);
    assert_eq!(run("monitor"), 7);
    assert_eq!(run("start"), 0);
    assert_eq!(run("monitor"), 0);
    assert_eq!(run("stop"), 0);
    assert_eq!(run("frobnicate"), 3);
}

#[test]
fn list_shows_both_kinds_and_meta_data_validates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = atrium(d, &["agent", "list", "--output", "json"]);
    let all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = all.iter().filter_map(|a| a["agent"].as_str()).collect();
    for want in ["wasm:atrium:dummy", "wasm:atrium:stateful", "ocf:heartbeat:Dummy", "ocf:pacemaker:Stateful"] {
        assert!(names.contains(&want), "{want} missing from agent list");
    }
    let rng = concat!(env!("CARGO_MANIFEST_DIR"), "/../contract/ocf-1.1.rng");
    for agent in ["dummy", "stateful", "ocf:heartbeat:Dummy"] {
        let xml = atrium(d, &["agent", "meta-data", agent]);
        assert!(xml.status.success(), "{agent}");
        let file = d.join("md.xml");
        std::fs::write(&file, &xml.stdout).unwrap();
        let lint = Command::new("xmllint").args(["--noout", "--relaxng", rng]).arg(&file).output().expect("xmllint installed");
        assert!(lint.status.success(), "{agent}: {}", String::from_utf8_lossy(&lint.stderr));
    }
}

fn ocf_tester(dir: &Path, agent: &str, params: &[&str]) {
    let wrapper = dir.join(agent.replace(':', "_"));
    // ocf-tester also runs the agent as `nobody`, who may not reach the build directory (under
    // /root, say): the wrapper runs a link to the binary in the test's own folder.
    let exe = dir.join("atrium");
    if !exe.exists() {
        std::fs::hard_link(env!("CARGO_BIN_EXE_atrium"), &exe).or_else(|_| std::fs::copy(env!("CARGO_BIN_EXE_atrium"), &exe).map(drop)).unwrap();
    }
    let installed = Command::new(&exe).current_dir(dir).args(["agent", "ocf-wrap", agent, "--install", wrapper.to_str().unwrap()]).status().unwrap();
    assert!(installed.success());
    let mut cmd = Command::new("ocf-tester");
    cmd.args(["-n", "t"]);
    for p in params {
        cmd.args(["-o", p]);
    }
    let out = cmd.arg(&wrapper).current_dir(dir).output().expect("ocf-tester (Debian resource-agents) installed");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("passed all tests"), "ocf-tester on {agent}:\n{text}");
}

#[test]
fn ocf_tester_passes_on_wrapped_wasm_agents() {
    let dir = tempfile::tempdir().unwrap();
    // ocf-tester also runs the agent as `nobody`: let that user read the wrapper's folder.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    ocf_tester(dir.path(), "dummy", &[]);
    ocf_tester(dir.path(), "stateful", &[]);
}

#[test]
fn ocf_tester_passes_on_heartbeat_dummy_through_the_shim() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let state = format!("state={}", dir.path().join("hb.state").display());
    ocf_tester(dir.path(), "ocf:heartbeat:Dummy", &[&state]);
}

#[test]
fn agents_that_cannot_run_answer_with_ocf_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(rc(d, &["agent", "run", "no-such-agent", "monitor"]), 5, "unknown WASM agent: not installed");
    assert_eq!(rc(d, &["agent", "run", "ocf:heartbeat:NoSuchAgent", "monitor"]), 5, "missing script: not installed");
    let out = Command::new(env!("CARGO_BIN_EXE_atrium"))
        .args(["agent", "run", "dummy", "monitor", "--ocf-env"])
        .current_dir(d)
        .env("OCF_RESOURCE_INSTANCE", "d1")
        .env("OCF_RESKEY_CRM_meta_interval", "soon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a bad OCF environment is invalid arguments");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ocf-exit-reason:"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn builtin_fence_agents_run_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fence = |action: &str, extra: &[&str]| {
        let mut args = vec!["agent", "run", "stonith:fence-dummy", action, "--plug", "node2"];
        args.extend_from_slice(extra);
        rc(d, &args)
    };
    // fence-agents exit codes: status 0 = on, 2 = off; errors 1.
    assert_eq!(fence("status", &[]), 0);
    assert_eq!(fence("off", &[]), 0);
    assert_eq!(fence("status", &[]), 2, "the power state is kept per device between runs");
    assert_eq!(fence("reboot", &["-p", "mode=fail"]), 1);
    assert_eq!(fence("on", &["--instance", "other-device"]), 0);
    assert_eq!(fence("status", &[]), 2, "another device's on did not touch this one");
    let out = atrium(d, &["agent", "run", "stonith:fence-dummy", "off", "--plug", "n1", "-p", "mode=hang", "--timeout", "300ms"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(text.contains("off n1 timed out after 300 ms"), "{text}");
    let out = atrium(d, &["agent", "run", "stonith:fence-dummy", "off"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("off needs the target: --plug NAME"), "{out:?}");

    let list = String::from_utf8_lossy(&atrium(d, &["agent", "list"]).stdout).to_string();
    for name in ["stonith:fence-dummy", "stonith:fence-process", "stonith:stonith-helper", "wasm:atrium:dummy"] {
        assert!(list.lines().any(|l| l == name), "{name} not in:\n{list}");
    }
    // The seed's name for the helper resolves to the built-in agent.
    let md = atrium(d, &["agent", "meta-data", "stonith:external/stonith-helper", "--grant", "exec:ping"]);
    assert!(md.status.success(), "{md:?}");
    assert!(String::from_utf8_lossy(&md.stdout).contains("dead_check_target"));
    // Exec-using fence agents need the administrator's grant.
    let out = atrium(d, &["agent", "run", "stonith:fence-process", "status", "--plug", "n1", "-p", "match=x-{plug}"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("capability 'exec'") && text.contains("not granted"), "{text}");
    let granted = ["agent", "run", "stonith:fence-process", "status", "--plug", "n1", "-p", "match=atrium-no-such-process-{plug}"];
    assert_eq!(rc(d, &[&granted[..], &["--grant", "exec:pgrep", "--grant", "exec:pkill"]].concat()), 2);
}

//! The WASM docker agent against the real Docker Engine: its start/monitor/stop/probe cycle,
//! a container killed behind the cluster's back, failover between two nodes, the same cycle
//! through Debian's ocf:heartbeat:docker for comparison, ocf-tester, and the sandbox.

use anyhow::{Context, Result};
use std::time::Duration;

use atrium_tests::agent_cli::AgentCli;
use atrium_tests::docker::{self, GRANT};
use atrium_tests::{Options, TestCluster, node_of, settled_with};

const SETTLE: Duration = Duration::from_secs(60);

/// A container name unique to this test run.
fn unique(prefix: &str) -> String {
    format!("atrium-t-{prefix}-{}", std::process::id())
}

fn params(image: &str, name: &str) -> Vec<String> {
    vec![format!("image={image}"), format!("name={name}")]
}

/// start, monitor, probe, a kill behind the agent's back, stop, probe: the exit codes the
/// OCF agent gives, for `agent` with `grants`.
fn cycle(cli: &AgentCli, agent: &str, grants: &[&str], name: &str, image: &str) -> Result<()> {
    let p = params(image, name);
    let rc = |action: &str, interval: &str| -> Result<(i32, String)> {
        let r = cli.action(agent, action, &p, grants, &["--interval", interval, "--timeout", "30s"])?;
        Ok((r.rc, r.text))
    };
    assert_eq!(rc("monitor", "0")?.0, 7, "probe of a missing container");
    let (start, text) = rc("start", "0")?;
    assert_eq!(start, 0, "start: {text}");
    assert!(docker::running(name), "the engine does not run {name}");
    assert_eq!(rc("monitor", "10s")?.0, 0);
    assert_eq!(rc("start", "0")?.0, 0, "start is idempotent");
    docker::docker(&["kill", name])?;
    let (after_kill, text) = rc("monitor", "10s")?;
    assert_eq!(after_kill, 7, "monitor after a kill behind its back: {text}");
    assert_eq!(rc("start", "0")?.0, 0, "start replaces the dead container");
    assert!(docker::running(name));
    let (stop, text) = rc("stop", "0")?;
    assert_eq!(stop, 0, "stop: {text}");
    assert!(!docker::exists(name), "stop removes the container");
    assert_eq!(rc("stop", "0")?.0, 0, "stop is idempotent");
    assert_eq!(rc("monitor", "0")?.0, 7);
    Ok(())
}

/// Runs `test` with the test image and a container name of its own, removed before and
/// after; skips (saying so) when there is no Docker Engine.
fn with_container(prefix: &str, test: impl FnOnce(&str, &str) -> Result<()>) -> Result<()> {
    if docker::engine()?.is_none() {
        return Ok(());
    }
    let image = docker::ensure_test_image()?;
    let name = unique(prefix);
    docker::remove(&name);
    let result = test(image, &name);
    docker::remove(&name);
    result
}

#[test]
fn wasm_docker_cycle_against_the_engine() -> Result<()> {
    with_container("wasm", |image, name| cycle(&AgentCli::new()?, "wasm:atrium:docker", &[GRANT], name, image))
}

#[test]
fn ocf_heartbeat_docker_cycle_through_the_shim() -> Result<()> {
    with_container("ocf", |image, name| cycle(&AgentCli::new()?, "ocf:heartbeat:docker", &[], name, image))
}

#[test]
fn monitor_cmd_runs_inside_and_reuse_keeps_the_container() -> Result<()> {
    with_container("cmd", |image, name| {
    let name = name.to_string();
    let cli = AgentCli::new()?;
    let run = |action: &str, extra: &[&str]| -> Result<(i32, String)> {
        let mut p = params(image, &name);
        p.extend(extra.iter().map(|s| s.to_string()));
        p.push("reuse=true".into());
        let r = cli.action("wasm:atrium:docker", action, &p, &[GRANT], &["--interval", "10s"])?;
        Ok((r.rc, r.text))
    };
    let outcome = (|| -> Result<()> {
        assert_eq!(run("start", &["run_opts=-e GREETING=hello"])?.0, 0);
        let env = docker::docker(&["inspect", "--format", "{{json .Config.Env}}", &name])?;
        assert!(env.contains("GREETING=hello"), "{env}");
        assert_eq!(run("monitor", &["monitor_cmd=/bin/true"])?.0, 0);
        let (rc, text) = run("monitor", &["monitor_cmd=/bin/false"])?;
        assert_eq!(rc, 1, "{text}");
        assert!(text.contains("monitor_cmd '/bin/false' exited with 1"), "{text}");
        let id = docker::docker(&["inspect", "--format", "{{.Id}}", &name])?;
        assert_eq!(run("stop", &[])?.0, 0);
        assert!(docker::exists(&name) && !docker::running(&name), "reuse keeps the stopped container");
        assert_eq!(run("start", &[])?.0, 0);
        assert_eq!(docker::docker(&["inspect", "--format", "{{.Id}}", &name])?, id, "reuse starts the same container");
        let (rc, text) = run("start", &["run_opts=--env-file /etc/passwd"])?;
        assert_eq!(rc, 6, "{text}");
        assert!(text.contains("run_opts: --env-file is not supported"), "{text}");
        Ok(())
    })();
    outcome
    })
}

#[test]
fn sandbox_denies_the_socket_with_clear_errors() -> Result<()> {
    let cli = AgentCli::new()?;
    let p = params("whatever", "atrium-t-denied");
    // No grant at all: the agent does not load.
    let r = cli.action("wasm:atrium:docker", "monitor", &p, &[], &[])?;
    assert_eq!(r.rc, 6, "{}", r.text);
    assert!(r.text.contains("imports capability 'http' but it is not granted") && r.text.contains("unix:///var/run/docker.sock"), "{}", r.text);
    // HTTP granted, but to another socket: the request itself is refused, naming both.
    let r = cli.action("wasm:atrium:docker", "monitor", &p, &["http:unix:///run/other.sock"], &[])?;
    assert_eq!(r.rc, 1, "{}", r.text);
    assert!(r.text.contains("http to unix:///var/run/docker.sock denied: not on this agent's allowlist [unix:///run/other.sock]"), "{}", r.text);
    // `agent info` shows what it asks for and what is missing.
    let info = cli.run(&["agent", "info", "docker"])?;
    assert_eq!(info.rc, 1);
    assert!(info.text.contains("http:      unix:///var/run/docker.sock") && info.text.contains("NOT GRANTED: http"), "{}", info.text);
    let info = cli.run(&["agent", "info", "docker", "--grant", GRANT])?;
    assert_eq!(info.rc, 0, "{}", info.text);
    Ok(())
}

#[test]
fn ocf_tester_passes_on_the_wasm_docker_agent() -> Result<()> {
    with_container("tester", |image, name| {
        let (passed, text) = AgentCli::new()?.ocf_tester("wasm:atrium:docker", &[GRANT], &params(image, name))?;
        assert!(passed, "{text}");
        Ok(())
    })
}

/// Two nodes, the grant in node.toml: a container killed behind the cluster's back is
/// recovered in place, and standby moves it to the other node.
#[test]
fn docker_resource_recovers_and_fails_over_between_two_nodes() -> Result<()> {
    if docker::engine()?.is_none() {
        return Ok(());
    }
    let image = docker::ensure_test_image()?;
    let name = unique("cluster");
    docker::remove(&name);
    let mut options = Options::nodes(2);
    options.extra_toml = format!("[grants]\n\"wasm:atrium:docker\" = [\"{GRANT}\"]\n");
    let cluster = TestCluster::start_online(options, SETTLE)?;
    let outcome = (|| -> Result<()> {
        cluster.load(&format!(
            "property cib-bootstrap-options: stonith-enabled=false no-quorum-policy=ignore\n\
             primitive ct wasm:atrium:docker params image={image} name={name} \\\n  \
             op monitor interval=1s timeout=20s op start timeout=30s op stop timeout=30s\n"
        ))?;
        let s = cluster.wait_for("ct started", SETTLE, |s| settled_with(s, &["ct"]))?;
        let first = node_of(&s, "ct").context("ct not running")?;
        assert!(docker::running(&name));
        let started_at = docker::docker(&["inspect", "--format", "{{.State.StartedAt}}", &name])?;
        docker::docker(&["kill", &name])?;
        cluster.wait_for("ct recovered after the kill", SETTLE, |s| {
            settled_with(s, &["ct"]) && docker::running(&name) && docker::docker(&["inspect", "--format", "{{.State.StartedAt}}", &name]).is_ok_and(|t| t != started_at)
        })?;
        let failed = cluster.status()?["failed_actions"].to_string();
        assert!(failed.contains("monitor"), "the kill shows as a failed monitor: {failed}");
        cluster.atrium_ok(&["node", "standby", &first])?;
        let moved = cluster.wait_for("ct on the other node", SETTLE, |s| node_of(s, "ct").is_some_and(|n| n != first) && settled_with(s, &["ct"]))?;
        assert!(docker::running(&name), "the container runs after the failover");
        assert_ne!(node_of(&moved, "ct"), Some(first));
        Ok(())
    })();
    let logs = if outcome.is_err() { cluster.logs() } else { String::new() };
    drop(cluster);
    docker::remove(&name);
    outcome.with_context(|| logs)
}

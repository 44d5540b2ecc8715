//! The WASM virtual-domain agent against libvirt's test driver (a private libvirtd without a
//! hypervisor): start/monitor/stop, a forced stop after the shutdown timeout, migration
//! driven by the cluster, ocf-tester, and the exec sandbox.

use anyhow::{Context, Result};
use std::time::{Duration, Instant};

use atrium_tests::agent_cli::AgentCli;
use atrium_tests::libvirt::{Libvirtd, uri_for, write_domain_xml};
use atrium_tests::{Options, TestCluster, node_of, settled_with};

const SETTLE: Duration = Duration::from_secs(60);
const AGENT: &str = "wasm:atrium:virtual-domain";
const GRANT: &str = "exec:virsh";

fn params(lv: &Libvirtd, config: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let mut p = vec![format!("hypervisor={}", lv.uri), format!("config={}", config.display()), "domain=vd1".to_string()];
    p.extend(extra.iter().map(|s| s.to_string()));
    p
}

#[test]
fn start_monitor_stop_against_the_test_driver() -> Result<()> {
    let cli = AgentCli::new()?;
    let lv = Libvirtd::start(&cli.dir.path().join("libvirt"))?;
    let xml = cli.dir.path().join("vd1.xml");
    write_domain_xml(&xml, "vd1", false)?;
    let p = params(&lv, &xml, &[]);
    let rc = |action: &str, interval: &str| cli.action(AGENT, action, &p, &[GRANT], &["--interval", interval]).map(|r| (r.rc, r.text));
    assert_eq!(rc("validate-all", "0")?.0, 0);
    assert_eq!(rc("monitor", "0")?.0, 7, "probe before start");
    let (start, text) = rc("start", "0")?;
    assert_eq!(start, 0, "{text}");
    assert_eq!(lv.domstate("vd1")?.as_deref(), Some("running"));
    assert_eq!(rc("monitor", "10s")?.0, 0);
    assert_eq!(rc("start", "0")?.0, 0, "start is idempotent");
    // Destroyed behind the agent's back: monitor sees it.
    assert!(lv.virsh(&["destroy", "vd1"])?.status.success());
    assert_eq!(rc("monitor", "10s")?.0, 7);
    assert_eq!(rc("start", "0")?.0, 0);
    let (stop, text) = rc("stop", "0")?;
    assert_eq!(stop, 0, "{text}");
    assert_eq!(lv.domstate("vd1")?, None, "a stopped transient domain is gone");
    assert_eq!(rc("stop", "0")?.0, 0, "stop is idempotent");
    // A config defining another name than the resource expects is refused.
    let other = cli.dir.path().join("other.xml");
    write_domain_xml(&other, "other", false)?;
    let r = cli.action(AGENT, "start", &params(&lv, &other, &[]), &[GRANT], &[])?;
    assert_eq!(r.rc, 6, "{}", r.text);
    assert!(r.text.contains("defines domain 'other', not 'vd1'"), "{}", r.text);
    assert_eq!(lv.domstate("other")?, None, "the wrong domain is not left running");
    Ok(())
}

#[test]
fn stop_destroys_a_guest_that_ignores_shutdown_after_the_timeout() -> Result<()> {
    let cli = AgentCli::new()?;
    let lv = Libvirtd::start(&cli.dir.path().join("libvirt"))?;
    let xml = cli.dir.path().join("vd1.xml");
    write_domain_xml(&xml, "vd1", true)?;
    let p = params(&lv, &xml, &[]);
    assert_eq!(cli.action(AGENT, "start", &p, &[GRANT], &[])?.rc, 0);
    let began = Instant::now();
    let r = cli.action(AGENT, "stop", &p, &[GRANT], &["--timeout", "8s"])?;
    let took = began.elapsed();
    assert_eq!(r.rc, 0, "{}", r.text);
    assert_eq!(lv.domstate("vd1")?, None);
    // It waited for the guest (timeout less the 5 s kept for destroy) before destroying it.
    assert!(took >= Duration::from_secs(3), "stop destroyed at once ({took:?})");
    // force_stop skips the graceful part.
    assert_eq!(cli.action(AGENT, "start", &p, &[GRANT], &[])?.rc, 0);
    let began = Instant::now();
    let forced = params(&lv, &xml, &["force_stop=true"]);
    assert_eq!(cli.action(AGENT, "stop", &forced, &[GRANT], &["--timeout", "8s"])?.rc, 0);
    assert!(began.elapsed() < Duration::from_secs(3), "force_stop still waited");
    assert_eq!(lv.domstate("vd1")?, None);
    Ok(())
}

/// libvirt's test driver implements no migration at all (virDomainMigrate3 and p2p are
/// unsupported): a live migrate_to reports libvirt's own error.
#[test]
fn live_migration_on_the_test_driver_reports_libvirts_refusal() -> Result<()> {
    let cli = AgentCli::new()?;
    let a = Libvirtd::start(&cli.dir.path().join("a"))?;
    let b = Libvirtd::start(&cli.dir.path().join("b"))?;
    let xml = cli.dir.path().join("vd1.xml");
    write_domain_xml(&xml, "vd1", false)?;
    let p = params(&a, &xml, &[&format!("remoteuri={}", b.uri)]);
    assert_eq!(cli.action(AGENT, "start", &p, &[GRANT], &[])?.rc, 0);
    let r = cli.action(AGENT, "migrate_to", &p, &[GRANT], &["--peer", "n2"])?;
    assert_eq!(r.rc, 1, "{}", r.text);
    assert!(r.text.contains("not supported by the connection driver"), "{}", r.text);
    assert_eq!(a.domstate("vd1")?.as_deref(), Some("running"), "a failed migration leaves the domain where it was");
    Ok(())
}

#[test]
fn sandbox_refuses_commands_outside_the_allowlist() -> Result<()> {
    let cli = AgentCli::new()?;
    let lv = Libvirtd::start(&cli.dir.path().join("libvirt"))?;
    let xml = cli.dir.path().join("vd1.xml");
    write_domain_xml(&xml, "vd1", false)?;
    // No exec grant: the agent does not load.
    let r = cli.action(AGENT, "monitor", &params(&lv, &xml, &[]), &[], &[])?;
    assert_eq!(r.rc, 6, "{}", r.text);
    assert!(r.text.contains("imports capability 'exec' but it is not granted") && r.text.contains("virsh"), "{}", r.text);
    // virsh granted; a monitor script that is not: the domain runs, the script is refused.
    let p = params(&lv, &xml, &["monitor_scripts=/bin/true"]);
    assert_eq!(cli.action(AGENT, "start", &p[..3], &[GRANT], &[])?.rc, 0);
    let r = cli.action(AGENT, "monitor", &p, &[GRANT], &["--interval", "10s"])?;
    assert_eq!(r.rc, 1, "{}", r.text);
    assert!(r.text.contains("exec of '/bin/true' denied: not on this agent's allowlist [virsh]"), "{}", r.text);
    let r = cli.action(AGENT, "monitor", &p, &[GRANT, "exec:/bin/true"], &["--interval", "10s"])?;
    assert_eq!(r.rc, 0, "granted, the script runs: {}", r.text);
    Ok(())
}

#[test]
fn ocf_tester_passes_on_the_wasm_virtual_domain_agent() -> Result<()> {
    let cli = AgentCli::new()?;
    let lv = Libvirtd::start(&cli.dir.path().join("libvirt"))?;
    let xml = cli.dir.path().join("vd1.xml");
    write_domain_xml(&xml, "vd1", false)?;
    // ocf-tester's migrate_to has no target and must not hang; its result is not asserted.
    let (passed, text) = cli.ocf_tester(AGENT, &[GRANT], &params(&lv, &xml, &[]))?;
    assert!(passed, "{text}");
    Ok(())
}

/// Two nodes with a hypervisor each; allow-migrate=true: moving the domain is a Migrate in
/// the transition (migrate_to on the source, migrate_from on the target, no start there),
/// through a state file both nodes share (the test driver has no live migration).
#[test]
fn the_cluster_migrates_a_domain_between_two_nodes() -> Result<()> {
    let work = tempfile::Builder::new().prefix("atrium-vd-").tempdir()?;
    let n1 = Libvirtd::start(&work.path().join("node1"))?;
    let n2 = Libvirtd::start(&work.path().join("node2"))?;
    let shared = work.path().join("shared");
    std::fs::create_dir_all(&shared)?;
    let xml = work.path().join("vd1.xml");
    write_domain_xml(&xml, "vd1", false)?;
    let mut options = Options::nodes(2);
    options.extra_toml = format!("[grants]\n\"{AGENT}\" = [\"{GRANT}\"]\n");
    let cluster = TestCluster::start_online(options, SETTLE)?;
    let hypervisor = uri_for(&work.path().join("%n"));
    let outcome = (|| -> Result<()> {
        cluster.load(&format!(
            "property cib-bootstrap-options: stonith-enabled=false no-quorum-policy=ignore\n\
             primitive vd1 {AGENT} params config={} hypervisor=\"{hypervisor}\" migration_method=save migration_state_dir={} \\\n  \
             op monitor interval=2s timeout=20s meta allow-migrate=true\n\
             location vd1-on-node1 vd1 100: node1\n",
            xml.display(),
            shared.display()
        ))?;
        cluster.wait_for("vd1 on node1", SETTLE, |s| node_of(s, "vd1").as_deref() == Some("node1") && settled_with(s, &["vd1"]))?;
        assert_eq!(n1.domstate("vd1")?.as_deref(), Some("running"));
        assert_eq!(n2.domstate("vd1")?, None);
        cluster.atrium_ok(&["resource", "move", "vd1", "node2"])?;
        cluster.wait_for("vd1 on node2", SETTLE, |s| node_of(s, "vd1").as_deref() == Some("node2") && settled_with(s, &["vd1"]))?;
        assert_eq!(n2.domstate("vd1")?.as_deref(), Some("running"), "the domain runs on node2's hypervisor");
        assert_eq!(n1.domstate("vd1")?, None, "and no longer on node1's");
        let log2 = std::fs::read_to_string(cluster.nodes[1].dir.join("stderr.log"))?;
        let log1 = std::fs::read_to_string(cluster.nodes[0].dir.join("stderr.log"))?;
        assert!(log1.contains("vd1_migrate_to_0"), "node1 ran migrate_to");
        assert!(log2.contains("vd1_migrate_from_0"), "node2 ran migrate_from");
        assert!(!log2.contains("vd1_start_0"), "node2 never started vd1: it was migrated");
        let failed = cluster.status()?["failed_actions"].clone();
        assert!(failed.as_array().is_some_and(|f| f.is_empty()), "{failed}");
        Ok(())
    })();
    outcome.with_context(|| cluster.logs())
}

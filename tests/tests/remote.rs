//! Remote nodes with real processes: one full node and one `atrium remote run` process, the
//! seed's Pacemaker Remote demo (Host-rsc1 on the full node, Remote-rsc1 on the remote by a
//! location rule), a killed remote recovered and a restarted one back online; and the remote
//! daemon refusing a wrong key, tampered frames and replays.

use anyhow::Result;
use std::time::Duration;

use atrium_tests::remote::{Mangle, Mitm, TestRemote};
use atrium_tests::{Options, TestCluster, node_of, settled_with};

const SETTLE: Duration = Duration::from_secs(60);

/// examples/seed-remote.crm with this cluster's node name and the remote's loopback port.
fn seed_demo(server: &str) -> String {
    format!(
        r#"node node1
property stonith-enabled=false
primitive vm02-remote ocf:pacemaker:remote \
    params server="{server}" \
    op monitor interval=3 timeout=15
primitive Host-rsc1 Dummy \
    op start interval=0s timeout=60s \
    op monitor interval=30s timeout=60s \
    op stop interval=0s timeout=60s
primitive Remote-rsc1 Dummy \
    op start interval=0s timeout=60s \
    op monitor interval=30s timeout=60s \
    op stop interval=0s timeout=60s
location loc1 Remote-rsc1 \
    rule 200: #uname eq vm02-remote
location loc2 Host-rsc1 \
    rule 200: #uname eq node1
"#
    )
}

/// A failed wait with every process's log.
fn failure(cluster: &TestCluster, remote: &TestRemote, what: &str) -> anyhow::Error {
    anyhow::anyhow!("{what}\n{}\n===== remote =====\n{}", cluster.logs(), remote.log())
}

fn node_state(status: &serde_json::Value, name: &str) -> Option<String> {
    status["nodes"].as_array()?.iter().find(|n| n["name"] == name).and_then(|n| n["state"].as_str()).map(str::to_string)
}

#[test]
fn seed_demo_runs_on_a_remote_node_survives_its_death_and_takes_it_back() -> Result<()> {
    let cluster = TestCluster::start_online(Options::nodes(1), SETTLE)?;
    let mut remote = TestRemote::start("vm02", &cluster.dir.path().join("vm02"), &cluster.key_file)?;
    cluster.load(&seed_demo(&remote.addr()))?;

    let s = cluster
        .wait_for("Host-rsc1 on node1, Remote-rsc1 on the remote node", SETTLE, |s| {
            settled_with(s, &["Host-rsc1", "Remote-rsc1", "vm02-remote"])
                && node_of(s, "Remote-rsc1").as_deref() == Some("vm02-remote")
                && node_state(s, "vm02-remote").as_deref() == Some("online")
        })
        .map_err(|e| failure(&cluster, &remote, &e.to_string()))?;
    assert_eq!(node_of(&s, "Host-rsc1").as_deref(), Some("node1"));
    assert_eq!(node_of(&s, "vm02-remote").as_deref(), Some("node1"), "the connection runs on the full node");
    let text = cluster.atrium_ok(&["status"])?;
    assert!(text.contains("* Online: [ node1 ]") && text.contains("* RemoteOnline: [ vm02-remote ]"), "{text}");
    // The agent ran in the remote's process, not on node1.
    assert!(remote.dummy_running("Remote-rsc1"), "{}", failure(&cluster, &remote, "no Dummy state on the remote"));
    assert!(!cluster.nodes[0].dir.join("run/rsctmp/Dummy-Remote-rsc1.state").exists());

    // The remote dies: the connection's monitor fails; without fencing the cluster recovers
    // Remote-rsc1 on the full node.
    remote.kill()?;
    cluster
        .wait_for("Remote-rsc1 recovered on node1, the remote offline", SETTLE, |s| {
            node_of(s, "Remote-rsc1").as_deref() == Some("node1") && node_state(s, "vm02-remote").as_deref() != Some("online") && s["cluster"]["idle"] == true
        })
        .map_err(|e| failure(&cluster, &remote, &e.to_string()))?;

    // It comes back (its machine rebooted): once the failed connection is cleaned up it is
    // online again and Remote-rsc1 returns to it (score 200 there).
    remote.reboot()?;
    cluster.atrium_ok(&["resource", "cleanup", "vm02-remote"])?;
    cluster
        .wait_for("the remote node back online with Remote-rsc1", SETTLE, |s| {
            node_state(s, "vm02-remote").as_deref() == Some("online") && node_of(s, "Remote-rsc1").as_deref() == Some("vm02-remote") && s["cluster"]["idle"] == true
        })
        .map_err(|e| failure(&cluster, &remote, &e.to_string()))?;
    assert!(remote.dummy_running("Remote-rsc1"));
    assert!(!cluster.nodes[0].dir.join("run/rsctmp/Dummy-Remote-rsc1.state").exists(), "Remote-rsc1 left node1");
    Ok(())
}

/// Starts of `rsc` the remote node's agents ran (from its log).
fn starts_on(remote: &TestRemote, rsc: &str) -> usize {
    remote.log().matches(&format!("rsc={rsc} op=start")).count()
}

#[test]
fn when_the_connection_holder_dies_the_connection_moves_and_nothing_restarts() -> Result<()> {
    let mut cluster = TestCluster::start_online(Options::nodes(3), SETTLE)?;
    let remote = TestRemote::start("vm02", &cluster.dir.path().join("vm02"), &cluster.key_file)?;
    cluster.load(&seed_demo(&remote.addr()).replace("node node1\n", "").replace("#uname eq node1", "#uname eq node2"))?;
    let s = cluster
        .wait_for("Remote-rsc1 on the remote node", SETTLE, |s| {
            settled_with(s, &["Host-rsc1", "Remote-rsc1", "vm02-remote"]) && node_of(s, "Remote-rsc1").as_deref() == Some("vm02-remote")
        })
        .map_err(|e| failure(&cluster, &remote, &e.to_string()))?;
    assert_eq!(starts_on(&remote, "Remote-rsc1"), 1, "{}", remote.log());
    let holder = node_of(&s, "vm02-remote").expect("the connection runs");
    cluster.kill(&holder)?;
    let s = cluster
        .wait_for("the connection on another full node, the remote online", SETTLE, |s| {
            node_of(s, "vm02-remote").is_some_and(|n| n != holder) && node_state(s, "vm02-remote").as_deref() == Some("online") && s["cluster"]["idle"] == true
        })
        .map_err(|e| failure(&cluster, &remote, &e.to_string()))?;
    assert_eq!(node_of(&s, "Remote-rsc1").as_deref(), Some("vm02-remote"));
    assert!(remote.dummy_running("Remote-rsc1"));
    // Probed again from the new holder, found running: never stopped, never started twice.
    assert_eq!(starts_on(&remote, "Remote-rsc1"), 1, "{}", remote.log());
    assert_eq!(remote.log().matches("rsc=Remote-rsc1 op=stop").count(), 0, "{}", remote.log());
    Ok(())
}

#[test]
fn a_hung_remote_is_fenced_its_resource_recovered_and_it_rejoins() -> Result<()> {
    let mut options = Options::nodes(1);
    options.extra_toml = "[grants]\n\"stonith:fence-process\" = [\"exec:pkill\", \"exec:pgrep\"]\n".into();
    let cluster = TestCluster::start_online(options, SETTLE)?;
    let mut remote = TestRemote::start("vm02-remote", &cluster.dir.path().join("vm02-remote"), &cluster.key_file)?;
    // Fencing on, the remote's own fence device: it kills the remote's process.
    let config = seed_demo(&remote.addr()).replace("property stonith-enabled=false\n", "").replace("timeout=15", "timeout=3")
        + &format!("primitive fence-vm02 stonith:fence-process params match=\"{}/{{plug}} remote run\" pcmk_host_list=vm02-remote\n", cluster.dir.path().display());
    cluster.load(&config)?;
    cluster
        .wait_for("Remote-rsc1 on the remote node", SETTLE, |s| {
            settled_with(s, &["Host-rsc1", "Remote-rsc1", "fence-vm02"]) && node_of(s, "Remote-rsc1").as_deref() == Some("vm02-remote")
        })
        .map_err(|e| failure(&cluster, &remote, &e.to_string()))?;

    // Cut off (hung with its socket open): the connection's monitor times out, the remote is
    // fenced, and only then is Remote-rsc1 recovered on node1.
    remote.freeze()?;
    cluster
        .wait_for("the remote fenced and Remote-rsc1 on node1", SETTLE, |s| node_of(s, "Remote-rsc1").as_deref() == Some("node1") && s["cluster"]["idle"] == true)
        .map_err(|e| failure(&cluster, &remote, &e.to_string()))?;
    assert!(remote.has_exited()?, "the fence device did not kill the remote");
    let history = cluster.atrium_ok(&["fence", "history", "--output", "json"])?;
    let history: Vec<serde_json::Value> = serde_json::from_str(&history)?;
    assert!(history.iter().any(|r| r["target"] == "vm02-remote" && r["state"] == "done"), "{history:?}");

    remote.reboot()?;
    cluster.atrium_ok(&["resource", "cleanup", "vm02-remote"])?;
    cluster
        .wait_for("the remote node back with Remote-rsc1", SETTLE, |s| {
            node_state(s, "vm02-remote").as_deref() == Some("online") && node_of(s, "Remote-rsc1").as_deref() == Some("vm02-remote") && s["cluster"]["idle"] == true
        })
        .map_err(|e| failure(&cluster, &remote, &e.to_string()))?;
    Ok(())
}

/// A remote node and a key file it does not hold, in a directory of their own.
fn remote_alone() -> Result<(tempfile::TempDir, TestRemote)> {
    let dir = tempfile::Builder::new().prefix("atrium-test-").tempdir()?;
    let key = dir.path().join("authkey");
    let out = std::process::Command::new(atrium_tests::atrium_bin()?).args(["cluster", "init", "--key-file"]).arg(&key).output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let remote = TestRemote::start("r1", &dir.path().join("r1"), &key)?;
    Ok((dir, remote))
}

fn key_of(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("authkey")
}

/// The remote still serves a client with the right key (one bad peer costs only its own
/// connection).
fn still_serves(remote: &TestRemote, dir: &tempfile::TempDir) -> Result<()> {
    let ok = remote.ping(&remote.addr(), &key_of(dir))?;
    assert!(ok.status.success(), "a good client was refused afterwards: {}\n{}", String::from_utf8_lossy(&ok.stderr), remote.log());
    Ok(())
}

#[test]
fn remote_refuses_a_wrong_key_and_logs_it() -> Result<()> {
    let (dir, remote) = remote_alone()?;
    let other = dir.path().join("other-key");
    let out = std::process::Command::new(atrium_tests::atrium_bin()?).args(["cluster", "init", "--key-file"]).arg(&other).output()?;
    assert!(out.status.success());
    let refused = remote.ping(&remote.addr(), &other)?;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cluster key"), "{}", String::from_utf8_lossy(&refused.stderr));
    assert!(remote.logged("transport handshake refused"), "{}", remote.log());
    still_serves(&remote, &dir)
}

fn mangled(mangle: Mangle) -> Result<()> {
    let (dir, remote) = remote_alone()?;
    let mitm = Mitm::start(remote.addr(), mangle)?;
    if mangle == Mangle::ReplayIntoNextSession {
        // The first session through the proxy only records its first frame.
        assert!(remote.ping(&mitm.addr(), &key_of(&dir))?.status.success(), "{}", remote.log());
    }
    let out = remote.ping(&mitm.addr(), &key_of(&dir))?;
    assert!(!out.status.success(), "{mangle:?}: the mangled session went through");
    assert!(remote.logged("frame failed authentication"), "{mangle:?} not logged:\n{}", remote.log());
    still_serves(&remote, &dir)
}

#[test]
fn remote_drops_a_tampered_frame_and_logs_it() -> Result<()> {
    mangled(Mangle::Tamper)
}

#[test]
fn remote_drops_a_replayed_frame_and_logs_it() -> Result<()> {
    mangled(Mangle::Duplicate)
}

#[test]
fn remote_drops_a_frame_replayed_from_another_session_and_logs_it() -> Result<()> {
    mangled(Mangle::ReplayIntoNextSession)
}

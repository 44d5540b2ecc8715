//! Fencing and quorum on real clusters: a lost or hung node is fenced (its process really
//! killed by the `fence-process` device) before its resources run elsewhere; the seed's kdump
//! topology (stonith-helper, fence_kdump, power fence) with the real `fence_kdump_send` in
//! the crashed node's own network namespace; topology levels with `fence-dummy`; and a node cut
//! off from the others stopping its resources before the majority recovers them; two-node mode
//! (the survivor fences its peer and carries on alone; nodes booting apart wait for each other).

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use atrium_tests::checker::Checker;
use atrium_tests::{Options, TestCluster, all_online, dc, netns, node_of, settled_with};

const SETTLE: Duration = Duration::from_secs(60);
const FENCE_KDUMP_SEND: &str = "/usr/libexec/fence-agents/fence_kdump_send";

/// Grants the process-killing and helper devices need, for every node.
const GRANTS: &str = "[grants]\n\"stonith:fence-process\" = [\"exec:pkill\", \"exec:pgrep\"]\n\"stonith:stonith-helper\" = [\"exec:ping\"]\n";

fn resources(n: usize) -> String {
    (1..=n).map(|i| format!("primitive r{i} wasm:atrium:dummy op monitor interval=1s timeout=10s\n")).collect()
}

fn names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("r{i}")).collect()
}

/// A fence-process device that can kill any node of `cluster`.
fn process_device(cluster: &TestCluster, id: &str, extra: &str) -> String {
    format!("primitive {id} stonith:fence-process params match=\"{}/{{plug}}/node.toml\" pcmk_host_check=none {extra}\n", cluster.dir.path().display())
}

fn start(nodes: usize, netns: bool, extra_toml: &str) -> Result<TestCluster> {
    let options = Options { netns, extra_toml: format!("{GRANTS}{extra_toml}"), ..Options::nodes(nodes) };
    TestCluster::start_online(options, SETTLE)
}

fn checker(cluster: &TestCluster, rscs: &[String]) -> Checker {
    Checker::start(cluster.nodes.iter().map(|n| (n.name.clone(), n.dir.clone())).collect(), rscs.to_vec())
}

fn fence_history(cluster: &TestCluster) -> Result<Vec<Value>> {
    let out = cluster.atrium_ok(&["fence", "history", "--output", "json"])?;
    Ok(serde_json::from_str::<Vec<Value>>(&out)?)
}

fn wait_fenced(cluster: &TestCluster, target: &str, timeout: Duration) -> Result<Value> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(h) = fence_history(cluster)
            && let Some(r) = h.iter().rev().find(|r| r["target"] == target && r["state"] == "done")
        {
            return Ok(r.clone());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{target} was not fenced within {timeout:?}; history: {:?}\n{}", fence_history(cluster).ok(), cluster.logs())
}

/// A node hosting one of `rscs` that is not the DC.
fn victim(status: &Value, rscs: &[String]) -> Result<String> {
    let the_dc = dc(status).context("no DC")?;
    rscs.iter().filter_map(|r| node_of(status, r)).find(|n| *n != the_dc).context("everything runs on the DC")
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Every resource the victim held (until `fault_at`) started elsewhere only after its fencing
/// completed.
fn assert_recovered_after(checker: &Checker, moved: &[String], victim: &str, fault_at: u64, fenced_at: u64) {
    for r in moved {
        let elsewhere: Vec<(String, u64)> = checker.activations(r).into_iter().filter(|(n, at)| n != victim && *at >= fault_at).collect();
        assert!(!elsewhere.is_empty(), "{r} never started elsewhere");
        assert!(elsewhere.iter().all(|(_, at)| *at >= fenced_at), "{r} started elsewhere before fencing completed at {fenced_at}: {elsewhere:?}");
    }
}

fn assert_clean(checker: Checker, cluster: &TestCluster) {
    let (violations, samples) = checker.finish();
    assert!(samples > 10, "the checker hardly ran ({samples} samples)");
    assert!(violations.is_empty(), "resources active twice: {violations:?}\n{}", cluster.logs());
}

fn moved_from(status: &Value, rscs: &[String], node: &str) -> Vec<String> {
    rscs.iter().filter(|r| node_of(status, r).as_deref() == Some(node)).cloned().collect()
}

#[test]
fn a_killed_node_and_a_hung_node_are_fenced_before_their_resources_recover() -> Result<()> {
    let mut cluster = start(3, false, "")?;
    let rscs = names(6);
    let checker = checker(&cluster, &rscs);
    cluster.load(&format!("property stonith-enabled=true no-quorum-policy=stop\n{}{}", resources(6), process_device(&cluster, "kill-any", "")))?;
    let s = cluster.wait_for("resources started", SETTLE, |s| settled_with(s, &rscs.iter().map(String::as_str).collect::<Vec<_>>()))?;

    // A crash: kill -9. The device finds the process gone and confirms.
    let first = victim(&s, &rscs)?;
    let moved = moved_from(&s, &rscs, &first);
    let fault_at = now_ms();
    cluster.kill(&first)?;
    let record = wait_fenced(&cluster, &first, SETTLE)?;
    assert_eq!(record["devices"], serde_json::json!(["kill-any"]));
    cluster.wait_for("the crashed node's resources recovered", SETTLE, |s| settled_with(s, &rscs.iter().map(String::as_str).collect::<Vec<_>>()))?;
    assert_recovered_after(&checker, &moved, &first, fault_at, record["completed_ms"].as_u64().unwrap_or(0));
    let text = cluster.atrium_ok(&["fence", "history", &first])?;
    assert!(text.contains(&format!("reboot of {first}: done by")), "{text}");

    // The crashed node comes back (a reboot after power-off) and rejoins.
    cluster.reboot(&first)?;
    cluster.wait_for("the fenced node back online", SETTLE, |s| all_online(s))?;

    // A hang: SIGSTOP. The paused node still "runs" its resources until the device kills it.
    let s = cluster.wait_for("settled", SETTLE, |s| settled_with(s, &rscs.iter().map(String::as_str).collect::<Vec<_>>()))?;
    let hung = victim(&s, &rscs)?;
    let moved = moved_from(&s, &rscs, &hung);
    let fault_at = now_ms();
    cluster.pause(&hung, true)?;
    let record = wait_fenced(&cluster, &hung, SETTLE)?;
    cluster.wait_for("the hung node's resources recovered", SETTLE, |s| settled_with(s, &rscs.iter().map(String::as_str).collect::<Vec<_>>()))?;
    assert!(cluster.has_exited(&hung), "fencing killed the hung node's process");
    assert_recovered_after(&checker, &moved, &hung, fault_at, record["completed_ms"].as_u64().unwrap_or(0));
    assert_clean(checker, &cluster);
    Ok(())
}

#[test]
fn topology_levels_with_fence_dummy_and_than_fails_over() -> Result<()> {
    let cluster = start(3, false, "")?;
    // node3: level 1 fails (one retry), level 2 hangs and is timed out, level 3 has two
    // devices that must both succeed, the first after a 1 s delay.
    cluster.load(
        "property stonith-enabled=true
primitive d-fail stonith:fence-dummy params mode=fail pcmk_host_list=node3 pcmk_off_retries=1
primitive d-hang stonith:fence-dummy params mode=hang pcmk_host_list=node3 pcmk_off_timeout=1s pcmk_off_retries=0
primitive d-ok1 stonith:fence-dummy params pcmk_host_list=node3 pcmk_delay_base=1s
primitive d-ok2 stonith:fence-dummy params pcmk_host_list=node3
fencing_topology node3: d-fail d-hang d-ok1,d-ok2
",
    )?;
    let began = Instant::now();
    let out = cluster.atrium(&["fence", "node3", "--off", "--output", "json"])?;
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    let record: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(record["state"], "done");
    assert_eq!(record["level"], 3);
    assert_eq!(record["devices"], serde_json::json!(["d-ok1", "d-ok2"]));
    let attempts: Vec<(String, bool)> = record["attempts"].as_array().unwrap().iter().map(|a| (a["device"].as_str().unwrap().to_string(), a["ok"] == true)).collect();
    let expected: Vec<(String, bool)> = [("d-fail", false), ("d-fail", false), ("d-hang", false), ("d-ok1", true), ("d-ok2", true)].iter().map(|(d, ok)| (d.to_string(), *ok)).collect();
    assert_eq!(attempts, expected, "{record:#}");
    let hang = &record["attempts"][2];
    assert!(hang["detail"].as_str().unwrap_or("").contains("timed out"), "{hang}");
    assert!(began.elapsed() >= Duration::from_secs(2), "the hang timeout (1 s) and the delay (1 s) were waited");

    // A device that cannot fence: the operation fails with the reasons and a non-zero exit.
    let out = cluster.atrium(&["fence", "node2"])?;
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAILED") && text.contains("no fence device can reboot node2"), "{text}");

    // fence-dummy does not power anything off: node3, counted down, joins again.
    cluster.wait_for("node3 back online", SETTLE, |s| all_online(s))?;
    Ok(())
}

/// Runs the real `fence_kdump_send` in `node`'s namespace, sending to every other node's
/// address once a second, as a crash kernel would.
fn kdump_sender(cluster: &TestCluster, node: usize) -> Result<Child> {
    let net = cluster.net.as_ref().context("netns")?;
    let others: Vec<String> = (1..=cluster.nodes.len()).filter(|i| *i != node).map(|i| net.address(i).to_string()).collect();
    Ok(net.command(node, FENCE_KDUMP_SEND).args(["-c", "0", "-i", "1", "-p", "7410"]).args(&others).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?)
}

#[test]
fn kdump_message_counts_as_fenced_and_silence_falls_through_to_power_fencing() -> Result<()> {
    if !netns::available() || !std::path::Path::new(FENCE_KDUMP_SEND).exists() {
        eprintln!("skipped: needs root with ip(8) network namespaces and fence-agents' fence_kdump_send");
        return Ok(());
    }
    let mut cluster = start(3, true, "")?;
    let net_address = |i: usize| cluster.net.as_ref().unwrap().address(i).to_string();
    // The seed's configuration, per node: stonith-helper, then fence_kdump, then the power
    // fence (here the process-killing device stands in for IPMI).
    let mut config = String::from("property stonith-enabled=true\n");
    config += &resources(4);
    let mut topology = String::from("fencing_topology");
    for i in 1..=3 {
        config += &format!(
            "primitive helper{i} stonith:external/stonith-helper params hostlist=node{i} dead_check_target={} standby_wait_time=1 run_standby_wait=no pcmk_host_list=node{i}\n",
            net_address(i)
        );
        config += &format!("primitive kdump{i} stonith:fence_kdump params timeout=4 pcmk_reboot_retries=1 pcmk_reboot_timeout=60s pcmk_reboot_action=off pcmk_monitor_action=metadata pcmk_host_list=node{i} op start interval=0s timeout=60s op stop interval=0s timeout=60s\n");
        config += &process_device(&cluster, &format!("power{i}"), &format!("pcmk_host_list=node{i}")).replace("pcmk_host_check=none ", "");
        topology += &format!(" node{i}: helper{i} kdump{i} power{i}");
    }
    config += &topology;
    config += "\n";
    let rscs = names(4);
    let checker = checker(&cluster, &rscs);
    cluster.load(&config)?;
    let all: Vec<&str> = rscs.iter().map(String::as_str).collect();
    let s = cluster.wait_for("resources started", SETTLE, |s| settled_with(s, &all))?;

    // The crash kernel reports in: fenced by kdump (level 2), no power fence.
    let crashed = victim(&s, &rscs)?;
    let crashed_ix = cluster.index(&crashed) + 1;
    let moved = moved_from(&s, &rscs, &crashed);
    let fault_at = now_ms();
    cluster.kill(&crashed)?;
    let mut sender = kdump_sender(&cluster, crashed_ix)?;
    let record = wait_fenced(&cluster, &crashed, SETTLE);
    let _ = sender.kill();
    let _ = sender.wait();
    let record = record?;
    assert_eq!(record["level"], 2, "{record:#}");
    assert_eq!(record["devices"], serde_json::json!([format!("kdump{crashed_ix}")]));
    assert!(record["attempts"][0]["device"] == format!("helper{crashed_ix}") && record["attempts"][0]["ok"] == false, "the helper saw the node still answering: {record:#}");
    cluster.wait_for("resources recovered", SETTLE, |s| settled_with(s, &all))?;
    assert_recovered_after(&checker, &moved, &crashed, fault_at, record["completed_ms"].as_u64().unwrap_or(0));
    cluster.reboot(&crashed)?;
    cluster.wait_for("node back", SETTLE, |s| all_online(s) && settled_with(s, &all))?;

    // No message: kdump gives up after its timeout and the power fence kills the node.
    let s = cluster.status()?;
    let hung = victim(&s, &rscs)?;
    let hung_ix = cluster.index(&hung) + 1;
    cluster.pause(&hung, true)?;
    let record = wait_fenced(&cluster, &hung, SETTLE)?;
    assert_eq!(record["level"], 3, "{record:#}");
    assert_eq!(record["devices"], serde_json::json!([format!("power{hung_ix}")]));
    let kdump_try = record["attempts"].as_array().unwrap().iter().find(|a| a["device"] == format!("kdump{hung_ix}")).context("kdump tried")?.clone();
    assert!(kdump_try["detail"].as_str().unwrap_or("").contains("no message"), "{kdump_try}");
    assert!(cluster.has_exited(&hung));
    cluster.wait_for("resources recovered", SETTLE, |s| settled_with(s, &all))?;
    assert_clean(checker, &cluster);
    Ok(())
}

#[test]
fn an_isolated_node_stops_its_resources_before_the_majority_recovers_them() -> Result<()> {
    if !netns::available() {
        eprintln!("skipped: needs root with ip(8) network namespaces");
        return Ok(());
    }
    let mut cluster = start(3, true, "")?;
    let rscs = names(6);
    let all: Vec<&str> = rscs.iter().map(String::as_str).collect();
    let checker = checker(&cluster, &rscs);
    // No device: the majority waits stonith-watchdog-timeout, the isolated node stops its
    // resources (or exits) within it.
    cluster.load(&format!("property stonith-enabled=true no-quorum-policy=stop stonith-watchdog-timeout=8s\n{}", resources(6)))?;
    let s = cluster.wait_for("resources started", SETTLE, |s| settled_with(s, &all))?;
    let isolated = victim(&s, &rscs)?;
    let moved = moved_from(&s, &rscs, &isolated);
    let cut_at = Instant::now();
    cluster.set_connected(&isolated, false)?;
    cluster.wait_for("the isolated node's resources recovered by the majority", SETTLE, |s| settled_with(s, &all) && moved.iter().all(|r| node_of(s, r).is_some_and(|n| n != isolated)))?;
    let recovered_after = cut_at.elapsed();
    assert!(recovered_after >= Duration::from_secs(8), "recovered after {recovered_after:?}, before the watchdog timeout");
    let log = std::fs::read_to_string(cluster.nodes[cluster.index(&isolated)].dir.join("stderr.log"))?;
    assert!(log.contains("no-quorum-policy applied"), "the isolated node did not apply the policy:\n{log}");
    assert!(!cluster.has_exited(&isolated), "the stops succeeded: no self-fencing needed");

    // Heal: the node joins again, its resources are probed (stopped) and nothing moves back.
    cluster.set_connected(&isolated, true)?;
    cluster.wait_for("healed", SETTLE, |s| all_online(s) && settled_with(s, &all))?;
    assert_clean(checker, &cluster);
    Ok(())
}

const TWO_NODE: &str = "[quorum]\ntwo_node = true\n";

/// Waits until `name`'s process has ended (a fence device killed it).
fn wait_exited(cluster: &mut TestCluster, name: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !cluster.has_exited(name) {
        if Instant::now() >= deadline {
            bail!("{name} still runs after {timeout:?}\n{}", cluster.logs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

#[test]
fn two_node_survivor_fences_its_peer_and_carries_on_alone() -> Result<()> {
    if !netns::available() {
        eprintln!("skipped: needs root with ip(8) network namespaces");
        return Ok(());
    }
    let mut cluster = start(2, true, TWO_NODE)?;
    let rscs = names(4);
    let all: Vec<&str> = rscs.iter().map(String::as_str).collect();
    let checker = checker(&cluster, &rscs);
    // Fencing node1 waits 3 s, so in a split node1 shoots first and survives.
    cluster.load(&format!("{}{}", resources(4), process_device(&cluster, "power", "pcmk_delay_base=\"node1:3s\"")))?;
    let s = cluster.wait_for("resources started", SETTLE, |s| settled_with(s, &all))?;

    // The DC dies. The other node has no majority, fences it, takes over and recovers.
    let first = dc(&s).context("no DC")?;
    let survivor = if first == "node1" { "node2" } else { "node1" }.to_string();
    let moved = moved_from(&s, &rscs, &first);
    let fault_at = now_ms();
    cluster.kill(&first)?;
    let record = wait_fenced(&cluster, &first, SETTLE)?;
    assert_eq!(record["origin"]["by"], "two_node", "{record}");
    assert_eq!(record["executioner"], survivor.as_str(), "{record}");
    cluster.wait_for("everything on the survivor", SETTLE, |s| settled_with(s, &all) && rscs.iter().all(|r| node_of(s, r).as_deref() == Some(survivor.as_str())))?;
    println!("{first} killed: fenced and recovered by {survivor} in {} ms", now_ms() - fault_at);
    let fenced_at = record["completed_ms"].as_u64().context("completed_ms")?;
    assert_recovered_after(&checker, &moved, &first, fault_at, fenced_at);

    // The fenced node boots again and is a member again.
    cluster.reboot(&first)?;
    cluster.wait_for("both online again", SETTLE, |s| all_online(s) && settled_with(s, &all))?;

    // A split: both sides race to fence, node1 wins (node2's shot at it is delayed).
    let split_at = now_ms();
    cluster.set_connected("node2", false)?;
    wait_exited(&mut cluster, "node2", SETTLE)?;
    cluster.wait_for("everything on node1", SETTLE, |s| settled_with(s, &all) && rscs.iter().all(|r| node_of(s, r).as_deref() == Some("node1")))?;
    println!("split: node2 fenced and everything on node1 after {} ms", now_ms() - split_at);
    assert!(!cluster.has_exited("node1"), "node1 was fenced too");
    cluster.set_connected("node2", true)?;
    cluster.reboot("node2")?;
    cluster.wait_for("healed", SETTLE, |s| all_online(s) && settled_with(s, &all))?;
    assert_clean(checker, &cluster);
    Ok(())
}

#[test]
fn two_node_nodes_starting_apart_wait_for_each_other_and_fence_nobody() -> Result<()> {
    if !netns::available() {
        eprintln!("skipped: needs root with ip(8) network namespaces");
        return Ok(());
    }
    let mut cluster = start(2, true, TWO_NODE)?;
    let rscs = names(2);
    let all: Vec<&str> = rscs.iter().map(String::as_str).collect();
    cluster.load(&format!("{}{}", resources(2), process_device(&cluster, "power", "")))?;
    cluster.wait_for("resources started", SETTLE, |s| settled_with(s, &all))?;
    cluster.kill("node1")?;
    cluster.kill("node2")?;

    // Both boot, but cannot reach each other: without wait_for_all each would fence the other.
    let checker = checker(&cluster, &rscs);
    cluster.set_connected("node2", false)?;
    cluster.reboot("node1")?;
    cluster.reboot("node2")?;
    std::thread::sleep(Duration::from_secs(8));
    assert!(!cluster.has_exited("node1") && !cluster.has_exited("node2"), "a node was fenced\n{}", cluster.logs());
    let logs = cluster.logs();
    assert!(logs.contains("waiting to see the peer once"), "{logs}");
    assert!(!logs.contains("lost the peer: fencing it"), "{logs}");
    assert!(checker.activations("r1").is_empty() && checker.activations("r2").is_empty(), "resources started without quorum");

    cluster.set_connected("node2", true)?;
    cluster.wait_for("both online, resources started", SETTLE, |s| all_online(s) && settled_with(s, &all))?;
    assert_clean(checker, &cluster);
    Ok(())
}

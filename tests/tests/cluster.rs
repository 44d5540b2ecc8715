//! Real three-node clusters on loopback: start-up, kill -9 of a node and of the DC, standby,
//! a rejoin without bouncing, refused keys, and every node killed at once. The checker
//! asserts from the agents' own state that nothing ever ran on two nodes at once.

use anyhow::{Context, Result};
use std::time::Duration;

use atrium_tests::checker::Checker;
use atrium_tests::{Options, TestCluster, dc, node_of, placement, settled_with};

const QUICKSTART: &str = include_str!("../../examples/quickstart.crm");
/// Resources of the quick start that must run on exactly one node.
const SINGLETONS: [&str; 4] = ["web", "db", "app", "legacy"];
const SETTLE: Duration = Duration::from_secs(60);

fn quickstart_cluster() -> Result<(TestCluster, Checker)> {
    quickstart_cluster_with(Options::nodes(3))
}

fn quickstart_cluster_with(options: Options) -> Result<(TestCluster, Checker)> {
    let cluster = TestCluster::start_online(options, SETTLE)?;
    let checker = Checker::start(cluster.nodes.iter().map(|n| (n.name.clone(), n.dir.clone())).collect(), SINGLETONS.iter().map(|s| s.to_string()).collect());
    cluster.load(QUICKSTART)?;
    cluster.wait_for("every quick-start resource started", SETTLE, |s| {
        settled_with(s, &SINGLETONS) && placement(s).iter().filter(|(id, _)| id.starts_with("state:")).all(|(_, (n, _))| n.is_some())
    })?;
    Ok((cluster, checker))
}

fn assert_clean(checker: Checker, cluster: &TestCluster) {
    let (violations, samples) = checker.finish();
    assert!(samples > 10, "the checker hardly ran ({samples} samples)");
    assert!(violations.is_empty(), "resources active twice: {violations:?}\n{}", cluster.logs());
}

#[test]
fn quickstart_starts_and_a_killed_node_is_recovered_then_rejoins_without_bouncing() -> Result<()> {
    let (mut cluster, checker) = quickstart_cluster()?;
    let s = cluster.status()?;
    // Promotable clone: one promoted, the others unpromoted.
    let roles: Vec<String> = placement(&s).into_iter().filter(|(id, _)| id.starts_with("state:")).map(|(_, (_, r))| r).collect();
    assert_eq!(roles.iter().filter(|r| *r == "Promoted").count(), 1, "{roles:?}");
    assert!(roles.iter().all(|r| r == "Promoted" || r == "Unpromoted"), "{roles:?}");
    // legacy (the OCF Dummy through the shim) never runs on node3 (location rule).
    assert_ne!(node_of(&s, "legacy").as_deref(), Some("node3"));
    assert_eq!(node_of(&s, "db"), node_of(&s, "app"), "a group runs on one node");

    // Kill -9 a node that is not the DC but hosts something.
    let the_dc = dc(&s).context("no DC")?;
    let victim = SINGLETONS.iter().filter_map(|r| node_of(&s, r)).find(|n| *n != the_dc).context("everything runs on the DC")?;
    let moved: Vec<&str> = SINGLETONS.iter().copied().filter(|r| node_of(&s, r).as_deref() == Some(victim.as_str())).collect();
    checker.exclude(&victim);
    cluster.kill(&victim)?;
    let after = cluster.wait_for("the killed node's resources elsewhere", SETTLE, |s| {
        moved.iter().all(|r| node_of(s, r).is_some_and(|n| n != victim)) && settled_with(s, &SINGLETONS)
    })?;
    assert_eq!(dc(&after), Some(the_dc.clone()), "the DC did not change");
    let victim_state = after["nodes"].as_array().unwrap().iter().find(|n| n["name"] == victim.as_str()).unwrap()["state"].clone();
    assert_eq!(victim_state, "offline");

    // The node reboots and rejoins: stickiness keeps everything where it is.
    let before: Vec<(String, Option<String>)> = SINGLETONS.iter().map(|r| (r.to_string(), node_of(&after, r))).collect();
    cluster.reboot(&victim)?;
    checker.include(&victim);
    cluster.wait_for("the rebooted node online", SETTLE, |s| {
        s["nodes"].as_array().is_some_and(|n| n.iter().any(|n| n["name"] == victim.as_str() && n["state"] == "online")) && settled_with(s, &SINGLETONS)
    })?;
    std::thread::sleep(Duration::from_secs(3));
    let settled = cluster.status()?;
    let now: Vec<(String, Option<String>)> = SINGLETONS.iter().map(|r| (r.to_string(), node_of(&settled, r))).collect();
    assert_eq!(now, before, "resources bounced when the node rejoined");
    assert!(settled["failed_actions"].as_array().is_some_and(|f| f.is_empty()), "{}", settled["failed_actions"]);
    assert_clean(checker, &cluster);
    Ok(())
}

#[test]
fn killing_the_dc_elects_another_and_recovers_its_resources_once() -> Result<()> {
    let (mut cluster, checker) = quickstart_cluster()?;
    let s = cluster.status()?;
    let old_dc = dc(&s).context("no DC")?;
    checker.exclude(&old_dc);
    cluster.kill(&old_dc)?;
    let after = cluster.wait_for("a new DC with every resource running", SETTLE, |s| {
        dc(s).is_some_and(|d| d != old_dc) && settled_with(s, &SINGLETONS) && SINGLETONS.iter().all(|r| node_of(s, r).is_some_and(|n| n != old_dc))
    })?;
    // Each resource runs where the status says, by its agent's own state, and nowhere else.
    for rsc in SINGLETONS {
        let on = node_of(&after, rsc).unwrap();
        for n in cluster.nodes.iter().filter(|n| n.is_running()) {
            assert_eq!(atrium_tests::checker::active_on(&n.dir, rsc), n.name == on, "{rsc} on {}", n.name);
        }
    }
    assert_clean(checker, &cluster);
    Ok(())
}

#[test]
fn standby_moves_resources_off_and_online_lets_the_node_host_again() -> Result<()> {
    let (cluster, checker) = quickstart_cluster()?;
    let s = cluster.status()?;
    let host = node_of(&s, "web").context("web not running")?;
    cluster.atrium_ok(&["node", "standby", &host])?;
    let after = cluster.wait_for("web off the standby node", SETTLE, |s| node_of(s, "web").is_some_and(|n| n != host) && settled_with(s, &SINGLETONS))?;
    assert!(SINGLETONS.iter().all(|r| node_of(&after, r).is_some_and(|n| n != host)), "something still on {host}");
    let node = after["nodes"].as_array().unwrap().iter().find(|n| n["name"] == host.as_str()).unwrap().clone();
    assert_eq!(node["state"], "standby");
    cluster.atrium_ok(&["node", "online", &host])?;
    // And back: moving web there puts it back on that node.
    cluster.atrium_ok(&["resource", "move", "web", &host])?;
    cluster.wait_for("web back on its node", SETTLE, |s| node_of(s, "web").as_deref() == Some(host.as_str()) && settled_with(s, &SINGLETONS))?;
    cluster.atrium_ok(&["resource", "clear", "web"])?;
    let located = cluster.atrium_ok(&["resource", "locate", "web"])?;
    assert!(located.contains(&format!("running on: {host}")), "{located}");
    assert_clean(checker, &cluster);
    Ok(())
}

#[test]
fn a_node_or_client_with_the_wrong_key_is_refused() -> Result<()> {
    let cluster = TestCluster::start(Options::nodes(3))?;
    cluster.wait_for("a DC", SETTLE, |s| dc(s).is_some())?;
    // An intruder: a fourth node configuration naming the members, with its own key.
    let intruder_dir = cluster.dir.path().join("intruder");
    std::fs::create_dir_all(&intruder_dir)?;
    let key = intruder_dir.join("authkey");
    cluster.atrium_ok(&["cluster", "init", "--key-file", key.to_str().unwrap()])?;
    let node1 = std::fs::read_to_string(&cluster.nodes[0].config)?;
    let intruder_config = node1
        .replace(&format!("key_file = \"{}\"", cluster.key_file.display()), &format!("key_file = \"{}\"", key.display()))
        .replace(&format!("data_dir = \"{}\"", cluster.nodes[0].dir.display()), &format!("data_dir = \"{}\"", intruder_dir.display()));
    // Same identity as node1 but its own ports: it can only try to talk to the others.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let api_port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let first_listen = node1.lines().find(|l| l.starts_with("listen")).unwrap().to_string();
    let first_api = node1.lines().find(|l| l.starts_with("api")).unwrap().to_string();
    let intruder_config = intruder_config
        .replacen(&first_listen, &format!("listen = \"127.0.0.1:{port}\""), 1)
        .replacen(&first_api, &format!("api = \"127.0.0.1:{api_port}\""), 1);
    let intruder_toml = intruder_dir.join("node.toml");
    std::fs::write(&intruder_toml, intruder_config)?;
    let mut intruder = std::process::Command::new(atrium_tests::atrium_bin()?)
        .args(["node", "run", "--config"])
        .arg(&intruder_toml)
        .stderr(std::fs::File::create(intruder_dir.join("stderr.log"))?)
        .spawn()?;
    std::thread::sleep(Duration::from_secs(3));
    let _ = intruder.kill();
    let _ = intruder.wait();
    let s = cluster.status()?;
    assert_eq!(s["nodes"].as_array().map(Vec::len), Some(3));
    let refused = cluster.nodes.iter().any(|n| {
        let log = std::fs::read_to_string(n.dir.join("atrium.log")).unwrap_or_default();
        log.contains("handshake refused") || log.contains("wrong cluster key")
    });
    assert!(refused, "no node logged the refused key\n{}", cluster.logs());

    // The API refuses a client holding another key.
    let client_dir = intruder_dir.join("client");
    std::fs::create_dir_all(&client_dir)?;
    let mut client: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(cluster.dir.path().join("client.json"))?)?;
    client["key_file"] = serde_json::json!(key);
    std::fs::write(client_dir.join("client.json"), client.to_string())?;
    let out = std::process::Command::new(atrium_tests::atrium_bin()?).arg("--data-dir").arg(&client_dir).arg("status").output()?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wrong API token"), "{err}");
    Ok(())
}

#[test]
fn every_node_killed_at_once_loses_no_acknowledged_change() -> Result<()> {
    kill_everything_and_restart(Options::nodes(3))
}

#[test]
fn every_node_killed_at_once_loses_nothing_on_postgresql() -> Result<()> {
    let Some(url) = atrium_tests::test_postgres_url() else { return Ok(()) };
    kill_everything_and_restart(Options { postgres_url: Some(url), ..Options::nodes(3) })
}

fn kill_everything_and_restart(options: Options) -> Result<()> {
    let (mut cluster, checker) = quickstart_cluster_with(options)?;
    drop(checker);
    cluster.atrium_ok(&["property", "set", "pe-input-series-max=50"])?;
    let reply = cluster.atrium_ok(&["resource", "ban", "web", "node1", "--output", "json"])?;
    let epoch = serde_json::from_str::<serde_json::Value>(&reply)?["epoch"].as_u64().context("epoch")?;
    for n in ["node1", "node2", "node3"] {
        cluster.kill(n)?;
    }
    for n in ["node1", "node2", "node3"] {
        cluster.reboot(n)?;
    }
    // Back means: a DC, nothing left to do, and every resource running where the status says,
    // by its agent's own state (the reboot cleared it, so it was started again).
    let running_as_reported = |s: &serde_json::Value| {
        SINGLETONS.iter().all(|r| node_of(s, r).is_some_and(|n| atrium_tests::checker::active_on(&cluster.nodes[cluster.index(&n)].dir, r)))
    };
    let s = cluster.wait_for("the cluster back with every resource", SETTLE, |s| dc(s).is_some() && settled_with(s, &SINGLETONS) && running_as_reported(s))?;
    assert_eq!(s["cluster"]["epoch"].as_u64(), Some(epoch), "configuration version after restart");
    assert_ne!(node_of(&s, "web").as_deref(), Some("node1"), "the ban survived");
    let shown = cluster.atrium_ok(&["configure", "show"])?;
    assert!(shown.contains("cli-ban-web-on-node1") && shown.contains("pe-input-series-max=50"), "{shown}");
    let history = cluster.atrium_ok(&["configure", "history"])?;
    assert!(history.contains("banned from node1"), "{history}");
    // The decision that placed web after the restart replays offline, exactly.
    let log = std::fs::read_to_string(cluster.nodes.iter().find(|n| Some(&n.name) == dc(&s).as_ref()).unwrap().dir.join("atrium.log"))?;
    let n = log.lines().filter(|l| l.contains("transition started")).filter_map(|l| l.split("pe_input=").nth(1)?.split_whitespace().next()?.parse::<u64>().ok()).next_back();
    let n = n.context("the DC logged no transition with its scheduler input")?;
    let replay = cluster.atrium_ok(&["simulate", "--replay", &n.to_string(), "--scores"])?;
    assert!(replay.contains("Transition Summary") && replay.contains("web"), "{replay}");
    Ok(())
}

#[test]
fn a_failing_monitor_is_recovered_in_place_then_moves_at_the_migration_threshold() -> Result<()> {
    let cluster = TestCluster::start_online(Options::nodes(3), SETTLE)?;
    cluster.load(
        "property stonith-enabled=false\n\
         primitive flaky wasm:atrium:dummy params fail_monitor_on=node1 \\\n  op monitor interval=1s timeout=10s meta migration-threshold=2\n\
         location flaky-prefers-node1 flaky 100: node1\n",
    )?;
    // First on node1 (preferred); its monitor fails there, it is restarted there once, and the
    // second failure reaches the threshold: it moves and stays away.
    let s = cluster.wait_for("flaky moved off node1 after two failures", SETTLE, |s| {
        node_of(s, "flaky").is_some_and(|n| n != "node1") && s["cluster"]["idle"] == true
    })?;
    let summary = s["migration_summary"].as_array().context("migration summary")?;
    let entry = summary.iter().find(|m| m["rsc"] == "flaky" && m["node"] == "node1").context("no fail count for flaky on node1")?;
    assert_eq!(entry["fail_count"], "2", "{summary:?}");
    assert_eq!(entry["migration_threshold"], "2");
    let failed = s["failed_actions"].as_array().context("failed actions")?;
    assert!(failed.iter().any(|f| f["rsc"] == "flaky" && f["task"] == "monitor" && f["interval_ms"] == 1000 && f["node"] == "node1"), "{failed:?}");
    let text = cluster.atrium_ok(&["status"])?;
    assert!(text.contains("Migration Summary") && text.contains("flaky: migration-threshold=2 fail-count=2"), "{text}");
    let explained = cluster.atrium_ok(&["resource", "explain", "flaky"])?;
    assert!(explained.contains("node1"), "{explained}");
    let cleaned = cluster.atrium_ok(&["resource", "cleanup", "flaky", "--node", "node1"])?;
    assert!(cleaned.contains("cleaned up flaky"), "{cleaned}");
    Ok(())
}

#[test]
fn a_new_node_joins_takes_work_and_leaves_again() -> Result<()> {
    let (mut cluster, checker) = quickstart_cluster()?;
    let (name, id, addr) = cluster.spawn_extra_node()?;
    cluster.atrium_ok(&["node", "add", &name, "--id", &id.to_string(), "--addr", &addr])?;
    let s = cluster.wait_for("the new node online with a clone instance", SETTLE, |s| {
        s["nodes"].as_array().is_some_and(|n| n.iter().any(|n| n["name"] == name.as_str() && n["state"] == "online"))
            && placement(s).iter().any(|(id, (node, _))| id.starts_with("state:") && node.as_deref() == Some(name.as_str()))
            && settled_with(s, &SINGLETONS)
    })?;
    assert_eq!(s["nodes"].as_array().map(Vec::len), Some(4));
    // It leaves in order: SIGTERM, its resources stop, it is removed from the voters.
    cluster.stop(&name, Duration::from_secs(60))?;
    cluster.atrium_ok(&["node", "remove", &name])?;
    cluster.wait_for("the node gone and the cluster idle", SETTLE, |s| {
        s["nodes"].as_array().is_some_and(|n| n.iter().any(|n| n["name"] == name.as_str() && n["state"] == "offline")) && settled_with(s, &SINGLETONS)
    })?;
    assert_clean(checker, &cluster);
    Ok(())
}

#[test]
fn bad_input_is_refused_with_its_place_and_changes_nothing() -> Result<()> {
    let (cluster, checker) = quickstart_cluster()?;
    drop(checker);
    let epoch = cluster.status()?["cluster"]["epoch"].clone();
    let bad = cluster.dir.path().join("bad.crm");
    std::fs::write(&bad, "primitive ok wasm:atrium:dummy\nprimitive broken wasm:atrium:dummy op monitor interval=\nlocation\n")?;
    let out = cluster.atrium(&["configure", "load", bad.to_str().unwrap()])?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("bad.crm") && err.contains("line"), "{err}");
    for (args, expect) in [
        (vec!["resource", "move", "nosuch", "node1"], "nosuch"),
        (vec!["resource", "ban", "web", "node9"], "node9"),
        (vec!["node", "standby", "node9"], "node9"),
        (vec!["property", "set", "no-equals-sign"], "NAME=VALUE"),
        (vec!["resource", "cleanup", "nosuch"], "nosuch"),
    ] {
        let out = cluster.atrium(&args)?;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(expect), "{args:?}: {err}");
    }
    assert_eq!(cluster.status()?["cluster"]["epoch"], epoch, "a refused change moved the configuration version");
    Ok(())
}

#[test]
fn a_change_during_a_transition_aborts_it_cleanly() -> Result<()> {
    let cluster = TestCluster::start_online(Options::nodes(3), SETTLE)?;
    // slow2 may start only after slow1, whose start takes 2 s.
    cluster.load(
        "property stonith-enabled=false\n\
         primitive slow1 wasm:atrium:dummy params op_sleep=2 op start timeout=20s op monitor interval=10s timeout=20s\n\
         primitive slow2 wasm:atrium:dummy op monitor interval=10s\n\
         order slow1-then-slow2 Mandatory: slow1 slow2\n",
    )?;
    std::thread::sleep(Duration::from_millis(500));
    // While slow1 starts, slow2 is stopped: the running transition is obsolete.
    cluster.atrium_ok(&["resource", "stop", "slow2"])?;
    let s = cluster.wait_for("slow1 started, slow2 stopped, nothing left to do", SETTLE, |s| {
        node_of(s, "slow1").is_some() && s["cluster"]["idle"] == true
    })?;
    assert_eq!(node_of(&s, "slow2"), None, "slow2 was started after all");
    assert!(cluster.nodes.iter().all(|n| !atrium_tests::checker::active_on(&n.dir, "slow2")), "slow2's agent ran");
    let logs: Vec<String> = cluster.nodes.iter().map(|n| std::fs::read_to_string(n.dir.join("atrium.log")).unwrap_or_default()).collect();
    let starts = logs.iter().flat_map(|l| l.lines()).filter(|l| l.contains("operation done") && l.contains("op=slow1_start_0")).count();
    assert_eq!(starts, 1, "slow1 started {starts} times");
    let slow2_starts = logs.iter().flat_map(|l| l.lines()).filter(|l| l.contains("op=slow2_start_0")).count();
    assert_eq!(slow2_starts, 0, "the obsolete transition went on to start slow2");
    assert!(logs.iter().any(|l| l.contains("aborting transition") && l.contains("the cluster changed")), "no transition was aborted");
    Ok(())
}

#[test]
fn steps_queued_on_a_node_when_the_dc_dies_are_handed_back_and_rerun_by_the_new_dc() -> Result<()> {
    let mut cluster = TestCluster::start_online(Options::nodes(3), SETTLE)?;
    let old_dc = dc(&cluster.status()?).context("no DC")?;
    let busy = cluster.nodes.iter().map(|n| n.name.clone()).find(|n| *n != old_dc).context("a node besides the DC")?;
    // One job at a time on `busy`, every action half a second: most of its starts wait in the
    // transition, dispatched and not started, when the DC goes.
    let rscs: Vec<String> = (1..=6).map(|i| format!("q{i}")).collect();
    let mut config = String::from("property stonith-enabled=false node-action-limit=1\n");
    for r in &rscs {
        config += &format!("primitive {r} wasm:atrium:dummy params op_sleep=0.5 op start timeout=20s op monitor interval=10s timeout=20s\nlocation prefer-{r} {r} 100: {busy}\n");
    }
    cluster.load(&config)?;
    cluster.wait_for("the first start on the busy node", SETTLE, |s| rscs.iter().any(|r| node_of(s, r).is_some()))?;
    cluster.kill(&old_dc)?;
    cluster.wait_for("every resource started by the new DC", SETTLE, |s| {
        dc(s).is_some_and(|d| d != old_dc) && s["cluster"]["idle"] == true && rscs.iter().all(|r| node_of(s, r).as_deref() == Some(busy.as_str()))
    })?;
    let log = std::fs::read_to_string(cluster.nodes.iter().find(|n| n.name == busy).unwrap().dir.join("atrium.log"))?;
    assert!(log.contains("refusing steps from a DC of an older term"), "the busy node had nothing queued when the DC died; the test did not test the hand-back");
    Ok(())
}

//! OCF scripts through the shim: real resource-agents and scripts written by the tests.

mod common;

use atrium_contract::{Action, AgentError, NodeAttributeStore, OcfStatus, OpOutcome, ResourceAgent};
use atrium_ocf_shim::request_from_ocf_env;
use common::{NODE, TestShim, request, wait_gone};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn agent(t: &TestShim, name: &str) -> atrium_ocf_shim::OcfScriptAgent {
    t.shim.resource_agent(&name.parse().unwrap()).unwrap()
}

#[test]
fn heartbeat_dummy_full_cycle() {
    let t = TestShim::system();
    let dummy = agent(&t, "ocf:heartbeat:Dummy");
    let state = t.path("dummy.state");
    let state_s = state.to_str().unwrap();
    let req = |action| request(action, "d1", &[("state", state_s)]);
    let recurring = |action| {
        let mut r = req(action);
        r.interval = Duration::from_secs(10);
        r
    };

    let probe = dummy.execute(&req(Action::Monitor));
    assert_eq!(probe.status, OcfStatus::NotRunning, "{probe:?}");
    assert_eq!(probe.exit_reason, None, "Dummy stays quiet on probes");
    assert_eq!(dummy.execute(&req(Action::Start)).status, OcfStatus::Success);
    assert!(state.exists());
    assert_eq!(dummy.execute(&recurring(Action::Monitor)).status, OcfStatus::Success);
    assert_eq!(dummy.execute(&req(Action::Stop)).status, OcfStatus::Success);
    assert!(!state.exists());
    let stopped = dummy.execute(&recurring(Action::Monitor));
    assert_eq!(stopped.status, OcfStatus::NotRunning);
    assert_eq!(stopped.exit_reason.as_deref(), Some("No process state file found"));
    let unknown = dummy.execute_named("frobnicate", &req(Action::Monitor));
    assert_eq!((unknown.status, unknown.outcome), (OcfStatus::Unimplemented, OpOutcome::Done), "{unknown:?}");

    let md = dummy.meta_data().unwrap();
    assert_eq!(md.name, "Dummy");
    assert!(md.parameter("state").is_some_and(|p| p.unique_group.as_deref() == Some("state")));
}

fn promotion_cycle(t: &TestShim, name: &str, params: &[(&str, &str)]) {
    let st = agent(t, name);
    let attrs = t.attributes();
    let score = || attrs.get(NODE, "master-st").unwrap();
    let req = |action| request(action, "st:0", params);
    let monitor = || {
        let mut r = req(Action::Monitor);
        r.interval = Duration::from_secs(10);
        st.execute(&r).status
    };

    assert_eq!(st.execute(&req(Action::Start)).status, OcfStatus::Success);
    assert_eq!(score().as_deref(), Some("5"), "{name}: start sets the unpromoted score");
    assert_eq!(monitor(), OcfStatus::Success);
    assert_eq!(st.execute(&req(Action::Promote)).status, OcfStatus::Success);
    assert_eq!(score().as_deref(), Some("10"), "{name}: promote sets the promoted score");
    assert_eq!(monitor(), OcfStatus::RunningPromoted);
    assert_eq!(st.execute(&req(Action::Demote)).status, OcfStatus::Success);
    assert_eq!(score().as_deref(), Some("5"));
    assert_eq!(monitor(), OcfStatus::Success);
    assert_eq!(st.execute(&req(Action::Stop)).status, OcfStatus::Success);
    assert_eq!(score(), None, "{name}: stop deletes the score");
    assert_eq!(monitor(), OcfStatus::NotRunning);
}

#[test]
fn pacemaker_stateful_promotion_scores_land_in_the_attribute_file() {
    let t = TestShim::system();
    let state = t.path("st.state");
    promotion_cycle(&t, "ocf:pacemaker:Stateful", &[("state", state.to_str().unwrap())]);
    assert!(t.shim.config().attributes_file.exists());
}

#[test]
fn heartbeat_stateful_through_crm_master_and_crm_attribute() {
    // Without a feature set ocf_promotion_score calls `crm_master -l reboot`, with one >= 3.10
    // `crm_attribute -p`: both helper paths.
    let t = TestShim::system();
    let state = t.path("hb.state");
    let state = state.to_str().unwrap();
    promotion_cycle(&t, "ocf:heartbeat:Stateful", &[("state", state)]);
    promotion_cycle(&t, "ocf:heartbeat:Stateful", &[("state", state), ("crm_feature_set", "3.16.2")]);
}

#[test]
fn heartbeat_anything_runs_and_stops_a_real_process() {
    let t = TestShim::system();
    let anything = agent(&t, "ocf:heartbeat:anything");
    let pidfile = t.path("anything.pid");
    let params = [("binfile", "/bin/sleep"), ("cmdline_options", "1000"), ("pidfile", pidfile.to_str().unwrap())];
    let req = |action| request(action, "sleeper", &params);

    let start = anything.execute(&req(Action::Start));
    assert_eq!(start.status, OcfStatus::Success, "{start:?}");
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    // The agent starts the binary through nohup, which execs it a moment later.
    let cmdline = || std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while cmdline().starts_with("nohup\0") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(cmdline(), "/bin/sleep\x001000\x00");
    assert_eq!(anything.execute(&req(Action::Monitor)).status, OcfStatus::Success);
    assert_eq!(anything.execute(&req(Action::Stop)).status, OcfStatus::Success);
    assert!(wait_gone(pid, Duration::from_secs(5)), "sleep {pid} still running after stop");
    assert_eq!(anything.execute(&req(Action::Monitor)).status, OcfStatus::NotRunning);
}

const HANG: &str = r#"#!/bin/sh
[ "$1" = meta-data ] && { echo '<resource-agent name="hang"/>'; exit 0; }
TRAP
sleep 1000 &
echo $! > "$OCF_RESKEY_childpid"
echo "ocf-exit-reason:waiting for something that never comes" >&2
wait
"#;

fn hang_case(ignore_term: bool) {
    let t = TestShim::private_root();
    let script = HANG.replace("TRAP", if ignore_term { "trap '' TERM" } else { "" });
    let name = t.write_agent("hang", &script);
    let hang = agent(&t, &name);
    let childpid = t.path("child.pid");
    let mut req = request(Action::Start, "h1", &[("childpid", childpid.to_str().unwrap())]);
    req.timeout = Duration::from_secs(2);

    let started = Instant::now();
    let result = hang.execute(&req);
    let elapsed = started.elapsed();
    assert_eq!(result.outcome, OpOutcome::TimedOut, "{result:?}");
    let reason = result.exit_reason.unwrap();
    assert!(
        reason.starts_with("timed out after") && reason.ends_with("waiting for something that never comes"),
        "{reason}"
    );
    assert!(elapsed < 2 * req.timeout, "took {elapsed:?}");
    let child: i32 = std::fs::read_to_string(&childpid).unwrap().trim().parse().unwrap();
    assert!(wait_gone(child, Duration::from_secs(2)), "child {child} survived the group kill");
}

#[test]
fn hanging_agent_is_killed_with_its_child() {
    hang_case(false);
}

#[test]
fn agent_ignoring_sigterm_is_killed_after_the_grace_period() {
    hang_case(true);
}

#[test]
fn exit_reasons_and_codes_outside_the_ocf_set() {
    let t = TestShim::private_root();
    let name = t.write_agent(
        "codes",
        r#"#!/bin/sh
echo "ocf-exit-reason:first try" >&2
echo "some log line" >&2
echo "ocf-exit-reason:disk on fire" >&2
exit "$OCF_RESKEY_code"
"#,
    );
    let codes = agent(&t, &name);
    let run = |code: &str| codes.execute(&request(Action::Monitor, "c", &[("code", code)]));
    let r = run("42");
    assert_eq!((r.status, r.raw_code, r.exit_code()), (OcfStatus::GenericError, Some(42), 42));
    assert_eq!(r.exit_reason.as_deref(), Some("disk on fire"));
    assert_eq!(run("6").status, OcfStatus::NotConfigured);
    assert_eq!(run("190").status, OcfStatus::Degraded);
    assert_eq!(run("191").status, OcfStatus::DegradedPromoted);
    let r = run("255");
    assert_eq!((r.status, r.raw_code), (OcfStatus::GenericError, Some(255)));
}

#[test]
fn garbage_meta_data_is_a_clear_error_naming_the_agent() {
    let t = TestShim::private_root();
    let name = t.write_agent(
        "garbage",
        "#!/bin/sh\necho '<resource-agent name=\"g\">'\necho '  <parameters><oops></parameters>'\n",
    );
    let err = agent(&t, &name).meta_data().unwrap_err();
    let AgentError::MetaData { agent: named, detail } = &err else { panic!("{err}") };
    assert_eq!(named, "ocf:test:garbage");
    assert!(detail.contains("meta-data of ocf:test:garbage (line 2"), "{detail}");

    let name = t.write_agent("failing", "#!/bin/sh\necho 'ocf-exit-reason:cannot describe myself' >&2\nexit 1\n");
    let err = agent(&t, &name).meta_data().unwrap_err().to_string();
    assert_eq!(err, "agent ocf:test:failing: bad meta-data: meta-data failed (exit code 1): cannot describe myself");
}

#[test]
fn missing_agent_is_not_installed() {
    let t = TestShim::private_root();
    let missing = agent(&t, "ocf:test:nope");
    let r = missing.execute(&request(Action::Start, "x", &[]));
    assert_eq!((r.status, r.outcome), (OcfStatus::NotInstalled, OpOutcome::Error));
    let reason = r.exit_reason.unwrap();
    assert!(reason.contains("ocf:test:nope") && reason.contains("resource.d/test/nope: not found"), "{reason}");
    assert!(matches!(missing.meta_data(), Err(AgentError::NotInstalled { .. })));
}

#[test]
fn environment_round_trips_through_a_real_agent() {
    let t = TestShim::private_root();
    let name = t.write_agent("envdump", "#!/bin/sh\nenv > \"$OCF_RESKEY_dump\"\n");
    let dump = t.path("env.txt");
    for action in [Action::Monitor, Action::MigrateTo, Action::Notify] {
        let mut req = request(action.clone(), "web:3", &[("dump", dump.to_str().unwrap()), ("passwd", "top secret")]);
        req.meta.insert("clone_max".into(), "4".into());
        req.meta.insert("notify_active_uname".into(), "node1 node2".into());
        req.meta.insert("notify_promoted_uname".into(), "node2".into());
        req.interval = Duration::from_secs(30);
        req.timeout = Duration::from_millis(45_500);
        req.depth = 20;
        match action {
            Action::MigrateTo => req.migrate_peer = Some("node2".into()),
            Action::Notify => {
                req.notify = Some(atrium_contract::NotifyInfo { phase: "post".into(), operation: "start".into() })
            }
            _ => {}
        }
        assert_eq!(agent(&t, &name).execute(&req).status, OcfStatus::Success);
        let env: BTreeMap<String, String> = std::fs::read_to_string(&dump)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        assert_eq!(env["OCF_RESOURCE_TYPE"], "envdump");
        assert_eq!(env["OCF_RESOURCE_PROVIDER"], "test");
        assert_eq!(env["OCF_RESKEY_CRM_meta_notify_master_uname"], "node2", "old name for old agents");
        assert!(env["PATH"].starts_with(t.shim.config().helper_dir.to_str().unwrap()));
        assert_eq!(request_from_ocf_env(action, &env).unwrap(), req);
    }
}

#[test]
fn discovery_finds_installed_agents() {
    let t = TestShim::system();
    let all: Vec<String> = t.shim.list_agents().unwrap().iter().map(ToString::to_string).collect();
    for expected in [
        "ocf:heartbeat:Dummy",
        "ocf:heartbeat:anything",
        "ocf:pacemaker:Stateful",
        "stonith:fence_ipmilan",
        "stonith:fence_kdump",
    ] {
        assert!(all.iter().any(|a| a == expected), "{expected} missing from {} agents", all.len());
    }
    println!("{} agents listed", all.len());
}

/// Collects formatted tracing output in memory.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn agent_output_goes_to_tracing_in_a_span_per_call() {
    let t = TestShim::private_root();
    let name = t.write_agent("chatty", "#!/bin/sh\necho 'to stdout'\necho 'INFO: to stderr' >&2\n");
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        agent(&t, &name).execute(&request(Action::Start, "c:1", &[]));
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let span = "ocf{agent=ocf:test:chatty instance=c:1 action=\"start\"}";
    assert!(
        log.lines().any(|l| l.contains(span) && l.contains("stream=\"stdout\"") && l.contains("to stdout")),
        "{log}"
    );
    assert!(log.lines().any(|l| l.contains(span) && l.contains(" INFO ") && l.contains("INFO: to stderr")), "{log}");
}

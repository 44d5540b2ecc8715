//! The runtime against real components: the built-in agents' cycles and hostile agents that
//! loop, blow up memory, trap, panic or import what they were not granted.

use atrium_contract::{
    Action, ActionRequest, FileAttributeStore, NodeAttributeStore, OcfStatus, OpOutcome, ResourceAgent, XmlFlavour,
};
use atrium_runtime::{
    AgentEngine, AgentLimits, CacheOutcome, DirStateStore, Grants, HostServices, Manifest, RuntimeConfig, RuntimeError,
    WasmAgent,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Fixture {
    _dir: tempfile::TempDir,
    engine: AgentEngine,
    services: HostServices,
    attrs: Arc<FileAttributeStore>,
}

fn fixture_with(fuel: Option<u64>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = RuntimeConfig::new(dir.path().join("cache"));
    cfg.fuel = fuel;
    cfg.max_instances = 16;
    let engine = AgentEngine::new(cfg).unwrap();
    let attrs = Arc::new(FileAttributeStore::new(dir.path().join("attrs.json")));
    let services = HostServices {
        node_name: "node1".into(),
        state: Arc::new(DirStateStore::new(dir.path().join("state"))),
        attributes: attrs.clone(),
    };
    Fixture { _dir: dir, engine, services, attrs }
}

fn fixture() -> Fixture {
    fixture_with(None)
}

fn load(f: &Fixture, agent: &atrium_agents::BuiltinAgent, grants: Grants, limits: AgentLimits) -> Result<WasmAgent, RuntimeError> {
    let manifest = Manifest::parse(agent.manifest).unwrap();
    WasmAgent::load(&f.engine, agent.name, agent.component, &manifest, grants, f.services.clone(), limits)
}

fn builtin(f: &Fixture, name: &str) -> WasmAgent {
    let a = atrium_agents::find(name).unwrap();
    let m = Manifest::parse(a.manifest).unwrap();
    load(f, a, Grants::benign_from(&m), AgentLimits::default()).unwrap()
}

fn hostile(f: &Fixture, grants: &[&str], limits: AgentLimits) -> Result<WasmAgent, RuntimeError> {
    let mut g = Grants::default();
    for x in grants {
        g.add(x).unwrap();
    }
    load(f, &atrium_agents::HOSTILE, g, limits)
}

fn req(action: Action, instance: &str) -> ActionRequest {
    ActionRequest::new(action, instance)
}

fn monitor(instance: &str, interval_ms: u64) -> ActionRequest {
    ActionRequest { interval: Duration::from_millis(interval_ms), ..req(Action::Monitor, instance) }
}

fn start_with_mode(mode: &str, timeout: Duration) -> ActionRequest {
    let mut r = req(Action::Start, "h1");
    r.params.insert("mode".into(), mode.into());
    r.timeout = timeout;
    r
}

#[test]
fn dummy_cycle_is_idempotent() {
    let f = fixture();
    let d = builtin(&f, "dummy");
    let status = |r: ActionRequest| d.execute(&r).status;
    assert_eq!(status(monitor("d1", 0)), OcfStatus::NotRunning, "probe before start");
    assert_eq!(status(req(Action::Start, "d1")), OcfStatus::Success);
    assert_eq!(status(monitor("d1", 10_000)), OcfStatus::Success);
    assert_eq!(status(req(Action::Start, "d1")), OcfStatus::Success, "start is idempotent");
    assert_eq!(status(monitor("d2", 0)), OcfStatus::NotRunning, "state is per instance");
    assert_eq!(status(req(Action::Stop, "d1")), OcfStatus::Success);
    assert_eq!(status(monitor("d1", 10_000)), OcfStatus::NotRunning);
    assert_eq!(status(req(Action::Stop, "d1")), OcfStatus::Success, "stop is idempotent");
}

#[test]
fn dummy_fail_parameters_fail_only_on_the_named_node() {
    let f = fixture();
    let d = builtin(&f, "dummy");
    let mut start = req(Action::Start, "d1");
    start.params.insert("fail_start_on".into(), "node9,node1".into());
    let r = d.execute(&start);
    assert_eq!(r.status, OcfStatus::GenericError);
    assert!(r.exit_reason.unwrap().contains("fail_start_on"));
    start.params.insert("fail_start_on".into(), "node2".into());
    assert_eq!(d.execute(&start).status, OcfStatus::Success);
    let mut bad = req(Action::Validate, "d1");
    bad.params.insert("op_sleep".into(), "soon".into());
    assert_eq!(d.execute(&bad).status, OcfStatus::NotConfigured);
}

#[test]
fn stateful_promotion_scores_reach_node_attributes() {
    let f = fixture();
    let s = builtin(&f, "stateful");
    let score = || f.attrs.get("node1", "master-st").unwrap();
    let status = |a: Action| s.execute(&req(a, "st:0")).status;
    assert_eq!(status(Action::Promote), OcfStatus::NotRunning, "cannot promote before start");
    assert_eq!(status(Action::Start), OcfStatus::Success);
    assert_eq!(score().as_deref(), Some("5"));
    assert_eq!(s.execute(&monitor("st:0", 11_000)).status, OcfStatus::Success);
    assert_eq!(status(Action::Promote), OcfStatus::Success);
    assert_eq!(score().as_deref(), Some("10"));
    assert_eq!(s.execute(&monitor("st:0", 10_000)).status, OcfStatus::RunningPromoted);
    assert_eq!(status(Action::Demote), OcfStatus::Success);
    assert_eq!(score().as_deref(), Some("5"));
    assert_eq!(s.execute(&monitor("st:0", 11_000)).status, OcfStatus::Success);
    assert_eq!(status(Action::Stop), OcfStatus::Success);
    assert_eq!(score(), None);
    assert_eq!(s.execute(&monitor("st:0", 0)).status, OcfStatus::NotRunning);
}

fn xmllint(args: &[&str], xml: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new("xmllint")
        .args(args)
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("xmllint (Debian package libxml2-utils) is needed for this test");
    child.stdin.take().unwrap().write_all(xml.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn meta_data_validates_as_ocf_xml() {
    let f = fixture();
    let rng = concat!(env!("CARGO_MANIFEST_DIR"), "/../contract/ocf-1.1.rng");
    for name in ["dummy", "stateful"] {
        let md = builtin(&f, name).meta_data().unwrap();
        assert_eq!(md.name, name);
        let out = xmllint(&["--noout", "--relaxng", rng], &md.to_ocf_xml(XmlFlavour::Ocf11));
        assert!(out.status.success(), "{name} OCF 1.1: {}", String::from_utf8_lossy(&out.stderr));
        let out = xmllint(&["--noout", "--dtdvalid", "/usr/share/resource-agents/ra-api-1.dtd"], &md.to_ocf_xml(XmlFlavour::RaApi1Dtd));
        assert!(out.status.success(), "{name} ra-api-1.dtd: {}", String::from_utf8_lossy(&out.stderr));
    }
    let stateful = builtin(&f, "stateful").meta_data().unwrap();
    assert!(stateful.is_promotable());
}

/// After any misbehaviour, a good agent on the same engine still works.
fn assert_host_still_serves(f: &Fixture) {
    let d = builtin(f, "dummy");
    assert_eq!(d.execute(&req(Action::Start, "after")).status, OcfStatus::Success);
    assert_eq!(d.execute(&monitor("after", 1000)).status, OcfStatus::Success);
}

#[test]
fn infinite_loop_times_out_at_the_op_timeout() {
    let f = fixture();
    let h = hostile(&f, &["log", "state", "clock", "exec:true"], AgentLimits::default()).unwrap();
    let timeout = Duration::from_millis(500);
    let started = Instant::now();
    let r = h.execute(&start_with_mode("loop", timeout));
    let took = started.elapsed();
    assert_eq!(r.outcome, OpOutcome::TimedOut, "{r:?}");
    assert!(r.exit_reason.as_deref().unwrap().contains("500 ms timeout"), "{r:?}");
    assert!(took >= timeout && took < timeout * 2, "took {took:?}");
    assert_host_still_serves(&f);
}

#[test]
fn sleeping_past_the_deadline_is_cut_short() {
    let f = fixture();
    let h = hostile(&f, &["log", "state", "clock", "exec:true"], AgentLimits::default()).unwrap();
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let r = h.execute(&start_with_mode("sleep", timeout));
    assert!(started.elapsed() < timeout * 2, "took {:?}", started.elapsed());
    assert_eq!(r.outcome, OpOutcome::TimedOut, "a sleep cut at the deadline ends as a timeout: {r:?}");
}

#[test]
fn sleeping_through_wasi_is_cut_at_the_deadline_too() {
    let f = fixture();
    let h = hostile(&f, &["log", "state", "clock", "exec:true"], AgentLimits::default()).unwrap();
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let r = h.execute(&start_with_mode("wasi-sleep", timeout));
    assert!(started.elapsed() < timeout * 2, "took {:?}", started.elapsed());
    assert_eq!(r.outcome, OpOutcome::TimedOut, "{r:?}");
    assert_host_still_serves(&f);
}

#[test]
fn wasi_http_loads_but_every_request_is_refused() {
    let f = fixture();
    let h = hostile(&f, &["log", "state", "clock", "exec:true"], AgentLimits::default()).unwrap();
    let r = h.execute(&start_with_mode("wasi-http", Duration::from_secs(5)));
    assert_eq!(r.status, OcfStatus::GenericError, "{r:?}");
    assert_eq!(r.exit_reason.as_deref(), Some("wasi:http refused: ErrorCode::HttpRequestDenied"), "{r:?}");
}

#[test]
fn memory_bomb_is_denied_at_the_cap() {
    let f = fixture();
    let h = hostile(&f, &["log", "state", "clock", "exec:true"], AgentLimits { max_memory: 16 << 20 }).unwrap();
    let r = h.execute(&start_with_mode("memory", Duration::from_secs(10)));
    assert_eq!((r.status, r.outcome), (OcfStatus::GenericError, OpOutcome::Error), "{r:?}");
    assert!(r.exit_reason.as_deref().unwrap().contains("memory limit of 16 MiB"), "{r:?}");
    assert_host_still_serves(&f);
}

#[test]
fn trap_and_panic_become_errors_with_reasons() {
    let f = fixture();
    let h = hostile(&f, &["log", "state", "clock", "exec:true"], AgentLimits::default()).unwrap();
    let r = h.execute(&start_with_mode("trap", Duration::from_secs(5)));
    assert_eq!(r.outcome, OpOutcome::Error);
    assert!(r.exit_reason.as_deref().unwrap().contains("trapped"), "{r:?}");
    let r = h.execute(&start_with_mode("panic", Duration::from_secs(5)));
    assert_eq!(r.outcome, OpOutcome::Error);
    let reason = r.exit_reason.unwrap();
    assert!(reason.contains("panics on purpose"), "the panic message is kept: {reason}");
    assert_host_still_serves(&f);
    // The same agent keeps working after its own failures.
    assert_eq!(h.execute(&start_with_mode("ok", Duration::from_secs(5))).status, OcfStatus::Success);
}

#[test]
fn ungranted_capability_fails_to_load_with_its_name() {
    let f = fixture();
    let err = hostile(&f, &["log", "state", "clock"], AgentLimits::default()).err().expect("must not load");
    let msg = err.to_string();
    assert!(matches!(err, RuntimeError::NotGranted { .. }), "{msg}");
    assert!(msg.contains("hostile") && msg.contains("'exec'") && msg.contains("exec:PROGRAM"), "{msg}");
    assert_host_still_serves(&f);
}

#[test]
fn capability_missing_from_the_manifest_is_refused() {
    let f = fixture();
    let a = &atrium_agents::HOSTILE;
    let manifest = Manifest::parse("name = \"hostile\"\nkind = \"resource\"\ncapabilities = [\"log\", \"state\", \"clock\"]\n").unwrap();
    let mut g = Grants::default();
    for grant in ["log", "state", "clock", "exec:true"] {
        g.add(grant).unwrap();
    }
    let err = WasmAgent::load(&f.engine, a.name, a.component, &manifest, g, f.services.clone(), AgentLimits::default())
        .err()
        .unwrap();
    assert!(matches!(err, RuntimeError::Undeclared { .. }), "{err}");
    assert!(err.to_string().contains("'exec' that its manifest does not ask for"), "{err}");
}

#[test]
fn exec_outside_the_allowlist_is_denied_at_call_time() {
    let f = fixture();
    let h = hostile(&f, &["log", "state", "clock", "exec:false"], AgentLimits::default()).unwrap();
    let r = h.execute(&start_with_mode("exec", Duration::from_secs(5)));
    assert_eq!(r.status, OcfStatus::GenericError);
    assert!(r.exit_reason.as_deref().unwrap().contains("denied"), "{r:?}");
    let h = hostile(&f, &["log", "state", "clock", "exec:true"], AgentLimits::default()).unwrap();
    let r = h.execute(&start_with_mode("exec", Duration::from_secs(5)));
    assert_eq!(r.exit_reason.as_deref(), Some("exec ran, code Some(0)"), "{r:?}");
}

#[test]
fn fuel_makes_runaway_loops_deterministic() {
    let f = fixture_with(Some(5_000_000));
    let h = hostile(&f, &["log", "state", "clock", "exec:true"], AgentLimits::default()).unwrap();
    let r = h.execute(&start_with_mode("loop", Duration::from_secs(60)));
    assert!(r.exit_reason.as_deref().unwrap().contains("ran out of fuel"), "{r:?}");
    let d = builtin(&f, "dummy");
    assert_eq!(d.execute(&req(Action::Start, "x")).status, OcfStatus::Success, "a normal action fits the budget");
}

#[test]
fn compiled_components_are_cached_on_disk() {
    let f = fixture();
    let a = atrium_agents::find("dummy").unwrap();
    let m = Manifest::parse(a.manifest).unwrap();
    let first = load(&f, a, Grants::benign_from(&m), AgentLimits::default()).unwrap();
    assert_eq!(first.cache_outcome(), CacheOutcome::Compiled);
    let second = load(&f, a, Grants::benign_from(&m), AgentLimits::default()).unwrap();
    assert_eq!(second.cache_outcome(), CacheOutcome::Hit);
    // A damaged cache entry is replaced, not trusted.
    let cache_dir = f.engine.config().cache_dir.clone();
    for e in std::fs::read_dir(&cache_dir).unwrap() {
        std::fs::write(e.unwrap().path(), b"garbage").unwrap();
    }
    let third = load(&f, a, Grants::benign_from(&m), AgentLimits::default()).unwrap();
    assert_eq!(third.cache_outcome(), CacheOutcome::Compiled);
    assert_eq!(third.execute(&req(Action::Start, "c")).status, OcfStatus::Success);
}

#[test]
fn garbage_bytes_are_not_a_component() {
    let f = fixture();
    let m = Manifest::parse("name = \"junk\"\nkind = \"resource\"\n").unwrap();
    let err = WasmAgent::load(&f.engine, "junk", b"\0asm not really", &m, Grants::default(), f.services.clone(), AgentLimits::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("junk: not a valid WebAssembly component"), "{err}");
}

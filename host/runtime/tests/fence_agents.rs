//! The built-in WASM fence agents through `WasmFenceAgent`: fence-dummy's modes and power
//! state, fence-process killing a real process, stonith-helper against addresses in a private
//! network namespace, and the loader's kind and grant checks.

use atrium_contract::{AgentError, FenceAgent, FenceRequest, FileAttributeStore, PowerState};
use atrium_runtime::{AgentEngine, AgentLimits, DirStateStore, Grants, HostServices, Manifest, RuntimeConfig, RuntimeError, WasmAgent, WasmFenceAgent};
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Fixture {
    _dir: tempfile::TempDir,
    engine: AgentEngine,
    services: HostServices,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = RuntimeConfig::new(dir.path().join("cache"));
    cfg.max_instances = 16;
    let engine = AgentEngine::new(cfg).unwrap();
    let services = HostServices {
        node_name: "node1".into(),
        state: Arc::new(DirStateStore::new(dir.path().join("state"))),
        attributes: Arc::new(FileAttributeStore::new(dir.path().join("attrs.json"))),
    };
    Fixture { _dir: dir, engine, services }
}

/// A built-in fence agent with its benign grants plus `extra`.
fn load(f: &Fixture, name: &str, extra: &[&str]) -> Result<WasmFenceAgent, RuntimeError> {
    let a = atrium_agents::find(name).unwrap();
    let manifest = Manifest::parse(a.manifest).unwrap();
    let mut grants = Grants::benign_from(&manifest);
    for g in extra {
        grants.add(g).unwrap();
    }
    WasmFenceAgent::load(&f.engine, name, a.component, &manifest, grants, f.services.clone(), AgentLimits::default())
}

fn request(device: &str, params: &[(&str, &str)], timeout: Duration) -> FenceRequest {
    let params: BTreeMap<String, String> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    FenceRequest { device: device.into(), params, timeout }
}

fn detail(e: AgentError) -> String {
    match e {
        AgentError::Run { detail, .. } => detail,
        other => panic!("expected AgentError::Run, got {other:?}"),
    }
}

const T: Duration = Duration::from_secs(10);

#[test]
fn fence_dummy_keeps_power_state_per_device() {
    let f = fixture();
    let d = load(&f, "fence-dummy", &[]).unwrap();
    let r = request("fd1", &[("plugs", "node1,node2")], T);
    assert_eq!(d.list(&r).unwrap(), vec!["node1", "node2"]);
    assert_eq!(d.status(&r, "node2").unwrap(), PowerState::On, "a plug is on until fenced");
    d.off(&r, "node2").unwrap();
    assert_eq!(d.status(&r, "node2").unwrap(), PowerState::Off);
    assert_eq!(d.status(&r, "node1").unwrap(), PowerState::On);
    let other = request("fd2", &[], T);
    assert_eq!(d.status(&other, "node2").unwrap(), PowerState::On, "state belongs to the device");
    d.reboot(&r, "node2").unwrap();
    assert_eq!(d.status(&r, "node2").unwrap(), PowerState::On, "reboot ends powered on");
    d.off(&r, "node2").unwrap();
    d.on(&r, "node2").unwrap();
    assert_eq!(d.status(&r, "node2").unwrap(), PowerState::On);
    d.monitor(&r).unwrap();
    let e = detail(d.off(&r, "node3").unwrap_err());
    assert!(e.contains("node3 is not one of this device's plugs"), "{e}");
}

#[test]
fn fence_dummy_fails_as_configured() {
    let f = fixture();
    let d = load(&f, "fence-dummy", &[]).unwrap();
    let all = request("fd", &[("mode", "fail")], T);
    let e = detail(d.off(&all, "node2").unwrap_err());
    assert!(e.contains("off node2") && e.contains("mode fail"), "{e}");
    assert!(d.monitor(&all).is_err());
    // Only off fails: status and reboot work, and the failed off changed nothing.
    let one = request("fd", &[("mode_off", "fail")], T);
    assert!(d.off(&one, "node2").is_err());
    assert_eq!(d.status(&one, "node2").unwrap(), PowerState::On);
    d.reboot(&one, "node2").unwrap();
    let bad = request("fd", &[("mode", "sometimes")], T);
    let e = detail(d.status(&bad, "node2").unwrap_err());
    assert!(e.contains("mode='sometimes'"), "{e}");
}

#[test]
fn fence_dummy_hang_times_out_at_the_request_deadline() {
    let f = fixture();
    let d = load(&f, "fence-dummy", &[]).unwrap();
    let r = request("fd", &[("mode_reboot", "hang")], Duration::from_millis(300));
    let started = Instant::now();
    let e = detail(d.reboot(&r, "node2").unwrap_err());
    let took = started.elapsed();
    assert_eq!(e, "reboot node2 timed out after 300 ms");
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3), "{took:?}");
    d.status(&r, "node2").expect("only reboot hangs");
}

#[test]
fn fence_dummy_meta_data() {
    let f = fixture();
    let md = load(&f, "fence-dummy", &[]).unwrap().meta_data().unwrap();
    assert_eq!(md.name, "fence-dummy");
    let mode = md.parameters.iter().find(|p| p.name == "mode").unwrap();
    assert_eq!(mode.values, vec!["success", "fail", "hang"]);
    assert!(md.parameters.iter().any(|p| p.name == "mode_off"));
    assert!(md.actions.iter().any(|a| a.name == "reboot"));
}

#[test]
fn kinds_are_checked_both_ways() {
    let f = fixture();
    let dummy = atrium_agents::find("dummy").unwrap();
    let m = Manifest::parse(dummy.manifest).unwrap();
    let e = WasmFenceAgent::load(&f.engine, "dummy", dummy.component, &m, Grants::benign_from(&m), f.services.clone(), AgentLimits::default())
        .err()
        .unwrap();
    assert!(e.to_string().contains("kind = \"resource\": it is not a fence agent"), "{e}");
    let fd = atrium_agents::find("fence-dummy").unwrap();
    let m = Manifest::parse(fd.manifest).unwrap();
    let e = WasmAgent::load(&f.engine, "fence-dummy", fd.component, &m, Grants::benign_from(&m), f.services.clone(), AgentLimits::default())
        .err()
        .unwrap();
    assert!(e.to_string().contains("kind = \"fence\": it is not a resource agent"), "{e}");
    // A fence manifest on a resource component: the exports do not match.
    let fake = Manifest { kind: atrium_runtime::AgentKind::Fence, ..Manifest::parse(dummy.manifest).unwrap() };
    let e = WasmFenceAgent::load(&f.engine, "dummy", dummy.component, &fake, Grants::benign_from(&fake), f.services.clone(), AgentLimits::default())
        .err()
        .unwrap();
    assert!(e.to_string().contains("does not export atrium:agent/fence-agent"), "{e}");
}

#[test]
fn exec_agents_need_their_grants() {
    let f = fixture();
    for name in ["fence-process", "stonith-helper"] {
        match load(&f, name, &[]) {
            Err(RuntimeError::NotGranted { capability, .. }) => assert_eq!(capability, "exec"),
            Err(other) => panic!("{name}: {other}"),
            Ok(_) => panic!("{name} loaded without exec"),
        }
    }
    // Granted exec, but not pkill: the call names the allowlist.
    let p = load(&f, "fence-process", &["exec:pgrep"]).unwrap();
    let e = detail(p.off(&request("fp", &[("match", "no-such-process-{plug}")], T), "node2").unwrap_err());
    assert!(e.contains("'pkill' denied"), "{e}");
}

/// A process whose command line carries `marker`, as a node process carries its config path.
fn spawn_marked(marker: &str) -> std::process::Child {
    Command::new("bash").args(["-c", &format!("exec -a {marker} sleep 600")]).spawn().unwrap()
}

#[test]
fn fence_process_kills_the_matching_process() {
    let f = fixture();
    let p = load(&f, "fence-process", &["exec:pkill", "exec:pgrep"]).unwrap();
    let tag = format!("atrium-fence-test-{}", std::process::id());
    let mut victim = spawn_marked(&format!("{tag}-node2.x"));
    let mut bystander = spawn_marked(&format!("{tag}-node2yx"));
    let r = request("fp", &[("match", &format!("{tag}-{{plug}}"))], T);
    // Wait until bash has become the marked sleep.
    let deadline = Instant::now() + Duration::from_secs(5);
    while p.status(&r, "node2.x").unwrap() != PowerState::On {
        assert!(Instant::now() < deadline, "the marked process never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    p.off(&r, "node2.x").unwrap();
    let status = victim.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(p.status(&r, "node2.x").unwrap(), PowerState::Off);
    assert!(bystander.try_wait().unwrap().is_none(), "'.' in the target matched another character");
    p.off(&r, "node2.x").expect("off is idempotent");
    let e = detail(p.on(&r, "node2.x").unwrap_err());
    assert!(e.contains("cannot power on"), "{e}");
    let e = detail(p.off(&r, "node.*").unwrap_err());
    assert!(e.contains("contains '*'"), "{e}");
    let e = detail(p.off(&request("fp", &[("match", &tag)], T), "node2").unwrap_err());
    assert!(e.contains("must contain {plug}"), "{e}");
    p.monitor(&r).unwrap();
    bystander.kill().unwrap();
    bystander.wait().unwrap();
}

/// Runs `f` on a thread in a network namespace of its own: loopback up, and 10.213.0.1/24 on
/// one end of a veth pair whose other end has no address, so 10.213.0.2 never answers. No
/// packet leaves the namespace. `None` when namespaces or the tools are unavailable.
fn in_private_netns<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Option<R> {
    std::thread::spawn(move || {
        // SAFETY: unshare(2) on this thread only; it owns no file descriptors tied to the old namespace.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            eprintln!("SKIP: cannot create a network namespace: {}", std::io::Error::last_os_error());
            return None;
        }
        let setup = [
            "link set lo up",
            "link add atr-fence0 type veth peer name atr-fence1",
            "addr add 10.213.0.1/24 dev atr-fence0",
            "link set atr-fence0 up",
            "link set atr-fence1 up",
        ];
        for args in setup {
            match Command::new("ip").args(args.split(' ')).status() {
                Ok(s) if s.success() => {}
                other => {
                    eprintln!("SKIP: ip {args}: {other:?}");
                    return None;
                }
            }
        }
        Some(f())
    })
    .join()
    .unwrap()
}

fn have(program: &str) -> bool {
    Command::new(program).arg("-V").output().is_ok()
}

#[test]
fn stonith_helper_succeeds_only_when_the_target_is_gone() {
    if !have("ping") || !have("ip") {
        eprintln!("SKIP: stonith-helper tests need ping (iputils-ping) and ip (iproute2)");
        return;
    }
    let f = fixture();
    let ran = in_private_netns(move || {
        let h = load(&f, "stonith-helper", &["exec:ping", "exec:true", "exec:false"]).unwrap();
        let helper = |targets: &str, extra: &[(&str, &str)]| {
            let mut params = vec![("hostlist", "vm01 vm02"), ("dead_check_target", targets)];
            params.extend_from_slice(extra);
            request("prmStonithHelper1", &params, T)
        };
        // Gone: no address answers, so the level succeeds without powering anything.
        let dead = helper("10.213.0.2", &[]);
        h.off(&dead, "vm01").unwrap();
        h.reboot(&dead, "vm01").unwrap();
        assert_eq!(h.status(&dead, "vm01").unwrap(), PowerState::Off);
        // One address still answers: alive.
        let half = helper("10.213.0.2 127.0.0.1", &[("standby_check_command", "true")]);
        let e = detail(h.off(&half, "vm01").unwrap_err());
        assert!(e.contains("vm01 still answers at 127.0.0.1") && e.contains("active side, no wait"), "{e}");
        assert_eq!(h.status(&half, "vm01").unwrap(), PowerState::On);
        // The standby side waits before failing, so the active side shoots first.
        let standby = helper("127.0.0.1", &[("standby_check_command", "false"), ("standby_wait_time", "0.5")]);
        let started = Instant::now();
        let e = detail(h.reboot(&standby, "vm02").unwrap_err());
        assert!(started.elapsed() >= Duration::from_millis(500), "{:?}", started.elapsed());
        assert!(e.contains("standby and waited 500 ms"), "{e}");
        let no_wait = helper("127.0.0.1", &[("standby_check_command", "false"), ("run_standby_wait", "no")]);
        let e = detail(h.off(&no_wait, "vm02").unwrap_err());
        assert!(e.contains("run_standby_wait is off"), "{e}");
        // Configuration errors name the parameter.
        let e = detail(h.off(&helper("10.213.0.2", &[]), "vm03").unwrap_err());
        assert!(e.contains("vm03 is not in hostlist"), "{e}");
        let e = detail(h.monitor(&helper("node-a", &[])).unwrap_err());
        assert!(e.contains("dead_check_target: 'node-a' is not an IP address"), "{e}");
        h.monitor(&dead).unwrap();
        assert_eq!(h.list(&dead).unwrap(), vec!["vm01", "vm02"]);
    });
    if ran.is_none() {
        eprintln!("SKIP: stonith-helper needs a private network namespace (run as root)");
    }
}

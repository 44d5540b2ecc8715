//! One agent action, WASM against the shell: warm `monitor` on the WASM dummy (fresh store per
//! action), loading a component from the on-disk cache, compiling it from .wasm, and
//! fork+exec of Debian's resource-agents Dummy doing the same monitor.
//!
//! `cargo bench -p atrium-runtime --bench agent_action` runs criterion, then prints a table of
//! medians and p99 from a separate timed pass (the figures in docs/benchmarks.md).

use atrium_contract::{Action, ActionRequest, FileAttributeStore, OcfStatus, ResourceAgent};
use atrium_runtime::{AgentEngine, AgentLimits, DirStateStore, Grants, HostServices, Manifest, RuntimeConfig, WasmAgent};
use criterion::Criterion;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SHELL_DUMMY: &str = "/usr/lib/ocf/resource.d/heartbeat/Dummy";

struct Setup {
    dir: tempfile::TempDir,
    engine: AgentEngine,
    services: HostServices,
    manifest: Manifest,
    component: &'static [u8],
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let engine = AgentEngine::new(RuntimeConfig::new(dir.path().join("cache"))).unwrap();
    let services = HostServices {
        node_name: "bench".into(),
        state: Arc::new(DirStateStore::new(dir.path().join("state"))),
        attributes: Arc::new(FileAttributeStore::new(dir.path().join("attrs.json"))),
    };
    let a = atrium_agents::find("dummy").unwrap();
    Setup { dir, engine, services, manifest: Manifest::parse(a.manifest).unwrap(), component: a.component }
}

impl Setup {
    fn load(&self, engine: &AgentEngine) -> WasmAgent {
        WasmAgent::load(engine, "dummy", self.component, &self.manifest, Grants::benign_from(&self.manifest), self.services.clone(), AgentLimits::default())
            .unwrap()
    }
}

fn monitor_request() -> ActionRequest {
    ActionRequest { interval: Duration::from_secs(10), ..ActionRequest::new(Action::Monitor, "bench") }
}

fn shell_monitor(state_file: &Path) -> i32 {
    Command::new(SHELL_DUMMY)
        .arg("monitor")
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("OCF_ROOT", "/usr/lib/ocf")
        .env("OCF_RESOURCE_INSTANCE", "bench")
        .env("OCF_RESKEY_state", state_file)
        .env("OCF_RESKEY_CRM_meta_interval", "10000")
        .env("OCF_RESKEY_CRM_meta_timeout", "20000")
        .status()
        .unwrap()
        .code()
        .unwrap_or(-1)
}

/// Median and p99 of `n` timed runs, after `warm` untimed ones.
fn sample(n: usize, warm: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    for _ in 0..warm {
        f();
    }
    let mut t: Vec<Duration> = (0..n)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed()
        })
        .collect();
    t.sort();
    (t[n / 2], t[(n * 99 / 100).min(n - 1)])
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_millis(1) { format!("{:.1} us", d.as_secs_f64() * 1e6) } else { format!("{:.2} ms", d.as_secs_f64() * 1e3) }
}

fn main() {
    let s = setup();
    let agent = s.load(&s.engine);
    assert_eq!(agent.execute(&ActionRequest::new(Action::Start, "bench")).status, OcfStatus::Success);
    let req = monitor_request();
    let state_file = s.dir.path().join("shell-dummy.state");
    std::fs::write(&state_file, "").unwrap();
    let have_shell = Path::new(SHELL_DUMMY).exists();
    if have_shell {
        assert_eq!(shell_monitor(&state_file), 0, "the shell Dummy must report running");
    }

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("wasm_dummy_monitor_fresh_store", |b| b.iter(|| agent.execute(&req)));
    c.bench_function("wasm_load_from_cache", |b| b.iter(|| s.load(&s.engine)));
    {
        let mut g = c.benchmark_group("slow");
        g.sample_size(10);
        g.bench_function("wasm_compile_from_wasm", |b| {
            b.iter(|| {
                let fresh = tempfile::tempdir().unwrap();
                let engine = AgentEngine::new(RuntimeConfig::new(fresh.path())).unwrap();
                s.load(&engine)
            })
        });
        if have_shell {
            g.bench_function("shell_dummy_monitor_fork_exec", |b| b.iter(|| shell_monitor(&state_file)));
        }
        g.finish();
    }
    c.final_summary();

    // The table: our own timed pass, so medians and p99 come from the same samples.
    let mut rows = vec![
        ("WASM dummy monitor, fresh store per action", sample(20_000, 2_000, || assert_eq!(agent.execute(&req).status, OcfStatus::Success))),
        ("WASM dummy: load from the on-disk cache (InstancePre ready)", sample(500, 50, || drop(s.load(&s.engine)))),
        (
            "WASM dummy: compile from .wasm (cold, empty cache)",
            sample(10, 1, || {
                let fresh = tempfile::tempdir().unwrap();
                let engine = AgentEngine::new(RuntimeConfig::new(fresh.path())).unwrap();
                drop(s.load(&engine));
            }),
        ),
    ];
    if have_shell {
        rows.push(("shell Dummy monitor (fork+exec, resource-agents)", sample(300, 20, || assert_eq!(shell_monitor(&state_file), 0))));
    }
    println!("\n| case | median | p99 |\n|---|---:|---:|");
    for (name, (median, p99)) in &rows {
        println!("| {name} | {} | {} |", fmt(*median), fmt(*p99));
    }
    if have_shell {
        let ratio = rows[3].1.0.as_secs_f64() / rows[0].1.0.as_secs_f64();
        println!("\nshell Dummy monitor / WASM dummy monitor (medians): {ratio:.0}x");
    }
}

//! Shim overhead per action: heartbeat/Dummy monitor through `OcfScriptAgent::execute` versus
//! running the same script directly (`std::process::Command::output`, same environment).
//! Calls alternate between the two so machine noise hits both alike.
//!
//! `CARGO_TARGET_DIR=/work/cache/target-shim cargo bench -p atrium-ocf-shim --bench shim_overhead [-- ITERATIONS]`

use atrium_contract::{Action, ActionRequest, OcfStatus, ResourceAgent};
use atrium_ocf_shim::{ScriptIdentity, Shim, ShimConfig, ocf_environment};
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let iterations: usize =
        std::env::args().skip(1).find(|a| !a.starts_with('-')).and_then(|a| a.parse().ok()).unwrap_or(300);
    let dir = tempfile::tempdir().unwrap();
    let shim = Shim::new(ShimConfig::new("/bin/false", dir.path(), "node1")).unwrap();
    let dummy = shim.resource_agent(&"ocf:heartbeat:Dummy".parse().unwrap()).unwrap();
    let state = dir.path().join("dummy.state");
    let mut req = ActionRequest::new(Action::Monitor, "bench");
    req.params.insert("state".into(), state.display().to_string());
    req.interval = Duration::from_secs(10);
    assert_eq!(dummy.execute(&ActionRequest { action: Action::Start, ..req.clone() }).status, OcfStatus::Success);

    let env = ocf_environment(&req, ScriptIdentity { provider: "heartbeat", kind: "Dummy" }, shim.config());
    let direct = || {
        let t = Instant::now();
        let out =
            Command::new(dummy.script_path()).arg("monitor").env_clear().envs(&env).current_dir("/").output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        t.elapsed()
    };
    let through_shim = || {
        let t = Instant::now();
        assert_eq!(dummy.execute(&req).status, OcfStatus::Success);
        t.elapsed()
    };
    for _ in 0..20 {
        direct();
        through_shim();
    }
    let (mut d, mut s) = (Vec::with_capacity(iterations), Vec::with_capacity(iterations));
    for _ in 0..iterations {
        d.push(direct());
        s.push(through_shim());
    }
    let (d, s) = (Stats::of(d), Stats::of(s));
    println!("heartbeat/Dummy monitor, {iterations} calls each, interleaved\n");
    println!("| path | mean | median | p95 | min |");
    println!("|---|---|---|---|---|");
    for (name, st) in [("direct (Command::output)", &d), ("shim (OcfScriptAgent::execute)", &s)] {
        println!("| {name} | {} | {} | {} | {} |", ms(st.mean), ms(st.median), ms(st.p95), ms(st.min));
    }
    println!(
        "| **added by the shim** | {} | {} | {} | {} |",
        delta(s.mean, d.mean),
        delta(s.median, d.median),
        delta(s.p95, d.p95),
        delta(s.min, d.min)
    );
}

struct Stats {
    mean: Duration,
    median: Duration,
    p95: Duration,
    min: Duration,
}

impl Stats {
    fn of(mut v: Vec<Duration>) -> Stats {
        v.sort();
        let n = v.len();
        Stats {
            mean: v.iter().sum::<Duration>() / n as u32,
            median: v[n / 2],
            p95: v[(n * 95 / 100).min(n - 1)],
            min: v[0],
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn delta(a: Duration, b: Duration) -> String {
    format!("{:+.3} ms", (a.as_secs_f64() - b.as_secs_f64()) * 1000.0)
}

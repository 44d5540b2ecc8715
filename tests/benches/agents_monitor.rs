//! Monitor latency of the WASM agents that reach real services, against the shell agents
//! they replace through the OCF shim: wasm:atrium:docker vs ocf:heartbeat:docker (which runs
//! the docker CLI) on one running container, and wasm:atrium:virtual-domain vs
//! ocf:heartbeat:VirtualDomain on one domain of libvirt's test driver. Agents run in this
//! process, as the node's executor runs them, so process start-up is not counted.
//!
//! `cargo bench -p atrium-tests --bench agents_monitor [-- --rounds 50]`

use anyhow::{Context, Result, bail};
use std::sync::Arc;
use std::time::{Duration, Instant};

use atrium_contract::{Action, ActionRequest, AgentAddress, FileAttributeStore, OcfStatus, ResourceAgent};
use atrium_ocf_shim::{Shim, ShimConfig};
use atrium_runtime::{AgentEngine, AgentLimits, DirStateStore, Grants, HostServices, Manifest, RuntimeConfig, WasmAgent};
use atrium_tests::libvirt::{Libvirtd, write_domain_xml};
use atrium_tests::{atrium_bin, docker};

struct Agents {
    dir: tempfile::TempDir,
    engine: AgentEngine,
    services: HostServices,
    shim: Shim,
}

impl Agents {
    fn new() -> Result<Agents> {
        let dir = tempfile::Builder::new().prefix("atrium-bench-").tempdir()?;
        let engine = AgentEngine::new(RuntimeConfig::new(dir.path().join("cache")))?;
        let attributes = dir.path().join("attributes.json");
        let services = HostServices {
            node_name: "bench".into(),
            state: Arc::new(DirStateStore::new(dir.path().join("state"))),
            attributes: Arc::new(FileAttributeStore::new(attributes)),
        };
        let shim = Shim::new(ShimConfig::new(atrium_bin()?, dir.path(), "bench"))?;
        Ok(Agents { dir, engine, services, shim })
    }

    fn wasm(&self, name: &str, grants: &[&str]) -> Result<Box<dyn ResourceAgent>> {
        let builtin = atrium_agents::find(name).with_context(|| format!("no built-in agent {name}"))?;
        let manifest = Manifest::parse(builtin.manifest)?;
        let mut g = Grants::benign_from(&manifest);
        for grant in grants {
            g.add(grant)?;
        }
        Ok(Box::new(WasmAgent::load(&self.engine, &format!("wasm:atrium:{name}"), builtin.component, &manifest, g, self.services.clone(), AgentLimits::default())?))
    }

    fn ocf(&self, address: &str) -> Result<Box<dyn ResourceAgent>> {
        let addr: AgentAddress = address.parse()?;
        Ok(Box::new(self.shim.resource_agent(&addr)?))
    }
}

fn request(action: Action, params: &[(&str, &str)], interval: Duration) -> ActionRequest {
    let mut r = ActionRequest::new(action, "bench1");
    r.params = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    r.timeout = Duration::from_secs(60);
    r.interval = interval;
    r
}

/// Monitor latencies in milliseconds; every monitor must say "running".
fn time_monitors(agent: &dyn ResourceAgent, params: &[(&str, &str)], rounds: usize) -> Result<Vec<f64>> {
    let req = request(Action::Monitor, params, Duration::from_secs(10));
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let r = agent.execute(&req);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if r.status != OcfStatus::Success {
            bail!("monitor said {:?}: {:?}", r.status, r.exit_reason);
        }
    }
    Ok(times)
}

fn row(label: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pick = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    println!("| {label:<44} | {:>4} | {:>8.2} | {:>8.2} | {:>8.2} | {:>8.2} |", ms.len(), pick(0.5), pick(0.9), mean, pick(1.0));
}

fn docker_rows(agents: &Agents, rounds: usize) -> Result<()> {
    if docker::engine()?.is_none() {
        println!("| docker rows skipped: no Docker Engine socket | | | | | |");
        return Ok(());
    }
    let image = docker::ensure_test_image()?;
    let name = format!("atrium-bench-{}", std::process::id());
    docker::remove(&name);
    let params = [("image", image), ("name", name.as_str())];
    let wasm = agents.wasm("docker", &[docker::GRANT])?;
    let started = wasm.execute(&request(Action::Start, &params, Duration::ZERO));
    if started.status != OcfStatus::Success {
        bail!("starting the bench container: {:?}", started.exit_reason);
    }
    let ocf = agents.ocf("ocf:heartbeat:docker")?;
    let result = (|| -> Result<()> {
        row("wasm:atrium:docker (Engine API, unix socket)", time_monitors(wasm.as_ref(), &params, rounds)?);
        row("ocf:heartbeat:docker (shim, docker CLI)", time_monitors(ocf.as_ref(), &params, rounds)?);
        Ok(())
    })();
    docker::remove(&name);
    result
}

fn libvirt_rows(agents: &Agents, rounds: usize) -> Result<()> {
    let lv = Libvirtd::start(&agents.dir.path().join("libvirt"))?;
    let xml = agents.dir.path().join("bench1.xml");
    write_domain_xml(&xml, "bench1", false)?;
    let config = xml.to_str().context("path")?;
    let params = [("hypervisor", lv.uri.as_str()), ("config", config), ("domain", "bench1")];
    let wasm = agents.wasm("virtual-domain", &["exec:virsh"])?;
    let started = wasm.execute(&request(Action::Start, &params, Duration::ZERO));
    if started.status != OcfStatus::Success {
        bail!("starting the bench domain: {:?}", started.exit_reason);
    }
    let ocf = agents.ocf("ocf:heartbeat:VirtualDomain")?;
    row("wasm:atrium:virtual-domain (virsh via exec)", time_monitors(wasm.as_ref(), &params, rounds)?);
    row("ocf:heartbeat:VirtualDomain (shim)", time_monitors(ocf.as_ref(), &params[..2], rounds)?);
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let rounds = match args.iter().position(|a| a == "--rounds") {
        Some(i) => args.get(i + 1).context("--rounds needs a number")?.parse().context("--rounds")?,
        None => 30,
    };
    let agents = Agents::new()?;
    println!("monitor latency, {rounds} monitors each (after one warm-up start), milliseconds\n");
    println!("| agent                                        |    n |   median |      p90 |     mean |      max |");
    println!("|----------------------------------------------|-----:|---------:|---------:|---------:|---------:|");
    docker_rows(&agents, rounds)?;
    libvirt_rows(&agents, rounds)?;
    Ok(())
}

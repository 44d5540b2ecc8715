//! `atrium agent list | meta-data | info | run | ocf-wrap`.

use super::OutputFormat;
use crate::paths;
use crate::registry::AgentRegistry;
use anyhow::{Context, Result, bail};
use atrium_contract::{Action, ActionRequest, AgentAddress, AgentClass, FenceRequest, OcfStatus, OpResult, PowerState, XmlFlavour};
use clap::{Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Flavour {
    /// OCF 1.1 (unique-group, reloadable).
    Ocf11,
    /// OCF 1.0 with the ra-api-1.dtd DOCTYPE, as ocf-tester validates.
    Dtd,
}

#[derive(Subcommand)]
pub enum AgentCommand {
    /// List WASM agents, OCF resource agents and fence agents.
    List,
    /// Print an agent's meta-data as OCF XML.
    MetaData {
        /// `dummy`, `wasm:atrium:dummy`, `ocf:heartbeat:Dummy`, ...
        agent: String,
        #[arg(long, value_enum, default_value_t = Flavour::Ocf11)]
        flavour: Flavour,
        /// Grants a WASM agent needs to load (exec:ping for stonith-helper, ...).
        #[arg(long = "grant")]
        grants: Vec<String>,
    },
    /// Show what a WASM agent asks of the host and what it is granted.
    Info {
        agent: String,
        /// Extra grants: CAPABILITY, exec:PROGRAM or http:ENDPOINT.
        #[arg(long = "grant")]
        grants: Vec<String>,
    },
    /// Run one action and exit with its OCF code. A fence agent (`stonith:fence-dummy`,
    /// `stonith:fence_ipmilan`, ...) runs on, off, reboot, status, list, monitor or metadata on
    /// `--plug` with the device parameters in `--param`, and exits as fence-agents do: 0
    /// success (status: on), 2 status off, 1 error.
    Run {
        agent: String,
        /// start, stop, monitor, promote, demote, migrate_to, migrate_from, notify, reload,
        /// validate-all, meta-data.
        action: String,
        /// Fence target (port/plug) for a fence agent's on, off, reboot and status.
        #[arg(long)]
        plug: Option<String>,
        /// Instance parameter NAME=VALUE (repeatable).
        #[arg(long = "param", short = 'p')]
        params: Vec<String>,
        /// Meta value NAME=VALUE without the CRM_meta_ prefix (repeatable).
        #[arg(long = "meta")]
        meta: Vec<String>,
        /// Action timeout (20s, 500ms, 1min ...).
        #[arg(long, default_value = "20s")]
        timeout: String,
        /// Monitor interval; 0 is a probe.
        #[arg(long, default_value = "0")]
        interval: String,
        /// Monitor depth (OCF_CHECK_LEVEL).
        #[arg(long, default_value_t = 0)]
        depth: u32,
        /// Resource instance name, or a fence agent's device name (default: the agent's type).
        #[arg(long)]
        instance: Option<String>,
        /// Node name the agent sees (default: this host's name).
        #[arg(long)]
        node: Option<String>,
        /// Peer node for migrate_to (target) and migrate_from (source).
        #[arg(long)]
        peer: Option<String>,
        /// Extra grants for a WASM agent: CAPABILITY, exec:PROGRAM or http:ENDPOINT.
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// Take parameters, instance, timeout, interval and depth from the OCF environment
        /// (OCF_RESKEY_*), as when called through an `ocf-wrap` wrapper.
        #[arg(long)]
        ocf_env: bool,
    },
    /// Write an executable OCF wrapper that runs an agent through Atrium, so OCF tools
    /// (ocf-tester, Pacemaker) can drive a WASM agent, or an OCF script through the shim.
    OcfWrap {
        agent: String,
        /// Write the wrapper there, executable (for example
        /// /usr/lib/ocf/resource.d/atrium/dummy); without it the script is printed.
        #[arg(long)]
        install: Option<PathBuf>,
        /// Grants the wrapper passes to a WASM agent: exec:PROGRAM, http:ENDPOINT ...
        #[arg(long = "grant")]
        grants: Vec<String>,
    },
}

impl AgentCommand {
    pub fn only_prints(&self) -> bool {
        !matches!(self, AgentCommand::Run { .. })
    }
}

/// An agent that cannot be made ready answers like an OCF agent would: a missing grant or a
/// bad manifest is "not configured" (6), anything else "not installed" (5). A probe then reads
/// as "cannot run here" rather than as a failure to recover from.
fn load_failure(e: anyhow::Error) -> OpResult {
    use atrium_runtime::RuntimeError as R;
    let status = match e.downcast_ref::<R>() {
        Some(R::NotGranted { .. } | R::Undeclared { .. } | R::Manifest { .. }) => OcfStatus::NotConfigured,
        _ => OcfStatus::NotInstalled,
    };
    OpResult::failed(status, format!("{e:#}"))
}

fn parse_kv(items: &[String], what: &str) -> Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("--{what} '{kv}': expected NAME=VALUE"),
        })
        .collect()
}

fn parse_duration(flag: &str, value: &str) -> Result<Duration> {
    let ms = atrium_cib::duration::parse_duration_ms(value).with_context(|| format!("--{flag} {value}"))?;
    Ok(Duration::from_millis(ms))
}

fn address(agent: &str) -> Result<AgentAddress> {
    agent.parse::<AgentAddress>().with_context(|| format!("agent '{agent}'"))
}

fn registry(data_dir: Option<&Path>, node: Option<&str>) -> Result<AgentRegistry> {
    let dir = paths::data_dir(data_dir);
    let node = node.map(str::to_string).unwrap_or_else(paths::host_name);
    AgentRegistry::new(&dir, &node, &paths::component_cache_dir(&dir))
}

fn print_result(agent: &AgentAddress, action: &str, r: &OpResult, output: OutputFormat) {
    match output {
        OutputFormat::Json => {
            let v = serde_json::json!({
                "agent": agent.to_string(), "action": action, "rc": r.exit_code(),
                "status": r.status, "outcome": r.outcome, "exit_reason": r.exit_reason,
            });
            println!("{v}");
        }
        OutputFormat::Text => {
            let reason = r.exit_reason.as_deref().map(|s| format!(" ({s})")).unwrap_or_default();
            let outcome = match r.outcome {
                atrium_contract::OpOutcome::Done => String::new(),
                other => format!(" [{}]", serde_json::to_value(other).unwrap().as_str().unwrap_or_default()),
            };
            println!("{agent} {action}: rc={} {}{outcome}{reason}", r.exit_code(), r.status);
        }
    }
}

/// The type of a fence agent named `stonith:TYPE` (TYPE may be `external/stonith-helper`,
/// which is not a valid address part).
fn fence_type(agent: &str) -> Option<&str> {
    agent.strip_prefix("stonith:")
}

/// One `atrium agent run` of a fence agent.
struct FenceCall {
    device: String,
    action: String,
    plug: Option<String>,
    params: BTreeMap<String, String>,
    timeout: Duration,
}

/// What a fence call answered, for printing and the exit code.
enum FenceAnswer {
    Done,
    Power(PowerState),
    Plugs(Vec<String>),
    MetaData(String),
}

/// Runs a fence action and exits as fence-agents executables do: 0 success (and status on),
/// 2 status off, 1 any error.
fn run_fence(reg: &AgentRegistry, agent: &str, grants: &[String], call: FenceCall, output: OutputFormat) -> Result<ExitCode> {
    let req = FenceRequest { device: call.device.clone(), params: call.params.clone(), timeout: call.timeout };
    let plug = || {
        call.plug.as_deref().with_context(|| format!("{} needs the target: --plug NAME", call.action))
    };
    let answer = reg.fence_agent(agent, grants).and_then(|fa| {
        Ok(match call.action.as_str() {
            "on" => fa.on(&req, plug()?).map(|_| FenceAnswer::Done)?,
            "off" => fa.off(&req, plug()?).map(|_| FenceAnswer::Done)?,
            "reboot" => fa.reboot(&req, plug()?).map(|_| FenceAnswer::Done)?,
            "status" => FenceAnswer::Power(fa.status(&req, plug()?)?),
            "list" => FenceAnswer::Plugs(fa.list(&req)?),
            "monitor" => fa.monitor(&req).map(|_| FenceAnswer::Done)?,
            "metadata" | "meta-data" => FenceAnswer::MetaData(fa.meta_data()?.to_ocf_xml(XmlFlavour::Ocf11)),
            other => bail!("unknown fence action '{other}' (on, off, reboot, status, list, monitor, metadata)"),
        })
    });
    let rc: u8 = match &answer {
        Ok(FenceAnswer::Power(PowerState::Off)) => 2,
        Ok(FenceAnswer::Power(PowerState::Unknown)) | Err(_) => 1,
        Ok(_) => 0,
    };
    let target = call.plug.as_deref().map(|p| format!(" {p}")).unwrap_or_default();
    match (output, &answer) {
        (_, Ok(FenceAnswer::MetaData(xml))) => print!("{xml}"),
        (OutputFormat::Json, _) => {
            let mut v = serde_json::json!({"agent": agent, "device": call.device, "action": call.action, "plug": call.plug, "rc": rc});
            match &answer {
                Ok(FenceAnswer::Power(p)) => v["power"] = serde_json::to_value(p)?,
                Ok(FenceAnswer::Plugs(list)) => v["plugs"] = serde_json::to_value(list)?,
                Err(e) => v["error"] = format!("{e:#}").into(),
                _ => {}
            }
            println!("{v}");
        }
        (OutputFormat::Text, Ok(FenceAnswer::Power(p))) => {
            println!("{agent} status{target}: {}", serde_json::to_value(p)?.as_str().unwrap_or_default())
        }
        (OutputFormat::Text, Ok(FenceAnswer::Plugs(list))) => println!("{agent} list: {}", list.join(" ")),
        (OutputFormat::Text, Ok(_)) => println!("{agent} {}{target}: ok", call.action),
        (OutputFormat::Text, Err(e)) => println!("{agent} {}{target}: rc=1 ({e:#})", call.action),
    }
    Ok(ExitCode::from(rc))
}

pub fn run(cmd: AgentCommand, data_dir: Option<&Path>, output: OutputFormat) -> Result<ExitCode> {
    match cmd {
        AgentCommand::List => {
            let all = registry(data_dir, None)?.list()?;
            match output {
                OutputFormat::Json => {
                    let v: Vec<_> = all
                        .iter()
                        .map(|a| serde_json::json!({"agent": a.to_string(), "class": a.class, "provider": a.provider, "type": a.kind}))
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&v)?);
                }
                OutputFormat::Text => {
                    for a in &all {
                        println!("{a}");
                    }
                    let wasm = all.iter().filter(|a| a.class == AgentClass::Wasm).count();
                    let ocf = all.iter().filter(|a| a.class == AgentClass::Ocf).count();
                    let fence = all.len() - wasm - ocf;
                    eprintln!("{wasm} WASM agents, {ocf} OCF resource agents, {fence} fence agents");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AgentCommand::MetaData { agent, flavour, grants } => {
            let md = match fence_type(&agent) {
                Some(_) => registry(data_dir, None)?.fence_agent(&agent, &grants)?.meta_data()?,
                None => registry(data_dir, None)?.resource_agent(&address(&agent)?, &grants)?.meta_data()?,
            };
            let flavour = match flavour {
                Flavour::Ocf11 => XmlFlavour::Ocf11,
                Flavour::Dtd => XmlFlavour::RaApi1Dtd,
            };
            match output {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&md)?),
                OutputFormat::Text => print!("{}", md.to_ocf_xml(flavour)),
            }
            Ok(ExitCode::SUCCESS)
        }
        AgentCommand::Info { agent, grants } => {
            let addr = address(&agent)?;
            if addr.class == AgentClass::Ocf {
                bail!("{addr} is an OCF script: it runs with the node's privileges and has no capability manifest");
            }
            let reg = registry(data_dir, None)?;
            let (_, info) = reg.wasm_info(&addr, &grants)?;
            let caps = |set: &std::collections::BTreeSet<atrium_runtime::Capability>| {
                set.iter().map(|c| c.name().to_string()).collect::<Vec<_>>()
            };
            let asked_exec = info.manifest.exec.clone();
            let asked_http: Vec<String> = info.manifest.http.iter().map(|e| e.to_string()).collect();
            let granted_exec: Vec<String> = info.grants.exec.iter().cloned().collect();
            let granted_http: Vec<String> = info.grants.http.iter().map(|e| e.to_string()).collect();
            let missing: Vec<String> = info.manifest.capabilities.difference(&info.grants.capabilities).map(|c| c.name().to_string()).collect();
            match output {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "agent": addr.to_string(), "description": info.manifest.description,
                        "asks": {"capabilities": caps(&info.manifest.capabilities), "exec": asked_exec, "http": asked_http},
                        "granted": {"capabilities": caps(&info.grants.capabilities), "exec": granted_exec, "http": granted_http},
                        "missing": missing,
                    }))?
                ),
                OutputFormat::Text => {
                    println!("agent:       {addr}\ndescription: {}", info.manifest.description);
                    println!("asks for:    {}", caps(&info.manifest.capabilities).join(", "));
                    if !asked_exec.is_empty() {
                        println!("  exec:      {}", asked_exec.join(", "));
                    }
                    if !asked_http.is_empty() {
                        println!("  http:      {}", asked_http.join(", "));
                    }
                    println!("granted:     {}", caps(&info.grants.capabilities).join(", "));
                    if !granted_exec.is_empty() {
                        println!("  exec:      {}", granted_exec.join(", "));
                    }
                    if !granted_http.is_empty() {
                        println!("  http:      {}", granted_http.join(", "));
                    }
                    if missing.is_empty() {
                        println!("status:      every capability it asks for is granted");
                    } else {
                        println!("status:      NOT GRANTED: {} (the agent will fail to load)", missing.join(", "));
                    }
                }
            }
            Ok(if missing.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        AgentCommand::Run { agent, action, plug, params, meta, timeout, interval, depth, instance, node, peer, grants, ocf_env } => {
            if let Some(kind) = fence_type(&agent) {
                let call = FenceCall {
                    device: instance.unwrap_or_else(|| kind.to_string()),
                    action,
                    plug,
                    params: parse_kv(&params, "param")?,
                    timeout: parse_duration("timeout", &timeout)?,
                };
                let reg = registry(data_dir, node.as_deref())?;
                return run_fence(&reg, &agent, &grants, call, output);
            }
            if plug.is_some() {
                bail!("--plug is for fence agents (stonith:NAME); {agent} is a resource agent");
            }
            let addr = address(&agent)?;
            let parsed = action.parse::<Action>();
            // An action outside the contract gets the request a monitor would; only its name differs.
            let act = parsed.clone().unwrap_or(Action::Monitor);
            let req = if ocf_env {
                let env: BTreeMap<String, String> = std::env::vars().collect();
                atrium_ocf_shim::request_from_ocf_env(act.clone(), &env)
                    .map_err(|e| OpResult::failed(OcfStatus::InvalidArgs, e.to_string()))
            } else {
                let mut r = ActionRequest::new(act.clone(), instance.unwrap_or_else(|| addr.kind.clone()));
                r.params = parse_kv(&params, "param")?;
                r.meta = parse_kv(&meta, "meta")?;
                r.timeout = parse_duration("timeout", &timeout)?;
                r.interval = parse_duration("interval", &interval)?;
                r.depth = depth;
                Ok(r)
            };
            let reg = registry(data_dir, node.as_deref())?;
            let result = req.and_then(|mut req| {
                if peer.is_some() {
                    req.migrate_peer = peer;
                }
                match (parsed, addr.class) {
                    // OCF scripts answer unknown actions themselves (usually 3, unimplemented);
                    // a WASM agent cannot have one.
                    (Err(_), AgentClass::Ocf) => Ok(reg.shim().map_err(load_failure)?.resource_agent(&addr).map_err(|e| load_failure(e.into()))?.execute_named(&action, &req)),
                    (Err(e), _) => Ok(OpResult::with_reason(OcfStatus::Unimplemented, e.to_string())),
                    (Ok(a), _) => {
                        let ra = reg.resource_agent(&addr, &grants).map_err(load_failure)?;
                        if a == Action::MetaData {
                            let md = ra.meta_data().map_err(|e| load_failure(e.into()))?;
                            print!("{}", md.to_ocf_xml(XmlFlavour::RaApi1Dtd));
                            return Ok(OpResult::new(OcfStatus::Success));
                        }
                        Ok(ra.execute(&req))
                    }
                }
            });
            let result = result.unwrap_or_else(|failed| failed);
            // Through an OCF wrapper the caller reads the exit code; keep stdout clean.
            if !ocf_env {
                if act != Action::MetaData || result.status != OcfStatus::Success {
                    print_result(&addr, &action, &result, output);
                }
            } else if let Some(reason) = &result.exit_reason {
                eprintln!("ocf-exit-reason:{reason}");
            }
            Ok(ExitCode::from(result.exit_code().clamp(0, 255) as u8))
        }
        AgentCommand::OcfWrap { agent, install: path, grants } => {
            let addr = address(&agent)?;
            if addr.class == AgentClass::Stonith {
                bail!("{addr} is a fence agent; ocf-wrap makes resource agents callable as OCF scripts");
            }
            let exe = std::env::current_exe().context("locating the atrium executable")?;
            let data = std::path::absolute(paths::data_dir(data_dir)).context("resolving the data directory")?;
            match path {
                Some(p) => {
                    // Prepare the data directory now, as the installing user: OCF tools may run
                    // the wrapper as an unprivileged user (ocf-tester runs meta-data as nobody).
                    registry(Some(&data), None)?.shim()?;
                    atrium_ocf_shim::install_ocf_wrapper(&p, &exe, &addr, &data, &grants).with_context(|| format!("writing {}", p.display()))?;
                    eprintln!("wrote {} (runs {addr} through {}, data in {})", p.display(), exe.display(), data.display());
                }
                None => print!("{}", atrium_ocf_shim::render_ocf_wrapper(&exe, &addr, &data, &grants)),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

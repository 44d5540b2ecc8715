//! A loaded WASM resource agent: its `InstancePre` and grants; each action gets a fresh store
//! with a deadline, a memory cap and, in tests, a fuel budget.

use crate::bindings::exports::atrium::agent::resource_agent::Notification;
use crate::bindings::atrium::agent::types as wit;
use crate::bindings::{ResourceAgentWorld, ResourceAgentWorldPre};
use crate::cache::CacheOutcome;
use crate::engine::AgentEngine;
use crate::error::RuntimeError;
use crate::host_state::{CallEnv, HostServices, HostState};
use crate::manifest::{AgentKind, Capability, Grants, Manifest};
use atrium_contract::{
    Action, ActionRequest, ActionSpec, AgentError, MetaData, OcfStatus, OpResult, ParamType, Parameter, ResourceAgent,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{Component, Linker};
use wasmtime::{Store, Trap};

/// Per-agent limits.
#[derive(Debug, Clone, Copy)]
pub struct AgentLimits {
    /// Linear memory cap per action.
    pub max_memory: usize,
}

impl Default for AgentLimits {
    fn default() -> Self {
        AgentLimits { max_memory: 64 << 20 }
    }
}

/// Timeout for calls that are not actions (meta-data).
const META_DATA_TIMEOUT: Duration = Duration::from_secs(5);

pub struct WasmAgent {
    name: Arc<str>,
    engine: AgentEngine,
    pre: ResourceAgentWorldPre<HostState>,
    grants: Arc<Grants>,
    services: HostServices,
    limits: AgentLimits,
    cache_outcome: CacheOutcome,
}

/// Checks every `atrium:agent/*` import against the manifest and the grants, so a missing
/// grant is reported by name instead of as a link failure.
fn check_imports(engine: &wasmtime::Engine, component: &Component, agent: &str, manifest: &Manifest, grants: &Grants) -> Result<(), RuntimeError> {
    for (name, _) in component.component_type().imports(engine) {
        let Some(cap) = Capability::from_import(name) else { continue };
        if !manifest.capabilities.contains(&cap) {
            return Err(RuntimeError::Undeclared { agent: agent.into(), capability: cap.name().into() });
        }
        if !grants.capabilities.contains(&cap) {
            let hint = match cap {
                Capability::Exec => format!(" (grant it with exec:PROGRAM; the manifest asks for {:?})", manifest.exec),
                Capability::Http => format!(
                    " (grant it with http:ENDPOINT; the manifest asks for {:?})",
                    manifest.http.iter().map(|e| e.to_string()).collect::<Vec<_>>()
                ),
                _ => format!(" (grant it with '{cap}')"),
            };
            return Err(RuntimeError::NotGranted { agent: agent.into(), capability: cap.name().into(), hint });
        }
    }
    Ok(())
}

impl WasmAgent {
    /// Loads (compiling or taking from the cache) a component and prepares it for fresh-store
    /// instantiation with exactly the granted capabilities linked.
    pub fn load(
        engine: &AgentEngine,
        name: &str,
        bytes: &[u8],
        manifest: &Manifest,
        grants: Grants,
        services: HostServices,
        limits: AgentLimits,
    ) -> Result<WasmAgent, RuntimeError> {
        if manifest.kind != AgentKind::Resource {
            return Err(RuntimeError::Link { agent: name.into(), detail: "its manifest says kind = \"fence\": it is not a resource agent".into() });
        }
        let (component, cache_outcome) = engine.cache.load(&engine.engine, name, bytes)?;
        check_imports(&engine.engine, &component, name, manifest, &grants)?;
        let mut linker: Linker<HostState> = Linker::new(&engine.engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .and_then(|_| crate::capabilities::wasi_clock::cap_waits(&mut linker))
            .and_then(|_| wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker))
            .map_err(|e| RuntimeError::Link { agent: name.into(), detail: format!("{e:#}") })?;
        crate::capabilities::link_granted(&mut linker, &grants).map_err(|e| RuntimeError::Link { agent: name.into(), detail: format!("{e:#}") })?;
        let instance_pre = linker.instantiate_pre(&component).map_err(|e| RuntimeError::Link {
            agent: name.into(),
            detail: format!(
                "{e:#} (agents get WASI p2 cli, clocks, filesystem, http, io, random and sockets, all deny-by-default, plus the atrium:agent capabilities)"
            ),
        })?;
        let pre = ResourceAgentWorldPre::new(instance_pre).map_err(|e| RuntimeError::Link {
            agent: name.into(),
            detail: format!("not a resource agent (does not export atrium:agent/resource-agent): {e:#}"),
        })?;
        Ok(WasmAgent { name: name.into(), engine: engine.clone(), pre, grants: Arc::new(grants), services, limits, cache_outcome })
    }

    pub fn cache_outcome(&self) -> CacheOutcome {
        self.cache_outcome
    }

    fn new_store(&self, instance: &str, timeout: Duration) -> Store<HostState> {
        let env = CallEnv {
            agent: self.name.clone(),
            instance: instance.to_string(),
            deadline: Instant::now() + timeout,
            services: self.services.clone(),
            grants: self.grants.clone(),
        };
        let mut store = Store::new(&self.engine.engine, HostState::new(env, self.limits.max_memory));
        store.limiter(|s| &mut s.limiter);
        // Must be set before instantiation: instantiating runs guest code too.
        store.set_epoch_deadline(AgentEngine::deadline_ticks(timeout));
        if let Some(fuel) = self.engine.config.fuel {
            store.set_fuel(fuel).expect("fuel is enabled in the engine config");
        }
        store
    }

    fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<ResourceAgentWorld> {
        self.pre.instantiate(&mut *store)
    }

    /// Turns a failed call into an OCF error with a reason; a deadline hit is a timeout.
    fn classify(&self, store: &Store<HostState>, action: &str, timeout: Duration, err: wasmtime::Error) -> OpResult {
        let state = store.data();
        let last_line = stderr_summary(&state.stderr.contents());
        let trap = err.downcast_ref::<Trap>().copied();
        let exit = err.downcast_ref::<wasmtime_wasi::I32Exit>().map(|e| e.0);
        let result = match (trap, exit) {
            (Some(Trap::Interrupt), _) => {
                OpResult::timed_out(format!("{action} did not finish within its {} ms timeout and was stopped", timeout.as_millis()))
            }
            _ if state.limiter.hit => OpResult::failed(
                OcfStatus::GenericError,
                format!("{action} exceeded the agent's memory limit of {} MiB", self.limits.max_memory >> 20),
            ),
            (Some(Trap::OutOfFuel), _) => OpResult::failed(OcfStatus::GenericError, format!("{action} ran out of fuel")),
            (Some(t), _) => OpResult::failed(OcfStatus::GenericError, format!("{action} trapped: {t}{last_line}")),
            // A Rust guest built with panic=abort leaves through wasi:cli/exit after printing
            // the panic message on stderr.
            (None, Some(code)) => {
                OpResult::failed(OcfStatus::GenericError, format!("{action} aborted: the agent exited with code {code}{last_line}"))
            }
            (None, None) => OpResult::failed(OcfStatus::GenericError, format!("{action} failed: {err:#}{last_line}")),
        };
        tracing::warn!(agent = &*self.name, action, reason = result.exit_reason.as_deref().unwrap_or(""), "agent call failed");
        result
    }

    fn flush_output(&self, store: &Store<HostState>) {
        for (stream, pipe) in [("stdout", &store.data().stdout), ("stderr", &store.data().stderr)] {
            let bytes = pipe.contents();
            for line in String::from_utf8_lossy(&bytes).lines().filter(|l| !l.trim().is_empty()) {
                tracing::info!(target: "agent", agent = &*self.name, stream, "{line}");
            }
        }
    }

    fn run(&self, req: &ActionRequest) -> OpResult {
        let mut store = self.new_store(&req.instance, req.timeout);
        let action = req.action.ocf_name();
        let world = match self.instantiate(&mut store) {
            Ok(w) => w,
            Err(e) => return self.classify(&store, action, req.timeout, e),
        };
        let ra = world.atrium_agent_resource_agent();
        let ctx = to_wit_context(req);
        let peer = req.migrate_peer.clone().unwrap_or_default();
        let called = match req.action {
            Action::MetaData => ra.call_meta_data(&mut store).map(|_| wit::OpResult { status: wit::OcfStatus::Success, exit_reason: None }),
            Action::Validate => ra.call_validate(&mut store, &ctx),
            Action::Start => ra.call_start(&mut store, &ctx),
            Action::Stop => ra.call_stop(&mut store, &ctx),
            Action::Monitor => ra.call_monitor(&mut store, &ctx),
            Action::Promote => ra.call_promote(&mut store, &ctx),
            Action::Demote => ra.call_demote(&mut store, &ctx),
            Action::MigrateTo => ra.call_migrate_to(&mut store, &ctx, &peer),
            Action::MigrateFrom => ra.call_migrate_from(&mut store, &ctx, &peer),
            Action::Notify => ra.call_notify(&mut store, &ctx, &notification(req)),
            Action::Reload => ra.call_reload(&mut store, &ctx),
        };
        self.flush_output(&store);
        match called {
            // An answer that comes after the deadline (a host call such as a sleep ran into
            // it) is a timeout: Pacemaker would have given up on the action by then.
            Ok(_) if Instant::now() >= store.data().env.deadline => OpResult::timed_out(format!(
                "{action} did not finish within its {} ms timeout",
                req.timeout.as_millis()
            )),
            Ok(r) => OpResult { exit_reason: r.exit_reason, ..OpResult::new(from_wit_status(r.status)) },
            Err(e) => self.classify(&store, action, req.timeout, e),
        }
    }
}

/// The guest's last words on stderr (a panic message, say) as ` (..)`, on one line: the
/// lines after the last `panicked at` when there is one, else the last line, without Rust's
/// backtrace hint.
fn stderr_summary(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("note: run with")).collect();
    let from = lines.iter().rposition(|l| l.contains("panicked at")).unwrap_or(lines.len().saturating_sub(1));
    let summary: String = lines[from.min(lines.len())..].join(" ").chars().take(500).collect();
    if summary.is_empty() { summary } else { format!(" ({summary})") }
}

fn notification(req: &ActionRequest) -> Notification {
    match &req.notify {
        Some(n) => Notification { phase: n.phase.clone(), operation: n.operation.clone() },
        None => Notification {
            phase: req.meta.get("notify_type").cloned().unwrap_or_default(),
            operation: req.meta.get("notify_operation").cloned().unwrap_or_default(),
        },
    }
}

fn to_wit_context(req: &ActionRequest) -> wit::OpContext {
    let kv = |m: &std::collections::BTreeMap<String, String>| {
        m.iter().map(|(k, v)| wit::KeyValue { key: k.clone(), value: v.clone() }).collect()
    };
    wit::OpContext {
        instance: req.instance.clone(),
        params: kv(&req.params),
        meta: kv(&req.meta),
        timeout_ms: req.timeout.as_millis() as u64,
        interval_ms: req.interval.as_millis() as u64,
        depth: req.depth,
    }
}

fn from_wit_status(s: wit::OcfStatus) -> OcfStatus {
    use wit::OcfStatus as W;
    match s {
        W::Success => OcfStatus::Success,
        W::GenericError => OcfStatus::GenericError,
        W::InvalidArgs => OcfStatus::InvalidArgs,
        W::Unimplemented => OcfStatus::Unimplemented,
        W::InsufficientPrivileges => OcfStatus::InsufficientPrivileges,
        W::NotInstalled => OcfStatus::NotInstalled,
        W::NotConfigured => OcfStatus::NotConfigured,
        W::NotRunning => OcfStatus::NotRunning,
        W::RunningPromoted => OcfStatus::RunningPromoted,
        W::FailedPromoted => OcfStatus::FailedPromoted,
        W::Degraded => OcfStatus::Degraded,
        W::DegradedPromoted => OcfStatus::DegradedPromoted,
    }
}

fn from_wit_metadata(m: wit::AgentMetadata) -> MetaData {
    let ms = Duration::from_millis;
    MetaData {
        name: m.name,
        version: m.version,
        shortdesc: m.shortdesc,
        longdesc: m.longdesc,
        parameters: m
            .parameters
            .into_iter()
            .map(|p| Parameter {
                name: p.name,
                shortdesc: p.shortdesc,
                longdesc: p.longdesc,
                content_type: match p.content_type {
                    wit::ParamType::String => ParamType::String,
                    wit::ParamType::Integer => ParamType::Integer,
                    wit::ParamType::Boolean => ParamType::Boolean,
                    wit::ParamType::Time => ParamType::Time,
                    wit::ParamType::Port => ParamType::Port,
                    wit::ParamType::Select => ParamType::Select,
                },
                default: p.default,
                required: p.required,
                unique_group: p.unique_group,
                reloadable: p.reloadable,
                values: p.values,
            })
            .collect(),
        actions: m
            .actions
            .into_iter()
            .map(|a| ActionSpec { name: a.name, timeout: ms(a.timeout_ms), interval: a.interval_ms.map(ms), depth: a.depth, role: a.role })
            .collect(),
    }
}

impl ResourceAgent for WasmAgent {
    fn name(&self) -> String {
        self.name.to_string()
    }

    fn meta_data(&self) -> Result<MetaData, AgentError> {
        let mut store = self.new_store("meta-data", META_DATA_TIMEOUT);
        let call = self.instantiate(&mut store).and_then(|w| w.atrium_agent_resource_agent().call_meta_data(&mut store));
        match call {
            Ok(m) => Ok(from_wit_metadata(m)),
            Err(e) => {
                let r = self.classify(&store, "meta-data", META_DATA_TIMEOUT, e);
                Err(AgentError::Run { agent: self.name.to_string(), detail: r.exit_reason.unwrap_or_default() })
            }
        }
    }

    fn execute(&self, req: &ActionRequest) -> OpResult {
        let _span = tracing::info_span!("agent_call", agent = &*self.name, instance = %req.instance, action = %req.action).entered();
        let started = Instant::now();
        let result = self.run(req);
        tracing::debug!(status = %result.status, elapsed_us = started.elapsed().as_micros() as u64, "agent call finished");
        result
    }
}

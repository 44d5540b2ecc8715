//! What resource and fence agents share: loading a component with exactly its granted
//! capabilities linked, a fresh store per call (deadline, memory cap, fuel), and turning a
//! failed call into a reason.

use crate::cache::CacheOutcome;
use crate::engine::AgentEngine;
use crate::error::RuntimeError;
use crate::host_state::{CallEnv, HostServices, HostState};
use crate::manifest::{AgentKind, Capability, Grants, Manifest};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{Component, InstancePre, Linker};
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
pub(crate) const META_DATA_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a call into an agent produced no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallFailure {
    /// The deadline passed: the call was interrupted or answered too late.
    TimedOut,
    /// A trap, the memory cap, running out of fuel, or the guest exiting; with the reason.
    Failed(String),
}

/// The reason for a failed call, as errors word it: "off node2 timed out after 2000 ms".
pub(crate) fn failure_detail(what: &str, timeout: Duration, failure: CallFailure) -> String {
    match failure {
        CallFailure::TimedOut => format!("{what} timed out after {} ms", timeout.as_millis()),
        CallFailure::Failed(reason) => reason,
    }
}

/// A component ready for fresh-store instantiation, whatever world it exports.
pub(crate) struct PreparedAgent {
    pub name: Arc<str>,
    engine: AgentEngine,
    grants: Arc<Grants>,
    services: HostServices,
    pub limits: AgentLimits,
    pub cache_outcome: CacheOutcome,
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

fn kind_name(kind: AgentKind) -> &'static str {
    match kind {
        AgentKind::Resource => "resource",
        AgentKind::Fence => "fence",
    }
}

impl PreparedAgent {
    /// Loads (compiling or taking from the cache) a component whose manifest says `kind`, links
    /// exactly the granted capabilities, and checks the component exports `world` through
    /// `typed` (the world's `...Pre::new`).
    #[allow(clippy::too_many_arguments)]
    pub fn load<P>(
        engine: &AgentEngine,
        (kind, world): (AgentKind, &str),
        name: &str,
        bytes: &[u8],
        manifest: &Manifest,
        grants: Grants,
        services: HostServices,
        limits: AgentLimits,
        typed: impl FnOnce(InstancePre<HostState>) -> wasmtime::Result<P>,
    ) -> Result<(PreparedAgent, P), RuntimeError> {
        if manifest.kind != kind {
            return Err(RuntimeError::Link {
                agent: name.into(),
                detail: format!(
                    "its manifest says kind = \"{}\": it is not a {} agent",
                    kind_name(manifest.kind),
                    kind_name(kind)
                ),
            });
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
        let pre = typed(instance_pre).map_err(|e| RuntimeError::Link {
            agent: name.into(),
            detail: format!("not a {} agent (does not export atrium:agent/{world}): {e:#}", kind_name(kind)),
        })?;
        let prepared = PreparedAgent { name: name.into(), engine: engine.clone(), grants: Arc::new(grants), services, limits, cache_outcome };
        Ok((prepared, pre))
    }

    /// A fresh store for one call on behalf of `instance` (a resource instance, or a fence
    /// device: the state capability is scoped to it).
    pub fn new_store(&self, instance: &str, timeout: Duration) -> Store<HostState> {
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

    /// Logs the guest's output and judges a finished call: an answer that comes after the
    /// deadline (a host call such as a sleep ran into it) is a timeout, as the cluster has
    /// given up on the action by then.
    pub fn settle<T>(&self, store: &Store<HostState>, action: &str, called: wasmtime::Result<T>) -> Result<T, CallFailure> {
        self.flush_output(store);
        let failure = match called {
            Ok(_) if Instant::now() >= store.data().env.deadline => CallFailure::TimedOut,
            Ok(answer) => return Ok(answer),
            Err(e) => self.classify(store, action, e),
        };
        let reason = match &failure {
            CallFailure::TimedOut => "deadline passed",
            CallFailure::Failed(r) => r,
        };
        tracing::warn!(agent = &*self.name, action, reason, "agent call failed");
        Err(failure)
    }

    fn classify(&self, store: &Store<HostState>, action: &str, err: wasmtime::Error) -> CallFailure {
        let state = store.data();
        let last_line = stderr_summary(&state.stderr.contents());
        let trap = err.downcast_ref::<Trap>().copied();
        let exit = err.downcast_ref::<wasmtime_wasi::I32Exit>().map(|e| e.0);
        CallFailure::Failed(match (trap, exit) {
            (Some(Trap::Interrupt), _) => return CallFailure::TimedOut,
            _ if state.limiter.hit => format!("{action} exceeded the agent's memory limit of {} MiB", self.limits.max_memory >> 20),
            (Some(Trap::OutOfFuel), _) => format!("{action} ran out of fuel"),
            (Some(t), _) => format!("{action} trapped: {t}{last_line}"),
            // A Rust guest built with panic=abort leaves through wasi:cli/exit after printing
            // the panic message on stderr.
            (None, Some(code)) => format!("{action} aborted: the agent exited with code {code}{last_line}"),
            (None, None) => format!("{action} failed: {err:#}{last_line}"),
        })
    }

    fn flush_output(&self, store: &Store<HostState>) {
        for (stream, pipe) in [("stdout", &store.data().stdout), ("stderr", &store.data().stderr)] {
            let bytes = pipe.contents();
            for line in String::from_utf8_lossy(&bytes).lines().filter(|l| !l.trim().is_empty()) {
                tracing::info!(target: "agent", agent = &*self.name, stream, "{line}");
            }
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

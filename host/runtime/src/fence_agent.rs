//! A loaded WASM fence agent behind [`FenceAgent`]: like a resource agent, each call gets a
//! fresh store whose deadline is the request's timeout. The device name is the instance the
//! state capability is scoped to.

use crate::bindings::atrium::agent::types as wit;
use crate::bindings::fence::exports::atrium::agent::fence_agent::{Guest, PowerState as WitPowerState};
use crate::bindings::fence::FenceAgentWorldPre;
use crate::cache::CacheOutcome;
use crate::convert::{fence_context, from_wit_metadata};
use crate::engine::AgentEngine;
use crate::error::RuntimeError;
use crate::host_state::{HostServices, HostState};
use crate::manifest::{AgentKind, Grants, Manifest};
use crate::prepared::{AgentLimits, META_DATA_TIMEOUT, PreparedAgent, failure_detail};
use atrium_contract::{AgentError, FenceAgent, FenceRequest, MetaData, PowerState};
use std::time::Instant;
use wasmtime::Store;

pub struct WasmFenceAgent {
    prepared: PreparedAgent,
    pre: FenceAgentWorldPre<HostState>,
}

/// What one fence call returns from the guest: the answer, or the agent's own error text.
type GuestAnswer<T> = wasmtime::Result<Result<T, String>>;

impl WasmFenceAgent {
    /// Loads a component whose manifest says `kind = "fence"`, with exactly the granted
    /// capabilities linked (see [`crate::WasmAgent::load`]).
    pub fn load(
        engine: &AgentEngine,
        name: &str,
        bytes: &[u8],
        manifest: &Manifest,
        grants: Grants,
        services: HostServices,
        limits: AgentLimits,
    ) -> Result<WasmFenceAgent, RuntimeError> {
        let world = (AgentKind::Fence, "fence-agent");
        let (prepared, pre) = PreparedAgent::load(engine, world, name, bytes, manifest, grants, services, limits, FenceAgentWorldPre::new)?;
        Ok(WasmFenceAgent { prepared, pre })
    }

    pub fn cache_outcome(&self) -> CacheOutcome {
        self.prepared.cache_outcome
    }

    /// Runs one call in a fresh store; `what` names it in errors ("off node2").
    fn call<T>(
        &self,
        req: &FenceRequest,
        action: &str,
        plug: Option<&str>,
        f: impl FnOnce(&Guest, &mut Store<HostState>, &wit::OpContext) -> GuestAnswer<T>,
    ) -> Result<T, AgentError> {
        let what = match plug {
            Some(p) => format!("{action} {p}"),
            None => action.to_string(),
        };
        let _span = tracing::info_span!("fence_call", agent = &*self.prepared.name, device = %req.device, action, target = plug.unwrap_or("")).entered();
        let started = Instant::now();
        let mut store = self.prepared.new_store(&req.device, req.timeout);
        let ctx = fence_context(req);
        let called = self.pre.instantiate(&mut store).and_then(|world| f(world.atrium_agent_fence_agent(), &mut store, &ctx));
        let result = match self.prepared.settle(&store, action, called) {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(reason)) => Err(format!("{what}: {reason}")),
            Err(failure) => Err(failure_detail(&what, req.timeout, failure)),
        };
        tracing::debug!(ok = result.is_ok(), elapsed_us = started.elapsed().as_micros() as u64, "fence call finished");
        result.map_err(|detail| AgentError::Run { agent: self.prepared.name.to_string(), detail })
    }
}

impl FenceAgent for WasmFenceAgent {
    fn name(&self) -> String {
        self.prepared.name.to_string()
    }

    fn meta_data(&self) -> Result<MetaData, AgentError> {
        let mut store = self.prepared.new_store("meta-data", META_DATA_TIMEOUT);
        let call = self.pre.instantiate(&mut store).and_then(|w| w.atrium_agent_fence_agent().call_meta_data(&mut store));
        self.prepared.settle(&store, "meta-data", call).map(from_wit_metadata).map_err(|f| AgentError::Run {
            agent: self.name(),
            detail: failure_detail("meta-data", META_DATA_TIMEOUT, f),
        })
    }

    fn list(&self, req: &FenceRequest) -> Result<Vec<String>, AgentError> {
        self.call(req, "list", None, |g, s, ctx| g.call_list(s, ctx))
    }

    fn status(&self, req: &FenceRequest, plug: &str) -> Result<PowerState, AgentError> {
        let state = self.call(req, "status", Some(plug), |g, s, ctx| g.call_status(s, ctx, plug))?;
        Ok(match state {
            WitPowerState::On => PowerState::On,
            WitPowerState::Off => PowerState::Off,
            WitPowerState::Unknown => PowerState::Unknown,
        })
    }

    fn on(&self, req: &FenceRequest, plug: &str) -> Result<(), AgentError> {
        self.call(req, "on", Some(plug), |g, s, ctx| g.call_on(s, ctx, plug))
    }

    fn off(&self, req: &FenceRequest, plug: &str) -> Result<(), AgentError> {
        self.call(req, "off", Some(plug), |g, s, ctx| g.call_off(s, ctx, plug))
    }

    fn reboot(&self, req: &FenceRequest, plug: &str) -> Result<(), AgentError> {
        self.call(req, "reboot", Some(plug), |g, s, ctx| g.call_reboot(s, ctx, plug))
    }

    fn monitor(&self, req: &FenceRequest) -> Result<(), AgentError> {
        self.call(req, "monitor", None, |g, s, ctx| g.call_monitor(s, ctx))
    }
}

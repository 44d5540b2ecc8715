//! A loaded WASM resource agent: each action gets a fresh store with a deadline, a memory cap
//! and, in tests, a fuel budget (see [`crate::prepared`]).

use crate::bindings::atrium::agent::types as wit;
use crate::bindings::exports::atrium::agent::resource_agent::Notification;
use crate::bindings::{ResourceAgentWorld, ResourceAgentWorldPre};
use crate::cache::CacheOutcome;
use crate::convert::{from_wit_metadata, from_wit_status, to_wit_context};
use crate::engine::AgentEngine;
use crate::error::RuntimeError;
use crate::host_state::{HostServices, HostState};
use crate::manifest::{AgentKind, Grants, Manifest};
use crate::prepared::{AgentLimits, CallFailure, META_DATA_TIMEOUT, PreparedAgent, failure_detail};
use atrium_contract::{Action, ActionRequest, AgentError, MetaData, OcfStatus, OpResult, ResourceAgent};
use std::time::Instant;
use wasmtime::Store;

pub struct WasmAgent {
    prepared: PreparedAgent,
    pre: ResourceAgentWorldPre<HostState>,
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
        let world = (AgentKind::Resource, "resource-agent");
        let (prepared, pre) = PreparedAgent::load(engine, world, name, bytes, manifest, grants, services, limits, ResourceAgentWorldPre::new)?;
        Ok(WasmAgent { prepared, pre })
    }

    pub fn cache_outcome(&self) -> CacheOutcome {
        self.prepared.cache_outcome
    }

    fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<ResourceAgentWorld> {
        self.pre.instantiate(&mut *store)
    }

    fn run(&self, req: &ActionRequest) -> OpResult {
        let mut store = self.prepared.new_store(&req.instance, req.timeout);
        let action = req.action.ocf_name();
        let ctx = to_wit_context(req);
        let peer = req.migrate_peer.clone().unwrap_or_default();
        let called = self.instantiate(&mut store).and_then(|world| {
            let ra = world.atrium_agent_resource_agent();
            match req.action {
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
            }
        });
        match self.prepared.settle(&store, action, called) {
            Ok(r) => OpResult { exit_reason: r.exit_reason, ..OpResult::new(from_wit_status(r.status)) },
            Err(CallFailure::TimedOut) => {
                OpResult::timed_out(format!("{action} did not finish within its {} ms timeout", req.timeout.as_millis()))
            }
            Err(CallFailure::Failed(reason)) => OpResult::failed(OcfStatus::GenericError, reason),
        }
    }
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

impl ResourceAgent for WasmAgent {
    fn name(&self) -> String {
        self.prepared.name.to_string()
    }

    fn meta_data(&self) -> Result<MetaData, AgentError> {
        let mut store = self.prepared.new_store("meta-data", META_DATA_TIMEOUT);
        let call = self.instantiate(&mut store).and_then(|w| w.atrium_agent_resource_agent().call_meta_data(&mut store));
        self.prepared.settle(&store, "meta-data", call).map(from_wit_metadata).map_err(|f| AgentError::Run {
            agent: self.name(),
            detail: failure_detail("meta-data", META_DATA_TIMEOUT, f),
        })
    }

    fn execute(&self, req: &ActionRequest) -> OpResult {
        let _span = tracing::info_span!("agent_call", agent = &*self.prepared.name, instance = %req.instance, action = %req.action).entered();
        let started = Instant::now();
        let result = self.run(req);
        tracing::debug!(status = %result.status, elapsed_us = started.elapsed().as_micros() as u64, "agent call finished");
        result
    }
}

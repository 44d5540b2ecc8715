//! Fencing: making sure a node is down before its resources run elsewhere.
//!
//! ```text
//! device           a stonith primitive with its pcmk_* settings (host list/map/check, delays,
//!                  per-action mapping, timeouts, retries)
//! topology         the levels to try for a target
//! fencer           runs one fencing operation: levels in order, devices of a level all
//!                  (AND), a failed level falls through (OR), with delays, retries, timeouts
//! kdump            the built-in fence_kdump device and its UDP listener
//! device_resource  a stonith resource's own start/stop/monitor
//! ```
//!
//! The DC runs fencing operations (`daemon::dc`), the results and history live in the
//! replicated CIB (`daemon::cib_state`).

mod device;
mod device_resource;
mod fencer;
pub mod kdump;
mod topology;

pub use device::{DeviceError, FenceAction, FenceDevice, configured_devices};
pub use device_resource::DeviceResource;
pub use fencer::{Attempt, DeviceAgents, FenceOperation, FenceOutcome};
pub use topology::levels_for;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use atrium_cib::Cib;
use atrium_contract::FenceAgent;
use serde::{Deserialize, Serialize};

use crate::registry::AgentRegistry;

/// Pacemaker's `stonith-timeout` default.
const DEFAULT_FENCING_TIMEOUT_MS: u64 = 60_000;

/// Where a fencing request came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum FenceOrigin {
    /// A transition's fencing action.
    Transition { transition: u64, step: usize },
    /// `atrium fence NODE`.
    Manual { actor: String },
    /// A two-node survivor fenced its peer before taking the cluster over alone (it could
    /// commit nothing until then; the record is written afterwards).
    TwoNode { survivor: String },
}

impl std::fmt::Display for FenceOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FenceOrigin::Transition { transition, .. } => write!(f, "transition {transition}"),
            FenceOrigin::Manual { actor } => f.write_str(actor),
            FenceOrigin::TwoNode { survivor } => write!(f, "two-node survivor {survivor}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FenceState {
    Pending,
    Done,
    Failed,
}

/// One fencing operation in the cluster's history (`atrium fence history`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceRecord {
    pub id: u64,
    pub target: String,
    pub action: String,
    pub origin: FenceOrigin,
    pub requested_ms: u64,
    pub state: FenceState,
    /// The DC that ran it.
    pub executioner: Option<String>,
    pub completed_ms: Option<u64>,
    pub level: Option<u32>,
    pub devices: Vec<String>,
    pub attempts: Vec<Attempt>,
    pub reason: Option<String>,
}

/// The fencing operation for `target` as the configuration in `cib` defines it.
pub fn operation_for(cib: &Cib, target: &str, action: FenceAction) -> Result<FenceOperation, DeviceError> {
    let config = &cib.configuration;
    let devices = configured_devices(config)?;
    let mut attributes: BTreeMap<String, String> =
        config.nodes.iter().find(|n| n.uname == target).map(|n| atrium_cib::nv_flatten(&n.attributes, |s| s.rule.is_none())).unwrap_or_default();
    attributes.insert("#uname".into(), target.to_string());
    let levels = levels_for(config, &devices, target, &attributes)?;
    let options = cib.options();
    let default_timeout_ms = ["fencing-timeout", "stonith-timeout"]
        .iter()
        .find_map(|k| options.raw.get(*k))
        .and_then(|v| atrium_cib::parse_duration_ms(v).ok())
        .unwrap_or(DEFAULT_FENCING_TIMEOUT_MS);
    Ok(FenceOperation { target: target.to_string(), action, levels, devices: devices.into_iter().map(|d| (d.id.clone(), d)).collect(), default_timeout_ms })
}

/// Runnable fence agents for devices: the built-in `fence_kdump`, built-in WASM fence agents
/// and fence-agents scripts through the shim. Loaded once per agent type.
pub struct FenceAgents {
    registry: Arc<AgentRegistry>,
    kdump: Arc<kdump::KdumpListeners>,
    members: BTreeMap<String, IpAddr>,
    grants: BTreeMap<String, Vec<String>>,
    loaded: Mutex<HashMap<String, Arc<dyn FenceAgent>>>,
}

impl FenceAgents {
    pub fn new(registry: Arc<AgentRegistry>, members: BTreeMap<String, IpAddr>, grants: BTreeMap<String, Vec<String>>) -> Self {
        FenceAgents { registry, kdump: Arc::default(), members, grants, loaded: Mutex::default() }
    }

    /// The agent of type `agent_type` (`fence_ipmilan`, `fence_kdump`, `fence-dummy`).
    pub fn by_type(&self, agent_type: &str) -> Result<Arc<dyn FenceAgent>, String> {
        if let Some(a) = self.loaded.lock().unwrap().get(agent_type) {
            return Ok(Arc::clone(a));
        }
        let agent: Arc<dyn FenceAgent> = if agent_type == "fence_kdump" {
            Arc::new(kdump::KdumpAgent::new(Arc::clone(&self.kdump), self.members.clone()))
        } else {
            // Granted under the name used in the configuration or under the built-in's own.
            let canonical = crate::registry::builtin_fence_name(agent_type);
            let grants: Vec<String> = [agent_type, canonical].iter().flat_map(|t| self.grants.get(&format!("stonith:{t}")).cloned().unwrap_or_default()).collect();
            self.registry.fence_agent(agent_type, &grants).map_err(|e| format!("{e:#}"))?
        };
        self.loaded.lock().unwrap().insert(agent_type.to_string(), Arc::clone(&agent));
        Ok(agent)
    }
}

impl DeviceAgents for FenceAgents {
    fn agent(&self, device: &FenceDevice) -> Result<Arc<dyn FenceAgent>, String> {
        self.by_type(&device.agent)
    }
}

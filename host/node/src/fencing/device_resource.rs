//! A stonith resource's own start/stop/monitor, as Pacemaker runs them: start checks that the
//! device answers (its monitor, or meta-data with `pcmk_monitor_action=metadata`) and registers
//! it here; stop unregisters it; monitor checks it again. Registration is a per-boot marker,
//! so a probe after a reboot finds the device stopped.

use std::path::PathBuf;
use std::sync::Arc;

use atrium_contract::{Action, ActionRequest, AgentError, FenceAgent, FenceRequest, MetaData, OcfStatus, OpResult, ResourceAgent};

use super::device::FenceAction;

pub struct DeviceResource {
    /// The device's agent, or why it could not be loaded: a stop and a probe do not need it,
    /// so a broken device never makes its stop fail (which would fence the node).
    agent: Result<Arc<dyn FenceAgent>, String>,
    markers: PathBuf,
}

impl DeviceResource {
    pub fn new(agent: Result<Arc<dyn FenceAgent>, String>, markers: PathBuf) -> Self {
        DeviceResource { agent, markers }
    }

    fn agent(&self) -> Result<&Arc<dyn FenceAgent>, AgentError> {
        self.agent.as_ref().map_err(|e| AgentError::Load { agent: "fence device".into(), detail: e.clone() })
    }

    fn marker(&self, instance: &str) -> PathBuf {
        self.markers.join(instance.replace('/', "_"))
    }

    /// The device's health check, as its `pcmk_monitor_action` says.
    fn check(&self, request: &ActionRequest) -> Result<(), AgentError> {
        let mapped = request.params.get("pcmk_monitor_action").and_then(|a| FenceAction::parse(a)).unwrap_or(FenceAction::Monitor);
        let fence_request = FenceRequest {
            device: request.instance.clone(),
            params: request.params.iter().filter(|(k, _)| !k.starts_with("pcmk_")).map(|(k, v)| (k.clone(), v.clone())).collect(),
            timeout: request.timeout,
        };
        let agent = self.agent()?;
        match mapped {
            FenceAction::Metadata => agent.meta_data().map(|_| ()),
            FenceAction::List => agent.list(&fence_request).map(|_| ()),
            _ => agent.monitor(&fence_request),
        }
    }
}

impl ResourceAgent for DeviceResource {
    fn name(&self) -> String {
        self.agent.as_ref().map_or_else(|_| "fence device".into(), |a| a.name())
    }

    fn meta_data(&self) -> Result<MetaData, AgentError> {
        self.agent()?.meta_data()
    }

    fn execute(&self, request: &ActionRequest) -> OpResult {
        let marker = self.marker(&request.instance);
        let registered = marker.exists();
        match request.action {
            Action::Start if self.agent.is_err() => OpResult::with_reason(OcfStatus::NotConfigured, self.agent().err().map(|e| e.to_string()).unwrap_or_default()),
            Action::Start => match self.check(request) {
                Ok(()) => match std::fs::create_dir_all(&self.markers).and_then(|_| std::fs::write(&marker, b"")) {
                    Ok(()) => OpResult::new(OcfStatus::Success),
                    Err(e) => OpResult::with_reason(OcfStatus::GenericError, format!("registering the device: {e}")),
                },
                Err(e) => OpResult::with_reason(OcfStatus::GenericError, e.to_string()),
            },
            Action::Stop => match std::fs::remove_file(&marker) {
                Ok(()) => OpResult::new(OcfStatus::Success),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => OpResult::new(OcfStatus::Success),
                Err(e) => OpResult::with_reason(OcfStatus::GenericError, format!("unregistering the device: {e}")),
            },
            Action::Monitor if !registered => OpResult::new(OcfStatus::NotRunning),
            // A probe only asks whether the device is registered here.
            Action::Monitor if request.interval.is_zero() => OpResult::new(OcfStatus::Success),
            Action::Monitor => match self.check(request) {
                Ok(()) => OpResult::new(OcfStatus::Success),
                Err(e) => OpResult::with_reason(OcfStatus::GenericError, e.to_string()),
            },
            Action::Validate => OpResult::new(OcfStatus::Success),
            ref other => OpResult::with_reason(OcfStatus::Unimplemented, format!("a fence device has no {other} action")),
        }
    }
}

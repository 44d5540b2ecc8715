//! A stonith resource's own start/stop/monitor, as Pacemaker runs them: start checks that the
//! device answers (its monitor, or meta-data with `pcmk_monitor_action=metadata`) and registers
//! it here; stop unregisters it; monitor checks it again. Registration is a per-boot marker,
//! so a probe after a reboot finds the device stopped.

use std::path::PathBuf;
use std::sync::Arc;

use atrium_contract::{Action, ActionRequest, AgentError, FenceAgent, FenceRequest, MetaData, OcfStatus, OpResult, ResourceAgent};

use super::device::FenceAction;

pub struct DeviceResource {
    agent: Arc<dyn FenceAgent>,
    markers: PathBuf,
}

impl DeviceResource {
    pub fn new(agent: Arc<dyn FenceAgent>, markers: PathBuf) -> Self {
        DeviceResource { agent, markers }
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
        match mapped {
            FenceAction::Metadata => self.agent.meta_data().map(|_| ()),
            FenceAction::List => self.agent.list(&fence_request).map(|_| ()),
            _ => self.agent.monitor(&fence_request),
        }
    }
}

impl ResourceAgent for DeviceResource {
    fn name(&self) -> String {
        self.agent.name()
    }

    fn meta_data(&self) -> Result<MetaData, AgentError> {
        self.agent.meta_data()
    }

    fn execute(&self, request: &ActionRequest) -> OpResult {
        let marker = self.marker(&request.instance);
        let registered = marker.exists();
        match request.action {
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

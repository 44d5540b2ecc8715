use crate::{ActionRequest, MetaData, OpResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Why an agent could not be prepared or asked for its meta-data (running an action never
/// fails this way: it returns an [`OpResult`] with outcome `Error`).
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("agent {agent}: not installed ({detail})")]
    NotInstalled { agent: String, detail: String },
    #[error("agent {agent}: {detail}")]
    Load { agent: String, detail: String },
    #[error("agent {agent}: capability '{capability}' is not granted{hint}")]
    NotGranted { agent: String, capability: String, hint: String },
    #[error("agent {agent}: bad meta-data: {detail}")]
    MetaData { agent: String, detail: String },
    #[error("agent {agent}: {detail}")]
    Run { agent: String, detail: String },
}

/// A resource agent behind the typed contract. Calls block: the executor runs them on blocking
/// threads, and each implementation enforces the request's timeout itself.
pub trait ResourceAgent: Send + Sync {
    /// The agent's name, as in `ocf:heartbeat:Dummy` or `wasm:atrium:dummy`.
    fn name(&self) -> String;
    fn meta_data(&self) -> Result<MetaData, AgentError>;
    fn execute(&self, request: &ActionRequest) -> OpResult;
}

/// Power state of a fence target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerState {
    On,
    Off,
    Unknown,
}

/// One fence-device call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceRequest {
    /// Device name (the stonith resource id).
    pub device: String,
    /// Device parameters: ipaddr, login, passwd, ...
    pub params: BTreeMap<String, String>,
    pub timeout: Duration,
}

/// A fence agent behind the typed contract; blocking like [`ResourceAgent`].
pub trait FenceAgent: Send + Sync {
    fn name(&self) -> String;
    fn meta_data(&self) -> Result<MetaData, AgentError>;
    fn list(&self, req: &FenceRequest) -> Result<Vec<String>, AgentError>;
    fn status(&self, req: &FenceRequest, plug: &str) -> Result<PowerState, AgentError>;
    fn on(&self, req: &FenceRequest, plug: &str) -> Result<(), AgentError>;
    fn off(&self, req: &FenceRequest, plug: &str) -> Result<(), AgentError>;
    fn reboot(&self, req: &FenceRequest, plug: &str) -> Result<(), AgentError>;
    fn monitor(&self, req: &FenceRequest) -> Result<(), AgentError>;
}

use std::path::PathBuf;

/// Errors from preparing agents (running one never errors: it yields an `OpResult`).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("wasmtime engine: {0}")]
    Engine(String),
    #[error("agent {agent}: not a valid WebAssembly component: {detail}")]
    Compile { agent: String, detail: String },
    #[error("component cache {path}: {source}")]
    Cache { path: PathBuf, source: std::io::Error },
    #[error("agent {agent}: manifest: {source}")]
    Manifest { agent: String, source: crate::manifest::ManifestError },
    #[error(
        "agent {agent} imports capability '{capability}' but it is not granted{hint}"
    )]
    NotGranted { agent: String, capability: String, hint: String },
    #[error("agent {agent} imports capability '{capability}' that its manifest does not ask for")]
    Undeclared { agent: String, capability: String },
    #[error("agent {agent}: {detail}")]
    Link { agent: String, detail: String },
}

impl From<RuntimeError> for atrium_contract::AgentError {
    fn from(e: RuntimeError) -> Self {
        use atrium_contract::AgentError as A;
        match e {
            RuntimeError::NotGranted { agent, capability, hint } => A::NotGranted { agent, capability, hint },
            RuntimeError::Compile { ref agent, .. }
            | RuntimeError::Manifest { ref agent, .. }
            | RuntimeError::Undeclared { ref agent, .. }
            | RuntimeError::Link { ref agent, .. } => A::Load { agent: agent.clone(), detail: e.to_string() },
            other => A::Load { agent: String::new(), detail: other.to_string() },
        }
    }
}

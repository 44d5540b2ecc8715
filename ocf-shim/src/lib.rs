//! atrium-ocf-shim: legacy OCF resource agents and fence agents behind the typed agent
//! contract, and WASM agents wrapped as OCF scripts.
//!
//! Start from [`Shim`]: it prepares the helper directory (crm_attribute and friends) once and
//! hands out [`OcfScriptAgent`]s and [`FenceScriptAgent`]s.

mod config;
mod discovery;
mod env;
mod fence;
pub mod helpers;
mod metadata_xml;
mod process;
mod script_agent;
mod wrap;

pub use config::{DEFAULT_FENCE_DIR, DEFAULT_OCF_ROOT, ShimConfig};
pub use discovery::{DiscoveryError, list_fence_agents, list_ocf_agents};
pub use env::{
    ATTRIBUTES_FILE_VAR, EXIT_REASON_PREFIX, EnvError, NODE_NAME_VAR, ScriptIdentity, ocf_environment,
    request_from_ocf_env,
};
pub use fence::{FenceScriptAgent, NotFenceAddress};
pub use metadata_xml::{DEFAULT_ACTION_TIMEOUT, MetadataError, parse_meta_data};
pub use script_agent::{NotOcfAddress, OcfScriptAgent};
pub use wrap::{install_ocf_wrapper, render_ocf_wrapper};

use atrium_contract::AgentAddress;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    #[error("preparing the helper directory {}: {source}", dir.display())]
    HelperLinks { dir: PathBuf, source: std::io::Error },
}

/// The OCF shim of one node.
#[derive(Debug, Clone)]
pub struct Shim {
    config: Arc<ShimConfig>,
}

impl Shim {
    /// Installs the helper links (`helpers::install_helper_links`) that agents find through
    /// `HA_SBIN_DIR` and `PATH`.
    pub fn new(config: ShimConfig) -> Result<Self, ShimError> {
        helpers::install_helper_links(&config.helper_dir, &config.helper_exe)
            .map_err(|source| ShimError::HelperLinks { dir: config.helper_dir.clone(), source })?;
        Ok(Shim { config: Arc::new(config) })
    }

    pub fn config(&self) -> &ShimConfig {
        &self.config
    }

    /// The OCF agent at `ocf:PROVIDER:TYPE`.
    pub fn resource_agent(&self, address: &AgentAddress) -> Result<OcfScriptAgent, NotOcfAddress> {
        OcfScriptAgent::new(address, self.config.clone())
    }

    /// The fence agent at `stonith:fence_NAME`.
    pub fn fence_agent(&self, address: &AgentAddress) -> Result<FenceScriptAgent, NotFenceAddress> {
        FenceScriptAgent::new(address, self.config.clone())
    }

    /// Every installed OCF agent, then every fence agent.
    pub fn list_agents(&self) -> Result<Vec<AgentAddress>, DiscoveryError> {
        let mut all = list_ocf_agents(&self.config.ocf_root)?;
        all.extend(list_fence_agents(&self.config.fence_dir)?);
        Ok(all)
    }
}

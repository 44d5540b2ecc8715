//! Resolves an agent address to a runnable agent: built-in WASM components through the
//! runtime, OCF scripts and fence agents through the shim.

use anyhow::{Context, Result, bail};
use atrium_contract::{AgentAddress, AgentClass, BUILTIN_PROVIDER, FenceAgent, FileAttributeStore, ResourceAgent};
use atrium_ocf_shim::{Shim, ShimConfig};
use atrium_runtime::{AgentEngine, AgentLimits, DirStateStore, Grants, HostServices, Manifest, RuntimeConfig, WasmAgent};
use std::path::Path;
use std::sync::{Arc, OnceLock};

pub struct AgentRegistry {
    services: HostServices,
    attributes: Arc<FileAttributeStore>,
    shim_config: ShimConfig,
    cache_dir: std::path::PathBuf,
    // Both created on first use: an OCF-only command never pays for the WASM engine, and a
    // WASM-only one never writes the shim's helper links.
    engine: OnceLock<AgentEngine>,
    shim: OnceLock<Shim>,
}

/// A WASM agent's manifest and what it would be granted.
pub struct WasmAgentInfo {
    pub manifest: Manifest,
    pub grants: Grants,
}

impl AgentRegistry {
    /// A registry for node `node_name` keeping agent state and attributes under `data_dir`
    /// (one-off `atrium agent` commands).
    pub fn new(data_dir: &Path, node_name: &str, cache_dir: &Path) -> Result<AgentRegistry> {
        Self::build(data_dir, data_dir, None, node_name, cache_dir)
    }

    /// A running node's registry: agents keep their per-boot state (WASM agent state, OCF's
    /// `HA_RSCTMP`, node attributes) under `run_dir`, like /run, so a rebooted node starts
    /// without it.
    pub fn for_node(data_dir: &Path, run_dir: &Path, node_name: &str, cache_dir: &Path) -> Result<AgentRegistry> {
        let rsc_tmp = run_dir.join("rsctmp");
        std::fs::create_dir_all(&rsc_tmp).with_context(|| format!("creating {}", rsc_tmp.display()))?;
        Self::build(data_dir, run_dir, Some(rsc_tmp), node_name, cache_dir)
    }

    fn build(data_dir: &Path, run_dir: &Path, rsc_tmp: Option<std::path::PathBuf>, node_name: &str, cache_dir: &Path) -> Result<AgentRegistry> {
        let exe = std::env::current_exe().context("locating the atrium executable for the OCF helper links")?;
        let mut shim_config = ShimConfig::new(exe, data_dir, node_name);
        shim_config.rsc_tmp_dir = rsc_tmp;
        // Node attributes are transient, like the agent state they describe.
        shim_config.attributes_file = run_dir.join("node-attributes.json");
        let attributes = Arc::new(FileAttributeStore::new(shim_config.attributes_file.clone()));
        let services = HostServices {
            node_name: node_name.into(),
            state: Arc::new(DirStateStore::new(run_dir.join("agent-state"))),
            attributes: attributes.clone(),
        };
        Ok(AgentRegistry { services, attributes, shim_config, cache_dir: cache_dir.to_path_buf(), engine: OnceLock::new(), shim: OnceLock::new() })
    }

    /// The store agents set node attributes in.
    pub fn attributes(&self) -> &FileAttributeStore {
        &self.attributes
    }

    fn engine(&self) -> Result<&AgentEngine> {
        if let Some(e) = self.engine.get() {
            return Ok(e);
        }
        let e = AgentEngine::new(RuntimeConfig::new(&self.cache_dir))?;
        Ok(self.engine.get_or_init(|| e))
    }

    pub fn shim(&self) -> Result<&Shim> {
        if let Some(s) = self.shim.get() {
            return Ok(s);
        }
        let s = Shim::new(self.shim_config.clone())?;
        Ok(self.shim.get_or_init(|| s))
    }

    /// Manifest and grants of a built-in WASM agent; `extra` are the administrator's grants.
    pub fn wasm_info(&self, address: &AgentAddress, extra: &[String]) -> Result<(&'static atrium_agents::BuiltinAgent, WasmAgentInfo)> {
        if address.provider.as_deref() != Some(BUILTIN_PROVIDER) {
            bail!("no WASM agent {address}: only the built-in provider '{BUILTIN_PROVIDER}' is installed");
        }
        let builtin = atrium_agents::find(&address.kind).with_context(|| {
            let names: Vec<&str> = atrium_agents::all().iter().map(|a| a.name).collect();
            format!("no built-in WASM agent '{}' (built-in: {})", address.kind, names.join(", "))
        })?;
        let manifest = Manifest::parse(builtin.manifest).with_context(|| format!("manifest of {address}"))?;
        let mut grants = Grants::benign_from(&manifest);
        for g in extra {
            grants.add(g).with_context(|| format!("--grant {g}"))?;
        }
        Ok((builtin, WasmAgentInfo { manifest, grants }))
    }

    /// A runnable resource agent for `address`.
    pub fn resource_agent(&self, address: &AgentAddress, grants: &[String]) -> Result<Box<dyn ResourceAgent>> {
        match address.class {
            AgentClass::Wasm => {
                let (builtin, info) = self.wasm_info(address, grants)?;
                let agent = WasmAgent::load(
                    self.engine()?,
                    &address.to_string(),
                    builtin.component,
                    &info.manifest,
                    info.grants,
                    self.services.clone(),
                    AgentLimits::default(),
                )?;
                Ok(Box::new(agent))
            }
            AgentClass::Ocf => Ok(Box::new(self.shim()?.resource_agent(address)?)),
            AgentClass::Stonith => bail!("{address} is a fence agent; use `atrium fence` commands for it"),
        }
    }

    /// A runnable fence agent for `stonith:TYPE`.
    pub fn fence_agent(&self, address: &AgentAddress, _grants: &[String]) -> Result<Arc<dyn FenceAgent>> {
        Ok(Arc::new(self.shim()?.fence_agent(address)?))
    }

    /// Every agent: built-in WASM agents first, then the installed OCF and fence agents.
    pub fn list(&self) -> Result<Vec<AgentAddress>> {
        let mut all: Vec<AgentAddress> = atrium_agents::all().iter().map(|a| AgentAddress::wasm_builtin(a.name)).collect();
        all.extend(self.shim()?.list_agents()?);
        Ok(all)
    }
}

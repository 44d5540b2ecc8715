//! Resolves an agent address to a runnable agent: built-in WASM components (resource and fence
//! agents) through the runtime, OCF scripts and fence-agents executables through the shim.

use anyhow::{Context, Result, bail};
use atrium_contract::{AgentAddress, AgentClass, BUILTIN_PROVIDER, FenceAgent, FileAttributeStore, ResourceAgent};
use atrium_ocf_shim::{Shim, ShimConfig};
use atrium_runtime::{
    AgentEngine, AgentKind, AgentLimits, DirStateStore, Grants, HostServices, Manifest, RuntimeConfig, WasmAgent, WasmFenceAgent,
};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The loader signature `WasmAgent::load` and `WasmFenceAgent::load` share.
type LoadFn<A> = fn(&AgentEngine, &str, &[u8], &Manifest, Grants, HostServices, AgentLimits) -> Result<A, atrium_runtime::RuntimeError>;

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
    /// `stonith:NAME` names a built-in fence agent.
    pub fn wasm_info(&self, address: &AgentAddress, extra: &[String]) -> Result<(&'static atrium_agents::BuiltinAgent, WasmAgentInfo)> {
        let fence = address.class == AgentClass::Stonith;
        if !fence && address.provider.as_deref() != Some(BUILTIN_PROVIDER) {
            bail!("no WASM agent {address}: only the built-in provider '{BUILTIN_PROVIDER}' is installed");
        }
        let builtin = atrium_agents::find(&address.kind)
            .map(|b| (b, Manifest::parse(b.manifest)))
            .filter(|(_, m)| m.as_ref().map_or(true, |m| (m.kind == AgentKind::Fence) == fence))
            .with_context(|| {
                let names: Vec<&str> = atrium_agents::all().iter().map(|a| a.name).collect();
                let what = if fence { "fence" } else { "WASM" };
                format!("no built-in {what} agent '{}' (built-in: {})", address.kind, names.join(", "))
            })?;
        let (builtin, manifest) = builtin;
        let manifest = manifest.with_context(|| format!("manifest of {address}"))?;
        let mut grants = Grants::benign_from(&manifest);
        for g in extra {
            grants.add(g).with_context(|| format!("--grant {g}"))?;
        }
        Ok((builtin, WasmAgentInfo { manifest, grants }))
    }

    /// Loads the built-in agent `address` names with `load` (`WasmAgent::load` or
    /// `WasmFenceAgent::load`), the benign grants plus `grants`, and default limits.
    fn load_builtin<A>(&self, address: &AgentAddress, grants: &[String], load: LoadFn<A>) -> Result<A> {
        let (builtin, info) = self.wasm_info(address, grants)?;
        let services = self.services.clone();
        Ok(load(self.engine()?, &address.to_string(), builtin.component, &info.manifest, info.grants, services, AgentLimits::default())?)
    }

    /// A fence agent for a stonith resource's type (`fence-dummy`, `stonith:fence_ipmilan`,
    /// `stonith:external/stonith-helper`, ...): the built-in WASM fence agent of that name
    /// when there is one, else the fence-agents executable through the shim. `grants` are the
    /// administrator's grants for a WASM agent (`exec:pkill`, ...).
    pub fn fence_agent(&self, agent_type: &str, grants: &[String]) -> Result<Arc<dyn FenceAgent>> {
        let kind = agent_type.strip_prefix("stonith:").unwrap_or(agent_type);
        let builtin_name = builtin_fence_name(kind);
        let builtin = atrium_agents::find(builtin_name).filter(|b| Manifest::parse(b.manifest).is_ok_and(|m| m.kind == AgentKind::Fence));
        if builtin.is_some() {
            let address = AgentAddress { class: AgentClass::Stonith, provider: None, kind: builtin_name.to_string() };
            return Ok(Arc::new(self.load_builtin(&address, grants, WasmFenceAgent::load)?));
        }
        let address: AgentAddress = format!("stonith:{kind}").parse().with_context(|| format!("fence agent '{agent_type}'"))?;
        Ok(Arc::new(self.shim()?.fence_agent(&address)?))
    }

    /// A runnable resource agent for `address`.
    pub fn resource_agent(&self, address: &AgentAddress, grants: &[String]) -> Result<Box<dyn ResourceAgent>> {
        match address.class {
            AgentClass::Wasm => {
                Ok(Box::new(self.load_builtin(address, grants, WasmAgent::load)?))
            }
            AgentClass::Ocf => Ok(Box::new(self.shim()?.resource_agent(address)?)),
            AgentClass::Stonith => bail!("{address} is a fence agent; run it with `atrium agent run {address} ACTION --plug TARGET`"),
        }
    }

    /// Every agent: built-in WASM agents first (fence agents as `stonith:NAME`), then the
    /// installed OCF and fence agents.
    pub fn list(&self) -> Result<Vec<AgentAddress>> {
        let mut all: Vec<AgentAddress> = atrium_agents::all()
            .iter()
            .map(|a| match Manifest::parse(a.manifest) {
                Ok(m) if m.kind == AgentKind::Fence => AgentAddress { class: AgentClass::Stonith, provider: None, kind: a.name.into() },
                _ => AgentAddress::wasm_builtin(a.name),
            })
            .collect();
        all.extend(self.shim()?.list_agents()?);
        Ok(all)
    }
}

/// The built-in fence agent a stonith type means: the seed's Linux-HA Japan plugin name
/// `external/stonith-helper` is ours.
fn builtin_fence_name(kind: &str) -> &str {
    match kind {
        "external/stonith-helper" => "stonith-helper",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::AgentRegistry;

    #[test]
    fn fence_types_resolve_to_builtins_or_the_shim() {
        let dir = tempfile::tempdir().unwrap();
        let reg = AgentRegistry::new(dir.path(), "n1", &dir.path().join("cache")).unwrap();
        let name = |t: &str| reg.fence_agent(t, &[]).map(|a| a.name()).map_err(|e| format!("{e:#}"));
        assert_eq!(name("fence-dummy").unwrap(), "stonith:fence-dummy");
        assert_eq!(name("stonith:fence-dummy").unwrap(), "stonith:fence-dummy");
        let e = name("stonith:external/stonith-helper").unwrap_err();
        assert!(e.contains("capability 'exec'"), "the built-in helper needs exec: {e}");
        assert_eq!(reg.fence_agent("stonith:external/stonith-helper", &["exec:ping".into()]).unwrap().name(), "stonith:stonith-helper");
        assert_eq!(name("stonith:fence_ipmilan").unwrap(), "stonith:fence_ipmilan", "not built in: the shim runs it");
        assert!(name("stonith:external/riloe").unwrap_err().contains("external/riloe"));
    }
}

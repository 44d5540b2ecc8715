//! The virtual-domain agent's parameters, read and checked once per action.

use atrium_agent_sdk::host::node_attributes;
use atrium_agent_sdk::{OpContext, words};

/// How migrate_to / migrate_from move the domain.
#[derive(Debug, Clone, PartialEq)]
pub enum Migration {
    /// `virsh migrate --live` to the target's hypervisor.
    Live { options: Vec<String>, migrateuri: Option<String> },
    /// `virsh save` into a directory both nodes share, `virsh restore` on the target: the
    /// domain pauses while its memory travels through the file (for hypervisors without live
    /// migration, such as libvirt's test driver).
    Save { dir: String },
}

#[derive(Debug, Clone)]
pub struct DomainConfig {
    /// The domain XML file (read by virsh, on the host).
    pub config: String,
    pub domain: String,
    /// Connection URI, `%n` replaced by this node's name; `None` is virsh's default.
    pub hypervisor: Option<String>,
    pub force_stop: bool,
    pub migration: Migration,
    pub migration_transport: Option<String>,
    pub migration_network_suffix: String,
    /// URI of the target's hypervisor, `%n` being the target node (plus suffix).
    pub remoteuri: Option<String>,
    /// Programs run by monitor while the domain is active; each needs its own exec grant.
    pub monitor_scripts: Vec<String>,
}

impl DomainConfig {
    pub fn from_ctx(ctx: &OpContext) -> Result<DomainConfig, String> {
        let config = ctx.param_set("config").ok_or("parameter config is required (the domain's XML file)")?.to_string();
        if !config.starts_with('/') {
            return Err(format!("parameter config: '{config}' is not an absolute path"));
        }
        let domain = ctx.param_set("domain").map(str::to_string).unwrap_or_else(|| ctx.instance.clone());
        let hypervisor = ctx.param_set("hypervisor").map(|h| h.replace("%n", &node_attributes::local_node()));
        let split = |p: &str| words::split(ctx.param(p).unwrap_or_default()).map_err(|e| format!("parameter {p}: {e}"));
        let migration = match ctx.param_set("migration_method").unwrap_or("live") {
            "live" => Migration::Live { options: split("migrate_options")?, migrateuri: ctx.param_set("migrateuri").map(str::to_string) },
            "save" => match ctx.param_set("migration_state_dir") {
                Some(dir) if dir.starts_with('/') => Migration::Save { dir: dir.trim_end_matches('/').to_string() },
                _ => return Err("parameter migration_state_dir: an absolute directory shared by the nodes is required with migration_method=save".into()),
            },
            other => return Err(format!("parameter migration_method: '{other}' is not live or save")),
        };
        let monitor_scripts = split("monitor_scripts")?;
        if let Some(s) = monitor_scripts.iter().find(|s| !s.starts_with('/')) {
            return Err(format!("parameter monitor_scripts: '{s}' is not an absolute path"));
        }
        Ok(DomainConfig {
            config,
            domain,
            hypervisor,
            force_stop: ctx.param_bool("force_stop", false)?,
            migration,
            migration_transport: ctx.param_set("migration_transport").map(str::to_string),
            migration_network_suffix: ctx.param("migration_network_suffix").unwrap_or_default().to_string(),
            remoteuri: ctx.param_set("remoteuri").map(str::to_string),
            monitor_scripts,
        })
    }

    /// The target hypervisor's URI: `remoteuri` with `%n`, else the local URI with its host
    /// replaced by the target (and the transport added), as the OCF agent derives it.
    pub fn destination_uri(&self, target: &str) -> Result<String, String> {
        let host = format!("{target}{}", self.migration_network_suffix);
        if let Some(r) = &self.remoteuri {
            return Ok(r.replace("%n", &host));
        }
        let local = self.hypervisor.as_deref().ok_or("live migration needs hypervisor or remoteuri to name the target's hypervisor")?;
        let (scheme, rest) = local.split_once("://").ok_or_else(|| format!("hypervisor '{local}' is not a URI"))?;
        let scheme = match &self.migration_transport {
            Some(t) => format!("{}+{t}", scheme.split('+').next().unwrap_or(scheme)),
            None => scheme.to_string(),
        };
        // rest = [host][:port]/path
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let port = authority.rsplit_once(':').map(|(_, p)| format!(":{p}")).unwrap_or_default();
        Ok(format!("{scheme}://{host}{port}/{path}"))
    }

    /// The file a save migration goes through.
    pub fn state_file(dir: &str, domain: &str) -> String {
        format!("{dir}/{domain}.state")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(hypervisor: &str, transport: Option<&str>, remoteuri: Option<&str>) -> DomainConfig {
        DomainConfig {
            config: "/etc/vd1.xml".into(),
            domain: "vd1".into(),
            hypervisor: Some(hypervisor.into()),
            force_stop: false,
            migration: Migration::Live { options: vec![], migrateuri: None },
            migration_transport: transport.map(str::to_string),
            migration_network_suffix: "-mig".into(),
            remoteuri: remoteuri.map(str::to_string),
            monitor_scripts: vec![],
        }
    }

    #[test]
    fn destination_uri_follows_the_ocf_agent() {
        assert_eq!(cfg("qemu:///system", Some("ssh"), None).destination_uri("n2").unwrap(), "qemu+ssh://n2-mig/system");
        assert_eq!(cfg("qemu+tls://n1:16514/system", None, None).destination_uri("n2").unwrap(), "qemu+tls://n2-mig:16514/system");
        let r = cfg("test+unix:///default?socket=/run/%n.sock", None, Some("test+unix:///default?socket=/run/%n.sock"));
        assert_eq!(r.destination_uri("n2").unwrap(), "test+unix:///default?socket=/run/n2-mig.sock");
    }
}

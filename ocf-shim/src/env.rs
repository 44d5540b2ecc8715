//! The environment an OCF agent runs with (what Pacemaker's executor sets), and the inverse:
//! an [`ActionRequest`] read back from such an environment, for WASM agents wrapped as OCF
//! scripts.

use crate::config::ShimConfig;
use atrium_contract::{Action, ActionRequest, NotifyInfo};
use std::collections::BTreeMap;
use std::time::Duration;

pub const RESKEY_PREFIX: &str = "OCF_RESKEY_";
pub const META_PREFIX: &str = "OCF_RESKEY_CRM_meta_";
/// The prefix of the stderr line that carries the exit reason (`ocf_exit_reason`).
pub const EXIT_REASON_PREFIX: &str = "ocf-exit-reason:";
/// Path of the node attribute file, read by the crm_attribute helper.
pub const ATTRIBUTES_FILE_VAR: &str = "ATRIUM_ATTRIBUTES_FILE";
/// The local node name, what `crm_node -n` prints and crm_attribute defaults to.
pub const NODE_NAME_VAR: &str = "ATRIUM_NODE_NAME";

/// Variables passed through from the shim's own environment; everything else is withheld so an
/// agent never sees the daemon's secrets.
const INHERITED: [&str; 4] = ["HOME", "LANG", "TZ", "TMPDIR"];
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Pacemaker 2.1 meta names and the older names agents such as pgsql still read; the shim sets
/// the old name too, as Pacemaker does.
const LEGACY_META: [(&str, &str); 4] = [
    ("notify_promoted_", "notify_master_"),
    ("notify_unpromoted_", "notify_slave_"),
    ("promoted_max", "master_max"),
    ("promoted_node_max", "master_node_max"),
];

fn legacy_name(meta_key: &str) -> Option<String> {
    LEGACY_META.iter().find_map(|(new, old)| meta_key.strip_prefix(new).map(|rest| format!("{old}{rest}")))
}

/// Which agent a request is for.
#[derive(Debug, Clone, Copy)]
pub struct ScriptIdentity<'a> {
    pub provider: &'a str,
    pub kind: &'a str,
}

/// The full environment for running `request` through the OCF agent `agent`.
pub fn ocf_environment(
    request: &ActionRequest,
    agent: ScriptIdentity<'_>,
    config: &ShimConfig,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for name in INHERITED {
        if let Ok(v) = std::env::var(name) {
            env.insert(name.to_string(), v);
        }
    }
    let inherited_path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_string());
    // ocf-shellfuncs calls `${HA_SBIN_DIR}/crm_attribute` and `have_binary crm_master` looks in
    // PATH: both must find the helper links first.
    env.insert("PATH".into(), format!("{}:{inherited_path}", config.helper_dir.display()));
    env.insert("HA_SBIN_DIR".into(), config.helper_dir.display().to_string());
    // "none" makes ocf_log write to stderr, where the shim captures it into tracing.
    env.insert("HA_LOGFACILITY".into(), "none".into());
    env.insert("HA_debug".into(), if config.agent_debug { "1" } else { "0" }.into());
    env.insert(ATTRIBUTES_FILE_VAR.into(), config.attributes_file.display().to_string());
    env.insert(NODE_NAME_VAR.into(), config.node_name.clone());
    if let Some(dir) = &config.rsc_tmp_dir {
        env.insert("HA_RSCTMP".into(), dir.display().to_string());
    }

    env.insert("OCF_ROOT".into(), config.ocf_root.display().to_string());
    env.insert("OCF_RA_VERSION_MAJOR".into(), "1".into());
    env.insert("OCF_RA_VERSION_MINOR".into(), "1".into());
    env.insert("OCF_RESOURCE_TYPE".into(), agent.kind.into());
    env.insert("OCF_RESOURCE_PROVIDER".into(), agent.provider.into());
    env.insert("OCF_EXIT_REASON_PREFIX".into(), EXIT_REASON_PREFIX.into());
    if !request.instance.is_empty() {
        env.insert("OCF_RESOURCE_INSTANCE".into(), request.instance.clone());
    }
    env.insert("OCF_CHECK_LEVEL".into(), request.depth.to_string());
    for (k, v) in &request.params {
        env.insert(format!("{RESKEY_PREFIX}{k}"), v.clone());
    }
    for (k, v) in &request.meta {
        // Pacemaker turns meta-attribute dashes into underscores (clone-max -> clone_max).
        let k = k.replace('-', "_");
        if let Some(old) = legacy_name(&k).filter(|old| !request.meta.contains_key(old)) {
            env.insert(format!("{META_PREFIX}{old}"), v.clone());
        }
        env.insert(format!("{META_PREFIX}{k}"), v.clone());
    }
    let meta = |env: &mut BTreeMap<String, String>, k: &str, v: String| {
        env.insert(format!("{META_PREFIX}{k}"), v);
    };
    // ocf_attribute_target falls back to `uname -n` without on_node, which is not the cluster's
    // node name when they differ.
    if !request.meta.contains_key("on_node") {
        meta(&mut env, "on_node", config.node_name.clone());
    }
    meta(&mut env, "interval", request.interval.as_millis().to_string());
    meta(&mut env, "timeout", request.timeout.as_millis().to_string());
    match (&request.action, &request.migrate_peer) {
        (Action::MigrateTo, peer) => {
            meta(&mut env, "migrate_source", config.node_name.clone());
            if let Some(p) = peer {
                meta(&mut env, "migrate_target", p.clone());
            }
        }
        (Action::MigrateFrom, peer) => {
            meta(&mut env, "migrate_target", config.node_name.clone());
            if let Some(p) = peer {
                meta(&mut env, "migrate_source", p.clone());
            }
        }
        _ => {}
    }
    if let Some(n) = &request.notify {
        meta(&mut env, "notify_type", n.phase.clone());
        meta(&mut env, "notify_operation", n.operation.clone());
    }
    env
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("{var}={value:?} is not a whole number")]
    BadNumber { var: String, value: String },
}

/// Reads an OCF environment back into a request: the inverse of [`ocf_environment`] for
/// everything a request carries. Values the shim derives itself are dropped again: the local
/// side of a migration, `on_node` when it is the local node (`ATRIUM_NODE_NAME`), and old-style
/// aliases (`notify_master_*`, `master_max`) equal to their new names. Meta names come back
/// with underscores, as the environment carries them.
pub fn request_from_ocf_env(action: Action, env: &BTreeMap<String, String>) -> Result<ActionRequest, EnvError> {
    let mut req = ActionRequest::new(action.clone(), env.get("OCF_RESOURCE_INSTANCE").cloned().unwrap_or_default());
    for (k, v) in env {
        if let Some(m) = k.strip_prefix(META_PREFIX) {
            req.meta.insert(m.to_string(), v.clone());
        } else if let Some(p) = k.strip_prefix(RESKEY_PREFIX) {
            req.params.insert(p.to_string(), v.clone());
        }
    }
    let aliases: Vec<(String, String)> =
        req.meta.keys().filter_map(|k| legacy_name(k).map(|old| (k.clone(), old))).collect();
    for (new, old) in aliases {
        if req.meta.get(&old) == req.meta.get(&new) {
            req.meta.remove(&old);
        }
    }
    let millis = |var: &str, value: String| {
        value
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| EnvError::BadNumber { var: format!("{META_PREFIX}{var}"), value })
    };
    if let Some(v) = req.meta.remove("interval") {
        req.interval = millis("interval", v)?;
    }
    if let Some(v) = req.meta.remove("timeout") {
        req.timeout = millis("timeout", v)?;
    }
    if let Some(v) = env.get("OCF_CHECK_LEVEL") {
        req.depth =
            v.trim().parse().map_err(|_| EnvError::BadNumber { var: "OCF_CHECK_LEVEL".into(), value: v.clone() })?;
    }
    if let Some(node) = env.get(NODE_NAME_VAR)
        && req.meta.get("on_node") == Some(node)
    {
        req.meta.remove("on_node");
    }
    let (peer_key, local_key) = match action {
        Action::MigrateTo => ("migrate_target", "migrate_source"),
        Action::MigrateFrom => ("migrate_source", "migrate_target"),
        _ => ("", ""),
    };
    if !peer_key.is_empty() {
        req.migrate_peer = req.meta.remove(peer_key);
        req.meta.remove(local_key);
    }
    if action == Action::Notify
        && let (Some(phase), Some(operation)) = (req.meta.get("notify_type"), req.meta.get("notify_operation"))
    {
        req.notify = Some(NotifyInfo { phase: phase.clone(), operation: operation.clone() });
        req.meta.remove("notify_type");
        req.meta.remove("notify_operation");
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config() -> ShimConfig {
        ShimConfig::new("/usr/bin/atrium", Path::new("/var/lib/atrium"), "node1")
    }

    fn id() -> ScriptIdentity<'static> {
        ScriptIdentity { provider: "heartbeat", kind: "Dummy" }
    }

    fn full_request(action: Action) -> ActionRequest {
        let mut r = ActionRequest::new(action, "db:2");
        r.params.insert("state".into(), "/tmp/x.state".into());
        r.params.insert("passwd".into(), "s3cret with spaces".into());
        r.meta.insert("clone_max".into(), "3".into());
        r.meta.insert("notify_start_uname".into(), "n1 n2".into());
        r.meta.insert("notify_promoted_resource".into(), "db:0".into());
        r.meta.insert("promoted_max".into(), "1".into());
        r.timeout = Duration::from_millis(25_500);
        r.interval = Duration::from_secs(10);
        r.depth = 10;
        r
    }

    #[test]
    fn sets_what_pacemaker_sets() {
        let mut r = full_request(Action::Monitor);
        r.meta.insert("clone-node-max".into(), "1".into());
        let env = ocf_environment(&r, id(), &config());
        let get = |k: &str| env.get(k).map(String::as_str);
        assert_eq!(get("OCF_ROOT"), Some("/usr/lib/ocf"));
        assert_eq!(get("OCF_RA_VERSION_MAJOR"), Some("1"));
        assert_eq!(get("OCF_RA_VERSION_MINOR"), Some("1"));
        assert_eq!(get("OCF_RESOURCE_INSTANCE"), Some("db:2"));
        assert_eq!(get("OCF_RESOURCE_TYPE"), Some("Dummy"));
        assert_eq!(get("OCF_RESOURCE_PROVIDER"), Some("heartbeat"));
        assert_eq!(get("OCF_RESKEY_state"), Some("/tmp/x.state"));
        assert_eq!(get("OCF_RESKEY_CRM_meta_interval"), Some("10000"));
        assert_eq!(get("OCF_RESKEY_CRM_meta_timeout"), Some("25500"));
        assert_eq!(get("OCF_RESKEY_CRM_meta_clone_node_max"), Some("1"));
        assert_eq!(get("OCF_RESKEY_CRM_meta_on_node"), Some("node1"));
        assert_eq!(get("OCF_CHECK_LEVEL"), Some("10"));
        assert_eq!(get("HA_SBIN_DIR"), Some("/var/lib/atrium/ocf-helpers"));
        assert!(get("PATH").unwrap().starts_with("/var/lib/atrium/ocf-helpers:"));
        assert_eq!(get(ATTRIBUTES_FILE_VAR), Some("/var/lib/atrium/node-attributes.json"));
        assert_eq!(get(NODE_NAME_VAR), Some("node1"));
        assert_eq!(get("OCF_RESKEY_CRM_meta_notify_promoted_resource"), Some("db:0"));
        assert_eq!(get("OCF_RESKEY_CRM_meta_notify_master_resource"), Some("db:0"));
        assert_eq!(get("OCF_RESKEY_CRM_meta_master_max"), Some("1"));
    }

    #[test]
    fn migration_sets_both_ends() {
        let mut r = full_request(Action::MigrateTo);
        r.migrate_peer = Some("node2".into());
        let env = ocf_environment(&r, id(), &config());
        assert_eq!(env["OCF_RESKEY_CRM_meta_migrate_source"], "node1");
        assert_eq!(env["OCF_RESKEY_CRM_meta_migrate_target"], "node2");
        r.action = Action::MigrateFrom;
        let env = ocf_environment(&r, id(), &config());
        assert_eq!(env["OCF_RESKEY_CRM_meta_migrate_source"], "node2");
        assert_eq!(env["OCF_RESKEY_CRM_meta_migrate_target"], "node1");
    }

    #[test]
    fn round_trips_every_action() {
        for action in Action::ALL {
            let mut r = full_request(action.clone());
            match action {
                Action::MigrateTo | Action::MigrateFrom => r.migrate_peer = Some("node2".into()),
                Action::Notify => r.notify = Some(NotifyInfo { phase: "pre".into(), operation: "promote".into() }),
                _ => {}
            }
            let env = ocf_environment(&r, id(), &config());
            assert_eq!(request_from_ocf_env(action, &env).unwrap(), r);
        }
        // An empty request (meta-data) round-trips too: no instance, default timeout.
        let r = ActionRequest::new(Action::MetaData, "");
        assert_eq!(request_from_ocf_env(Action::MetaData, &ocf_environment(&r, id(), &config())).unwrap(), r);
    }

    #[test]
    fn remote_on_node_is_kept() {
        let mut r = full_request(Action::Start);
        r.meta.insert("on_node".into(), "guest1".into());
        let env = ocf_environment(&r, id(), &config());
        assert_eq!(request_from_ocf_env(Action::Start, &env).unwrap().meta["on_node"], "guest1");
    }

    #[test]
    fn bad_numbers_are_named() {
        let env = BTreeMap::from([("OCF_RESKEY_CRM_meta_timeout".to_string(), "20s".to_string())]);
        let err = request_from_ocf_env(Action::Start, &env).unwrap_err();
        assert_eq!(err.to_string(), "OCF_RESKEY_CRM_meta_timeout=\"20s\" is not a whole number");
    }
}

//! Typed cluster options read from `crm_config`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::duration::parse_duration_ms;
use crate::model::{nv_flatten, NvSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoQuorumPolicy {
    #[default]
    Stop,
    Freeze,
    Ignore,
    Demote,
    Fence,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlacementStrategy {
    #[default]
    Default,
    Utilization,
    Minimal,
    Balanced,
}

/// Cluster-wide options with their defaults. Unknown or unparsable values fall back to the
/// default, as Pacemaker does (it logs and carries on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterOptions {
    pub symmetric_cluster: bool,
    pub fencing_enabled: bool,
    pub fencing_action: String,
    pub startup_fencing: bool,
    pub no_quorum_policy: NoQuorumPolicy,
    pub placement_strategy: PlacementStrategy,
    pub maintenance_mode: bool,
    pub stop_all_resources: bool,
    pub start_failure_is_fatal: bool,
    pub stop_orphan_resources: bool,
    pub node_action_limit: u32,
    pub batch_limit: u32,
    pub migration_limit: i64,
    pub cluster_recheck_interval_ms: u64,
    pub shutdown_lock: bool,
    pub concurrent_fencing: bool,
    /// Every property as written, for anything not modelled above.
    pub raw: BTreeMap<String, String>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions::from_sets(&[])
    }
}

impl ClusterOptions {
    pub fn from_sets(sets: &[NvSet]) -> ClusterOptions {
        let raw = nv_flatten(sets, |s| s.rule.is_none());
        let get = |names: &[&str]| names.iter().find_map(|n| raw.get(*n)).map(String::as_str);
        let flag = |names: &[&str], default: bool| get(names).and_then(crate::parse_bool).unwrap_or(default);
        let num = |name: &str, default: i64| get(&[name]).and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(default);
        ClusterOptions {
            symmetric_cluster: flag(&["symmetric-cluster"], true),
            fencing_enabled: flag(&["fencing-enabled", "stonith-enabled"], true),
            fencing_action: get(&["fencing-action", "stonith-action"])
                .map(|a| if a == "poweroff" { "off" } else { a })
                .unwrap_or("reboot")
                .to_string(),
            startup_fencing: flag(&["startup-fencing"], true),
            no_quorum_policy: match get(&["no-quorum-policy"]) {
                Some("freeze") => NoQuorumPolicy::Freeze,
                Some("ignore") => NoQuorumPolicy::Ignore,
                Some("demote") => NoQuorumPolicy::Demote,
                Some("fence") | Some("suicide") => NoQuorumPolicy::Fence,
                _ => NoQuorumPolicy::Stop,
            },
            placement_strategy: match get(&["placement-strategy"]) {
                Some("utilization") => PlacementStrategy::Utilization,
                Some("minimal") => PlacementStrategy::Minimal,
                Some("balanced") => PlacementStrategy::Balanced,
                _ => PlacementStrategy::Default,
            },
            maintenance_mode: flag(&["maintenance-mode"], false),
            stop_all_resources: flag(&["stop-all-resources"], false),
            start_failure_is_fatal: flag(&["start-failure-is-fatal"], true),
            stop_orphan_resources: flag(&["stop-orphan-resources"], true),
            node_action_limit: num("node-action-limit", 0).max(0) as u32,
            batch_limit: num("batch-limit", 0).max(0) as u32,
            migration_limit: num("migration-limit", -1),
            cluster_recheck_interval_ms: get(&["cluster-recheck-interval"])
                .and_then(|v| parse_duration_ms(v).ok())
                .unwrap_or(15 * 60_000),
            shutdown_lock: flag(&["shutdown-lock"], false),
            concurrent_fencing: flag(&["concurrent-fencing"], true),
            raw,
        }
    }
}

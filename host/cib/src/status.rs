//! The status section: node membership, operation history, transient attributes.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::model::NvSet;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Status {
    pub node_states: Vec<NodeState>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NodeState {
    pub id: String,
    pub uname: Option<String>,
    /// Corosync membership: "true"/"false" or, in newer CIBs, a timestamp (0 means not a member).
    pub in_ccm: Option<String>,
    /// Controller: "online"/"offline" or a timestamp.
    pub crmd: Option<String>,
    pub join: Option<String>,
    pub expected: Option<String>,
    pub remote_node: bool,
    /// Other attributes (ha, crm-debug-origin, shutdown, ...), kept for writing.
    pub extra: BTreeMap<String, String>,
    pub transient_attributes: Vec<NvSet>,
    pub lrm_resources: Vec<LrmResource>,
}

/// "true", "yes", "1", "on" or a non-zero timestamp.
fn truthy_or_timestamp(v: Option<&str>) -> bool {
    match v {
        None => false,
        Some(s) => crate::is_true(s) || s.parse::<i64>().is_ok_and(|n| n > 0),
    }
}

impl NodeState {
    pub fn in_ccm(&self) -> bool {
        truthy_or_timestamp(self.in_ccm.as_deref())
    }

    pub fn crmd_online(&self) -> bool {
        match self.crmd.as_deref() {
            Some("online") => true,
            other => other.and_then(|s| s.parse::<i64>().ok()).is_some_and(|n| n > 0),
        }
    }

    /// The node's transient attributes flattened (later sets do not override earlier ones).
    pub fn transient(&self) -> BTreeMap<String, String> {
        crate::model::nv_flatten(&self.transient_attributes, |_| true)
    }

    /// The fail counts recorded on this node.
    pub fn fail_counts(&self) -> Vec<FailCount> {
        FailCount::from_attributes(&self.transient())
    }
}

/// A fail count as the attribute manager records it: `fail-count-RSC#OP_INTERVAL` (or the
/// legacy per-resource `fail-count-RSC`) with its `last-failure-...` time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailCount {
    pub rsc: String,
    /// The failed operation and its interval, absent for the legacy per-resource form.
    pub operation: Option<(String, u64)>,
    pub count: crate::Score,
    /// Seconds since the epoch of the latest failure.
    pub last_failure: Option<i64>,
}

impl FailCount {
    pub fn from_attributes(attrs: &BTreeMap<String, String>) -> Vec<FailCount> {
        attrs
            .iter()
            .filter_map(|(k, v)| {
                let rest = k.strip_prefix("fail-count-")?;
                let count = crate::Score::parse(v).ok()?;
                let (rsc, operation) = match rest.split_once('#') {
                    Some((r, op)) => {
                        let (name, interval) = op.rsplit_once('_')?;
                        (r, Some((name.to_string(), interval.parse().ok()?)))
                    }
                    None => (rest, None),
                };
                let last_failure = attrs.get(&format!("last-failure-{rest}")).and_then(|t| t.parse().ok());
                Some(FailCount { rsc: rsc.to_string(), operation, count, last_failure })
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LrmResource {
    pub id: String,
    pub class: Option<String>,
    pub provider: Option<String>,
    pub agent_type: Option<String>,
    pub container: Option<String>,
    pub ops: Vec<LrmRscOp>,
}

/// One recorded operation result.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LrmRscOp {
    pub id: String,
    pub operation: String,
    pub interval_ms: u64,
    pub rc_code: i32,
    pub op_status: i32,
    pub call_id: i64,
    pub last_rc_change: Option<i64>,
    pub exit_reason: Option<String>,
    pub on_node: Option<String>,
    pub op_digest: Option<String>,
    pub transition_key: Option<String>,
    pub transition_magic: Option<String>,
    /// Other attributes (crm_feature_set, exec-time, migrate_source, ...), kept for writing.
    pub extra: BTreeMap<String, String>,
}

/// OCF exit codes as recorded in `rc-code`.
pub mod rc {
    pub const OK: i32 = 0;
    pub const ERR_GENERIC: i32 = 1;
    pub const ERR_ARGS: i32 = 2;
    pub const UNIMPLEMENTED: i32 = 3;
    pub const ERR_PERM: i32 = 4;
    pub const NOT_INSTALLED: i32 = 5;
    pub const NOT_CONFIGURED: i32 = 6;
    pub const NOT_RUNNING: i32 = 7;
    pub const RUNNING_PROMOTED: i32 = 8;
    pub const FAILED_PROMOTED: i32 = 9;
    pub const DEGRADED: i32 = 190;
    pub const DEGRADED_PROMOTED: i32 = 191;
}

/// Execution status as recorded in `op-status`.
pub mod op_status {
    pub const PENDING: i32 = -1;
    pub const DONE: i32 = 0;
    pub const CANCELLED: i32 = 1;
    pub const TIMEOUT: i32 = 2;
    pub const NOT_SUPPORTED: i32 = 3;
    pub const ERROR: i32 = 4;
    pub const ERROR_HARD: i32 = 5;
    pub const ERROR_FATAL: i32 = 6;
    pub const NOT_INSTALLED: i32 = 7;
}

impl LrmRscOp {
    /// The rc the operation expected, from the transition key (`action:transition:target-rc:uuid`).
    pub fn target_rc(&self) -> Option<i32> {
        self.transition_key.as_deref()?.split(':').nth(2)?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_counts_per_operation_and_legacy() {
        let attrs: BTreeMap<String, String> = [
            ("fail-count-web#monitor_10000", "3"),
            ("last-failure-web#monitor_10000", "1700000000"),
            ("fail-count-db", "INFINITY"),
            ("fail-count-bad#monitor_x", "1"),
            ("pingd", "100"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let fcs = FailCount::from_attributes(&attrs);
        assert_eq!(fcs.len(), 2);
        let db = fcs.iter().find(|f| f.rsc == "db").unwrap();
        assert_eq!((db.operation.clone(), db.count), (None, crate::Score::INFINITY));
        let web = fcs.iter().find(|f| f.rsc == "web").unwrap();
        assert_eq!(web.operation, Some(("monitor".to_string(), 10_000)));
        assert_eq!((web.count.value(), web.last_failure), (3, Some(1_700_000_000)));
    }
}

//! Replaying a resource's operation history on one node to learn its current role and whether
//! it has failed there.

use atrium_cib::model::{OnFail, Role};
use atrium_cib::status::{op_status, rc, LrmRscOp};

/// What the history says about one resource on one node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NodeHistory {
    pub role: Role,
    /// A failure that still needs recovery (the resource is active but broken).
    pub failed: bool,
    /// A stop failed: the node must be fenced (or the resource blocked).
    pub stop_failed: bool,
    pub on_fail: Option<OnFail>,
    /// A failure happened that on-fail=ignore says to disregard.
    pub ignored_failure: bool,
}

/// The on-fail configured for an operation, given the resource's op definitions.
pub(crate) type OnFailLookup<'a> = &'a dyn Fn(&str, u64) -> Option<OnFail>;

/// Replay `ops` (any order) for one resource on one node.
/// `expired` says whether a failed op is older than failure-timeout and so forgotten.
pub(crate) fn replay(ops: &[LrmRscOp], on_fail_for: OnFailLookup<'_>, expired: &dyn Fn(&LrmRscOp) -> bool) -> NodeHistory {
    let mut sorted: Vec<&LrmRscOp> = ops.iter().filter(|o| o.op_status != op_status::CANCELLED).collect();
    // Call ids order the history; pending ops (-1) come last.
    sorted.sort_by_key(|o| if o.call_id < 0 { i64::MAX } else { o.call_id });
    let mut h = NodeHistory {
        role: Role::Stopped,
        failed: false,
        stop_failed: false,
        on_fail: None,
        ignored_failure: false,
    };
    for op in sorted {
        if op.op_status == op_status::PENDING {
            // An operation in flight: assume it will take effect.
            match op.operation.as_str() {
                "start" | "migrate_from" => h.role = Role::Started,
                "promote" => h.role = Role::Promoted,
                _ => {}
            }
            continue;
        }
        let is_probe = op.operation == "monitor" && op.interval_ms == 0;
        // Old controllers recorded an expected result as an error; the expected rc decides.
        let ok = op.op_status == op_status::DONE || (op.op_status == op_status::ERROR && op.target_rc() == Some(op.rc_code));
        let success = ok
            && match op.operation.as_str() {
                "monitor" => {
                    matches!(op.rc_code, rc::OK | rc::RUNNING_PROMOTED | rc::DEGRADED | rc::DEGRADED_PROMOTED)
                        || (op.rc_code == rc::NOT_RUNNING && (is_probe || op.target_rc() == Some(rc::NOT_RUNNING)))
                }
                _ => op.rc_code == rc::OK,
            };
        if success {
            match op.operation.as_str() {
                "start" | "migrate_from" => h.role = Role::Started,
                "stop" => h.role = Role::Stopped,
                "promote" => h.role = Role::Promoted,
                "demote" => h.role = Role::Unpromoted,
                "monitor" => {
                    h.role = match op.rc_code {
                        rc::NOT_RUNNING => Role::Stopped,
                        rc::RUNNING_PROMOTED | rc::DEGRADED_PROMOTED => Role::Promoted,
                        _ if h.role == Role::Stopped || h.role == Role::Promoted && op.interval_ms == 0 => Role::Started,
                        _ => h.role,
                    };
                }
                _ => {}
            }
            // A successful start, stop or probe supersedes an earlier failure.
            if matches!(op.operation.as_str(), "start" | "stop" | "promote" | "demote" | "migrate_from") || is_probe {
                h.failed = false;
                h.on_fail = None;
                if op.operation == "stop" {
                    h.stop_failed = false;
                }
            }
            continue;
        }
        let configured = on_fail_for(&op.operation, op.interval_ms);
        if configured == Some(OnFail::Ignore) || expired(op) {
            h.ignored_failure |= configured == Some(OnFail::Ignore);
            // Ignored failures leave the role as if the operation had succeeded.
            if op.operation == "start" {
                h.role = Role::Started;
            }
            continue;
        }
        // The resource may be partly active after any failure, so it counts as running (and
        // needing recovery) even when a monitor reported "not running".
        match op.operation.as_str() {
            "promote" | "demote" => h.role = Role::Promoted,
            "monitor" if op.rc_code == rc::FAILED_PROMOTED => h.role = Role::Promoted,
            "start" | "stop" | "migrate_to" | "migrate_from" | "monitor" if h.role == Role::Stopped => {
                h.role = Role::Started;
            }
            _ => {}
        }
        h.failed = true;
        h.on_fail = configured;
        if op.operation == "stop" {
            h.stop_failed = true;
        }
    }
    h
}

//! The HTTP API's request and response bodies (JSON), shared by the server and the CLI.

use serde::{Deserialize, Serialize};

use crate::daemon::cib_state::ConfigEdit;
use crate::daemon::transition::TransitionCounts;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadRequest {
    /// Configuration text: crm syntax or CIB XML.
    pub text: String,
    /// Where it came from (file name), for error messages and history.
    pub name: String,
    pub actor: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EditRequest {
    pub edit: ConfigEdit,
    pub actor: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CleanupRequest {
    pub rsc: Option<String>,
    pub node: Option<String>,
    pub actor: String,
}

/// A node to add to the cluster's voters (it must already run with a node.toml naming it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberRequest {
    pub id: u64,
    pub name: String,
    /// Its cluster address, `host:port`.
    pub addr: String,
}

/// The answer to a change: the configuration version after it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeReply {
    pub epoch: u64,
    pub summary: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigurationReply {
    pub epoch: u64,
    pub xml: String,
    pub crm: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub version: u64,
    pub actor: String,
    pub at_ms: u64,
    pub summary: String,
    /// Only when one version is asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExplainReply {
    pub rsc: String,
    /// Nodes where it is active now.
    pub active_on: Vec<String>,
    /// Where the scheduler would place it, and in which role.
    pub placement: Vec<(String, Option<String>, String)>,
    pub scores: Vec<(String, String, String)>,
    pub explanation: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorReply {
    pub error: String,
}

/// `atrium status`: crm_mon's sections.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusReport {
    pub cluster: ClusterSummary,
    pub nodes: Vec<NodeReport>,
    pub resources: Vec<ResourceReport>,
    pub failed_actions: Vec<FailedAction>,
    pub migration_summary: Vec<MigrationEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterSummary {
    /// The node that answered.
    pub answered_by: String,
    pub dc: Option<String>,
    pub term: u64,
    pub quorate: bool,
    /// Configuration version.
    pub epoch: u64,
    pub nodes_configured: usize,
    pub resource_instances_configured: usize,
    pub transition: Option<TransitionSummary>,
    /// Nothing runs and the scheduler has nothing more to do (Pacemaker's S_IDLE).
    pub idle: bool,
    pub updated_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransitionSummary {
    pub id: u64,
    pub term: u64,
    /// running, complete or aborted.
    pub state: String,
    pub counts: TransitionCounts,
    pub aborted: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeReport {
    pub name: String,
    pub id: String,
    /// online, offline, standby, maintenance or unclean.
    pub state: String,
    pub dc: bool,
    pub remote: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResourceReport {
    Primitive {
        id: String,
        agent: String,
        /// Started, Stopped, Promoted, Unpromoted or Failed.
        role: String,
        node: Option<String>,
        managed: bool,
        disabled: bool,
        blocked: bool,
    },
    Group {
        id: String,
        disabled: bool,
        members: Vec<ResourceReport>,
    },
    Clone {
        id: String,
        promotable: bool,
        unique: bool,
        instances: Vec<ResourceReport>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailedAction {
    pub rsc: String,
    pub node: String,
    pub task: String,
    pub interval_ms: u64,
    pub rc: i32,
    pub rc_text: String,
    pub op_status: i32,
    pub exit_reason: Option<String>,
    pub call_id: i64,
    pub last_rc_change: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigrationEntry {
    pub node: String,
    pub rsc: String,
    pub fail_count: String,
    pub migration_threshold: Option<String>,
    pub last_failure: Option<i64>,
}

/// `POST /v1/fence`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FenceRequest {
    pub target: String,
    /// `reboot` or `off`.
    pub action: String,
    pub actor: String,
}

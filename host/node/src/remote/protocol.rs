//! What goes over a remote connection. Each request gets one response (atrium-transport's
//! `Requester` matches them by id); many may be in flight on one connection.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use atrium_contract::{ActionRequest, OpResult};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RemoteRequest {
    /// First request of a connection: the node name the cluster knows the remote by (the
    /// connection resource's id). The remote's agents run under that name.
    Hello { node: String },
    /// A round trip: the connection's monitor.
    Ping,
    /// Run one agent operation. `call` names a transition step; asking again for a call that
    /// runs or ran recently attaches to it instead of running it twice (after a reconnect).
    Execute { call: Option<String>, agent: String, grants: Vec<String>, request: ActionRequest },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RemoteResponse {
    Welcome { node: String, version: String },
    Pong,
    Executed(Box<Executed>),
    /// The request cannot be served (no Hello yet, another node name).
    Refused { reason: String },
}

/// An operation's result with the node attributes its agents left (promotion scores), which
/// the full node copies into the CIB for the remote node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Executed {
    pub result: OpResult,
    pub attributes: BTreeMap<String, String>,
    pub exec_ms: u64,
}

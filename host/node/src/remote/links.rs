//! The full node's side of remote nodes. The connection resource (`ocf:pacemaker:remote`) is
//! handled here natively: start connects and names the remote node, monitor is a round trip,
//! stop disconnects. Operations of the remote node's resources are carried over the
//! connection; what their agents set as node attributes is copied into the CIB.
//!
//! A connection costs one TCP connection and one task (the response reader); nothing here
//! holds a thread.

use anyhow::{Context, Result, anyhow, bail};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{info, warn};

use atrium_contract::{OcfStatus, OpOutcome, OpResult};
use atrium_transport::{ClusterKey, Identity, Requester};

use super::protocol::{RemoteRequest, RemoteResponse};
use super::{CONNECTION_AGENT, DEFAULT_PORT};
use crate::daemon::cib_state::CibCommand;
use crate::daemon::executor::attribute_changes;
use crate::daemon::transition::Step;
use crate::daemon::{NodeContext, now_ms};

/// Time allowed on top of an operation's own timeout for the round trip (the remote enforces
/// the timeout itself and answers with it).
const TRANSPORT_MARGIN: Duration = Duration::from_secs(5);

/// Why an operation could not be carried to its remote node.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("no connection to remote node {node} on this node")]
    NotConnected { node: String },
    #[error("connection resource {rsc}: parameter server={server:?} is not host or host:port")]
    BadServer { rsc: String, server: String },
    #[error("remote node {node} refused: {reason}")]
    Refused { node: String, reason: String },
    #[error("remote node {node} answered {answer} to {asked}")]
    Unexpected { node: String, asked: &'static str, answer: String },
}

struct Link {
    server: String,
    requester: Requester<RemoteRequest, RemoteResponse>,
    /// Node attributes last copied into the CIB for the remote node.
    synced: Mutex<BTreeMap<String, String>>,
    /// A monitor found the connection broken.
    failed: AtomicBool,
}

/// The connections this full node holds, by remote node name.
pub struct RemoteLinks {
    identity: Identity,
    key: ClusterKey,
    links: Mutex<HashMap<String, Arc<Link>>>,
}

impl RemoteLinks {
    pub fn new(ctx: &NodeContext) -> RemoteLinks {
        // The cluster member already runs under this name, so it is a valid identity.
        let identity = Identity::new(ctx.name.clone(), Some(ctx.id)).expect("the node's name is a valid transport identity");
        RemoteLinks { identity, key: ctx.key.clone(), links: Mutex::new(HashMap::new()) }
    }

    /// Steps run here rather than by a local agent: the connection resource's operations, and
    /// operations of a remote node this node carries.
    pub fn handles(step: &Step, me: &str) -> bool {
        step.agent.as_deref() == Some(CONNECTION_AGENT) || is_carried(step, me)
    }

    /// A carried step whose remote node has no open connection here: recurring monitors skip
    /// their turn (the connection's own monitor reports the loss).
    pub fn unreachable(&self, step: &Step, me: &str) -> bool {
        is_carried(step, me) && step.node.as_deref().is_none_or(|n| self.link(n).is_none_or(|l| l.requester.is_closed()))
    }

    pub async fn execute(&self, ctx: &NodeContext, step: &Step, request: atrium_contract::ActionRequest, at: Option<(u64, usize)>) -> Result<OpResult> {
        if step.agent.as_deref() == Some(CONNECTION_AGENT) {
            return self.connection_op(ctx, step).await;
        }
        self.carry(ctx, step, request, at).await
    }

    fn link(&self, node: &str) -> Option<Arc<Link>> {
        self.links.lock().unwrap().get(node).cloned()
    }

    async fn connection_op(&self, ctx: &NodeContext, step: &Step) -> Result<OpResult> {
        let node = step.rsc.clone().context("connection step names no resource")?;
        let timeout = Duration::from_millis(step.timeout_ms);
        match step.task.as_str() {
            "start" => {
                let server = server_address(&node, &step.params)?;
                self.connect(&node, &server, timeout).await?;
                self.forget_history(ctx, &node).await;
                Ok(OpResult::new(OcfStatus::Success))
            }
            "stop" => {
                let link = self.links.lock().unwrap().remove(&node);
                if let Some(link) = link {
                    info!(remote = %node, "disconnected from the remote node");
                    // Without fencing, a remote node whose connection failed counts as down with
                    // nothing running: what its history says is void, as after a fence, and
                    // probes find what runs when it is back.
                    if link.failed.load(Ordering::Relaxed) && !ctx.cluster.read(|s| s.cib.options().fencing_enabled) {
                        self.forget_history(ctx, &node).await;
                    }
                }
                Ok(OpResult::new(OcfStatus::Success))
            }
            "monitor" => {
                let Some(link) = self.link(&node) else { return Ok(OpResult::new(OcfStatus::NotRunning)) };
                let result = match tokio::time::timeout(timeout, link.requester.request(&RemoteRequest::Ping)).await {
                    Ok(Ok(RemoteResponse::Pong)) => OpResult::new(OcfStatus::Success),
                    Ok(Ok(other)) => OpResult::with_reason(OcfStatus::GenericError, format!("unexpected answer {other:?}")),
                    Ok(Err(e)) => OpResult::with_reason(OcfStatus::GenericError, format!("remote connection lost: {e}")),
                    Err(_) => OpResult { outcome: OpOutcome::TimedOut, ..OpResult::with_reason(OcfStatus::GenericError, "remote node did not answer in time") },
                };
                if result.status != OcfStatus::Success {
                    warn!(remote = %node, reason = result.exit_reason.as_deref().unwrap_or(""), "remote connection failed");
                    link.failed.store(true, Ordering::Relaxed);
                }
                Ok(result)
            }
            other => bail!("the remote connection has no '{other}' operation"),
        }
    }

    /// Connects, authenticates with the cluster key and names the remote node; replaces any
    /// earlier connection to it.
    async fn connect(&self, node: &str, server: &str, timeout: Duration) -> Result<Arc<Link>> {
        let conn = atrium_transport::connect(server, &self.key, &self.identity, timeout).await.with_context(|| format!("connecting to remote node {node} at {server}"))?;
        let requester = Requester::new(conn);
        let hello = RemoteRequest::Hello { node: node.to_string() };
        match tokio::time::timeout(timeout, requester.request(&hello)).await.map_err(|_| anyhow!("remote node {node} at {server} did not answer the hello in time"))?? {
            RemoteResponse::Welcome { version, .. } => info!(remote = %node, %server, %version, "connected to the remote node"),
            RemoteResponse::Refused { reason } => return Err(LinkError::Refused { node: node.into(), reason }.into()),
            other => return Err(LinkError::Unexpected { node: node.into(), asked: "hello", answer: format!("{other:?}") }.into()),
        }
        let link = Arc::new(Link { server: server.to_string(), requester, synced: Mutex::new(BTreeMap::new()), failed: AtomicBool::new(false) });
        self.links.lock().unwrap().insert(node.to_string(), Arc::clone(&link));
        Ok(link)
    }

    /// A connection that starts finds the remote node as it is, not as the CIB last saw it:
    /// its history is forgotten and probes rediscover what it runs (and its recurring
    /// monitors are scheduled again), as Pacemaker does when a remote node comes up.
    async fn forget_history(&self, ctx: &NodeContext, node: &str) {
        let has_history = ctx.cluster.read(|s| s.cib.status.node_states.iter().any(|n| n.uname.as_deref() == Some(node) && !n.lrm_resources.is_empty()));
        if !has_history {
            return;
        }
        let cleanup = CibCommand::Cleanup { rsc: None, node: Some(node.to_string()), actor: format!("remote connection on {}", ctx.name), at_ms: now_ms() };
        if let Err(e) = ctx.propose_until_done(cleanup).await {
            warn!(remote = %node, error = %e, "could not clear the remote node's history");
        }
    }

    /// Runs a step on its remote node. A transition step names its call, so if the connection
    /// breaks while it runs, one reconnect asks for the same call's result instead of running
    /// it again.
    async fn carry(&self, ctx: &NodeContext, step: &Step, request: atrium_contract::ActionRequest, at: Option<(u64, usize)>) -> Result<OpResult> {
        let node = step.node.clone().context("step names no node")?;
        let link = self.link(&node).ok_or_else(|| LinkError::NotConnected { node: node.clone() })?;
        let agent = step.agent.clone().context("the step names no agent")?;
        let req = RemoteRequest::Execute { call: at.map(|(t, s)| format!("{t}:{s}")), agent: agent.clone(), grants: ctx.grants.get(&agent).cloned().unwrap_or_default(), request };
        let limit = Duration::from_millis(step.timeout_ms) + TRANSPORT_MARGIN;
        let answer = match tokio::time::timeout(limit, link.requester.request(&req)).await {
            Ok(Err(e)) if at.is_some() => {
                warn!(remote = %node, error = %e, "connection broke during an operation; reconnecting to collect its result");
                let link = self.connect(&node, &link.server, limit).await?;
                tokio::time::timeout(limit, link.requester.request(&req)).await
            }
            answer => answer,
        };
        let answer = match answer {
            Ok(answer) => answer.with_context(|| format!("carrying {} to remote node {node}", step.key()))?,
            Err(_) => return Ok(OpResult { outcome: OpOutcome::TimedOut, ..OpResult::with_reason(OcfStatus::GenericError, "no answer from the remote node in time") }),
        };
        match answer {
            RemoteResponse::Executed(done) => {
                self.sync_attributes(ctx, &node, done.attributes).await;
                Ok(done.result)
            }
            RemoteResponse::Refused { reason } => Err(LinkError::Refused { node, reason }.into()),
            other => Err(LinkError::Unexpected { node, asked: "execute", answer: format!("{other:?}") }.into()),
        }
    }

    async fn sync_attributes(&self, ctx: &NodeContext, node: &str, current: BTreeMap<String, String>) {
        let Some(link) = self.link(node) else { return };
        let changes = attribute_changes(&link.synced.lock().unwrap(), &current);
        if changes.is_empty() {
            return;
        }
        let cmd = CibCommand::SetTransientAttributes { node: node.to_string(), attrs: changes };
        if ctx.propose_until_done(cmd).await.is_ok() {
            *link.synced.lock().unwrap() = current;
        }
    }
}

/// A step on another node that this node carries over that node's connection.
fn is_carried(step: &Step, me: &str) -> bool {
    step.via.as_deref() == Some(me) && step.node.as_deref() != Some(me)
}

/// Where a connection resource connects: its `server` parameter (host or host:port; the
/// resource id when unset, as in Pacemaker) and `port` parameter (default 3121).
pub fn server_address(rsc: &str, params: &BTreeMap<String, String>) -> Result<String, LinkError> {
    let server = params.get("server").map(String::as_str).unwrap_or(rsc).trim();
    let bad = || LinkError::BadServer { rsc: rsc.to_string(), server: server.to_string() };
    let port = match params.get("port") {
        Some(p) => p.trim().parse::<u16>().map_err(|_| bad())?,
        None => DEFAULT_PORT,
    };
    if server.is_empty() || server.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    // host:port, [v6]:port, or a bare host / v6 address taking the port.
    if let Some((host, p)) = server.rsplit_once(':')
        && !host.contains(':')
        && !host.is_empty()
    {
        p.parse::<u16>().map_err(|_| bad())?;
        return Ok(server.to_string());
    }
    if server.starts_with('[') {
        return match server.rsplit_once("]:") {
            Some((_, p)) if p.parse::<u16>().is_ok() => Ok(server.to_string()),
            _ if server.ends_with(']') => Ok(format!("{server}:{port}")),
            _ => Err(bad()),
        };
    }
    if server.contains(':') {
        return Ok(format!("[{server}]:{port}"));
    }
    Ok(format!("{server}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn server_is_host_or_host_port_with_pacemakers_default_port() {
        assert_eq!(server_address("vm02-remote", &params(&[("server", "vm02")])).unwrap(), "vm02:3121");
        assert_eq!(server_address("vm02-remote", &params(&[("server", "127.0.0.1:4000")])).unwrap(), "127.0.0.1:4000");
        assert_eq!(server_address("vm02", &params(&[])).unwrap(), "vm02:3121");
        assert_eq!(server_address("r", &params(&[("server", "vm02"), ("port", "3999")])).unwrap(), "vm02:3999");
        assert_eq!(server_address("r", &params(&[("server", "::1")])).unwrap(), "[::1]:3121");
        assert_eq!(server_address("r", &params(&[("server", "[::1]:5000")])).unwrap(), "[::1]:5000");
        for bad in ["vm02:http", "", "a b", "[::1"] {
            let e = server_address("r", &params(&[("server", bad)])).unwrap_err().to_string();
            assert!(e.contains("connection resource r") && e.contains("server="), "{bad}: {e}");
        }
        assert!(server_address("r", &params(&[("server", "h"), ("port", "99999")])).is_err());
    }
}

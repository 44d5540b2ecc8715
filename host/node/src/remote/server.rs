//! `atrium remote run`: the daemon on a remote machine. It accepts connections from full nodes
//! holding the cluster key, and runs the agent operations they ask for (WASM and OCF, through
//! the same registry as a full node) under the node name the cluster gave it.
//!
//! One full node holds the connection at a time: a newer connection takes over and the older
//! one is closed. Operations do not belong to a connection: they run to their end whoever is
//! connected, a result is kept for a while under its call id, and the same call asked again
//! (after a reconnect) gets that result instead of a second run. Operations on one resource
//! instance run one after the other, so a probe sent after a reconnect sees what an operation
//! still running at the disconnect did.

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::{Instrument, info, info_span, warn};

use atrium_contract::{AgentAddress, OcfStatus, OpOutcome, OpResult, ResourceAgent};
use atrium_transport::{ClusterKey, Identity, Listener};

use super::protocol::{Executed, RemoteRequest, RemoteResponse};
use crate::paths;
use crate::registry::AgentRegistry;

/// How long a finished call's result is kept for a full node that asks again.
const RESULT_RETENTION: Duration = Duration::from_secs(600);

pub struct ServerConfig {
    pub listen: String,
    pub key: ClusterKey,
    pub data_dir: PathBuf,
}

/// The agents and calls of this remote node; shared by every connection.
struct Remote {
    data_dir: PathBuf,
    run_dir: PathBuf,
    /// Set by the first Hello: the node name and the registry whose agents run under it.
    node: Mutex<Option<(String, Arc<AgentRegistry>)>>,
    agents: Mutex<HashMap<String, Arc<dyn ResourceAgent>>>,
    /// Calls running or recently finished, by call id.
    calls: Mutex<HashMap<String, watch::Receiver<Option<Executed>>>>,
    /// One lock per resource instance: its operations run in order.
    instances: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Serves full nodes until SIGTERM or SIGINT.
pub async fn run(config: ServerConfig) -> Result<()> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| format!("creating {}", config.data_dir.display()))?;
    let run_dir = crate::daemon::prepare_run_dir(&config.data_dir)?;
    let identity = Identity::new(format!("remote@{}", paths::host_name()), None)?;
    let mut listener = Listener::bind(config.listen.as_str(), config.key.clone(), identity).await.with_context(|| format!("listening on {}", config.listen))?;
    info!(listen = %listener.local_addr(), key = %config.key.fingerprint(), data_dir = %config.data_dir.display(), "remote node listening");
    let remote = Arc::new(Remote {
        data_dir: config.data_dir.clone(),
        run_dir,
        node: Mutex::new(None),
        agents: Mutex::new(HashMap::new()),
        calls: Mutex::new(HashMap::new()),
        instances: Mutex::new(HashMap::new()),
    });
    let mut current: Option<tokio::task::JoinHandle<()>> = None;
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        let conn = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                // Refusals (wrong key, bad handshake) are logged by the transport.
                Err(_) => continue,
            },
            _ = &mut stop => break,
        };
        let peer = conn.peer().clone();
        if let Some(previous) = current.take()
            && !previous.is_finished()
        {
            info!(peer = %peer.addr, node = peer.identity.name(), "a new cluster connection takes over from the previous one");
            previous.abort();
        }
        info!(peer = %peer.addr, node = peer.identity.name(), "cluster node connected");
        let remote = Arc::clone(&remote);
        let span = info_span!("connection", peer = %peer.addr, from = peer.identity.name());
        current = Some(tokio::spawn(
            async move {
                let ended = atrium_transport::serve_concurrent(conn, move |req| Arc::clone(&remote).handle(req)).await;
                info!(reason = %ended, "cluster connection ended");
            }
            .instrument(span),
        ));
    }
    info!("remote node stopping");
    Ok(())
}

async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

impl Remote {
    async fn handle(self: Arc<Self>, request: RemoteRequest) -> RemoteResponse {
        match request {
            RemoteRequest::Hello { node } => self.hello(node),
            RemoteRequest::Ping => RemoteResponse::Pong,
            RemoteRequest::Execute { call, agent, grants, request } => {
                let Some((node, registry)) = self.node.lock().unwrap().clone() else {
                    return RemoteResponse::Refused { reason: "no hello yet: the connection must name the node first".into() };
                };
                let span = info_span!("action", node = %node, rsc = %request.instance, op = %request.action, interval_ms = request.interval.as_millis() as u64, agent = %agent);
                self.execute(call, registry, &node, agent, grants, request).instrument(span).await
            }
        }
    }

    fn hello(&self, node: String) -> RemoteResponse {
        let mut current = self.node.lock().unwrap();
        match &*current {
            Some((name, _)) if *name != node => {
                warn!(asked = %node, serving = %name, "refusing a connection for another node name");
                return RemoteResponse::Refused { reason: format!("this remote node serves '{name}', not '{node}' (restart it to rename)") };
            }
            Some(_) => {}
            None => match AgentRegistry::for_node(&self.data_dir, &self.run_dir, &node, &paths::component_cache_dir(&self.data_dir)) {
                Ok(registry) => {
                    info!(node = %node, "serving the cluster as this node");
                    *current = Some((node.clone(), Arc::new(registry)));
                }
                Err(e) => return RemoteResponse::Refused { reason: format!("cannot set up agents: {e:#}") },
            },
        }
        RemoteResponse::Welcome { node, version: env!("CARGO_PKG_VERSION").to_string() }
    }

    async fn execute(
        self: &Arc<Self>,
        call: Option<String>,
        registry: Arc<AgentRegistry>,
        node: &str,
        agent: String,
        grants: Vec<String>,
        request: atrium_contract::ActionRequest,
    ) -> RemoteResponse {
        if let Some(id) = &call {
            let known = self.calls.lock().unwrap().get(id).cloned();
            if let Some(rx) = known {
                info!(call = %id, "call asked again: reporting its result");
                return wait_for(rx).await;
            }
        }
        let (tx, rx) = watch::channel(None);
        if let Some(id) = &call {
            self.calls.lock().unwrap().insert(id.clone(), rx.clone());
        }
        let me = Arc::clone(self);
        let node = node.to_string();
        // The operation runs in a task of its own: a connection that ends does not end it.
        tokio::spawn(
            async move {
                let lock = me.instances.lock().unwrap().entry(request.instance.clone()).or_default().clone();
                let in_order = lock.lock().await;
                let begin = Instant::now();
                let result = match me.agent(&registry, &agent, &grants).await {
                    Ok(a) => tokio::task::spawn_blocking(move || a.execute(&request)).await.unwrap_or_else(|e| failed(format!("agent call panicked: {e}"))),
                    Err(e) => failed(format!("{e:#}")),
                };
                let exec_ms = begin.elapsed().as_millis() as u64;
                if result.outcome == OpOutcome::Done {
                    info!(rc = result.status.code(), ms = exec_ms, "operation done");
                } else {
                    warn!(rc = result.status.code(), reason = result.exit_reason.as_deref().unwrap_or(""), ms = exec_ms, "operation failed");
                }
                let attributes = registry.attributes().of_node(&node).unwrap_or_else(|e| {
                    warn!(error = %e, "reading the node attribute store");
                    Default::default()
                });
                let _ = tx.send(Some(Executed { result, attributes, exec_ms }));
                drop(in_order);
                if let Some(id) = call {
                    tokio::time::sleep(RESULT_RETENTION).await;
                    me.calls.lock().unwrap().remove(&id);
                }
            }
            .in_current_span(),
        );
        wait_for(rx).await
    }

    async fn agent(&self, registry: &Arc<AgentRegistry>, address: &str, grants: &[String]) -> Result<Arc<dyn ResourceAgent>> {
        let key = format!("{address} {}", grants.join(","));
        if let Some(a) = self.agents.lock().unwrap().get(&key) {
            return Ok(Arc::clone(a));
        }
        let parsed: AgentAddress = address.parse().with_context(|| format!("agent {address}"))?;
        let (registry, grants) = (Arc::clone(registry), grants.to_vec());
        let agent: Arc<dyn ResourceAgent> =
            tokio::task::spawn_blocking(move || registry.resource_agent(&parsed, &grants).map(Arc::from)).await.context("loading the agent panicked")??;
        self.agents.lock().unwrap().insert(key, Arc::clone(&agent));
        Ok(agent)
    }
}

fn failed(reason: String) -> OpResult {
    OpResult { outcome: OpOutcome::Error, ..OpResult::with_reason(OcfStatus::GenericError, reason) }
}

async fn wait_for(mut rx: watch::Receiver<Option<Executed>>) -> RemoteResponse {
    match rx.wait_for(Option::is_some).await {
        Ok(done) => RemoteResponse::Executed(Box::new(done.clone().expect("waited for Some"))),
        Err(_) => RemoteResponse::Refused { reason: "the operation's task ended without a result".into() },
    }
}

//! The node daemon: one cluster member with its replicated CIB, DC loop, executor, recorder
//! and HTTP API.
//!
//! ```text
//! node_config  node.toml
//! cib_state    the replicated CIB (commands, deterministic apply)
//! transition   a transition's steps and their progress
//! plan         scheduler graph -> transition steps with agents, params, timeouts
//! packed       large command payloads compressed inside Raft entries
//! dc           the DC loop: membership, scheduling, aborting
//! executor     runs this node's steps and recurring monitors, throttled
//! quorum_guard no-quorum-policy applied by a node that lost quorum
//! two_node     two-node mode: the survivor fences its peer and carries on alone
//! throttle     node-action-limit and load bands
//! pe_inputs    saved scheduler inputs for `atrium simulate --replay`
//! recorder     configuration history and events into the database
//! ```

pub mod cib_state;
mod dc;
pub(crate) mod executor;
pub mod node_config;
pub mod packed;
pub mod pe_inputs;
pub mod plan;
mod quorum_guard;
mod recorder;
mod throttle;
pub mod transition;
mod two_node;

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use tracing::{info, warn};

use atrium_cluster::{Cluster, ClusterConfig, ClusterError, ClusterKey, Storage};
use atrium_db::Database;

use crate::api;
use crate::client::ClientConfig;
use crate::fencing::FenceAgents;
use crate::paths;
use crate::registry::AgentRegistry;
use cib_state::{CibCommand, CibReply, CibState};
use node_config::NodeConfig;

/// How long a stopping node waits for the DC to move its resources away when the cluster has
/// no quorum to do it (Pacemaker's shutdown-escalation is 20 minutes, with quorum).
const NO_QUORUM_STOP_GRACE: Duration = Duration::from_secs(5);

/// What every part of a running node shares.
pub struct NodeContext {
    pub name: String,
    pub id: u64,
    pub cluster: Cluster<CibState>,
    pub db: Database,
    pub data_dir: PathBuf,
    /// The per-boot directory (agent state, fence device registrations).
    pub run_dir: PathBuf,
    pub key: ClusterKey,
    pub grants: BTreeMap<String, Vec<String>>,
    pub fence_agents: Arc<FenceAgents>,
    /// How long this node keeps counting itself quorate without hearing a quorate leader.
    pub lease: Duration,
    /// Set to true when the node is to stop; every loop watches it.
    pub stopping: watch::Sender<bool>,
    /// Set when the DC allowed this node to leave (its do_shutdown ran).
    pub may_leave: watch::Sender<bool>,
    /// Set once this incarnation's join is applied: from then on the local CIB holds at least
    /// everything committed before the node started, and it may answer reads.
    pub joined: watch::Sender<bool>,
    /// Set while a two-node take-over is being recorded: the DC loop waits.
    pub taking_over: watch::Sender<bool>,
}

impl NodeContext {
    pub async fn propose(&self, command: CibCommand) -> Result<CibReply, ClusterError> {
        self.cluster.propose(command).await
    }

    /// Proposes until the cluster takes the command (through DC changes and lost quorum), or
    /// the node stops. A timeout may still have committed it; commands are written so that a
    /// repeat is harmless (a finished step ignores a second result).
    pub async fn propose_until_done(&self, command: CibCommand) -> Result<CibReply, ClusterError> {
        let mut stopping = self.stopping.subscribe();
        loop {
            match self.cluster.propose(command.clone()).await {
                Ok(r) => return Ok(r),
                Err(e @ ClusterError::ShutDown) => return Err(e),
                Err(e) => {
                    warn!(error = %e, "proposal not accepted; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                        _ = stopping.changed() => return Err(ClusterError::ShutDown),
                    }
                }
            }
        }
    }

    /// Proposes a join and waits until this node itself applied it: its local CIB then holds
    /// everything committed before.
    pub async fn join(&self) -> Result<(), ClusterError> {
        let joined = CibCommand::NodeJoined { node: self.name.clone(), node_id: self.id, at_ms: now_ms() };
        if let CibReply::Ok { index, .. } = self.propose_until_done(joined).await? {
            let mut status = self.cluster.watch();
            status.wait_for(|s| s.last_applied.is_some_and(|a| a >= index)).await.map_err(|_| ClusterError::ShutDown)?;
        }
        Ok(())
    }

    pub fn request_stop(&self) {
        self.may_leave.send_replace(true);
    }

    pub fn pe_input_dir(data_dir: &Path) -> PathBuf {
        data_dir.join("pe-inputs")
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The node's per-boot directory: emptied when the machine booted since it was last used, as
/// /run is, so agents that keep "running" markers there start clean after a reboot.
pub(crate) fn prepare_run_dir(data_dir: &Path) -> Result<PathBuf> {
    let run = data_dir.join("run");
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let marker = run.join("boot_id");
    let previous = std::fs::read_to_string(&marker).unwrap_or_default();
    if previous != boot_id && run.exists() {
        info!(dir = %run.display(), "new boot: clearing the per-boot directory");
        std::fs::remove_dir_all(&run).with_context(|| format!("clearing {}", run.display()))?;
    }
    std::fs::create_dir_all(&run).with_context(|| format!("creating {}", run.display()))?;
    std::fs::write(&marker, boot_id).with_context(|| format!("writing {}", marker.display()))?;
    Ok(run)
}

/// Runs a node until SIGTERM/SIGINT (then leaves the cluster in order) or a second signal.
pub async fn run(config: NodeConfig) -> Result<()> {
    let data_dir = config.data_dir.clone();
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let key = ClusterKey::load(&config.key_file).with_context(|| format!("cluster key {}", config.key_file.display()))?;
    let db_location = config.database_url.clone().unwrap_or_else(|| format!("sqlite:{}", data_dir.join("atrium.db").display()));
    let db = match &config.database_schema {
        Some(schema) => Database::open_in_schema(&db_location, schema).await,
        None => Database::open(&db_location).await,
    }
    .with_context(|| format!("opening the database {db_location}"))?;
    let run_dir = prepare_run_dir(&data_dir)?;
    let registry = Arc::new(AgentRegistry::for_node(&data_dir, &run_dir, &config.name, &paths::component_cache_dir(&data_dir))?);

    let (applied_tx, applied_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut cluster_config = ClusterConfig::new(config.id, config.name.clone(), config.listen.clone(), config.cluster_members(), key.clone());
    cluster_config.timings = config.timings.to_timings(config.members.len());
    cluster_config.two_node = config.quorum.two_node;
    let lease = cluster_config.timings.lease;
    let cluster = Cluster::start(cluster_config, CibState::new(Some(applied_tx)), Storage::database(db.raft()))
        .await
        .with_context(|| format!("starting cluster member {} on {}", config.name, config.listen))?;
    info!(node = %config.name, id = config.id, listen = %config.listen, api = %config.api, key = %key.fingerprint(), database = %db.location(), "node started");

    let ctx = Arc::new(NodeContext {
        name: config.name.clone(),
        id: config.id,
        cluster,
        db: db.clone(),
        data_dir: data_dir.clone(),
        run_dir: run_dir.clone(),
        key: key.clone(),
        grants: config.grants.clone(),
        fence_agents: Arc::new(FenceAgents::new(Arc::clone(&registry), config.member_addresses(), config.grants.clone())),
        lease,
        stopping: watch::channel(false).0,
        may_leave: watch::channel(false).0,
        joined: watch::channel(false).0,
        taking_over: watch::channel(false).0,
    });
    ClientConfig::for_node(&config).write(&data_dir)?;

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(recorder::run(db.clone(), data_dir.join("events.watermark"), applied_rx));
    let listener = tokio::net::TcpListener::bind(&config.api).await.with_context(|| format!("binding the API on {}", config.api))?;
    tasks.spawn(api::server::serve(Arc::clone(&ctx), listener));
    let pe = pe_inputs::PeInputs::open(&NodeContext::pe_input_dir(&data_dir))?;
    tasks.spawn(dc::run(Arc::clone(&ctx), pe));
    // Two-node mode replaces no-quorum-policy: losing the peer means fencing it. It runs from
    // the start, since without wait_for_all a node starting alone may take over.
    let two_node_peer = config.two_node_peer().map(str::to_string);
    if let Some(peer) = &two_node_peer {
        tasks.spawn(two_node::run(Arc::clone(&ctx), peer.clone(), config.quorum.wait_for_all()));
    }
    {
        let ctx = Arc::clone(&ctx);
        tasks.spawn(async move {
            // The executor starts once the cluster knows this incarnation: steps dispatched to
            // a previous one are failed by the join, never run again.
            if ctx.join().await.is_ok() {
                ctx.joined.send_replace(true);
                info!("joined the cluster");
                let executor = executor::Executor::new(Arc::clone(&ctx), registry);
                if two_node_peer.is_none() {
                    tokio::spawn(quorum_guard::run(Arc::clone(&ctx), Arc::clone(&executor)));
                }
                executor.run().await;
            }
        });
    }

    wait_for_stop_request(&ctx).await;
    leave(&ctx).await;
    ctx.stopping.send_replace(true);
    tasks.shutdown().await;
    // Actions finishing their report still hold the context for a moment.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut ctx = ctx;
    loop {
        match Arc::try_unwrap(ctx) {
            Ok(ctx) => {
                ctx.cluster.shutdown().await.context("stopping the cluster member")?;
                break;
            }
            Err(shared) if tokio::time::Instant::now() < deadline => {
                ctx = shared;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => {
                // The member stops when the last of them ends; its log is durable either way.
                warn!("parts of the node still running after 5 s; stopping without a clean Raft shutdown");
                break;
            }
        }
    }
    db.close().await;
    info!("node stopped");
    Ok(())
}

async fn wait_for_stop_request(ctx: &NodeContext) {
    let mut may_leave = ctx.may_leave.subscribe();
    tokio::select! {
        _ = signal() => {}
        _ = may_leave.wait_for(|v| *v) => {}
    }
}

async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Leaves in order: asks the DC to move this node's resources away and waits until it allows
/// the node to go (its do_shutdown step). Without quorum nobody can, so the wait is short; a
/// second signal ends it at once.
async fn leave(ctx: &NodeContext) {
    if *ctx.may_leave.borrow() {
        return;
    }
    info!("shutting down: moving resources away");
    let leaving = CibCommand::NodeLeaving { node: ctx.name.clone(), at_ms: now_ms() };
    let proposed = tokio::time::timeout(NO_QUORUM_STOP_GRACE, ctx.propose(leaving)).await;
    if !matches!(proposed, Ok(Ok(_))) {
        warn!("the cluster did not take the shutdown request (no quorum?); stopping now");
        return;
    }
    let mut may_leave = ctx.may_leave.subscribe();
    let mut status = ctx.cluster.watch();
    let inquorate_too_long = async {
        loop {
            if status.wait_for(|s| !s.quorate).await.is_err() {
                return;
            }
            tokio::time::sleep(NO_QUORUM_STOP_GRACE).await;
            if !status.borrow().quorate {
                return;
            }
        }
    };
    tokio::select! {
        _ = may_leave.wait_for(|v| *v) => info!("resources moved; leaving"),
        _ = inquorate_too_long => warn!("lost quorum while shutting down; stopping now"),
        _ = signal() => warn!("second signal: stopping now"),
    }
}

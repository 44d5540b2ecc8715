//! The executor: runs the steps the current transition hands this node, through the WASM
//! runtime or the OCF shim, keeps recurring monitors going, and reports results into the CIB.
//! Steps from a DC older than the current term are refused and reported as not run.

use anyhow::{Context, Result};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, info, info_span, warn};

use atrium_cib::status::op_status;
use atrium_contract::{Action, ActionRequest, AgentAddress, OpOutcome, ResourceAgent};

use super::cib_state::{CibCommand, OpReport};
use super::throttle;
use super::transition::{Step, StepKind};
use super::{NodeContext, now_ms};
use crate::fencing::DeviceResource;
use crate::registry::AgentRegistry;
use crate::remote::links::RemoteLinks;

/// Results carried by one Raft entry at most.
const MAX_RESULTS_PER_COMMIT: usize = 256;

/// Results waiting to be committed, and whether a task is committing them.
#[derive(Default)]
struct ResultQueue {
    pending: Vec<(OpReport, tokio::sync::oneshot::Sender<()>)>,
    flushing: bool,
}

pub struct Executor {
    ctx: Arc<NodeContext>,
    results: Mutex<ResultQueue>,
    registry: Arc<AgentRegistry>,
    /// Loaded agents by address: a WASM agent is compiled once, not per action.
    agents: Mutex<HashMap<String, Arc<dyn ResourceAgent>>>,
    /// Steps of the current transition started here: (transition, steps).
    started: Mutex<(u64, HashSet<usize>)>,
    /// Agents running now: the job slots taken (see `JobSlot`).
    running: Mutex<usize>,
    monitors: Mutex<HashMap<(String, u64), JoinHandle<()>>>,
    /// Attributes this node last copied from its agents' attribute store into the CIB.
    synced_attributes: Mutex<BTreeMap<String, String>>,
    wake: tokio::sync::Notify,
    rejoining: std::sync::atomic::AtomicBool,
    /// Set while the node has lost quorum and applies no-quorum-policy: nothing new starts.
    held: std::sync::atomic::AtomicBool,
    /// Connections to remote nodes held here, and the operations carried over them.
    remotes: RemoteLinks,
}

/// One of the node's job slots (node-action-limit), held while an agent runs; freed on drop.
struct JobSlot(Arc<Executor>);

impl JobSlot {
    fn take(executor: &Arc<Executor>) -> JobSlot {
        *executor.running.lock().unwrap() += 1;
        JobSlot(Arc::clone(executor))
    }
}

impl Drop for JobSlot {
    fn drop(&mut self) {
        *self.0.running.lock().unwrap() -= 1;
        self.0.wake.notify_one();
    }
}

impl Executor {
    pub fn new(ctx: Arc<NodeContext>, registry: Arc<AgentRegistry>) -> Arc<Executor> {
        let remotes = RemoteLinks::new(&ctx);
        Arc::new(Executor {
            remotes,
            results: Mutex::default(),
            ctx,
            registry,
            agents: Mutex::new(HashMap::new()),
            started: Mutex::new((0, HashSet::new())),
            running: Mutex::new(0),
            monitors: Mutex::new(HashMap::new()),
            synced_attributes: Mutex::new(BTreeMap::new()),
            wake: tokio::sync::Notify::new(),
            rejoining: std::sync::atomic::AtomicBool::new(false),
            held: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub async fn run(self: Arc<Self>) {
        let mut status = self.ctx.cluster.watch();
        let mut stopping = self.ctx.stopping.subscribe();
        loop {
            self.rejoin_if_dropped();
            self.dispatch();
            tokio::select! {
                changed = status.changed() => if changed.is_err() { break },
                _ = self.wake.notified() => {}
                _ = stopping.changed() => break,
            }
        }
        self.cancel_all_monitors();
    }

    /// A node the DC counted as lost while it was alive (a stall, a partition) joins again:
    /// its history is rediscovered by probes, so what it still runs is seen.
    fn rejoin_if_dropped(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        let dropped = self.ctx.cluster.read(|s| {
            s.cib.status.node_states.iter().any(|n| n.uname.as_deref() == Some(self.ctx.name.as_str()) && !n.crmd_online())
        });
        if !dropped || self.rejoining.swap(true, Ordering::SeqCst) {
            return;
        }
        warn!("the cluster counted this node as lost; joining again");
        self.cancel_all_monitors();
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let _ = me.ctx.join().await;
            me.rejoining.store(false, Ordering::SeqCst);
            me.wake.notify_one();
        });
    }

    /// Holds (or releases) the start of new steps.
    pub fn hold(&self, on: bool) {
        self.held.store(on, std::sync::atomic::Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Waits until no agent runs here; false if `deadline` came first.
    pub async fn wait_idle(&self, deadline: Option<Instant>) -> bool {
        loop {
            if *self.running.lock().unwrap() == 0 {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts every step dispatched to this node that is not running yet, within the job limit.
    fn dispatch(self: &Arc<Self>) {
        if self.held.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let term = self.ctx.cluster.status().term;
        let options = self.ctx.cluster.read(|s| s.cib.options());
        let threshold = throttle::parse_load_threshold(options.raw.get("load-threshold").map(String::as_str));
        let limit = throttle::job_limit(options.node_action_limit, throttle::cores(), throttle::load_average().unwrap_or(0.0), threshold);
        let room = limit.saturating_sub(*self.running.lock().unwrap());
        // Runs on every applied entry on every node, while thousands of steps may be in flight:
        // look only at this node's, and copy out only those it has room to start.
        let me = self.ctx.name.as_str();
        let Some((tid, t_term, mine, full)) = self.ctx.cluster.read(|s| {
            let t = s.transition.as_ref()?;
            let mut started = self.started.lock().unwrap();
            // Steps of earlier transitions never come back.
            if started.0 != t.id {
                *started = (t.id, HashSet::new());
            }
            let waiting = || t.in_flight_on(me).filter(|s| matches!(s.kind, StepKind::Resource | StepKind::Shutdown) && !started.1.contains(&s.id));
            // A DC of an older term: none of it runs here, and all of it is handed back.
            if t.term < term {
                return Some((t.id, t.term, waiting().cloned().collect(), false));
            }
            // Starts, stops and probes before the first runs of recurring monitors: a free slot
            // goes to what brings a resource up (or down) rather than to watching one that is.
            let recurring = |s: &&Step| s.task == "monitor" && s.interval_ms > 0;
            let mut mine: Vec<Step> = waiting().filter(|s| !recurring(s)).take(room).cloned().collect();
            mine.extend(waiting().filter(recurring).take(room - mine.len()).cloned());
            let full = mine.len() == room;
            Some((t.id, t.term, mine, full))
        }) else {
            return;
        };
        if full {
            debug!(limit, "job limit reached; anything more waits");
        }
        if mine.is_empty() {
            return;
        }
        if t_term < term {
            self.hand_back(tid, t_term, term, mine);
            return;
        }
        for step in mine {
            if !self.started.lock().unwrap().1.insert(step.id) {
                continue;
            }
            let slot = JobSlot::take(self);
            let me = Arc::clone(self);
            let span = info_span!("action", transition = tid, rsc = step.rsc.as_deref().unwrap_or(""), op = %step.key(), agent = step.agent.as_deref().unwrap_or(""));
            tokio::spawn(
                async move {
                    me.run_step(tid, step, slot).await;
                }
                .instrument(span),
            );
        }
    }

    /// Steps a DC of an older term dispatched here and that never started are refused (the
    /// new DC decides afresh) and reported as not run: the new DC aborts that transition and
    /// waits for its steps in flight, which would otherwise wait forever.
    fn hand_back(self: &Arc<Self>, tid: u64, t_term: u64, term: u64, steps: Vec<Step>) {
        let ids: Vec<usize> = {
            let mut started = self.started.lock().unwrap();
            steps.iter().map(|s| s.id).filter(|id| started.1.insert(*id)).collect()
        };
        if ids.is_empty() {
            return;
        }
        warn!(transition = tid, transition_term = t_term, term, steps = ids.len(), "refusing steps from a DC of an older term");
        let command = CibCommand::StepsNotRun { transition: tid, node: self.ctx.name.clone(), steps: ids, reason: format!("not run: dispatched by the DC of term {t_term}, replaced in term {term}") };
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let _ = me.ctx.propose_until_done(command).await;
        });
    }

    async fn run_step(self: &Arc<Self>, tid: u64, step: Step, slot: JobSlot) {
        match step.kind {
            StepKind::Shutdown => {
                let _ = self.ctx.propose_until_done(CibCommand::StepFinished { transition: tid, step: step.id, error: None }).await;
                info!("the DC let this node shut down");
                self.ctx.request_stop();
            }
            StepKind::Resource => {
                let report = self.execute(&step, Some((tid, step.id))).await;
                let rc = report.rc;
                // The agent is done: the next step may start while this result is committed
                // (and then goes into the same group commit as the others finishing now).
                drop(slot);
                self.report(report).await;
                if step.task == "monitor" && step.interval_ms > 0 {
                    self.start_monitor(&step, rc);
                }
            }
            _ => {}
        }
    }

    /// Runs one agent operation (or the cancel of a recurring monitor) and describes it.
    pub async fn execute(self: &Arc<Self>, step: &Step, at: Option<(u64, usize)>) -> OpReport {
        let rsc = step.instance.clone().unwrap_or_default();
        let started_ms = now_ms();
        let begin = Instant::now();
        let monitors = monitor_key(step);
        let mut report = OpReport {
            node: step.node.clone().unwrap_or_else(|| self.ctx.name.clone()),
            rsc: rsc.clone(),
            agent_kind: step.agent.clone().unwrap_or_default(),
            task: step.task.clone(),
            interval_ms: step.interval_ms,
            rc: 0,
            op_status: op_status::DONE,
            exit_reason: None,
            target_rc: step.target_rc,
            started_ms,
            exec_ms: 0,
            step: at,
        };
        if step.task == "cancel" {
            self.cancel_monitor(&monitors, step.interval_ms);
            return report;
        }
        if step.task == "stop" {
            self.cancel_monitors_of(&monitors);
            if step.agent.as_deref() == Some(crate::remote::CONNECTION_AGENT) {
                self.cancel_monitors_on(&rsc);
            }
        }
        let result = match (RemoteLinks::handles(step, &self.ctx.name), request_for(step)) {
            (true, Ok(request)) => self.remotes.execute(&self.ctx, step, request, at).await,
            (false, Ok(request)) => match self.agent(step.agent.as_deref()).await {
                Ok(agent) => tokio::task::spawn_blocking(move || agent.execute(&request)).await.context("agent call panicked"),
                Err(e) => Err(e),
            },
            (_, Err(e)) => Err(e),
        };
        match result {
            Ok(r) => {
                report.rc = r.status.code();
                report.exit_reason = r.exit_reason.clone();
                report.op_status = match r.outcome {
                    OpOutcome::Done => op_status::DONE,
                    OpOutcome::TimedOut => op_status::TIMEOUT,
                    OpOutcome::Error => op_status::ERROR,
                };
            }
            Err(e) => {
                report.rc = atrium_cib::status::rc::ERR_GENERIC;
                report.op_status = op_status::ERROR;
                report.exit_reason = Some(format!("{e:#}"));
            }
        }
        report.exec_ms = begin.elapsed().as_millis() as u64;
        if report.is_failure() {
            warn!(rc = report.rc, op_status = report.op_status, reason = report.exit_reason.as_deref().unwrap_or(""), ms = report.exec_ms, "operation failed");
        } else {
            info!(rc = report.rc, ms = report.exec_ms, "operation done");
        }
        report
    }

    async fn agent(&self, address: Option<&str>) -> Result<Arc<dyn ResourceAgent>> {
        let address = address.context("the step names no agent")?;
        if let Some(a) = self.agents.lock().unwrap().get(address) {
            return Ok(Arc::clone(a));
        }
        // A stonith resource's own actions register and check the device. Its type may hold a
        // '/' (`external/stonith-helper`), which no other agent address does.
        if let Some(kind) = address.strip_prefix("stonith:") {
            let fence_agents = Arc::clone(&self.ctx.fence_agents);
            let kind = kind.to_string();
            let device = tokio::task::spawn_blocking(move || fence_agents.by_type(&kind)).await.context("loading the fence agent panicked")?;
            let agent: Arc<dyn ResourceAgent> = Arc::new(DeviceResource::new(device, self.ctx.run_dir.join("fence-devices")));
            self.agents.lock().unwrap().insert(address.to_string(), Arc::clone(&agent));
            return Ok(agent);
        }
        let parsed: AgentAddress = address.parse().with_context(|| format!("agent {address}"))?;
        let grants = self.ctx.grants.get(address).cloned().unwrap_or_default();
        let registry = Arc::clone(&self.registry);
        let agent: Arc<dyn ResourceAgent> =
            tokio::task::spawn_blocking(move || registry.resource_agent(&parsed, &grants).map(Arc::from)).await.context("loading the agent panicked")??;
        self.agents.lock().unwrap().insert(address.to_string(), Arc::clone(&agent));
        Ok(agent)
    }

    /// Sends a result to the CIB (retrying through DC changes) and, at the same time, into the
    /// node's own operation history (a local record: waiting for its disk sync before the Raft
    /// round would hold the job slot for both), then copies any attribute the agent set.
    async fn report(&self, report: OpReport) {
        let record = atrium_db::OpResult {
            node: report.node.clone(),
            resource: report.rsc.clone(),
            operation: report.task.clone(),
            interval_ms: report.interval_ms,
            rc: report.rc,
            status: op_status_name(report.op_status).into(),
            exit_reason: report.exit_reason.clone(),
            call_id: 0,
            started_ms: report.started_ms,
            ended_ms: report.started_ms + report.exec_ms,
            duration_ms: report.exec_ms,
            transition_id: report.step.map(|(t, s)| format!("{t}:{s}")),
        };
        let history = async {
            if let Err(e) = self.ctx.db.op_history().record(&record).await {
                warn!(error = %e, "could not record the operation in the history");
            }
        };
        tokio::join!(history, self.commit_result(report));
        self.sync_attributes().await;
    }

    /// Puts a result into the CIB, returning once it is committed. Results that arrive while
    /// another batch is being committed go together in the next one (group commit): a busy
    /// node spends one Raft round per batch, not per result.
    async fn commit_result(&self, report: OpReport) {
        let (done, committed) = tokio::sync::oneshot::channel();
        let leads = {
            let mut q = self.results.lock().unwrap();
            q.pending.push((report, done));
            !std::mem::replace(&mut q.flushing, true)
        };
        if leads {
            loop {
                let batch = {
                    let mut q = self.results.lock().unwrap();
                    if q.pending.is_empty() {
                        q.flushing = false;
                        break;
                    }
                    let n = q.pending.len().min(MAX_RESULTS_PER_COMMIT);
                    q.pending.drain(..n).collect::<Vec<_>>()
                };
                let (reports, waiters): (Vec<OpReport>, Vec<_>) = batch.into_iter().unzip();
                let _ = self.ctx.propose_until_done(CibCommand::OpResults { results: reports }).await;
                for w in waiters {
                    let _ = w.send(());
                }
            }
        }
        let _ = committed.await;
    }

    fn start_monitor(self: &Arc<Self>, step: &Step, first_rc: i32) {
        let rsc = step.instance.clone().unwrap_or_default();
        let key = (monitor_key(step), step.interval_ms);
        let me = Arc::clone(self);
        let step = step.clone();
        let span = info_span!("monitor", rsc = %rsc, interval_ms = step.interval_ms);
        let handle = tokio::spawn(
            async move {
                let mut last_rc = first_rc;
                let mut every = tokio::time::interval(Duration::from_millis(step.interval_ms.max(1)));
                every.tick().await;
                loop {
                    every.tick().await;
                    if me.remotes.unreachable(&step, &me.ctx.name) {
                        continue;
                    }
                    let report = me.execute(&step, None).await;
                    if report.rc != last_rc || report.op_status != op_status::DONE {
                        last_rc = report.rc;
                        me.report(report).await;
                    }
                }
            }
            .instrument(span),
        );
        if let Some(old) = self.monitors.lock().unwrap().insert(key, handle) {
            old.abort();
        }
    }

    fn cancel_monitor(&self, rsc: &str, interval_ms: u64) {
        if let Some(h) = self.monitors.lock().unwrap().remove(&(rsc.to_string(), interval_ms)) {
            h.abort();
        }
    }

    fn cancel_monitors_of(&self, rsc: &str) {
        self.monitors.lock().unwrap().retain(|(r, _), h| {
            if r == rsc {
                h.abort();
            }
            r != rsc
        });
    }

    /// A remote node's connection left this node: its resources are no longer monitored from here.
    fn cancel_monitors_on(&self, remote: &str) {
        let suffix = format!("@{remote}");
        self.monitors.lock().unwrap().retain(|(r, _), h| {
            if r.ends_with(&suffix) {
                h.abort();
            }
            !r.ends_with(&suffix)
        });
    }

    pub fn cancel_all_monitors(&self) {
        for (_, h) in self.monitors.lock().unwrap().drain() {
            h.abort();
        }
    }

    /// Agents set node attributes (promotion scores) in the node's attribute store; the CIB
    /// gets every change so the scheduler sees it.
    async fn sync_attributes(&self) {
        let current = match self.registry.attributes().of_node(&self.ctx.name) {
            Ok(attrs) => attrs,
            Err(e) => {
                warn!(error = %e, "reading the node attribute store");
                return;
            }
        };
        let changes = attribute_changes(&self.synced_attributes.lock().unwrap(), &current);
        if changes.is_empty() {
            return;
        }
        let cmd = CibCommand::SetTransientAttributes { node: self.ctx.name.clone(), attrs: changes };
        if self.ctx.propose_until_done(cmd).await.is_ok() {
            *self.synced_attributes.lock().unwrap() = current;
        }
    }
}

/// What to send the CIB so that it holds `current` where it held `synced` (None removes).
pub(crate) fn attribute_changes(synced: &BTreeMap<String, String>, current: &BTreeMap<String, String>) -> BTreeMap<String, Option<String>> {
    let mut changes: BTreeMap<String, Option<String>> =
        current.iter().filter(|(k, v)| synced.get(*k) != Some(v)).map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
    changes.extend(synced.keys().filter(|k| !current.contains_key(*k)).map(|k| (k.clone(), None)));
    changes
}

fn op_status_name(s: i32) -> &'static str {
    match s {
        op_status::DONE => "done",
        op_status::TIMEOUT => "timeout",
        op_status::CANCELLED => "cancelled",
        _ => "error",
    }
}

/// Recurring monitors by resource: a remote node's resources as `rsc@node`, since the full
/// node carrying them may run an instance of the same name itself (anonymous clones).
fn monitor_key(step: &Step) -> String {
    let rsc = step.instance.clone().unwrap_or_default();
    match (&step.via, &step.node) {
        (Some(_), Some(node)) => format!("{rsc}@{node}"),
        _ => rsc,
    }
}

fn request_for(step: &Step) -> Result<ActionRequest> {
    let action: Action = step.task.parse()?;
    let peer = match action {
        Action::MigrateTo => step.meta.get("migrate_target").cloned(),
        Action::MigrateFrom => step.meta.get("migrate_source").cloned(),
        _ => None,
    };
    let mut request = ActionRequest::new(action, step.instance.clone().unwrap_or_default());
    request.migrate_peer = peer;
    request.params = step.params.clone();
    request.meta = step.meta.clone();
    request.timeout = Duration::from_millis(step.timeout_ms);
    request.interval = Duration::from_millis(step.interval_ms);
    Ok(request)
}

//! The DC loop, run on every node and active on the quorate Raft leader: keeps the CIB's
//! membership in line with liveness, runs the scheduler whenever its input changed, starts the
//! resulting transition, and aborts a transition the cluster has moved past.

use anyhow::Result;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{Instrument, debug, info, info_span, warn};

use atrium_cluster::ClusterStatus;

use super::cib_state::{CibCommand, CibReply, FenceCompletion};
use super::packed::Packed;
use super::pe_inputs::{DEFAULT_SERIES_MAX, PeInputs};
use super::{NodeContext, now_ms};
use crate::daemon::plan;
use crate::daemon::transition::Transition;
use crate::fencing::{self, FenceAction, FenceOutcome, FenceRecord};

/// A DC that schedules this many transitions without the input changing is looping (an
/// action that keeps "succeeding" without changing the status); it stops and says so.
const MAX_TRANSITIONS_PER_INPUT: u32 = 20;

/// How often the DC looks again without a change (failure timeouts, recheck).
const TICK: Duration = Duration::from_secs(1);

pub async fn run(ctx: Arc<NodeContext>, mut pe: PeInputs) {
    let mut status = ctx.cluster.watch();
    let mut dc = DcState::default();
    let mut tick = tokio::time::interval(TICK);
    let mut stopping = ctx.stopping.subscribe();
    let mut taking_over = ctx.taking_over.subscribe();
    loop {
        tokio::select! {
            changed = status.changed() => if changed.is_err() { return },
            _ = taking_over.changed() => {}
            _ = tick.tick() => {}
            _ = stopping.changed() => return,
        }
        let st = status.borrow_and_update().clone();
        // A two-node take-over makes this node leader before its fencing of the peer is
        // recorded; until then the peer would look lost and unfenced.
        if !(st.i_am_leader && st.quorate) || *taking_over.borrow_and_update() {
            if dc.active {
                info!(node = %ctx.name, "no longer DC");
            }
            // Fencing already under way runs to its end and reports; a later DC term must
            // not start it a second time from this node.
            dc = DcState { fencing: Arc::clone(&dc.fencing), ..DcState::default() };
            continue;
        }
        if !dc.active {
            info!(node = %ctx.name, term = st.term, "became DC");
            dc.active = true;
        }
        if let Err(e) = dc.pass(&ctx, &st, &mut pe).await {
            warn!(error = %format!("{e:#}"), "DC pass failed; retrying on the next change");
        }
    }
}

#[derive(Default)]
struct DcState {
    active: bool,
    /// (generation, latest transition id) last scheduled without work: nothing to do until
    /// either moves.
    settled: Option<(u64, u64)>,
    /// Transitions started for the current generation.
    per_generation: (u64, u32),
    /// When this DC last ran the scheduler for a recheck.
    last_recheck_ms: u64,
    /// Fencing operations this node is running, by id.
    fencing: Arc<Mutex<HashSet<u64>>>,
}

impl DcState {
    async fn pass(&mut self, ctx: &Arc<NodeContext>, st: &ClusterStatus, pe: &mut PeInputs) -> Result<()> {
        self.sync_membership(ctx, st).await?;
        self.start_fencing(ctx);
        // Runs on every applied entry: the CIB is copied only when the scheduler may run.
        let (transition, generation, cib) = ctx.cluster.read(|s| {
            let outline = s.transition.as_ref().map(Transition::outline);
            let cib = outline.as_ref().is_none_or(|t| t.finished).then(|| s.cib.clone());
            (outline, s.generation, cib)
        });
        if let Some(t) = &transition {
            if !t.finished {
                if !t.aborted {
                    let reason = if t.term < st.term {
                        Some(format!("made by the DC of term {}", t.term))
                    } else if t.generation != generation {
                        Some("the cluster changed".to_string())
                    } else {
                        None
                    };
                    if let Some(reason) = reason {
                        info!(transition = t.id, %reason, "aborting transition");
                        ctx.propose(CibCommand::AbortTransition { transition: t.id, reason }).await?;
                    }
                }
                return Ok(());
            }
        }
        let Some(cib) = cib else { return Ok(()) };
        let last_id = transition.as_ref().map_or(0, |t| t.id);
        let options = cib.options();
        let now = now_ms();
        let recheck_due = options.cluster_recheck_interval_ms > 0 && now.saturating_sub(self.last_recheck_ms) >= options.cluster_recheck_interval_ms.min(60_000);
        if self.settled == Some((generation, last_id)) && !recheck_due {
            return Ok(());
        }
        if self.per_generation.0 != generation {
            self.per_generation = (generation, 0);
        }
        if self.per_generation.1 >= MAX_TRANSITIONS_PER_INPUT {
            warn!(generation, "scheduler keeps producing transitions for an unchanged CIB; waiting for a change");
            self.settled = Some((generation, last_id));
            return Ok(());
        }
        self.last_recheck_ms = now;

        let input = plan::scheduler_input(&cib, st.quorate, Some(ctx.id));
        let now_s = (now / 1000) as i64;
        let series_max = options.raw.get("pe-input-series-max").and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_SERIES_MAX);
        let pe_input = pe.save(&input, now_s, series_max).map_err(|e| warn!(error = %format!("{e:#}"), "could not save the scheduler input")).ok();
        let span = info_span!("schedule", generation, pe_input);
        let schedule = span.in_scope(|| atrium_scheduler::schedule(&input, now_s));
        let t = plan::transition(&input, &schedule, &ctx.name, generation, pe_input, now);
        if !plan::has_work(&t) {
            debug!(generation, pe_input, "nothing to do");
            self.settled = Some((generation, last_id));
            return Ok(());
        }
        let summary: Vec<String> = atrium_scheduler::summary::render_lines(&schedule.summary).into_iter().map(|l| l.trim().to_string()).collect();
        let steps = t.steps.len();
        let packed = span.in_scope(|| Packed::pack(&t));
        let entry_bytes = packed.len();
        match ctx.propose(CibCommand::StartTransition { transition: packed }).instrument(span).await? {
            CibReply::Ok { summary: started, .. } => {
                self.per_generation.1 += 1;
                info!(generation, pe_input, steps, entry_bytes, %started, actions = ?summary, "transition started");
            }
            CibReply::Rejected { reason } => debug!(%reason, "transition not started"),
        }
        Ok(())
    }

    /// Marks nodes the cluster no longer hears from as lost. (Nodes come online by joining.)
    async fn sync_membership(&self, ctx: &NodeContext, st: &ClusterStatus) -> Result<()> {
        let online: Vec<String> =
            ctx.cluster.read(|s| s.cib.status.node_states.iter().filter(|n| n.crmd_online() || n.in_ccm()).filter_map(|n| n.uname.clone()).collect());
        let alive = |name: &str| st.members.iter().any(|(id, info)| info.name == name && (*id == st.node_id || st.node_liveness.get(id).is_some_and(|l| l.alive)));
        let lost: Vec<String> = online.into_iter().filter(|n| !alive(n)).collect();
        if !lost.is_empty() {
            info!(?lost, "membership changed");
            ctx.propose(CibCommand::NodesLost { nodes: lost, at_ms: now_ms() }).await?;
        }
        Ok(())
    }

    /// Starts every queued fencing operation this node is not running yet.
    fn start_fencing(&self, ctx: &Arc<NodeContext>) {
        let pending: Vec<FenceRecord> = ctx.cluster.read(|s| s.pending_fences().cloned().collect());
        for record in pending {
            if !self.fencing.lock().unwrap().insert(record.id) {
                continue;
            }
            let span = info_span!("fence", id = record.id, target = %record.target, action = %record.action);
            let (ctx, running) = (Arc::clone(ctx), Arc::clone(&self.fencing));
            tokio::spawn(
                async move {
                    let id = record.id;
                    let outcome = fence(&ctx, &record).await;
                    let completion = FenceCompletion {
                        id,
                        ok: outcome.ok,
                        executioner: ctx.name.clone(),
                        at_ms: now_ms(),
                        level: outcome.level,
                        devices: outcome.devices,
                        attempts: outcome.attempts,
                        reason: outcome.reason,
                    };
                    if let Err(e) = ctx.propose_until_done(CibCommand::FenceCompleted(Box::new(completion))).await {
                        warn!(error = %e, "could not record the end of a fencing operation");
                    }
                    running.lock().unwrap().remove(&id);
                }
                .instrument(span),
            );
        }
    }
}

/// Runs one fencing operation with the configuration as it is now. Without any device for the
/// target, `stonith-watchdog-timeout` (when set) counts: a node without quorum stops its
/// resources and then itself within that time (see `quorum_guard`), so once it has passed the
/// node is as good as fenced.
async fn fence(ctx: &NodeContext, record: &FenceRecord) -> FenceOutcome {
    if record.target == ctx.name {
        return FenceOutcome::refused(format!("{} is the DC and does not fence itself", record.target));
    }
    let Some(action) = FenceAction::parse(&record.action) else { return FenceOutcome::refused(format!("unknown fencing action {}", record.action)) };
    let cib = ctx.cluster.read(|s| s.cib.clone());
    let operation = match fencing::operation_for(&cib, &record.target, action) {
        Ok(op) => op,
        Err(e) => return FenceOutcome::refused(e.to_string()),
    };
    let watchdog_ms = cib.options().raw.get("stonith-watchdog-timeout").and_then(|v| atrium_cib::parse_duration_ms(v).ok()).unwrap_or(0);
    if operation.levels.is_empty() && watchdog_ms > 0 {
        info!(target = %record.target, watchdog_ms, "no fence device for the target: waiting for it to fence itself");
        tokio::time::sleep(Duration::from_millis(watchdog_ms)).await;
        return FenceOutcome { ok: true, level: None, devices: vec!["watchdog".into()], attempts: vec![], reason: None };
    }
    operation.run(ctx.fence_agents.as_ref()).await
}

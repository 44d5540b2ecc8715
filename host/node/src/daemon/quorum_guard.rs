//! What a node does on its own when it loses quorum: nobody can schedule for it any more, so
//! it applies the cluster's `no-quorum-policy` itself, with the same scheduler the DC uses.
//!
//! - `stop`: every resource active here is stopped (in the order the scheduler gives).
//! - `demote`: promoted instances here are demoted; the rest keeps running.
//! - `freeze`, `ignore`: nothing changes here.
//! - `fence`: everything is stopped, then the node fences itself (the daemon exits).
//!
//! What is active is not taken from the CIB copy (results of the last moments may not have
//! been committed): the node probes its resources first, as after a join. When a stop fails,
//! or does not finish before `stonith-watchdog-timeout` runs out, the node fences itself, so
//! the majority may count it fenced once that timeout has passed.
//!
//! The bound: a node notices the loss within the lease (2 s by default) of its last contact
//! with a quorate leader and has stopped its resources (or exited) by
//! `stonith-watchdog-timeout` after that contact.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{error, info, warn};

use atrium_cib::NoQuorumPolicy;

use super::cib_state::{OpReport, record_probe};
use super::executor::Executor;
use super::transition::{Step, StepKind};
use super::{NodeContext, plan};

/// Exit code of a node that fenced itself.
pub const SELF_FENCED_EXIT: i32 = 75;

/// Concurrent probes while finding out what runs here.
const PROBE_BATCH: usize = 8;

/// Margin kept before the watchdog timeout when bounding the stops.
const WATCHDOG_MARGIN: Duration = Duration::from_millis(500);

pub async fn run(ctx: Arc<NodeContext>, executor: Arc<Executor>) {
    let mut status = ctx.cluster.watch();
    let mut stopping = ctx.stopping.subscribe();
    loop {
        // Armed only once the node had quorum: a node starting alone has nothing to stop.
        tokio::select! {
            r = status.wait_for(|s| s.quorate) => if r.is_err() { return },
            _ = stopping.changed() => return,
        }
        tokio::select! {
            r = status.wait_for(|s| !s.quorate) => if r.is_err() { return },
            _ = stopping.changed() => return,
        }
        if *ctx.stopping.borrow() {
            return;
        }
        let lost_at = Instant::now();
        let options = ctx.cluster.read(|s| s.cib.options());
        let acted = match options.no_quorum_policy {
            NoQuorumPolicy::Freeze | NoQuorumPolicy::Ignore => {
                warn!(policy = ?options.no_quorum_policy, "lost quorum: resources here keep running");
                false
            }
            policy => {
                let watchdog = options.raw.get("stonith-watchdog-timeout").and_then(|v| atrium_cib::parse_duration_ms(v).ok()).filter(|ms| *ms > 0);
                // The loss is noticed a lease after the last contact; the watchdog counts from it.
                let lease = ctx.lease;
                let deadline = watchdog.map(|ms| lost_at + Duration::from_millis(ms).saturating_sub(lease + WATCHDOG_MARGIN));
                warn!(?policy, "lost quorum: applying no-quorum-policy here");
                executor.hold(true);
                let done = enforce(&ctx, &executor, policy, deadline).await;
                if !done || policy == NoQuorumPolicy::Fence {
                    self_fence(if done { "no-quorum-policy=fence" } else { "could not stop every resource in time" });
                }
                info!(ms = lost_at.elapsed().as_millis() as u64, "no-quorum-policy applied");
                true
            }
        };
        tokio::select! {
            r = status.wait_for(|s| s.quorate) => if r.is_err() { return },
            _ = stopping.changed() => return,
        }
        if acted {
            // What the CIB says runs here is no longer true: join again, so it is probed.
            info!("quorum is back: joining again so the cluster sees what runs here");
            let _ = ctx.join().await;
            executor.hold(false);
        }
    }
}

/// Probes, then runs this node's stops (or demotes) in the scheduler's order. False if one
/// failed or the deadline passed.
async fn enforce(ctx: &Arc<NodeContext>, executor: &Arc<Executor>, policy: NoQuorumPolicy, deadline: Option<Instant>) -> bool {
    let in_time = |what: &str| {
        let ok = deadline.is_none_or(|d| Instant::now() < d);
        if !ok {
            error!("{what} did not finish before the watchdog deadline");
        }
        ok
    };
    executor.cancel_all_monitors();
    if !executor.wait_idle(deadline).await {
        return in_time("actions in flight");
    }
    let me = ctx.name.clone();
    let mut cib = ctx.cluster.read(|s| s.cib.clone());
    // Probe everything, as a joining node would be.
    if let Some(state) = cib.status.node_states.iter_mut().find(|s| s.uname.as_deref() == Some(me.as_str())) {
        state.lrm_resources.clear();
    }
    let now_s = (super::now_ms() / 1000) as i64;
    let probes = my_steps(&cib, true, &me, now_s, |s| s.task == "monitor" && s.interval_ms == 0);
    let mut reports: Vec<OpReport> = Vec::new();
    for batch in probes.chunks(PROBE_BATCH) {
        let mut running = tokio::task::JoinSet::new();
        for step in batch {
            let (executor, step) = (Arc::clone(executor), step.clone());
            running.spawn(async move { executor.execute(&step, None).await });
        }
        reports.extend(running.join_all().await);
        if !in_time("probing") {
            return false;
        }
    }
    let state = cib.status.node_states.iter_mut().find(|s| s.uname.as_deref() == Some(me.as_str()));
    if let Some(state) = state {
        for (i, r) in reports.iter().enumerate() {
            record_probe(state, r, i as i64 + 1);
        }
    }
    let active: Vec<&str> = reports.iter().filter(|r| r.rc != atrium_cib::status::rc::NOT_RUNNING).map(|r| r.rsc.as_str()).collect();
    info!(?active, "found active here");
    let wanted = |s: &Step| match policy {
        NoQuorumPolicy::Demote => s.task == "demote",
        _ => matches!(s.task.as_str(), "stop" | "demote"),
    };
    let steps = my_steps(&cib, false, &me, now_s, wanted);
    for step in &steps {
        let r = executor.execute(step, None).await;
        if r.is_failure() {
            error!(op = %step.key(), rc = r.rc, "could not stop a resource after losing quorum");
            return false;
        }
        if !in_time("stopping") {
            return false;
        }
    }
    true
}

/// This node's resource steps of the schedule for `cib` (with or without quorum) that `keep`
/// accepts, in an order that respects the graph's edges among them.
fn my_steps(cib: &atrium_cib::Cib, quorate: bool, me: &str, now_s: i64, keep: impl Fn(&Step) -> bool) -> Vec<Step> {
    let input = plan::scheduler_input(cib, quorate, None);
    let schedule = atrium_scheduler::schedule(&input, now_s);
    let t = plan::transition(&input, &schedule, me, 0, None, 0);
    let mine: BTreeMap<usize, &Step> = t.steps.iter().filter(|s| s.kind == StepKind::Resource && s.node.as_deref() == Some(me) && keep(s)).map(|s| (s.id, s)).collect();
    let mut order = Vec::new();
    let mut placed = std::collections::BTreeSet::new();
    while placed.len() < mine.len() {
        let before_len = placed.len();
        for (&id, step) in &mine {
            if placed.contains(&id) {
                continue;
            }
            let waits = t.edges.iter().any(|&(b, a)| a == id && mine.contains_key(&b) && !placed.contains(&b));
            if !waits {
                placed.insert(id);
                order.push((*step).clone());
            }
        }
        if placed.len() == before_len {
            // A cycle among them cannot come from the scheduler; run the rest as they are.
            order.extend(mine.iter().filter(|(id, _)| !placed.contains(*id)).map(|(_, s)| (*s).clone()));
            break;
        }
    }
    order
}

fn self_fence(why: &str) -> ! {
    error!(reason = why, "fencing this node: exiting");
    eprintln!("atrium: self-fencing ({why})");
    std::process::exit(SELF_FENCED_EXIT);
}

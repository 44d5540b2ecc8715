//! The replicated CIB: configuration, status and the DC's current transition. Every node
//! applies the same commands in log order; `apply` is deterministic (times come in the
//! commands, never from the clock).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokio::sync::mpsc::UnboundedSender;

use atrium_cib::status::{LrmResource, LrmRscOp, NodeState, op_status, rc};
use atrium_cib::{Cib, Configuration, NvPair, NvSet, Role, edit};
use atrium_cluster::{ApplyContext, ReplicatedState};

use super::packed::Packed;
use super::transition::{StepKind, StepState, Transition};
use crate::fencing::{Attempt, FenceOrigin, FenceRecord, FenceState};

/// Fencing operations kept in the history (the oldest finished ones go first).
const FENCE_HISTORY_MAX: usize = 500;

/// Pacemaker's `stonith-max-attempts` default: failed fencings of a target before the DC stops
/// trying until something changes.
const DEFAULT_FENCE_MAX_ATTEMPTS: u32 = 10;

/// An administrator's change to the configuration, applied on every node alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "edit", rename_all = "snake_case")]
pub enum ConfigEdit {
    SetProperty { name: String, value: Option<String> },
    TargetRole { rsc: String, role: Role },
    Move { rsc: String, node: String },
    Ban { rsc: String, node: String },
    Clear { rsc: String, node: Option<String> },
    Standby { node: String, on: bool },
}

impl ConfigEdit {
    fn apply(&self, cfg: &mut Configuration) -> Result<String, edit::EditError> {
        Ok(match self {
            ConfigEdit::SetProperty { name, value: Some(v) } => {
                edit::set_property(cfg, name, v)?;
                format!("property {name}={v}")
            }
            ConfigEdit::SetProperty { name, value: None } => {
                edit::unset_property(cfg, name);
                format!("property {name} unset")
            }
            ConfigEdit::TargetRole { rsc, role } => {
                edit::set_target_role(cfg, rsc, *role)?;
                format!("resource {rsc} target-role={}", role.as_str())
            }
            ConfigEdit::Move { rsc, node } => {
                edit::move_resource(cfg, rsc, node, None)?;
                format!("resource {rsc} moved to {node}")
            }
            ConfigEdit::Ban { rsc, node } => {
                edit::ban_resource(cfg, rsc, node, None)?;
                format!("resource {rsc} banned from {node}")
            }
            ConfigEdit::Clear { rsc, node } => {
                let n = edit::clear_resource(cfg, rsc, node.as_deref())?;
                format!("resource {rsc}: {n} move/ban constraint(s) cleared")
            }
            ConfigEdit::Standby { node, on } => {
                edit::set_standby(cfg, node, *on)?;
                format!("node {node} {}", if *on { "standby" } else { "online" })
            }
        })
    }
}

/// One operation result, as the executor that ran it reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpReport {
    pub node: String,
    pub rsc: String,
    /// `class:provider:type`.
    pub agent_kind: String,
    pub task: String,
    pub interval_ms: u64,
    pub rc: i32,
    /// `op-status`: done, timeout, error ([`op_status`]).
    pub op_status: i32,
    pub exit_reason: Option<String>,
    pub target_rc: i32,
    pub started_ms: u64,
    pub exec_ms: u64,
    /// The transition step it ran for; `None` for a recurring monitor's change of result.
    pub step: Option<(u64, usize)>,
}

impl OpReport {
    fn is_probe(&self) -> bool {
        self.task == "monitor" && self.interval_ms == 0
    }

    /// A result that counts against the resource (fail count, recovery).
    pub fn is_failure(&self) -> bool {
        if self.op_status != op_status::DONE {
            return true;
        }
        if self.is_probe() {
            return !matches!(self.rc, rc::OK | rc::NOT_RUNNING | rc::RUNNING_PROMOTED);
        }
        self.rc != self.target_rc && !(self.task == "monitor" && matches!(self.rc, rc::DEGRADED | rc::DEGRADED_PROMOTED))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum CibCommand {
    /// Replace the configuration (nodes known to the cluster are kept).
    LoadConfiguration { configuration: Packed<Configuration>, actor: String, at_ms: u64 },
    Edit { edit: ConfigEdit, actor: String, at_ms: u64 },
    /// Forget a resource's history and fail counts (`crm_resource --cleanup`).
    Cleanup { rsc: Option<String>, node: Option<String>, actor: String, at_ms: u64 },
    /// A node's daemon started (or found itself dropped from the membership): its history
    /// starts over and is rediscovered by probes, as after Pacemaker's join.
    NodeJoined { node: String, node_id: u64, at_ms: u64 },
    /// A node's daemon is shutting down: its resources move away, then it may leave.
    NodeLeaving { node: String, at_ms: u64 },
    /// Nodes the DC no longer hears from.
    NodesLost { nodes: Vec<String>, at_ms: u64 },
    StartTransition { transition: Packed<Transition> },
    AbortTransition { transition: u64, reason: String },
    /// Operation results, in the order they were reported (a node batches the results that
    /// arrive while its previous batch is being committed).
    OpResults { results: Vec<OpReport> },
    /// Steps of a DC of an older term that `node` refused without starting them.
    StepsNotRun { transition: u64, node: String, steps: Vec<usize>, reason: String },
    /// A step that is not an agent operation finished (shutdown, fencing).
    StepFinished { transition: u64, step: usize, error: Option<String> },
    /// Transient attributes a node's agents set (None removes).
    SetTransientAttributes { node: String, attrs: BTreeMap<String, Option<String>> },
    /// `atrium fence NODE`: queue a fencing operation for the DC.
    RequestFence { target: String, action: String, actor: String, at_ms: u64 },
    /// The DC finished a fencing operation.
    FenceCompleted(Box<FenceCompletion>),
    /// A two-node survivor fenced its peer and then took the cluster over alone: the finished
    /// operation goes into the history, with the same effect as a completion (`id` unused).
    PeerFenced { target: String, action: String, requested_ms: u64, completion: Box<FenceCompletion> },
}

/// How a fencing operation ended, as the DC that ran it reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceCompletion {
    pub id: u64,
    pub ok: bool,
    pub executioner: String,
    pub at_ms: u64,
    pub level: Option<u32>,
    pub devices: Vec<String>,
    pub attempts: Vec<Attempt>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CibReply {
    /// `index` is the log entry's: a node has seen the change once it applied that far.
    Ok { epoch: u64, summary: String, index: u64 },
    Rejected { reason: String },
}

/// What happened, for the node's history and event store (not replicated itself).
#[derive(Debug, Clone)]
pub enum Applied {
    ConfigChanged { version: u64, actor: String, at_ms: u64, summary: String, diff: String, config_xml: String },
    /// `index` is the log entry's: a replay after a restart repeats the same indexes.
    Event { index: u64, at_ms: u64, node: Option<String>, kind: &'static str, warning: bool, message: String },
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CibState {
    pub cib: Cib,
    pub transition: Option<Transition>,
    pub next_transition: u64,
    /// Moves on every change a transition did not predict; the DC reschedules when it does.
    pub generation: u64,
    /// Newest DC term that started a transition (the fencing token).
    pub dc_term: u64,
    /// Orders every node's operation history (`call-id`).
    pub call_seq: i64,
    /// Fencing operations, pending and finished.
    #[serde(default)]
    pub fence_history: Vec<FenceRecord>,
    #[serde(default)]
    pub next_fence_id: u64,
    /// Failed fencings per target since its last success.
    #[serde(default)]
    pub fence_failures: BTreeMap<String, u32>,
    #[serde(skip)]
    notify: Option<UnboundedSender<Applied>>,
    /// Log index of the command being applied.
    #[serde(skip)]
    applying: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("CIB snapshot is not valid: {0}")]
pub struct RestoreError(#[from] serde_json::Error);

impl CibState {
    pub fn new(notify: Option<UnboundedSender<Applied>>) -> Self {
        let cib = Cib::from_xml(atrium_crm::EMPTY_CIB).expect("the built-in empty CIB parses");
        CibState { cib, next_transition: 1, notify, ..Default::default() }
    }

    fn ok(&self, summary: String) -> CibReply {
        CibReply::Ok { epoch: self.cib.epoch, summary, index: self.applying }
    }

    fn emit(&self, applied: Applied) {
        if let Some(tx) = &self.notify {
            let _ = tx.send(applied);
        }
    }

    fn event(&self, at_ms: u64, node: Option<&str>, kind: &'static str, warning: bool, message: String) {
        self.emit(Applied::Event { index: self.applying, at_ms, node: node.map(str::to_string), kind, warning, message });
    }

    fn node_state(&mut self, node: &str) -> &mut NodeState {
        let id = self.cib.configuration.nodes.iter().find(|n| n.uname == node).map(|n| n.id.clone()).unwrap_or_else(|| node.to_string());
        let states = &mut self.cib.status.node_states;
        let ix = match states.iter().position(|s| s.uname.as_deref() == Some(node)) {
            Some(ix) => ix,
            None => {
                states.push(NodeState { id, uname: Some(node.to_string()), ..Default::default() });
                states.len() - 1
            }
        };
        &mut states[ix]
    }

    fn change_configuration(&mut self, new: Configuration, actor: &str, at_ms: u64, summary: String) -> CibReply {
        // Rendered once each: the diff compares them and the history keeps the new one.
        let config_xml = new.to_xml();
        let diff = edit::xml_diff(&self.cib.configuration.to_xml(), &config_xml);
        if diff.is_empty() {
            return self.ok(format!("{summary} (no change)"));
        }
        let top = edit::config_summary(&self.cib.configuration, &new);
        self.cib.configuration = new;
        self.cib.epoch += 1;
        self.generation += 1;
        let summary = if top.is_empty() { summary } else { format!("{summary}: {top}") };
        self.emit(Applied::ConfigChanged { version: self.cib.epoch, actor: actor.to_string(), at_ms, summary: summary.clone(), diff, config_xml });
        self.ok(summary)
    }

    fn load(&mut self, mut configuration: Configuration, actor: &str, at_ms: u64) -> CibReply {
        // Nodes come from membership; a loaded file adds attributes to them, never drops one.
        for known in &self.cib.configuration.nodes {
            match configuration.nodes.iter_mut().find(|n| n.uname == known.uname) {
                Some(n) => n.id = known.id.clone(),
                None => configuration.nodes.push(known.clone()),
            }
        }
        self.change_configuration(configuration, actor, at_ms, "configuration loaded".into())
    }

    fn joined(&mut self, node: &str, node_id: u64, at_ms: u64) -> CibReply {
        let cfg = &mut self.cib.configuration;
        match cfg.nodes.iter_mut().find(|n| n.uname == node) {
            Some(n) => n.id = node_id.to_string(),
            None => cfg.nodes.push(atrium_cib::Node { id: node_id.to_string(), uname: node.to_string(), ..Default::default() }),
        }
        let state = self.node_state(node);
        state.id = node_id.to_string();
        state.lrm_resources.clear();
        state.transient_attributes.clear();
        set_online(state, true);
        state.expected = Some("member".into());
        self.fail_steps_on(node, "the node's daemon restarted");
        self.generation += 1;
        self.event(at_ms, Some(node), "node-joined", false, format!("{node} joined"));
        self.advance();
        self.ok(format!("{node} joined"))
    }

    /// The DC saw these nodes go: their resources count as stopped (or, with fencing, as
    /// unclean) and their steps in flight as failed. A node comes back only by joining again.
    fn nodes_lost(&mut self, nodes: &[String], at_ms: u64) -> CibReply {
        let mut lost = Vec::new();
        for node in nodes {
            let state = self.node_state(node);
            if !state.crmd_online() && !state.in_ccm() {
                continue;
            }
            set_online(state, false);
            let clean = state.expected.as_deref() == Some("down");
            self.fail_steps_on(node, "node lost");
            let what = if clean { "left the cluster" } else { "was lost" };
            self.event(at_ms, Some(node), "node-lost", !clean, format!("{node} {what}"));
            lost.push(node.as_str());
        }
        if !lost.is_empty() {
            self.generation += 1;
            self.advance();
        }
        self.ok(format!("lost: {}", lost.join(", ")))
    }

    fn leaving(&mut self, node: &str, at_ms: u64) -> CibReply {
        let state = self.node_state(node);
        state.expected = Some("down".into());
        set_transient(state, "shutdown", Some(&(at_ms / 1000).to_string()));
        self.generation += 1;
        self.event(at_ms, Some(node), "node-leaving", false, format!("{node} is shutting down"));
        self.ok(format!("{node} shutting down"))
    }

    fn fail_steps_on(&mut self, node: &str, reason: &str) {
        if let Some(t) = &mut self.transition {
            let running_there: Vec<usize> = t
                .in_flight()
                // A remote node's actions end with the full node carrying them, too.
                .filter(|s| s.node.as_deref() == Some(node) || s.via.as_deref() == Some(node))
                .filter(|s| s.is_executed() && !matches!(s.kind, StepKind::Fence { .. }))
                .map(|s| s.id)
                .collect();
            for id in running_there {
                t.set_state(id, StepState::Failed { reason: reason.to_string() });
            }
        }
    }

    fn start_transition(&mut self, mut t: Transition, ctx: ApplyContext) -> CibReply {
        if ctx.term < self.dc_term {
            return CibReply::Rejected { reason: format!("transition from term {} after term {}", ctx.term, self.dc_term) };
        }
        if let Some(cur) = &self.transition
            && !cur.is_finished()
        {
            return CibReply::Rejected { reason: format!("transition {} is still running", cur.id) };
        }
        // Computed from a CIB that has changed since: it may act on what is no longer true.
        if t.generation != self.generation {
            return CibReply::Rejected { reason: format!("computed from generation {}, the CIB is at {}", t.generation, self.generation) };
        }
        self.dc_term = ctx.term;
        t.id = self.next_transition;
        t.term = ctx.term;
        self.next_transition += 1;
        t.block_unreachable();
        let summary = format!("transition {} ({} actions)", t.id, t.steps.len());
        self.transition = Some(t);
        self.advance();
        self.ok(summary)
    }

    fn abort(&mut self, id: u64, reason: &str) -> CibReply {
        match &mut self.transition {
            Some(t) if t.id == id && t.aborted.is_none() => {
                t.aborted = Some(reason.to_string());
                self.ok(format!("transition {id} aborted: {reason}"))
            }
            _ => CibReply::Rejected { reason: format!("transition {id} is not running") },
        }
    }

    /// Completes markers and fail-count clearing in place, and hands ready steps to their
    /// executors within the cluster's batch-limit. Completed markers may make more steps
    /// ready: passes repeat until none completes.
    fn advance(&mut self) {
        let batch_limit = self.cib.options().batch_limit as usize;
        let mut new_fences = Vec::new();
        let Some(t) = &mut self.transition else { return };
        loop {
            let (markers, work) = t.dispatchable(batch_limit);
            for &id in &markers {
                let step = &t.steps[id];
                if let (StepKind::ClearFailcount, Some(rsc), Some(node)) = (&step.kind, &step.instance, &step.node) {
                    clear_fail_counts(&mut self.cib, node, rsc);
                }
                t.set_state(id, StepState::Done);
            }
            for id in work {
                let step = &t.steps[id];
                if let StepKind::Fence { action } = &step.kind {
                    // The DC runs fencing; the queue entry is what it works from.
                    let target = step.node.clone().unwrap_or_default();
                    let origin = FenceOrigin::Transition { transition: t.id, step: id };
                    new_fences.push((target, action.clone(), origin, t.created_ms));
                }
                t.set_state(id, StepState::Dispatched { term: t.term });
            }
            if markers.is_empty() {
                break;
            }
        }
        for (target, action, origin, at_ms) in new_fences {
            self.queue_fence(target, action, origin, at_ms);
        }
    }

    fn queue_fence(&mut self, target: String, action: String, origin: FenceOrigin, at_ms: u64) -> u64 {
        self.next_fence_id += 1;
        let id = self.next_fence_id;
        self.event(at_ms, Some(&target), "fence-requested", true, format!("fencing of {target} ({action}) requested by {origin}"));
        self.fence_history.push(FenceRecord {
            id,
            target,
            action,
            origin,
            requested_ms: at_ms,
            state: FenceState::Pending,
            executioner: None,
            completed_ms: None,
            level: None,
            devices: vec![],
            attempts: vec![],
            reason: None,
        });
        if self.fence_history.len() > FENCE_HISTORY_MAX
            && let Some(ix) = self.fence_history.iter().position(|r| r.state != FenceState::Pending)
        {
            self.fence_history.remove(ix);
        }
        id
    }

    fn request_fence(&mut self, target: &str, action: &str, actor: &str, at_ms: u64) -> CibReply {
        if !self.cib.configuration.nodes.iter().any(|n| n.uname == target) {
            return CibReply::Rejected { reason: format!("no node named {target}") };
        }
        if crate::fencing::FenceAction::parse(action).is_none_or(|a| !matches!(a, crate::fencing::FenceAction::Reboot | crate::fencing::FenceAction::Off)) {
            return CibReply::Rejected { reason: format!("fencing action {action}: expected reboot or off") };
        }
        let id = self.queue_fence(target.to_string(), action.to_string(), FenceOrigin::Manual { actor: actor.to_string() }, at_ms);
        self.ok(format!("fencing {id}: {action} {target} queued"))
    }

    /// Records how a fencing operation ended. A fenced node is down for sure: its resources
    /// are stopped (history and transient attributes cleared) and it is expected down, so the
    /// scheduler may recover them; it comes back only by joining.
    fn fence_completed(&mut self, c: &FenceCompletion) -> CibReply {
        let max_attempts = self.cib.options().raw.get("stonith-max-attempts").and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_FENCE_MAX_ATTEMPTS);
        let Some(record) = self.fence_history.iter_mut().find(|r| r.id == c.id && r.state == FenceState::Pending) else {
            return CibReply::Rejected { reason: format!("fencing {} is not pending", c.id) };
        };
        record.state = if c.ok { FenceState::Done } else { FenceState::Failed };
        record.executioner = Some(c.executioner.clone());
        record.completed_ms = Some(c.at_ms);
        record.level = c.level;
        record.devices = c.devices.clone();
        record.attempts = c.attempts.clone();
        record.reason = c.reason.clone();
        let (target, action, origin) = (record.target.clone(), record.action.clone(), record.origin.clone());
        let step = match &origin {
            FenceOrigin::Transition { transition, step } => Some((*transition, *step)),
            FenceOrigin::Manual { .. } | FenceOrigin::TwoNode { .. } => None,
        };
        let mut changed = step.is_none();
        if c.ok {
            self.fence_failures.remove(&target);
            let state = self.node_state(&target);
            set_online(state, false);
            state.expected = Some("down".into());
            state.lrm_resources.clear();
            state.transient_attributes.clear();
            self.fail_steps_on(&target, "node fenced");
            let how = if c.devices.is_empty() { String::new() } else { format!(" by {}", c.devices.join(", ")) };
            self.event(c.at_ms, Some(&target), "node-fenced", true, format!("{target} fenced ({action}){how}"));
        } else {
            let failures = self.fence_failures.entry(target.clone()).or_default();
            *failures += 1;
            // After stonith-max-attempts the failure is no new input: the DC stops retrying
            // until something else changes.
            changed |= *failures <= max_attempts;
            let reason = c.reason.clone().unwrap_or_default();
            self.event(c.at_ms, Some(&target), "fence-failed", true, format!("fencing of {target} ({action}) failed: {reason}"));
        }
        if let (Some((tid, sid)), Some(t)) = (step, &mut self.transition)
            && t.id == tid
            && t.steps.get(sid).is_some_and(|s| matches!(s.state, StepState::Dispatched { .. }))
        {
            t.set_state(sid, if c.ok { StepState::Done } else { StepState::Failed { reason: c.reason.clone().unwrap_or_else(|| "fencing failed".into()) } });
        }
        if changed {
            self.generation += 1;
        }
        self.advance();
        self.ok(format!("fencing {} of {target}: {}", c.id, if c.ok { "done" } else { "failed" }))
    }

    /// Fencing operations waiting for the DC.
    pub fn pending_fences(&self) -> impl Iterator<Item = &FenceRecord> {
        self.fence_history.iter().filter(|r| r.state == FenceState::Pending)
    }

    fn op_result(&mut self, r: &OpReport) -> CibReply {
        self.call_seq += 1;
        let call_id = self.call_seq;
        let running_step = match (r.step, &mut self.transition) {
            (Some((tid, sid)), Some(t)) if t.id == tid && t.steps.get(sid).is_some_and(|s| matches!(s.state, StepState::Dispatched { .. })) => Some((t, sid)),
            _ => None,
        };
        // Only a step of the running transition ending as planned was predicted; a result for
        // a transition that is gone, a recurring monitor's change (they report only changes)
        // and any other result are new input for the DC.
        let expected = running_step.is_some() && !r.is_failure() && r.rc == r.target_rc;
        if let Some((t, sid)) = running_step {
            // An unexpected result (a probe finding the resource running) is no failure, but what
            // was ordered after the step assumed the expected one: it must not run.
            t.set_state(sid, if r.is_failure() || r.rc != r.target_rc {
                StepState::Failed { reason: format!("rc {}{}", r.rc, r.exit_reason.as_deref().map(|e| format!(": {e}")).unwrap_or_default()) }
            } else {
                StepState::Done
            });
        }
        let transition_key = r.step.map(|(t, s)| format!("{s}:{t}:{}:atrium", r.target_rc));
        let state = self.node_state(&r.node);
        record_op(state, r, call_id, transition_key);
        if r.is_failure() {
            let key = format!("{}#{}_{}", r.rsc, r.task, r.interval_ms);
            let count_name = format!("fail-count-{key}");
            let current = state.transient().get(&count_name).and_then(|v| atrium_cib::Score::parse(v).ok()).unwrap_or_default();
            let fatal = r.task == "start" && self.cib.options().start_failure_is_fatal;
            let next = if fatal { atrium_cib::Score::INFINITY } else { current.add(atrium_cib::Score::new(1)) };
            let state = self.node_state(&r.node);
            set_transient(state, &count_name, Some(&next.to_string()));
            set_transient(state, &format!("last-failure-{key}"), Some(&((r.started_ms + r.exec_ms) / 1000).to_string()));
            self.event(
                r.started_ms + r.exec_ms,
                Some(&r.node),
                "operation-failed",
                true,
                format!("{}_{}_{} on {} returned {}{}", r.rsc, r.task, r.interval_ms, r.node, r.rc, r.exit_reason.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()),
            );
        }
        if !expected {
            self.generation += 1;
        }
        self.advance();
        self.ok(format!("{}_{}_{} rc={}", r.rsc, r.task, r.interval_ms, r.rc))
    }

    fn step_finished(&mut self, tid: u64, sid: usize, error: Option<&str>) -> CibReply {
        let Some(t) = &mut self.transition else { return CibReply::Rejected { reason: "no transition".into() } };
        if t.id != tid || t.steps.get(sid).is_none_or(|s| !matches!(s.state, StepState::Dispatched { .. })) {
            return CibReply::Rejected { reason: format!("step {sid} of transition {tid} is not running") };
        }
        t.set_state(sid, match error {
            None => StepState::Done,
            Some(e) => StepState::Failed { reason: e.to_string() },
        });
        if error.is_some() {
            self.generation += 1;
        }
        self.advance();
        self.ok(format!("step {sid} of transition {tid} finished"))
    }

    /// Executors refuse what a replaced DC dispatched; such steps end here, failed, so that
    /// the aborted transition can finish. Only a newer term's entry may fail them (the
    /// executor's reason for refusing), and only steps still running on the refusing node.
    fn steps_not_run(&mut self, tid: u64, node: &str, ids: &[usize], reason: &str, ctx: ApplyContext) -> CibReply {
        let Some(t) = &mut self.transition else { return CibReply::Rejected { reason: "no transition".into() } };
        if t.id != tid || t.term >= ctx.term {
            return CibReply::Rejected { reason: format!("transition {tid} is not one of an older DC's") };
        }
        let mut failed = 0;
        for &id in ids {
            let on_node = t.steps.get(id).is_some_and(|s| matches!(s.state, StepState::Dispatched { .. }) && (s.node.as_deref() == Some(node) || s.via.as_deref() == Some(node)));
            if on_node {
                t.set_state(id, StepState::Failed { reason: reason.to_string() });
                failed += 1;
            }
        }
        self.ok(format!("{failed} step(s) of transition {tid} not run on {node}"))
    }

    fn set_attributes(&mut self, node: &str, attrs: &BTreeMap<String, Option<String>>) -> CibReply {
        let state = self.node_state(node);
        let before = state.transient();
        for (k, v) in attrs {
            set_transient(state, k, v.as_deref());
        }
        if state.transient() != before {
            self.generation += 1;
        }
        self.ok(format!("{} attribute(s) on {node}", attrs.len()))
    }
}

fn set_online(state: &mut NodeState, online: bool) {
    state.in_ccm = Some(online.to_string());
    state.crmd = Some(if online { "online" } else { "offline" }.into());
    state.join = Some(if online { "member" } else { "down" }.into());
}

/// Sets or removes a transient attribute in the node's single `status-<id>` set.
fn set_transient(state: &mut NodeState, name: &str, value: Option<&str>) {
    if state.transient_attributes.is_empty() {
        state.transient_attributes.push(NvSet { id: Some(format!("status-{}", state.id)), ..Default::default() });
    }
    for set in &mut state.transient_attributes {
        set.pairs.retain(|p| p.name != name);
    }
    if let Some(v) = value {
        let id = format!("status-{}-{name}", state.id);
        state.transient_attributes[0].pairs.push(NvPair { id: Some(id), name: name.to_string(), value: Some(v.to_string()) });
    }
}

fn clear_fail_counts(cib: &mut Cib, node: &str, rsc: &str) {
    if let Some(state) = cib.status.node_states.iter_mut().find(|s| s.uname.as_deref() == Some(node)) {
        for set in &mut state.transient_attributes {
            set.pairs.retain(|p| {
                let rest = p.name.strip_prefix("fail-count-").or_else(|| p.name.strip_prefix("last-failure-"));
                rest.is_none_or(|r| r != rsc && !r.starts_with(&format!("{rsc}#")))
            });
        }
    }
}

/// Records a probe a node ran on its own (outside any transition) into a copy of its status.
pub(super) fn record_probe(state: &mut NodeState, r: &OpReport, call_id: i64) {
    record_op(state, r, call_id, None);
}

/// Records an operation the way Pacemaker's controller does: the last one-shot operation as
/// `RSC_last_0`, the last failure as `RSC_last_failure_0`, each recurring monitor as
/// `RSC_monitor_INTERVAL`; a stop or cancel removes the monitors it ended.
fn record_op(state: &mut NodeState, r: &OpReport, call_id: i64, transition_key: Option<String>) {
    let ix = match state.lrm_resources.iter().position(|l| l.id == r.rsc) {
        Some(ix) => ix,
        None => {
            let mut parts = r.agent_kind.splitn(3, ':');
            let class = parts.next().map(str::to_string);
            let (provider, kind) = match (parts.next(), parts.next()) {
                (Some(p), Some(k)) => (Some(p.to_string()), Some(k.to_string())),
                (Some(k), None) => (None, Some(k.to_string())),
                _ => (None, None),
            };
            state.lrm_resources.push(LrmResource { id: r.rsc.clone(), class, provider, agent_type: kind, ..Default::default() });
            state.lrm_resources.len() - 1
        }
    };
    let lrm = &mut state.lrm_resources[ix];
    let op = |id: String| LrmRscOp {
        id,
        operation: r.task.clone(),
        interval_ms: r.interval_ms,
        rc_code: r.rc,
        op_status: r.op_status,
        call_id,
        last_rc_change: Some(((r.started_ms + r.exec_ms) / 1000) as i64),
        exit_reason: r.exit_reason.clone(),
        on_node: Some(r.node.clone()),
        op_digest: None,
        transition_key: transition_key.clone(),
        transition_magic: transition_key.as_ref().map(|k| format!("{}:{};{k}", r.op_status, r.rc)),
        extra: [("exec-time".to_string(), r.exec_ms.to_string())].into_iter().collect(),
    };
    let put = |lrm: &mut LrmResource, o: LrmRscOp| {
        lrm.ops.retain(|x| x.id != o.id);
        lrm.ops.push(o);
    };
    match (r.task.as_str(), r.interval_ms) {
        ("cancel", interval) => {
            let monitor = format!("{}_monitor_{interval}", r.rsc);
            lrm.ops.retain(|x| x.id != monitor);
            return;
        }
        ("monitor", interval) if interval > 0 => put(lrm, op(format!("{}_monitor_{interval}", r.rsc))),
        (task, _) => {
            if task == "stop" && !r.is_failure() {
                // The stop ended the recurring monitors; their last failure stays on record.
                let monitor = format!("{}_monitor_", r.rsc);
                lrm.ops.retain(|x| !x.id.starts_with(&monitor));
            }
            put(lrm, op(format!("{}_last_0", r.rsc)));
        }
    }
    if r.is_failure() {
        let mut failure = op(format!("{}_last_failure_0", r.rsc));
        // The failure entry must not end the resource's history before the entries it follows.
        failure.call_id = call_id;
        put(lrm, failure);
    }
}

impl ReplicatedState for CibState {
    type Command = CibCommand;
    type Response = CibReply;
    type RestoreError = RestoreError;

    fn apply(&mut self, command: &CibCommand, ctx: ApplyContext) -> CibReply {
        self.applying = ctx.index;
        match command {
            CibCommand::LoadConfiguration { configuration, actor, at_ms } => match configuration.unpack() {
                Ok(configuration) => self.load(configuration, actor, *at_ms),
                Err(e) => CibReply::Rejected { reason: format!("configuration: {e}") },
            },
            CibCommand::Edit { edit, actor, at_ms } => {
                let mut cfg = self.cib.configuration.clone();
                match edit.apply(&mut cfg) {
                    Ok(summary) => self.change_configuration(cfg, actor, *at_ms, summary),
                    Err(e) => CibReply::Rejected { reason: e.to_string() },
                }
            }
            CibCommand::Cleanup { rsc, node, actor, at_ms } => {
                let n = match edit::cleanup(&mut self.cib.status, &self.cib.configuration, rsc.as_deref(), node.as_deref()) {
                    Ok(n) => n,
                    Err(e) => return CibReply::Rejected { reason: e.to_string() },
                };
                self.generation += 1;
                let what = rsc.as_deref().unwrap_or("all resources");
                self.event(*at_ms, node.as_deref(), "cleanup", false, format!("{actor} cleaned up {what} ({n} histories)"));
                self.ok(format!("cleaned up {what}: {n} operation histories removed"))
            }
            CibCommand::NodeJoined { node, node_id, at_ms } => self.joined(node, *node_id, *at_ms),
            CibCommand::NodeLeaving { node, at_ms } => self.leaving(node, *at_ms),
            CibCommand::NodesLost { nodes, at_ms } => self.nodes_lost(nodes, *at_ms),
            CibCommand::StartTransition { transition } => match transition.unpack() {
                Ok(t) => self.start_transition(t, ctx),
                Err(e) => CibReply::Rejected { reason: format!("transition: {e}") },
            },
            CibCommand::AbortTransition { transition, reason } => self.abort(*transition, reason),
            CibCommand::OpResults { results } => {
                let summaries: Vec<String> = results.iter().map(|r| self.op_result(r)).map(|reply| match reply {
                    CibReply::Ok { summary, .. } => summary,
                    CibReply::Rejected { reason } => reason,
                }).collect();
                self.ok(summaries.join("; "))
            }
            CibCommand::StepFinished { transition, step, error } => self.step_finished(*transition, *step, error.as_deref()),
            CibCommand::StepsNotRun { transition, node, steps, reason } => self.steps_not_run(*transition, node, steps, reason, ctx),
            CibCommand::SetTransientAttributes { node, attrs } => self.set_attributes(node, attrs),
            CibCommand::RequestFence { target, action, actor, at_ms } => self.request_fence(target, action, actor, *at_ms),
            CibCommand::FenceCompleted(c) => self.fence_completed(c),
            CibCommand::PeerFenced { target, action, requested_ms, completion } => {
                let origin = FenceOrigin::TwoNode { survivor: completion.executioner.clone() };
                let id = self.queue_fence(target.clone(), action.clone(), origin, *requested_ms);
                self.fence_completed(&FenceCompletion { id, ..(**completion).clone() })
            }
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("the CIB state always serialises")
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), RestoreError> {
        let restored: CibState = serde_json::from_slice(bytes)?;
        let notify = self.notify.take();
        *self = CibState { notify, ..restored };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::transition::Step;

    fn ctx(term: u64) -> ApplyContext {
        ApplyContext { index: 1, term }
    }

    fn report(node: &str, task: &str, interval_ms: u64, rc: i32, target_rc: i32, step: Option<(u64, usize)>) -> OpReport {
        OpReport {
            node: node.into(),
            rsc: "web".into(),
            agent_kind: "wasm:atrium:dummy".into(),
            task: task.into(),
            interval_ms,
            rc,
            op_status: op_status::DONE,
            exit_reason: None,
            target_rc,
            started_ms: 1_000_000,
            exec_ms: 5,
            step,
        }
    }

    fn start_step(id: usize, node: &str) -> Step {
        Step {
            id,
            kind: StepKind::Resource,
            rsc: Some("web".into()),
            instance: Some("web".into()),
            task: "start".into(),
            interval_ms: 0,
            node: Some(node.into()),
            via: None,
            agent: Some("wasm:atrium:dummy".into()),
            params: BTreeMap::new(),
            meta: BTreeMap::new(),
            timeout_ms: 20_000,
            target_rc: 0,
            state: StepState::Pending,
        }
    }

    fn transition(s: &CibState, steps: Vec<Step>, edges: Vec<(usize, usize)>) -> Packed<Transition> {
        Packed::pack(&Transition::new("n1".into(), s.generation, None, 0, steps, edges))
    }

    #[test]
    fn results_complete_steps_and_failures_count() {
        let mut s = CibState::new(None);
        s.apply(&CibCommand::NodeJoined { node: "n1".into(), node_id: 1, at_ms: 0 }, ctx(1));
        let mut pseudo = start_step(1, "n1");
        pseudo.kind = StepKind::Pseudo;
        let reply = s.apply(&CibCommand::StartTransition { transition: transition(&s, vec![start_step(0, "n1"), pseudo], vec![(0, 1)]) }, ctx(2));
        assert!(matches!(reply, CibReply::Ok { .. }), "{reply:?}");
        let t = s.transition.as_ref().unwrap();
        assert_eq!((t.id, t.term), (1, 2));
        assert!(matches!(t.steps[0].state, StepState::Dispatched { term: 2 }));
        assert_eq!(t.steps[1].state, StepState::Pending);

        let generation = s.generation;
        s.apply(&CibCommand::OpResults { results: vec![report("n1", "start", 0, 0, 0, Some((1, 0)))] }, ctx(2));
        let t = s.transition.as_ref().unwrap();
        assert_eq!(t.steps[0].state, StepState::Done);
        assert_eq!(t.steps[1].state, StepState::Done, "the marker completes once its predecessor has");
        assert!(t.is_finished());
        assert_eq!(s.generation, generation, "an expected result is no new input");
        let lrm = &s.cib.status.node_states[0].lrm_resources[0];
        assert_eq!(lrm.ops[0].id, "web_last_0");

        // A recurring monitor reports a failure: fail count, last failure, new input.
        s.apply(&CibCommand::OpResults { results: vec![report("n1", "monitor", 10_000, 7, 0, None)] }, ctx(2));
        let attrs = s.cib.status.node_states[0].transient();
        assert_eq!(attrs.get("fail-count-web#monitor_10000").map(String::as_str), Some("1"));
        assert_eq!(attrs.get("last-failure-web#monitor_10000").map(String::as_str), Some("1000"));
        assert!(s.generation > generation);
    }

    #[test]
    fn steps_refused_after_a_dc_change_end_the_aborted_transition() {
        let mut s = CibState::new(None);
        s.apply(&CibCommand::NodeJoined { node: "n1".into(), node_id: 1, at_ms: 0 }, ctx(1));
        s.apply(&CibCommand::NodeJoined { node: "n2".into(), node_id: 2, at_ms: 0 }, ctx(1));
        let steps = vec![start_step(0, "n1"), start_step(1, "n1"), start_step(2, "n2")];
        s.apply(&CibCommand::StartTransition { transition: transition(&s, steps, vec![]) }, ctx(2));
        let not_run = |node: &str, steps: Vec<usize>| CibCommand::StepsNotRun { transition: 1, node: node.into(), steps, reason: "not run".into() };

        // Within the DC's own term nothing may be handed back.
        assert!(matches!(s.apply(&not_run("n1", vec![0, 1]), ctx(2)), CibReply::Rejected { .. }));
        // A newer DC aborts it; n1 hands back both of its steps (and cannot fail n2's).
        s.apply(&CibCommand::AbortTransition { transition: 1, reason: "made by the DC of term 2".into() }, ctx(3));
        s.apply(&not_run("n1", vec![0, 1, 2]), ctx(3));
        let t = s.transition.as_ref().unwrap();
        assert!(matches!(t.steps[0].state, StepState::Failed { .. }) && matches!(t.steps[1].state, StepState::Failed { .. }));
        assert!(matches!(t.steps[2].state, StepState::Dispatched { .. }), "n2's step is n2's to hand back");
        assert!(!t.is_finished());
        s.apply(&not_run("n2", vec![2]), ctx(3));
        assert!(s.transition.as_ref().unwrap().is_finished(), "nothing is left in flight");
        assert!(s.cib.status.node_states.iter().all(|n| n.lrm_resources.is_empty()), "nothing ran, so nothing is recorded");
    }

    #[test]
    fn an_older_term_cannot_start_a_transition_and_a_running_one_blocks_the_next() {
        let mut s = CibState::new(None);
        s.apply(&CibCommand::NodeJoined { node: "n1".into(), node_id: 1, at_ms: 0 }, ctx(3));
        let stale = transition(&s, vec![start_step(0, "n1")], vec![]);
        s.apply(&CibCommand::SetTransientAttributes { node: "n1".into(), attrs: [("a".to_string(), Some("1".to_string()))].into() }, ctx(3));
        let refused = s.apply(&CibCommand::StartTransition { transition: stale }, ctx(3));
        assert!(matches!(refused, CibReply::Rejected { .. }), "a transition from an older CIB must not start: {refused:?}");
        assert!(matches!(s.apply(&CibCommand::StartTransition { transition: transition(&s, vec![start_step(0, "n1")], vec![]) }, ctx(3)), CibReply::Ok { .. }));
        let second = s.apply(&CibCommand::StartTransition { transition: transition(&s, vec![start_step(0, "n1")], vec![]) }, ctx(3));
        assert!(matches!(second, CibReply::Rejected { .. }));
        s.apply(&CibCommand::AbortTransition { transition: 1, reason: "test".into() }, ctx(3));
        // The node is lost with its step in flight: the step fails and the transition ends.
        s.apply(&CibCommand::NodesLost { nodes: vec!["n1".into()], at_ms: 5 }, ctx(3));
        assert!(s.transition.as_ref().unwrap().is_finished());
        let old_term = s.apply(&CibCommand::StartTransition { transition: transition(&s, vec![], vec![]) }, ctx(2));
        assert!(matches!(old_term, CibReply::Rejected { .. }), "{old_term:?}");
    }

    #[test]
    fn a_stop_removes_monitor_history_and_a_rejoin_forgets_everything() {
        let mut s = CibState::new(None);
        s.apply(&CibCommand::NodeJoined { node: "n1".into(), node_id: 1, at_ms: 0 }, ctx(1));
        for (task, interval) in [("start", 0), ("monitor", 10_000), ("stop", 0)] {
            s.apply(&CibCommand::OpResults { results: vec![report("n1", task, interval, 0, 0, None)] }, ctx(1));
        }
        let ops: Vec<&str> = s.cib.status.node_states[0].lrm_resources[0].ops.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ops, ["web_last_0"]);
        s.apply(&CibCommand::NodeJoined { node: "n1".into(), node_id: 1, at_ms: 0 }, ctx(1));
        assert!(s.cib.status.node_states[0].lrm_resources.is_empty());
    }

    #[test]
    fn commands_survive_the_log_encoding() {
        // The Raft log stores commands as JSON: a variant serde cannot encode stops the node.
        let commands = vec![
            CibCommand::OpResults { results: vec![report("n1", "start", 0, 0, 0, Some((1, 0)))] },
            CibCommand::RequestFence { target: "n2".into(), action: "reboot".into(), actor: "root".into(), at_ms: 1 },
            CibCommand::FenceCompleted(Box::new(FenceCompletion { id: 1, ok: true, executioner: "n1".into(), at_ms: 2, level: Some(1), devices: vec!["d".into()], attempts: vec![], reason: None })),
            CibCommand::NodesLost { nodes: vec!["n2".into()], at_ms: 3 },
            peer_fenced(),
        ];
        for c in commands {
            let json = serde_json::to_string(&c).unwrap_or_else(|e| panic!("{c:?}: {e}"));
            let back: CibCommand = serde_json::from_str(&json).unwrap();
            assert_eq!(serde_json::to_string(&back).unwrap(), json);
        }
    }

    fn peer_fenced() -> CibCommand {
        let completion = FenceCompletion { id: 0, ok: true, executioner: "n1".into(), at_ms: 9, level: Some(1), devices: vec!["power".into()], attempts: vec![], reason: None };
        CibCommand::PeerFenced { target: "n2".into(), action: "reboot".into(), requested_ms: 5, completion: Box::new(completion) }
    }

    #[test]
    fn a_peer_fenced_by_a_two_node_survivor_is_in_the_history_and_down() {
        let mut s = CibState::new(None);
        for (node, id) in [("n1", 1), ("n2", 2)] {
            s.apply(&CibCommand::NodeJoined { node: node.into(), node_id: id, at_ms: 0 }, ctx(1));
        }
        s.apply(&CibCommand::OpResults { results: vec![report("n2", "start", 0, 0, 0, None)] }, ctx(1));
        let generation = s.generation;
        let reply = s.apply(&peer_fenced(), ctx(2));
        assert!(matches!(reply, CibReply::Ok { .. }), "{reply:?}");
        let record = s.fence_history.last().expect("recorded");
        assert_eq!((record.state.clone(), record.origin.clone()), (FenceState::Done, FenceOrigin::TwoNode { survivor: "n1".into() }));
        assert_eq!((record.requested_ms, record.completed_ms, record.target.as_str()), (5, Some(9), "n2"));
        let n2 = s.cib.status.node_states.iter().find(|n| n.uname.as_deref() == Some("n2")).unwrap();
        assert!(n2.lrm_resources.is_empty() && n2.expected.as_deref() == Some("down"));
        assert!(s.generation > generation, "the scheduler must look again");
        assert_eq!(s.pending_fences().count(), 0);
    }

    #[test]
    fn snapshot_round_trips() {
        let mut s = CibState::new(None);
        s.apply(&CibCommand::NodeJoined { node: "n1".into(), node_id: 1, at_ms: 0 }, ctx(1));
        let bytes = s.snapshot();
        let mut r = CibState::new(None);
        r.restore(&bytes).unwrap();
        assert_eq!(r.cib, s.cib);
        assert!(r.restore(b"{not json").is_err());
    }
}

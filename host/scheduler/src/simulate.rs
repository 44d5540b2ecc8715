//! Offline simulation in the manner of `crm_simulate -S`: inject events into a CIB, schedule
//! it, and report the current status, the transition summary, the actions and the revised
//! status, as text or JSON.

use serde::Serialize;
use thiserror::Error;

use atrium_cib::status::{LrmResource, LrmRscOp, NodeState};
use atrium_cib::{Cib, NvPair, NvSet, Score};

use crate::graph::{Action, ActionKind};
use crate::status::ClusterStatus;
use crate::{schedule, Explanation, ResourceScores, SummaryItem};

#[derive(Debug, Clone, Default)]
pub struct SimulateOptions {
    /// Nodes to treat as failed (left the membership while expected to be up).
    pub node_fail: Vec<String>,
    /// Failures to record before scheduling, as `RSC_OP_INTERVALMS@NODE=RC`
    /// (e.g. `rsc1_monitor_10000@node1=7`).
    pub op_fail: Vec<String>,
    /// The resource to explain, if any.
    pub explain: Option<String>,
    /// Current time, seconds since the Unix epoch.
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SimulateError {
    #[error("unknown node {0:?}")]
    UnknownNode(String),
    #[error("invalid --op-fail {0:?}: expected RSC_OP_INTERVAL@NODE=RC")]
    BadOpSpec(String),
    #[error("unknown resource {0:?}")]
    UnknownResource(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct SimulationReport {
    pub current: ClusterStatus,
    pub transition_summary: Vec<SummaryItem>,
    pub actions: Vec<Action>,
    pub edges: Vec<(usize, usize)>,
    /// Actions that can never run because their orderings form a loop (a configuration error).
    pub ordering_loop: Vec<Action>,
    /// The transition graph in Graphviz form (as `crm_simulate -D` writes it).
    pub dot: String,
    pub revised: ClusterStatus,
    pub scores: Vec<ResourceScores>,
    pub explanation: Option<Explanation>,
}

/// Apply the options' injections to a copy of the CIB, schedule it, and report.
pub fn simulate(cib: &Cib, opts: &SimulateOptions) -> Result<SimulationReport, SimulateError> {
    let mut cib = cib.clone();
    for node in &opts.node_fail {
        fail_node(&mut cib, node)?;
    }
    for spec in &opts.op_fail {
        inject_op(&mut cib, spec, opts.now)?;
    }
    let s = schedule(&cib, opts.now);
    let explanation = match &opts.explain {
        Some(r) => Some(
            s.explanations
                .iter()
                .find(|e| &e.rsc == r || e.rsc.split(':').next() == Some(r.as_str()))
                .cloned()
                .ok_or_else(|| SimulateError::UnknownResource(r.clone()))?,
        ),
        None => None,
    };
    let order: Vec<Action> = s.graph.topological().into_iter().cloned().collect();
    let ordering_loop: Vec<Action> = s.graph.ordering_loop().into_iter().cloned().collect();
    let dot = s.graph.to_dot();
    Ok(SimulationReport {
        current: s.current,
        transition_summary: s.summary,
        actions: order,
        edges: s.graph.edges,
        ordering_loop,
        dot,
        revised: s.revised,
        scores: s.scores,
        explanation,
    })
}

fn fail_node(cib: &mut Cib, node: &str) -> Result<(), SimulateError> {
    let cfg = cib.configuration.nodes.iter().find(|n| n.uname == node).map(|n| n.id.clone());
    let states = &mut cib.status.node_states;
    let st = match states.iter_mut().position(|s| s.uname.as_deref() == Some(node)) {
        Some(i) => &mut states[i],
        None => {
            let id = cfg.ok_or_else(|| SimulateError::UnknownNode(node.to_string()))?;
            states.push(NodeState { id, uname: Some(node.to_string()), ..Default::default() });
            states.last_mut().unwrap()
        }
    };
    st.in_ccm = Some("false".into());
    st.crmd = Some("offline".into());
    st.join = Some("down".into());
    st.expected = Some("member".into());
    Ok(())
}

fn inject_op(cib: &mut Cib, spec: &str, now: i64) -> Result<(), SimulateError> {
    let bad = || SimulateError::BadOpSpec(spec.to_string());
    let (key, rest) = spec.split_once('@').ok_or_else(bad)?;
    let (node, rc) = rest.split_once('=').ok_or_else(bad)?;
    let rc: i32 = rc.trim().parse().map_err(|_| bad())?;
    let (head, interval) = key.rsplit_once('_').ok_or_else(bad)?;
    let interval_ms: u64 = interval.parse().map_err(|_| bad())?;
    let (rsc, task) = head.rsplit_once('_').ok_or_else(bad)?;
    let prim = cib
        .configuration
        .primitives()
        .into_iter()
        .find(|p| p.id == rsc || rsc.split(':').next() == Some(p.id.as_str()))
        .cloned()
        .ok_or_else(|| SimulateError::UnknownResource(rsc.to_string()))?;
    if !cib.configuration.nodes.iter().any(|n| n.uname == node) && !cib.status.node_states.iter().any(|s| s.uname.as_deref() == Some(node)) {
        return Err(SimulateError::UnknownNode(node.to_string()));
    }
    let fatal_start = cib.options().start_failure_is_fatal;
    ensure_node_state(cib, node);
    let st = cib.status.node_states.iter_mut().find(|s| s.uname.as_deref() == Some(node)).unwrap();
    let call_id = st.lrm_resources.iter().flat_map(|r| r.ops.iter().map(|o| o.call_id)).max().unwrap_or(0) + 1;
    let lrm = match st.lrm_resources.iter().position(|r| r.id == rsc) {
        Some(i) => &mut st.lrm_resources[i],
        None => {
            st.lrm_resources.push(LrmResource {
                id: rsc.to_string(),
                class: Some(prim.class.clone()),
                provider: prim.provider.clone(),
                agent_type: Some(prim.agent_type.clone()),
                ..Default::default()
            });
            st.lrm_resources.last_mut().unwrap()
        }
    };
    let expected_rc = if interval_ms == 0 && task == "monitor" { 7 } else { 0 };
    lrm.ops.push(LrmRscOp {
        id: format!("{rsc}_last_failure_0"),
        operation: task.to_string(),
        interval_ms,
        rc_code: rc,
        op_status: 0,
        call_id,
        last_rc_change: Some(now),
        on_node: Some(node.to_string()),
        transition_key: Some(format!("0:0:{expected_rc}:atrium-simulate")),
        ..Default::default()
    });
    let probe_found_it = expected_rc == 7 && matches!(rc, 0 | 8);
    if rc != expected_rc && !probe_found_it {
        // Record the failure as the attribute manager would: one more failure, or a fatal one
        // for a failed start when start-failure-is-fatal.
        let count = format!("fail-count-{rsc}#{task}_{interval_ms}");
        let last = format!("last-failure-{rsc}#{task}_{interval_ms}");
        if st.transient_attributes.is_empty() {
            st.transient_attributes.push(NvSet { id: Some(format!("status-{}", st.id)), ..Default::default() });
        }
        let set = &mut st.transient_attributes[0];
        let old = set.get(&count).and_then(|v| Score::parse(v).ok()).unwrap_or_default();
        let new = if task == "start" && fatal_start { Score::INFINITY } else { old.add(Score::new(1)) };
        set.pairs.retain(|p| p.name != count && p.name != last);
        set.pairs.push(NvPair { id: None, name: count, value: Some(new.to_string()) });
        set.pairs.push(NvPair { id: None, name: last, value: Some(now.to_string()) });
    }
    Ok(())
}

/// Make sure a node named in an injection has a status entry.
fn ensure_node_state(cib: &mut Cib, node: &str) {
    if cib.status.node_states.iter().any(|s| s.uname.as_deref() == Some(node)) {
        return;
    }
    let id = cib.configuration.nodes.iter().find(|n| n.uname == node).map_or_else(|| node.to_string(), |n| n.id.clone());
    cib.status.node_states.push(NodeState { id, uname: Some(node.to_string()), ..Default::default() });
}

impl SimulationReport {
    /// The `Transition Summary:` lines, as crm_simulate prints them.
    pub fn summary_lines(&self) -> Vec<String> {
        crate::summary::render_lines(&self.transition_summary)
    }

    /// crm_simulate-style text: current status, (scores), transition summary, executed
    /// actions, revised status, and the explanation if one was asked for.
    pub fn render_text(&self, show_scores: bool) -> String {
        let mut out = String::from("Current cluster status:\n");
        out.push_str(&self.current.render());
        out.push('\n');
        if show_scores {
            out.push_str("Allocation scores:\n");
            for r in &self.scores {
                for (node, s) in &r.scores {
                    out.push_str(&format!("  {} allocation score on {node}: {s}\n", r.rsc));
                }
            }
            out.push('\n');
        }
        out.push_str("Transition Summary:\n");
        for l in self.summary_lines() {
            out.push_str(&l);
            out.push('\n');
        }
        out.push_str("\nExecuting Cluster Transition:\n");
        for a in &self.actions {
            let line = match &a.kind {
                ActionKind::Fence { action } => format!("  * Fencing {} ({action})", a.node.as_deref().unwrap_or("")),
                ActionKind::Shutdown => format!("  * Cluster action:  do_shutdown on {}", a.node.as_deref().unwrap_or("")),
                ActionKind::ClearFailcount => format!(
                    "  * Cluster action:  clear_failcount for {} on {}",
                    a.rsc.as_deref().unwrap_or(""),
                    a.node.as_deref().unwrap_or("")
                ),
                ActionKind::Pseudo => format!("  * Pseudo action:   {}", a.key()),
                ActionKind::Resource if !a.runnable => continue,
                ActionKind::Resource => {
                    let task = if a.interval_ms > 0 { format!("{}={}", a.task, a.interval_ms) } else { a.task.to_string() };
                    format!("  * Resource action: {:<15} {task} on {}", a.rsc.as_deref().unwrap_or(""), a.node.as_deref().unwrap_or(""))
                }
            };
            out.push_str(&line);
            out.push('\n');
        }
        if !self.ordering_loop.is_empty() {
            let keys: Vec<String> = self.ordering_loop.iter().map(Action::key).collect();
            out.push_str(&format!("Transition failed: ordering loop among {}\n", keys.join(" ")));
        }
        out.push_str("\nRevised Cluster Status:\n");
        out.push_str(&self.revised.render());
        if let Some(e) = &self.explanation {
            out.push_str("\nExplanation:\n");
            out.push_str(&e.render());
        }
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serialises")
    }
}

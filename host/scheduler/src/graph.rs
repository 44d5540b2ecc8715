//! The transition graph: the actions to run (per node) and the orderings between them.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

use atrium_cib::model::{OrderKind, RscAction, Role};

use crate::actions::{OrderPair, Plan};
use crate::cluster::{Cluster, Kind, RscIx};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// An agent operation on a node (start, stop, monitor, promote, ...).
    Resource,
    /// A marker with no work (group/clone started, stops implied by fencing).
    Pseudo,
    /// Fencing a node with the given fencing action (reboot or off).
    Fence { action: String },
    /// Telling a node's controller to shut down.
    Shutdown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub id: usize,
    pub kind: ActionKind,
    /// Names are shared between the many actions of one resource or node.
    pub rsc: Option<Arc<str>>,
    pub task: &'static str,
    pub interval_ms: u64,
    pub node: Option<Arc<str>>,
    pub runnable: bool,
}

impl Action {
    /// Pacemaker-style key, e.g. `rsc1_start_0`, `rsc1_monitor_10000`, `stonith-node1-reboot`.
    pub fn key(&self) -> String {
        match (&self.kind, &self.rsc) {
            (ActionKind::Fence { action }, _) => format!("stonith-{}-{action}", self.node.as_deref().unwrap_or("")),
            (_, Some(r)) => format!("{r}_{}_{}", self.task, self.interval_ms),
            (_, None) => self.task.to_string(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TransitionGraph {
    pub actions: Vec<Action>,
    /// (before, after): `after` may run only once `before` completed.
    pub edges: Vec<(usize, usize)>,
}

impl TransitionGraph {
    fn add(&mut self, kind: ActionKind, rsc: Option<&Arc<str>>, task: &'static str, interval_ms: u64, node: Option<&Arc<str>>, runnable: bool) -> usize {
        let id = self.actions.len();
        self.actions.push(Action { id, kind, rsc: rsc.cloned(), task, interval_ms, node: node.cloned(), runnable });
        id
    }

    /// Actions in an order that respects every edge (ties keep creation order).
    pub fn topological(&self) -> Vec<&Action> {
        let n = self.actions.len();
        let mut indeg = vec![0usize; n];
        let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
        for &(a, b) in &self.edges {
            indeg[b] += 1;
            out[a].push(b);
        }
        let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(&i) = ready.iter().next() {
            ready.remove(&i);
            order.push(&self.actions[i]);
            for &j in &out[i] {
                indeg[j] -= 1;
                if indeg[j] == 0 {
                    ready.insert(j);
                }
            }
        }
        // A cycle would leave actions out; keep them rather than lose them.
        if order.len() < n {
            let seen: std::collections::BTreeSet<usize> = order.iter().map(|a| a.id).collect();
            order.extend(self.actions.iter().filter(|a| !seen.contains(&a.id)));
        }
        order
    }
}

#[derive(Default)]
struct RscActions {
    stop: Option<usize>,
    start: Option<usize>,
    promote: Option<usize>,
    demote: Option<usize>,
}

/// Build the graph from the plans. `probe_nodes` lists, per primitive, where to probe.
pub(crate) fn build(cl: &Cluster, plans: &[Plan], pairs: &[OrderPair], probes: &[Vec<usize>], fence: &[usize]) -> TransitionGraph {
    let mut g = TransitionGraph::default();
    // Probes dominate large fresh clusters; size the vectors once.
    let probe_count: usize = probes.iter().map(Vec::len).sum();
    g.actions.reserve(probe_count + 4 * cl.rscs.len() + fence.len());
    g.edges.reserve(2 * probe_count + 4 * cl.rscs.len());
    let node_names: Vec<Arc<str>> = cl.nodes.iter().map(|n| Arc::from(n.name.as_str())).collect();
    let mut fence_ids = BTreeMap::new();
    for &n in fence {
        let kind = ActionKind::Fence { action: cl.opts.fencing_action.clone() };
        let id = g.add(kind, None, "stonith", 0, Some(&node_names[n]), true);
        fence_ids.insert(n, id);
    }
    let mut per: Vec<RscActions> = (0..cl.rscs.len()).map(|_| RscActions::default()).collect();
    for (ix, r) in cl.rscs.iter().enumerate() {
        let Some(prim) = r.prim() else { continue };
        let p = &plans[ix];
        let rid: Arc<str> = Arc::from(r.id.as_str());
        let mut probe_ids = Vec::new();
        for &n in &probes[ix] {
            probe_ids.push(g.add(ActionKind::Resource, Some(&rid), "monitor", 0, Some(&node_names[n]), true));
        }
        if p.frozen {
            continue;
        }
        if p.stop_required && let Some(c) = p.cur {
            if p.cur_role == Some(Role::Promoted) {
                let kind = if p.stop_implied { ActionKind::Pseudo } else { ActionKind::Resource };
                per[ix].demote = Some(g.add(kind, Some(&rid), "demote", 0, Some(&node_names[c]), true));
            }
            let kind = if p.stop_implied { ActionKind::Pseudo } else { ActionKind::Resource };
            let task = if p.migrate { "migrate_to" } else { "stop" };
            let id = g.add(kind, Some(&rid), task, 0, Some(&node_names[c]), true);
            if let Some(&f) = fence_ids.get(&c) {
                g.edges.push((f, id));
            }
            if let Some(d) = per[ix].demote {
                g.edges.push((d, id));
            }
            per[ix].stop = Some(id);
        } else if let (Some(c), Some(_)) = (p.cur, p.next)
            && p.cur_role == Some(Role::Promoted)
            && p.next_role != Some(Role::Promoted)
        {
            per[ix].demote = Some(g.add(ActionKind::Resource, Some(&rid), "demote", 0, Some(&node_names[c]), true));
        }
        if let Some(n) = p.next {
            let node = node_names[n].clone();
            if p.start_required {
                let task = if p.migrate { "migrate_from" } else { "start" };
                let id = g.add(ActionKind::Resource, Some(&rid), task, 0, Some(&node), p.start_runnable);
                for &pr in &probe_ids {
                    g.edges.push((pr, id));
                }
                if let Some(s) = per[ix].stop {
                    g.edges.push((s, id));
                }
                for &f in fence_ids.values() {
                    g.edges.push((f, id));
                }
                per[ix].start = Some(id);
            }
            let promote = p.next_role == Some(Role::Promoted) && (p.cur_role != Some(Role::Promoted) || p.start_required);
            if promote {
                let id = g.add(ActionKind::Resource, Some(&rid), "promote", 0, Some(&node), p.start_runnable);
                if let Some(s) = per[ix].start {
                    g.edges.push((s, id));
                }
                per[ix].promote = Some(id);
            }
            // Recurring monitors for the role the resource will have, after it gets there.
            let changed = p.start_required || promote || per[ix].demote.is_some();
            if changed && p.start_runnable {
                let role = p.next_role.unwrap_or(Role::Started);
                for op in prim.ops.iter().filter(|o| o.name == "monitor" && o.interval_ms > 0 && o.enabled != Some(false)) {
                    let op_role = op.role.unwrap_or(Role::Started);
                    let matches = op_role == role || (op_role == Role::Started && role == Role::Unpromoted) || (op_role == Role::Unpromoted && role == Role::Started);
                    if !matches {
                        continue;
                    }
                    let id = g.add(ActionKind::Resource, Some(&rid), "monitor", op.interval_ms, Some(&node), true);
                    for prev in [per[ix].start, per[ix].promote, per[ix].demote].into_iter().flatten() {
                        g.edges.push((prev, id));
                    }
                }
            }
        }
    }
    add_collective_pseudo_actions(cl, &mut g, &per);
    for o in pairs {
        if o.kind == OrderKind::Serialize {
            continue;
        }
        let pick = |ix: RscIx, a: RscAction| match a {
            RscAction::Start => per[ix].start,
            RscAction::Stop => per[ix].stop,
            RscAction::Promote => per[ix].promote,
            RscAction::Demote => per[ix].demote,
        };
        if let (Some(a), Some(b)) = (pick(o.first, o.first_action), pick(o.then, o.then_action)) {
            g.edges.push((a, b));
        }
    }
    for n in 0..cl.nodes.len() {
        if cl.nodes[n].shutdown && cl.nodes[n].online {
            let id = g.add(ActionKind::Shutdown, None, "do_shutdown", 0, Some(&node_names[n]), true);
            for ra in &per {
                if let Some(s) = ra.stop
                    && g.actions[s].node.as_deref() == Some(cl.nodes[n].name.as_str())
                {
                    g.edges.push((s, id));
                }
            }
        }
    }
    g.edges.sort_unstable();
    g.edges.dedup();
    g
}

/// Groups and clones get start/running and stop/stopped markers around their members' actions.
fn add_collective_pseudo_actions(cl: &Cluster, g: &mut TransitionGraph, per: &[RscActions]) {
    for (ix, r) in cl.rscs.iter().enumerate() {
        if matches!(r.kind, Kind::Primitive(_)) {
            continue;
        }
        let leaves = cl.leaves(ix);
        let rid: Arc<str> = Arc::from(r.id.as_str());
        let starts: Vec<usize> = leaves.iter().filter_map(|&l| per[l].start).collect();
        let stops: Vec<usize> = leaves.iter().filter_map(|&l| per[l].stop).collect();
        let mut stopped_marker = None;
        if !stops.is_empty() {
            let begin = g.add(ActionKind::Pseudo, Some(&rid), "stop", 0, None, true);
            let end = g.add(ActionKind::Pseudo, Some(&rid), "stopped", 0, None, true);
            stopped_marker = Some(end);
            for &s in &stops {
                g.edges.push((begin, s));
                g.edges.push((s, end));
            }
        }
        if !starts.is_empty() {
            let runnable = starts.iter().any(|&s| g.actions[s].runnable);
            let begin = g.add(ActionKind::Pseudo, Some(&rid), "start", 0, None, runnable);
            let end = g.add(ActionKind::Pseudo, Some(&rid), "running", 0, None, runnable);
            for &s in &starts {
                g.edges.push((begin, s));
                g.edges.push((s, end));
            }
            if !stops.is_empty() {
                g.edges.push((stopped_marker.expect("stop markers exist when members stop"), begin));
            }
        }
    }
}

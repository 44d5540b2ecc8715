//! The transition graph: the actions to run (per node) and the orderings between them.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

use atrium_cib::model::{OrderKind, RscAction, Role};

use crate::actions::{OrderPair, Plan};
use crate::cluster::{Cluster, Kind, PrimState, RscIx};

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
    /// Clearing a resource's expired fail count on a node.
    ClearFailcount,
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
            (_, None) => match &self.node {
                Some(n) => format!("{}_{n}", self.task),
                None => self.task.to_string(),
            },
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

    /// The label Pacemaker's Graphviz output gives an action: its key, then its node for
    /// actions that run somewhere.
    pub fn dot_label(&self, a: &Action) -> String {
        match (&a.kind, &a.node) {
            (ActionKind::Fence { action }, Some(n)) => format!("stonith '{action}' {n}"),
            (ActionKind::Shutdown, Some(n)) => format!("do_shutdown {n}"),
            (ActionKind::Resource, Some(n)) if a.task == "cancel" => {
                format!("Cancel {}_monitor_{} {n}", a.rsc.as_deref().unwrap_or(""), a.interval_ms)
            }
            (_, Some(n)) => format!("{} {n}", a.key()),
            _ => a.key(),
        }
    }

    /// The graph in Graphviz form, one sorted line per action and per ordering.
    pub fn to_dot(&self) -> String {
        let mut lines: Vec<String> = self
            .actions
            .iter()
            .map(|a| {
                let color = if a.runnable { "green" } else { "red" };
                let font = if matches!(a.kind, ActionKind::Pseudo) { "orange" } else { "black" };
                format!("\"{}\" [ style=bold color=\"{color}\" fontcolor=\"{font}\"]", self.dot_label(a))
            })
            .chain(self.edges.iter().map(|&(x, y)| {
                // Orderings involving an action that cannot run are drawn dashed.
                let style = if self.actions[x].runnable && self.actions[y].runnable { "bold" } else { "dashed" };
                format!("\"{}\" -> \"{}\" [ style = {style}]", self.dot_label(&self.actions[x]), self.dot_label(&self.actions[y]))
            }))
            .collect();
        lines.sort();
        lines.dedup();
        format!(" digraph \"g\" {{\n{}\n}}\n", lines.join("\n"))
    }

    /// Actions caught in an ordering loop (and what waits on them): they can never run. Empty
    /// for a valid graph.
    pub fn ordering_loop(&self) -> Vec<&Action> {
        let ordered: std::collections::BTreeSet<usize> = self.kahn().into_iter().collect();
        self.actions.iter().filter(|a| !ordered.contains(&a.id)).collect()
    }

    /// Actions in an order that respects every edge (ties keep creation order); actions in an
    /// ordering loop are left out (see [`TransitionGraph::ordering_loop`]).
    pub fn topological(&self) -> Vec<&Action> {
        self.kahn().into_iter().map(|i| &self.actions[i]).collect()
    }

    fn kahn(&self) -> Vec<usize> {
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
            order.push(i);
            for &j in &out[i] {
                indeg[j] -= 1;
                if indeg[j] == 0 {
                    ready.insert(j);
                }
            }
        }
        order
    }
}

#[derive(Default)]
struct RscActions {
    probes: Vec<usize>,
    stop: Option<usize>,
    start: Option<usize>,
    promote: Option<usize>,
    demote: Option<usize>,
}

/// Build the graph from the plans. `probe_nodes` lists, per primitive, where to probe.
/// `anti` lists primitives that must not share a node (-INFINITY colocations): on each node,
/// one's probe or stop comes before the other's start. `together` lists resources colocated
/// with INFINITY (dependent, primary).
pub(crate) fn build(
    cl: &Cluster,
    plans: &[Plan],
    pairs: &[OrderPair],
    probes: &[Vec<usize>],
    fence: &[usize],
    anti: &[(RscIx, RscIx)],
    together: &[(RscIx, RscIx)],
) -> TransitionGraph {
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
    // The coordinator is fenced last.
    if let Some(&dc_fence) = cl.dc.and_then(|dc| fence_ids.get(&dc)) {
        g.edges.extend(fence_ids.values().filter(|&&f| f != dc_fence).map(|&f| (f, dc_fence)));
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
        per[ix].probes = probe_ids.clone();
        // Probes of clone instances come before the clone starts (added with its markers).
        if cl.clone_of(ix).is_some() {
            probe_ids.clear();
        }
        for &n in &prim.expired_failcount_on {
            g.add(ActionKind::ClearFailcount, Some(&rid), "clear_failcount", 0, Some(&node_names[n]), true);
        }
        // Recurring monitors no longer configured are cancelled (after the resource stops there).
        let mut cancels = Vec::new();
        for &(n, interval) in &prim.recorded_monitors {
            let configured = prim.ops.iter().any(|o| o.name == "monitor" && o.interval_ms == interval);
            if !configured && cl.nodes[n].online {
                cancels.push((n, g.add(ActionKind::Resource, Some(&rid), "cancel", interval, Some(&node_names[n]), true)));
            }
        }
        if p.frozen {
            // Resources in maintenance have their monitors cancelled.
            let in_maintenance = r.maintenance || p.cur.is_some_and(|c| cl.nodes[c].maintenance);
            if in_maintenance {
                for &(n, interval) in &prim.active_monitors {
                    g.add(ActionKind::Resource, Some(&rid), "cancel", interval, Some(&node_names[n]), true);
                }
            }
            continue;
        }
        if p.migrate && let (Some(c), Some(n)) = (p.cur, p.next) {
            // Live migration: migrate_to on the source, migrate_from on the target, then the
            // source is cleaned up and the start is only a marker.
            let to = g.add(ActionKind::Resource, Some(&rid), "migrate_to", 0, Some(&node_names[c]), true);
            let from = g.add(ActionKind::Resource, Some(&rid), "migrate_from", 0, Some(&node_names[n]), true);
            let stop = g.add(ActionKind::Resource, Some(&rid), "stop", 0, Some(&node_names[c]), true);
            let start = g.add(ActionKind::Pseudo, Some(&rid), "start", 0, Some(&node_names[n]), true);
            for &pr in &probe_ids {
                g.edges.push((pr, to));
                g.edges.push((pr, start));
            }
            g.edges.extend([(to, from), (from, stop), (from, start), (stop, start)]);
            per[ix].stop = Some(stop);
            per[ix].start = Some(start);
            add_monitors(&mut g, prim, &rid, &node_names[n], Role::Started, &[start]);
            continue;
        }
        if p.stop_required && let Some(c) = p.cur {
            if p.cur_role == Some(Role::Promoted) {
                let kind = if p.stop_implied { ActionKind::Pseudo } else { ActionKind::Resource };
                per[ix].demote = Some(g.add(kind, Some(&rid), "demote", 0, Some(&node_names[c]), true));
            }
            let kind = if p.stop_implied { ActionKind::Pseudo } else { ActionKind::Resource };
            let id = g.add(kind, Some(&rid), "stop", 0, Some(&node_names[c]), true);
            if let Some(&f) = fence_ids.get(&c) {
                g.edges.push((f, id));
            }
            g.edges.extend(cancels.iter().filter(|&&(n, _)| n == c).map(|&(_, x)| (id, x)));
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
                let id = g.add(ActionKind::Resource, Some(&rid), "start", 0, Some(&node), p.start_runnable);
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
            // A resource promoted or demoted in place first cancels the monitors of the role
            // it leaves: they would report the new role as a failure.
            let role_change: Vec<usize> = [per[ix].promote, per[ix].demote].into_iter().flatten().collect();
            if !p.start_required && !role_change.is_empty() {
                let keep: Vec<u64> = monitors_for(prim, p.next_role.unwrap_or(Role::Started)).map(|o| o.interval_ms).collect();
                for &(_, interval) in prim.active_monitors.iter().filter(|&&(m, i)| m == n && !keep.contains(&i)) {
                    let cancel = g.add(ActionKind::Resource, Some(&rid), "cancel", interval, Some(&node), true);
                    g.edges.extend(role_change.iter().map(|&a| (cancel, a)));
                }
            }
            // Recurring monitors for the role the resource will have, after it gets there;
            // a resource that stays put gets back any monitor that is not running.
            let changed = p.start_required || promote || per[ix].demote.is_some();
            if p.start_runnable {
                let role = p.next_role.unwrap_or(Role::Started);
                let after: Vec<usize> = [per[ix].start, per[ix].promote, per[ix].demote].into_iter().flatten().collect();
                if changed {
                    add_monitors(&mut g, prim, &rid, &node, role, &after);
                } else {
                    for op in monitors_for(prim, role).filter(|o| !prim.active_monitors.contains(&(n, o.interval_ms))) {
                        g.add(ActionKind::Resource, Some(&rid), "monitor", op.interval_ms, Some(&node), true);
                    }
                }
            }
        }
    }
    // Utilization-aware placement marks, per node, the point where its stops have freed capacity.
    if cl.opts.placement_strategy != atrium_cib::PlacementStrategy::Default {
        for name in &node_names {
            let mark = g.add(ActionKind::Pseudo, None, "load_stopped", 0, Some(name), true);
            for ra in &per {
                if let Some(s) = ra.stop.filter(|&s| g.actions[s].node.as_deref() == Some(&**name)) {
                    g.edges.push((s, mark));
                }
                if let Some(s) = ra.start.filter(|&s| g.actions[s].node.as_deref() == Some(&**name)) {
                    g.edges.push((mark, s));
                }
            }
        }
    }
    let marks = add_collective_pseudo_actions(cl, &mut g, &per);
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
        // A group or clone named in a constraint is ordered through its markers: "first" is
        // done when its completion marker is, "then" begins with its opening marker.
        let first = match marks.get(&o.first_unit) {
            Some(m) => m.done(o.first_action),
            None => pick(o.first, o.first_action),
        };
        let then = match marks.get(&o.then_unit) {
            Some(m) => m.begin(o.then_action),
            None => pick(o.then, o.then_action),
        };
        if let (Some(a), Some(b)) = (first, then) {
            g.edges.push((a, b));
        }
    }
    // Ordered clones that must share nodes are also ordered instance by instance: on each node
    // the first instance of the earlier clone starts before the later clone's instances there.
    let mut clone_orders: Vec<(RscIx, RscIx)> = pairs
        .iter()
        .filter(|o| o.first_action == RscAction::Start && o.then_action == RscAction::Start && o.kind != OrderKind::Serialize)
        .map(|o| (o.first_unit, o.then_unit))
        .filter(|&(a, b)| together.contains(&(a, b)) || together.contains(&(b, a)))
        .collect();
    clone_orders.sort_unstable();
    clone_orders.dedup();
    for (a, b) in clone_orders {
        let (Kind::Clone(ca), Kind::Clone(cb)) = (&cl.rscs[a].kind, &cl.rscs[b].kind) else { continue };
        for &bi in &cb.instances {
            let Some(then_start) = per[bi].start else { continue };
            let node = g.actions[then_start].node.clone();
            let first = ca.instances.iter().filter_map(|&ai| per[ai].start).find(|&s| g.actions[s].node == node);
            g.edges.extend(first.map(|f| (f, then_start)));
        }
    }
    // A primitive's probes come before the stop of what it is ordered after (so that a copy
    // found running is stopped first), and a group member's probes before the stops of the
    // members after it.
    for o in pairs.iter().filter(|o| o.first_action == RscAction::Start && o.then_action == RscAction::Start && o.then_unit == o.then) {
        let stop = match marks.get(&o.first_unit) {
            Some(m) if o.first_unit != o.first => m.begin(RscAction::Stop),
            _ => per[o.first].stop,
        };
        let Some(stop) = stop else { continue };
        for leaf in cl.leaves(o.then_unit) {
            g.edges.extend(per[leaf].probes.iter().map(|&p| (p, stop)));
        }
    }
    for (ix, r) in cl.rscs.iter().enumerate() {
        let Kind::Group(kids) = &r.kind else { continue };
        let stopped = marks.get(&ix).and_then(|m| m.done(RscAction::Stop));
        for (i, &x) in kids.iter().enumerate() {
            for &p in &per[x].probes {
                g.edges.extend(kids[i + 1..].iter().filter_map(|&y| per[y].stop).map(|s| (p, s)));
                g.edges.extend(stopped.map(|s| (p, s)));
            }
        }
    }
    // Actions on a remote node need its connection: after the connection starts, before it stops.
    let mut by_node: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    if cl.nodes.iter().any(|n| n.connection.is_some()) {
        for a in &g.actions {
            if let Some(n) = &a.node {
                by_node.entry(n).or_default().push(a.id);
            }
        }
    }
    let by_node: BTreeMap<String, Vec<usize>> = by_node.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    for (n, node) in cl.nodes.iter().enumerate() {
        let Some(conn) = node.connection else { continue };
        for &a in by_node.get(&*node_names[n]).into_iter().flatten() {
            let needs_connection = !matches!(g.actions[a].kind, ActionKind::Fence { .. }) && !matches!(g.actions[a].task, "stop" | "demote");
            if let Some(s) = per[conn].start
                && needs_connection
            {
                g.edges.push((s, a));
            }
            if let Some(s) = per[conn].stop
                && g.actions[a].task == "stop"
            {
                g.edges.push((a, s));
            }
        }
    }
    for &(a, b) in anti {
        for (x, y) in [(a, b), (b, a)] {
            let Some(start) = per[y].start else { continue };
            let node = g.actions[start].node.clone();
            let before: Vec<usize> = per[x].probes.iter().copied().chain(per[x].stop).filter(|&p| g.actions[p].node == node).collect();
            g.edges.extend(before.into_iter().map(|p| (p, start)));
        }
    }
    for (node, name) in cl.nodes.iter().zip(&node_names) {
        if node.shutdown && node.online {
            let id = g.add(ActionKind::Shutdown, None, "do_shutdown", 0, Some(name), true);
            for ra in &per {
                if let Some(s) = ra.stop
                    && g.actions[s].node.as_deref() == Some(node.name.as_str())
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

/// The configured recurring monitors that apply to a role.
fn monitors_for<'a>(prim: &PrimState<'a>, role: Role) -> impl Iterator<Item = &'a atrium_cib::Op> + use<'a> {
    prim.ops.iter().filter(move |o| {
        let op_role = o.role.unwrap_or(Role::Started);
        let same = op_role == role || matches!((op_role, role), (Role::Started, Role::Unpromoted) | (Role::Unpromoted, Role::Started));
        o.name == "monitor" && o.interval_ms > 0 && o.enabled != Some(false) && same
    })
}

fn add_monitors(g: &mut TransitionGraph, prim: &PrimState, rid: &Arc<str>, node: &Arc<str>, role: Role, after: &[usize]) {
    for op in monitors_for(prim, role) {
        let id = g.add(ActionKind::Resource, Some(rid), "monitor", op.interval_ms, Some(node), true);
        g.edges.extend(after.iter().map(|&a| (a, id)));
    }
}

/// The pseudo actions bracketing a group's or clone's member actions: (begin, done) per task.
#[derive(Default)]
struct Marks {
    start: Option<(usize, usize)>,
    stop: Option<(usize, usize)>,
    promote: Option<(usize, usize)>,
    demote: Option<(usize, usize)>,
}

impl Marks {
    fn pair(&self, a: RscAction) -> Option<(usize, usize)> {
        match a {
            RscAction::Start => self.start,
            RscAction::Stop => self.stop,
            RscAction::Promote => self.promote,
            RscAction::Demote => self.demote,
        }
    }
    fn begin(&self, a: RscAction) -> Option<usize> {
        self.pair(a).map(|p| p.0)
    }
    fn done(&self, a: RscAction) -> Option<usize> {
        self.pair(a).map(|p| p.1)
    }
}

/// Groups and clones get start/running and stop/stopped markers around their members' actions.
fn add_collective_pseudo_actions(cl: &Cluster, g: &mut TransitionGraph, per: &[RscActions]) -> BTreeMap<RscIx, Marks> {
    let mut all = BTreeMap::new();
    for (ix, r) in cl.rscs.iter().enumerate() {
        if matches!(r.kind, Kind::Primitive(_)) {
            continue;
        }
        let mut marks = Marks::default();
        let leaves = cl.leaves(ix);
        let rid: Arc<str> = Arc::from(r.id.as_str());
        let starts: Vec<usize> = leaves.iter().filter_map(|&l| per[l].start).collect();
        let stops: Vec<usize> = leaves.iter().filter_map(|&l| per[l].stop).collect();
        let mut stopped_marker = None;
        if !stops.is_empty() {
            let begin = g.add(ActionKind::Pseudo, Some(&rid), "stop", 0, None, true);
            let end = g.add(ActionKind::Pseudo, Some(&rid), "stopped", 0, None, true);
            stopped_marker = Some(end);
            g.edges.push((begin, end));
            for &s in &stops {
                g.edges.push((begin, s));
                g.edges.push((s, end));
            }
            marks.stop = Some((begin, end));
        }
        if matches!(r.kind, Kind::Clone(_)) {
            for (action, task, done, members) in [
                (RscAction::Promote, "promote", "promoted", leaves.iter().filter_map(|&l| per[l].promote).collect::<Vec<_>>()),
                (RscAction::Demote, "demote", "demoted", leaves.iter().filter_map(|&l| per[l].demote).collect()),
            ] {
                if members.is_empty() {
                    continue;
                }
                let begin = g.add(ActionKind::Pseudo, Some(&rid), task, 0, None, true);
                let end = g.add(ActionKind::Pseudo, Some(&rid), done, 0, None, true);
                for &m in &members {
                    g.edges.push((begin, m));
                    g.edges.push((m, end));
                }
                if action == RscAction::Promote {
                    marks.promote = Some((begin, end));
                } else {
                    marks.demote = Some((begin, end));
                }
            }
        }
        if !starts.is_empty() {
            let runnable = starts.iter().any(|&s| g.actions[s].runnable);
            let begin = g.add(ActionKind::Pseudo, Some(&rid), "start", 0, None, runnable);
            let end = g.add(ActionKind::Pseudo, Some(&rid), "running", 0, None, runnable);
            g.edges.push((begin, end));
            for &s in &starts {
                g.edges.push((begin, s));
                g.edges.push((s, end));
            }
            if !stops.is_empty() {
                g.edges.push((stopped_marker.expect("stop markers exist when members stop"), begin));
            }
            if matches!(r.kind, Kind::Clone(_)) {
                for &l in &leaves {
                    g.edges.extend(per[l].probes.iter().map(|&p| (p, begin)));
                }
            }
            marks.start = Some((begin, end));
        }
        // Instances are promoted once the clone runs, and stop only after demotion.
        if let (Some((_, running)), Some((promote, _))) = (marks.start, marks.promote) {
            g.edges.push((running, promote));
        }
        if let (Some((_, demoted)), Some((stop, _))) = (marks.demote, marks.stop) {
            g.edges.push((demoted, stop));
        }
        all.insert(ix, marks);
    }
    all
}

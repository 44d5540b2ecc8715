//! Deciding each primitive's actions (start, stop, promote, demote, recover) and propagating
//! mandatory orderings: a required first action forces a restart of what follows it, an
//! unrunnable one blocks it.

use atrium_cib::model::{Cib, Constraint, OnFail, OrderKind, RscAction, Role};
use atrium_cib::NoQuorumPolicy;

use crate::cluster::{Cluster, Kind, NodeIx, RscIx};
use crate::placement::{resolve, Placement};

/// The plan for one primitive.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    pub cur: Option<NodeIx>,
    pub cur_role: Option<Role>,
    pub next: Option<NodeIx>,
    pub next_role: Option<Role>,
    pub failed: bool,
    pub start_required: bool,
    pub stop_required: bool,
    pub start_runnable: bool,
    /// Why the start is required or blocked.
    pub start_reason: Option<String>,
    pub stop_reason: Option<String>,
    /// A restart forced by an ordering (not by failure or a move).
    pub forced_restart: bool,
    /// Left alone: unmanaged, blocked, on a node in maintenance.
    pub frozen: bool,
    /// The node the resource runs on is being fenced, so its stop is implied.
    pub stop_implied: bool,
    pub migrate: bool,
}

/// One leg of an ordering between primitives.
#[derive(Debug, Clone)]
pub(crate) struct OrderPair {
    /// The resources the constraint names (a group or clone stands for its markers in the
    /// graph); `first`/`then` are the primitives standing for them.
    pub first_unit: RscIx,
    pub then_unit: RscIx,
    pub first: RscIx,
    pub first_action: RscAction,
    pub then: RscIx,
    pub then_action: RscAction,
    pub kind: OrderKind,
}

pub(crate) fn plan(cl: &Cluster, pl: &Placement, roles: &[Role]) -> Vec<Plan> {
    let mut plans = vec![Plan::default(); cl.rscs.len()];
    for (ix, r) in cl.rscs.iter().enumerate() {
        let Some(p) = r.prim() else { continue };
        let plan = &mut plans[ix];
        // Resources on nodes that are cleanly down (or lost without fencing) are stopped.
        let active = p.running.iter().copied().find(|&(n, _)| {
            let node = &cl.nodes[n];
            node.online || node.unclean.is_some() || (node.remote && node.connection.is_some() && !node.lost)
        });
        plan.cur = active.map(|(n, _)| n);
        plan.cur_role = active.map(|(_, r)| r);
        plan.frozen = pl.frozen[ix];
        plan.next = pl.node[ix];
        plan.next_role = plan.next.map(|_| roles[ix]);
        plan.failed = plan.cur.is_some_and(|c| {
            p.history.get(&c).is_some_and(|h| h.failed && !matches!(h.on_fail, Some(OnFail::Ignore) | Some(OnFail::Block)))
        });
        if plan.frozen {
            plan.next = plan.cur;
            plan.next_role = plan.cur_role;
            // A resource blocked by a failure cannot be started, so nothing ordered after it can.
            let blocked = plan.cur.and_then(|c| p.history.get(&c)).is_some_and(|h| {
                h.failed && (h.on_fail == Some(OnFail::Block) || (h.stop_failed && !cl.opts.fencing_enabled))
            });
            plan.start_runnable = !blocked;
            continue;
        }
        plan.stop_implied = plan.cur.is_some_and(|c| cl.nodes[c].unclean.is_some());
        let moving = plan.cur != plan.next;
        plan.start_required = plan.next.is_some() && (moving || plan.failed);
        plan.stop_required = plan.cur.is_some() && (moving || plan.failed);
        plan.start_runnable = true;
        if !cl.have_quorum {
            match cl.opts.no_quorum_policy {
                NoQuorumPolicy::Stop | NoQuorumPolicy::Fence => {
                    plan.start_runnable = false;
                    plan.start_reason = Some("no quorum".into());
                }
                NoQuorumPolicy::Freeze if plan.cur.is_none() => {
                    plan.start_runnable = false;
                    plan.start_reason = Some("quorum freeze".into());
                }
                _ => {}
            }
        }
        if plan.next.is_none() && plan.cur.is_some() {
            let unit = match r.parent {
                Some(g) if matches!(cl.rscs[g].kind, Kind::Group(_)) && pl.why_stopped[ix].is_none() => g,
                _ => ix,
            };
            plan.stop_reason = pl.why_stopped[unit].clone().filter(|w| w != "target-role");
        }
        plan.migrate = p.allow_migrate && moving && !plan.failed && plan.cur.is_some() && plan.next.is_some() && !plan.stop_implied;
    }
    plans
}

/// Expand order constraints (and the implicit orders inside groups) into primitive pairs.
pub(crate) fn order_pairs(cib: &Cib, cl: &Cluster) -> Vec<OrderPair> {
    let mut out = Vec::new();
    for r in cl.rscs.iter() {
        if let Kind::Group(kids) = &r.kind {
            for w in kids.windows(2) {
                let pair = |first: RscIx, then: RscIx, action: RscAction| OrderPair {
                    first_unit: first,
                    then_unit: then,
                    first,
                    first_action: action,
                    then,
                    then_action: action,
                    kind: OrderKind::Mandatory,
                };
                out.push(pair(w[0], w[1], RscAction::Start));
                out.push(pair(w[1], w[0], RscAction::Stop));
            }
        }
    }
    for c in &cib.configuration.constraints {
        let Constraint::Order(o) = c else { continue };
        let kind = o.effective_kind();
        let mut legs = Vec::new();
        if let (Some(f), Some(t)) = (&o.first, &o.then) {
            legs.push((f.clone(), o.first_action.unwrap_or(RscAction::Start), t.clone(), o.then_action.or(o.first_action).unwrap_or(RscAction::Start)));
        }
        for s in &o.sets {
            let act = s.action.unwrap_or(RscAction::Start);
            for w in s.resources.windows(2) {
                legs.push((w[0].clone(), act, w[1].clone(), act));
            }
        }
        for (f, fa, t, ta) in legs {
            let (Some(fi), Some(ti)) = (resolve(cl, &f), resolve(cl, &t)) else { continue };
            push_leaf_pairs(cl, &mut out, fi, fa, ti, ta, kind);
            if o.is_symmetrical() && let (Some(ifa), Some(ita)) = (invert(ta), invert(fa)) {
                push_leaf_pairs(cl, &mut out, ti, ifa, fi, ita, kind);
            }
        }
    }
    out
}

fn invert(a: RscAction) -> Option<RscAction> {
    Some(match a {
        RscAction::Start => RscAction::Stop,
        RscAction::Stop => RscAction::Start,
        RscAction::Promote => RscAction::Demote,
        RscAction::Demote => RscAction::Promote,
    })
}

/// The primitives that stand for a resource's action on either side of an ordering: a group
/// starts with its first member and has started after its last (reverse for stops).
fn push_leaf_pairs(cl: &Cluster, out: &mut Vec<OrderPair>, f: RscIx, fa: RscAction, t: RscIx, ta: RscAction, kind: OrderKind) {
    let side = |ix: RscIx, act: RscAction, is_first: bool| -> Vec<RscIx> {
        let leaves = cl.leaves(ix);
        match &cl.rscs[ix].kind {
            Kind::Group(_) => {
                let forward = matches!(act, RscAction::Start | RscAction::Promote);
                // "first" is complete after the last member to act; "then" begins with the first.
                let pick = if forward == is_first { leaves.last() } else { leaves.first() };
                pick.copied().into_iter().collect()
            }
            _ => leaves,
        }
    };
    for &a in &side(f, fa, true) {
        for &b in &side(t, ta, false) {
            out.push(OrderPair { first_unit: f, then_unit: t, first: a, first_action: fa, then: b, then_action: ta, kind });
        }
    }
}

/// Propagate mandatory orderings until nothing changes.
pub(crate) fn propagate(cl: &Cluster, plans: &mut [Plan], pairs: &[OrderPair]) {
    // Bounded: each pass can only turn flags one way.
    for _ in 0..(pairs.len() + 2) {
        let mut changed = false;
        for o in pairs.iter().filter(|o| o.kind == OrderKind::Mandatory) {
            // A group or clone is named by its completion marker ("grp running").
            let what = if o.first_unit != o.first {
                let marker = match o.first_action {
                    RscAction::Start => "running",
                    RscAction::Stop => "stopped",
                    RscAction::Promote => "promoted",
                    RscAction::Demote => "demoted",
                };
                format!("{} {marker}", cl.rscs[o.first_unit].id)
            } else {
                format!("{} {}", cl.rscs[o.first].id, o.first_action.as_str())
            };
            match (o.first_action, o.then_action) {
                (RscAction::Start, RscAction::Start) | (RscAction::Promote, RscAction::Start) | (RscAction::Start, RscAction::Promote) => {
                    let f = plans[o.first].clone();
                    let t = &mut plans[o.then];
                    if t.frozen {
                        continue;
                    }
                    let first_unrunnable = f.next.is_none() || !f.start_runnable;
                    if first_unrunnable && t.next.is_some() && t.start_runnable {
                        t.start_runnable = false;
                        t.start_reason = Some(format!("unrunnable {what}"));
                        changed = true;
                    } else if f.start_required && f.start_runnable && t.next.is_some() && !t.start_required {
                        t.start_required = true;
                        t.stop_required = t.cur.is_some();
                        t.forced_restart = true;
                        t.start_reason = Some(format!("required {what}"));
                        changed = true;
                    }
                }
                (RscAction::Stop, RscAction::Stop) => {
                    // "first stops before then stops" comes from "then starts before first":
                    // when `then` must stop, `first`, which depends on it, must stop too.
                    let t = plans[o.then].clone();
                    let f = &mut plans[o.first];
                    if !f.frozen && t.stop_required && f.cur.is_some() && !f.stop_required && f.cur == t.cur {
                        f.stop_required = true;
                        changed = true;
                    }
                }
                _ => {}
            }
        }
        if !changed {
            break;
        }
    }
    // A running resource whose start cannot happen must stop.
    for p in plans.iter_mut() {
        if p.frozen || p.cur.is_none() || p.start_runnable {
            continue;
        }
        if p.cur == p.next || p.next.is_some() {
            p.stop_required = true;
            p.stop_reason = p.start_reason.clone();
            p.next = None;
            p.next_role = None;
            p.start_required = false;
            p.forced_restart = false;
        }
    }
    // A stop forced by the ordering means a restart in place.
    for p in plans.iter_mut() {
        if !p.frozen && p.stop_required && p.cur.is_some() && p.cur == p.next && !p.start_required {
            p.start_required = true;
            p.forced_restart = true;
        }
    }
}

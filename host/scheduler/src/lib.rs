//! Atrium's scheduler: a pure function from a CIB (configuration and status) and the current
//! time to a transition graph, placement scores and per-resource explanations. It reads no
//! clock and does no I/O.
//!
//! The pipeline, one module per step:
//! - `cluster`: unpack nodes (membership, standby, maintenance, remote nodes) and resources
//!   (effective meta attributes, clone instances) and replay each resource's operation
//!   history (`history`) into its current role, failures and fail counts;
//! - `scores` and `placement`: location scores with their sources, then assignment in
//!   Pacemaker's order with colocation, groups, clones and `utilization`;
//! - `promotion`: which promotable instances are promoted;
//! - `actions`: each primitive's start/stop/recover plan and the propagation of mandatory
//!   orderings (restarts, blocked starts);
//! - [`graph`]: the transition graph (probes, actions, pseudo actions, fencing, orderings);
//! - [`summary`], [`status`], [`explain`]: what crm_simulate would print, and why.
//!
//! Entry points: [`schedule`] for a DC, [`simulate::simulate`] for `atrium simulate`.
//!
//! ```
//! let cib = atrium_cib::Cib::from_xml(r#"<cib have-quorum="1"><configuration><crm_config>
//!   <cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="false"/>
//!   </cluster_property_set></crm_config><nodes><node id="1" uname="node1"/></nodes>
//!   <resources><primitive id="ip" class="ocf" provider="heartbeat" type="IPaddr2"/></resources>
//!   <constraints/></configuration><status><node_state id="1" uname="node1" in_ccm="true"
//!   crmd="online" join="member" expected="member"/></status></cib>"#).unwrap();
//! let s = atrium_scheduler::schedule(&cib, 0);
//! assert_eq!(atrium_scheduler::summary::render_lines(&s.summary), ["  * Start      ip      ( node1 )"]);
//! ```

mod actions;
mod cluster;
pub mod explain;
pub mod graph;
mod history;
mod placement;
mod promotion;
mod scores;
pub mod simulate;
pub mod status;
pub mod summary;
mod utilization;

use serde::Serialize;
use std::collections::BTreeMap;

use atrium_cib::{Cib, Role, Score};

pub use explain::Explanation;
pub use graph::{Action, ActionKind, TransitionGraph};
pub use scores::Contribution;
pub use summary::SummaryItem;

/// Allocation scores of one resource on every node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceScores {
    pub rsc: String,
    pub scores: BTreeMap<String, Score>,
}

/// Where a resource ends up after the transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    pub rsc: String,
    pub node: Option<String>,
    pub role: Role,
}

/// Everything the scheduler decided for one CIB.
#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    pub graph: TransitionGraph,
    pub summary: Vec<SummaryItem>,
    /// Allocation scores per placed unit (primitive, group, clone, clone instance).
    pub scores: Vec<ResourceScores>,
    /// Final placement of every primitive.
    pub assignments: Vec<Assignment>,
    pub explanations: Vec<Explanation>,
    /// The cluster as the CIB describes it.
    pub current: status::ClusterStatus,
    /// The cluster once the transition has run (every action assumed to succeed).
    pub revised: status::ClusterStatus,
}

/// Schedule a CIB. `now` is the current time in seconds since the Unix epoch (for failure
/// timeouts and date rules); the scheduler never reads the clock.
pub fn schedule(cib: &Cib, now: i64) -> Schedule {
    // Primitives based on templates are scheduled as the template makes them.
    let resolved;
    let cib = if cib.configuration.templates.is_empty() {
        cib
    } else {
        resolved = Cib { configuration: cib.configuration.with_templates_resolved(), ..cib.clone() };
        &resolved
    };
    let cl = cluster::Cluster::unpack(cib, now);
    let pl = placement::place(cib, &cl);
    let roles = promotion::next_roles(&cl, &pl);
    let mut plans = actions::plan(&cl, &pl, &roles);
    let pairs = actions::order_pairs(cib, &cl);
    actions::propagate(&cl, &mut plans, &pairs);

    let fence: Vec<usize> = (0..cl.nodes.len()).filter(|&n| cl.nodes[n].unclean.is_some()).collect();
    let probes: Vec<Vec<usize>> = (0..cl.rscs.len()).map(|ix| probe_nodes(&cl, &pl, ix)).collect();
    let anti: Vec<(usize, usize)> = pl
        .colocations
        .iter()
        .filter(|c| c.score.is_neg_inf())
        .flat_map(|c| {
            let dependents = cl.leaves(c.dependent);
            let primaries = cl.leaves(c.primary);
            dependents.into_iter().flat_map(move |d| primaries.clone().into_iter().map(move |p| (d, p)))
        })
        .collect();
    let together: Vec<(usize, usize)> = pl.colocations.iter().filter(|c| c.score.is_pos_inf()).map(|c| (c.dependent, c.primary)).collect();
    let graph = graph::build(&cl, &plans, &pairs, &probes, &fence, &anti, &together);

    // Fencing first, latest node first (as crm_simulate lists them), then resources in the
    // order they were considered for placement.
    let mut summary: Vec<SummaryItem> = fence
        .iter()
        .rev()
        .map(|&n| SummaryItem::Fence {
            node: cl.nodes[n].name.clone(),
            action: cl.opts.fencing_action.clone(),
            reason: cl.nodes[n].unclean.clone().unwrap_or_default(),
        })
        .collect();
    let mut assignments = Vec::new();
    for &top in &pl.order {
        for leaf in cl.leaves(top) {
            if let Some(item) = summary::item_for(&cl, leaf, &plans[leaf]) {
                summary.push(item);
            }
            let p = &plans[leaf];
            let (node, role) = match p.next {
                Some(n) if p.start_runnable || !p.start_required => (Some(cl.nodes[n].name.clone()), p.next_role.unwrap_or(Role::Started)),
                _ => (None, Role::Stopped),
            };
            assignments.push(Assignment { rsc: cl.rscs[leaf].id.clone(), node, role });
        }
    }
    let scores = (0..cl.rscs.len())
        .filter_map(|ix| {
            pl.scores[ix].as_ref().map(|s| ResourceScores {
                rsc: cl.rscs[ix].id.clone(),
                scores: cl.nodes.iter().zip(s).map(|(n, &v)| (n.name.clone(), effective(n, v))).collect(),
            })
        })
        .collect();
    let explanations = explain::explain_all(&cl, &pl, &plans);
    Schedule {
        graph,
        summary,
        scores,
        assignments,
        explanations,
        current: status::current(&cl, &plans),
        revised: status::revised(&cl, &plans, &fence),
    }
}

/// A node that cannot host anything shows -INFINITY, as Pacemaker reports it.
fn effective(n: &cluster::NodeInfo, v: Score) -> Score {
    if n.can_host() || (n.remote && n.unclean.is_none()) { v } else { Score::NEG_INFINITY }
}

/// Where a primitive must be probed: nodes that are (or are about to be) up with no history of
/// it, unless discovery is disabled there. Anonymous clone instances share one probe per node,
/// named after the instance placed there (or the first instance placed nowhere).
fn probe_nodes(cl: &cluster::Cluster, pl: &placement::Placement, ix: usize) -> Vec<usize> {
    let r = &cl.rscs[ix];
    let Some(p) = r.prim() else { return Vec::new() };
    let anonymous = cl.clone_of(ix).and_then(|c| match &cl.rscs[c].kind {
        cluster::Kind::Clone(cs) if !cs.unique => Some(cs),
        _ => None,
    });
    let unit = cl.top_of(ix);
    let discover = pl.base[ix].as_ref().or(pl.base[unit].as_ref()).map(|b| &b.discover);
    (0..cl.nodes.len())
        .filter(|&n| {
            let node = &cl.nodes[n];
            let remote_coming_up = node.connection.is_some_and(|c| pl.node[c].is_some());
            let up = (node.online || remote_coming_up) && node.unclean.is_none() && !node.maintenance;
            let eligible = !(node.remote && p.cluster_nodes_only());
            up && eligible && !p.known_on.contains(&n) && discover.is_none_or(|d| d[n]) && r.managed
        })
        .filter(|&n| match anonymous {
            None => true,
            Some(cs) => {
                let position = |i: usize| cs.instances.iter().position(|&x| cl.leaves(x).contains(&i));
                let mine = position(ix);
                let placed_here = cs.instances.iter().position(|&x| pl.node[x] == Some(n));
                let spare = cs.instances.iter().position(|&x| pl.node[x].is_none()).unwrap_or(0);
                mine == Some(placed_here.unwrap_or(spare))
            }
        })
        .collect()
}

//! Assigning resources to nodes: order of assignment, colocation, groups, clones and
//! utilization, with tie-breaks as Pacemaker makes them (score, then free capacity for
//! balanced, then fewest assigned resources, then the current node, then node name).

use std::cmp::Ordering;
use std::collections::BTreeSet;

use atrium_cib::model::{Cib, Constraint, OnFail, Role};
use atrium_cib::{NoQuorumPolicy, PlacementStrategy, Score};

use crate::cluster::{Cluster, Kind, NodeIx, RscIx};
use crate::scores::{base_scores, BaseScores, LocationIndex};
use crate::utilization::{add_needs, Capacity, Needs};

#[derive(Debug, Clone)]
pub(crate) struct Colocation {
    pub id: String,
    pub dependent: RscIx,
    pub primary: RscIx,
    pub score: Score,
    pub dependent_role: Option<Role>,
    pub primary_role: Option<Role>,
    /// Colocate by equal values of this node attribute instead of by node.
    pub node_attribute: Option<String>,
}

pub(crate) struct Placement {
    /// Top-level resources in the order they were considered (the order Pacemaker also lists
    /// them in).
    pub order: Vec<RscIx>,
    /// Chosen node per resource (units and leaves); None = stopped.
    pub node: Vec<Option<NodeIx>>,
    /// Final scores per placed unit (top-level resource, group, clone instance).
    pub scores: Vec<Option<Vec<Score>>>,
    /// Every contribution per unit: (node, score, source).
    pub contributions: Vec<Vec<(NodeIx, Score, String)>>,
    /// Why a resource has no node, when it has none.
    pub why_stopped: Vec<Option<String>>,
    /// Resources left where they are without management (unmanaged, blocked).
    pub frozen: Vec<bool>,
    pub base: Vec<Option<BaseScores>>,
    pub colocations: Vec<Colocation>,
    pub location: LocationIndex,
}

/// Resolve a constraint's resource id to the unit it governs: a clone's template id means the
/// clone; a group member's id means that member.
pub(crate) fn resolve(cl: &Cluster, id: &str) -> Option<RscIx> {
    if let Some(&ix) = cl.by_id.get(id) {
        return Some(ix);
    }
    // A clone's child template (e.g. "child_rsc1" of clone "rsc1").
    let inst = cl.rscs.iter().position(|r| template_id_eq(cl, r, id))?;
    cl.clone_of(inst)
}

fn template_id_eq(cl: &Cluster, r: &crate::cluster::Rsc, id: &str) -> bool {
    r.id.strip_prefix(id).is_some_and(|s| s.starts_with(':')) && r.parent.is_some_and(|p| cl.clone_of(p).is_some())
}

/// The unit placed as a whole: group members are placed with their group.
fn unit_of(cl: &Cluster, ix: RscIx) -> RscIx {
    match cl.rscs[ix].parent {
        Some(p) if matches!(cl.rscs[p].kind, Kind::Group(_)) => p,
        _ => ix,
    }
}

struct Assigner<'a, 'c> {
    cl: &'a Cluster<'c>,
    p: Placement,
    capacity: Capacity,
    count: Vec<usize>,
    done: Vec<bool>,
    in_progress: BTreeSet<RscIx>,
    host_ok: Vec<bool>,
}

pub(crate) fn place(cib: &Cib, cl: &Cluster) -> Placement {
    let n = cl.rscs.len();
    let location = LocationIndex::build(cib, cl);
    let mut colocations = Vec::new();
    for c in &cib.configuration.constraints {
        let Constraint::Colocation(k) = c else { continue };
        let mut pairs = Vec::new();
        if let (Some(a), Some(b)) = (&k.rsc, &k.with_rsc) {
            pairs.push((a.clone(), b.clone(), k.rsc_role, k.with_rsc_role, k.score));
        }
        // A sequential set colocates each member with the previous one.
        for s in &k.sets {
            for w in s.resources.windows(2) {
                pairs.push((w[1].clone(), w[0].clone(), s.role, s.role, s.score.unwrap_or(k.score)));
            }
        }
        for (a, b, ra, rb, score) in pairs {
            if let (Some(d), Some(p)) = (resolve(cl, &a), resolve(cl, &b)) {
                let (d, p) = (unit_of(cl, d), unit_of(cl, p));
                if d != p {
                    colocations.push(Colocation {
                        id: k.id.clone(),
                        dependent: d,
                        primary: p,
                        score,
                        dependent_role: ra,
                        primary_role: rb,
                        node_attribute: k.node_attribute.clone(),
                    });
                }
            }
        }
    }
    let host_ok = cl.nodes.iter().map(|n| n.can_host() && n.connection.is_none()).collect();
    let mut a = Assigner {
        cl,
        p: Placement {
            order: Vec::new(),
            node: vec![None; n],
            scores: vec![None; n],
            contributions: vec![Vec::new(); n],
            why_stopped: vec![None; n],
            frozen: vec![false; n],
            base: vec![None; n],
            colocations,
            location,
        },
        capacity: Capacity::new(cl),
        count: vec![0; cl.nodes.len()],
        done: vec![false; n],
        in_progress: BTreeSet::new(),
        host_ok,
    };
    for ix in 0..n {
        if matches!(cl.rscs[ix].kind, Kind::Primitive(_)) || cl.rscs[ix].parent.is_none() || matches!(cl.rscs[ix].kind, Kind::Group(_)) {
            a.p.base[ix] = Some(base_scores(cl, &a.p.location, ix));
        }
    }
    // Remote connections first: a remote node can host resources once its connection runs.
    let mut order: Vec<RscIx> = cl.top.clone();
    let is_conn = |ix: RscIx| cl.nodes.iter().any(|n| n.connection == Some(ix));
    // Assignment order: connections, then priority. With a utilization-aware strategy, then
    // the score on the current node and then the scores on each node in turn, the nodes taken
    // by name (balanced: by free capacity first); the default strategy keeps configuration
    // order.
    let full = Capacity::new(cl);
    let mut node_order: Vec<NodeIx> = (0..cl.nodes.len()).collect();
    node_order.sort_by(|&x, &y| {
        let cap = if cl.opts.placement_strategy == PlacementStrategy::Balanced { full.compare(x, y) } else { Ordering::Equal };
        cap.then(cl.name_rank[x].cmp(&cl.name_rank[y]))
    });
    let node_scores = |a: &Assigner, ix: RscIx| -> Vec<Score> {
        let b = a.p.base[ix].as_ref().unwrap();
        node_order.iter().map(|&n| if b.allowed[n] { b.score[n] } else { Score::NEG_INFINITY }).collect()
    };
    // (is a remote connection, priority, score on current node, score per node)
    type OrderKey = (bool, i64, Score, Vec<Score>);
    let mut keys: Vec<Option<OrderKey>> = vec![None; cl.rscs.len()];
    for &ix in &order {
        let s = node_scores(&a, ix);
        let cur = cl.leaves(ix).first().and_then(|&l| {
            // Only a current node that may keep the resource counts.
            let &(n, _) = cl.rscs[l].prim().unwrap().running.first()?;
            if !a.host_ok[n] {
                return None;
            }
            node_order.iter().position(|&m| m == n).map(|p| s[p])
        });
        keys[ix] = Some((is_conn(ix), cl.rscs[ix].priority, cur.unwrap_or(Score::NEG_INFINITY), s));
    }
    order.sort_by(|&x, &y| {
        let (kx, ky) = (keys[x].as_ref().unwrap(), keys[y].as_ref().unwrap());
        let by_priority = ky.1.cmp(&kx.1);
        if cl.opts.placement_strategy == PlacementStrategy::Default {
            return by_priority;
        }
        by_priority.then(ky.2.cmp(&kx.2)).then_with(|| ky.3.cmp(&kx.3))
    });
    // That is also the order resources are reported in; connections are placed first.
    a.p.order = order.clone();
    order.sort_by_key(|&ix| !keys[ix].as_ref().unwrap().0);
    for ix in order {
        if is_conn(ix) {
            a.assign(ix);
            // The remote node may now host resources.
            for (n, node) in cl.nodes.iter().enumerate() {
                if node.connection == Some(ix) && a.p.node[ix].is_some() && node.unclean.is_none() && !node.standby && !node.maintenance {
                    a.host_ok[n] = true;
                }
            }
        } else {
            a.assign(ix);
        }
    }
    a.p
}

impl Assigner<'_, '_> {
    fn strategy(&self) -> PlacementStrategy {
        self.cl.opts.placement_strategy
    }

    fn assign(&mut self, ix: RscIx) {
        if self.done[ix] || !self.in_progress.insert(ix) {
            return;
        }
        // Primaries first, so their node is known when this resource is placed.
        let prims: Vec<RscIx> = self.p.colocations.iter().filter(|c| c.dependent == ix).map(|c| c.primary).collect();
        for p in prims {
            self.assign(self.cl.top_of(p));
        }
        match &self.cl.rscs[ix].kind {
            Kind::Clone(_) => self.assign_clone(ix),
            _ => self.assign_unit(ix, None, None),
        }
        self.in_progress.remove(&ix);
        self.done[ix] = true;
    }

    /// Nodes the resource currently occupies and that pin it when it is not managed.
    fn pinned(&self, unit: RscIx) -> Option<Option<NodeIx>> {
        let cl = self.cl;
        let leaves = cl.leaves(unit);
        let mut pin = None;
        for &l in &leaves {
            let r = &cl.rscs[l];
            let p = r.prim().unwrap();
            let cur = p.running.first().map(|&(n, _)| n);
            let blocked = p.history.values().any(|h| {
                h.failed && (h.on_fail == Some(OnFail::Block) || (h.stop_failed && !cl.opts.fencing_enabled && h.on_fail != Some(OnFail::Fence)))
            });
            let on_maint_node = cur.is_some_and(|n| cl.nodes[n].maintenance);
            // Fencing the node resolves a blocked failure there.
            let fenced = cur.is_some_and(|n| cl.nodes[n].unclean.is_some());
            // Orphans are left alone when stop-orphan-resources is off.
            let kept_orphan = r.orphan && !cl.opts.stop_orphan_resources;
            if !r.managed || (blocked && !fenced) || on_maint_node || kept_orphan {
                pin = Some(cur);
            }
        }
        pin
    }

    /// The utilization a unit needs, plus that of resources that must follow it.
    fn needs(&self, unit: RscIx) -> Needs {
        let mut needs = Needs::new();
        if self.strategy() == PlacementStrategy::Default {
            return needs;
        }
        for l in self.cl.leaves(unit) {
            add_needs(&mut needs, &self.cl.rscs[l].prim().unwrap().utilization);
        }
        for c in &self.p.colocations {
            if c.primary == unit && c.score.is_pos_inf() && !self.done[c.dependent] && !matches!(self.cl.rscs[c.dependent].kind, Kind::Clone(_)) {
                for l in self.cl.leaves(c.dependent) {
                    add_needs(&mut needs, &self.cl.rscs[l].prim().unwrap().utilization);
                }
            }
        }
        needs
    }

    /// The node a unit prefers on ties: where it runs now. A group is placed through its first
    /// member, so only that member's node counts.
    fn current_node(&self, unit: RscIx) -> Option<NodeIx> {
        let first = *self.cl.leaves(unit).first()?;
        self.cl.rscs[first].prim().unwrap().running.first().map(|&(n, _)| n)
    }

    /// Scores for a unit including colocations with already placed primaries and the pull of
    /// dependents still to be placed. `extra` carries clone-level scores for instances.
    // Per-node vectors (scores, allowed, the dependent's scores) are walked in step by index.
    #[allow(clippy::needless_range_loop)]
    fn unit_scores(&mut self, unit: RscIx, colo_owner: RscIx, extra: Option<&BaseScores>) -> (Vec<Score>, Vec<bool>) {
        let cl = self.cl;
        let base = self.p.base[unit].clone().unwrap_or_else(|| base_scores(cl, &self.p.location, unit));
        let mut score = base.score.clone();
        let mut allowed = base.allowed.clone();
        let mut contrib = base.contributions.clone();
        if let Some(e) = extra {
            for (n, s, src) in &e.contributions {
                score[*n] = score[*n].add(*s);
                contrib.push((*n, *s, src.clone()));
            }
            for (a, &ok) in allowed.iter_mut().zip(&e.allowed) {
                *a &= ok;
            }
        }
        // A primary still being placed (a colocation loop) does not constrain yet.
        for c in self.p.colocations.clone().iter().filter(|c| c.dependent == colo_owner && self.done[self.cl.top_of(c.primary)]) {
            let primary_nodes = self.nodes_of(c.primary, c.primary_role);
            for n in 0..cl.nodes.len() {
                let on = match &c.node_attribute {
                    None => primary_nodes.contains(&n),
                    Some(attr) => {
                        let value = cl.nodes[n].attrs.get(attr);
                        value.is_some() && primary_nodes.iter().any(|&p| cl.nodes[p].attrs.get(attr) == value)
                    }
                };
                let s = if c.score.is_pos_inf() {
                    if on { continue } else { Score::NEG_INFINITY }
                } else if on {
                    c.score
                } else {
                    continue;
                };
                score[n] = score[n].add(s);
                contrib.push((n, s, format!("colocation {} with {}", c.id, cl.rscs[c.primary].id)));
            }
        }
        // Dependents not yet placed pull the primary towards the nodes they prefer, one at a
        // time; a dependent whose wishes would leave the primary nowhere to run is ignored.
        for c in self.p.colocations.clone().iter().filter(|c| c.primary == colo_owner && !self.done[c.dependent]) {
            if c.score == Score::ZERO || c.dependent_role.is_some() {
                continue;
            }
            let Some(db) = self.p.base[c.dependent].clone() else { continue };
            let mut trial = score.clone();
            let mut added = Vec::new();
            for n in 0..cl.nodes.len() {
                let ds = if db.allowed[n] { db.score[n] } else { Score::NEG_INFINITY };
                // The dependent's score scaled by the colocation's strength (score / INFINITY).
                // A dislike of a node the dependent dislikes is no preference for it, and a
                // scaled score never vanishes entirely.
                if c.score.value() < 0 && ds.value() < 0 {
                    continue;
                }
                let s = if c.score.is_pos_inf() {
                    ds
                } else {
                    let scaled = ds.value() * c.score.value() / atrium_cib::INFINITY;
                    let product = ds.value() * c.score.value();
                    Score::new(if scaled == 0 && product != 0 { product.signum() } else { scaled })
                };
                if s != Score::ZERO {
                    trial[n] = trial[n].add(s);
                    added.push((n, s, format!("colocated {} (via {})", cl.rscs[c.dependent].id, c.id)));
                }
            }
            let usable = (0..cl.nodes.len()).any(|n| self.host_ok[n] && allowed[n] && trial[n].value() >= 0);
            if usable {
                score = trial;
                contrib.extend(added);
            }
        }
        self.p.contributions[unit] = contrib;
        self.p.scores[unit] = Some(score.clone());
        (score, allowed)
    }

    /// Nodes where a placed resource runs (in the given role, for promotable clones).
    fn nodes_of(&self, ix: RscIx, role: Option<Role>) -> Vec<NodeIx> {
        match &self.cl.rscs[ix].kind {
            Kind::Clone(c) => c
                .instances
                .iter()
                .filter(|&&i| role != Some(Role::Promoted) || self.cl.leaves(i).iter().any(|&l| self.promoted_hint(l)))
                .filter_map(|&i| self.p.node[i])
                .collect(),
            _ => self.p.node[ix].into_iter().collect(),
        }
    }

    /// Before promotion is decided, an instance currently promoted is the best guess.
    fn promoted_hint(&self, leaf: RscIx) -> bool {
        self.cl.rscs[leaf].prim().unwrap().running.iter().any(|&(_, r)| r == Role::Promoted)
    }

    fn choose(&self, score: &[Score], allowed: &[bool], needs: &Needs, current: Option<NodeIx>, extra_ok: &dyn Fn(NodeIx) -> bool) -> Option<NodeIx> {
        let cl = self.cl;
        let strategy = self.strategy();
        let mut cands: Vec<NodeIx> = (0..cl.nodes.len())
            .filter(|&n| self.host_ok[n] && allowed[n] && score[n].value() >= 0 && extra_ok(n))
            .filter(|&n| strategy == PlacementStrategy::Default || self.capacity.fits(n, needs))
            .collect();
        cands.sort_by(|&a, &b| {
            score[b].cmp(&score[a]).then_with(|| {
                if strategy == PlacementStrategy::Minimal {
                    return cl.name_rank[a].cmp(&cl.name_rank[b]);
                }
                let cap = if strategy == PlacementStrategy::Balanced { self.capacity.compare(a, b) } else { Ordering::Equal };
                cap.then(self.count[a].cmp(&self.count[b]))
                    .then_with(|| match current {
                        Some(c) if c == a => Ordering::Less,
                        Some(c) if c == b => Ordering::Greater,
                        _ => Ordering::Equal,
                    })
                    .then_with(|| cl.name_rank[a].cmp(&cl.name_rank[b]))
            })
        });
        cands.first().copied()
    }

    /// Record a unit's node; a primitive takes its share now, group members as they are placed.
    fn commit(&mut self, unit: RscIx, node: NodeIx) {
        self.p.node[unit] = Some(node);
        if matches!(self.cl.rscs[unit].kind, Kind::Primitive(_)) {
            self.take_share(unit, node);
        }
    }

    fn take_share(&mut self, leaf: RscIx, node: NodeIx) {
        self.count[node] += 1;
        if self.strategy() != PlacementStrategy::Default {
            let u = self.cl.rscs[leaf].prim().unwrap().utilization.clone();
            self.capacity.consume(node, &u);
        }
    }

    /// Place a primitive or group (top-level or a clone instance).
    fn assign_unit(&mut self, unit: RscIx, extra: Option<&BaseScores>, clone_ok: Option<&dyn Fn(NodeIx) -> bool>) {
        let cl = self.cl;
        let colo_owner = cl.clone_of(unit).unwrap_or(unit);
        let (score, allowed) = self.unit_scores(unit, colo_owner, extra);
        if let Some(pin) = self.pinned(unit) {
            for l in cl.leaves(unit) {
                self.p.frozen[l] = true;
            }
            if let Some(n) = pin {
                self.commit(unit, n);
                self.place_members(unit, n, true);
            }
            return;
        }
        let orphan = cl.rscs[unit].orphan;
        let stopped_by_role = cl.rscs[unit].target_role == Some(Role::Stopped) || cl.opts.stop_all_resources || orphan;
        let failed_stop = cl.leaves(unit).iter().any(|&l| {
            cl.rscs[l].prim().unwrap().history.values().any(|h| h.failed && h.on_fail == Some(OnFail::Stop))
        });
        if stopped_by_role || failed_stop {
            self.p.why_stopped[unit] = Some(if failed_stop || orphan { "node availability" } else { "target-role" }.into());
            return;
        }
        let needs = self.needs(unit);
        let current = self.current_node(unit);
        let ok: &dyn Fn(NodeIx) -> bool = clone_ok.unwrap_or(&|_| true);
        // When no node has room for everything that must go together, place by the first
        // member's own needs and let later members stop where room runs out.
        let chosen = self.choose(&score, &allowed, &needs, current, ok).or_else(|| {
            let first = *cl.leaves(unit).first()?;
            let alone = self.cl.rscs[first].prim().unwrap().utilization.clone();
            (self.strategy() != PlacementStrategy::Default && alone != needs)
                .then(|| self.choose(&score, &allowed, &alone, current, ok))
                .flatten()
        });
        match chosen {
            Some(n) => {
                self.commit(unit, n);
                self.place_members(unit, n, false);
            }
            None => {
                let reason = if !cl.have_quorum && cl.opts.no_quorum_policy == NoQuorumPolicy::Stop {
                    "no quorum"
                } else {
                    "node availability"
                };
                self.p.why_stopped[unit] = Some(reason.into());
            }
        }
    }

    /// Group members follow the group in order; a member that cannot run on the chosen node
    /// stops itself and every member after it.
    fn place_members(&mut self, unit: RscIx, node: NodeIx, pinned: bool) {
        let cl = self.cl;
        let Kind::Group(kids) = &cl.rscs[unit].kind else {
            return;
        };
        let mut ok = true;
        for &k in kids {
            if ok && !pinned {
                let b = base_scores(cl, &self.p.location, k);
                let own_ban = b.score[node].is_neg_inf() || !b.allowed[node];
                let disabled = cl.rscs[k].target_role == Some(Role::Stopped);
                let no_room = self.strategy() != PlacementStrategy::Default
                    && !self.capacity.fits(node, &cl.rscs[k].prim().unwrap().utilization);
                if own_ban || disabled || no_room {
                    ok = false;
                    self.p.why_stopped[k] = Some(if disabled { "target-role" } else { "node availability" }.into());
                }
            }
            if ok {
                self.p.node[k] = Some(node);
                self.take_share(k, node);
            } else if self.p.why_stopped[k].is_none() {
                self.p.why_stopped[k] = Some("node availability".into());
            }
        }
    }

    fn assign_clone(&mut self, clone: RscIx) {
        let cl = self.cl;
        let Kind::Clone(cs) = &cl.rscs[clone].kind else { unreachable!() };
        let clone_base = base_scores(cl, &self.p.location, clone);
        self.p.contributions[clone] = clone_base.contributions.clone();
        self.p.scores[clone] = Some(clone_base.score.clone());
        // Instances already running keep their slot first, in instance order.
        let mut order: Vec<RscIx> = cs.instances.clone();
        order.sort_by_key(|&i| self.current_node(i).is_none());
        let mut per_node = vec![0usize; cl.nodes.len()];
        let node_max = cs.node_max;
        for inst in order {
            let counts = per_node.clone();
            let ok = move |n: NodeIx| counts[n] < node_max;
            self.assign_unit(inst, Some(&clone_base), Some(&ok));
            if let Some(n) = self.p.node[inst] {
                per_node[n] += 1;
            }
        }
        let any = cs.instances.iter().any(|&i| self.p.node[i].is_some());
        if any {
            self.p.node[clone] = cs.instances.iter().find_map(|&i| self.p.node[i]);
        }
    }
}

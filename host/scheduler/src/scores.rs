//! Score contributions: every reason a resource gains or loses points on a node, with its
//! source, so placement decisions can be explained.

use serde::Serialize;
use std::collections::BTreeMap;

use atrium_cib::model::{Cib, Constraint, ResourceDiscovery, Role};
use atrium_cib::rule::RuleContext;
use atrium_cib::Score;

use crate::cluster::{Cluster, Kind, NodeIx, RscIx};

/// One score added to a resource on a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contribution {
    pub node: String,
    pub score: Score,
    pub source: String,
}

/// Per-resource base scores (before colocation), indexed by node.
#[derive(Debug, Clone)]
pub(crate) struct BaseScores {
    pub score: Vec<Score>,
    /// Nodes the resource may be placed on at all (asymmetric clusters start empty).
    pub allowed: Vec<bool>,
    pub contributions: Vec<(NodeIx, Score, String)>,
    /// Nodes where a probe may run (resource-discovery).
    pub discover: Vec<bool>,
}

impl BaseScores {
    fn new(n: usize, symmetric: bool) -> BaseScores {
        BaseScores {
            score: vec![Score::ZERO; n],
            allowed: vec![symmetric; n],
            contributions: Vec::new(),
            discover: vec![true; n],
        }
    }

    pub fn add(&mut self, node: NodeIx, s: Score, source: impl Into<String>) {
        self.score[node] = self.score[node].add(s);
        self.contributions.push((node, s, source.into()));
    }
}

/// Location constraints that apply to a resource id, as (constraint, role) pairs already
/// resolved to per-node scores.
pub(crate) struct LocationIndex {
    /// Per resource id: (node, score, source, role, discovery).
    entries: BTreeMap<String, Vec<LocEntry>>,
}

type LocEntry = (NodeIx, Score, String, Option<Role>, ResourceDiscovery);

impl LocationIndex {
    pub fn build(cib: &Cib, cl: &Cluster) -> LocationIndex {
        let mut entries: BTreeMap<String, Vec<LocEntry>> = BTreeMap::new();
        for c in &cib.configuration.constraints {
            let Constraint::Location(l) = c else { continue };
            let mut targets: Vec<(String, Option<Role>)> = Vec::new();
            if let Some(r) = &l.rsc {
                targets.push((r.clone(), l.role));
            }
            // rsc-pattern: every configured resource whose id matches (an invalid pattern
            // matches nothing).
            if let Some(re) = l.rsc_pattern.as_deref().and_then(|p| regex::Regex::new(p).ok()) {
                let mut ids: Vec<String> = cl.rscs.iter().enumerate().map(|(ix, _)| template_id(cl, ix)).collect();
                ids.sort();
                ids.dedup();
                targets.extend(ids.into_iter().filter(|id| re.is_match(id)).map(|id| (id, l.role)));
            }
            for s in &l.sets {
                for r in &s.resources {
                    targets.push((r.clone(), s.role.or(l.role)));
                }
            }
            for (rsc, role) in targets {
                if let (Some(node), Some(score)) = (&l.node, l.score) {
                    if let Some(n) = cl.node_by_name(node) {
                        entries.entry(rsc.clone()).or_default().push((n, score, l.id.clone(), role, l.resource_discovery));
                    }
                    continue;
                }
                for rule in &l.rules {
                    for (n, node) in cl.nodes.iter().enumerate() {
                        let ctx = RuleContext { node_attrs: Some(&node.attrs), now: Some(cl.now), ..Default::default() };
                        if !rule.evaluate(&ctx) {
                            continue;
                        }
                        let score = match &rule.score_attribute {
                            Some(attr) => match node.attrs.get(attr).and_then(|v| Score::parse(v).ok()) {
                                Some(s) => s,
                                None => continue,
                            },
                            None => rule.score.unwrap_or_default(),
                        };
                        let source = match &rule.id {
                            Some(id) => format!("{} (rule {id})", l.id),
                            None => l.id.clone(),
                        };
                        entries.entry(rsc.clone()).or_default().push((n, score, source, rule.role.or(role), l.resource_discovery));
                    }
                }
            }
        }
        LocationIndex { entries }
    }

    /// Promotion-only location scores for a resource id.
    pub fn promoted(&self, rsc: &str) -> impl Iterator<Item = (NodeIx, Score, &str)> {
        self.for_rsc(rsc).iter().filter(|e| e.3 == Some(Role::Promoted)).map(|e| (e.0, e.1, e.2.as_str()))
    }

    fn for_rsc(&self, rsc: &str) -> &[LocEntry] {
        self.entries.get(rsc).map_or(&[], Vec::as_slice)
    }
}

/// The base scores of a resource: its own and its ancestors' location constraints, node base
/// scores, stickiness, and fail-count bans. For a group the members' scores are summed, since
/// the members must share a node.
pub(crate) fn base_scores(cl: &Cluster, loc: &LocationIndex, ix: RscIx) -> BaseScores {
    let mut b = BaseScores::new(cl.nodes.len(), cl.opts.symmetric_cluster);
    if cl.opts.symmetric_cluster {
        for (n, node) in cl.nodes.iter().enumerate() {
            if node.score != Score::ZERO {
                b.add(n, node.score, format!("node {} base score", node.name));
            }
        }
    }
    let mut ids = vec![ix];
    let mut p = cl.rscs[ix].parent;
    while let Some(a) = p {
        ids.push(a);
        p = cl.rscs[a].parent;
    }
    if let Kind::Group(kids) = &cl.rscs[ix].kind {
        ids.extend(kids.iter().copied());
    }
    // The strongest discovery mode named for a node wins (always < never < exclusive).
    let rank = |d: ResourceDiscovery| match d {
        ResourceDiscovery::Always => 0,
        ResourceDiscovery::Never => 1,
        ResourceDiscovery::Exclusive => 2,
    };
    let mut mode: Vec<Option<ResourceDiscovery>> = vec![None; cl.nodes.len()];
    for &r in &ids {
        let rid = template_id(cl, r);
        for (n, score, src, role, disc) in loc.for_rsc(&rid) {
            if role.is_some_and(|r| r != Role::Started) {
                continue;
            }
            if !b.allowed[*n] {
                b.allowed[*n] = true;
                if !cl.opts.symmetric_cluster && cl.nodes[*n].score != Score::ZERO {
                    b.add(*n, cl.nodes[*n].score, format!("node {} base score", cl.nodes[*n].name));
                }
            }
            b.add(*n, *score, format!("location {src}"));
            if mode[*n].is_none_or(|m| rank(*disc) > rank(m)) {
                mode[*n] = Some(*disc);
            }
        }
    }
    // With any exclusive node, the resource may only be discovered and run on those nodes.
    let exclusive = mode.contains(&Some(ResourceDiscovery::Exclusive));
    for (n, m) in mode.into_iter().enumerate() {
        match m {
            Some(ResourceDiscovery::Never) => b.discover[n] = false,
            Some(ResourceDiscovery::Exclusive) => {}
            _ if exclusive => {
                b.discover[n] = false;
                b.allowed[n] = false;
            }
            _ => {}
        }
    }
    for leaf in cl.leaves(ix) {
        let r = &cl.rscs[leaf];
        let p = r.prim().expect("leaves are primitives");
        if p.cluster_nodes_only() {
            for (n, node) in cl.nodes.iter().enumerate() {
                b.allowed[n] &= !node.remote;
            }
        }
        for &(n, _) in &p.running {
            if r.stickiness != Score::ZERO && r.managed {
                b.add(n, r.stickiness, format!("{} resource-stickiness (active here)", r.id));
            }
        }
        for (&n, &fc) in &p.failcount {
            if p.migration_threshold > 0 && fc >= p.migration_threshold {
                b.add(n, Score::NEG_INFINITY, format!("{} fail-count {fc} reached migration-threshold {}", r.id, p.migration_threshold));
            }
        }
    }
    b
}

/// The configured id a resource is referred to by in constraints: clone instances answer to
/// their template's id.
pub(crate) fn template_id(cl: &Cluster, ix: RscIx) -> String {
    let id = &cl.rscs[ix].id;
    let in_clone = cl.rscs[ix].parent.is_some_and(|p| cl.clone_of(p).is_some());
    match id.rsplit_once(':') {
        Some((base, n)) if in_clone && n.parse::<usize>().is_ok() => base.to_string(),
        _ => id.clone(),
    }
}

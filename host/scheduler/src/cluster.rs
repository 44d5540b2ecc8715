//! Unpacking a CIB into the scheduler's working view: nodes with their state, resources with
//! their effective meta attributes and their current state from the operation history.

use std::collections::{BTreeMap, BTreeSet};

use atrium_cib::model::{nv_flatten, Cib, NodeKind, NvSet, OnFail, Primitive, Resource, Role};
use atrium_cib::status::{FailCount, LrmRscOp};
use atrium_cib::{parse_duration_ms, ClusterOptions, Score};

use crate::history::{replay, NodeHistory};

pub(crate) type NodeIx = usize;
pub(crate) type RscIx = usize;

#[derive(Debug, Clone)]
pub(crate) struct NodeInfo {
    pub name: String,
    pub id: String,
    pub remote: bool,
    pub online: bool,
    /// Why the node must be fenced (only when fencing is enabled).
    pub unclean: Option<String>,
    /// The node is unclean but fencing is disabled: treated as down without fencing.
    pub lost: bool,
    /// The status section has no entry for the node: it has never been seen.
    pub unseen: bool,
    pub standby: bool,
    pub maintenance: bool,
    pub shutdown: bool,
    pub attrs: BTreeMap<String, String>,
    pub capacity: BTreeMap<String, i64>,
    pub score: Score,
    /// For remote nodes, the connection resource.
    pub connection: Option<RscIx>,
}

impl NodeInfo {
    /// May new resources be placed here?
    pub fn can_host(&self) -> bool {
        self.online && self.unclean.is_none() && !self.standby && !self.shutdown && !self.maintenance
    }
}

#[derive(Debug, Clone)]
pub(crate) struct PrimState<'a> {
    pub agent: String,
    pub template: String,
    pub utilization: BTreeMap<String, i64>,
    pub migration_threshold: i64,
    pub allow_migrate: bool,
    pub ops: &'a [atrium_cib::Op],
    /// Nodes where the resource is active now, with its role there.
    pub running: Vec<(NodeIx, Role)>,
    /// Nodes whose history shows the resource (so no probe is needed).
    pub known_on: BTreeSet<NodeIx>,
    pub history: BTreeMap<NodeIx, NodeHistory>,
    /// Fail counts per node (after failure-timeout expiry).
    pub failcount: BTreeMap<NodeIx, i64>,
    /// Promotion score per node from `master-<id>` attributes.
    pub promotion_attr: BTreeMap<NodeIx, Score>,
    /// Recurring monitors (node, interval) whose latest result since the last start, stop or
    /// role change was a success: they are still running.
    pub active_monitors: BTreeSet<(NodeIx, u64)>,
    /// Every recurring monitor (node, interval) recorded since the last start, stop or role
    /// change, whatever its result.
    pub recorded_monitors: BTreeSet<(NodeIx, u64)>,
    /// Nodes with fail counts whose failure-timeout has passed: to be cleared.
    pub expired_failcount_on: BTreeSet<NodeIx>,
}

impl PrimState<'_> {
    /// A primitive with default settings and no history yet: what an orphan found only in the
    /// status section is, and the base a configured primitive starts from.
    fn unconfigured(agent: String, template: String) -> Self {
        PrimState {
            agent,
            template,
            utilization: BTreeMap::new(),
            migration_threshold: atrium_cib::INFINITY,
            allow_migrate: false,
            ops: &[],
            running: Vec::new(),
            known_on: BTreeSet::new(),
            history: BTreeMap::new(),
            failcount: BTreeMap::new(),
            promotion_attr: BTreeMap::new(),
            active_monitors: BTreeSet::new(),
            recorded_monitors: BTreeSet::new(),
            expired_failcount_on: BTreeSet::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CloneState {
    pub instances: Vec<RscIx>,
    pub promotable: bool,
    pub unique: bool,
    pub node_max: usize,
    pub promoted_max: usize,
    pub promoted_node_max: usize,
}

// Most resources are primitives; boxing their state would only add an indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(crate) enum Kind<'a> {
    Primitive(PrimState<'a>),
    Group(Vec<RscIx>),
    Clone(CloneState),
}

#[derive(Debug, Clone)]
pub(crate) struct Rsc<'a> {
    pub id: String,
    pub parent: Option<RscIx>,
    pub kind: Kind<'a>,
    pub meta: BTreeMap<String, String>,
    pub priority: i64,
    pub stickiness: Score,
    pub managed: bool,
    /// In maintenance (its own, or the whole cluster's): left alone, monitors stopped.
    pub maintenance: bool,
    pub target_role: Option<Role>,
    /// Found in the history but no longer configured.
    pub orphan: bool,
}

impl PrimState<'_> {
    /// Fence devices and remote connections run on cluster nodes only.
    pub fn cluster_nodes_only(&self) -> bool {
        self.agent.starts_with("stonith:") || self.agent == "ocf:pacemaker:remote"
    }
}

impl<'a> Rsc<'a> {
    pub fn prim(&self) -> Option<&PrimState<'a>> {
        match &self.kind {
            Kind::Primitive(p) => Some(p),
            _ => None,
        }
    }
    pub fn prim_mut(&mut self) -> Option<&mut PrimState<'a>> {
        match &mut self.kind {
            Kind::Primitive(p) => Some(p),
            _ => None,
        }
    }
}

pub(crate) struct Cluster<'a> {
    pub opts: ClusterOptions,
    pub have_quorum: bool,
    pub now: i64,
    pub nodes: Vec<NodeInfo>,
    pub rscs: Vec<Rsc<'a>>,
    /// Top-level resources in configuration order.
    pub top: Vec<RscIx>,
    pub by_id: BTreeMap<String, RscIx>,
    /// Each node's position in name order, the final placement tie-break.
    pub name_rank: Vec<usize>,
    /// The designated coordinator named by the CIB.
    pub dc: Option<NodeIx>,
}

fn int_meta(meta: &BTreeMap<String, String>, key: &str) -> Option<i64> {
    let v = meta.get(key)?;
    Score::parse(v).ok().map(Score::value).or_else(|| v.trim().parse::<f64>().ok().map(|f| f as i64))
}

fn truthy(meta: &BTreeMap<String, String>, key: &str) -> Option<bool> {
    meta.get(key).and_then(|v| atrium_cib::parse_bool(v))
}

impl<'a> Cluster<'a> {
    pub fn unpack(cib: &'a Cib, now: i64) -> Cluster<'a> {
        let opts = cib.options();
        let mut c = Cluster {
            opts,
            have_quorum: cib.have_quorum,
            now,
            nodes: Vec::new(),
            rscs: Vec::new(),
            top: Vec::new(),
            by_id: BTreeMap::new(),
            name_rank: Vec::new(),
            dc: None,
        };
        c.unpack_nodes(cib);
        c.dc = cib.dc_uuid.as_deref().and_then(|id| c.nodes.iter().position(|n| n.id == id));
        let mut by_name: Vec<NodeIx> = (0..c.nodes.len()).collect();
        by_name.sort_by(|&a, &b| c.nodes[a].name.cmp(&c.nodes[b].name));
        c.name_rank = vec![0; c.nodes.len()];
        for (rank, n) in by_name.into_iter().enumerate() {
            c.name_rank[n] = rank;
        }
        let defaults = nv_flatten(&cib.configuration.rsc_defaults, |s| s.rule.is_none());
        // Bundles (containers with replicas) are not scheduled by Atrium yet.
        for r in cib.configuration.resources.iter().filter(|r| !matches!(r, Resource::Bundle(_))) {
            let ix = c.add_resource(Def::Resource(r), None, &defaults, None);
            c.top.push(ix);
        }
        c.link_remote_nodes();
        c.unpack_history(cib);
        c.apply_failure_policies();
        c.resolve_remote_nodes();
        c
    }

    pub fn node_by_name(&self, name: &str) -> Option<NodeIx> {
        self.nodes.iter().position(|n| n.name == name)
    }

    fn unpack_nodes(&mut self, cib: &Cib) {
        let fencing = self.opts.fencing_enabled;
        let states = &cib.status.node_states;
        let mut seen = BTreeSet::new();
        let push = |c: &mut Cluster, name: String, id: String, remote: bool, cfg: Option<&atrium_cib::Node>| {
            let state = states.iter().find(|s| s.id == id || s.uname.as_deref() == Some(name.as_str()));
            let mut attrs = BTreeMap::new();
            if let Some(n) = cfg {
                attrs.extend(nv_flatten(&n.attributes, |s| s.rule.is_none()));
            }
            if let Some(s) = state {
                attrs.extend(s.transient());
            }
            attrs.insert("#uname".into(), name.clone());
            attrs.insert("#id".into(), id.clone());
            attrs.insert("#kind".into(), if remote { "remote" } else { "cluster" }.into());
            let capacity = cfg
                .map(|n| nv_flatten(&n.utilization, |_| true))
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(k, v)| v.trim().parse::<i64>().ok().map(|v| (k, v)))
                .collect();
            let (mut online, mut unclean, mut lost) = (false, None, false);
            if !remote {
                match state {
                    None => {
                        // Never seen: with startup-fencing the node must be shot before we trust it.
                        if fencing && c.opts.startup_fencing {
                            unclean = Some("node is unclean".to_string());
                        }
                    }
                    Some(s) => {
                        let in_ccm = s.in_ccm();
                        let crmd = s.crmd_online();
                        let join = s.join.as_deref().unwrap_or("member");
                        let expected = s.expected.as_deref().unwrap_or("");
                        if in_ccm && crmd && join == "member" {
                            online = true;
                        } else if !in_ccm && expected == "member" {
                            unclean = Some("peer is no longer part of the cluster".to_string());
                        } else if in_ccm && !crmd && expected == "member" && join == "member" {
                            unclean = Some("peer process is no longer available".to_string());
                        }
                        if unclean.is_some() && !fencing {
                            unclean = None;
                            lost = true;
                        }
                    }
                }
            }
            let flag = |k: &str| attrs.get(k).is_some_and(|v| atrium_cib::is_true(v));
            let standby = flag("standby");
            let maintenance = flag("maintenance");
            let shutdown = attrs.get("shutdown").is_some_and(|v| v != "0" && !v.is_empty())
                || state.and_then(|s| s.extra.get("shutdown")).is_some_and(|v| v != "0" && !v.is_empty());
            c.nodes.push(NodeInfo {
                name,
                id,
                remote,
                online,
                unclean,
                lost,
                unseen: state.is_none(),
                standby,
                maintenance,
                shutdown,
                attrs,
                capacity,
                score: cfg.and_then(|n| n.score).unwrap_or_default(),
                connection: None,
            });
        };
        for n in &cib.configuration.nodes {
            seen.insert(n.uname.clone());
            push(self, n.uname.clone(), n.id.clone(), n.kind == NodeKind::Remote, Some(n));
        }
        // Remote nodes implied by connection resources.
        for p in cib.configuration.primitives() {
            if is_remote_connection(p) && !seen.contains(&p.id) {
                seen.insert(p.id.clone());
                push(self, p.id.clone(), p.id.clone(), true, None);
            }
        }
        for s in states {
            let name = s.uname.clone().unwrap_or_else(|| s.id.clone());
            if !seen.contains(&name) {
                seen.insert(name.clone());
                push(self, name, s.id.clone(), s.remote_node, None);
            }
        }
    }

    fn add_resource(
        &mut self,
        def: Def<'a>,
        parent: Option<RscIx>,
        inherited: &BTreeMap<String, String>,
        instance: Option<(usize, &str)>,
    ) -> RscIx {
        let mut meta = inherited.clone();
        meta.extend(nv_flatten(def.meta_attributes(), |s: &NvSet| s.rule.is_none()));
        let id = match instance {
            Some((n, _)) => format!("{}:{n}", def.id()),
            None => def.id().to_string(),
        };
        let in_clone = instance.is_some();
        let ix = self.rscs.len();
        let priority = int_meta(&meta, "priority").unwrap_or(0);
        let stickiness = meta
            .get("resource-stickiness")
            .and_then(|v| Score::parse(v).ok())
            // Clone instances stick by 1 by default so they do not shuffle.
            .unwrap_or(if in_clone { Score::new(1) } else { Score::ZERO });
        let maintenance = truthy(&meta, "maintenance").unwrap_or(false) || self.opts.maintenance_mode;
        let managed = truthy(&meta, "is-managed").unwrap_or(true) && !maintenance;
        let target_role = meta.get("target-role").and_then(|v| Role::parse(v));
        self.by_id.insert(id.clone(), ix);
        self.rscs.push(Rsc {
            id,
            parent,
            kind: Kind::Group(Vec::new()),
            meta,
            priority,
            stickiness,
            managed,
            maintenance,
            target_role,
            orphan: false,
        });
        let meta = self.rscs[ix].meta.clone();
        let kind = match def {
            Def::Member(p) | Def::Resource(Resource::Primitive(p)) => Kind::Primitive(self.prim_state(p, &meta)),
            Def::Resource(Resource::Group(g)) => {
                let kids = g.children.iter().map(|p| self.add_resource(Def::Member(p), Some(ix), &meta, instance)).collect();
                Kind::Group(kids)
            }
            Def::Resource(Resource::Bundle(_)) => unreachable!("bundles are only top-level and skipped by unpack"),
            Def::Resource(Resource::Clone(cl)) => {
                let promotable = cl.is_promotable();
                let unique = truthy(&meta, "globally-unique").unwrap_or(false);
                let nodes = self.nodes.len();
                let clone_max = int_meta(&meta, "clone-max").map_or(nodes, |v| v.max(0) as usize);
                let node_max = int_meta(&meta, "clone-node-max").map_or(1, |v| v.max(0) as usize);
                let promoted_max = int_meta(&meta, "promoted-max")
                    .or_else(|| int_meta(&meta, "master-max"))
                    .map_or(1, |v| v.max(0) as usize);
                let promoted_node_max = int_meta(&meta, "promoted-node-max")
                    .or_else(|| int_meta(&meta, "master-node-max"))
                    .map_or(1, |v| v.max(0) as usize);
                // Instances inherit the clone's meta (stickiness included).
                let instances = (0..clone_max)
                    .map(|n| self.add_resource(Def::Resource(&cl.child), Some(ix), &meta, Some((n, &cl.id))))
                    .collect();
                Kind::Clone(CloneState {
                    instances,
                    promotable,
                    unique,
                    node_max,
                    promoted_max,
                    promoted_node_max,
                })
            }
        };
        self.rscs[ix].kind = kind;
        ix
    }

    fn prim_state(&self, p: &'a Primitive, meta: &BTreeMap<String, String>) -> PrimState<'a> {
        let utilization = nv_flatten(&p.utilization, |_| true)
            .into_iter()
            .filter_map(|(k, v)| v.trim().parse::<i64>().ok().map(|v| (k, v)))
            .collect();
        let migration_threshold = match meta.get("migration-threshold") {
            Some(v) => Score::parse(v).map(Score::value).unwrap_or(atrium_cib::INFINITY),
            None => atrium_cib::INFINITY,
        };
        PrimState {
            utilization,
            migration_threshold,
            allow_migrate: truthy(meta, "allow-migrate").unwrap_or(false),
            ops: &p.operations,
            ..PrimState::unconfigured(p.agent(), p.id.clone())
        }
    }

    /// A top-level primitive for an orphan found in the history.
    fn add_orphan(&mut self, lrm: &atrium_cib::LrmResource) -> RscIx {
        let agent = match (&lrm.class, &lrm.provider, &lrm.agent_type) {
            (Some(c), Some(p), Some(t)) => format!("{c}:{p}:{t}"),
            (Some(c), None, Some(t)) => format!("{c}:{t}"),
            _ => String::from("unknown"),
        };
        let ix = self.rscs.len();
        self.rscs.push(Rsc {
            id: lrm.id.clone(),
            parent: None,
            kind: Kind::Primitive(PrimState::unconfigured(agent, lrm.id.clone())),
            meta: BTreeMap::new(),
            priority: 0,
            stickiness: Score::ZERO,
            managed: !self.opts.maintenance_mode,
            maintenance: self.opts.maintenance_mode,
            target_role: None,
            orphan: true,
        });
        self.by_id.insert(lrm.id.clone(), ix);
        self.top.push(ix);
        ix
    }

    fn link_remote_nodes(&mut self) {
        for ix in 0..self.rscs.len() {
            let is_conn = self.rscs[ix].prim().is_some_and(|p| p.agent == "ocf:pacemaker:remote");
            if is_conn && let Some(n) = self.node_by_name(&self.rscs[ix].id) {
                self.nodes[n].connection = Some(ix);
                self.nodes[n].remote = true;
            }
        }
    }

    fn unpack_history(&mut self, cib: &Cib) {
        let recheck_now = self.now;
        // Template id -> the primitives carrying it: the primitive itself, or each clone
        // instance of it.
        let mut by_template: BTreeMap<String, Vec<RscIx>> = BTreeMap::new();
        for (ix, r) in self.rscs.iter().enumerate() {
            if let Some(p) = r.prim() {
                by_template.entry(p.template.clone()).or_default().push(ix);
            }
        }
        let mut anon_used: BTreeSet<RscIx> = BTreeSet::new();
        for state in &cib.status.node_states {
            let name = state.uname.clone().unwrap_or_else(|| state.id.clone());
            let Some(node) = self.node_by_name(&name) else { continue };
            // A node that is cleanly down runs nothing: its history says nothing about where
            // resources are (and must not use up anonymous clone instances), as in Pacemaker.
            if !self.nodes[node].online && self.nodes[node].unclean.is_none() && !self.nodes[node].remote {
                continue;
            }
            let transient = state.transient();
            for lrm in &state.lrm_resources {
                let (base, inst) = match lrm.id.rsplit_once(':') {
                    Some((b, n)) if n.parse::<usize>().is_ok() => (b.to_string(), n.parse::<usize>().ok()),
                    _ => (lrm.id.clone(), None),
                };
                let mut candidates = by_template.get(&base).cloned().unwrap_or_default();
                if candidates.is_empty() {
                    // History of a resource no longer configured: an orphan, scheduled only to
                    // stop it where it is still active.
                    let active = replay(&lrm.ops, &|_, _| None, &|_| false).role != Role::Stopped;
                    if !active {
                        continue;
                    }
                    let ix = self.add_orphan(lrm);
                    by_template.insert(base.clone(), vec![ix]);
                    candidates = vec![ix];
                }
                let first = candidates[0];
                let hist = {
                    let p = self.rscs[first].prim().expect("instances are primitives");
                    let ops = p.ops;
                    let on_fail_for = move |task: &str, interval: u64| {
                        ops.iter().find(|o| o.name == task && o.interval_ms == interval).and_then(|o| o.on_fail)
                    };
                    let timeout = self.rscs[first]
                        .meta
                        .get("failure-timeout")
                        .and_then(|v| parse_duration_ms(v).ok())
                        .unwrap_or(0);
                    let expired = |op: &LrmRscOp| {
                        timeout > 0
                            && on_fail_for(&op.operation, op.interval_ms) != Some(OnFail::Block)
                            && op.last_rc_change.is_some_and(|t| t + (timeout / 1000) as i64 <= recheck_now)
                    };
                    replay(&lrm.ops, &on_fail_for, &expired)
                };
                // Which instance does this history belong to?
                let target = if candidates.len() == 1 {
                    first
                } else {
                    let unique = self.rscs[first]
                        .parent
                        .and_then(|p| self.clone_of(p))
                        .is_some_and(|c| matches!(&self.rscs[c].kind, Kind::Clone(s) if s.unique));
                    let active = hist.role != Role::Stopped;
                    match (unique, inst) {
                        (true, Some(n)) => match candidates.iter().find(|&&c| self.rscs[c].id.ends_with(&format!(":{n}"))) {
                            Some(&c) => c,
                            None => continue,
                        },
                        _ if !active => {
                            for &c in &candidates {
                                self.rscs[c].prim_mut().unwrap().known_on.insert(node);
                            }
                            continue;
                        }
                        _ => {
                            // Anonymous instances are interchangeable: keep the recorded instance
                            // number when it is free, else take the first free one.
                            let recorded = inst.and_then(|n| candidates.iter().copied().find(|&c| self.rscs[c].id.ends_with(&format!(":{n}"))));
                            let free = recorded.filter(|c| !anon_used.contains(c)).or_else(|| candidates.iter().copied().find(|c| !anon_used.contains(c)));
                            let Some(c) = free else { continue };
                            anon_used.insert(c);
                            for &o in &candidates {
                                self.rscs[o].prim_mut().unwrap().known_on.insert(node);
                            }
                            c
                        }
                    }
                };
                let timeout = self.rscs[target]
                    .meta
                    .get("failure-timeout")
                    .and_then(|v| parse_duration_ms(v).ok())
                    .unwrap_or(0);
                let rid = self.rscs[target].id.clone();
                let (fc, expired_failures) = failcount(&transient, &rid, &base, timeout, recheck_now, self.rscs[target].prim().unwrap().ops);
                let promo = transient
                    .get(&format!("master-{rid}"))
                    .or_else(|| transient.get(&format!("master-{base}")))
                    .and_then(|v| Score::parse(v).ok());
                let p = self.rscs[target].prim_mut().unwrap();
                p.known_on.insert(node);
                let changed_at = lrm
                    .ops
                    .iter()
                    .filter(|o| matches!(o.operation.as_str(), "start" | "stop" | "promote" | "demote" | "migrate_from"))
                    .map(|o| o.call_id)
                    .max()
                    .unwrap_or(-1);
                let mut latest: BTreeMap<u64, &LrmRscOp> = BTreeMap::new();
                for o in lrm.ops.iter().filter(|o| o.operation == "monitor" && o.interval_ms > 0 && o.call_id > changed_at) {
                    if latest.get(&o.interval_ms).is_none_or(|l| o.call_id >= l.call_id) {
                        latest.insert(o.interval_ms, o);
                    }
                }
                for (interval, o) in latest {
                    let ok = o.op_status == atrium_cib::status::op_status::DONE && matches!(o.rc_code, 0 | 8);
                    let ignored = p.ops.iter().any(|d| d.name == "monitor" && d.interval_ms == interval && d.on_fail == Some(OnFail::Ignore));
                    if ok || ignored {
                        p.active_monitors.insert((node, interval));
                    }
                    p.recorded_monitors.insert((node, interval));
                }
                if hist.role != Role::Stopped {
                    p.running.push((node, hist.role));
                }
                if fc > 0 {
                    p.failcount.insert(node, fc);
                }
                if expired_failures {
                    p.expired_failcount_on.insert(node);
                }
                if let Some(s) = promo {
                    p.promotion_attr.insert(node, s);
                }
                p.history.insert(node, hist);
            }
            // Promotion scores of instances that have no history on this node yet.
            for (k, v) in &transient {
                if let Some(rid) = k.strip_prefix("master-") {
                    for ix in by_template.get(rid.split(':').next().unwrap_or(rid)).cloned().unwrap_or_default() {
                        let matches = self.rscs[ix].id == rid || !rid.contains(':');
                        if matches && let Ok(s) = Score::parse(v) {
                            self.rscs[ix].prim_mut().unwrap().promotion_attr.entry(node).or_insert(s);
                        }
                    }
                }
            }
        }
    }

    /// Failures whose on-fail affects the node: a failed stop (fence by default when fencing is
    /// enabled), `on-fail=fence` and `on-fail=standby`.
    fn apply_failure_policies(&mut self) {
        for ix in 0..self.rscs.len() {
            let Some(p) = self.rscs[ix].prim() else { continue };
            let mut fence = Vec::new();
            let mut standby = Vec::new();
            for (&n, h) in &p.history {
                if !h.failed {
                    continue;
                }
                match h.on_fail {
                    Some(OnFail::Fence) => fence.push(n),
                    None if h.stop_failed && self.opts.fencing_enabled => fence.push(n),
                    Some(OnFail::Standby) => standby.push(n),
                    _ => {}
                }
            }
            let id = self.rscs[ix].id.clone();
            for n in fence {
                if self.opts.fencing_enabled && self.nodes[n].unclean.is_none() {
                    self.nodes[n].unclean = Some(format!("{id} failed there"));
                }
            }
            for n in standby {
                self.nodes[n].standby = true;
            }
        }
    }

    /// A remote node is up when its connection resource runs and has not failed.
    fn resolve_remote_nodes(&mut self) {
        for n in 0..self.nodes.len() {
            let Some(conn) = self.nodes[n].connection else { continue };
            let p = self.rscs[conn].prim().unwrap();
            let running = !p.running.is_empty();
            let failed = p.history.values().any(|h| h.failed);
            if running && failed && self.opts.fencing_enabled {
                self.nodes[n].unclean = Some("remote connection is unrecoverable".into());
            } else if running && failed {
                // Without fencing the remote node is down for good, as a lost cluster node is:
                // its resources count as stopped and are recovered elsewhere.
                self.nodes[n].lost = true;
            } else if running && !failed {
                self.nodes[n].online = true;
            }
        }
    }

    pub fn clone_of(&self, mut ix: RscIx) -> Option<RscIx> {
        loop {
            if matches!(self.rscs[ix].kind, Kind::Clone(_)) {
                return Some(ix);
            }
            ix = self.rscs[ix].parent?;
        }
    }

    /// Primitives under a resource, in order.
    pub fn leaves(&self, ix: RscIx) -> Vec<RscIx> {
        let mut out = Vec::new();
        self.collect_leaves(ix, &mut out);
        out
    }

    fn collect_leaves(&self, ix: RscIx, out: &mut Vec<RscIx>) {
        match &self.rscs[ix].kind {
            Kind::Primitive(_) => out.push(ix),
            Kind::Group(k) => k.iter().for_each(|&c| self.collect_leaves(c, out)),
            Kind::Clone(c) => c.instances.iter().for_each(|&i| self.collect_leaves(i, out)),
        }
    }

    pub fn top_of(&self, mut ix: RscIx) -> RscIx {
        while let Some(p) = self.rscs[ix].parent {
            ix = p;
        }
        ix
    }
}

/// A configuration element that becomes a resource: a top-level resource or a group member.
#[derive(Clone, Copy)]
enum Def<'a> {
    Resource(&'a Resource),
    Member(&'a Primitive),
}

impl<'a> Def<'a> {
    fn id(self) -> &'a str {
        match self {
            Def::Resource(r) => r.id(),
            Def::Member(p) => &p.id,
        }
    }

    fn meta_attributes(self) -> &'a [NvSet] {
        match self {
            Def::Resource(r) => r.meta_attributes(),
            Def::Member(p) => &p.meta_attributes,
        }
    }
}

fn is_remote_connection(p: &Primitive) -> bool {
    p.class == "ocf" && p.provider.as_deref() == Some("pacemaker") && p.agent_type == "remote"
}

/// Sum the fail counts recorded for a resource, skipping expired ones; also say whether any
/// had expired (and so should be cleared).
fn failcount(
    transient: &BTreeMap<String, String>,
    id: &str,
    base: &str,
    timeout_ms: u64,
    now: i64,
    ops: &[atrium_cib::Op],
) -> (i64, bool) {
    let mut total = Score::ZERO;
    let mut expired = false;
    for fc in FailCount::from_attributes(transient) {
        if fc.rsc != id && fc.rsc != base {
            continue;
        }
        let on_fail = fc.operation.as_ref().and_then(|(name, interval)| {
            ops.iter().find(|d| &d.name == name && d.interval_ms == *interval).and_then(|d| d.on_fail)
        });
        // Ignored failures never count towards migration-threshold.
        if on_fail == Some(OnFail::Ignore) {
            continue;
        }
        // Blocked failures wait for an administrator, whatever failure-timeout says.
        if timeout_ms > 0 && on_fail != Some(OnFail::Block) && fc.last_failure.is_some_and(|t| t + (timeout_ms / 1000) as i64 <= now) {
            expired = true;
            continue;
        }
        total = total.add(fc.count);
    }
    (total.value(), expired)
}

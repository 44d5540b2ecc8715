//! The configuration section: properties, nodes, resources, constraints, defaults, fencing
//! topology.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::rule::Rule;
use crate::score::Score;
use crate::status::Status;

/// A whole CIB: configuration plus status.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Cib {
    pub admin_epoch: u64,
    pub epoch: u64,
    pub num_updates: u64,
    pub have_quorum: bool,
    pub dc_uuid: Option<String>,
    pub validate_with: Option<String>,
    /// Other attributes of `<cib>` (cib-last-written, crm_feature_set, ...), kept for writing.
    pub extra: BTreeMap<String, String>,
    pub configuration: Configuration,
    pub status: Status,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Configuration {
    /// `cluster_property_set`s of `crm_config`.
    pub crm_config: Vec<NvSet>,
    pub nodes: Vec<Node>,
    pub resources: Vec<Resource>,
    /// Resource templates (`<template>`): primitives that others name with `template=`.
    pub templates: Vec<Primitive>,
    pub constraints: Vec<Constraint>,
    /// `meta_attributes` sets of `rsc_defaults`.
    pub rsc_defaults: Vec<NvSet>,
    /// `meta_attributes` sets of `op_defaults`.
    pub op_defaults: Vec<NvSet>,
    pub fencing_topology: Vec<FencingLevel>,
}

/// A set of name/value pairs (`instance_attributes`, `meta_attributes`, `utilization`,
/// `cluster_property_set`), optionally guarded by a rule.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NvSet {
    pub id: Option<String>,
    pub score: Option<Score>,
    pub rule: Option<Rule>,
    pub pairs: Vec<NvPair>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NvPair {
    pub id: Option<String>,
    pub name: String,
    /// Absent in a few old CIBs meaning "unset".
    pub value: Option<String>,
}

impl NvSet {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|p| p.name == name).and_then(|p| p.value.as_deref())
    }
}

/// Look a name up in a list of sets, ignoring sets guarded by rules. Sets with a higher score
/// take precedence, then earlier ones, as Pacemaker orders them.
pub fn nv_get<'a>(sets: &'a [NvSet], name: &str) -> Option<&'a str> {
    nv_get_where(sets, name, |s| s.rule.is_none())
}

/// Like [`nv_get`] but with a caller-supplied test for which sets apply (e.g. evaluating their
/// rules).
pub fn nv_get_where<'a>(sets: &'a [NvSet], name: &str, applies: impl Fn(&NvSet) -> bool) -> Option<&'a str> {
    let mut best: Option<(Score, &str)> = None;
    for s in sets.iter().filter(|s| applies(s)) {
        if let Some(v) = s.get(name) {
            let sc = s.score.unwrap_or_default();
            if best.is_none_or(|(b, _)| sc > b) {
                best = Some((sc, v));
            }
        }
    }
    best.map(|(_, v)| v)
}

/// Every name/value pair of the applicable sets, with precedence resolved.
pub fn nv_flatten(sets: &[NvSet], applies: impl Fn(&NvSet) -> bool) -> BTreeMap<String, String> {
    let mut ordered: Vec<&NvSet> = sets.iter().filter(|s| applies(s)).collect();
    // Stable sort: highest score first, earlier sets first among equals; the first writer wins.
    ordered.sort_by_key(|s| std::cmp::Reverse(s.score.unwrap_or_default()));
    let mut out = BTreeMap::new();
    for s in ordered {
        for p in &s.pairs {
            if let Some(v) = &p.value {
                out.entry(p.name.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    #[default]
    Member,
    Remote,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    pub uname: String,
    pub kind: NodeKind,
    /// The node's base score (`score=`), added to every resource's score on it.
    pub score: Option<Score>,
    pub description: Option<String>,
    pub attributes: Vec<NvSet>,
    pub utilization: Vec<NvSet>,
}

// Configurations hold few resources; boxing variants would only complicate matching.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Resource {
    Primitive(Primitive),
    Group(Group),
    Clone(Clone),
    Bundle(Bundle),
}

impl Resource {
    pub fn id(&self) -> &str {
        match self {
            Resource::Primitive(p) => &p.id,
            Resource::Group(g) => &g.id,
            Resource::Clone(c) => &c.id,
            Resource::Bundle(b) => &b.id,
        }
    }

    pub fn meta_attributes(&self) -> &[NvSet] {
        match self {
            Resource::Primitive(p) => &p.meta_attributes,
            Resource::Group(g) => &g.meta_attributes,
            Resource::Clone(c) => &c.meta_attributes,
            Resource::Bundle(b) => &b.meta_attributes,
        }
    }
}

/// A container bundle (`<bundle>`): a container runtime element (docker, podman), optional
/// network and storage, and optionally a primitive run inside each replica.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Bundle {
    pub id: String,
    pub description: Option<String>,
    pub meta_attributes: Vec<NvSet>,
    pub container: Option<BundlePart>,
    pub network: Option<BundlePart>,
    pub storage: Option<BundlePart>,
    pub primitive: Option<Primitive>,
}

/// A part of a bundle kept as written: element name, attributes, children (e.g. `<docker
/// image=... replicas=...>`, `<network><port-mapping .../></network>`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BundlePart {
    pub name: String,
    pub attrs: BTreeMap<String, String>,
    pub children: Vec<BundlePart>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Primitive {
    pub id: String,
    /// The template this primitive is based on; class/provider/type may then be empty until
    /// [`Configuration::with_templates_resolved`] fills them in.
    pub template: Option<String>,
    pub class: String,
    pub provider: Option<String>,
    pub agent_type: String,
    pub description: Option<String>,
    pub instance_attributes: Vec<NvSet>,
    pub meta_attributes: Vec<NvSet>,
    pub utilization: Vec<NvSet>,
    pub operations: Vec<Op>,
}

impl Primitive {
    /// `class:provider:type` as status displays show it.
    pub fn agent(&self) -> String {
        match &self.provider {
            Some(p) => format!("{}:{}:{}", self.class, p, self.agent_type),
            None => format!("{}:{}", self.class, self.agent_type),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    Stopped,
    Started,
    Unpromoted,
    Promoted,
}

impl Role {
    /// Accepts current and legacy names (Master/Slave).
    pub fn parse(s: &str) -> Option<Role> {
        match s.to_ascii_lowercase().as_str() {
            "stopped" => Some(Role::Stopped),
            "started" => Some(Role::Started),
            "unpromoted" | "slave" => Some(Role::Unpromoted),
            "promoted" | "master" => Some(Role::Promoted),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Stopped => "Stopped",
            Role::Started => "Started",
            Role::Unpromoted => "Unpromoted",
            Role::Promoted => "Promoted",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFail {
    Ignore,
    Block,
    Demote,
    Stop,
    Restart,
    Standby,
    Fence,
    RestartContainer,
}

impl OnFail {
    pub fn parse(s: &str) -> Option<OnFail> {
        Some(match s.to_ascii_lowercase().as_str() {
            "ignore" => OnFail::Ignore,
            "block" => OnFail::Block,
            "demote" => OnFail::Demote,
            "stop" => OnFail::Stop,
            "restart" => OnFail::Restart,
            "standby" => OnFail::Standby,
            "fence" | "suicide" => OnFail::Fence,
            "restart-container" => OnFail::RestartContainer,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OnFail::Ignore => "ignore",
            OnFail::Block => "block",
            OnFail::Demote => "demote",
            OnFail::Stop => "stop",
            OnFail::Restart => "restart",
            OnFail::Standby => "standby",
            OnFail::Fence => "fence",
            OnFail::RestartContainer => "restart-container",
        }
    }
}

/// An operation definition (`<op>`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Op {
    pub id: Option<String>,
    pub name: String,
    pub interval_ms: u64,
    pub timeout_ms: Option<u64>,
    pub role: Option<Role>,
    pub on_fail: Option<OnFail>,
    pub enabled: Option<bool>,
    /// Other attributes (start-delay, requires, record-pending, description, ...).
    pub extra: BTreeMap<String, String>,
    pub meta_attributes: Vec<NvSet>,
    pub instance_attributes: Vec<NvSet>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub description: Option<String>,
    pub meta_attributes: Vec<NvSet>,
    pub children: Vec<Primitive>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clone {
    pub id: String,
    pub description: Option<String>,
    /// Written as the legacy `<master>` element; promotable regardless of the meta attribute.
    pub legacy_master: bool,
    pub meta_attributes: Vec<NvSet>,
    pub child: Box<Resource>,
}

impl Clone {
    /// Promotable when written as `<master>` or with meta `promotable=true`.
    pub fn is_promotable(&self) -> bool {
        self.legacy_master || nv_get(&self.meta_attributes, "promotable").is_some_and(crate::is_true)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Constraint {
    Location(Location),
    Colocation(Colocation),
    Order(Order),
    Ticket(Ticket),
}

impl Constraint {
    pub fn id(&self) -> &str {
        match self {
            Constraint::Location(c) => &c.id,
            Constraint::Colocation(c) => &c.id,
            Constraint::Order(c) => &c.id,
            Constraint::Ticket(c) => &c.id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceDiscovery {
    #[default]
    Always,
    Never,
    Exclusive,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Location {
    pub id: String,
    pub rsc: Option<String>,
    pub rsc_pattern: Option<String>,
    pub role: Option<Role>,
    pub node: Option<String>,
    pub score: Option<Score>,
    pub rules: Vec<Rule>,
    pub resource_discovery: ResourceDiscovery,
    pub sets: Vec<ResourceSet>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Colocation {
    pub id: String,
    pub rsc: Option<String>,
    pub with_rsc: Option<String>,
    pub rsc_role: Option<Role>,
    pub with_rsc_role: Option<Role>,
    pub score: Score,
    pub node_attribute: Option<String>,
    pub influence: Option<bool>,
    pub sets: Vec<ResourceSet>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RscAction {
    Start,
    Stop,
    Promote,
    Demote,
}

impl RscAction {
    pub fn parse(s: &str) -> Option<RscAction> {
        Some(match s {
            "start" => RscAction::Start,
            "stop" => RscAction::Stop,
            "promote" => RscAction::Promote,
            "demote" => RscAction::Demote,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RscAction::Start => "start",
            RscAction::Stop => "stop",
            RscAction::Promote => "promote",
            RscAction::Demote => "demote",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderKind {
    Mandatory,
    Optional,
    Serialize,
}

impl OrderKind {
    pub fn parse(s: &str) -> Option<OrderKind> {
        Some(match s.to_ascii_lowercase().as_str() {
            "mandatory" => OrderKind::Mandatory,
            "optional" => OrderKind::Optional,
            "serialize" => OrderKind::Serialize,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderKind::Mandatory => "Mandatory",
            OrderKind::Optional => "Optional",
            OrderKind::Serialize => "Serialize",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub first: Option<String>,
    pub then: Option<String>,
    pub first_action: Option<RscAction>,
    pub then_action: Option<RscAction>,
    pub kind: Option<OrderKind>,
    /// Deprecated alternative to `kind`: 0 means optional, anything else mandatory.
    pub score: Option<Score>,
    pub symmetrical: Option<bool>,
    pub sets: Vec<ResourceSet>,
}

impl Order {
    /// The effective kind: `kind` wins, then the deprecated score, then Mandatory.
    pub fn effective_kind(&self) -> OrderKind {
        match (self.kind, self.score) {
            (Some(k), _) => k,
            (None, Some(s)) if s.value() == 0 => OrderKind::Optional,
            _ => OrderKind::Mandatory,
        }
    }

    /// Symmetrical by default, except Serialize orders which cannot be.
    pub fn is_symmetrical(&self) -> bool {
        self.symmetrical.unwrap_or(self.effective_kind() != OrderKind::Serialize)
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Ticket {
    pub id: String,
    pub ticket: String,
    pub rsc: Option<String>,
    pub rsc_role: Option<Role>,
    pub loss_policy: Option<String>,
    pub sets: Vec<ResourceSet>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ResourceSet {
    pub id: String,
    pub sequential: Option<bool>,
    pub require_all: Option<bool>,
    pub role: Option<Role>,
    pub action: Option<RscAction>,
    pub score: Option<Score>,
    pub kind: Option<OrderKind>,
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FencingLevel {
    pub id: String,
    pub index: u32,
    pub target: Option<String>,
    pub target_pattern: Option<String>,
    pub target_attribute: Option<String>,
    pub target_value: Option<String>,
    pub devices: Vec<String>,
}

impl Configuration {
    /// Every primitive, depth first in configuration order.
    pub fn primitives(&self) -> Vec<&Primitive> {
        fn walk<'a>(r: &'a Resource, out: &mut Vec<&'a Primitive>) {
            match r {
                Resource::Primitive(p) => out.push(p),
                Resource::Group(g) => out.extend(g.children.iter()),
                Resource::Clone(c) => walk(&c.child, out),
                Resource::Bundle(b) => out.extend(b.primitive.iter()),
            }
        }
        let mut out = Vec::new();
        for r in &self.resources {
            walk(r, &mut out);
        }
        out
    }
}

impl Configuration {
    /// A copy in which every primitive based on a template has the template's agent, and the
    /// template's attribute sets and operations behind its own (its own take precedence).
    pub fn with_templates_resolved(&self) -> Configuration {
        fn resolve(p: &mut Primitive, templates: &[Primitive]) {
            let Some(t) = p.template.as_ref().and_then(|id| templates.iter().find(|t| &t.id == id)) else { return };
            if p.class.is_empty() {
                p.class = t.class.clone();
                p.provider = t.provider.clone();
                p.agent_type = t.agent_type.clone();
            }
            p.instance_attributes.extend(t.instance_attributes.iter().cloned());
            p.meta_attributes.extend(t.meta_attributes.iter().cloned());
            p.utilization.extend(t.utilization.iter().cloned());
            for op in &t.operations {
                if !p.operations.iter().any(|o| o.name == op.name && o.interval_ms == op.interval_ms) {
                    p.operations.push(op.clone());
                }
            }
        }
        fn walk(r: &mut Resource, templates: &[Primitive]) {
            match r {
                Resource::Primitive(p) => resolve(p, templates),
                Resource::Group(g) => g.children.iter_mut().for_each(|p| resolve(p, templates)),
                Resource::Clone(c) => walk(&mut c.child, templates),
                Resource::Bundle(b) => b.primitive.iter_mut().for_each(|p| resolve(p, templates)),
            }
        }
        let mut out = self.clone();
        for r in &mut out.resources {
            walk(r, &self.templates);
        }
        out
    }
}

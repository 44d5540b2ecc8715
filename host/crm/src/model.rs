//! The crm configuration as data: one value per crm statement, in the order written.
//!
//! The model sits close to the CIB: constraints hold resource sets already split the way
//! crmsh splits them, so rendering XML and reading it back are both direct. Ids that crm
//! text cannot express (nvpairs, expressions, resource sets, fencing levels) are not
//! stored; `to_xml` derives them with crmsh's scheme. `id: Option<String>` fields hold
//! ids given explicitly with `$id=`; `None` means "the id crmsh would generate".

/// A parsed crm configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrmConfig {
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    Node(Node),
    Primitive(Primitive),
    Group(Group),
    Clone(Clone),
    Location(Location),
    Colocation(Colocation),
    Order(Order),
    Property(Property),
    RscDefaults(Defaults),
    OpDefaults(Defaults),
    FencingTopology(FencingTopology),
    Tag(Tag),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nvpair {
    pub name: String,
    pub value: String,
}

impl Nvpair {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Nvpair {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// Which nvpair block: `params`/`attributes` (instance_attributes), `meta`, `utilization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    Instance,
    Meta,
    Utilization,
}

impl SetKind {
    pub fn element(self) -> &'static str {
        match self {
            SetKind::Instance => "instance_attributes",
            SetKind::Meta => "meta_attributes",
            SetKind::Utilization => "utilization",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrSet {
    pub kind: SetKind,
    pub id: Option<String>,
    pub pairs: Vec<Nvpair>,
}

/// `node [$id=ID] UNAME[:TYPE] [attributes ...] [utilization ...]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub uname: String,
    /// The node id; `None` means the uname (what crmsh writes offline).
    pub id: Option<String>,
    pub node_type: Option<String>,
    pub sets: Vec<AttrSet>,
}

/// `class:provider:type`; a bare type means `ocf:heartbeat:type` as in crmsh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub class: String,
    pub provider: Option<String>,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Primitive {
    pub id: String,
    pub agent: Agent,
    pub sets: Vec<AttrSet>,
    pub ops: Vec<Op>,
}

/// `op NAME attr=value ... [op_params ...] [op_meta ...]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub name: String,
    /// Attributes of the `<op>` element itself (interval, timeout, role, on-fail, ...).
    pub attrs: Vec<Nvpair>,
    /// Other `k=v` words and `op_params`/`op_meta` blocks.
    pub sets: Vec<AttrSet>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub members: Vec<String>,
    pub sets: Vec<AttrSet>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloneKind {
    /// `clone` (promotable when its meta says `promotable=true`).
    Clone,
    /// Legacy `ms`, rendered as `<master>`.
    Master,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clone {
    pub id: String,
    pub kind: CloneKind,
    pub child: String,
    pub sets: Vec<AttrSet>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub id: String,
    pub rsc: String,
    /// `role=ROLE` before the score (node form only; rules carry `$role=`).
    pub role: Option<String>,
    pub resource_discovery: Option<String>,
    pub target: LocationTarget,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationTarget {
    /// `SCORE: NODE`
    Node {
        score: String,
        node: String,
    },
    Rules(Vec<Rule>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleScore {
    Score(String),
    /// Take the score from this node attribute.
    Attribute(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoolOp {
    And,
    Or,
}

impl BoolOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BoolOp::And => "and",
            BoolOp::Or => "or",
        }
    }
}

/// `rule [$id=ID] [$role=ROLE] SCORE: EXPR [and|or EXPR ...]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: Option<String>,
    pub role: Option<String>,
    pub score: RuleScore,
    /// How the expressions are joined (crmsh writes `boolean-op` only for `or`).
    pub boolean_op: BoolOp,
    pub expressions: Vec<Expression>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expression {
    /// `ATTR [TYPE:]OP VALUE`, OP one of lt gt lte gte eq ne.
    Compare {
        attribute: String,
        operation: String,
        value_type: Option<String>,
        value: String,
    },
    /// `defined ATTR` / `not_defined ATTR`
    Defined { attribute: String, defined: bool },
    /// `date gt|lt DATE`
    Date { operation: String, date: String },
    /// `date in_range start=... end=...|DURATION=...` (`in` as `crm configure show`
    /// writes it): start and end are attributes, the rest a `<duration>`.
    DateRange { pairs: Vec<Nvpair> },
    /// `date date_spec hours=9-17 ...` (or `spec`): a `<date_spec>`.
    DateSpec { pairs: Vec<Nvpair> },
}

/// One resource with an optional `:role` (colocation) or `:action` (order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RscRef {
    pub id: String,
    pub qualifier: Option<String>,
}

/// A `<resource_set>`: `sequential`/`require-all` as written in the CIB (`None` = absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSet {
    pub resources: Vec<String>,
    pub sequential: Option<String>,
    pub require_all: Option<String>,
    /// Role (colocation) or action (order) shared by the set.
    pub qualifier: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Members {
    /// Two resources: `rsc`/`with-rsc` or `first`/`then` attributes.
    Pair(RscRef, RscRef),
    Sets(Vec<ResourceSet>),
}

/// `colocation ID SCORE: RSC[:ROLE] WITH-RSC[:ROLE] | sets [node-attribute=X]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Colocation {
    pub id: String,
    pub score: String,
    pub members: Members,
    pub node_attribute: Option<String>,
}

/// `order ID KIND: FIRST[:ACTION] THEN[:ACTION] | sets [symmetrical=BOOL]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    /// Mandatory, Optional or Serialize (a score is turned into a kind as crmsh does).
    pub kind: String,
    pub members: Members,
    pub symmetrical: Option<String>,
}

/// `property [$id=ID | ID:] name=value ...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub id: Option<String>,
    pub pairs: Vec<Nvpair>,
}

/// `rsc_defaults`/`op_defaults [$id=ID] name=value ...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    pub id: Option<String>,
    pub pairs: Vec<Nvpair>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FencingLevel {
    pub target: String,
    pub index: u32,
    /// Comma-separated device ids, as in the CIB.
    pub devices: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FencingTopology {
    pub levels: Vec<FencingLevel>,
}

/// `tag ID: rsc ...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub id: String,
    pub refs: Vec<String>,
}

impl Statement {
    /// The id this statement creates in the CIB, when it creates one of its own.
    pub fn object_id(&self) -> Option<&str> {
        match self {
            Statement::Node(n) => Some(n.id.as_deref().unwrap_or(&n.uname)),
            Statement::Primitive(p) => Some(&p.id),
            Statement::Group(g) => Some(&g.id),
            Statement::Clone(c) => Some(&c.id),
            Statement::Location(l) => Some(&l.id),
            Statement::Colocation(c) => Some(&c.id),
            Statement::Order(o) => Some(&o.id),
            Statement::Tag(t) => Some(&t.id),
            Statement::Property(_)
            | Statement::RscDefaults(_)
            | Statement::OpDefaults(_)
            | Statement::FencingTopology(_) => None,
        }
    }
}

//! Writing the model back as Pacemaker CIB XML.

use crate::dom::{escape_attr, Element};
use crate::error::Position;
use crate::model::*;
use crate::rule::*;
use crate::status::*;

struct B(Element);

impl B {
    fn new(name: &str) -> B {
        B(Element { name: name.to_string(), attrs: Vec::new(), children: Vec::new(), pos: Position::default() })
    }
    fn a(mut self, k: &str, v: impl ToString) -> B {
        self.0.attrs.push((k.to_string(), v.to_string()));
        self
    }
    fn o(self, k: &str, v: Option<impl ToString>) -> B {
        match v {
            Some(v) => self.a(k, v),
            None => self,
        }
    }
    fn extra(mut self, m: &std::collections::BTreeMap<String, String>) -> B {
        self.0.attrs.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
        self
    }
    fn c(mut self, child: Element) -> B {
        self.0.children.push(child);
        self
    }
    fn cs(mut self, children: impl IntoIterator<Item = Element>) -> B {
        self.0.children.extend(children);
        self
    }
    fn e(self) -> Element {
        self.0
    }
}

fn bool_s(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// Durations are written in the largest exact unit Pacemaker reads.
fn duration_s(ms: u64) -> String {
    if ms.is_multiple_of(1000) { format!("{}s", ms / 1000) } else { format!("{ms}ms") }
}

fn nvsets(name: &str, sets: &[NvSet]) -> Vec<Element> {
    sets.iter()
        .map(|s| {
            B::new(name)
                .o("id", s.id.as_ref())
                .o("score", s.score)
                .cs(s.rule.iter().map(rule))
                .cs(s.pairs.iter().map(|p| {
                    B::new("nvpair").o("id", p.id.as_ref()).a("name", &p.name).o("value", p.value.as_ref()).e()
                }))
                .e()
        })
        .collect()
}

fn rule(r: &Rule) -> Element {
    B::new("rule")
        .o("id", r.id.as_ref())
        .o("score", r.score)
        .o("score-attribute", r.score_attribute.as_ref())
        .o("boolean-op", (r.boolean_op == BoolOp::Or).then_some("or"))
        .o("role", r.role.map(Role::as_str))
        .cs(r.expressions.iter().map(|e| match e {
            Expression::Attribute(a) => B::new("expression")
                .o("id", a.id.as_ref())
                .a("attribute", &a.attribute)
                .a("operation", a.operation.as_str())
                .o("value", a.value.as_ref())
                .o("type", a.value_type.map(ValueType::as_str))
                .o(
                    "value-source",
                    match a.value_source {
                        ValueSource::Literal => None,
                        ValueSource::Param => Some("param"),
                        ValueSource::Meta => Some("meta"),
                    },
                )
                .e(),
            Expression::Date(d) => {
                let mut b = B::new("date_expression")
                    .o("id", d.id.as_ref())
                    .a(
                        "operation",
                        match d.operation {
                            DateOp::InRange => "in_range",
                            DateOp::Gt => "gt",
                            DateOp::Lt => "lt",
                            DateOp::DateSpec => "date_spec",
                        },
                    )
                    .o("start", d.start.as_ref())
                    .o("end", d.end.as_ref());
                if !d.duration.is_empty() {
                    b = b.c(B::new("duration").extra(&d.duration).e());
                }
                if !d.date_spec.is_empty() {
                    b = b.c(B::new("date_spec").extra(&d.date_spec).e());
                }
                b.e()
            }
            Expression::Rule(r) => rule(r),
            Expression::Resource(x) => B::new("rsc_expression")
                .o("id", x.id.as_ref())
                .o("class", x.class.as_ref())
                .o("provider", x.provider.as_ref())
                .o("type", x.agent_type.as_ref())
                .e(),
            Expression::Operation(x) => B::new("op_expression")
                .o("id", x.id.as_ref())
                .a("name", &x.name)
                .o("interval", x.interval_ms.map(duration_s))
                .e(),
        }))
        .e()
}

fn primitive(p: &Primitive) -> Element {
    primitive_as("primitive", p)
}

fn primitive_as(name: &str, p: &Primitive) -> Element {
    let mut b = B::new(name)
        .a("id", &p.id)
        .o("template", p.template.as_ref())
        .o("class", (!p.class.is_empty()).then_some(&p.class))
        .o("provider", p.provider.as_ref())
        .o("type", (!p.agent_type.is_empty()).then_some(&p.agent_type))
        .o("description", p.description.as_ref())
        .cs(nvsets("instance_attributes", &p.instance_attributes))
        .cs(nvsets("meta_attributes", &p.meta_attributes))
        .cs(nvsets("utilization", &p.utilization));
    if !p.operations.is_empty() {
        b = b.c(B::new("operations")
            .cs(p.operations.iter().map(|o| {
                B::new("op")
                    .o("id", o.id.as_ref())
                    .a("name", &o.name)
                    .a("interval", duration_s(o.interval_ms))
                    .o("timeout", o.timeout_ms.map(duration_s))
                    .o("role", o.role.map(Role::as_str))
                    .o("on-fail", o.on_fail.map(OnFail::as_str))
                    .o("enabled", o.enabled.map(bool_s))
                    .extra(&o.extra)
                    .cs(nvsets("meta_attributes", &o.meta_attributes))
                    .cs(nvsets("instance_attributes", &o.instance_attributes))
                    .e()
            }))
            .e());
    }
    b.e()
}

fn resource(r: &Resource) -> Element {
    match r {
        Resource::Primitive(p) => primitive(p),
        Resource::Group(g) => B::new("group")
            .a("id", &g.id)
            .o("description", g.description.as_ref())
            .cs(nvsets("meta_attributes", &g.meta_attributes))
            .cs(g.children.iter().map(primitive))
            .e(),
        Resource::Bundle(b) => B::new("bundle")
            .a("id", &b.id)
            .o("description", b.description.as_ref())
            .cs(nvsets("meta_attributes", &b.meta_attributes))
            .cs([&b.container, &b.network, &b.storage].into_iter().flatten().map(bundle_part))
            .cs(b.primitive.iter().map(primitive))
            .e(),
        Resource::Clone(c) => B::new(if c.legacy_master { "master" } else { "clone" })
            .a("id", &c.id)
            .o("description", c.description.as_ref())
            .cs(nvsets("meta_attributes", &c.meta_attributes))
            .c(resource(&c.child))
            .e(),
    }
}

fn bundle_part(p: &BundlePart) -> Element {
    B::new(&p.name).extra(&p.attrs).cs(p.children.iter().map(bundle_part)).e()
}

fn sets(s: &[ResourceSet]) -> Vec<Element> {
    s.iter()
        .map(|s| {
            B::new("resource_set")
                .a("id", &s.id)
                .o("sequential", s.sequential.map(bool_s))
                .o("require-all", s.require_all.map(bool_s))
                .o("role", s.role.map(Role::as_str))
                .o("action", s.action.map(RscAction::as_str))
                .o("score", s.score)
                .o("kind", s.kind.map(OrderKind::as_str))
                .cs(s.resources.iter().map(|r| B::new("resource_ref").a("id", r).e()))
                .e()
        })
        .collect()
}

fn constraint(c: &Constraint) -> Element {
    match c {
        Constraint::Location(l) => B::new("rsc_location")
            .a("id", &l.id)
            .o("rsc", l.rsc.as_ref())
            .o("rsc-pattern", l.rsc_pattern.as_ref())
            .o("role", l.role.map(Role::as_str))
            .o("node", l.node.as_ref())
            .o("score", l.score)
            .o(
                "resource-discovery",
                match l.resource_discovery {
                    ResourceDiscovery::Always => None,
                    ResourceDiscovery::Never => Some("never"),
                    ResourceDiscovery::Exclusive => Some("exclusive"),
                },
            )
            .cs(l.rules.iter().map(rule))
            .cs(sets(&l.sets))
            .e(),
        Constraint::Colocation(k) => B::new("rsc_colocation")
            .a("id", &k.id)
            .o("rsc", k.rsc.as_ref())
            .o("with-rsc", k.with_rsc.as_ref())
            .o("rsc-role", k.rsc_role.map(Role::as_str))
            .o("with-rsc-role", k.with_rsc_role.map(Role::as_str))
            .a("score", k.score)
            .o("node-attribute", k.node_attribute.as_ref())
            .o("influence", k.influence.map(bool_s))
            .cs(sets(&k.sets))
            .e(),
        Constraint::Order(o) => B::new("rsc_order")
            .a("id", &o.id)
            .o("first", o.first.as_ref())
            .o("then", o.then.as_ref())
            .o("first-action", o.first_action.map(RscAction::as_str))
            .o("then-action", o.then_action.map(RscAction::as_str))
            .o("kind", o.kind.map(OrderKind::as_str))
            .o("score", o.score)
            .o("symmetrical", o.symmetrical.map(bool_s))
            .cs(sets(&o.sets))
            .e(),
        Constraint::Ticket(t) => B::new("rsc_ticket")
            .a("id", &t.id)
            .a("ticket", &t.ticket)
            .o("rsc", t.rsc.as_ref())
            .o("rsc-role", t.rsc_role.map(Role::as_str))
            .o("loss-policy", t.loss_policy.as_ref())
            .cs(sets(&t.sets))
            .e(),
    }
}

fn node_state(n: &NodeState) -> Element {
    let mut b = B::new("node_state")
        .a("id", &n.id)
        .o("uname", n.uname.as_ref())
        .o("in_ccm", n.in_ccm.as_ref())
        .o("crmd", n.crmd.as_ref())
        .o("join", n.join.as_ref())
        .o("expected", n.expected.as_ref())
        .o("remote_node", n.remote_node.then_some("true"))
        .extra(&n.extra);
    if !n.transient_attributes.is_empty() {
        b = b.c(B::new("transient_attributes")
            .a("id", &n.id)
            .cs(nvsets("instance_attributes", &n.transient_attributes))
            .e());
    }
    if !n.lrm_resources.is_empty() {
        let rs = n.lrm_resources.iter().map(|r| {
            B::new("lrm_resource")
                .a("id", &r.id)
                .o("class", r.class.as_ref())
                .o("provider", r.provider.as_ref())
                .o("type", r.agent_type.as_ref())
                .o("container", r.container.as_ref())
                .cs(r.ops.iter().map(|o| {
                    B::new("lrm_rsc_op")
                        .a("id", &o.id)
                        .a("operation", &o.operation)
                        .a("interval", o.interval_ms)
                        .a("rc-code", o.rc_code)
                        .a("op-status", o.op_status)
                        .a("call-id", o.call_id)
                        .o("last-rc-change", o.last_rc_change)
                        .o("exit-reason", o.exit_reason.as_ref())
                        .o("on_node", o.on_node.as_ref())
                        .o("op-digest", o.op_digest.as_ref())
                        .o("transition-key", o.transition_key.as_ref())
                        .o("transition-magic", o.transition_magic.as_ref())
                        .extra(&o.extra)
                        .e()
                }))
                .e()
        });
        b = b.c(B::new("lrm").a("id", &n.id).c(B::new("lrm_resources").cs(rs).e()).e());
    }
    b.e()
}

fn cib_element(c: &Cib) -> Element {
    let cfg = &c.configuration;
    let mut conf = B::new("configuration")
        .c(B::new("crm_config").cs(nvsets("cluster_property_set", &cfg.crm_config)).e())
        .c(B::new("nodes")
            .cs(cfg.nodes.iter().map(|n| {
                B::new("node")
                    .a("id", &n.id)
                    .a("uname", &n.uname)
                    .a("type", if n.kind == NodeKind::Remote { "remote" } else { "member" })
                    .o("score", n.score)
                    .o("description", n.description.as_ref())
                    .cs(nvsets("instance_attributes", &n.attributes))
                    .cs(nvsets("utilization", &n.utilization))
                    .e()
            }))
            .e())
        .c(B::new("resources")
            .cs(cfg.templates.iter().map(|t| primitive_as("template", t)))
            .cs(cfg.resources.iter().map(resource))
            .e())
        .c(B::new("constraints").cs(cfg.constraints.iter().map(constraint)).e());
    if !cfg.rsc_defaults.is_empty() {
        conf = conf.c(B::new("rsc_defaults").cs(nvsets("meta_attributes", &cfg.rsc_defaults)).e());
    }
    if !cfg.op_defaults.is_empty() {
        conf = conf.c(B::new("op_defaults").cs(nvsets("meta_attributes", &cfg.op_defaults)).e());
    }
    if !cfg.fencing_topology.is_empty() {
        conf = conf.c(B::new("fencing-topology")
            .cs(cfg.fencing_topology.iter().map(|l| {
                B::new("fencing-level")
                    .a("id", &l.id)
                    .a("index", l.index)
                    .o("target", l.target.as_ref())
                    .o("target-pattern", l.target_pattern.as_ref())
                    .o("target-attribute", l.target_attribute.as_ref())
                    .o("target-value", l.target_value.as_ref())
                    .a("devices", l.devices.join(","))
                    .e()
            }))
            .e());
    }
    B::new("cib")
        .a("admin_epoch", c.admin_epoch)
        .a("epoch", c.epoch)
        .a("num_updates", c.num_updates)
        .a("have-quorum", if c.have_quorum { "1" } else { "0" })
        .o("dc-uuid", c.dc_uuid.as_ref())
        .o("validate-with", c.validate_with.as_ref())
        .extra(&c.extra)
        .c(conf.e())
        .c(B::new("status").cs(c.status.node_states.iter().map(node_state)).e())
        .e()
}

fn print(el: &Element, depth: usize, out: &mut String) {
    for _ in 0..depth {
        out.push_str("  ");
    }
    out.push('<');
    out.push_str(&el.name);
    for (k, v) in &el.attrs {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        escape_attr(v, out);
        out.push('"');
    }
    if el.children.is_empty() {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    for c in &el.children {
        print(c, depth + 1, out);
    }
    for _ in 0..depth {
        out.push_str("  ");
    }
    out.push_str("</");
    out.push_str(&el.name);
    out.push_str(">\n");
}

pub(crate) fn to_xml(c: &Cib) -> String {
    let mut out = String::new();
    print(&cib_element(c), 0, &mut out);
    out
}

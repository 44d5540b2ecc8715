//! Renders the model as the CIB `<configuration>` element, the way crmsh 4.4.1 writes it:
//! same elements, attributes, values and generated ids.

use std::collections::HashSet;

use crate::error::XmlError;
use crate::model::*;
use crate::xml::{self, Element};

/// The `<cib>` that `cibadmin --empty` starts from, used when there is no CIB yet.
pub const EMPTY_CIB: &str = r#"<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config/>
    <nodes/>
    <resources/>
    <constraints/>
  </configuration>
  <status/>
</cib>
"#;

/// Hands out ids the way crmsh does: the base if free, else `base-0`, `base-1`, ...
struct Ids {
    used: HashSet<String>,
}

impl Ids {
    fn alloc(&mut self, base: &str) -> String {
        if self.used.insert(base.to_string()) {
            return base.to_string();
        }
        (0..)
            .map(|n| format!("{base}-{n}"))
            .find(|id| self.used.insert(id.clone()))
            .expect("an unused suffix exists")
    }

    /// An explicit id if given (already reserved), else a fresh one from `base`.
    fn pick(&mut self, explicit: Option<&str>, base: &str) -> String {
        match explicit {
            Some(id) => id.to_string(),
            None => self.alloc(base),
        }
    }
}

/// The `<configuration>` element for `config`.
pub fn configuration(config: &CrmConfig) -> Element {
    configuration_avoiding(config, HashSet::new())
}

/// Renders `config`, generating no id that is in `taken` (the ids of a CIB being
/// updated: crmsh avoids them even in objects the update replaces).
fn configuration_avoiding(config: &CrmConfig, taken: HashSet<String>) -> Element {
    let mut used = taken;
    used.extend(reserved_ids(config));
    let mut ids = Ids { used };
    let mut crm_config = Element::new("crm_config");
    let mut nodes = Element::new("nodes");
    let mut constraints = Element::new("constraints");
    let mut tags = Element::new("tags");
    let mut fencing = Element::new("fencing-topology");
    let mut rsc_defaults = Element::new("rsc_defaults");
    let mut op_defaults = Element::new("op_defaults");
    for st in &config.statements {
        match st {
            Statement::Node(n) => nodes.children.push(node(n, &mut ids)),
            Statement::Location(l) => constraints.children.push(location(l, &mut ids)),
            Statement::Colocation(c) => constraints.children.push(colocation(c, &mut ids)),
            Statement::Order(o) => constraints.children.push(order(o, &mut ids)),
            Statement::Property(p) => {
                let id = p.id.as_deref().unwrap_or("cib-bootstrap-options");
                merge_set(
                    &mut crm_config,
                    "cluster_property_set",
                    id,
                    &p.pairs,
                    &mut ids,
                );
            }
            Statement::RscDefaults(d) => {
                let id = d.id.as_deref().unwrap_or("rsc-options");
                merge_set(&mut rsc_defaults, "meta_attributes", id, &d.pairs, &mut ids);
            }
            Statement::OpDefaults(d) => {
                let id = d.id.as_deref().unwrap_or("op-options");
                merge_set(&mut op_defaults, "meta_attributes", id, &d.pairs, &mut ids);
            }
            Statement::FencingTopology(f) => {
                for l in &f.levels {
                    fencing.children.push(
                        Element::new("fencing-level")
                            .attr("target", &l.target)
                            .attr("index", &l.index.to_string())
                            .attr("devices", &l.devices)
                            .attr("id", &ids.alloc("fencing")),
                    );
                }
            }
            Statement::Tag(t) => {
                let mut e = Element::new("tag").attr("id", &t.id);
                for r in &t.refs {
                    e.children.push(Element::new("obj_ref").attr("id", r));
                }
                tags.children.push(e);
            }
            Statement::Primitive(_) | Statement::Group(_) | Statement::Clone(_) => {}
        }
    }
    let resources = resources(config, &mut ids);
    let mut conf = Element::new("configuration");
    conf.children = vec![crm_config, nodes, resources, constraints];
    for optional in [tags, fencing, rsc_defaults, op_defaults] {
        if !optional.children.is_empty() {
            conf.children.push(optional);
        }
    }
    conf
}

/// Object ids and `$id=` ids are taken before any id is generated.
fn reserved_ids(config: &CrmConfig) -> HashSet<String> {
    let mut used = HashSet::new();
    for st in &config.statements {
        used.extend(st.object_id().map(str::to_string));
        let sets: &[AttrSet] = match st {
            Statement::Node(n) => &n.sets,
            Statement::Primitive(p) => &p.sets,
            Statement::Group(g) => &g.sets,
            Statement::Clone(c) => &c.sets,
            _ => &[],
        };
        used.extend(sets.iter().filter_map(|s| s.id.clone()));
        if let Statement::Location(Location {
            target: LocationTarget::Rules(rules),
            ..
        }) = st
        {
            used.extend(rules.iter().filter_map(|r| r.id.clone()));
        }
    }
    used
}

/// Adds pairs to the set with this id under `parent`, creating the set if needed
/// (several `property` statements fill one `cib-bootstrap-options`).
fn merge_set(parent: &mut Element, element: &str, id: &str, pairs: &[Nvpair], ids: &mut Ids) {
    let index = match parent.children.iter().position(|c| c.get("id") == Some(id)) {
        Some(i) => i,
        None => {
            ids.used.insert(id.to_string());
            parent.children.push(Element::new(element).attr("id", id));
            parent.children.len() - 1
        }
    };
    let set = &mut parent.children[index];
    for p in pairs {
        set.children.push(nvpair(p, id, ids));
    }
}

fn nvpair(p: &Nvpair, set_id: &str, ids: &mut Ids) -> Element {
    Element::new("nvpair")
        .attr("name", &p.name)
        .attr("value", &p.value)
        .attr("id", &ids.alloc(&format!("{set_id}-{}", p.name)))
}

fn attr_set(set: &AttrSet, owner: &str, ids: &mut Ids) -> Element {
    let id = ids.pick(
        set.id.as_deref(),
        &format!("{owner}-{}", set.kind.element()),
    );
    let mut e = Element::new(set.kind.element()).attr("id", &id);
    for p in &set.pairs {
        e.children.push(nvpair(p, &id, ids));
    }
    e
}

fn node(n: &Node, ids: &mut Ids) -> Element {
    let mut e = Element::new("node")
        .attr("uname", &n.uname)
        .attr("id", n.id.as_deref().unwrap_or(&n.uname))
        .opt_attr("type", n.node_type.as_deref());
    for s in &n.sets {
        e.children.push(attr_set(s, &n.uname, ids));
    }
    e
}

/// crmsh lists top-level primitives first, then groups, then ms, then clones, each in
/// the order written; members are nested in their containers.
fn resources(config: &CrmConfig, ids: &mut Ids) -> Element {
    let mut parent_of: HashSet<&str> = HashSet::new();
    for st in &config.statements {
        match st {
            Statement::Group(g) => parent_of.extend(g.members.iter().map(String::as_str)),
            Statement::Clone(c) => {
                parent_of.insert(&c.child);
            }
            _ => {}
        }
    }
    let top = |id: &str| !parent_of.contains(id);
    let mut out = Element::new("resources");
    let rank = |st: &Statement| match st {
        Statement::Primitive(_) => Some(0),
        Statement::Group(_) => Some(1),
        Statement::Clone(c) if c.kind == CloneKind::Master => Some(2),
        Statement::Clone(_) => Some(3),
        _ => None,
    };
    for wanted in 0..4 {
        for st in &config.statements {
            if rank(st) == Some(wanted) && st.object_id().is_some_and(top) {
                out.children.push(resource(st, config, ids, 0));
            }
        }
    }
    out
}

fn find_resource<'a>(config: &'a CrmConfig, id: &str) -> Option<&'a Statement> {
    config.statements.iter().find(|st| {
        matches!(
            st,
            Statement::Primitive(_) | Statement::Group(_) | Statement::Clone(_)
        ) && st.object_id() == Some(id)
    })
}

/// `depth` counts enclosing containers: the CIB nests at most clone > group > primitive.
fn resource(st: &Statement, config: &CrmConfig, ids: &mut Ids, depth: usize) -> Element {
    match st {
        Statement::Primitive(p) => primitive(p, ids),
        Statement::Group(g) => {
            let mut e = Element::new("group").attr("id", &g.id);
            for s in &g.sets {
                e.children.push(attr_set(s, &g.id, ids));
            }
            for m in &g.members {
                e.children.push(member(m, config, ids, depth + 1));
            }
            e
        }
        Statement::Clone(c) => {
            let name = match c.kind {
                CloneKind::Clone => "clone",
                CloneKind::Master => "master",
            };
            let mut e = Element::new(name).attr("id", &c.id);
            for s in &c.sets {
                e.children.push(attr_set(s, &c.id, ids));
            }
            e.children.push(member(&c.child, config, ids, depth + 1));
            e
        }
        _ => unreachable!("resource() is only called for resource statements"),
    }
}

/// A container's member. `parse` only accepts members the CIB can nest; a model built
/// by hand may name an undefined resource or nest too deep (even itself), which is
/// written as a bare reference that the CIB schema rejects, instead of recursing.
fn member(id: &str, config: &CrmConfig, ids: &mut Ids, depth: usize) -> Element {
    match find_resource(config, id) {
        Some(st) if depth <= 2 => resource(st, config, ids, depth),
        _ => Element::new("primitive").attr("id", id),
    }
}

fn primitive(p: &Primitive, ids: &mut Ids) -> Element {
    let mut e = Element::new("primitive")
        .attr("id", &p.id)
        .attr("class", &p.agent.class)
        .opt_attr("provider", p.agent.provider.as_deref())
        .attr("type", &p.agent.kind);
    for s in &p.sets {
        e.children.push(attr_set(s, &p.id, ids));
    }
    if !p.ops.is_empty() {
        let mut ops = Element::new("operations");
        for op in &p.ops {
            ops.children.push(operation(op, &p.id, ids));
        }
        e.children.push(ops);
    }
    e
}

fn operation(op: &Op, rsc: &str, ids: &mut Ids) -> Element {
    let mut e = Element::new("op").attr("name", &op.name);
    for a in &op.attrs {
        e.set(&a.name, &a.value);
    }
    // crmsh fills in interval=0 when it is not written.
    let interval = op
        .attrs
        .iter()
        .find(|a| a.name == "interval")
        .map_or("0", |a| a.value.as_str());
    if e.get("interval").is_none() {
        e.set("interval", "0");
    }
    let id = ids.alloc(&format!("{rsc}-{}-{interval}", op.name));
    e.set("id", &id);
    for s in &op.sets {
        e.children.push(attr_set(s, &id, ids));
    }
    e
}

fn location(l: &Location, ids: &mut Ids) -> Element {
    let mut e = Element::new("rsc_location")
        .attr("id", &l.id)
        .attr("rsc", &l.rsc)
        .opt_attr("role", l.role.as_deref())
        .opt_attr("resource-discovery", l.resource_discovery.as_deref());
    match &l.target {
        LocationTarget::Node { score, node } => {
            e.set("score", score);
            e.set("node", node);
        }
        LocationTarget::Rules(rules) => {
            for r in rules {
                e.children.push(rule(r, &l.id, ids));
            }
        }
    }
    e
}

fn rule(r: &Rule, owner: &str, ids: &mut Ids) -> Element {
    let id = ids.pick(r.id.as_deref(), &format!("{owner}-rule"));
    let mut e = Element::new("rule").opt_attr("role", r.role.as_deref());
    match &r.score {
        RuleScore::Score(s) => e.set("score", s),
        RuleScore::Attribute(a) => e.set("score-attribute", a),
    }
    if r.boolean_op == BoolOp::Or {
        e.set("boolean-op", "or");
    }
    e.set("id", &id);
    for x in &r.expressions {
        let xid = ids.alloc(&format!("{id}-expression"));
        e.children.push(match x {
            Expression::Compare {
                attribute,
                operation,
                value_type,
                value,
            } => Element::new("expression")
                .attr("operation", operation)
                .attr("attribute", attribute)
                .opt_attr("type", value_type.as_deref())
                .attr("value", value)
                .attr("id", &xid),
            Expression::Defined { attribute, defined } => Element::new("expression")
                .attr(
                    "operation",
                    if *defined { "defined" } else { "not_defined" },
                )
                .attr("attribute", attribute)
                .attr("id", &xid),
            Expression::Date { operation, date } => Element::new("date_expression")
                .attr("operation", operation)
                .attr(if operation == "gt" { "start" } else { "end" }, date)
                .attr("id", &xid),
            Expression::DateRange { pairs } => {
                let mut d = Element::new("date_expression").attr("operation", "in_range");
                let (bounds, duration): (Vec<&Nvpair>, Vec<&Nvpair>) = pairs
                    .iter()
                    .partition(|p| p.name == "start" || p.name == "end");
                for p in bounds {
                    d.set(&p.name, &p.value);
                }
                d.set("id", &xid);
                if !duration.is_empty() {
                    d.children.push(nested(
                        "duration",
                        duration,
                        &format!("{xid}-duration"),
                        ids,
                    ));
                }
                d
            }
            Expression::DateSpec { pairs } => {
                let mut d = Element::new("date_expression")
                    .attr("operation", "date_spec")
                    .attr("id", &xid);
                let spec = pairs.iter().collect();
                d.children
                    .push(nested("date_spec", spec, &format!("{xid}-date_spec"), ids));
                d
            }
        });
    }
    e
}

/// A `<duration>` or `<date_spec>`: the pairs as attributes.
fn nested(name: &str, pairs: Vec<&Nvpair>, base: &str, ids: &mut Ids) -> Element {
    let mut e = Element::new(name);
    for p in pairs {
        e.set(&p.name, &p.value);
    }
    e.set("id", &ids.alloc(base));
    e
}

/// `<resource_set>` children; `qualifier_attr` is `role` or `action`.
fn sets(e: &mut Element, owner: &str, sets: &[ResourceSet], qualifier_attr: &str, ids: &mut Ids) {
    for s in sets {
        let mut set = Element::new("resource_set")
            .opt_attr("require-all", s.require_all.as_deref())
            .opt_attr("sequential", s.sequential.as_deref())
            .opt_attr(qualifier_attr, s.qualifier.as_deref())
            .attr("id", &ids.alloc(owner));
        for r in &s.resources {
            set.children
                .push(Element::new("resource_ref").attr("id", r));
        }
        e.children.push(set);
    }
}

fn colocation(c: &Colocation, ids: &mut Ids) -> Element {
    let mut e = Element::new("rsc_colocation")
        .attr("id", &c.id)
        .attr("score", &c.score)
        .opt_attr("node-attribute", c.node_attribute.as_deref());
    match &c.members {
        Members::Pair(a, b) => {
            e.set("rsc", &a.id);
            if let Some(role) = &a.qualifier {
                e.set("rsc-role", role);
            }
            e.set("with-rsc", &b.id);
            if let Some(role) = &b.qualifier {
                e.set("with-rsc-role", role);
            }
        }
        Members::Sets(s) => sets(&mut e, &c.id, s, "role", ids),
    }
    e
}

fn order(o: &Order, ids: &mut Ids) -> Element {
    let mut e = Element::new("rsc_order")
        .attr("id", &o.id)
        .attr("kind", &o.kind)
        .opt_attr("symmetrical", o.symmetrical.as_deref());
    match &o.members {
        Members::Pair(a, b) => {
            e.set("first", &a.id);
            if let Some(action) = &a.qualifier {
                e.set("first-action", action);
            }
            e.set("then", &b.id);
            if let Some(action) = &b.qualifier {
                e.set("then-action", action);
            }
        }
        Members::Sets(s) => sets(&mut e, &o.id, s, "action", ids),
    }
    e
}

/// Puts the rendered configuration into a CIB document, as `crm configure load update`
/// does: top-level objects replace those with the same id, new ones are appended, and
/// everything else in `cib_xml` (the `<cib>` attributes, `<status>`) is kept.
pub fn merge_into_cib(cib_xml: &str, config: &CrmConfig) -> Result<String, XmlError> {
    let mut cib = xml::parse(cib_xml)?;
    if cib.name != "cib" {
        return Err(XmlError::UnexpectedElement {
            expected: "cib".into(),
            found: cib.name,
        });
    }
    let conf = cib.child_mut_or_insert("configuration");
    // Generated ids avoid those already in the CIB. As observed in crmsh, an object being
    // replaced gives its ids back, except those of its rules and expressions.
    let replaced: HashSet<&str> = config
        .statements
        .iter()
        .filter_map(Statement::object_id)
        .collect();
    let mut taken = HashSet::new();
    for object in conf.children.iter().flat_map(|section| &section.children) {
        let keep_all = !object.get("id").is_some_and(|id| replaced.contains(id));
        collect_ids(object, keep_all, &mut taken);
    }
    let rendered = configuration_avoiding(config, taken);
    for section in rendered.children {
        let target = conf.child_mut_or_insert(&section.name);
        for object in section.children {
            let id = object.get("id").map(str::to_string);
            let existing = target.children.iter_mut().find(|c| {
                c.name == object.name && c.get("id").is_some() && c.get("id") == id.as_deref()
            });
            match existing {
                // Property and defaults sets merge name by name, as crmsh does for `property`.
                Some(old)
                    if matches!(
                        object.name.as_str(),
                        "cluster_property_set" | "meta_attributes"
                    ) =>
                {
                    for pair in object.children {
                        let name = pair.get("name").map(str::to_string);
                        match old
                            .children
                            .iter_mut()
                            .find(|p| p.get("name") == name.as_deref())
                        {
                            // The existing nvpair keeps its id and takes the new value.
                            Some(slot) => slot.set("value", pair.get("value").unwrap_or("")),
                            None => old.children.push(pair),
                        }
                    }
                }
                Some(old) => *old = object,
                None => target.children.push(object),
            }
        }
    }
    Ok(cib.to_string_pretty())
}

/// Ids under `e`: all of them, or only those of rules and expressions.
fn collect_ids(e: &Element, all: bool, into: &mut HashSet<String>) {
    if all || matches!(e.name.as_str(), "rule" | "expression" | "date_expression") {
        into.extend(e.get("id").map(str::to_string));
    }
    for c in &e.children {
        collect_ids(c, all, into);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_take_the_base_then_numbered_suffixes() {
        let mut ids = Ids {
            used: HashSet::from(["a-1".to_string()]),
        };
        let got: Vec<String> = (0..4).map(|_| ids.alloc("a")).collect();
        assert_eq!(got, ["a", "a-0", "a-2", "a-3"]);
    }

    #[test]
    fn a_hand_built_self_containing_group_does_not_recurse_forever() {
        let config = CrmConfig {
            statements: vec![
                Statement::Clone(Clone {
                    id: "c".into(),
                    kind: CloneKind::Clone,
                    child: "g".into(),
                    sets: vec![],
                }),
                Statement::Group(Group {
                    id: "g".into(),
                    members: vec!["g".into()],
                    sets: vec![],
                }),
            ],
        };
        let xml = configuration(&config).to_string_pretty();
        assert!(xml.contains("<primitive id=\"g\"/>"), "{xml}");
    }
}

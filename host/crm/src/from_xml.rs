//! Reads CIB XML (a `<cib>` document or a bare `<configuration>`) into the model.
//!
//! Generated ids that crm text cannot carry are dropped; set, rule and node ids are kept
//! as explicit `$id=` only when they differ from the id crmsh would generate, so that
//! `crm configure show` style output stays clean and still renders back to the same XML.

use std::collections::HashMap;

use crate::error::XmlError;
use crate::model::*;
use crate::xml::{self, Element};

/// Parses CIB XML text into a configuration.
pub fn from_xml(text: &str) -> Result<CrmConfig, XmlError> {
    let root = xml::parse(text)?;
    let conf = match root.name.as_str() {
        "configuration" => &root,
        "cib" => root
            .child("configuration")
            .ok_or_else(|| XmlError::UnexpectedElement {
                expected: "configuration".into(),
                found: root
                    .children
                    .first()
                    .map_or("nothing".into(), |c| c.name.clone()),
            })?,
        other => {
            return Err(XmlError::UnexpectedElement {
                expected: "cib or configuration".into(),
                found: other.into(),
            });
        }
    };
    // Statements come out in `crm configure show` order: nodes, resources, constraints,
    // then the cluster-wide settings.
    const SHOW_ORDER: &[&str] = &[
        "nodes",
        "resources",
        "constraints",
        "tags",
        "fencing-topology",
        "crm_config",
        "rsc_defaults",
        "op_defaults",
    ];
    let mut sections: Vec<&Element> = conf.children.iter().collect();
    sections.sort_by_key(|s| {
        SHOW_ORDER
            .iter()
            .position(|n| *n == s.name)
            .unwrap_or(SHOW_ORDER.len())
    });
    let mut out = Vec::new();
    for section in sections {
        for e in &section.children {
            match (section.name.as_str(), e.name.as_str()) {
                ("crm_config", "cluster_property_set") => {
                    let id = e.require("id")?;
                    out.push(Statement::Property(Property {
                        id: (id != "cib-bootstrap-options").then(|| id.to_string()),
                        pairs: pairs(e)?,
                    }));
                }
                ("nodes", "node") => out.push(Statement::Node(node(e)?)),
                ("resources", _) => resource(e, &mut out)?,
                ("constraints", "rsc_location") => out.push(Statement::Location(location(e)?)),
                ("constraints", "rsc_colocation") => {
                    out.push(Statement::Colocation(colocation(e)?))
                }
                ("constraints", "rsc_order") => out.push(Statement::Order(order(e)?)),
                ("tags", "tag") => out.push(Statement::Tag(Tag {
                    id: e.require("id")?.to_string(),
                    refs: e
                        .children
                        .iter()
                        .map(|r| r.require("id").map(str::to_string))
                        .collect::<Result<_, _>>()?,
                })),
                ("fencing-topology", "fencing-level") => {
                    let level = FencingLevel {
                        target: match e.get("target") {
                            Some(t) => t.to_string(),
                            None => return Err(unsupported(e, "only node targets are supported")),
                        },
                        index: e
                            .require("index")?
                            .parse()
                            .map_err(|_| unsupported(e, "index is not a number"))?,
                        devices: e.require("devices")?.to_string(),
                    };
                    match out.last_mut() {
                        Some(Statement::FencingTopology(f)) => f.levels.push(level),
                        _ => out.push(Statement::FencingTopology(FencingTopology {
                            levels: vec![level],
                        })),
                    }
                }
                ("rsc_defaults" | "op_defaults", "meta_attributes") => {
                    let id = e.require("id")?;
                    let default_id = if section.name == "rsc_defaults" {
                        "rsc-options"
                    } else {
                        "op-options"
                    };
                    let d = Defaults {
                        id: (id != default_id).then(|| id.to_string()),
                        pairs: pairs(e)?,
                    };
                    out.push(if section.name == "rsc_defaults" {
                        Statement::RscDefaults(d)
                    } else {
                        Statement::OpDefaults(d)
                    });
                }
                _ => {
                    return Err(unsupported(
                        e,
                        &format!("<{}> in <{}>", e.name, section.name),
                    ));
                }
            }
        }
    }
    Ok(CrmConfig { statements: out })
}

fn unsupported(e: &Element, reason: &str) -> XmlError {
    XmlError::Unsupported {
        element: e.name.clone(),
        id: e.get("id").unwrap_or("").to_string(),
        reason: reason.to_string(),
    }
}

fn pairs(set: &Element) -> Result<Vec<Nvpair>, XmlError> {
    set.children
        .iter()
        .filter(|c| c.name == "nvpair")
        .map(|c| {
            Ok(Nvpair::new(
                c.require("name")?,
                c.get("value").unwrap_or(""),
            ))
        })
        .collect()
}

/// Predicts the ids crmsh generates for the n-th set of a kind under one owner.
#[derive(Default)]
struct Natural {
    seen: HashMap<String, usize>,
}

impl Natural {
    /// `None` when `id` is what crmsh would have generated from `base` here.
    fn explicit(&mut self, base: String, id: &str) -> Option<String> {
        let n = self.seen.entry(base.clone()).or_insert(0);
        let natural = if *n == 0 {
            base
        } else {
            format!("{base}-{}", *n - 1)
        };
        *n += 1;
        (natural != id).then(|| id.to_string())
    }
}

fn attr_sets(e: &Element, owner: &str, kinds: &[SetKind]) -> Result<Vec<AttrSet>, XmlError> {
    let mut natural = Natural::default();
    let mut sets = Vec::new();
    for c in &e.children {
        let Some(kind) = kinds.iter().copied().find(|k| k.element() == c.name) else {
            continue;
        };
        let id = c.require("id")?;
        sets.push(AttrSet {
            kind,
            id: natural.explicit(format!("{owner}-{}", kind.element()), id),
            pairs: pairs(c)?,
        });
    }
    Ok(sets)
}

fn node(e: &Element) -> Result<Node, XmlError> {
    let id = e.require("id")?;
    let uname = e.get("uname").unwrap_or(id).to_string();
    Ok(Node {
        id: (id != uname).then(|| id.to_string()),
        node_type: e.get("type").map(str::to_string),
        sets: attr_sets(e, &uname, &[SetKind::Instance, SetKind::Utilization])?,
        uname,
    })
}

/// Appends the resource and, before it, its members (containers refer to them by id).
fn resource(e: &Element, out: &mut Vec<Statement>) -> Result<(), XmlError> {
    let id = e.require("id")?.to_string();
    let sets = |kinds: &[SetKind]| attr_sets(e, &id, kinds);
    let member_names = ["primitive", "group", "clone", "master"];
    match e.name.as_str() {
        "primitive" => {
            let class = e.require("class")?.to_string();
            let mut ops = Vec::new();
            if let Some(operations) = e.child("operations") {
                for op in &operations.children {
                    let op_id = op.require("id")?;
                    ops.push(Op {
                        name: op.require("name")?.to_string(),
                        attrs: op
                            .attrs
                            .iter()
                            .filter(|(n, _)| n != "name" && n != "id")
                            .map(|(n, v)| Nvpair::new(n, v))
                            .collect(),
                        sets: attr_sets(op, op_id, &[SetKind::Instance, SetKind::Meta])?,
                    });
                }
            }
            out.push(Statement::Primitive(Primitive {
                agent: Agent {
                    class,
                    provider: e.get("provider").map(str::to_string),
                    kind: e.require("type")?.to_string(),
                },
                sets: sets(&[SetKind::Instance, SetKind::Meta, SetKind::Utilization])?,
                ops,
                id,
            }));
        }
        "group" => {
            let mut members = Vec::new();
            for c in e
                .children
                .iter()
                .filter(|c| member_names.contains(&c.name.as_str()))
            {
                resource(c, out)?;
                members.push(c.require("id")?.to_string());
            }
            let sets = sets(&[SetKind::Instance, SetKind::Meta])?;
            out.push(Statement::Group(Group { id, members, sets }));
        }
        "clone" | "master" => {
            let mut children = e
                .children
                .iter()
                .filter(|c| member_names.contains(&c.name.as_str()));
            let child = children
                .next()
                .ok_or_else(|| unsupported(e, "a clone without a resource"))?;
            resource(child, out)?;
            let sets = sets(&[SetKind::Instance, SetKind::Meta])?;
            out.push(Statement::Clone(Clone {
                kind: if e.name == "master" {
                    CloneKind::Master
                } else {
                    CloneKind::Clone
                },
                child: child.require("id")?.to_string(),
                sets,
                id,
            }));
        }
        _ => return Err(unsupported(e, &format!("<{}> resources", e.name))),
    }
    Ok(())
}

fn location(e: &Element) -> Result<Location, XmlError> {
    let id = e.require("id")?.to_string();
    let rsc = match e.get("rsc") {
        Some(r) => r.to_string(),
        None => {
            return Err(unsupported(
                e,
                "only a single rsc is supported (no rsc-pattern or sets)",
            ));
        }
    };
    let target = match (e.get("score"), e.get("node")) {
        (Some(score), Some(node)) => LocationTarget::Node {
            score: score.to_string(),
            node: node.to_string(),
        },
        _ => {
            let mut natural = Natural::default();
            let mut rules = Vec::new();
            for r in e.children.iter().filter(|c| c.name == "rule") {
                rules.push(rule(
                    r,
                    natural.explicit(format!("{id}-rule"), r.require("id")?),
                )?);
            }
            if rules.is_empty() {
                return Err(unsupported(e, "neither score and node nor rules"));
            }
            LocationTarget::Rules(rules)
        }
    };
    Ok(Location {
        role: e.get("role").map(str::to_string),
        resource_discovery: e.get("resource-discovery").map(str::to_string),
        id,
        rsc,
        target,
    })
}

fn rule(r: &Element, id: Option<String>) -> Result<Rule, XmlError> {
    let score = match (r.get("score"), r.get("score-attribute")) {
        (Some(s), _) => RuleScore::Score(s.to_string()),
        (None, Some(a)) => RuleScore::Attribute(a.to_string()),
        (None, None) => RuleScore::Score("0".to_string()),
    };
    let boolean_op = match r.get("boolean-op") {
        Some("or") => BoolOp::Or,
        _ => BoolOp::And,
    };
    let mut expressions = Vec::new();
    for x in &r.children {
        expressions.push(match x.name.as_str() {
            "expression" => {
                let attribute = x.require("attribute")?.to_string();
                match x.require("operation")? {
                    op @ ("defined" | "not_defined") => Expression::Defined {
                        attribute,
                        defined: op == "defined",
                    },
                    op => Expression::Compare {
                        attribute,
                        operation: op.to_string(),
                        value_type: x.get("type").map(str::to_string),
                        value: x.require("value")?.to_string(),
                    },
                }
            }
            "date_expression" => match x.require("operation")? {
                "gt" => Expression::Date {
                    operation: "gt".into(),
                    date: x.require("start")?.to_string(),
                },
                "lt" => Expression::Date {
                    operation: "lt".into(),
                    date: x.require("end")?.to_string(),
                },
                "in_range" => {
                    let mut pairs: Vec<Nvpair> = ["start", "end"]
                        .iter()
                        .filter_map(|n| x.get(n).map(|v| Nvpair::new(*n, v)))
                        .collect();
                    if let Some(d) = x.child("duration") {
                        pairs.extend(fields(d));
                    }
                    Expression::DateRange { pairs }
                }
                "date_spec" => Expression::DateSpec {
                    pairs: x.child("date_spec").map(fields).unwrap_or_default(),
                },
                _ => return Err(unsupported(x, "unknown date_expression operation")),
            },
            _ => {
                return Err(unsupported(
                    x,
                    "nested rules and other expression kinds are not supported",
                ));
            }
        });
    }
    Ok(Rule {
        id,
        role: r.get("role").map(str::to_string),
        score,
        boolean_op,
        expressions,
    })
}

/// The attributes of a `<duration>` or `<date_spec>` other than its id.
fn fields(e: &Element) -> Vec<Nvpair> {
    e.attrs
        .iter()
        .filter(|(n, _)| n != "id")
        .map(|(n, v)| Nvpair::new(n, v))
        .collect()
}

/// A two-resource constraint, or its resource sets.
fn members(e: &Element, a: [&str; 2], b: [&str; 2], qualifier: &str) -> Result<Members, XmlError> {
    if let (Some(x), Some(y)) = (e.get(a[0]), e.get(b[0])) {
        let r = |id: &str, q: &str| RscRef {
            id: id.to_string(),
            qualifier: e.get(q).map(str::to_string),
        };
        return Ok(Members::Pair(r(x, a[1]), r(y, b[1])));
    }
    let mut sets = Vec::new();
    for s in e.children.iter().filter(|c| c.name == "resource_set") {
        sets.push(ResourceSet {
            resources: s
                .children
                .iter()
                .map(|r| r.require("id").map(str::to_string))
                .collect::<Result<_, _>>()?,
            sequential: s.get("sequential").map(str::to_string),
            require_all: s.get("require-all").map(str::to_string),
            qualifier: s.get(qualifier).map(str::to_string),
        });
    }
    if sets.is_empty() {
        return Err(unsupported(e, "no resources"));
    }
    Ok(Members::Sets(sets))
}

fn colocation(e: &Element) -> Result<Colocation, XmlError> {
    Ok(Colocation {
        id: e.require("id")?.to_string(),
        score: e.get("score").unwrap_or("INFINITY").to_string(),
        members: members(
            e,
            ["rsc", "rsc-role"],
            ["with-rsc", "with-rsc-role"],
            "role",
        )?,
        node_attribute: e.get("node-attribute").map(str::to_string),
    })
}

fn order(e: &Element) -> Result<Order, XmlError> {
    // A legacy score becomes a kind the way crmsh maps scores: 0 is Optional.
    let kind = match (e.get("kind"), e.get("score")) {
        (Some(k), _) => k.to_string(),
        (None, Some("0")) => "Optional".to_string(),
        _ => "Mandatory".to_string(),
    };
    Ok(Order {
        id: e.require("id")?.to_string(),
        kind,
        members: members(
            e,
            ["first", "first-action"],
            ["then", "then-action"],
            "action",
        )?,
        symmetrical: e.get("symmetrical").map(str::to_string),
    })
}

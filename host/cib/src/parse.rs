//! Reading the model from the element tree.

use std::collections::BTreeMap;

use crate::dom::Element;
use crate::duration::parse_duration_ms;
use crate::error::{CibError, ValueError};
use crate::model::*;
use crate::rule::*;
use crate::score::Score;
use crate::status::*;

type R<T> = Result<T, CibError>;

fn req<'a>(el: &'a Element, attr: &'static str) -> R<&'a str> {
    el.attr(attr).ok_or_else(|| CibError::MissingAttribute {
        element: el.name.clone(),
        attribute: attr,
        pos: el.pos,
    })
}

fn opt(el: &Element, attr: &str) -> Option<String> {
    el.attr(attr).map(str::to_string)
}

fn bad(el: &Element, attr: &str, source: ValueError) -> CibError {
    CibError::BadAttribute { element: el.name.clone(), attribute: attr.to_string(), pos: el.pos, source }
}

fn score_attr(el: &Element, attr: &str) -> R<Option<Score>> {
    el.attr(attr).map(|v| Score::parse(v).map_err(|e| bad(el, attr, e))).transpose()
}

fn bool_attr(el: &Element, attr: &str) -> R<Option<bool>> {
    el.attr(attr)
        .map(|v| crate::parse_bool(v).ok_or_else(|| bad(el, attr, ValueError::Bool(v.to_string()))))
        .transpose()
}

fn int_attr<T: std::str::FromStr>(el: &Element, attr: &str) -> R<Option<T>> {
    el.attr(attr)
        .map(|v| v.trim().parse::<T>().map_err(|_| bad(el, attr, ValueError::Integer(v.to_string()))))
        .transpose()
}

fn enum_attr<T>(el: &Element, attr: &str, f: impl Fn(&str) -> Option<T>, expected: &'static str) -> R<Option<T>> {
    el.attr(attr)
        .map(|v| f(v).ok_or_else(|| bad(el, attr, ValueError::Enum { value: v.to_string(), expected })))
        .transpose()
}

fn role_attr(el: &Element, attr: &str) -> R<Option<Role>> {
    enum_attr(el, attr, Role::parse, "Stopped, Started, Unpromoted, Promoted")
}

fn unexpected(child: &Element, parent: &Element) -> CibError {
    CibError::UnexpectedElement { element: child.name.clone(), parent: parent.name.clone(), pos: child.pos }
}

fn extra_attrs(el: &Element, known: &[&str]) -> BTreeMap<String, String> {
    el.attrs.iter().filter(|(k, _)| !known.contains(&k.as_str())).cloned().collect()
}

pub(crate) fn cib(root: &Element) -> R<Cib> {
    if root.name != "cib" {
        return Err(CibError::NotACib { found: root.name.clone() });
    }
    let known = ["admin_epoch", "epoch", "num_updates", "have-quorum", "dc-uuid", "validate-with"];
    let mut c = Cib {
        admin_epoch: int_attr(root, "admin_epoch")?.unwrap_or(0),
        epoch: int_attr(root, "epoch")?.unwrap_or(0),
        num_updates: int_attr(root, "num_updates")?.unwrap_or(0),
        have_quorum: bool_attr(root, "have-quorum")?.unwrap_or(false),
        dc_uuid: opt(root, "dc-uuid"),
        validate_with: opt(root, "validate-with"),
        extra: extra_attrs(root, &known),
        ..Default::default()
    };
    for child in &root.children {
        match child.name.as_str() {
            "configuration" => c.configuration = configuration(child)?,
            "status" => c.status = status(child)?,
            _ => return Err(unexpected(child, root)),
        }
    }
    Ok(c)
}

fn configuration(el: &Element) -> R<Configuration> {
    let mut c = Configuration::default();
    for child in &el.children {
        match child.name.as_str() {
            "crm_config" => c.crm_config = nvsets(child, &["cluster_property_set"])?,
            "nodes" => {
                for n in &child.children {
                    if n.name != "node" {
                        return Err(unexpected(n, child));
                    }
                    c.nodes.push(node(n)?);
                }
            }
            "resources" => {
                for r in &child.children {
                    if r.name == "template" {
                        c.templates.push(primitive(r)?);
                    } else {
                        c.resources.push(resource(r, child)?);
                    }
                }
            }
            "constraints" => {
                for k in &child.children {
                    c.constraints.push(constraint(k, child)?);
                }
            }
            "rsc_defaults" | "op_defaults" => {
                let sets = nvsets(child, &["meta_attributes"])?;
                if child.name == "rsc_defaults" {
                    c.rsc_defaults = sets;
                } else {
                    c.op_defaults = sets;
                }
            }
            "fencing-topology" => {
                for l in &child.children {
                    if l.name != "fencing-level" {
                        return Err(unexpected(l, child));
                    }
                    c.fencing_topology.push(fencing_level(l)?);
                }
            }
            // Sections the scheduler has no use for; accepted so that real CIBs load.
            "alerts" | "acls" | "tags" => {}
            _ => return Err(unexpected(child, el)),
        }
    }
    Ok(c)
}

/// Read all children of `el` that are nv sets of one of the given element names.
fn nvsets(el: &Element, names: &[&str]) -> R<Vec<NvSet>> {
    el.children
        .iter()
        .map(|s| if names.contains(&s.name.as_str()) { nvset(s) } else { Err(unexpected(s, el)) })
        .collect()
}

pub(crate) fn nvset(el: &Element) -> R<NvSet> {
    let mut set = NvSet { id: opt(el, "id"), score: score_attr(el, "score")?, ..Default::default() };
    for c in &el.children {
        match c.name.as_str() {
            "nvpair" => set.pairs.push(NvPair {
                id: opt(c, "id"),
                name: req(c, "name")?.to_string(),
                value: opt(c, "value"),
            }),
            "rule" => set.rule = Some(rule(c)?),
            _ => return Err(unexpected(c, el)),
        }
    }
    Ok(set)
}

fn node(el: &Element) -> R<Node> {
    let mut n = Node {
        id: req(el, "id")?.to_string(),
        uname: req(el, "uname")?.to_string(),
        kind: match el.attr("type") {
            None | Some("member") | Some("normal") => NodeKind::Member,
            Some("remote") => NodeKind::Remote,
            Some(v) => return Err(bad(el, "type", ValueError::Enum { value: v.into(), expected: "member, remote" })),
        },
        score: score_attr(el, "score")?,
        description: opt(el, "description"),
        ..Default::default()
    };
    for c in &el.children {
        match c.name.as_str() {
            "instance_attributes" => n.attributes.push(nvset(c)?),
            "utilization" => n.utilization.push(nvset(c)?),
            _ => return Err(unexpected(c, el)),
        }
    }
    Ok(n)
}

fn resource(el: &Element, parent: &Element) -> R<Resource> {
    match el.name.as_str() {
        "primitive" => Ok(Resource::Primitive(primitive(el)?)),
        "bundle" => {
            let mut b = Bundle { id: req(el, "id")?.to_string(), description: opt(el, "description"), ..Default::default() };
            for c in &el.children {
                match c.name.as_str() {
                    "docker" | "podman" | "rkt" => b.container = Some(bundle_part(c)),
                    "network" => b.network = Some(bundle_part(c)),
                    "storage" => b.storage = Some(bundle_part(c)),
                    "primitive" => b.primitive = Some(primitive(c)?),
                    "meta_attributes" => b.meta_attributes.push(nvset(c)?),
                    _ => return Err(unexpected(c, el)),
                }
            }
            Ok(Resource::Bundle(b))
        }
        "group" => {
            let mut g = Group { id: req(el, "id")?.to_string(), description: opt(el, "description"), ..Default::default() };
            for c in &el.children {
                match c.name.as_str() {
                    "primitive" => g.children.push(primitive(c)?),
                    "meta_attributes" => g.meta_attributes.push(nvset(c)?),
                    // Groups may carry instance attributes that Pacemaker passes to members;
                    // they are not modelled separately.
                    "instance_attributes" => {}
                    _ => return Err(unexpected(c, el)),
                }
            }
            Ok(Resource::Group(g))
        }
        "clone" | "master" => {
            let mut meta = Vec::new();
            let mut child = None;
            for c in &el.children {
                match c.name.as_str() {
                    "primitive" | "group" => {
                        if child.is_some() {
                            return Err(CibError::Invalid {
                                element: el.name.clone(),
                                pos: c.pos,
                                message: "a clone holds exactly one primitive or group".into(),
                            });
                        }
                        child = Some(resource(c, el)?);
                    }
                    "meta_attributes" => meta.push(nvset(c)?),
                    "instance_attributes" => {}
                    _ => return Err(unexpected(c, el)),
                }
            }
            let child = child.ok_or_else(|| CibError::Invalid {
                element: el.name.clone(),
                pos: el.pos,
                message: "a clone must hold a primitive or group".into(),
            })?;
            Ok(Resource::Clone(Clone {
                id: req(el, "id")?.to_string(),
                description: opt(el, "description"),
                legacy_master: el.name == "master",
                meta_attributes: meta,
                child: Box::new(child),
            }))
        }
        _ => Err(unexpected(el, parent)),
    }
}

fn bundle_part(el: &Element) -> BundlePart {
    BundlePart { name: el.name.clone(), attrs: el.attrs.iter().cloned().collect(), children: el.children.iter().map(bundle_part).collect() }
}

fn primitive(el: &Element) -> R<Primitive> {
    // A primitive based on a template may leave its agent to the template (an empty value
    // is written as no attribute, so without a template it would not load again).
    let template = opt(el, "template");
    let agent_attr = |name: &'static str| -> R<String> {
        match (el.attr(name), &template) {
            (Some(""), None) => Err(bad(el, name, ValueError::Empty)),
            (Some(v), _) => Ok(v.to_string()),
            (None, Some(_)) => Ok(String::new()),
            (None, None) => Err(CibError::MissingAttribute { element: el.name.clone(), attribute: name, pos: el.pos }),
        }
    };
    let mut p = Primitive {
        id: req(el, "id")?.to_string(),
        class: agent_attr("class")?,
        provider: opt(el, "provider"),
        agent_type: agent_attr("type")?,
        template,
        description: opt(el, "description"),
        ..Default::default()
    };
    for c in &el.children {
        match c.name.as_str() {
            "instance_attributes" => p.instance_attributes.push(nvset(c)?),
            "meta_attributes" => p.meta_attributes.push(nvset(c)?),
            "utilization" => p.utilization.push(nvset(c)?),
            "operations" => {
                for o in &c.children {
                    if o.name != "op" {
                        return Err(unexpected(o, c));
                    }
                    p.operations.push(op(o)?);
                }
            }
            _ => return Err(unexpected(c, el)),
        }
    }
    Ok(p)
}

fn duration_attr(el: &Element, attr: &str) -> R<Option<u64>> {
    el.attr(attr).map(|v| parse_duration_ms(v).map_err(|e| bad(el, attr, e))).transpose()
}

fn op(el: &Element) -> R<Op> {
    let known = ["id", "name", "interval", "timeout", "role", "on-fail", "enabled"];
    let mut o = Op {
        id: opt(el, "id"),
        name: req(el, "name")?.to_string(),
        interval_ms: duration_attr(el, "interval")?.unwrap_or(0),
        timeout_ms: duration_attr(el, "timeout")?,
        role: role_attr(el, "role")?,
        on_fail: enum_attr(el, "on-fail", OnFail::parse, "ignore, block, demote, stop, restart, standby, fence, restart-container")?,
        enabled: bool_attr(el, "enabled")?,
        extra: extra_attrs(el, &known),
        ..Default::default()
    };
    for c in &el.children {
        match c.name.as_str() {
            "meta_attributes" => o.meta_attributes.push(nvset(c)?),
            "instance_attributes" => o.instance_attributes.push(nvset(c)?),
            _ => return Err(unexpected(c, el)),
        }
    }
    Ok(o)
}

fn resource_sets(el: &Element) -> R<Vec<ResourceSet>> {
    el.children_named("resource_set")
        .map(|s| {
            let mut rs = ResourceSet {
                id: req(s, "id")?.to_string(),
                sequential: bool_attr(s, "sequential")?,
                require_all: bool_attr(s, "require-all")?,
                role: role_attr(s, "role")?,
                action: enum_attr(s, "action", RscAction::parse, "start, stop, promote, demote")?,
                score: score_attr(s, "score")?,
                kind: enum_attr(s, "kind", OrderKind::parse, "Mandatory, Optional, Serialize")?,
                resources: Vec::new(),
            };
            for r in &s.children {
                if r.name != "resource_ref" {
                    return Err(unexpected(r, s));
                }
                rs.resources.push(req(r, "id")?.to_string());
            }
            Ok(rs)
        })
        .collect()
}

fn constraint(el: &Element, parent: &Element) -> R<Constraint> {
    let id = req(el, "id")?.to_string();
    let sets = resource_sets(el)?;
    let allow_children = |allowed: &[&str]| -> R<()> {
        match el.children.iter().find(|c| !allowed.contains(&c.name.as_str())) {
            Some(c) => Err(unexpected(c, el)),
            None => Ok(()),
        }
    };
    Ok(match el.name.as_str() {
        "rsc_location" => {
            allow_children(&["rule", "resource_set"])?;
            let rules = el.children_named("rule").map(rule).collect::<R<Vec<_>>>()?;
            Constraint::Location(Location {
                id,
                rsc: opt(el, "rsc"),
                rsc_pattern: opt(el, "rsc-pattern"),
                role: role_attr(el, "role")?,
                node: opt(el, "node"),
                score: score_attr(el, "score")?,
                rules,
                resource_discovery: enum_attr(
                    el,
                    "resource-discovery",
                    |v| match v {
                        "always" => Some(ResourceDiscovery::Always),
                        "never" => Some(ResourceDiscovery::Never),
                        "exclusive" => Some(ResourceDiscovery::Exclusive),
                        _ => None,
                    },
                    "always, never, exclusive",
                )?
                .unwrap_or_default(),
                sets,
            })
        }
        "rsc_colocation" => {
            allow_children(&["resource_set"])?;
            Constraint::Colocation(Colocation {
                id,
                rsc: opt(el, "rsc"),
                with_rsc: opt(el, "with-rsc"),
                rsc_role: role_attr(el, "rsc-role")?,
                with_rsc_role: role_attr(el, "with-rsc-role")?,
                score: score_attr(el, "score")?.unwrap_or_default(),
                node_attribute: opt(el, "node-attribute"),
                influence: bool_attr(el, "influence")?,
                sets,
            })
        }
        "rsc_order" => {
            allow_children(&["resource_set"])?;
            let action = |a: &str| enum_attr(el, a, RscAction::parse, "start, stop, promote, demote");
            Constraint::Order(Order {
                id,
                first: opt(el, "first"),
                then: opt(el, "then"),
                first_action: action("first-action")?,
                then_action: action("then-action")?,
                kind: enum_attr(el, "kind", OrderKind::parse, "Mandatory, Optional, Serialize")?,
                score: score_attr(el, "score")?,
                symmetrical: bool_attr(el, "symmetrical")?,
                sets,
            })
        }
        "rsc_ticket" => {
            allow_children(&["resource_set"])?;
            Constraint::Ticket(Ticket {
                id,
                ticket: req(el, "ticket")?.to_string(),
                rsc: opt(el, "rsc"),
                rsc_role: role_attr(el, "rsc-role")?,
                loss_policy: opt(el, "loss-policy"),
                sets,
            })
        }
        _ => return Err(unexpected(el, parent)),
    })
}

pub(crate) fn rule(el: &Element) -> R<Rule> {
    let mut r = Rule {
        id: opt(el, "id"),
        score: score_attr(el, "score")?,
        score_attribute: opt(el, "score-attribute"),
        boolean_op: match el.attr("boolean-op") {
            None | Some("and") => BoolOp::And,
            Some("or") => BoolOp::Or,
            Some(v) => return Err(bad(el, "boolean-op", ValueError::Enum { value: v.into(), expected: "and, or" })),
        },
        role: role_attr(el, "role")?,
        expressions: Vec::new(),
    };
    for c in &el.children {
        let e = match c.name.as_str() {
            "expression" => {
                let operation = enum_attr(c, "operation", CompareOp::parse, "lt, gt, lte, gte, eq, ne, defined, not_defined")?
                    .ok_or_else(|| CibError::MissingAttribute { element: c.name.clone(), attribute: "operation", pos: c.pos })?;
                Expression::Attribute(AttrExpr {
                    id: opt(c, "id"),
                    attribute: req(c, "attribute")?.to_string(),
                    operation,
                    value: opt(c, "value"),
                    value_type: enum_attr(c, "type", ValueType::parse, "string, integer, number, version")?,
                    value_source: enum_attr(
                        c,
                        "value-source",
                        |v| match v {
                            "literal" => Some(ValueSource::Literal),
                            "param" => Some(ValueSource::Param),
                            "meta" => Some(ValueSource::Meta),
                            _ => None,
                        },
                        "literal, param, meta",
                    )?
                    .unwrap_or_default(),
                })
            }
            "date_expression" => {
                let operation = enum_attr(
                    c,
                    "operation",
                    |v| match v {
                        "in_range" => Some(DateOp::InRange),
                        "gt" => Some(DateOp::Gt),
                        "lt" => Some(DateOp::Lt),
                        "date_spec" => Some(DateOp::DateSpec),
                        _ => None,
                    },
                    "in_range, gt, lt, date_spec",
                )?
                .unwrap_or(DateOp::InRange);
                let attrs_of = |name: &str| -> BTreeMap<String, String> {
                    c.child(name).map(|d| extra_attrs(d, &["id"])).unwrap_or_default()
                };
                Expression::Date(DateExpr {
                    id: opt(c, "id"),
                    operation,
                    start: opt(c, "start"),
                    end: opt(c, "end"),
                    duration: attrs_of("duration"),
                    date_spec: attrs_of("date_spec"),
                })
            }
            "rsc_expression" => Expression::Resource(RscExpr {
                id: opt(c, "id"),
                class: opt(c, "class"),
                provider: opt(c, "provider"),
                agent_type: opt(c, "type"),
            }),
            "op_expression" => Expression::Operation(OpExpr {
                id: opt(c, "id"),
                name: req(c, "name")?.to_string(),
                interval_ms: duration_attr(c, "interval")?,
            }),
            "rule" => Expression::Rule(rule(c)?),
            _ => return Err(unexpected(c, el)),
        };
        r.expressions.push(e);
    }
    Ok(r)
}

fn fencing_level(el: &Element) -> R<FencingLevel> {
    Ok(FencingLevel {
        id: req(el, "id")?.to_string(),
        index: int_attr(el, "index")?.ok_or_else(|| CibError::MissingAttribute {
            element: el.name.clone(),
            attribute: "index",
            pos: el.pos,
        })?,
        target: opt(el, "target"),
        target_pattern: opt(el, "target-pattern"),
        target_attribute: opt(el, "target-attribute"),
        target_value: opt(el, "target-value"),
        devices: req(el, "devices")?.split(',').map(|d| d.trim().to_string()).filter(|d| !d.is_empty()).collect(),
    })
}

fn status(el: &Element) -> R<Status> {
    let mut s = Status::default();
    // Pacemaker skips anything else here (tickets, stray elements written by old tools).
    for n in el.children_named("node_state") {
        s.node_states.push(node_state(n)?);
    }
    Ok(s)
}

fn node_state(el: &Element) -> R<NodeState> {
    let known = ["id", "uname", "in_ccm", "crmd", "join", "expected", "remote_node"];
    // Some old CIBs omit the id of an offline node; its name identifies it then.
    let id = match (el.attr("id"), el.attr("uname")) {
        (Some(id), _) | (None, Some(id)) => id.to_string(),
        (None, None) => req(el, "id")?.to_string(),
    };
    let mut n = NodeState {
        id,
        uname: opt(el, "uname"),
        in_ccm: opt(el, "in_ccm"),
        crmd: opt(el, "crmd"),
        join: opt(el, "join"),
        expected: opt(el, "expected"),
        remote_node: bool_attr(el, "remote_node")?.unwrap_or(false),
        extra: extra_attrs(el, &known),
        ..Default::default()
    };
    for c in &el.children {
        match c.name.as_str() {
            "transient_attributes" => {
                n.transient_attributes.extend(nvsets(c, &["instance_attributes", "utilization"])?);
            }
            "lrm" => {
                for rs in &c.children {
                    if rs.name != "lrm_resources" {
                        return Err(unexpected(rs, c));
                    }
                    for r in &rs.children {
                        if r.name != "lrm_resource" {
                            return Err(unexpected(r, rs));
                        }
                        n.lrm_resources.push(lrm_resource(r)?);
                    }
                }
            }
            _ => return Err(unexpected(c, el)),
        }
    }
    Ok(n)
}

fn lrm_resource(el: &Element) -> R<LrmResource> {
    let mut r = LrmResource {
        id: req(el, "id")?.to_string(),
        class: opt(el, "class"),
        provider: opt(el, "provider"),
        agent_type: opt(el, "type"),
        container: opt(el, "container"),
        ops: Vec::new(),
    };
    let known = [
        "id", "operation", "interval", "rc-code", "op-status", "call-id", "last-rc-change", "exit-reason",
        "on_node", "op-digest", "transition-key", "transition-magic",
    ];
    for o in &el.children {
        if o.name != "lrm_rsc_op" {
            return Err(unexpected(o, el));
        }
        r.ops.push(LrmRscOp {
            id: req(o, "id")?.to_string(),
            operation: req(o, "operation")?.to_string(),
            // History intervals are milliseconds without a unit.
            interval_ms: int_attr(o, "interval")?.unwrap_or(0),
            rc_code: int_attr(o, "rc-code")?.unwrap_or(0),
            op_status: int_attr(o, "op-status")?.unwrap_or(0),
            call_id: int_attr(o, "call-id")?.unwrap_or(0),
            last_rc_change: int_attr(o, "last-rc-change")?,
            exit_reason: opt(o, "exit-reason"),
            on_node: opt(o, "on_node"),
            op_digest: opt(o, "op-digest"),
            transition_key: opt(o, "transition-key"),
            transition_magic: opt(o, "transition-magic"),
            extra: extra_attrs(o, &known),
        });
    }
    Ok(r)
}

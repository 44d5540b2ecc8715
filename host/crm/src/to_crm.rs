//! Renders the model as crm text, in the layout of `crm configure show`: one statement
//! per object, continuation lines indented with a tab. `parse` reads it back unchanged.

use crate::model::*;
use crate::parser::SET_MARKER;

/// crm text for `config`.
pub fn to_crm(config: &CrmConfig) -> String {
    let mut out = String::new();
    for st in &config.statements {
        out.push_str(&statement(st));
        out.push('\n');
    }
    out
}

/// Words separated by spaces; each later part goes on its own continuation line.
fn lines(head: String, parts: Vec<String>) -> String {
    let mut s = head;
    for p in parts {
        s.push_str(" \\\n\t");
        s.push_str(&p);
    }
    s
}

/// Quotes a word when the lexer would otherwise split or reinterpret it.
/// As in `crm configure show`, nvpair values other than plain words (letters, digits,
/// `.`, `-`, `_`) are double-quoted.
fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if plain {
        value.to_string()
    } else {
        quoted(value)
    }
}

/// Rule values are quoted only when the lexer would split or reinterpret them
/// (crmsh's rule parser does not take quoted values with spaces).
fn quote_word(value: &str) -> String {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | '¥'));
    if plain {
        value.to_string()
    } else {
        quoted(value)
    }
}

fn quoted(value: &str) -> String {
    let mut s = String::from("\"");
    for c in value.chars() {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// crmsh shows INFINITY as `inf` (`parse` reads it back as INFINITY).
fn show_score(score: &str) -> String {
    match score {
        "INFINITY" => "inf".into(),
        "+INFINITY" => "+inf".into(),
        "-INFINITY" => "-inf".into(),
        other => other.into(),
    }
}

fn pair(p: &Nvpair) -> String {
    format!("{}={}", p.name, quote(&p.value))
}

fn set(keyword: &str, s: &AttrSet) -> String {
    let mut words = vec![keyword.to_string()];
    words.extend(s.id.as_ref().map(|id| format!("$id={id}")));
    words.extend(s.pairs.iter().map(pair));
    words.join(" ")
}

fn set_keyword(kind: SetKind, node: bool) -> &'static str {
    match kind {
        SetKind::Instance if node => "attributes",
        SetKind::Instance => "params",
        SetKind::Meta => "meta",
        SetKind::Utilization => "utilization",
    }
}

fn statement(st: &Statement) -> String {
    match st {
        Statement::Node(n) => {
            let mut head = String::from("node ");
            if let Some(id) = &n.id {
                head.push_str(&format!("{id}: "));
            }
            head.push_str(&n.uname);
            if let Some(t) = &n.node_type {
                head.push_str(&format!(":{t}"));
            }
            lines(
                head,
                n.sets
                    .iter()
                    .map(|s| set(set_keyword(s.kind, true), s))
                    .collect(),
            )
        }
        Statement::Primitive(p) => {
            // crmsh shows ocf:heartbeat agents by type alone, which parses back the same.
            let agent = match (p.agent.class.as_str(), p.agent.provider.as_deref()) {
                ("ocf", Some("heartbeat")) if !p.agent.kind.contains(':') => p.agent.kind.clone(),
                (class, Some(provider)) => format!("{class}:{provider}:{}", p.agent.kind),
                (class, None) => format!("{class}:{}", p.agent.kind),
            };
            let mut parts: Vec<String> = p
                .sets
                .iter()
                .map(|s| set(set_keyword(s.kind, false), s))
                .collect();
            for op in &p.ops {
                let mut words = vec![format!("op {}", op.name)];
                words.extend(op.attrs.iter().map(pair));
                parts.push(words.join(" "));
                for s in &op.sets {
                    parts.push(set(
                        if s.kind == SetKind::Meta {
                            "op_meta"
                        } else {
                            "op_params"
                        },
                        s,
                    ));
                }
            }
            lines(format!("primitive {} {agent}", p.id), parts)
        }
        Statement::Group(g) => lines(
            format!("group {} {}", g.id, g.members.join(" ")),
            g.sets
                .iter()
                .map(|s| set(set_keyword(s.kind, false), s))
                .collect(),
        ),
        Statement::Clone(c) => {
            let keyword = match c.kind {
                CloneKind::Clone => "clone",
                CloneKind::Master => "ms",
            };
            lines(
                format!("{keyword} {} {}", c.id, c.child),
                c.sets
                    .iter()
                    .map(|s| set(set_keyword(s.kind, false), s))
                    .collect(),
            )
        }
        Statement::Location(l) => {
            let mut head = format!("location {} {}", l.id, l.rsc);
            if let Some(r) = &l.role {
                head.push_str(&format!(" role={r}"));
            }
            if let Some(d) = &l.resource_discovery {
                head.push_str(&format!(" resource-discovery={d}"));
            }
            match &l.target {
                LocationTarget::Node { score, node } => {
                    format!("{head} {}: {node}", show_score(score))
                }
                LocationTarget::Rules(rules) => lines(head, rules.iter().map(rule).collect()),
            }
        }
        Statement::Colocation(c) => {
            let mut s = format!(
                "colocation {} {}: {}",
                c.id,
                show_score(&c.score),
                members(&c.members)
            );
            if let Some(a) = &c.node_attribute {
                s.push_str(&format!(" node-attribute={a}"));
            }
            s
        }
        Statement::Order(o) => {
            let mut s = format!("order {} {}: {}", o.id, o.kind, members(&o.members));
            if let Some(sym) = &o.symmetrical {
                s.push_str(&format!(" symmetrical={sym}"));
            }
            s
        }
        // crmsh names these sets (`ID:`) even when the id is the default one.
        Statement::Property(p) => lines(
            format!(
                "property {}:",
                p.id.as_deref().unwrap_or("cib-bootstrap-options")
            ),
            p.pairs.iter().map(pair).collect(),
        ),
        Statement::RscDefaults(d) => lines(
            format!("rsc_defaults {}:", d.id.as_deref().unwrap_or("rsc-options")),
            d.pairs.iter().map(pair).collect(),
        ),
        Statement::OpDefaults(d) => lines(
            format!("op_defaults {}:", d.id.as_deref().unwrap_or("op-options")),
            d.pairs.iter().map(pair).collect(),
        ),
        Statement::FencingTopology(f) => {
            let mut parts: Vec<String> = Vec::new();
            let mut last_target: Option<&str> = None;
            for level in &f.levels {
                if last_target == Some(level.target.as_str()) {
                    let line = parts.last_mut().expect("a target line was started");
                    line.push(' ');
                    line.push_str(&level.devices);
                } else {
                    parts.push(format!("{}: {}", level.target, level.devices));
                    last_target = Some(&level.target);
                }
            }
            lines("fencing_topology".to_string(), parts)
        }
        Statement::Tag(t) => format!("tag {} {}", t.id, t.refs.join(" ")),
    }
}

fn date_fields(pairs: &[Nvpair]) -> String {
    pairs
        .iter()
        .map(|p| format!("{}={}", p.name, quote_word(&p.value)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn rule(r: &Rule) -> String {
    let mut words = vec!["rule".to_string()];
    words.extend(r.id.as_ref().map(|id| format!("$id={id}")));
    words.extend(r.role.as_ref().map(|role| format!("$role={role}")));
    match &r.score {
        // crmsh leaves out an INFINITY score.
        RuleScore::Score(s) if s == "INFINITY" => {}
        RuleScore::Score(s) => words.push(format!("{}:", show_score(s))),
        RuleScore::Attribute(a) => words.push(format!("{a}:")),
    }
    let exprs: Vec<String> = r
        .expressions
        .iter()
        .map(|x| match x {
            Expression::Compare {
                attribute,
                operation,
                value_type,
                value,
            } => match value_type {
                Some(t) => format!("{attribute} {t}:{operation} {}", quote_word(value)),
                None => format!("{attribute} {operation} {}", quote_word(value)),
            },
            Expression::Defined { attribute, defined } => {
                format!(
                    "{} {attribute}",
                    if *defined { "defined" } else { "not_defined" }
                )
            }
            Expression::Date { operation, date } => {
                format!("date {operation} {}", quote_word(date))
            }
            Expression::DateRange { pairs } => format!("date in {}", date_fields(pairs)),
            Expression::DateSpec { pairs } => format!("date spec {}", date_fields(pairs)),
        })
        .collect();
    words.push(exprs.join(&format!(" {} ", r.boolean_op.as_str())));
    words.join(" ")
}

fn rsc_ref(id: &str, qualifier: Option<&String>) -> String {
    match qualifier {
        Some(q) => format!("{id}:{q}"),
        None => id.to_string(),
    }
}

fn members(m: &Members) -> String {
    match m {
        Members::Pair(a, b) => format!(
            "{} {}",
            rsc_ref(&a.id, a.qualifier.as_ref()),
            rsc_ref(&b.id, b.qualifier.as_ref())
        ),
        Members::Sets(sets) => {
            let text = sets_text(sets);
            // Two (or fewer) plain resources would read back as a pair; crmsh marks set
            // constraints of at most two resources that end outside brackets.
            let refs: usize = sets.iter().map(|s| s.resources.len()).sum();
            let ends_plain = sets.last().is_some_and(|s| {
                s.sequential.as_deref() != Some("false")
                    && s.require_all.as_deref() != Some("false")
            });
            if refs <= 2 && ends_plain {
                format!("{SET_MARKER} {text}")
            } else {
                text
            }
        }
    }
}

fn sets_text(sets: &[ResourceSet]) -> String {
    sets.iter()
        .map(|s| {
            let refs = s
                .resources
                .iter()
                .map(|r| rsc_ref(r, s.qualifier.as_ref()))
                .collect::<Vec<_>>()
                .join(" ");
            let unordered = s.sequential.as_deref() == Some("false");
            match (s.require_all.as_deref() == Some("false"), unordered) {
                (true, true) => format!("[ {refs} ]"),
                (true, false) => format!("[ {refs} sequential=true ]"),
                (false, true) => format!("( {refs} )"),
                (false, false) => refs,
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

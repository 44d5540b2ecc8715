//! Turns lexed statements into the model, following crmsh 4.4.1's grammar.

use std::collections::{HashMap, HashSet};

use crate::error::{CrmError, CrmErrorKind};
use crate::lexer::{self, Token};
use crate::model::*;

/// `<op>` attributes crmsh keeps on the element; other `k=v` words become op instance
/// attributes, and (as in crmsh) must come after these.
const OP_ATTRIBUTES: &[&str] = &[
    "interval",
    "timeout",
    "start-delay",
    "interval-origin",
    "record-pending",
    "role",
    "on-fail",
    "enabled",
    "description",
];

const COMPARE_OPS: &[&str] = &["lt", "gt", "lte", "gte", "eq", "ne"];
const VALUE_TYPES: &[&str] = &["string", "integer", "number", "version"];
const ORDER_KINDS: &[&str] = &["Mandatory", "Optional", "Serialize"];

/// crmsh's marker for "these are resource sets" where the words alone would read as
/// two plain resources; it names no resource.
pub(crate) const SET_MARKER: &str = "_rsc_set_";

/// Parses crm configuration text. `file_name` only labels error positions.
pub fn parse(source: &str, file_name: &str) -> Result<CrmConfig, CrmError> {
    let mut statements = Vec::new();
    let mut ids: HashSet<String> = HashSet::new();
    let lexed = lexer::lex(source, file_name)?;
    for st in &lexed {
        let mut c = Cursor {
            toks: &st.tokens,
            pos: 0,
            file: file_name,
            end: (st.end_line, st.end_column),
        };
        let statement = c.statement()?;
        if let Some(id) = statement
            .object_id()
            .filter(|id| !ids.insert(id.to_string()))
        {
            // Every statement names its object in its second word (`$id=` for nodes).
            let tok = &st.tokens[1];
            return Err(c.error_at(
                tok.line,
                tok.column,
                CrmErrorKind::DuplicateId(id.to_string()),
            ));
        }
        statements.push(statement);
    }
    check_containers(&statements, &lexed, file_name)?;
    Ok(CrmConfig { statements })
}

/// Group members must be primitives, a clone holds a primitive or a group, and a
/// resource sits in at most one container: anything else has no CIB form (and a
/// container holding itself would never finish rendering).
fn check_containers(
    statements: &[Statement],
    lexed: &[lexer::Statement],
    file: &str,
) -> Result<(), CrmError> {
    let kinds: HashMap<&str, &str> = statements
        .iter()
        .filter_map(|s| match s {
            Statement::Primitive(p) => Some((p.id.as_str(), "primitive")),
            Statement::Group(g) => Some((g.id.as_str(), "group")),
            _ => None,
        })
        .collect();
    let kind_of = |id: &str| kinds.get(id).copied();
    let mut owner: HashMap<&str, &str> = HashMap::new();
    for (st, lex) in statements.iter().zip(lexed) {
        let (container, members, allowed, what): (&str, Vec<&String>, &[&str], &str) = match st {
            Statement::Group(g) => (
                &g.id,
                g.members.iter().collect(),
                &["primitive"],
                "a primitive defined in this configuration",
            ),
            Statement::Clone(c) => (
                &c.id,
                vec![&c.child],
                &["primitive", "group"],
                "a primitive or group defined in this configuration",
            ),
            _ => continue,
        };
        for (n, member) in members.into_iter().enumerate() {
            // Members are the words after the container id, in order.
            let tok = &lex.tokens[2 + n];
            let problem = if !kind_of(member).is_some_and(|k| allowed.contains(&k)) {
                Some(what.to_string())
            } else {
                owner
                    .insert(member, container)
                    .map(|other| format!("a resource not already in '{other}'"))
            };
            if let Some(expected) = problem {
                let after = lex.tokens[..2 + n]
                    .iter()
                    .map(|t| t.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                return Err(CrmError {
                    file: file.to_string(),
                    line: tok.line,
                    column: tok.column,
                    kind: CrmErrorKind::Expected {
                        expected,
                        after,
                        found: format!("'{member}'"),
                    },
                });
            }
        }
    }
    Ok(())
}

struct Cursor<'a> {
    toks: &'a [Token],
    pos: usize,
    file: &'a str,
    end: (usize, usize),
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.pos)
    }

    fn peek_text(&self) -> Option<&'a str> {
        self.peek().map(|t| t.text.as_str())
    }

    fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    fn error_at(&self, line: usize, column: usize, kind: CrmErrorKind) -> CrmError {
        CrmError {
            file: self.file.to_string(),
            line,
            column,
            kind,
        }
    }

    /// "expected WHAT after 'words so far', found 'next word'" at the next word.
    fn expected(&self, what: &str) -> CrmError {
        let after = self.toks[..self.pos]
            .iter()
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let (line, column, found) = match self.peek() {
            Some(t) => (t.line, t.column, format!("'{}'", t.text)),
            None => (self.end.0, self.end.1, "end of line".to_string()),
        };
        self.error_at(
            line,
            column,
            CrmErrorKind::Expected {
                expected: what.to_string(),
                after,
                found,
            },
        )
    }

    /// Takes the next word, which must be a plain name (not a bracket or keyword-like `k=v`).
    fn name(&mut self, what: &str) -> Result<String, CrmError> {
        match self.peek() {
            Some(t) if is_name(t) => {
                self.pos += 1;
                Ok(t.text.clone())
            }
            _ => Err(self.expected(what)),
        }
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.peek().is_some_and(|t| !t.quoted && t.text == word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn finish(&self) -> Result<(), CrmError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.expected("end of statement"))
        }
    }

    fn statement(&mut self) -> Result<Statement, CrmError> {
        let head = &self.toks[0];
        self.pos = 1;
        let statement = match head.text.as_str() {
            "node" if !head.quoted => Statement::Node(self.node()?),
            "primitive" if !head.quoted => Statement::Primitive(self.primitive()?),
            "group" if !head.quoted => Statement::Group(self.group()?),
            "clone" if !head.quoted => Statement::Clone(self.clone_like(CloneKind::Clone)?),
            "ms" | "master" if !head.quoted => {
                Statement::Clone(self.clone_like(CloneKind::Master)?)
            }
            "location" if !head.quoted => Statement::Location(self.location()?),
            "colocation" | "collocation" if !head.quoted => {
                Statement::Colocation(self.colocation()?)
            }
            "order" if !head.quoted => Statement::Order(self.order()?),
            "property" if !head.quoted => {
                let id = self.id_prefix()?;
                let pairs = self.pairs(&[], "name=value")?;
                Statement::Property(Property { id, pairs })
            }
            "rsc_defaults" | "op_defaults" if !head.quoted => {
                let id = self.id_prefix()?;
                let pairs = self.pairs(&[], "name=value")?;
                let d = Defaults { id, pairs };
                if head.text == "rsc_defaults" {
                    Statement::RscDefaults(d)
                } else {
                    Statement::OpDefaults(d)
                }
            }
            "fencing_topology" if !head.quoted => {
                Statement::FencingTopology(self.fencing_topology()?)
            }
            "tag" if !head.quoted => Statement::Tag(self.tag()?),
            _ => {
                return Err(self.error_at(
                    head.line,
                    head.column,
                    CrmErrorKind::UnknownStatement(head.text.clone()),
                ));
            }
        };
        self.finish()?;
        Ok(statement)
    }

    /// `$id=ID` or `ID:` naming the object (property and defaults sets, nodes).
    fn id_prefix(&mut self) -> Result<Option<String>, CrmError> {
        if let Some(id) = self.dollar("$id")? {
            return Ok(Some(id));
        }
        match self.peek() {
            Some(t)
                if !t.quoted
                    && t.text.len() > 1
                    && t.text.ends_with(':')
                    && !t.text.contains('=') =>
            {
                self.pos += 1;
                Ok(Some(t.text[..t.text.len() - 1].to_string()))
            }
            _ => Ok(None),
        }
    }

    /// Reads `KEY=value` (e.g. `$id=x`) if it is next.
    fn dollar(&mut self, key: &str) -> Result<Option<String>, CrmError> {
        let Some(t) = self.peek() else {
            return Ok(None);
        };
        let Some(value) = t.text.strip_prefix(key).and_then(|r| r.strip_prefix('=')) else {
            return Ok(None);
        };
        if value.is_empty() {
            return Err(self.expected(&format!("a value for {key}")));
        }
        self.pos += 1;
        Ok(Some(value.to_string()))
    }

    /// `name=value` words up to one of `stops` (or the end).
    fn pairs(&mut self, stops: &[&str], what: &str) -> Result<Vec<Nvpair>, CrmError> {
        let mut pairs = Vec::new();
        while let Some(t) = self.peek() {
            if !t.quoted && stops.contains(&t.text.as_str()) {
                break;
            }
            match split_pair(t) {
                Some(p) => pairs.push(p),
                None if stops.is_empty() => return Err(self.expected(what)),
                None => {
                    return Err(self.expected(&format!("{what} or one of {}", stops.join(", "))));
                }
            }
            self.pos += 1;
        }
        Ok(pairs)
    }

    /// An nvpair block after its keyword: `[$id=ID] name=value ...`.
    fn attr_set(&mut self, kind: SetKind, stops: &[&str]) -> Result<AttrSet, CrmError> {
        let id = self.dollar("$id")?;
        let pairs = self.pairs(stops, "name=value")?;
        Ok(AttrSet { kind, id, pairs })
    }

    fn node(&mut self) -> Result<Node, CrmError> {
        // `$id=ID UNAME`, or `ID: UNAME` as `crm configure show` writes it.
        let id = self.id_prefix()?;
        let word = self.name("a node name")?;
        let (uname, node_type) = match word.split_once(':') {
            Some((u, t)) if !u.is_empty() && !t.is_empty() => (u.to_string(), Some(t.to_string())),
            _ => (word, None),
        };
        let stops = ["attributes", "utilization"];
        let mut sets = Vec::new();
        while let Some(t) = self.peek() {
            let kind = match t.text.as_str() {
                "attributes" => SetKind::Instance,
                "utilization" => SetKind::Utilization,
                _ => return Err(self.expected("'attributes' or 'utilization'")),
            };
            self.pos += 1;
            sets.push(self.attr_set(kind, &stops)?);
        }
        Ok(Node {
            uname,
            id,
            node_type,
            sets,
        })
    }

    fn primitive(&mut self) -> Result<Primitive, CrmError> {
        let id = self.name("a resource id")?;
        let what = "a resource agent (class:provider:type)";
        let agent = match self
            .peek()
            .filter(|t| is_name(t))
            .and_then(|t| parse_agent(&t.text))
        {
            Some(a) => a,
            None => return Err(self.expected(what)),
        };
        self.pos += 1;
        let stops = [
            "params",
            "meta",
            "utilization",
            "op",
            "op_params",
            "op_meta",
        ];
        let mut sets = Vec::new();
        let mut ops: Vec<Op> = Vec::new();
        while let Some(t) = self.peek() {
            match t.text.as_str() {
                "params" | "meta" | "utilization" => {
                    self.pos += 1;
                    let kind = set_kind(&t.text);
                    sets.push(self.attr_set(kind, &stops)?);
                }
                "op" => {
                    self.pos += 1;
                    ops.push(self.op(&stops)?);
                }
                "op_params" | "op_meta" if !ops.is_empty() => {
                    self.pos += 1;
                    let kind = if t.text == "op_params" {
                        SetKind::Instance
                    } else {
                        SetKind::Meta
                    };
                    let set = self.attr_set(kind, &stops)?;
                    ops.last_mut().expect("checked non-empty").sets.push(set);
                }
                _ => return Err(self.expected("'params', 'meta', 'utilization' or 'op'")),
            }
        }
        Ok(Primitive {
            id,
            agent,
            sets,
            ops,
        })
    }

    fn op(&mut self, stops: &[&str]) -> Result<Op, CrmError> {
        let name = self.name("an operation name")?;
        let mut attrs = Vec::new();
        let mut extra: Vec<Nvpair> = Vec::new();
        while let Some(t) = self.peek() {
            if !t.quoted && stops.contains(&t.text.as_str()) {
                break;
            }
            let Some(pair) = split_pair(t) else {
                return Err(
                    self.expected("name=value or one of op, op_params, op_meta, params, meta")
                );
            };
            if OP_ATTRIBUTES.contains(&pair.name.as_str()) {
                if !extra.is_empty() {
                    // crmsh: "Attribute order error: X must appear before any instance attribute".
                    return Err(self.expected(
                        "an instance attribute (op attributes such as interval must come first)",
                    ));
                }
                attrs.push(pair);
            } else {
                extra.push(pair);
            }
            self.pos += 1;
        }
        let mut sets = Vec::new();
        if !extra.is_empty() {
            sets.push(AttrSet {
                kind: SetKind::Instance,
                id: None,
                pairs: extra,
            });
        }
        Ok(Op { name, attrs, sets })
    }

    fn group(&mut self) -> Result<Group, CrmError> {
        let id = self.name("a group id")?;
        let mut members = Vec::new();
        while let Some(t) = self.peek() {
            if matches!(t.text.as_str(), "params" | "meta") || t.text.contains('=') {
                break;
            }
            members.push(self.name("a resource id")?);
        }
        if members.is_empty() {
            return Err(self.expected("a resource id"));
        }
        let sets = self.container_sets()?;
        Ok(Group { id, members, sets })
    }

    fn clone_like(&mut self, kind: CloneKind) -> Result<Clone, CrmError> {
        let id = self.name("a clone id")?;
        let child = self.name("a resource id")?;
        let sets = self.container_sets()?;
        Ok(Clone {
            id,
            kind,
            child,
            sets,
        })
    }

    fn container_sets(&mut self) -> Result<Vec<AttrSet>, CrmError> {
        let stops = ["params", "meta"];
        let mut sets = Vec::new();
        while let Some(t) = self.peek() {
            if !matches!(t.text.as_str(), "params" | "meta") {
                return Err(self.expected("'params' or 'meta'"));
            }
            self.pos += 1;
            sets.push(self.attr_set(set_kind(&t.text), &stops)?);
        }
        Ok(sets)
    }

    fn location(&mut self) -> Result<Location, CrmError> {
        let id = self.name("a constraint id")?;
        let rsc = self.name("a resource id")?;
        let (mut role, mut resource_discovery) = (None, None);
        loop {
            if let Some(r) = self.dollar("role")? {
                role = Some(r);
            } else if let Some(d) = self.dollar("resource-discovery")? {
                resource_discovery = Some(d);
            } else {
                break;
            }
        }
        let target = if self.peek_text() == Some("rule") && role.is_none() {
            let mut rules = Vec::new();
            while self.eat("rule") {
                rules.push(self.rule()?);
            }
            LocationTarget::Rules(rules)
        } else {
            let score = match self
                .peek()
                .and_then(|t| t.text.strip_suffix(':'))
                .and_then(score_value)
            {
                Some(s) => s,
                None => return Err(self.expected("a score or rule")),
            };
            self.pos += 1;
            let node = self.name("a node name")?;
            LocationTarget::Node { score, node }
        };
        Ok(Location {
            id,
            rsc,
            role,
            resource_discovery,
            target,
        })
    }

    fn rule(&mut self) -> Result<Rule, CrmError> {
        let id = self.dollar("$id")?;
        let role = self.dollar("$role")?;
        let what = "a score or score attribute followed by ':'";
        let score = match self.peek().and_then(|t| t.text.strip_suffix(':')) {
            // crmsh (and its `show`) leave out an INFINITY score.
            None => RuleScore::Score("INFINITY".to_string()),
            Some("") => return Err(self.expected(what)),
            Some(word) => {
                let score = if let Some(attr) = word.strip_prefix("score-attribute=") {
                    RuleScore::Attribute(attr.to_string())
                } else if let Some(s) = score_value(word) {
                    RuleScore::Score(s)
                } else if word.contains('=') {
                    return Err(self.expected(what));
                } else {
                    RuleScore::Attribute(word.to_string())
                };
                self.pos += 1;
                score
            }
        };
        let mut expressions = vec![self.expression()?];
        let mut boolean_op: Option<BoolOp> = None;
        while let Some(op) = match self.peek_text() {
            Some("and") => Some(BoolOp::And),
            Some("or") => Some(BoolOp::Or),
            _ => None,
        } {
            if boolean_op.is_some_and(|b| b != op) {
                let other = boolean_op.map(BoolOp::as_str).unwrap_or_default();
                return Err(self.expected(&format!(
                    "'{other}' (a rule joins expressions with one operator)"
                )));
            }
            boolean_op = Some(op);
            self.pos += 1;
            expressions.push(self.expression()?);
        }
        Ok(Rule {
            id,
            role,
            score,
            boolean_op: boolean_op.unwrap_or(BoolOp::And),
            expressions,
        })
    }

    fn expression(&mut self) -> Result<Expression, CrmError> {
        let what = "an expression (ATTR OP VALUE, defined ATTR, not_defined ATTR, date gt|lt DATE)";
        let first = self.name(what)?;
        if first == "defined" || first == "not_defined" {
            let attribute = self.name("a node attribute name")?;
            return Ok(Expression::Defined {
                attribute,
                defined: first == "defined",
            });
        }
        if first == "date" && matches!(self.peek_text(), Some("gt" | "lt")) {
            let operation = self.name("gt or lt")?;
            let date = self.name("a date")?;
            return Ok(Expression::Date { operation, date });
        }
        if first == "date" {
            let range = match self.peek_text() {
                Some("in_range" | "in") => true,
                Some("date_spec" | "spec") => false,
                _ => return Err(self.expected("gt, lt, in_range or date_spec")),
            };
            self.pos += 1;
            let mut pairs = Vec::new();
            while let Some(pair) = self.peek().and_then(split_pair) {
                pairs.push(pair);
                self.pos += 1;
            }
            if pairs.is_empty() {
                return Err(self.expected("name=value"));
            }
            return Ok(if range {
                Expression::DateRange { pairs }
            } else {
                Expression::DateSpec { pairs }
            });
        }
        let op_word = match self.peek() {
            Some(t) => t.text.clone(),
            None => return Err(self.expected("a comparison (lt, gt, lte, gte, eq, ne)")),
        };
        let (value_type, operation) = match op_word.split_once(':') {
            Some((ty, op)) if VALUE_TYPES.contains(&ty) => (Some(ty.to_string()), op.to_string()),
            _ => (None, op_word),
        };
        if !COMPARE_OPS.contains(&operation.as_str()) {
            return Err(self.expected(
                "a comparison ([string:|integer:|number:|version:]lt|gt|lte|gte|eq|ne)",
            ));
        }
        self.pos += 1;
        let value = match self.peek() {
            Some(t) => t.text.clone(),
            None => return Err(self.expected("a value")),
        };
        self.pos += 1;
        Ok(Expression::Compare {
            attribute: first,
            operation,
            value_type,
            value,
        })
    }

    fn colocation(&mut self) -> Result<Colocation, CrmError> {
        let id = self.name("a constraint id")?;
        let score = match self
            .peek()
            .and_then(|t| t.text.strip_suffix(':'))
            .and_then(score_value)
        {
            Some(s) => s,
            None => return Err(self.expected("a score followed by ':'")),
        };
        self.pos += 1;
        let members = self.members(ConstraintKind::Colocation)?;
        let node_attribute = self.dollar("node-attribute")?;
        Ok(Colocation {
            id,
            score,
            members,
            node_attribute,
        })
    }

    fn order(&mut self) -> Result<Order, CrmError> {
        let id = self.name("a constraint id")?;
        let word = self.peek().and_then(|t| t.text.strip_suffix(':'));
        let kind = match word {
            Some(k) if ORDER_KINDS.contains(&k) => k.to_string(),
            // crmsh turns a score into a kind: 0 is Optional, anything else Mandatory.
            Some(s) => match score_value(s) {
                Some(v) if v.parse::<i64>() == Ok(0) => "Optional".to_string(),
                Some(_) => "Mandatory".to_string(),
                None => {
                    return Err(self.expected(
                        "a kind (Mandatory, Optional, Serialize) or score followed by ':'",
                    ));
                }
            },
            None => {
                return Err(self
                    .expected("a kind (Mandatory, Optional, Serialize) or score followed by ':'"));
            }
        };
        self.pos += 1;
        let members = self.members(ConstraintKind::Order)?;
        let symmetrical = self.dollar("symmetrical")?;
        Ok(Order {
            id,
            kind,
            members,
            symmetrical,
        })
    }

    /// The resources of a colocation or order: two plain references, or resource sets.
    fn members(&mut self, kind: ConstraintKind) -> Result<Members, CrmError> {
        let mut items: Vec<Item> = Vec::new();
        let mut force_sets = false;
        while let Some(t) = self.peek() {
            if !t.quoted && t.text == SET_MARKER {
                force_sets = true;
                self.pos += 1;
            } else if !t.quoted && (t.text == "(" || t.text == "[") {
                self.pos += 1;
                items.push(Item::Bracket(self.bracket(t.text == "[")?));
            } else if t.text.contains('=') || (!t.quoted && (t.text == ")" || t.text == "]")) {
                break;
            } else {
                self.pos += 1;
                items.push(Item::Ref(rsc_ref(&t.text)));
            }
        }
        let enough = items.len() >= 2 || (force_sets && !items.is_empty());
        if !enough {
            return Err(self.expected(kind.members_hint()));
        }
        if let ([Item::Ref(a), Item::Ref(b)], false) = (items.as_slice(), force_sets) {
            return Ok(Members::Pair(a.clone(), b.clone()));
        }
        let mut sets: Vec<ResourceSet> = Vec::new();
        let mut run: Vec<RscRef> = Vec::new();
        for item in items {
            match item {
                Item::Ref(r) => run.push(r),
                Item::Bracket(b) => {
                    sets.extend(split_by_qualifier(std::mem::take(&mut run), None, None));
                    sets.extend(b);
                }
            }
        }
        sets.extend(split_by_qualifier(run, None, None));
        Ok(Members::Sets(sets))
    }

    /// `( a b ... )` (sequential=false) or `[ a b ... [sequential=true] ]` (require-all=false).
    fn bracket(&mut self, square: bool) -> Result<Vec<ResourceSet>, CrmError> {
        let close = if square { "]" } else { ")" };
        let mut refs = Vec::new();
        let mut sequential = Some("false".to_string());
        loop {
            let Some(t) = self.peek() else {
                return Err(self.expected(&format!("a resource id or '{close}'")));
            };
            if !t.quoted && t.text == close {
                self.pos += 1;
                break;
            }
            if square && t.text == "sequential=true" {
                sequential = None;
                self.pos += 1;
                continue;
            }
            if !is_name(t) || t.text.contains('=') {
                return Err(self.expected(&format!("a resource id or '{close}'")));
            }
            refs.push(rsc_ref(&t.text));
            self.pos += 1;
        }
        if refs.is_empty() {
            self.pos -= 1;
            return Err(self.expected("a resource id"));
        }
        let require_all = square.then(|| "false".to_string());
        Ok(split_by_qualifier(refs, sequential, require_all))
    }

    fn fencing_topology(&mut self) -> Result<FencingTopology, CrmError> {
        let mut levels: Vec<FencingLevel> = Vec::new();
        let mut target: Option<String> = None;
        let mut index = 0;
        while let Some(t) = self.peek() {
            if let Some(node) = t
                .text
                .strip_suffix(':')
                .filter(|n| !n.is_empty() && !t.quoted)
            {
                target = Some(node.to_string());
                index = 0;
                self.pos += 1;
                continue;
            }
            let Some(node) = target.clone() else {
                return Err(self.expected("a target node followed by ':'"));
            };
            if !is_name(t) || t.text.split(',').any(str::is_empty) {
                return Err(self.expected("fencing device ids (dev1,dev2)"));
            }
            index += 1;
            levels.push(FencingLevel {
                target: node,
                index,
                devices: t.text.clone(),
            });
            self.pos += 1;
        }
        if levels.is_empty() || index == 0 {
            return Err(self.expected("fencing device ids"));
        }
        Ok(FencingTopology { levels })
    }

    fn tag(&mut self) -> Result<Tag, CrmError> {
        let word = self.name("a tag id")?;
        let id = word.strip_suffix(':').unwrap_or(&word).to_string();
        let mut refs = Vec::new();
        while !self.at_end() {
            refs.push(self.name("a resource id")?);
        }
        if refs.is_empty() || id.is_empty() {
            return Err(self.expected("a resource id"));
        }
        Ok(Tag { id, refs })
    }
}

#[derive(Clone, Copy)]
enum ConstraintKind {
    Colocation,
    Order,
}

impl ConstraintKind {
    fn members_hint(self) -> &'static str {
        match self {
            ConstraintKind::Colocation => {
                "two or more resources (RSC[:ROLE] or ( ... ) / [ ... ] sets)"
            }
            ConstraintKind::Order => {
                "two or more resources (RSC[:ACTION] or ( ... ) / [ ... ] sets)"
            }
        }
    }
}

enum Item {
    Ref(RscRef),
    Bracket(Vec<ResourceSet>),
}

/// crmsh starts a new set wherever the role/action changes.
fn split_by_qualifier(
    refs: Vec<RscRef>,
    sequential: Option<String>,
    require_all: Option<String>,
) -> Vec<ResourceSet> {
    let mut sets: Vec<ResourceSet> = Vec::new();
    for r in refs {
        match sets.last_mut() {
            Some(s) if s.qualifier == r.qualifier => s.resources.push(r.id),
            _ => sets.push(ResourceSet {
                resources: vec![r.id],
                sequential: sequential.clone(),
                require_all: require_all.clone(),
                qualifier: r.qualifier,
            }),
        }
    }
    sets
}

fn rsc_ref(word: &str) -> RscRef {
    match word.split_once(':') {
        Some((id, q)) if !id.is_empty() && !q.is_empty() => RscRef {
            id: id.to_string(),
            qualifier: Some(q.to_string()),
        },
        _ => RscRef {
            id: word.to_string(),
            qualifier: None,
        },
    }
}

fn set_kind(word: &str) -> SetKind {
    match word {
        "meta" => SetKind::Meta,
        "utilization" => SetKind::Utilization,
        _ => SetKind::Instance,
    }
}

/// A plain word: not a bracket, not empty.
fn is_name(t: &Token) -> bool {
    !t.text.is_empty() && (t.quoted || !matches!(t.text.as_str(), "(" | ")" | "[" | "]"))
}

fn split_pair(t: &Token) -> Option<Nvpair> {
    let (name, value) = t.text.split_once('=')?;
    (!name.is_empty()).then(|| Nvpair::new(name, value))
}

/// `class:provider:type`, `class:type` or a bare type (crmsh assumes ocf:heartbeat).
fn parse_agent(word: &str) -> Option<Agent> {
    let parts: Vec<&str> = word.splitn(3, ':').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let agent = match parts.as_slice() {
        [kind] => Agent {
            class: "ocf".into(),
            provider: Some("heartbeat".into()),
            kind: kind.to_string(),
        },
        [class, kind] => Agent {
            class: class.to_string(),
            provider: None,
            kind: kind.to_string(),
        },
        [class, provider, kind] => Agent {
            class: class.to_string(),
            provider: Some(provider.to_string()),
            kind: kind.to_string(),
        },
        _ => return None,
    };
    Some(agent)
}

/// A score as crmsh writes it: `inf` spelled out as INFINITY, integers as written.
pub(crate) fn score_value(word: &str) -> Option<String> {
    let lower = word.to_ascii_lowercase();
    let (sign, magnitude) = match lower.as_bytes().first() {
        Some(b'+') => ("+", &lower[1..]),
        Some(b'-') => ("-", &lower[1..]),
        _ => ("", lower.as_str()),
    };
    if magnitude == "inf" || magnitude == "infinity" {
        return Some(format!("{sign}INFINITY"));
    }
    (!magnitude.is_empty() && magnitude.bytes().all(|b| b.is_ascii_digit()))
        .then(|| word.to_string())
}

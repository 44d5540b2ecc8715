//! Rules: the model of `<rule>` and its expressions, and their evaluation against a node's
//! attributes, a resource's parameters and the current time.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::model::Role;
use crate::score::Score;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BoolOp {
    #[default]
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Rule {
    pub id: Option<String>,
    pub score: Option<Score>,
    /// Take the score from this node attribute instead of `score`.
    pub score_attribute: Option<String>,
    pub boolean_op: BoolOp,
    pub role: Option<Role>,
    pub expressions: Vec<Expression>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Expression {
    Attribute(AttrExpr),
    Date(DateExpr),
    Rule(Rule),
    Resource(RscExpr),
    Operation(OpExpr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareOp {
    Lt,
    Gt,
    Lte,
    Gte,
    Eq,
    Ne,
    Defined,
    NotDefined,
}

impl CompareOp {
    pub fn parse(s: &str) -> Option<CompareOp> {
        Some(match s {
            "lt" => CompareOp::Lt,
            "gt" => CompareOp::Gt,
            "lte" => CompareOp::Lte,
            "gte" => CompareOp::Gte,
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "defined" => CompareOp::Defined,
            "not_defined" => CompareOp::NotDefined,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Lt => "lt",
            CompareOp::Gt => "gt",
            CompareOp::Lte => "lte",
            CompareOp::Gte => "gte",
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Defined => "defined",
            CompareOp::NotDefined => "not_defined",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    String,
    Integer,
    Number,
    Version,
}

impl ValueType {
    pub fn parse(s: &str) -> Option<ValueType> {
        Some(match s.to_ascii_lowercase().as_str() {
            "string" => ValueType::String,
            "integer" | "int" => ValueType::Integer,
            "number" => ValueType::Number,
            "version" => ValueType::Version,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Integer => "integer",
            ValueType::Number => "number",
            ValueType::Version => "version",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueSource {
    #[default]
    Literal,
    Param,
    Meta,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttrExpr {
    pub id: Option<String>,
    pub attribute: String,
    pub operation: CompareOp,
    pub value: Option<String>,
    pub value_type: Option<ValueType>,
    pub value_source: ValueSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateOp {
    InRange,
    Gt,
    Lt,
    DateSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DateExpr {
    pub id: Option<String>,
    pub operation: DateOp,
    pub start: Option<String>,
    pub end: Option<String>,
    /// `<duration>` attributes (years, months, weeks, days, hours, minutes, seconds).
    pub duration: BTreeMap<String, String>,
    /// `<date_spec>` attributes (hours="9-16", weekdays="1-5", ...).
    pub date_spec: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RscExpr {
    pub id: Option<String>,
    pub class: Option<String>,
    pub provider: Option<String>,
    pub agent_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpExpr {
    pub id: Option<String>,
    pub name: String,
    pub interval_ms: Option<u64>,
}

/// What a rule is evaluated against. Absent pieces make the matching expressions false.
#[derive(Debug, Clone, Default)]
pub struct RuleContext<'a> {
    /// Node attributes including the built-ins `#uname`, `#id`, `#kind`.
    pub node_attrs: Option<&'a BTreeMap<String, String>>,
    pub rsc_params: Option<&'a BTreeMap<String, String>>,
    pub rsc_meta: Option<&'a BTreeMap<String, String>>,
    /// (class, provider, type) of the resource, for `rsc_expression`.
    pub rsc_agent: Option<(&'a str, Option<&'a str>, &'a str)>,
    /// (name, interval ms) of the operation, for `op_expression`.
    pub op: Option<(&'a str, u64)>,
    /// Seconds since the Unix epoch, for date expressions.
    pub now: Option<i64>,
}

impl Rule {
    pub fn evaluate(&self, ctx: &RuleContext<'_>) -> bool {
        // An empty rule passes, as in Pacemaker.
        if self.expressions.is_empty() {
            return true;
        }
        match self.boolean_op {
            BoolOp::And => self.expressions.iter().all(|e| e.evaluate(ctx)),
            BoolOp::Or => self.expressions.iter().any(|e| e.evaluate(ctx)),
        }
    }
}

impl Expression {
    pub fn evaluate(&self, ctx: &RuleContext<'_>) -> bool {
        match self {
            Expression::Attribute(a) => a.evaluate(ctx),
            Expression::Date(d) => ctx.now.is_some_and(|now| d.evaluate(now)),
            Expression::Rule(r) => r.evaluate(ctx),
            Expression::Resource(r) => ctx.rsc_agent.is_some_and(|(c, p, t)| {
                r.class.as_deref().is_none_or(|x| x == c)
                    && r.provider.as_deref().is_none_or(|x| Some(x) == p)
                    && r.agent_type.as_deref().is_none_or(|x| x == t)
            }),
            Expression::Operation(o) => ctx
                .op
                .is_some_and(|(n, i)| n == o.name && o.interval_ms.is_none_or(|x| x == i)),
        }
    }
}

impl AttrExpr {
    pub fn evaluate(&self, ctx: &RuleContext<'_>) -> bool {
        let actual = ctx.node_attrs.and_then(|m| m.get(&self.attribute)).map(String::as_str);
        match self.operation {
            CompareOp::Defined => return actual.is_some(),
            CompareOp::NotDefined => return actual.is_none(),
            _ => {}
        }
        let expected = match self.value_source {
            ValueSource::Literal => self.value.as_deref(),
            ValueSource::Param => self
                .value
                .as_ref()
                .and_then(|k| ctx.rsc_params.and_then(|m| m.get(k)))
                .map(String::as_str),
            ValueSource::Meta => self
                .value
                .as_ref()
                .and_then(|k| ctx.rsc_meta.and_then(|m| m.get(k)))
                .map(String::as_str),
        };
        let (Some(actual), Some(expected)) = (actual, expected) else {
            // A missing side differs from everything.
            return self.operation == CompareOp::Ne;
        };
        let Some(ord) = compare(actual, expected, self.effective_type(actual, expected)) else {
            return self.operation == CompareOp::Ne;
        };
        match self.operation {
            CompareOp::Lt => ord == Ordering::Less,
            CompareOp::Gt => ord == Ordering::Greater,
            CompareOp::Lte => ord != Ordering::Greater,
            CompareOp::Gte => ord != Ordering::Less,
            CompareOp::Eq => ord == Ordering::Equal,
            CompareOp::Ne => ord != Ordering::Equal,
            CompareOp::Defined | CompareOp::NotDefined => unreachable!("handled above"),
        }
    }

    /// Without an explicit type, ordering comparisons of two numbers are numeric; the rest
    /// compare as strings.
    fn effective_type(&self, a: &str, b: &str) -> ValueType {
        if let Some(t) = self.value_type {
            return t;
        }
        let ordering_op = matches!(self.operation, CompareOp::Lt | CompareOp::Gt | CompareOp::Lte | CompareOp::Gte);
        if ordering_op && a.trim().parse::<f64>().is_ok() && b.trim().parse::<f64>().is_ok() {
            ValueType::Number
        } else {
            ValueType::String
        }
    }
}

/// Compare two values by type; `None` when a value does not parse as that type.
pub fn compare(a: &str, b: &str, ty: ValueType) -> Option<Ordering> {
    match ty {
        ValueType::String => Some(a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase())),
        ValueType::Integer => {
            let x = parse_int_prefix(a)?;
            let y = parse_int_prefix(b)?;
            Some(x.cmp(&y))
        }
        ValueType::Number => {
            let x: f64 = a.trim().parse().ok()?;
            let y: f64 = b.trim().parse().ok()?;
            x.partial_cmp(&y)
        }
        ValueType::Version => Some(compare_versions(a, b)),
    }
}

/// Integers as `strtoll` reads them: a leading integer, ignoring a fractional part.
fn parse_int_prefix(s: &str) -> Option<i64> {
    let t = s.trim();
    let end = t
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map_or(t.len(), |(i, _)| i);
    t[..end].parse().ok()
}

/// Dotted versions compare component by component numerically; missing components are 0.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| -> Vec<u64> {
        s.trim().split('.').map(|p| p.trim().parse::<u64>().unwrap_or(0)).collect()
    };
    let (x, y) = (parts(a), parts(b));
    for i in 0..x.len().max(y.len()) {
        let (p, q) = (x.get(i).copied().unwrap_or(0), y.get(i).copied().unwrap_or(0));
        match p.cmp(&q) {
            Ordering::Equal => continue,
            o => return o,
        }
    }
    Ordering::Equal
}

impl DateExpr {
    pub fn evaluate(&self, now: i64) -> bool {
        let start = self.start.as_deref().and_then(parse_datetime);
        let end = self.end.as_deref().and_then(parse_datetime).or_else(|| {
            let s = start?;
            let d = duration_seconds(&self.duration)?;
            Some(s + d)
        });
        match self.operation {
            DateOp::Gt => start.is_some_and(|s| now > s),
            DateOp::Lt => end.is_some_and(|e| now < e),
            DateOp::InRange => {
                (start.is_some() || end.is_some())
                    && start.is_none_or(|s| now >= s)
                    && end.is_none_or(|e| now <= e)
            }
            DateOp::DateSpec => date_spec_matches(&self.date_spec, now),
        }
    }
}

fn duration_seconds(d: &BTreeMap<String, String>) -> Option<i64> {
    if d.is_empty() {
        return None;
    }
    let mut total = 0i64;
    for (k, v) in d {
        let n: i64 = v.trim().parse().ok()?;
        let unit = match k.as_str() {
            "years" => 365 * 86400,
            "months" => 30 * 86400,
            "weeks" => 7 * 86400,
            "days" => 86400,
            "hours" => 3600,
            "minutes" => 60,
            "seconds" => 1,
            _ => continue,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(total)
}

/// Days since 1970-01-01 for a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) for days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parse `YYYY-MM-DD`, optionally followed by `[T ]HH:MM[:SS]` and `Z`, as UTC seconds.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = match s.find(['T', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let y: i64 = dp.next()?.parse().ok()?;
    let m: i64 = dp.next().map_or(Some(1), |v| v.parse().ok())?;
    let d: i64 = dp.next().map_or(Some(1), |v| v.parse().ok())?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = 0;
    if let Some(t) = time {
        let mut tp = t.split(':');
        let h: i64 = tp.next()?.parse().ok()?;
        let mi: i64 = tp.next().map_or(Some(0), |v| v.parse().ok())?;
        let se: i64 = tp.next().map_or(Some(0), |v| v.parse().ok())?;
        secs = h * 3600 + mi * 60 + se;
    }
    Some(days_from_civil(y, m, d) * 86400 + secs)
}

fn in_ranges(spec: &str, v: i64) -> bool {
    spec.split(',').any(|part| {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) => match (a.trim().parse::<i64>(), b.trim().parse::<i64>()) {
                (Ok(a), Ok(b)) => a <= v && v <= b,
                _ => false,
            },
            None => part.parse::<i64>().is_ok_and(|x| x == v),
        }
    })
}

fn date_spec_matches(spec: &BTreeMap<String, String>, now: i64) -> bool {
    let days = now.div_euclid(86400);
    let secs = now.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    // ISO weekday: Monday = 1 ... Sunday = 7; 1970-01-01 was a Thursday.
    let weekday = (days + 3).rem_euclid(7) + 1;
    let yearday = days - days_from_civil(y, 1, 1) + 1;
    spec.iter().all(|(k, v)| {
        let value = match k.as_str() {
            "years" => y,
            "months" => m,
            "monthdays" => d,
            "weekdays" => weekday,
            "yeardays" => yearday,
            "hours" => secs / 3600,
            "minutes" => (secs / 60) % 60,
            "seconds" => secs % 60,
            _ => return true,
        };
        in_ranges(v, value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn expr(attr: &str, op: CompareOp, value: Option<&str>, ty: Option<ValueType>) -> Expression {
        Expression::Attribute(AttrExpr {
            id: None,
            attribute: attr.into(),
            operation: op,
            value: value.map(Into::into),
            value_type: ty,
            value_source: ValueSource::Literal,
        })
    }

    #[test]
    fn attribute_comparisons() {
        let a = attrs(&[("#uname", "node1"), ("pingd", "200"), ("ver", "1.10.2")]);
        let ctx = RuleContext { node_attrs: Some(&a), ..Default::default() };
        assert!(expr("#uname", CompareOp::Eq, Some("node1"), None).evaluate(&ctx));
        assert!(expr("#uname", CompareOp::Ne, Some("node2"), None).evaluate(&ctx));
        assert!(expr("pingd", CompareOp::Gt, Some("30"), Some(ValueType::Integer)).evaluate(&ctx));
        // As strings "200" < "30".
        assert!(expr("pingd", CompareOp::Lt, Some("30"), Some(ValueType::String)).evaluate(&ctx));
        assert!(expr("pingd", CompareOp::Gte, Some("200.0"), Some(ValueType::Number)).evaluate(&ctx));
        assert!(expr("ver", CompareOp::Gt, Some("1.9"), Some(ValueType::Version)).evaluate(&ctx));
        assert!(expr("pingd", CompareOp::Defined, None, None).evaluate(&ctx));
        assert!(expr("nope", CompareOp::NotDefined, None, None).evaluate(&ctx));
        assert!(!expr("nope", CompareOp::Eq, Some("x"), None).evaluate(&ctx));
    }

    #[test]
    fn boolean_ops() {
        let a = attrs(&[("#uname", "node1")]);
        let ctx = RuleContext { node_attrs: Some(&a), ..Default::default() };
        let yes = expr("#uname", CompareOp::Eq, Some("node1"), None);
        let no = expr("#uname", CompareOp::Eq, Some("node2"), None);
        let mut r = Rule { expressions: vec![yes.clone(), no.clone()], ..Default::default() };
        assert!(!r.evaluate(&ctx));
        r.boolean_op = BoolOp::Or;
        assert!(r.evaluate(&ctx));
    }

    #[test]
    fn dates() {
        let now = parse_datetime("2024-03-05 10:30:00").unwrap();
        let (y, m, d) = civil_from_days(now / 86400);
        assert_eq!((y, m, d), (2024, 3, 5));
        let spec = |k: &str, v: &str| DateExpr {
            id: None,
            operation: DateOp::DateSpec,
            start: None,
            end: None,
            duration: BTreeMap::new(),
            date_spec: [(k.to_string(), v.to_string())].into_iter().collect(),
        };
        assert!(spec("hours", "9-16").evaluate(now));
        assert!(!spec("hours", "11-16").evaluate(now));
        assert!(spec("weekdays", "2").evaluate(now)); // a Tuesday
        let gt = DateExpr { operation: DateOp::Gt, start: Some("2024-01-01".into()), ..spec("x", "1") };
        assert!(gt.evaluate(now));
    }
}

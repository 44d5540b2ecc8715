//! Parse errors name the file, line and column and say what was expected.

use atrium_crm::{CrmErrorKind, parse};

fn error(text: &str) -> String {
    parse(text, "quickstart.crm").unwrap_err().to_string()
}

#[test]
fn location_without_score_or_rule() {
    let mut text: String = (1..12).map(|i| format!("node n{i}\n")).collect();
    text.push_str("location loc1 rsc1 foo\n");
    assert_eq!(
        error(&text),
        "quickstart.crm:12:20: expected a score or rule after 'location loc1 rsc1', found 'foo'"
    );
}

#[test]
fn positions_follow_continuation_lines() {
    let text = "primitive a Dummy \\\n    params x=1 \\\n    op monitor interval=10 bogus\n";
    assert_eq!(
        error(text),
        "quickstart.crm:3:28: expected name=value or one of op, op_params, op_meta, params, meta after \
         'primitive a Dummy params x=1 op monitor interval=10', found 'bogus'"
    );
    // Columns count characters, not bytes.
    assert_eq!(
        error("property ¥\n  a=1 ¥\n  ü b\n"),
        "quickstart.crm:3:3: expected name=value after 'property a=1', found 'ü'"
    );
}

#[test]
fn end_of_line_is_named() {
    assert_eq!(
        error("primitive a"),
        "quickstart.crm:1:12: expected a resource agent (class:provider:type) after 'primitive a', found end of line"
    );
    assert_eq!(
        error("colocation c inf: a\n"),
        "quickstart.crm:1:20: expected two or more resources (RSC[:ROLE] or ( ... ) / [ ... ] sets) after 'colocation c inf: a', found end of line"
    );
    assert_eq!(
        error("order o inf: ( a b\n"),
        "quickstart.crm:1:19: expected a resource id or ')' after 'order o inf: ( a b', found end of line"
    );
}

#[test]
fn statement_level_errors() {
    assert_eq!(
        error("node a\n  primtive b Dummy\n"),
        "quickstart.crm:2:3: expected 'attributes' or 'utilization' after 'node a', found 'primtive'"
    );
    assert!(
        error("primtive b Dummy\n").starts_with("quickstart.crm:1:1: expected a statement keyword")
    );
    assert_eq!(
        error("node a\nproperty x=\"abc\n"),
        "quickstart.crm:2:12: unterminated \" quote"
    );
    assert_eq!(
        error("primitive a Dummy\nprimitive a Dummy\n"),
        "quickstart.crm:2:11: duplicate id 'a'"
    );
    assert_eq!(
        error("group g\n"),
        "quickstart.crm:1:8: expected a resource id after 'group g', found end of line"
    );
    assert_eq!(
        error("fencing_topology dev1 dev2\n"),
        "quickstart.crm:1:18: expected a target node followed by ':' after 'fencing_topology', found 'dev1'"
    );
}

#[test]
fn rule_errors() {
    assert_eq!(
        error("location l r rule 10: a eq 1 and b eq 2 or c eq 3\n"),
        "quickstart.crm:1:41: expected 'and' (a rule joins expressions with one operator) after 'location l r rule 10: a eq 1 and b eq 2', found 'or'"
    );
    assert_eq!(
        error("location l r rule 10: a is 1\n"),
        "quickstart.crm:1:25: expected a comparison ([string:|integer:|number:|version:]lt|gt|lte|gte|eq|ne) after 'location l r rule 10: a', found 'is'"
    );
    assert_eq!(
        error("location l r rule : a eq 1\n"),
        "quickstart.crm:1:19: expected a score or score attribute followed by ':' after 'location l r rule', found ':'"
    );
    assert_eq!(
        error("location l r rule $role=Started\n"),
        "quickstart.crm:1:32: expected an expression (ATTR OP VALUE, defined ATTR, not_defined ATTR, date gt|lt DATE) \
         after 'location l r rule $role=Started', found end of line"
    );
    assert_eq!(
        error("order o Sometimes: a b\n"),
        "quickstart.crm:1:9: expected a kind (Mandatory, Optional, Serialize) or score followed by ':' after 'order o', found 'Sometimes:'"
    );
}

#[test]
fn crmsh_op_attribute_order_is_enforced() {
    let e = parse(
        "primitive a Dummy op monitor depth=1 interval=10\n",
        "f.crm",
    )
    .unwrap_err();
    assert_eq!((e.line, e.column), (1, 38));
    assert!(matches!(e.kind, CrmErrorKind::Expected { .. }));
}

#[test]
fn a_failed_parse_is_repeatable() {
    // parse is pure: the same input gives the same error, and valid input after it is
    // unaffected by the failure.
    let bad = "node a\nlocation l r\n";
    assert_eq!(parse(bad, "x").unwrap_err(), parse(bad, "x").unwrap_err());
    assert!(parse("node a\n", "x").is_ok());
}

#[test]
fn container_members_must_fit_the_cib() {
    assert_eq!(
        error("primitive a Dummy\ngroup g a b\n"),
        "quickstart.crm:2:11: expected a primitive defined in this configuration after 'group g a', found 'b'"
    );
    assert_eq!(
        error("group g g\n"),
        "quickstart.crm:1:9: expected a primitive defined in this configuration after 'group g', found 'g'"
    );
    assert_eq!(
        error("primitive a Dummy\nclone c a\nclone d c\n"),
        "quickstart.crm:3:9: expected a primitive or group defined in this configuration after 'clone d', found 'c'"
    );
    assert_eq!(
        error("primitive a Dummy\ngroup g a\nclone c a\n"),
        "quickstart.crm:3:9: expected a resource not already in 'g' after 'clone c', found 'a'"
    );
    // Members may be defined after their container, as in crmsh.
    assert!(parse("group g a\nprimitive a Dummy\nclone c g\n", "x").is_ok());
}

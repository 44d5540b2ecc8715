//! Parsing agent meta-data XML into [`MetaData`].
//!
//! Accepts what agents in the wild print: OCF 1.0 and 1.1, with or without a DOCTYPE, element
//! and attribute names in any case, `unique` (1.0) or `unique-group` (1.1), old role names
//! (Master/Slave), and the fence-agents dialect (`shortdesc` as an attribute of the root, no
//! `<version>`, actions without timeouts).

use atrium_contract::{ActionSpec, MetaData, ParamType, Parameter};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use std::time::Duration;

/// Pacemaker's default operation timeout, used for actions that do not advertise one.
pub const DEFAULT_ACTION_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("meta-data of {agent} (line {line}, column {column}): {problem}")]
pub struct MetadataError {
    pub agent: String,
    pub line: usize,
    pub column: usize,
    pub problem: String,
}

/// Parses the meta-data `xml` printed by `agent` (the name is only used in errors).
pub fn parse_meta_data(agent: &str, xml: &str) -> Result<MetaData, MetadataError> {
    let root = parse_tree(xml).map_err(|(pos, problem)| error_at(agent, xml, pos, problem))?;
    let fail = |el: &Element, problem: String| error_at(agent, xml, el.pos, problem);
    if root.name != "resource-agent" {
        return Err(fail(&root, format!("root element is <{}>, expected <resource-agent>", root.name)));
    }
    let name =
        root.attr("name").ok_or_else(|| fail(&root, "<resource-agent> has no name attribute".into()))?.to_string();
    let version = root
        .attr("version")
        .map(str::to_string)
        .or_else(|| root.child("version").map(Element::text))
        .unwrap_or_default();
    let (shortdesc, longdesc) = descriptions(&root);

    let mut parameters = Vec::new();
    for p in root.child("parameters").into_iter().flat_map(|ps| ps.children_named("parameter")) {
        let pname = p.attr("name").ok_or_else(|| fail(p, "<parameter> has no name attribute".into()))?.to_string();
        let (shortdesc, longdesc) = descriptions(p);
        let content = p.child("content");
        let unique_group = match p.attr("unique-group") {
            Some(g) => Some(g.to_string()),
            // OCF 1.0 `unique`: this parameter alone must differ between instances.
            None => p.attr("unique").filter(|v| flag(v)).map(|_| pname.clone()),
        };
        parameters.push(Parameter {
            shortdesc,
            longdesc,
            content_type: content.and_then(|c| c.attr("type")).map_or(ParamType::String, ParamType::from_ocf_name),
            default: content.and_then(|c| c.attr("default")).map(str::to_string),
            required: p.attr("required").is_some_and(flag),
            unique_group,
            reloadable: p.attr("reloadable").is_some_and(flag),
            values: content
                .into_iter()
                .flat_map(|c| c.children_named("option"))
                .filter_map(|o| o.attr("value").map(str::to_string))
                .collect(),
            name: pname,
        });
    }

    let mut actions = Vec::new();
    for a in root.child("actions").into_iter().flat_map(|acts| acts.children_named("action")) {
        let aname = a.attr("name").ok_or_else(|| fail(a, "<action> has no name attribute".into()))?;
        let duration = |attr: &str| -> Result<Option<Duration>, MetadataError> {
            a.attr(attr)
                .map(|v| {
                    // Pacemaker reads agent timeouts with the same parser as CIB values.
                    atrium_cib::duration::parse_duration_ms(v)
                        .ok()
                        .map(Duration::from_millis)
                        .ok_or_else(|| fail(a, format!("action {aname}: {attr}=\"{v}\" is not a duration")))
                })
                .transpose()
        };
        let depth = match a.attr("depth") {
            Some(d) => {
                Some(d.trim().parse().map_err(|_| fail(a, format!("action {aname}: depth=\"{d}\" is not a number")))?)
            }
            None => None,
        };
        actions.push(ActionSpec {
            name: aname.to_string(),
            timeout: duration("timeout")?.unwrap_or(DEFAULT_ACTION_TIMEOUT),
            interval: duration("interval")?,
            depth,
            role: a.attr("role").map(normalise_role),
        });
    }
    Ok(MetaData { name, version, shortdesc, longdesc, parameters, actions })
}

/// Short and long description of an element: child elements (English preferred), else the
/// fence-agents `shortdesc` attribute; each stands in for the other when missing.
fn descriptions(el: &Element) -> (String, String) {
    let pick = |tag: &str| {
        let all: Vec<&Element> = el.children_named(tag).collect();
        all.iter()
            .find(|d| {
                d.attr("lang").is_none_or(|l| l.eq_ignore_ascii_case("en") || l.to_ascii_lowercase().starts_with("en-"))
            })
            .or(all.first())
            .map(|d| d.text())
            .filter(|t| !t.is_empty())
    };
    let short = pick("shortdesc").or_else(|| el.attr("shortdesc").map(|s| s.trim().to_string()));
    let long = pick("longdesc");
    match (short, long) {
        (Some(s), Some(l)) => (s, l),
        (Some(s), None) => (s.clone(), s),
        (None, Some(l)) => (l.clone(), l),
        (None, None) => (String::new(), String::new()),
    }
}

fn flag(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on" | "y")
}

/// `Promoted`/`Unpromoted` for all spellings, old and new; other roles capitalised.
fn normalise_role(r: &str) -> String {
    match r.trim().to_ascii_lowercase().as_str() {
        "master" | "promoted" => "Promoted".into(),
        "slave" | "unpromoted" => "Unpromoted".into(),
        other => {
            let mut c = other.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        }
    }
}

fn error_at(agent: &str, xml: &str, pos: usize, problem: String) -> MetadataError {
    let before = &xml.as_bytes()[..pos.min(xml.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.len() - before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
    MetadataError { agent: agent.to_string(), line, column, problem }
}

/// A minimal element tree: names lower-cased, text kept.
#[derive(Debug)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
    /// Byte offset of the start tag, for error positions.
    pos: usize,
}

#[derive(Debug)]
enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn children_named<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Element> + use<'a> {
        let name = name.to_string();
        self.children.iter().filter_map(move |n| match n {
            Node::Element(e) if e.name == *name => Some(e),
            _ => None,
        })
    }

    fn child(&self, name: &str) -> Option<&Element> {
        self.children_named(name).next()
    }

    /// All text below this element, whitespace-trimmed.
    fn text(&self) -> String {
        fn collect(e: &Element, out: &mut String) {
            for n in &e.children {
                match n {
                    Node::Text(t) => out.push_str(t),
                    Node::Element(c) => collect(c, out),
                }
            }
        }
        let mut s = String::new();
        collect(self, &mut s);
        s.trim().to_string()
    }
}

type ParseFailure = (usize, String);

fn parse_tree(xml: &str) -> Result<Element, ParseFailure> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let pos = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| (reader.error_position() as usize, e.to_string()))?;
        let text_failure = |e: quick_xml::Error| (pos, format!("bad text: {e}"));
        match event {
            Event::Start(s) => stack.push(element(&s, pos)?),
            Event::Empty(s) => {
                let el = element(&s, pos)?;
                attach(&mut stack, &mut root, el, pos)?;
            }
            Event::End(_) => {
                let el = stack.pop().expect("quick-xml checks that end tags match start tags");
                attach(&mut stack, &mut root, el, pos)?;
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(text_failure)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Text(text.into_owned())),
                    None if text.trim().is_empty() => {}
                    None => return Err((pos, format!("text outside the root element: {:?}", abbreviate(text.trim())))),
                }
            }
            Event::CData(c) => {
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(Node::Text(String::from_utf8_lossy(&c).into_owned()));
                }
            }
            Event::Eof => {
                if let Some(open) = stack.last() {
                    return Err((xml.len(), format!("document ends inside <{}>", open.name)));
                }
                return root.ok_or_else(|| (0, "no XML element found (empty or non-XML output)".to_string()));
            }
            Event::Decl(_) | Event::PI(_) | Event::DocType(_) | Event::Comment(_) => {}
        }
    }
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element, pos: usize) -> Result<(), ParseFailure> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(el)),
        None if root.is_some() => return Err((pos, format!("second root element <{}>", el.name))),
        None => *root = Some(el),
    }
    Ok(())
}

fn element(s: &BytesStart<'_>, pos: usize) -> Result<Element, ParseFailure> {
    let name = String::from_utf8_lossy(s.name().as_ref()).to_ascii_lowercase();
    let mut attrs = Vec::new();
    for a in s.attributes() {
        let a = a.map_err(|e| (pos, format!("bad attribute in <{name}>: {e}")))?;
        let key = String::from_utf8_lossy(a.key.as_ref()).to_ascii_lowercase();
        let value = a.unescape_value().map_err(|e| (pos, format!("bad value of {key} in <{name}>: {e}")))?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Element { name, attrs, children: Vec::new(), pos })
}

fn abbreviate(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OCF10: &str = r#"<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="Dummy" version="1.0">
<version>1.0</version>
<longdesc lang="en">Long &amp; detailed</longdesc>
<shortdesc lang="en">Example stateless resource agent</shortdesc>
<parameters>
<parameter name="state" unique="1">
<longdesc lang="en">Location to store the resource state in.</longdesc>
<shortdesc lang="en">State file</shortdesc>
<content type="string" default="/run/Dummy.state" />
</parameter>
<parameter name="fake" unique="0" required="1">
<longdesc lang="en">Fake attribute</longdesc>
<shortdesc lang="en">Fake</shortdesc>
<content type="string" default="dummy" />
</parameter>
</parameters>
<actions>
<action name="start"        timeout="20s" />
<action name="monitor"      timeout="20" interval="10s" depth="0" />
<action name="promote"      timeout="2m" />
<action name="monitor"      timeout="20s" interval="11s" role="Slave" />
<action name="monitor"      timeout="20s" interval="10s" role="master" />
</actions>
</resource-agent>
"#;

    #[test]
    fn parses_ocf_1_0_with_doctype_and_old_roles() {
        let md = parse_meta_data("ocf:heartbeat:Dummy", OCF10).unwrap();
        assert_eq!((md.name.as_str(), md.version.as_str()), ("Dummy", "1.0"));
        assert_eq!(md.longdesc, "Long & detailed");
        let state = md.parameter("state").unwrap();
        assert_eq!(state.unique_group.as_deref(), Some("state"));
        assert_eq!(state.default.as_deref(), Some("/run/Dummy.state"));
        let fake = md.parameter("fake").unwrap();
        assert!(fake.required && fake.unique_group.is_none());
        assert_eq!(md.action("monitor").unwrap().timeout, Duration::from_secs(20));
        assert_eq!(md.action("promote").unwrap().timeout, Duration::from_secs(120));
        let roles: Vec<_> = md.actions.iter().filter_map(|a| a.role.as_deref()).collect();
        assert_eq!(roles, ["Unpromoted", "Promoted"]);
    }

    #[test]
    fn parses_ocf_1_1_in_any_case_with_selects() {
        let xml = r#"<Resource-Agent NAME="Stateful" Version="2.1"><VERSION>1.1</VERSION>
          <shortdesc lang="de">Beispiel</shortdesc><shortdesc lang="en">Example</shortdesc>
          <Parameters><Parameter name="state" unique-group="st" reloadable="1">
            <Content type="SELECT" default="a"><option value="a"/><option value="b"/></Content>
          </Parameter><parameter name="n"><content type="integer"/></parameter></Parameters>
          <actions><action name="monitor" timeout="20s" interval="10s" role="Promoted"/></actions></Resource-Agent>"#;
        let md = parse_meta_data("ocf:pacemaker:Stateful", xml).unwrap();
        assert_eq!(md.version, "2.1");
        assert_eq!(md.shortdesc, "Example");
        assert_eq!(md.longdesc, "Example");
        let p = md.parameter("state").unwrap();
        assert_eq!((p.unique_group.as_deref(), p.reloadable, p.content_type), (Some("st"), true, ParamType::Select));
        assert_eq!(p.values, ["a", "b"]);
        assert_eq!(md.parameter("n").unwrap().content_type, ParamType::Integer);
        assert_eq!(md.actions[0].role.as_deref(), Some("Promoted"));
    }

    #[test]
    fn parses_fence_agent_dialect() {
        let xml = r#"<?xml version="1.0" ?>
<resource-agent name="fence_x" shortdesc="Fence agent for X" >
<longdesc>Long text</longdesc>
<vendor-url>https://example.com</vendor-url>
<parameters>
	<parameter name="action" unique="0" required="1">
		<getopt mixed="-o, --action=[action]" />
		<content type="string" default="reboot"  />
		<shortdesc lang="en">Fencing action</shortdesc>
	</parameter>
</parameters>
<actions>
	<action name="on" automatic="0"/>
	<action name="metadata" />
	<action name="monitor" timeout="20s" />
</actions>
</resource-agent>"#;
        let md = parse_meta_data("stonith:fence_x", xml).unwrap();
        assert_eq!(md.shortdesc, "Fence agent for X");
        assert_eq!(md.longdesc, "Long text");
        assert_eq!(md.version, "");
        assert_eq!(md.parameter("action").unwrap().default.as_deref(), Some("reboot"));
        assert_eq!(md.action("on").unwrap().timeout, DEFAULT_ACTION_TIMEOUT);
    }

    #[test]
    fn malformed_xml_names_agent_and_position() {
        let err = parse_meta_data("ocf:test:bad", "<resource-agent name=\"x\">\n  <parameters>\n</resource-agent>")
            .unwrap_err();
        assert_eq!(err.agent, "ocf:test:bad");
        assert_eq!(err.line, 3, "{err}");
        assert!(err.to_string().starts_with("meta-data of ocf:test:bad (line 3"), "{err}");

        let err = parse_meta_data("ocf:test:garbage", "usage: garbage {start|stop}\n").unwrap_err();
        assert!(err.problem.contains("text outside the root element"), "{err}");

        let err = parse_meta_data("ocf:test:empty", "").unwrap_err();
        assert!(err.problem.contains("no XML element"), "{err}");

        let err = parse_meta_data("ocf:test:other", "<html/>").unwrap_err();
        assert!(err.problem.contains("expected <resource-agent>"), "{err}");

        let bad_timeout = "<resource-agent name=\"x\"><actions>\n<action name=\"start\" timeout=\"soon\"/></actions></resource-agent>";
        let err = parse_meta_data("ocf:test:t", bad_timeout).unwrap_err();
        assert_eq!((err.line, err.column), (2, 1), "{err}");
        assert!(err.problem.contains("timeout=\"soon\""), "{err}");
    }
}

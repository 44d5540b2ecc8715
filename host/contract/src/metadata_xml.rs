//! Rendering typed meta-data as OCF meta-data XML.

use crate::MetaData;
use quick_xml::escape::escape;
use std::fmt::Write;
use std::time::Duration;

/// Which XML dialect to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlFlavour {
    /// OCF 1.1: `unique-group` and `reloadable` attributes, version 1.1, no DOCTYPE.
    Ocf11,
    /// OCF 1.0 with the `ra-api-1.dtd` DOCTYPE that ocf-tester validates against (`xmllint
    /// --valid`): that DTD knows only `unique` and `required`, and the types string, integer,
    /// boolean and time.
    RaApi1Dtd,
}

/// Formats a duration as OCF does: whole seconds as `20s`, otherwise milliseconds.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{}s", d.as_secs()) } else { format!("{}ms", d.as_millis()) }
}

impl MetaData {
    pub fn to_ocf_xml(&self, flavour: XmlFlavour) -> String {
        let mut x = String::new();
        x.push_str("<?xml version=\"1.0\"?>\n");
        if flavour == XmlFlavour::RaApi1Dtd {
            x.push_str("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n");
        }
        let ocf_version = if flavour == XmlFlavour::Ocf11 { "1.1" } else { "1.0" };
        let _ = writeln!(x, "<resource-agent name=\"{}\" version=\"{}\">", escape(&self.name), escape(&self.version));
        let _ = writeln!(x, "  <version>{ocf_version}</version>");
        let _ = writeln!(x, "  <longdesc lang=\"en\">{}</longdesc>", escape(&self.longdesc));
        let _ = writeln!(x, "  <shortdesc lang=\"en\">{}</shortdesc>", escape(&self.shortdesc));
        x.push_str("  <parameters>\n");
        for p in &self.parameters {
            let _ = write!(x, "    <parameter name=\"{}\" required=\"{}\"", escape(&p.name), u8::from(p.required));
            match flavour {
                XmlFlavour::Ocf11 => {
                    if let Some(g) = &p.unique_group {
                        let _ = write!(x, " unique-group=\"{}\"", escape(g));
                    }
                    if p.reloadable {
                        x.push_str(" reloadable=\"1\"");
                    }
                }
                XmlFlavour::RaApi1Dtd => {
                    let _ = write!(x, " unique=\"{}\"", u8::from(p.unique_group.is_some()));
                }
            }
            x.push_str(">\n");
            let _ = writeln!(x, "      <longdesc lang=\"en\">{}</longdesc>", escape(&p.longdesc));
            let _ = writeln!(x, "      <shortdesc lang=\"en\">{}</shortdesc>", escape(&p.shortdesc));
            let ty = match (flavour, p.content_type) {
                // The DTD has no port or select type: both carry string values.
                (XmlFlavour::RaApi1Dtd, crate::ParamType::Port | crate::ParamType::Select) => "string",
                (_, t) => t.ocf_name(),
            };
            let _ = write!(x, "      <content type=\"{ty}\"");
            if let Some(d) = &p.default {
                let _ = write!(x, " default=\"{}\"", escape(d));
            }
            if flavour == XmlFlavour::Ocf11 && !p.values.is_empty() {
                x.push_str(">\n");
                for v in &p.values {
                    let _ = writeln!(x, "        <option value=\"{}\"/>", escape(v));
                }
                x.push_str("      </content>\n");
            } else {
                x.push_str("/>\n");
            }
            x.push_str("    </parameter>\n");
        }
        x.push_str("  </parameters>\n  <actions>\n");
        for a in &self.actions {
            let _ = write!(x, "    <action name=\"{}\" timeout=\"{}\"", escape(&a.name), format_duration(a.timeout));
            if let Some(i) = a.interval {
                let _ = write!(x, " interval=\"{}\"", format_duration(i));
            }
            if let Some(d) = a.depth {
                let _ = write!(x, " depth=\"{d}\"");
            }
            if let Some(r) = &a.role {
                let _ = write!(x, " role=\"{}\"", escape(r));
            }
            x.push_str("/>\n");
        }
        x.push_str("  </actions>\n</resource-agent>\n");
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ActionSpec, ParamType, Parameter};

    fn sample() -> MetaData {
        MetaData {
            name: "dummy".into(),
            version: "1.0".into(),
            shortdesc: "A <dummy> & co".into(),
            longdesc: "long".into(),
            parameters: vec![
                Parameter { unique_group: Some("state".into()), reloadable: true, ..Parameter::string("state", "State") },
                Parameter {
                    content_type: ParamType::Select,
                    values: vec!["a".into(), "b".into()],
                    default: Some("a".into()),
                    ..Parameter::string("mode", "Mode")
                },
            ],
            actions: vec![
                ActionSpec::new("start", Duration::from_secs(20)),
                ActionSpec { interval: Some(Duration::from_secs(10)), depth: Some(0), ..ActionSpec::new("monitor", Duration::from_millis(1500)) },
            ],
        }
    }

    #[test]
    fn ocf11_has_unique_group_and_options() {
        let x = sample().to_ocf_xml(XmlFlavour::Ocf11);
        assert!(x.contains("<version>1.1</version>"));
        assert!(x.contains("unique-group=\"state\" reloadable=\"1\""));
        assert!(x.contains("<option value=\"b\"/>"));
        assert!(x.contains("A &lt;dummy&gt; &amp; co"));
        assert!(x.contains("timeout=\"1500ms\" interval=\"10s\" depth=\"0\""));
        assert!(!x.contains("DOCTYPE"));
    }

    #[test]
    fn dtd_flavour_uses_only_dtd_attributes() {
        let x = sample().to_ocf_xml(XmlFlavour::RaApi1Dtd);
        assert!(x.contains("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">"));
        assert!(x.contains("name=\"state\" required=\"0\" unique=\"1\">"));
        assert!(!x.contains("unique-group") && !x.contains("reloadable") && !x.contains("<option"));
        assert!(x.contains("<content type=\"string\" default=\"a\"/>"));
    }
}

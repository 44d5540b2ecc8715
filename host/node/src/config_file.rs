//! Loading a configuration file: Pacemaker CIB XML or crm shell syntax, told apart by content.

use anyhow::{Context, Result};
use atrium_cib::Cib;
use std::path::Path;

/// The two languages a configuration file may be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    CibXml,
    Crm,
}

pub fn detect(text: &str) -> Language {
    if text.trim_start().starts_with('<') { Language::CibXml } else { Language::Crm }
}

/// Parses `text` (from `name`, for error messages) into a CIB. crm syntax becomes the
/// configuration of an otherwise empty CIB, as `crm configure load` into a fresh cluster would.
pub fn parse(text: &str, name: &str) -> Result<Cib> {
    match detect(text) {
        Language::CibXml => Cib::from_xml(text).with_context(|| format!("{name}: not a valid CIB")),
        Language::Crm => {
            let config = atrium_crm::parse(text, name).map_err(anyhow::Error::msg)?;
            let xml = atrium_crm::merge_into_cib(atrium_crm::EMPTY_CIB, &config).with_context(|| format!("{name}: building the CIB"))?;
            Cib::from_xml(&xml).map_err(|e| {
                // The error's position is in the XML made from the crm text: name the crm
                // statement that made the element instead.
                let place = error_position(&e).and_then(|pos| crm_line_of(text, &xml, pos.line));
                match place {
                    Some((line, id)) => anyhow::anyhow!("{name}:{line}: in {id}: {}", without_position(&e)),
                    None => anyhow::anyhow!("{name}: {e}"),
                }
            })
        }
    }
}

fn error_position(e: &atrium_cib::CibError) -> Option<atrium_cib::Position> {
    use atrium_cib::CibError::*;
    match e {
        Syntax { pos, .. } | MissingAttribute { pos, .. } | BadAttribute { pos, .. } | UnexpectedElement { pos, .. } | Invalid { pos, .. } => Some(*pos),
        NotACib { .. } => None,
    }
}

/// The error's text without the XML position (`<op>: attribute "interval": ...`).
fn without_position(e: &atrium_cib::CibError) -> String {
    match error_position(e) {
        Some(pos) => e.to_string().replacen(&format!(" at {pos}"), "", 1),
        None => e.to_string(),
    }
}

/// The crm line defining the nearest element at or above XML line `xml_line` that has an id
/// a crm statement starts with (`primitive ID`, `location ID`, ...), and that id.
fn crm_line_of(crm: &str, xml: &str, xml_line: usize) -> Option<(usize, String)> {
    let lines: Vec<&str> = xml.lines().collect();
    for l in lines[..xml_line.min(lines.len())].iter().rev() {
        let Some(id) = l.split(" id=\"").nth(1).and_then(|r| r.split('"').next()) else { continue };
        let found = crm.lines().position(|c| {
            let mut words = c.split_whitespace();
            words.next().is_some_and(|w| w.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')) && words.next() == Some(id)
        });
        if let Some(n) = found {
            return Some((n + 1, id.to_string()));
        }
    }
    None
}

pub fn load(path: &Path) -> Result<Cib> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_value_in_crm_names_the_crm_line_and_statement() {
        let text = "primitive ok wasm:atrium:dummy\n\nprimitive broken wasm:atrium:dummy \\\n    op monitor interval=\n";
        let e = format!("{:#}", parse(text, "bad.crm").unwrap_err());
        assert!(e.starts_with("bad.crm:3: in broken: <op>: attribute \"interval\""), "{e}");
    }
}

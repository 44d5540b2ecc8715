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
    let xml = match detect(text) {
        Language::CibXml => text.to_string(),
        Language::Crm => {
            let config = atrium_crm::parse(text, name).map_err(anyhow::Error::msg)?;
            atrium_crm::merge_into_cib(atrium_crm::EMPTY_CIB, &config).with_context(|| format!("{name}: building the CIB"))?
        }
    };
    Cib::from_xml(&xml).with_context(|| format!("{name}: not a valid CIB"))
}

pub fn load(path: &Path) -> Result<Cib> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text, &path.display().to_string())
}

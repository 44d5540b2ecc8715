//! atrium-crm: the crm shell (crmsh 4.4.1) configuration syntax, both ways.
//!
//! - [`parse`] reads crm text into a [`CrmConfig`] (a pure function: errors carry
//!   `file:line:column` and what was expected).
//! - [`to_xml`] renders the CIB `<configuration>` element exactly as crmsh writes it
//!   (elements, attributes, values, generated ids); [`merge_into_cib`] puts it into a
//!   whole CIB document such as [`EMPTY_CIB`].
//! - [`from_xml`] reads CIB XML back and [`to_crm`] prints crm text, like
//!   `crm configure show`; [`cib_to_crm`] does both.

mod error;
mod from_xml;
mod lexer;
mod model;
mod parser;
mod to_crm;
mod to_xml;
pub mod xml;

pub use error::{CrmError, CrmErrorKind, XmlError};
pub use from_xml::from_xml;
pub use model::*;
pub use parser::parse;
pub use to_crm::to_crm;
pub use to_xml::{EMPTY_CIB, merge_into_cib};

/// The `<configuration>` element for `config`, pretty-printed like `cibadmin -Q`.
pub fn to_xml(config: &CrmConfig) -> String {
    to_xml::configuration(config).to_string_pretty()
}

/// crm text for a CIB document or `<configuration>` element.
pub fn cib_to_crm(xml: &str) -> Result<String, XmlError> {
    Ok(to_crm(&from_xml(xml)?))
}

//! Typed errors: crm text parse errors (with file, line and column) and CIB XML errors.

use thiserror::Error;

/// What went wrong while reading crm text; the position lives in [`CrmError`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CrmErrorKind {
    /// The parser wanted one thing and saw another. `after` is the statement read so far.
    #[error("expected {expected} after '{after}', found {found}")]
    Expected {
        expected: String,
        after: String,
        found: String,
    },
    #[error(
        "expected a statement keyword (node, primitive, group, clone, ms, location, colocation, order, property, rsc_defaults, op_defaults, fencing_topology, tag), found '{0}'"
    )]
    UnknownStatement(String),
    #[error("unterminated {0} quote")]
    UnterminatedQuote(char),
    #[error("duplicate id '{0}'")]
    DuplicateId(String),
}

/// A crm parse error at `file:line:column` (1-based; the column counts characters).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}:{line}:{column}: {kind}")]
pub struct CrmError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub kind: CrmErrorKind,
}

/// Errors reading or merging CIB XML.
#[derive(Debug, Error)]
pub enum XmlError {
    #[error("malformed XML at byte {position}: {message}")]
    Malformed { position: u64, message: String },
    #[error("<{element}> lacks the required attribute '{attribute}'")]
    MissingAttribute { element: String, attribute: String },
    #[error("expected <{expected}>, found <{found}>")]
    UnexpectedElement { expected: String, found: String },
    #[error("<{element} id=\"{id}\"> cannot be expressed in crm syntax: {reason}")]
    Unsupported {
        element: String,
        id: String,
        reason: String,
    },
}

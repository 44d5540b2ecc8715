//! Typed errors for reading a CIB.

use thiserror::Error;

/// A value that does not parse (score, duration, boolean, enumeration, integer).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    #[error("invalid score {0:?}")]
    Score(String),
    #[error("invalid duration {0:?}")]
    Duration(String),
    #[error("invalid boolean {0:?}")]
    Bool(String),
    #[error("invalid integer {0:?}")]
    Integer(String),
    #[error("invalid value {value:?} (expected one of: {expected})")]
    Enum { value: String, expected: &'static str },
    #[error("must not be empty")]
    Empty,
}

/// Where in the input an element starts (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// An error reading CIB XML.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CibError {
    #[error("XML syntax error at {pos}: {message}")]
    Syntax { pos: Position, message: String },
    #[error("unexpected root element <{found}> (expected <cib>)")]
    NotACib { found: String },
    #[error("<{element}> at {pos} lacks required attribute {attribute:?}")]
    MissingAttribute { element: String, attribute: &'static str, pos: Position },
    #[error("<{element}> at {pos}: attribute {attribute:?}: {source}")]
    BadAttribute {
        element: String,
        attribute: String,
        pos: Position,
        #[source]
        source: ValueError,
    },
    #[error("<{element}> at {pos} is not supported inside <{parent}>")]
    UnexpectedElement { element: String, parent: String, pos: Position },
    #[error("<{element}> at {pos}: {message}")]
    Invalid { element: String, pos: Position, message: String },
}

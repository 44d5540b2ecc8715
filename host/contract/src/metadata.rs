use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The type of a parameter's value (OCF `content type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Integer,
    Boolean,
    /// A duration such as `20s`.
    Time,
    Port,
    Select,
}

impl ParamType {
    pub fn ocf_name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Boolean => "boolean",
            ParamType::Time => "time",
            ParamType::Port => "port",
            ParamType::Select => "select",
        }
    }

    /// Parses OCF content types case-insensitively; unknown ones (agents in the wild use
    /// `second`, `numeric`, `file` ...) count as strings, as Pacemaker treats them.
    pub fn from_ocf_name(s: &str) -> ParamType {
        match s.trim().to_ascii_lowercase().as_str() {
            "integer" | "int" | "numeric" | "number" => ParamType::Integer,
            "boolean" | "bool" => ParamType::Boolean,
            "time" | "second" | "seconds" | "timeout" => ParamType::Time,
            "port" => ParamType::Port,
            "select" => ParamType::Select,
            _ => ParamType::String,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameter {
    pub name: String,
    pub shortdesc: String,
    pub longdesc: String,
    pub content_type: ParamType,
    pub default: Option<String>,
    pub required: bool,
    /// Parameters in one unique group must differ between resources (OCF 1.1).
    pub unique_group: Option<String>,
    pub reloadable: bool,
    /// Allowed values of a `select` parameter.
    pub values: Vec<String>,
}

impl Parameter {
    /// A plain optional string parameter; refine with struct update syntax.
    pub fn string(name: &str, shortdesc: &str) -> Self {
        Parameter {
            name: name.into(),
            shortdesc: shortdesc.into(),
            longdesc: shortdesc.into(),
            content_type: ParamType::String,
            default: None,
            required: false,
            unique_group: None,
            reloadable: false,
            values: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionSpec {
    pub name: String,
    pub timeout: Duration,
    pub interval: Option<Duration>,
    pub depth: Option<u32>,
    /// `Promoted` or `Unpromoted` (old names `Master`/`Slave` are normalised on input).
    pub role: Option<String>,
}

impl ActionSpec {
    pub fn new(name: &str, timeout: Duration) -> Self {
        ActionSpec { name: name.into(), timeout, interval: None, depth: None, role: None }
    }
}

/// Typed agent meta-data, the same for WASM agents and OCF scripts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaData {
    pub name: String,
    pub version: String,
    pub shortdesc: String,
    pub longdesc: String,
    pub parameters: Vec<Parameter>,
    pub actions: Vec<ActionSpec>,
}

impl MetaData {
    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    pub fn action(&self, name: &str) -> Option<&ActionSpec> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// Whether the agent advertises promote/demote (a promotable agent).
    pub fn is_promotable(&self) -> bool {
        self.action("promote").is_some() && self.action("demote").is_some()
    }
}

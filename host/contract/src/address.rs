use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which runner an agent needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentClass {
    /// An OCF script under OCF_ROOT/resource.d/<provider>/<type>.
    Ocf,
    /// A fence agent (fence-agents executable, or a WASM fence component).
    Stonith,
    /// A WASM component run by the sandboxed runtime.
    Wasm,
}

impl AgentClass {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentClass::Ocf => "ocf",
            AgentClass::Stonith => "stonith",
            AgentClass::Wasm => "wasm",
        }
    }
}

/// An agent name as Pacemaker writes it: `ocf:heartbeat:Dummy`, `stonith:fence_ipmilan`,
/// `wasm:atrium:dummy`. A bare name means the built-in WASM agent of that name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AgentAddress {
    pub class: AgentClass,
    /// The OCF provider or WASM namespace; `None` for stonith.
    pub provider: Option<String>,
    pub kind: String,
}

/// The provider that built-in WASM agents live under.
pub const BUILTIN_PROVIDER: &str = "atrium";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("agent name is empty")]
    Empty,
    #[error("agent class '{class}' in '{name}' is not supported (use ocf:, stonith: or wasm:)")]
    UnknownClass { name: String, class: String },
    #[error("agent name '{name}' needs a provider: {class}:PROVIDER:TYPE")]
    MissingProvider { name: String, class: String },
    #[error("agent name '{name}' has too many ':' parts")]
    TooManyParts { name: String },
    #[error("agent name '{name}' has an empty part or a character outside [A-Za-z0-9_.-]")]
    BadPart { name: String },
}

impl AgentAddress {
    pub fn wasm_builtin(kind: &str) -> Self {
        AgentAddress { class: AgentClass::Wasm, provider: Some(BUILTIN_PROVIDER.into()), kind: kind.into() }
    }
}

fn valid_part(p: &str) -> bool {
    !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl FromStr for AgentAddress {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        let parts: Vec<&str> = s.split(':').collect();
        let name = s.to_string();
        if parts.iter().any(|p| !valid_part(p)) {
            return Err(AddressError::BadPart { name });
        }
        let class_of = |c: &str| match c {
            "ocf" => Ok(AgentClass::Ocf),
            "stonith" => Ok(AgentClass::Stonith),
            "wasm" => Ok(AgentClass::Wasm),
            other => Err(AddressError::UnknownClass { name: name.clone(), class: other.into() }),
        };
        match parts.as_slice() {
            [kind] => Ok(AgentAddress::wasm_builtin(kind)),
            [class, kind] => match class_of(class)? {
                AgentClass::Stonith => Ok(AgentAddress { class: AgentClass::Stonith, provider: None, kind: kind.to_string() }),
                c => Err(AddressError::MissingProvider { name: name.clone(), class: c.as_str().into() }),
            },
            [class, provider, kind] => {
                let class = class_of(class)?;
                Ok(AgentAddress { class, provider: Some(provider.to_string()), kind: kind.to_string() })
            }
            _ => Err(AddressError::TooManyParts { name }),
        }
    }
}

impl fmt::Display for AgentAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.provider {
            Some(p) => write!(f, "{}:{}:{}", self.class.as_str(), p, self.kind),
            None => write!(f, "{}:{}", self.class.as_str(), self.kind),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pacemaker_style_names() {
        let a: AgentAddress = "ocf:heartbeat:Dummy".parse().unwrap();
        assert_eq!((a.class, a.provider.as_deref(), a.kind.as_str()), (AgentClass::Ocf, Some("heartbeat"), "Dummy"));
        let f: AgentAddress = "stonith:fence_ipmilan".parse().unwrap();
        assert_eq!((f.class, f.provider, f.kind.as_str()), (AgentClass::Stonith, None, "fence_ipmilan"));
        assert_eq!("dummy".parse::<AgentAddress>().unwrap().to_string(), "wasm:atrium:dummy");
        assert_eq!("wasm:atrium:stateful".parse::<AgentAddress>().unwrap(), AgentAddress::wasm_builtin("stateful"));
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!("".parse::<AgentAddress>(), Err(AddressError::Empty));
        assert!(matches!("lsb:foo:bar".parse::<AgentAddress>(), Err(AddressError::UnknownClass { .. })));
        assert!(matches!("ocf:Dummy".parse::<AgentAddress>(), Err(AddressError::MissingProvider { .. })));
        assert!(matches!("a:b:c:d".parse::<AgentAddress>(), Err(AddressError::TooManyParts { .. })));
        assert!(matches!("ocf:../x:y".parse::<AgentAddress>(), Err(AddressError::BadPart { .. })));
    }
}

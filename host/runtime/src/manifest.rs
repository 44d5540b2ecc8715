//! Agent manifests (what an agent asks of the host) and grants (what the administrator allows).

use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A host capability an agent can import (one WIT interface each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    Log,
    State,
    Clock,
    NodeAttributes,
    Exec,
    Http,
}

impl Capability {
    pub const ALL: [Capability; 6] =
        [Capability::Log, Capability::State, Capability::Clock, Capability::NodeAttributes, Capability::Exec, Capability::Http];

    pub fn name(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::State => "state",
            Capability::Clock => "clock",
            Capability::NodeAttributes => "node-attributes",
            Capability::Exec => "exec",
            Capability::Http => "http",
        }
    }

    /// Capabilities that reach nothing outside the agent's own resource and node (node
    /// attributes are writable on the local node only): granted whenever the manifest asks. Exec and HTTP reach the outside world and always need the
    /// administrator's allowlist.
    pub fn is_benign(self) -> bool {
        !matches!(self, Capability::Exec | Capability::Http)
    }

    /// Maps an import name such as `atrium:agent/exec@0.1.0` to a capability.
    pub fn from_import(name: &str) -> Option<Capability> {
        let rest = name.strip_prefix("atrium:agent/")?;
        let iface = rest.split('@').next()?;
        Capability::ALL.into_iter().find(|c| c.name() == iface)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Capability {
    type Err = ManifestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| ManifestError::UnknownCapability(s.to_string()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("unknown capability '{0}' (known: log, state, clock, node-attributes, exec, http)")]
    UnknownCapability(String),
    #[error("unknown agent kind '{0}' (expected resource or fence)")]
    UnknownKind(String),
    #[error("bad grant '{0}': expected CAPABILITY or exec:PROGRAM or http:ENDPOINT")]
    BadGrant(String),
    #[error("bad http endpoint '{0}': expected unix:///path/to.sock or http://host:port")]
    BadEndpoint(String),
}

/// Resource agent or fence agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentKind {
    Resource,
    Fence,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    kind: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    exec: Vec<String>,
    #[serde(default)]
    http: Vec<String>,
}

/// What an agent says it needs, shipped beside (or inside) the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: String,
    pub kind: AgentKind,
    pub description: String,
    pub capabilities: BTreeSet<Capability>,
    /// Programs the agent wants to run through `exec`.
    pub exec: Vec<String>,
    /// Endpoints the agent wants to reach through `http`.
    pub http: Vec<Endpoint>,
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let raw: RawManifest = toml::from_str(text)?;
        let kind = match raw.kind.as_str() {
            "resource" => AgentKind::Resource,
            "fence" => AgentKind::Fence,
            other => return Err(ManifestError::UnknownKind(other.into())),
        };
        let capabilities = raw.capabilities.iter().map(|c| c.parse()).collect::<Result<_, _>>()?;
        let http = raw.http.iter().map(|e| e.parse()).collect::<Result<_, _>>()?;
        Ok(Manifest { name: raw.name, kind, description: raw.description, capabilities, exec: raw.exec, http })
    }
}

/// An HTTP endpoint an agent may reach: a unix socket or a TCP host and port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    Unix(String),
    Tcp { host: String, port: u16 },
}

impl FromStr for Endpoint {
    type Err = ManifestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ManifestError::BadEndpoint(s.to_string());
        if let Some(path) = s.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(bad());
            }
            return Ok(Endpoint::Unix(path.to_string()));
        }
        let rest = s.strip_prefix("http://").ok_or_else(bad)?.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
            None => (rest, 80),
        };
        if host.is_empty() || host.contains('/') {
            return Err(bad());
        }
        Ok(Endpoint::Tcp { host: host.to_string(), port })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix://{p}"),
            Endpoint::Tcp { host, port } => write!(f, "http://{host}:{port}"),
        }
    }
}

/// What the administrator allows one agent: capabilities plus the exec and HTTP allowlists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub capabilities: BTreeSet<Capability>,
    pub exec: BTreeSet<String>,
    pub http: BTreeSet<Endpoint>,
}

impl Grants {
    /// The grants given without asking: every benign capability the manifest requests.
    pub fn benign_from(manifest: &Manifest) -> Grants {
        Grants {
            capabilities: manifest.capabilities.iter().copied().filter(|c| c.is_benign()).collect(),
            ..Grants::default()
        }
    }

    /// Adds one grant written as `CAPABILITY`, `exec:PROGRAM` or `http:ENDPOINT`
    /// (for example `exec:virsh`, `http:unix:///var/run/docker.sock`).
    pub fn add(&mut self, grant: &str) -> Result<(), ManifestError> {
        if let Some(program) = grant.strip_prefix("exec:") {
            if program.is_empty() {
                return Err(ManifestError::BadGrant(grant.into()));
            }
            self.capabilities.insert(Capability::Exec);
            self.exec.insert(program.to_string());
        } else if let Some(endpoint) = grant.strip_prefix("http:") {
            self.capabilities.insert(Capability::Http);
            self.http.insert(endpoint.parse()?);
        } else {
            let cap: Capability = grant.parse().map_err(|_| ManifestError::BadGrant(grant.into()))?;
            if !cap.is_benign() {
                // exec/http without a target would allow nothing; say so rather than pretend.
                return Err(ManifestError::BadGrant(grant.into()));
            }
            self.capabilities.insert(cap);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_manifest_and_benign_grants() {
        let m = Manifest::parse(
            "name = \"docker\"\nkind = \"resource\"\ncapabilities = [\"log\", \"http\"]\nhttp = [\"unix:///var/run/docker.sock\"]\n",
        )
        .unwrap();
        assert_eq!(m.http, vec![Endpoint::Unix("/var/run/docker.sock".into())]);
        let g = Grants::benign_from(&m);
        assert!(g.capabilities.contains(&Capability::Log));
        assert!(!g.capabilities.contains(&Capability::Http));
    }

    #[test]
    fn rejects_unknown_capability_and_fields() {
        let e = Manifest::parse("name = \"x\"\nkind = \"resource\"\ncapabilities = [\"root\"]\n").unwrap_err();
        assert!(e.to_string().contains("unknown capability 'root'"), "{e}");
        assert!(Manifest::parse("name = \"x\"\nkind = \"resource\"\nfoo = 1\n").is_err());
    }

    #[test]
    fn grants_parse() {
        let mut g = Grants::default();
        g.add("exec:virsh").unwrap();
        g.add("http:http://127.0.0.1:2375").unwrap();
        g.add("state").unwrap();
        assert!(g.exec.contains("virsh"));
        assert!(g.http.contains(&Endpoint::Tcp { host: "127.0.0.1".into(), port: 2375 }));
        assert!(g.add("exec").is_err());
        assert!(g.add("http:ftp://x").is_err());
        assert_eq!(Capability::from_import("atrium:agent/exec@0.1.0"), Some(Capability::Exec));
        assert_eq!(Capability::from_import("wasi:cli/stdout@0.2.6"), None);
    }
}

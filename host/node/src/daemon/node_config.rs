//! `node.toml`: what one node of a real deployment needs to know (`atrium node run --config`).

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use atrium_cluster::{Member, Timings};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This node's name (its `uname` in the CIB).
    pub name: String,
    /// This node's id among `members`.
    pub id: u64,
    /// Address for cluster traffic (Raft, liveness), `host:port`.
    pub listen: String,
    /// Address of the HTTP API, `host:port`.
    pub api: String,
    pub data_dir: PathBuf,
    /// The cluster key (`atrium cluster init` writes one).
    pub key_file: PathBuf,
    /// `postgres://...` to keep the log and history in PostgreSQL; SQLite under `data_dir`
    /// when absent.
    #[serde(default)]
    pub database_url: Option<String>,
    /// PostgreSQL schema for this node's tables (created if missing), so that several nodes
    /// or clusters can share one database; `public` when absent.
    #[serde(default)]
    pub database_schema: Option<String>,
    /// Every node of the cluster, this one included.
    pub members: Vec<MemberConfig>,
    #[serde(default)]
    pub timings: TimingsConfig,
    /// Extra capabilities granted to WASM agents, by agent: `"wasm:atrium:docker" = ["http:unix:/run/docker.sock"]`.
    #[serde(default)]
    pub grants: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "QuorumConfig::is_default")]
    pub quorum: QuorumConfig,
}

/// The `[quorum]` table, after corosync's `quorum` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuorumConfig {
    /// Two members only: the survivor of a split fences its peer and carries on alone
    /// (`daemon::two_node`).
    #[serde(default)]
    pub two_node: bool,
    /// With `two_node`: take over only after having seen the peer since starting. On by
    /// default, as corosync turns it on with two_node.
    #[serde(default)]
    pub wait_for_all: Option<bool>,
}

impl QuorumConfig {
    fn is_default(&self) -> bool {
        *self == QuorumConfig::default()
    }

    pub fn wait_for_all(&self) -> bool {
        self.wait_for_all.unwrap_or(self.two_node)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberConfig {
    pub id: u64,
    pub name: String,
    pub addr: String,
    pub api: String,
}

/// Liveness and election knobs in milliseconds; unset ones keep atrium-cluster's defaults for
/// the cluster's size.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimingsConfig {
    pub heartbeat_ms: Option<u64>,
    pub election_timeout_min_ms: Option<u64>,
    pub election_timeout_max_ms: Option<u64>,
    pub node_lost_ms: Option<u64>,
    pub lease_ms: Option<u64>,
}

impl TimingsConfig {
    pub fn to_timings(&self, members: usize) -> Timings {
        let mut t = Timings::for_members(members);
        let set = |field: &mut Duration, ms: Option<u64>| {
            if let Some(ms) = ms {
                *field = Duration::from_millis(ms);
            }
        };
        set(&mut t.heartbeat, self.heartbeat_ms);
        set(&mut t.election_timeout_min, self.election_timeout_min_ms);
        set(&mut t.election_timeout_max, self.election_timeout_max_ms);
        set(&mut t.node_lost, self.node_lost_ms);
        set(&mut t.lease, self.lease_ms);
        t
    }
}

impl NodeConfig {
    /// Each member's IP address (for fence_kdump's source check), where its `addr` names one
    /// or resolves to one.
    pub fn member_addresses(&self) -> BTreeMap<String, std::net::IpAddr> {
        use std::net::ToSocketAddrs;
        self.members.iter().filter_map(|m| Some((m.name.clone(), m.addr.to_socket_addrs().ok()?.next()?.ip()))).collect()
    }

    pub fn load(path: &Path) -> Result<NodeConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let config: NodeConfig = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        config.check().with_context(|| format!("{}", path.display()))?;
        Ok(config)
    }

    pub fn check(&self) -> Result<()> {
        let me = self.members.iter().find(|m| m.id == self.id);
        match me {
            None => bail!("field `id`: {} is not among `members`", self.id),
            Some(m) if m.name != self.name => bail!("field `name`: member {} is called {:?}, not {:?}", self.id, m.name, self.name),
            Some(_) => {}
        }
        let mut seen = std::collections::BTreeSet::new();
        for m in &self.members {
            if !seen.insert(m.id) {
                bail!("field `members`: id {} appears twice", m.id);
            }
            if m.id == 0 {
                bail!("field `members`: node ids start at 1");
            }
        }
        if self.quorum.two_node && self.members.len() != 2 {
            bail!("field `quorum.two_node`: needs exactly two members, not {}", self.members.len());
        }
        if self.quorum.wait_for_all.is_some() && !self.quorum.two_node {
            bail!("field `quorum.wait_for_all`: only applies with two_node = true");
        }
        Ok(())
    }

    /// In two-node mode, the other member's name.
    pub fn two_node_peer(&self) -> Option<&str> {
        self.quorum.two_node.then(|| self.members.iter().find(|m| m.id != self.id)).flatten().map(|m| m.name.as_str())
    }

    pub fn cluster_members(&self) -> Vec<Member> {
        self.members.iter().map(|m| Member::new(m.id, m.name.clone(), m.addr.clone())).collect()
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a node configuration always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "node1"
id = 1
listen = "10.0.0.1:7400"
api = "10.0.0.1:7401"
data_dir = "/var/lib/atrium"
key_file = "/etc/atrium/authkey"

[[members]]
id = 1
name = "node1"
addr = "10.0.0.1:7400"
api = "10.0.0.1:7401"

[timings]
node_lost_ms = 900
"#;

    #[test]
    fn parses_checks_and_round_trips() {
        let c: NodeConfig = toml::from_str(GOOD).unwrap();
        c.check().unwrap();
        assert_eq!(c.timings.to_timings(c.members.len()).node_lost, Duration::from_millis(900));
        let again: NodeConfig = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn errors_name_the_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, GOOD.replace("id = 1\nlisten", "id = 2\nlisten")).unwrap();
        let e = format!("{:#}", NodeConfig::load(&path).unwrap_err());
        assert!(e.contains("node.toml") && e.contains("field `id`"), "{e}");
        std::fs::write(&path, GOOD.replace("node_lost_ms", "node_lots_ms")).unwrap();
        let e = format!("{:#}", NodeConfig::load(&path).unwrap_err());
        assert!(e.contains("line 16") && e.contains("node_lots_ms"), "{e}");
        std::fs::write(&path, format!("{GOOD}\n[quorum]\ntwo_node = true\n")).unwrap();
        let e = format!("{:#}", NodeConfig::load(&path).unwrap_err());
        assert!(e.contains("quorum.two_node") && e.contains("exactly two members"), "{e}");
    }

    #[test]
    fn two_node_names_the_peer_and_waits_for_all_by_default() {
        let two = GOOD.replace("[timings]", "[[members]]\nid = 2\nname = \"node2\"\naddr = \"10.0.0.2:7400\"\napi = \"10.0.0.2:7401\"\n\n[timings]");
        let mut c: NodeConfig = toml::from_str(&format!("{two}\n[quorum]\ntwo_node = true\n")).unwrap();
        c.check().unwrap();
        assert_eq!(c.two_node_peer(), Some("node2"));
        assert!(c.quorum.wait_for_all());
        assert_eq!(toml::from_str::<NodeConfig>(&c.to_toml()).unwrap(), c);
        c.quorum.wait_for_all = Some(false);
        assert!(!c.quorum.wait_for_all());
        let plain: NodeConfig = toml::from_str(&two).unwrap();
        assert_eq!(plain.two_node_peer(), None);
        assert!(!plain.to_toml().contains("quorum"));
    }
}

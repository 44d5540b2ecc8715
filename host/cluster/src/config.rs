//! Node configuration: who this node is, whom it starts with, the cluster key and the timings.

use std::time::Duration;

use atrium_transport::ClusterKey;

use crate::error::ClusterError;
use crate::types::{NodeId, NodeInfo};

/// One voting member: Raft id, node name and transport address (`host:port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: NodeId,
    pub name: String,
    pub addr: String,
}

impl Member {
    pub fn new(id: NodeId, name: impl Into<String>, addr: impl Into<String>) -> Self {
        Self {
            id,
            name: name.into(),
            addr: addr.into(),
        }
    }

    pub(crate) fn info(&self) -> NodeInfo {
        NodeInfo {
            name: self.name.clone(),
            addr: self.addr.clone(),
        }
    }
}

/// Failure detection and timeout knobs. The defaults detect a lost node in under a second on a
/// LAN and ride through a DC failover without any node reporting loss of quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timings {
    /// Raft heartbeat, and the period of the lease heartbeats each node sends to the leader.
    /// openraft also uses it as the timeout of one AppendEntries round trip.
    pub heartbeat: Duration,
    /// A follower that hears no leader for a random time in `[min, max)` (plus openraft's
    /// leader lease of `max`) starts an election.
    pub election_timeout_min: Duration,
    pub election_timeout_max: Duration,
    /// The leader reports a node lost when no lease heartbeat came from it for this long.
    pub node_lost: Duration,
    /// A node that has not heard from a quorate leader for this long reports `quorate: false`.
    /// It must outlast a DC failover (openraft's leader lease + an election, about
    /// `2 * election_timeout_max`), or every failover would look like a loss of quorum.
    pub lease: Duration,
    /// How long `propose`, `add_member` and `remove_member` wait for a quorate leader and
    /// its answer before failing.
    pub request_timeout: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_millis(100),
            election_timeout_min: Duration::from_millis(400),
            election_timeout_max: Duration::from_millis(800),
            node_lost: Duration::from_millis(600),
            lease: Duration::from_millis(2000),
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// Members up to which the defaults hold as they are.
const UNSCALED_MEMBERS: usize = 16;

impl Timings {
    /// The defaults for a cluster of `members` nodes. Beyond 16 members the heartbeat grows by
    /// 5 ms, the election timeouts by 40 ms and `node_lost` by 25 ms per member (the lease with
    /// them), as corosync's token timeout grows per node: the leader's heartbeat round to every
    /// follower, and any burst of results from all of them, take longer, and with 32 nodes the
    /// defaults gave false elections and lost nodes under load.
    pub fn for_members(members: usize) -> Timings {
        let mut t = Timings::default();
        let extra = members.saturating_sub(UNSCALED_MEMBERS) as u32;
        if extra > 0 {
            // The heartbeat is also openraft's AppendEntries timeout: a loaded leader of many
            // followers needs longer than 100 ms for some of them.
            t.heartbeat += Duration::from_millis(5) * extra;
            t.election_timeout_min += Duration::from_millis(40) * extra;
            t.election_timeout_max = t.election_timeout_min * 2;
            t.node_lost += Duration::from_millis(25) * extra;
            t.lease = t.lease.max(t.election_timeout_max * 2 + Duration::from_millis(500));
        }
        t
    }

    fn validate(&self) -> Result<(), ClusterError> {
        let invalid = |reason: String| Err(ClusterError::InvalidConfig(reason));
        if self.heartbeat.is_zero() {
            return invalid("heartbeat must be positive".into());
        }
        if self.election_timeout_min <= self.heartbeat {
            return invalid(format!(
                "election_timeout_min ({:?}) must exceed the heartbeat ({:?})",
                self.election_timeout_min, self.heartbeat
            ));
        }
        if self.election_timeout_max <= self.election_timeout_min {
            return invalid(format!(
                "election_timeout_max ({:?}) must exceed election_timeout_min ({:?})",
                self.election_timeout_max, self.election_timeout_min
            ));
        }
        if self.node_lost <= self.heartbeat * 2 {
            return invalid(format!(
                "node_lost ({:?}) must exceed two heartbeats ({:?})",
                self.node_lost, self.heartbeat
            ));
        }
        if self.lease <= self.election_timeout_max * 2 {
            return invalid(format!(
                "lease ({:?}) must outlast a DC failover, twice election_timeout_max ({:?})",
                self.lease, self.election_timeout_max
            ));
        }
        if self.request_timeout.is_zero() {
            return invalid("request_timeout must be positive".into());
        }
        Ok(())
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// When the state is snapshotted and the log before the snapshot dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// Build a snapshot after this many log entries since the last one.
    pub every: u64,
    /// Log entries kept behind a snapshot, so a briefly lagging follower still catches up
    /// from the log instead of receiving the whole snapshot.
    pub keep: u64,
}

impl Default for SnapshotPolicy {
    fn default() -> Self {
        Self {
            every: 5000,
            keep: 1000,
        }
    }
}

/// Everything a node needs to start.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub node_id: NodeId,
    pub node_name: String,
    /// Address the transport listens on (`host:port`; port 0 is not useful: peers must know it).
    pub listen_addr: String,
    /// The voters a fresh cluster starts with. The member with the lowest id writes the first
    /// membership; a node not in the list waits to be added with `add_member`. Ignored once
    /// the node has a persisted log.
    pub initial_members: Vec<Member>,
    pub key: ClusterKey,
    pub timings: Timings,
    pub snapshots: SnapshotPolicy,
    /// Two-node quorum, as corosync's `two_node` gives it to Pacemaker: two voters, where a
    /// Raft majority would need both. The survivor of a split fences its peer (the node layer
    /// does that) and then takes the cluster over alone
    /// ([`Cluster::take_over_from_fenced_peer`](crate::Cluster::take_over_from_fenced_peer));
    /// the fenced node, once back, is admitted again. `initial_members` must then be exactly
    /// this node and its peer.
    pub two_node: bool,
}

impl ClusterConfig {
    /// A configuration with the default timings and snapshot policy.
    pub fn new(
        node_id: NodeId,
        node_name: impl Into<String>,
        listen_addr: impl Into<String>,
        initial_members: Vec<Member>,
        key: ClusterKey,
    ) -> Self {
        Self {
            node_id,
            node_name: node_name.into(),
            listen_addr: listen_addr.into(),
            initial_members,
            key,
            timings: Timings::default(),
            snapshots: SnapshotPolicy::default(),
            two_node: false,
        }
    }

    /// In two-node mode, the other member.
    pub(crate) fn two_node_peer(&self) -> Option<&Member> {
        if !self.two_node {
            return None;
        }
        self.initial_members.iter().find(|m| m.id != self.node_id)
    }

    pub(crate) fn raft_config(&self) -> Result<openraft::Config, ClusterError> {
        let t = &self.timings;
        let config = openraft::Config {
            cluster_name: "atrium".into(),
            heartbeat_interval: millis(t.heartbeat),
            election_timeout_min: millis(t.election_timeout_min),
            election_timeout_max: millis(t.election_timeout_max),
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(self.snapshots.every),
            max_in_snapshot_log_to_keep: self.snapshots.keep,
            // A follower further behind than this gets the snapshot instead of the log.
            replication_lag_threshold: self.snapshots.every,
            // Snapshot chunks travel as JSON arrays of numbers (about 4 bytes per byte); keep
            // each well under the transport's 16 MiB frame limit.
            snapshot_max_chunk_size: 1024 * 1024,
            // In two-node mode, when a node may campaign is decided by `election`: a stale
            // node must not push its term past the survivor that removed it.
            enable_elect: !self.two_node,
            ..openraft::Config::default()
        };
        config
            .validate()
            .map_err(|e| ClusterError::InvalidConfig(e.to_string()))
    }

    pub(crate) fn validate(&self) -> Result<(), ClusterError> {
        self.timings.validate()?;
        if self.snapshots.every == 0 {
            return Err(ClusterError::InvalidConfig(
                "snapshots.every must be positive".into(),
            ));
        }
        let mut ids: Vec<NodeId> = self.initial_members.iter().map(|m| m.id).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(ClusterError::InvalidConfig(
                "initial_members lists a node id twice".into(),
            ));
        }
        if self.two_node
            && (self.initial_members.len() != 2
                || !self.initial_members.iter().any(|m| m.id == self.node_id))
        {
            return Err(ClusterError::InvalidConfig(format!(
                "two_node needs exactly two initial members, this node one of them (got {})",
                self.initial_members.len()
            )));
        }
        if let Some(me) = self.initial_members.iter().find(|m| m.id == self.node_id)
            && me.name != self.node_name
        {
            return Err(ClusterError::InvalidConfig(format!(
                "initial_members names node {} {:?}, but this node is {:?}",
                self.node_id, me.name, self.node_name
            )));
        }
        Ok(())
    }

    /// Whether this node writes the first membership of a fresh cluster.
    pub(crate) fn is_bootstrapper(&self) -> bool {
        self.initial_members.iter().map(|m| m.id).min() == Some(self.node_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(timings: Timings) -> ClusterConfig {
        let key = ClusterKey::from_bytes(vec![1; 32]).expect("key");
        let members = vec![
            Member::new(1, "a", "127.0.0.1:1"),
            Member::new(2, "b", "127.0.0.1:2"),
        ];
        ClusterConfig {
            timings,
            ..ClusterConfig::new(1, "a", "127.0.0.1:1", members, key)
        }
    }

    #[test]
    fn defaults_are_valid_and_accepted_by_openraft() {
        let config = config(Timings::default());
        config.validate().expect("valid");
        config.raft_config().expect("openraft accepts it");
        assert!(config.is_bootstrapper());
    }

    #[test]
    fn large_clusters_get_longer_timeouts_that_stay_valid() {
        assert_eq!(Timings::for_members(3), Timings::default());
        assert_eq!(Timings::for_members(16), Timings::default());
        let t32 = Timings::for_members(32);
        assert_eq!(t32.election_timeout_min, Duration::from_millis(1040));
        assert_eq!(t32.node_lost, Duration::from_millis(1000));
        assert_eq!(t32.heartbeat, Duration::from_millis(180));
        for members in [17, 32, 64, 200] {
            let config = config(Timings::for_members(members));
            config.validate().expect("valid");
            config.raft_config().expect("openraft accepts it");
        }
    }

    #[test]
    fn inconsistent_settings_are_refused() {
        let bad = [
            Timings {
                election_timeout_min: Duration::from_millis(900),
                ..Timings::default()
            },
            Timings {
                heartbeat: Duration::from_millis(500),
                ..Timings::default()
            },
            Timings {
                node_lost: Duration::from_millis(150),
                ..Timings::default()
            },
            Timings {
                lease: Duration::from_millis(1000),
                ..Timings::default()
            },
        ];
        for timings in bad {
            let result = config(timings.clone()).validate();
            assert!(
                matches!(result, Err(ClusterError::InvalidConfig(_))),
                "{timings:?}: {result:?}"
            );
        }
        let mut misnamed = config(Timings::default());
        misnamed.node_name = "z".into();
        assert!(misnamed.validate().is_err());
        let mut duplicate = config(Timings::default());
        duplicate
            .initial_members
            .push(Member::new(2, "c", "127.0.0.1:3"));
        assert!(duplicate.validate().is_err());
        let mut three = config(Timings::default());
        three
            .initial_members
            .push(Member::new(3, "c", "127.0.0.1:3"));
        three.two_node = true;
        assert!(three.validate().is_err());
        let mut two = config(Timings::default());
        two.two_node = true;
        two.validate().expect("two members are fine");
        assert!(!two.raft_config().expect("accepted").enable_elect);
        assert_eq!(two.two_node_peer().map(|m| m.id), Some(2));
    }
}

//! The crate's error type.

use std::time::Duration;

use crate::types::NodeId;

/// Why starting a node or a cluster request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("invalid cluster configuration: {0}")]
    InvalidConfig(String),
    #[error("transport: {0}")]
    Transport(#[from] atrium_transport::TransportError),
    #[error("raft storage: {0}")]
    Storage(#[from] atrium_db::Error),
    #[error("stored raft data is unreadable: {0}")]
    Corrupt(String),
    #[error("cannot restore the state machine from its snapshot: {0}")]
    Restore(String),
    #[error("no quorate leader within {waited:?}: this node cannot reach a majority of voters")]
    NoQuorum { waited: Duration },
    /// The request reached the leader (or may have), so it may still be committed.
    #[error("leader {leader} did not answer within {waited:?}; the request may still be committed")]
    Timeout { leader: NodeId, waited: Duration },
    /// The connection to the leader broke after the request was sent: it may be committed.
    #[error(
        "connection to leader {leader} lost mid-request; the request may still be committed: {reason}"
    )]
    Indeterminate { leader: NodeId, reason: String },
    #[error("membership change refused: {0}")]
    Membership(String),
    #[error("raft: {0}")]
    Raft(String),
    #[error("the cluster node has shut down")]
    ShutDown,
}

pub type Result<T, E = ClusterError> = std::result::Result<T, E>;

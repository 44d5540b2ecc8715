//! Atrium's membership, quorum and DC election: a replicated state machine on openraft,
//! carried over atrium-transport.
//!
//! ```text
//! config        ClusterConfig, Member, Timings, SnapshotPolicy (defaults, validation)
//! state         ReplicatedState (the application's state machine), ApplyContext
//! types         openraft TypeConfig<S>, NodeId, NodeInfo
//! storage       Storage: in memory or atrium-db (SQLite / PostgreSQL)
//! log_store     openraft RaftLogStorage on Storage
//! state_machine openraft RaftStateMachine around a ReplicatedState, snapshots
//! rpc           request/response calls multiplexed on transport connections
//! protocol      the messages between nodes; one client per peer
//! network       openraft RaftNetwork over rpc
//! service       answers peers' requests
//! forward       proposals and membership changes, served by (or forwarded to) the leader
//! liveness      lease heartbeats: node liveness and quorum
//! election      re-election guard against openraft 0.9's split-vote live-lock; two-node gate
//! two_node      two-node quorum: stand-in for a fenced peer, who may campaign, re-admission
//! status        ClusterStatus and its watch
//! cluster       Cluster: the handle tying it together
//! error         ClusterError
//! ```

// openraft's traits fix the error types of storage and network calls (StorageError is over
// 200 bytes); boxing them is not ours to choose.
#![allow(clippy::result_large_err)]

mod cluster;
mod config;
mod election;
mod error;
mod forward;
mod liveness;
mod log_store;
mod network;
mod protocol;
mod rpc;
mod service;
mod state;
mod state_machine;
mod status;
mod storage;
mod two_node;
mod types;

pub use atrium_transport::ClusterKey;
pub use cluster::Cluster;
pub use config::{ClusterConfig, Member, SnapshotPolicy, Timings};
pub use error::{ClusterError, Result};
pub use liveness::NodeLiveness;
pub use state::{ApplyContext, ReplicatedState};
pub use status::ClusterStatus;
pub use storage::Storage;
pub use types::{NodeId, NodeInfo};

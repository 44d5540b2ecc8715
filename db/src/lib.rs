//! atrium-db: what an Atrium node must keep across a crash of every node.
//!
//! - the Raft log, vote, committed log id and latest snapshot ([`RaftStore`]),
//! - the configuration history ([`ConfigHistory`]),
//! - the operation history of resource agent actions ([`OpHistory`]),
//! - cluster events ([`Events`]).
//!
//! [`Database::open`] takes a file path or `sqlite:` URL (SQLite, the embedded default) or a
//! `postgres://` URL, migrates the schema and hands out the stores above. Writes are durable
//! when they return. Times are unix milliseconds passed in by the caller: this crate reads
//! no clock.

mod backend;
mod config_history;
mod error;
mod events;
mod op_history;
mod open;
mod raft_store;

pub use backend::Backend;
pub use config_history::{Actor, ConfigChange, ConfigChangeSummary, ConfigHistory, Recorded};
pub use error::{Error, Result};
pub use events::{Event, EventFilter, EventRecord, Events, Severity};
pub use op_history::{OpHistory, OpRecord, OpResult};
pub use open::Database;
pub use raft_store::{LogEntry, LogId, LogState, RaftStore, Snapshot, Vote};

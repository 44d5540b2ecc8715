//! Where a node keeps its Raft log, vote and snapshot: in memory (tests, benchmarks, or nodes
//! that may lose everything) or durably through atrium-db (SQLite or PostgreSQL).
//!
//! Both speak atrium-db's vocabulary (opaque payload bytes, `(term, index)` log ids), so the
//! openraft adapters above are written once.

use std::collections::BTreeMap;
use std::ops::RangeBounds;
use std::sync::{Arc, Mutex, MutexGuard};

use atrium_db::{Database, LogEntry, LogId, LogState, RaftStore, Snapshot, Vote};

/// A node's Raft storage. Cloning shares it: hand a clone back to a restarted node and it
/// resumes from the same log.
#[derive(Clone, Debug)]
pub struct Storage(Backend);

#[derive(Clone, Debug)]
enum Backend {
    Memory(Arc<Mutex<Memory>>),
    Database(RaftStore),
}

#[derive(Debug, Default)]
struct Memory {
    log: BTreeMap<u64, LogEntry>,
    last_purged: Option<LogId>,
    vote: Option<Vote>,
    committed: Option<LogId>,
    snapshot: Option<Snapshot>,
}

type Result<T> = std::result::Result<T, atrium_db::Error>;

impl Storage {
    /// Volatile storage: survives a restart of the node only while this value (or a clone)
    /// is kept and handed back.
    pub fn memory() -> Self {
        Self(Backend::Memory(Arc::default()))
    }

    /// Durable storage in an atrium-db database.
    pub fn database(store: RaftStore) -> Self {
        Self(Backend::Database(store))
    }

    /// Opens (creating and migrating if needed) a database by file path, `sqlite:` or
    /// `postgres://` URL, and uses its Raft store.
    pub async fn open(location: &str) -> Result<Self> {
        Ok(Self::database(Database::open(location).await?.raft()))
    }

    fn memory_guard(memory: &Mutex<Memory>) -> MutexGuard<'_, Memory> {
        // Every mutation below completes before the guard drops, so a panic elsewhere
        // cannot leave the data half-written.
        memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) async fn append(&self, entries: &[LogEntry]) -> Result<()> {
        match &self.0 {
            Backend::Memory(m) => {
                let mut m = Self::memory_guard(m);
                for e in entries {
                    m.log.insert(e.index, e.clone());
                }
                Ok(())
            }
            Backend::Database(db) => db.append(entries).await,
        }
    }

    pub(crate) async fn truncate_from(&self, index: u64) -> Result<()> {
        match &self.0 {
            Backend::Memory(m) => {
                Self::memory_guard(m).log.split_off(&index);
                Ok(())
            }
            Backend::Database(db) => db.truncate_from(index).await,
        }
    }

    pub(crate) async fn purge(&self, upto: LogId) -> Result<()> {
        match &self.0 {
            Backend::Memory(m) => {
                let mut m = Self::memory_guard(m);
                m.log = m.log.split_off(&(upto.index + 1));
                if m.last_purged.is_none_or(|p| p.index < upto.index) {
                    m.last_purged = Some(upto);
                }
                Ok(())
            }
            Backend::Database(db) => db.purge(upto).await,
        }
    }

    pub(crate) async fn entries(&self, range: impl RangeBounds<u64>) -> Result<Vec<LogEntry>> {
        match &self.0 {
            Backend::Memory(m) => Ok(Self::memory_guard(m)
                .log
                .range(range)
                .map(|(_, e)| e.clone())
                .collect()),
            Backend::Database(db) => db.entries(range).await,
        }
    }

    pub(crate) async fn log_state(&self) -> Result<LogState> {
        match &self.0 {
            Backend::Memory(m) => {
                let m = Self::memory_guard(m);
                let last = m.log.values().next_back().map(|e| LogId {
                    index: e.index,
                    term: e.term,
                });
                Ok(LogState {
                    last_purged: m.last_purged,
                    last: last.or(m.last_purged),
                })
            }
            Backend::Database(db) => db.log_state().await,
        }
    }

    pub(crate) async fn save_vote(&self, vote: &Vote) -> Result<()> {
        match &self.0 {
            Backend::Memory(m) => {
                Self::memory_guard(m).vote = Some(*vote);
                Ok(())
            }
            Backend::Database(db) => db.save_vote(vote).await,
        }
    }

    pub(crate) async fn vote(&self) -> Result<Option<Vote>> {
        match &self.0 {
            Backend::Memory(m) => Ok(Self::memory_guard(m).vote),
            Backend::Database(db) => db.vote().await,
        }
    }

    pub(crate) async fn save_committed(&self, committed: Option<LogId>) -> Result<()> {
        match &self.0 {
            Backend::Memory(m) => {
                Self::memory_guard(m).committed = committed;
                Ok(())
            }
            Backend::Database(db) => db.save_committed(committed).await,
        }
    }

    pub(crate) async fn committed(&self) -> Result<Option<LogId>> {
        match &self.0 {
            Backend::Memory(m) => Ok(Self::memory_guard(m).committed),
            Backend::Database(db) => db.committed().await,
        }
    }

    pub(crate) async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        match &self.0 {
            Backend::Memory(m) => {
                Self::memory_guard(m).snapshot = Some(snapshot.clone());
                Ok(())
            }
            Backend::Database(db) => db.save_snapshot(snapshot).await,
        }
    }

    pub(crate) async fn snapshot(&self) -> Result<Option<Snapshot>> {
        match &self.0 {
            Backend::Memory(m) => Ok(Self::memory_guard(m).snapshot.clone()),
            Backend::Database(db) => db.snapshot().await,
        }
    }
}

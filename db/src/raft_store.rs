//! Raft storage: log entries, vote, committed log id and the latest snapshot.
//!
//! Generic on purpose: payloads are bytes and snapshot metadata is JSON, so the node layer
//! maps openraft's types onto these and this crate does not depend on openraft. Every write
//! returns only after it is durable (see `open.rs` for the sync settings).

use std::ops::{Bound, RangeBounds};

use crate::Database;
use crate::backend::{BeginWrite, Fetch, to_sql, with_pool};
use crate::error::{Error, Result, query};

/// One Raft log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub index: u64,
    pub term: u64,
    pub payload: Vec<u8>,
}

/// Identifies a log entry: its index and the term it was created in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogId {
    pub index: u64,
    pub term: u64,
}

/// The vote this node last cast or saw (`committed`: the vote was granted by a quorum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vote {
    pub term: u64,
    pub node_id: u64,
    pub committed: bool,
}

/// Where the log stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogState {
    /// The last entry removed by [`RaftStore::purge`], if any.
    pub last_purged: Option<LogId>,
    /// The last entry in the log; the last purged one when the log is empty.
    pub last: Option<LogId>,
}

/// A snapshot of the state machine: its metadata (JSON) and its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub meta: serde_json::Value,
    pub data: Vec<u8>,
}

/// Raft storage of one node. Obtain it with [`Database::raft`].
#[derive(Debug, Clone)]
pub struct RaftStore {
    db: Database,
}

const LOG: &str = "raft_log";
const STATE: &str = "raft_state";
const SNAPSHOT: &str = "raft_snapshot";

impl RaftStore {
    pub(crate) fn new(db: Database) -> Self {
        RaftStore { db }
    }

    /// Appends `entries` (consecutive indexes) in one transaction, durable on return.
    /// An entry at an index already present replaces it.
    pub async fn append(&self, entries: &[LogEntry]) -> Result<()> {
        for pair in entries.windows(2) {
            if pair[1].index != pair[0].index.wrapping_add(1) {
                return Err(Error::NonContiguousAppend {
                    previous: pair[0].index,
                    found: pair[1].index,
                });
            }
        }
        let rows = entries
            .iter()
            .map(|e| {
                Ok((
                    to_sql("log index", e.index)?,
                    to_sql("log term", e.term)?,
                    e.payload.as_slice(),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        if rows.is_empty() {
            return Ok(());
        }
        with_pool!(self.db, |pool| {
            let mut tx = pool.begin_write().await.map_err(query(LOG, "append"))?;
            for (index, term, payload) in &rows {
                sqlx::query(
                    "INSERT INTO raft_log (log_index, term, payload) VALUES ($1, $2, $3) \
                     ON CONFLICT (log_index) DO UPDATE SET term = excluded.term, payload = excluded.payload",
                )
                .bind(index)
                .bind(term)
                .bind(*payload)
                .execute(&mut *tx)
                .await
                .map_err(query(LOG, "append"))?;
            }
            tx.commit().await.map_err(query(LOG, "append"))?;
        });
        Ok(())
    }

    /// Deletes the entries at `index` and after (a conflicting suffix).
    pub async fn truncate_from(&self, index: u64) -> Result<()> {
        let index = to_sql("log index", index)?;
        with_pool!(self.db, |pool| {
            sqlx::query("DELETE FROM raft_log WHERE log_index >= $1")
                .bind(index)
                .execute(pool)
                .await
                .map_err(query(LOG, "truncate"))?;
        });
        Ok(())
    }

    /// Deletes the entries up to and including `upto` and remembers it as the last purged
    /// log id. Purging never moves backwards: an older `upto` deletes nothing new and keeps
    /// the recorded one.
    pub async fn purge(&self, upto: LogId) -> Result<()> {
        let index = to_sql("log index", upto.index)?;
        let term = to_sql("log term", upto.term)?;
        with_pool!(self.db, |pool| {
            let mut tx = pool.begin_write().await.map_err(query(LOG, "purge"))?;
            sqlx::query("DELETE FROM raft_log WHERE log_index <= $1")
                .bind(index)
                .execute(&mut *tx)
                .await
                .map_err(query(LOG, "purge"))?;
            sqlx::query(
                "UPDATE raft_state SET purged_index = $1, purged_term = $2 \
                 WHERE id = 1 AND (purged_index IS NULL OR purged_index < $1)",
            )
            .bind(index)
            .bind(term)
            .execute(&mut *tx)
            .await
            .map_err(query(STATE, "purge"))?;
            tx.commit().await.map_err(query(LOG, "purge"))?;
        });
        Ok(())
    }

    /// The entries whose index is in `range`, in index order.
    pub async fn entries(&self, range: impl RangeBounds<u64>) -> Result<Vec<LogEntry>> {
        // Indexes are stored as i64: bounds beyond i64::MAX are clamped, not an error.
        let low = match range.start_bound() {
            Bound::Included(&v) => v,
            Bound::Excluded(&v) => v.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let high = match range.end_bound() {
            Bound::Included(&v) => v,
            Bound::Excluded(&0) => return Ok(Vec::new()),
            Bound::Excluded(&v) => v - 1,
            Bound::Unbounded => u64::MAX,
        };
        let (Ok(low), high) = (i64::try_from(low), i64::try_from(high).unwrap_or(i64::MAX)) else {
            return Ok(Vec::new());
        };
        with_pool!(self.db, |pool| {
            let rows = sqlx::query(
                "SELECT log_index, term, payload FROM raft_log \
                 WHERE log_index >= $1 AND log_index <= $2 ORDER BY log_index",
            )
            .bind(low)
            .bind(high)
            .fetch_all(pool)
            .await
            .map_err(query(LOG, "read range"))?;
            rows.iter()
                .map(|row| {
                    Ok(LogEntry {
                        index: row.uint(LOG, "log_index")?,
                        term: row.uint(LOG, "term")?,
                        payload: row.bytes(LOG, "payload")?,
                    })
                })
                .collect()
        })
    }

    /// The last purged and the last present log ids.
    pub async fn log_state(&self) -> Result<LogState> {
        with_pool!(self.db, |pool| {
            // One statement, so both values come from the same snapshot of the database.
            let row = sqlx::query(
                "SELECT s.purged_index, s.purged_term, l.log_index, l.term FROM raft_state s \
                 LEFT JOIN (SELECT log_index, term FROM raft_log ORDER BY log_index DESC LIMIT 1) l \
                 ON TRUE WHERE s.id = 1",
            )
            .fetch_one(pool)
            .await
            .map_err(query(STATE, "read log state"))?;
            let last_purged = log_id(
                row.opt_uint(STATE, "purged_index")?,
                row.opt_uint(STATE, "purged_term")?,
            );
            let last =
                log_id(row.opt_uint(LOG, "log_index")?, row.opt_uint(LOG, "term")?).or(last_purged);
            Ok(LogState { last_purged, last })
        })
    }

    /// Saves the vote, durable on return.
    pub async fn save_vote(&self, vote: &Vote) -> Result<()> {
        let term = to_sql("vote term", vote.term)?;
        let node = to_sql("vote node id", vote.node_id)?;
        with_pool!(self.db, |pool| {
            sqlx::query("UPDATE raft_state SET vote_term = $1, vote_node = $2, vote_committed = $3 WHERE id = 1")
                .bind(term)
                .bind(node)
                .bind(vote.committed)
                .execute(pool)
                .await
                .map_err(query(STATE, "save vote"))?;
        });
        Ok(())
    }

    /// The saved vote, if one was ever saved.
    pub async fn vote(&self) -> Result<Option<Vote>> {
        with_pool!(self.db, |pool| {
            let row = sqlx::query(
                "SELECT vote_term, vote_node, vote_committed FROM raft_state WHERE id = 1",
            )
            .fetch_one(pool)
            .await
            .map_err(query(STATE, "read vote"))?;
            let term = row.opt_uint(STATE, "vote_term")?;
            let node = row.opt_uint(STATE, "vote_node")?;
            let committed = row.flag(STATE, "vote_committed")?;
            Ok(match (term, node, committed) {
                (Some(term), Some(node_id), Some(committed)) => Some(Vote {
                    term,
                    node_id,
                    committed,
                }),
                _ => None,
            })
        })
    }

    /// Saves the committed log id (`None` clears it), durable on return.
    pub async fn save_committed(&self, committed: Option<LogId>) -> Result<()> {
        let index = committed
            .map(|c| to_sql("committed index", c.index))
            .transpose()?;
        let term = committed
            .map(|c| to_sql("committed term", c.term))
            .transpose()?;
        with_pool!(self.db, |pool| {
            sqlx::query(
                "UPDATE raft_state SET committed_index = $1, committed_term = $2 WHERE id = 1",
            )
            .bind(index)
            .bind(term)
            .execute(pool)
            .await
            .map_err(query(STATE, "save committed"))?;
        });
        Ok(())
    }

    /// The saved committed log id.
    pub async fn committed(&self) -> Result<Option<LogId>> {
        with_pool!(self.db, |pool| {
            let row =
                sqlx::query("SELECT committed_index, committed_term FROM raft_state WHERE id = 1")
                    .fetch_one(pool)
                    .await
                    .map_err(query(STATE, "read committed"))?;
            Ok(log_id(
                row.opt_uint(STATE, "committed_index")?,
                row.opt_uint(STATE, "committed_term")?,
            ))
        })
    }

    /// Replaces the stored snapshot in one statement: a crash leaves the old or the new one,
    /// never a mix.
    pub async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        let meta = snapshot.meta.to_string();
        with_pool!(self.db, |pool| {
            sqlx::query(
                "INSERT INTO raft_snapshot (id, meta, data) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO UPDATE SET meta = excluded.meta, data = excluded.data",
            )
            .bind(&meta)
            .bind(&snapshot.data)
            .execute(pool)
            .await
            .map_err(query(SNAPSHOT, "save snapshot"))?;
        });
        Ok(())
    }

    /// The stored snapshot, if any.
    pub async fn snapshot(&self) -> Result<Option<Snapshot>> {
        with_pool!(self.db, |pool| {
            let row = sqlx::query("SELECT meta, data FROM raft_snapshot WHERE id = 1")
                .fetch_optional(pool)
                .await
                .map_err(query(SNAPSHOT, "read snapshot"))?;
            row.map(|row| {
                let meta = row.text(SNAPSHOT, "meta")?;
                let meta = serde_json::from_str(&meta).map_err(|e| Error::InvalidColumn {
                    table: SNAPSHOT,
                    column: "meta",
                    value: e.to_string(),
                    expected: "JSON",
                })?;
                Ok(Snapshot {
                    meta,
                    data: row.bytes(SNAPSHOT, "data")?,
                })
            })
            .transpose()
        })
    }
}

fn log_id(index: Option<u64>, term: Option<u64>) -> Option<LogId> {
    Some(LogId {
        index: index?,
        term: term?,
    })
}

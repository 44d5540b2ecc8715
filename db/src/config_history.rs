//! Configuration history: one row per configuration change (`atrium history`).
//!
//! Versions come from the caller (the CIB's configuration version), so every node records
//! the same numbers, and replaying a change after a restart is harmless: recording a version
//! again with identical content is a no-op; with different content it is an error.

use crate::Database;
use crate::backend::{BeginWrite, Fetch, to_sql, with_pool};
use crate::error::{Error, Result, query};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An administrator, by user name.
    User(String),
    /// A cluster node acting on its own (e.g. a DC writing a default), by node name.
    Node(String),
}

impl Actor {
    fn kind(&self) -> &'static str {
        match self {
            Actor::User(_) => "user",
            Actor::Node(_) => "node",
        }
    }

    fn name(&self) -> &str {
        match self {
            Actor::User(name) | Actor::Node(name) => name,
        }
    }

    fn from_columns(kind: &str, name: String) -> Result<Self> {
        match kind {
            "user" => Ok(Actor::User(name)),
            "node" => Ok(Actor::Node(name)),
            other => Err(Error::InvalidColumn {
                table: TABLE,
                column: "actor_kind",
                value: other.to_owned(),
                expected: "'user' or 'node'",
            }),
        }
    }
}

/// One configuration change, in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChange {
    pub version: u64,
    pub actor: Actor,
    /// Unix time in milliseconds, as given by the caller.
    pub at_ms: u64,
    pub summary: String,
    /// The change as a diff of the configuration text.
    pub diff: String,
    /// The whole configuration after the change.
    pub config: String,
}

/// A change without its diff and configuration text, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChangeSummary {
    pub version: u64,
    pub actor: Actor,
    pub at_ms: u64,
    pub summary: String,
}

/// Whether [`ConfigHistory::record`] stored a new row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Inserted,
    /// The same version with the same content was already there.
    AlreadyPresent,
}

/// The configuration history. Obtain it with [`Database::config_history`].
#[derive(Debug, Clone)]
pub struct ConfigHistory {
    db: Database,
}

const TABLE: &str = "config_history";

impl ConfigHistory {
    pub(crate) fn new(db: Database) -> Self {
        ConfigHistory { db }
    }

    /// Records a change, durable on return.
    pub async fn record(&self, change: &ConfigChange) -> Result<Recorded> {
        let version = to_sql("configuration version", change.version)?;
        let at_ms = to_sql("change time", change.at_ms)?;
        with_pool!(self.db, |pool| {
            let mut tx = pool.begin_write().await.map_err(query(TABLE, "record"))?;
            let inserted = sqlx::query(
                "INSERT INTO config_history (version, actor_kind, actor, at_ms, summary, diff, config) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (version) DO NOTHING",
            )
            .bind(version)
            .bind(change.actor.kind())
            .bind(change.actor.name())
            .bind(at_ms)
            .bind(&change.summary)
            .bind(&change.diff)
            .bind(&change.config)
            .execute(&mut *tx)
            .await
            .map_err(query(TABLE, "record"))?
            .rows_affected()
                == 1;
            if !inserted {
                let row = sqlx::query(&format!("{SELECT_FULL} WHERE version = $1"))
                    .bind(version)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(query(TABLE, "record"))?;
                if full_change(&row)? != *change {
                    return Err(Error::ConfigVersionConflict {
                        version: change.version,
                    });
                }
            }
            tx.commit().await.map_err(query(TABLE, "record"))?;
            Ok(if inserted {
                Recorded::Inserted
            } else {
                Recorded::AlreadyPresent
            })
        })
    }

    /// The change that produced `version`.
    pub async fn get(&self, version: u64) -> Result<Option<ConfigChange>> {
        let version = to_sql("configuration version", version)?;
        with_pool!(self.db, |pool| {
            let row = sqlx::query(&format!("{SELECT_FULL} WHERE version = $1"))
                .bind(version)
                .fetch_optional(pool)
                .await
                .map_err(query(TABLE, "get"))?;
            row.map(|row| full_change(&row)).transpose()
        })
    }

    /// Up to `limit` changes, newest first, older than version `before` if given
    /// (pass the last version of one page to get the next).
    pub async fn list(&self, before: Option<u64>, limit: u32) -> Result<Vec<ConfigChangeSummary>> {
        let before = before
            .map(|v| to_sql("configuration version", v))
            .transpose()?;
        with_pool!(self.db, |pool| {
            let rows = sqlx::query(
                "SELECT version, actor_kind, actor, at_ms, summary FROM config_history \
                 WHERE $1 IS NULL OR version < $1 ORDER BY version DESC LIMIT $2",
            )
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(query(TABLE, "list"))?;
            rows.iter()
                .map(|row| {
                    Ok(ConfigChangeSummary {
                        version: row.uint(TABLE, "version")?,
                        actor: Actor::from_columns(
                            &row.text(TABLE, "actor_kind")?,
                            row.text(TABLE, "actor")?,
                        )?,
                        at_ms: row.uint(TABLE, "at_ms")?,
                        summary: row.text(TABLE, "summary")?,
                    })
                })
                .collect()
        })
    }

    /// The newest recorded version.
    pub async fn latest_version(&self) -> Result<Option<u64>> {
        with_pool!(self.db, |pool| {
            let row = sqlx::query("SELECT MAX(version) AS version FROM config_history")
                .fetch_one(pool)
                .await
                .map_err(query(TABLE, "latest version"))?;
            row.opt_uint(TABLE, "version")
        })
    }
}

const SELECT_FULL: &str =
    "SELECT version, actor_kind, actor, at_ms, summary, diff, config FROM config_history";

fn full_change(row: &impl Fetch) -> Result<ConfigChange> {
    Ok(ConfigChange {
        version: row.uint(TABLE, "version")?,
        actor: Actor::from_columns(&row.text(TABLE, "actor_kind")?, row.text(TABLE, "actor")?)?,
        at_ms: row.uint(TABLE, "at_ms")?,
        summary: row.text(TABLE, "summary")?,
        diff: row.text(TABLE, "diff")?,
        config: row.text(TABLE, "config")?,
    })
}

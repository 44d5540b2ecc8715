//! Cluster events: what happened to the cluster, for the status view, alerts and the
//! dashboard.

use crate::Database;
use crate::backend::{Fetch, to_sql, with_pool};
use crate::error::{Error, Result, query};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }

    fn from_column(value: &str) -> Result<Self> {
        Ok(match value {
            "info" => Severity::Info,
            "warning" => Severity::Warning,
            "error" => Severity::Error,
            "critical" => Severity::Critical,
            other => {
                return Err(Error::InvalidColumn {
                    table: TABLE,
                    column: "severity",
                    value: other.to_owned(),
                    expected: "a severity (info, warning, error, critical)",
                });
            }
        })
    }
}

/// One cluster event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unix time in milliseconds, as given by the caller.
    pub at_ms: u64,
    /// The node concerned; `None` for cluster-wide events.
    pub node: Option<String>,
    /// node-lost, fenced, dc-elected, resource-failed, config-changed, ...
    pub kind: String,
    pub severity: Severity,
    pub message: String,
    pub details: serde_json::Value,
}

/// A stored event with its row id.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub id: u64,
    pub event: Event,
}

/// Which events [`Events::list`] returns. Built from [`EventFilter::recent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    kind: Option<String>,
    node: Option<String>,
    since_ms: Option<u64>,
    limit: u32,
}

impl EventFilter {
    /// The newest `limit` events.
    pub fn recent(limit: u32) -> Self {
        EventFilter {
            kind: None,
            node: None,
            since_ms: None,
            limit,
        }
    }

    /// Only events of this kind.
    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }

    /// Only events about this node.
    pub fn node(mut self, node: impl Into<String>) -> Self {
        self.node = Some(node.into());
        self
    }

    /// Only events at or after this time (unix ms).
    pub fn since(mut self, at_ms: u64) -> Self {
        self.since_ms = Some(at_ms);
        self
    }
}

/// The event log. Obtain it with [`Database::events`].
#[derive(Debug, Clone)]
pub struct Events {
    db: Database,
}

const TABLE: &str = "cluster_events";

impl Events {
    pub(crate) fn new(db: Database) -> Self {
        Events { db }
    }

    /// Stores an event, durable on return; returns its id.
    pub async fn record(&self, event: &Event) -> Result<u64> {
        let at_ms = to_sql("event time", event.at_ms)?;
        let details = event.details.to_string();
        with_pool!(self.db, |pool| {
            let row = sqlx::query(
                "INSERT INTO cluster_events (at_ms, node, kind, severity, message, details) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(at_ms)
            .bind(&event.node)
            .bind(&event.kind)
            .bind(event.severity.as_str())
            .bind(&event.message)
            .bind(&details)
            .fetch_one(pool)
            .await
            .map_err(query(TABLE, "record"))?;
            row.uint(TABLE, "id")
        })
    }

    /// The events matching `filter`, newest (by time, then id) first.
    pub async fn list(&self, filter: &EventFilter) -> Result<Vec<EventRecord>> {
        let since = filter
            .since_ms
            .map(|v| to_sql("since time", v))
            .transpose()?;
        with_pool!(self.db, |pool| {
            let rows = sqlx::query(
                "SELECT id, at_ms, node, kind, severity, message, details FROM cluster_events \
                 WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR node = $2) AND ($3 IS NULL OR at_ms >= $3) \
                 ORDER BY at_ms DESC, id DESC LIMIT $4",
            )
            .bind(&filter.kind)
            .bind(&filter.node)
            .bind(since)
            .bind(i64::from(filter.limit))
            .fetch_all(pool)
            .await
            .map_err(query(TABLE, "list"))?;
            rows.iter().map(record).collect()
        })
    }

    /// Deletes the events older than `at_ms` (unix ms), bounding the table's growth;
    /// returns how many were deleted.
    pub async fn prune_before(&self, at_ms: u64) -> Result<u64> {
        let at_ms = to_sql("prune time", at_ms)?;
        with_pool!(self.db, |pool| {
            let done = sqlx::query("DELETE FROM cluster_events WHERE at_ms < $1")
                .bind(at_ms)
                .execute(pool)
                .await
                .map_err(query(TABLE, "prune"))?;
            Ok(done.rows_affected())
        })
    }
}

fn record(row: &impl Fetch) -> Result<EventRecord> {
    let details = row.text(TABLE, "details")?;
    let details = serde_json::from_str(&details).map_err(|e| Error::InvalidColumn {
        table: TABLE,
        column: "details",
        value: e.to_string(),
        expected: "JSON",
    })?;
    Ok(EventRecord {
        id: row.uint(TABLE, "id")?,
        event: Event {
            at_ms: row.uint(TABLE, "at_ms")?,
            node: row.opt_text(TABLE, "node")?,
            kind: row.text(TABLE, "kind")?,
            severity: Severity::from_column(&row.text(TABLE, "severity")?)?,
            message: row.text(TABLE, "message")?,
            details,
        },
    })
}

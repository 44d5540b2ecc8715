//! Operation history: one row per resource agent action result.
//!
//! Rows are ordered by insertion (`id`), which is the order results were applied on this
//! node; "newest" and "latest" below mean the highest id.

use crate::Database;
use crate::backend::{Fetch, to_sql, with_pool};
use crate::error::{Result, query};

/// The result of one agent action, as reported by a node's executor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpResult {
    pub node: String,
    pub resource: String,
    /// start, stop, monitor, promote, ...
    pub operation: String,
    /// 0 for one-shot actions and probes.
    pub interval_ms: u64,
    /// The OCF exit code.
    pub rc: i32,
    /// How the execution ended: done, timeout, error, cancelled, ...
    pub status: String,
    pub exit_reason: Option<String>,
    pub call_id: i64,
    pub started_ms: u64,
    pub ended_ms: u64,
    /// Time the agent ran, which can be less than `ended_ms - started_ms` (queueing).
    pub duration_ms: u64,
    /// The transition (and DC term) that asked for the action; none for probes the node ran
    /// on its own.
    pub transition_id: Option<String>,
}

/// A stored result with its row id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpRecord {
    pub id: u64,
    pub result: OpResult,
}

/// The operation history. Obtain it with [`Database::op_history`].
#[derive(Debug, Clone)]
pub struct OpHistory {
    db: Database,
}

const TABLE: &str = "op_history";
const COLUMNS: &str = "id, node, resource, operation, interval_ms, rc, status, exit_reason, call_id, \
                       started_ms, ended_ms, duration_ms, transition_id";

impl OpHistory {
    pub(crate) fn new(db: Database) -> Self {
        OpHistory { db }
    }

    /// Stores a result, durable on return; returns its id.
    pub async fn record(&self, op: &OpResult) -> Result<u64> {
        let interval = to_sql("interval_ms", op.interval_ms)?;
        let started = to_sql("started_ms", op.started_ms)?;
        let ended = to_sql("ended_ms", op.ended_ms)?;
        let duration = to_sql("duration_ms", op.duration_ms)?;
        with_pool!(self.db, |pool| {
            let row = sqlx::query(
                "INSERT INTO op_history (node, resource, operation, interval_ms, rc, status, exit_reason, \
                 call_id, started_ms, ended_ms, duration_ms, transition_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            )
            .bind(&op.node)
            .bind(&op.resource)
            .bind(&op.operation)
            .bind(interval)
            .bind(op.rc)
            .bind(&op.status)
            .bind(&op.exit_reason)
            .bind(op.call_id)
            .bind(started)
            .bind(ended)
            .bind(duration)
            .bind(&op.transition_id)
            .fetch_one(pool)
            .await
            .map_err(query(TABLE, "record"))?;
            row.uint(TABLE, "id")
        })
    }

    /// Up to `limit` results for `resource` (on `node` only, if given), newest first.
    pub async fn for_resource(
        &self,
        resource: &str,
        node: Option<&str>,
        limit: u32,
    ) -> Result<Vec<OpRecord>> {
        with_pool!(self.db, |pool| {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM op_history WHERE resource = $1 AND ($2 IS NULL OR node = $2) \
                 ORDER BY id DESC LIMIT $3"
            ))
            .bind(resource)
            .bind(node)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(query(TABLE, "query by resource"))?;
            rows.iter().map(record).collect()
        })
    }

    /// Up to `limit` results of actions run on `node`, newest first.
    pub async fn for_node(&self, node: &str, limit: u32) -> Result<Vec<OpRecord>> {
        with_pool!(self.db, |pool| {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM op_history WHERE node = $1 ORDER BY id DESC LIMIT $2"
            ))
            .bind(node)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(query(TABLE, "query by node"))?;
            rows.iter().map(record).collect()
        })
    }

    /// The newest result of each (resource, node, operation, interval), for one resource or
    /// all; ordered by resource, node, operation, interval. This is the status section's
    /// view of what last happened.
    pub async fn latest(&self, resource: Option<&str>) -> Result<Vec<OpRecord>> {
        with_pool!(self.db, |pool| {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM op_history WHERE id IN ( \
                   SELECT MAX(id) FROM op_history WHERE $1 IS NULL OR resource = $1 \
                   GROUP BY resource, node, operation, interval_ms) \
                 ORDER BY resource, node, operation, interval_ms"
            ))
            .bind(resource)
            .fetch_all(pool)
            .await
            .map_err(query(TABLE, "latest"))?;
            rows.iter().map(record).collect()
        })
    }

    /// Keeps the newest `keep_per_resource` rows of each resource and deletes older ones,
    /// except that the newest row of each (resource, node, operation, interval) is always
    /// kept, so [`OpHistory::latest`] still sees e.g. the last start behind many monitors.
    /// Returns how many rows were deleted.
    pub async fn prune(&self, keep_per_resource: u32) -> Result<u64> {
        with_pool!(self.db, |pool| {
            let done = sqlx::query(
                "DELETE FROM op_history WHERE id IN ( \
                   SELECT id FROM ( \
                     SELECT id, ROW_NUMBER() OVER (PARTITION BY resource ORDER BY id DESC) AS age \
                     FROM op_history) ranked \
                   WHERE age > $1) \
                 AND id NOT IN ( \
                   SELECT MAX(id) FROM op_history GROUP BY resource, node, operation, interval_ms)",
            )
            .bind(i64::from(keep_per_resource))
            .execute(pool)
            .await
            .map_err(query(TABLE, "prune"))?;
            Ok(done.rows_affected())
        })
    }
}

fn record(row: &impl Fetch) -> Result<OpRecord> {
    Ok(OpRecord {
        id: row.uint(TABLE, "id")?,
        result: OpResult {
            node: row.text(TABLE, "node")?,
            resource: row.text(TABLE, "resource")?,
            operation: row.text(TABLE, "operation")?,
            interval_ms: row.uint(TABLE, "interval_ms")?,
            rc: row.int32(TABLE, "rc")?,
            status: row.text(TABLE, "status")?,
            exit_reason: row.opt_text(TABLE, "exit_reason")?,
            call_id: row.int(TABLE, "call_id")?,
            started_ms: row.uint(TABLE, "started_ms")?,
            ended_ms: row.uint(TABLE, "ended_ms")?,
            duration_ms: row.uint(TABLE, "duration_ms")?,
            transition_id: row.opt_text(TABLE, "transition_id")?,
        },
    })
}

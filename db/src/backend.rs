//! The two backends behind one `Database`, and the small helpers that let each store write
//! its queries once.
//!
//! Queries are written in the subset of SQL both SQLite and PostgreSQL accept (`$N`
//! placeholders, `ON CONFLICT ... DO UPDATE`, `RETURNING`, window functions). The
//! `with_pool!` macro expands a query body once per backend, so each expansion is
//! type-checked against its concrete driver; no `Any` driver converts values behind our
//! back. Where the dialects differ (column types, identity columns) the difference lives in
//! the per-backend migrations (`migrations/sqlite`, `migrations/postgres`).

use sqlx::postgres::{PgPool, PgRow};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{Postgres, Row, Sqlite, Transaction};

use crate::error::{Error, Result};

/// Which database engine a [`crate::Database`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of `$db` (a `&Database`).
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db.pool() {
            $crate::backend::Pool::Sqlite($pool) => $body,
            $crate::backend::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Starts a transaction that will write.
///
/// SQLite needs `BEGIN IMMEDIATE`: a deferred transaction that first reads and then writes
/// fails with SQLITE_BUSY (no waiting) when another connection committed in between.
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    async fn begin_write(&self) -> Result<Transaction<'static, Self::Db>, sqlx::Error>;
}

impl BeginWrite for SqlitePool {
    type Db = Sqlite;
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Db = Postgres;
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.begin().await
    }
}

/// Typed column access shared by both row types, so a row decoder is written once.
/// Errors name the table and column.
pub(crate) trait Fetch {
    fn int(&self, table: &'static str, column: &'static str) -> Result<i64>;
    fn opt_int(&self, table: &'static str, column: &'static str) -> Result<Option<i64>>;
    fn int32(&self, table: &'static str, column: &'static str) -> Result<i32>;
    fn flag(&self, table: &'static str, column: &'static str) -> Result<Option<bool>>;
    fn text(&self, table: &'static str, column: &'static str) -> Result<String>;
    fn opt_text(&self, table: &'static str, column: &'static str) -> Result<Option<String>>;
    fn bytes(&self, table: &'static str, column: &'static str) -> Result<Vec<u8>>;

    /// An unsigned value stored in a signed column.
    fn uint(&self, table: &'static str, column: &'static str) -> Result<u64> {
        from_sql(table, column, self.int(table, column)?)
    }

    fn opt_uint(&self, table: &'static str, column: &'static str) -> Result<Option<u64>> {
        self.opt_int(table, column)?
            .map(|v| from_sql(table, column, v))
            .transpose()
    }
}

macro_rules! impl_fetch {
    ($row:ty) => {
        impl Fetch for $row {
            fn int(&self, table: &'static str, column: &'static str) -> Result<i64> {
                self.try_get(column)
                    .map_err(crate::error::query(table, "decode"))
            }
            fn opt_int(&self, table: &'static str, column: &'static str) -> Result<Option<i64>> {
                self.try_get(column)
                    .map_err(crate::error::query(table, "decode"))
            }
            fn int32(&self, table: &'static str, column: &'static str) -> Result<i32> {
                self.try_get(column)
                    .map_err(crate::error::query(table, "decode"))
            }
            fn flag(&self, table: &'static str, column: &'static str) -> Result<Option<bool>> {
                self.try_get(column)
                    .map_err(crate::error::query(table, "decode"))
            }
            fn text(&self, table: &'static str, column: &'static str) -> Result<String> {
                self.try_get(column)
                    .map_err(crate::error::query(table, "decode"))
            }
            fn opt_text(
                &self,
                table: &'static str,
                column: &'static str,
            ) -> Result<Option<String>> {
                self.try_get(column)
                    .map_err(crate::error::query(table, "decode"))
            }
            fn bytes(&self, table: &'static str, column: &'static str) -> Result<Vec<u8>> {
                self.try_get(column)
                    .map_err(crate::error::query(table, "decode"))
            }
        }
    };
}
impl_fetch!(SqliteRow);
impl_fetch!(PgRow);

/// Converts an unsigned value for a signed 64-bit column.
pub(crate) fn to_sql(what: &'static str, value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::OutOfRange { what, value })
}

fn from_sql(table: &'static str, column: &'static str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::InvalidColumn {
        table,
        column,
        value: value.to_string(),
        expected: "a non-negative integer",
    })
}

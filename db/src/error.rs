//! Errors of the persistence layer. Each variant names what failed: the database location
//! (with any password masked), or the table and operation.

use sqlx::migrate::MigrateError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid database location {location:?}: {reason}")]
    InvalidLocation { location: String, reason: String },

    #[error("{location} is not a usable SQLite database (corrupt, or not SQLite at all): {source}")]
    NotADatabase {
        location: String,
        #[source]
        source: sqlx::Error,
    },

    #[error("PostgreSQL at {location} rejected the credentials: {source}")]
    Authentication {
        location: String,
        #[source]
        source: sqlx::Error,
    },

    #[error("cannot open database {location}: {source}")]
    Connect {
        location: String,
        #[source]
        source: sqlx::Error,
    },

    #[error(
        "database {location} does not match this build's migrations: {detail}; \
         it was written by another atrium version or for another backend"
    )]
    MigrationMismatch {
        location: String,
        detail: String,
        #[source]
        source: MigrateError,
    },

    #[error("migrating database {location} failed: {source}")]
    Migrate {
        location: String,
        #[source]
        source: MigrateError,
    },

    #[error("{operation} on table {table} failed: {source}")]
    Query {
        table: &'static str,
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },

    #[error("{what} = {value} does not fit in a signed 64-bit SQL integer")]
    OutOfRange { what: &'static str, value: u64 },

    #[error("column {table}.{column} holds {value}, which is not {expected}")]
    InvalidColumn {
        table: &'static str,
        column: &'static str,
        value: String,
        expected: &'static str,
    },

    #[error("log entries to append must have consecutive indexes: {found} follows {previous}")]
    NonContiguousAppend { previous: u64, found: u64 },

    #[error("configuration version {version} is already recorded with different content")]
    ConfigVersionConflict { version: u64 },
}

/// Maps a sqlx error from a statement to [`Error::Query`] naming the table and operation.
pub(crate) fn query(
    table: &'static str,
    operation: &'static str,
) -> impl FnOnce(sqlx::Error) -> Error {
    move |source| Error::Query {
        table,
        operation,
        source,
    }
}

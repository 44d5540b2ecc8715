//! Opening a database: parse the location, connect with durable settings, run migrations.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::backend::{Backend, Pool};
use crate::error::{Error, Result};
use crate::{ConfigHistory, Events, OpHistory, RaftStore};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// SQLite allows one writer at a time; a few connections let readers (WAL mode) proceed
/// while a write is being synced.
const SQLITE_CONNECTIONS: u32 = 4;
const POSTGRES_CONNECTIONS: u32 = 8;
/// How long a SQLite statement waits for another connection's write lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A node's database. Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Database {
    pool: Pool,
    /// The location as given, with any password masked; used in error messages.
    location: String,
}

impl Database {
    /// Opens (creating if needed) and migrates the database at `location`:
    /// a `postgres://` / `postgresql://` URL, a `sqlite:` URL, or a plain file path (SQLite).
    pub async fn open(location: &str) -> Result<Self> {
        Self::open_impl(location, None).await
    }

    /// Opens a PostgreSQL database using `schema` (created if missing) instead of `public`,
    /// so several clusters, or tests, can share one PostgreSQL database.
    pub async fn open_in_schema(url: &str, schema: &str) -> Result<Self> {
        Self::open_impl(url, Some(schema)).await
    }

    /// Which engine this database runs on.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The location this database was opened from, password masked.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Raft log, vote, committed index and snapshot.
    pub fn raft(&self) -> RaftStore {
        RaftStore::new(self.clone())
    }

    /// Every configuration change (`atrium history`).
    pub fn config_history(&self) -> ConfigHistory {
        ConfigHistory::new(self.clone())
    }

    /// Results of resource agent actions.
    pub fn op_history(&self) -> OpHistory {
        OpHistory::new(self.clone())
    }

    /// Cluster events (node lost, fenced, DC elected, ...).
    pub fn events(&self) -> Events {
        Events::new(self.clone())
    }

    /// Closes every connection; waits for statements in flight.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn open_impl(location: &str, schema: Option<&str>) -> Result<Self> {
        let masked = mask_password(location);
        let invalid = |reason: &str| Error::InvalidLocation {
            location: masked.clone(),
            reason: reason.to_owned(),
        };
        if location.is_empty() {
            return Err(invalid("empty location"));
        }
        let is_postgres =
            location.starts_with("postgres://") || location.starts_with("postgresql://");
        if let Some(schema) = schema {
            if !is_postgres {
                return Err(invalid("a schema can only be given with a postgres:// URL"));
            }
            if !is_plain_identifier(schema) {
                return Err(invalid(&format!(
                    "schema name {schema:?} must be lower-case letters, digits and '_', not starting with a digit, at most 63 characters"
                )));
            }
        }
        let pool = if is_postgres {
            let options =
                PgConnectOptions::from_str(location).map_err(|e| invalid(&e.to_string()))?;
            Pool::Postgres(open_postgres(options, schema, &masked).await?)
        } else if location.starts_with("sqlite:") {
            let options =
                SqliteConnectOptions::from_str(location).map_err(|e| invalid(&e.to_string()))?;
            Pool::Sqlite(open_sqlite(options, &masked).await?)
        } else if let Some((scheme, _)) = location.split_once("://") {
            return Err(invalid(&format!(
                "unsupported scheme {scheme:?}: use postgres://, sqlite: or a file path"
            )));
        } else {
            Pool::Sqlite(
                open_sqlite(SqliteConnectOptions::new().filename(location), &masked).await?,
            )
        };
        let db = Database {
            pool,
            location: masked,
        };
        db.migrate().await?;
        tracing::info!(location = %db.location, backend = ?db.backend(), "database open");
        Ok(db)
    }

    async fn migrate(&self) -> Result<()> {
        let result = match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        };
        result.map_err(|source| migrate_error(&self.location, source))
    }
}

async fn open_sqlite(options: SqliteConnectOptions, location: &str) -> Result<sqlx::SqlitePool> {
    // WAL + synchronous=FULL: a commit returns only after the WAL is fsynced, so whatever
    // the caller was told is stored survives a crash or power loss.
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    SqlitePoolOptions::new()
        .max_connections(SQLITE_CONNECTIONS)
        .connect_with(options)
        .await
        .map_err(|source| {
            if is_sqlite_corruption(&source) {
                Error::NotADatabase {
                    location: location.to_owned(),
                    source,
                }
            } else {
                Error::Connect {
                    location: location.to_owned(),
                    source,
                }
            }
        })
}

/// SQLITE_NOTADB (26: not an SQLite file) or SQLITE_CORRUPT (11: damaged pages).
fn is_sqlite_corruption(error: &sqlx::Error) -> bool {
    let code = error.as_database_error().and_then(|e| e.code());
    matches!(code.as_deref(), Some("26" | "11"))
}

async fn open_postgres(
    options: PgConnectOptions,
    schema: Option<&str>,
    location: &str,
) -> Result<sqlx::PgPool> {
    let connect_error = |source: sqlx::Error| {
        // 28P01 = invalid_password, 28000 = invalid_authorization_specification.
        let code = source
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.into_owned());
        if matches!(code.as_deref(), Some("28P01" | "28000")) {
            Error::Authentication {
                location: location.to_owned(),
                source,
            }
        } else {
            Error::Connect {
                location: location.to_owned(),
                source,
            }
        }
    };
    // A server configured with synchronous_commit=off would acknowledge commits that a crash
    // can still lose; insist on it for our sessions.
    let mut options = options.options([("synchronous_commit", "on")]);
    // One plain connection first: it fails at once on a bad address or password, where the
    // pool would keep retrying until its acquire timeout.
    let mut probe = PgConnection::connect_with(&options)
        .await
        .map_err(connect_error)?;
    if let Some(schema) = schema {
        // The name was checked by is_plain_identifier, so it is safe to splice in.
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .execute(&mut probe)
            .await
            .map_err(connect_error)?;
        options = options.options([("search_path", schema)]);
    }
    probe.close().await.map_err(connect_error)?;
    PgPoolOptions::new()
        .max_connections(POSTGRES_CONNECTIONS)
        .connect_with(options)
        .await
        .map_err(connect_error)
}

fn migrate_error(location: &str, source: MigrateError) -> Error {
    let location = location.to_owned();
    let detail = match source {
        // The migration bookkeeping is the first thing read: a damaged file shows up here.
        MigrateError::Execute(source) if is_sqlite_corruption(&source) => {
            return Error::NotADatabase { location, source };
        }
        MigrateError::VersionMissing(v) => {
            format!("migration {v} was applied to the database but is unknown to this build")
        }
        MigrateError::VersionMismatch(v) => {
            format!("migration {v} was applied with different contents than this build's")
        }
        MigrateError::Dirty(v) => format!("migration {v} is only partially applied"),
        source => return Error::Migrate { location, source },
    };
    Error::MigrationMismatch {
        location,
        detail,
        source,
    }
}

fn is_plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Replaces the password of a URL (`user:password@host`, or a `password=` query
/// parameter) with `***`, so locations can go into errors and logs.
fn mask_password(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else {
        return location.to_owned();
    };
    let (authority_end, has_query) = match rest.find(['/', '?']) {
        Some(i) => (i, true),
        None => (rest.len(), false),
    };
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = if has_query {
        match tail.split_once('?') {
            Some((path, query)) => {
                let params: Vec<String> = query
                    .split('&')
                    .map(|p| match p.split_once('=') {
                        Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                        _ => p.to_owned(),
                    })
                    .collect();
                format!("{path}?{}", params.join("&"))
            }
            None => tail.to_owned(),
        }
    } else {
        tail.to_owned()
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_userinfo_password() {
        assert_eq!(
            mask_password("postgres://atrium:s3cr:et@db.example:5432/atrium"),
            "postgres://atrium:***@db.example:5432/atrium"
        );
    }

    #[test]
    fn masks_query_password() {
        assert_eq!(
            mask_password("postgres://db/atrium?user=a&password=s3cret&sslmode=disable"),
            "postgres://db/atrium?user=a&password=***&sslmode=disable"
        );
    }

    #[test]
    fn leaves_passwordless_locations_alone() {
        assert_eq!(
            mask_password("postgres://atrium@db/x"),
            "postgres://atrium@db/x"
        );
        assert_eq!(
            mask_password("/var/lib/atrium/atrium.db"),
            "/var/lib/atrium/atrium.db"
        );
        assert_eq!(
            mask_password("sqlite:///tmp/a.db?mode=rwc"),
            "sqlite:///tmp/a.db?mode=rwc"
        );
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(is_plain_identifier("t_raft_1"));
        assert!(!is_plain_identifier("1abc"));
        assert!(!is_plain_identifier("a; DROP TABLE x"));
        assert!(!is_plain_identifier("Upper"));
        assert!(!is_plain_identifier(&"a".repeat(64)));
    }
}

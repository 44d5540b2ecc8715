//! Test databases on both backends: SQLite in a temporary directory, PostgreSQL in a
//! schema of its own (named after the test) so tests run in parallel.

use atrium_db::Database;
use sqlx::Connection;
use tempfile::TempDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub db: Database,
    /// What `Database::open` / `open_in_schema` was given.
    pub location: String,
    pub schema: Option<String>,
    _dir: Option<TempDir>,
}

impl TestDb {
    /// A fresh, empty database for the test at `test_path` (its `module_path!()`).
    /// `None` only when PostgreSQL tests are explicitly skipped.
    pub async fn open(target: Target, test_path: &str) -> Option<TestDb> {
        match target {
            Target::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let location = dir
                    .path()
                    .join("atrium.db")
                    .to_str()
                    .expect("utf-8 path")
                    .to_owned();
                let db = Database::open(&location)
                    .await
                    .expect("open SQLite test database");
                Some(TestDb {
                    db,
                    location,
                    schema: None,
                    _dir: Some(dir),
                })
            }
            Target::Postgres => {
                let url = postgres_url()?;
                let schema = schema_name(test_path);
                let mut conn = sqlx::PgConnection::connect(&url)
                    .await
                    .expect("connect to test PostgreSQL");
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(&mut conn)
                    .await
                    .expect("drop leftover test schema");
                conn.close().await.expect("close");
                let db = Database::open_in_schema(&url, &schema)
                    .await
                    .expect("open PostgreSQL test schema");
                Some(TestDb {
                    db,
                    location: url,
                    schema: Some(schema),
                    _dir: None,
                })
            }
        }
    }

    /// Opens the same database again, as a restarted node would.
    pub async fn reopen(&self) -> atrium_db::Result<Database> {
        match &self.schema {
            Some(schema) => Database::open_in_schema(&self.location, schema).await,
            None => Database::open(&self.location).await,
        }
    }

    /// Runs raw SQL on the test database, bypassing atrium-db (to damage it on purpose).
    pub async fn execute_raw(&self, sql: &str) {
        match &self.schema {
            Some(schema) => {
                let mut conn = sqlx::PgConnection::connect(&self.location)
                    .await
                    .expect("connect");
                sqlx::query(&format!("SET search_path TO {schema}"))
                    .execute(&mut conn)
                    .await
                    .expect("search_path");
                sqlx::query(sql).execute(&mut conn).await.expect("raw SQL");
                conn.close().await.expect("close");
            }
            None => {
                let mut conn =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", self.location))
                        .await
                        .expect("connect");
                sqlx::query(sql).execute(&mut conn).await.expect("raw SQL");
                conn.close().await.expect("close");
            }
        }
    }
}

/// The test server's URL, or `None` if PostgreSQL tests are explicitly skipped.
pub fn postgres_url() -> Option<String> {
    match std::env::var("ATRIUM_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("ATRIUM_SKIP_POSTGRES").as_deref() == Ok("1") => None,
        _ => panic!(
            "ATRIUM_TEST_POSTGRES_URL is not set. Start the test server (as root) with\n    \
             export ATRIUM_TEST_POSTGRES_URL=$(db/scripts/start-test-postgres.sh)\n\
             or set ATRIUM_SKIP_POSTGRES=1 to skip the PostgreSQL tests."
        ),
    }
}

/// `integration::raft_store::purge` -> `t_raft_store_purge`.
fn schema_name(test_path: &str) -> String {
    let path = test_path
        .split_once("::")
        .map_or(test_path, |(_, rest)| rest);
    let name = format!("t_{}", path.replace("::", "_"));
    assert!(
        name.len() <= 63,
        "test path {test_path} too long for a schema name"
    );
    name
}

/// Declares, for each listed `async fn name(t: &TestDb)`, a module `name` with a `sqlite`
/// and a `postgres` test running it.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            use crate::common::{Target, TestDb};

            #[tokio::test]
            async fn sqlite() {
                let t = TestDb::open(Target::Sqlite, module_path!()).await.expect("SQLite is never skipped");
                super::$test(&t).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(t) = TestDb::open(Target::Postgres, module_path!()).await {
                    super::$test(&t).await;
                }
            }
        }
    )*};
}
pub(crate) use on_both_backends;

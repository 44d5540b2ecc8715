//! Opening: location forms, and clear errors for bad input.

use atrium_db::{Backend, Database, Error};

use crate::common::{TestDb, on_both_backends, postgres_url};

on_both_backends!(
    reopen_keeps_data_and_reports_backend,
    changed_migration_is_a_mismatch,
    unknown_migration_is_a_mismatch
);

#[tokio::test]
async fn corrupt_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("atrium.db");
    std::fs::write(
        &path,
        "this is not a database, just some text. ".repeat(200),
    )
    .unwrap();
    let err = Database::open(path.to_str().unwrap()).await.unwrap_err();
    assert!(matches!(err, Error::NotADatabase { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(path.to_str().unwrap()) && message.contains("corrupt"),
        "{message}"
    );
}

#[tokio::test]
async fn sqlite_url_and_plain_path_open_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.db");
    let by_url = Database::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert_eq!(by_url.backend(), Backend::Sqlite);
    by_url
        .raft()
        .save_vote(&atrium_db::Vote {
            term: 4,
            node_id: 1,
            committed: false,
        })
        .await
        .unwrap();
    by_url.close().await;
    let by_path = Database::open(path.to_str().unwrap()).await.unwrap();
    assert_eq!(
        by_path.raft().vote().await.unwrap().map(|v| v.term),
        Some(4)
    );
}

#[tokio::test]
async fn sqlite_in_missing_directory_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/atrium.db");
    let err = Database::open(path.to_str().unwrap()).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert!(err.to_string().contains("no/such/dir/atrium.db"), "{err}");
}

#[tokio::test]
async fn bad_locations() {
    let err = Database::open("mysql://root:pw@localhost/atrium")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidLocation { .. }), "{err}");
    assert!(
        err.to_string().contains("\"mysql\"") && !err.to_string().contains("pw@"),
        "{err}"
    );

    let err = Database::open("").await.unwrap_err();
    assert!(matches!(err, Error::InvalidLocation { .. }), "{err}");

    let err = Database::open_in_schema("/tmp/atrium.db", "s1")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("only be given with a postgres:// URL"),
        "{err}"
    );

    // Checked before connecting: no server needed.
    let err = Database::open_in_schema("postgres://u:p@127.0.0.1:1/db", "x; DROP TABLE y")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidLocation { .. }), "{err}");
}

#[tokio::test]
async fn unreachable_postgres_masks_password() {
    let err = Database::open("postgres://atrium:hunter2@127.0.0.1:1/atrium")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("postgres://atrium:***@127.0.0.1:1/atrium"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

/// The test URL with another user and password.
fn with_credentials(url: &str, user: Option<&str>, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("URL with scheme");
    let (userinfo, host) = rest
        .split_once('@')
        .expect("test URL has user and password");
    let user = user.unwrap_or_else(|| userinfo.split(':').next().unwrap());
    format!("{scheme}://{user}:{password}@{host}")
}

#[tokio::test]
async fn wrong_postgres_password() {
    let Some(url) = postgres_url() else { return };
    let wrong = with_credentials(&url, None, "not-the-password");

    let err = Database::open(&wrong).await.unwrap_err();
    assert!(matches!(err, Error::Authentication { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&with_credentials(&url, None, "***")),
        "{message}"
    );
    assert!(!message.contains("not-the-password"), "{message}");
}

#[tokio::test]
async fn postgres_over_tls() {
    let Some(url) = postgres_url() else { return };
    // start-test-postgres.sh lets role atrium_tls (password atrium) in over TLS only, so a
    // working connection proves it is encrypted.
    let url = with_credentials(&url, Some("atrium_tls"), "atrium");
    let sep = if url.contains('?') { '&' } else { '?' };

    let err = Database::open(&format!("{url}{sep}sslmode=disable"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Authentication { .. }), "{err}");

    let db = Database::open_in_schema(
        &format!("{url}{sep}sslmode=require"),
        "t_open_errors_postgres_over_tls",
    )
    .await
    .unwrap();
    let vote = atrium_db::Vote {
        term: 9,
        node_id: 2,
        committed: true,
    };
    db.raft().save_vote(&vote).await.unwrap();
    assert_eq!(db.raft().vote().await.unwrap(), Some(vote));
}

async fn reopen_keeps_data_and_reports_backend(t: &TestDb) {
    let expected = if t.schema.is_some() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    assert_eq!(t.db.backend(), expected);
    match t.db.backend() {
        Backend::Postgres => assert!(t.db.location().contains(":***@"), "{}", t.db.location()),
        Backend::Sqlite => assert_eq!(t.db.location(), t.location),
    }
    t.db.raft()
        .save_committed(Some(atrium_db::LogId { index: 3, term: 1 }))
        .await
        .unwrap();
    t.db.close().await;
    // Running the migrations again on a migrated database is a no-op.
    let again = t.reopen().await.unwrap();
    assert_eq!(
        again.raft().committed().await.unwrap(),
        Some(atrium_db::LogId { index: 3, term: 1 })
    );
}

/// A checksum literal in the backend's dialect.
fn bytes_literal(t: &TestDb) -> &'static str {
    match t.db.backend() {
        Backend::Sqlite => "X'00'",
        Backend::Postgres => "decode('00', 'hex')",
    }
}

async fn changed_migration_is_a_mismatch(t: &TestDb) {
    t.db.close().await;
    t.execute_raw(&format!(
        "UPDATE _sqlx_migrations SET checksum = {} WHERE version = 1",
        bytes_literal(t)
    ))
    .await;
    let err = t.reopen().await.unwrap_err();
    assert!(matches!(err, Error::MigrationMismatch { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("migration 1 was applied with different contents"),
        "{err}"
    );
}

async fn unknown_migration_is_a_mismatch(t: &TestDb) {
    t.db.close().await;
    t.execute_raw(&format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from a newer atrium', TRUE, {}, 0)",
        bytes_literal(t)
    ))
    .await;
    let err = t.reopen().await.unwrap_err();
    assert!(matches!(err, Error::MigrationMismatch { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("migration 9999 was applied to the database but is unknown"),
        "{err}"
    );
}

#[tokio::test]
async fn damaged_sqlite_pages() {
    let t = TestDb::open(crate::common::Target::Sqlite, module_path!())
        .await
        .unwrap();
    for call_id in 0..200 {
        let op = atrium_db::OpResult {
            node: "node1".into(),
            resource: format!("r{call_id}"),
            operation: "monitor".into(),
            interval_ms: 10_000,
            rc: 0,
            status: "done".into(),
            exit_reason: None,
            call_id,
            started_ms: 0,
            ended_ms: 1,
            duration_ms: 1,
            transition_id: None,
        };
        t.db.op_history().record(&op).await.unwrap();
    }
    t.db.close().await;
    // Move everything from the WAL into the main file, which is then damaged.
    t.execute_raw("PRAGMA wal_checkpoint(TRUNCATE)").await;
    // Keep page 1 (header and schema), overwrite every later page with garbage.
    let mut file = std::fs::read(&t.location).unwrap();
    assert!(file.len() > 3 * 4096, "the table spans several pages");
    for (i, byte) in file.iter_mut().enumerate().skip(4096) {
        *byte = (i % 251) as u8;
    }
    std::fs::write(&t.location, file).unwrap();

    let err = t.reopen().await.unwrap_err();
    assert!(matches!(err, Error::NotADatabase { .. }), "{err}");
    assert!(err.to_string().contains("malformed"), "{err}");
}

#[tokio::test]
async fn sqlite_file_is_in_wal_mode() {
    use sqlx::Connection;
    let t = TestDb::open(crate::common::Target::Sqlite, module_path!())
        .await
        .unwrap();
    t.db.close().await;
    // journal_mode=wal is stored in the file: a connection of our own sees it.
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", t.location))
        .await
        .unwrap();
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

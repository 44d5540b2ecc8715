//! A writer process is SIGKILLed mid-stream; everything it was told is stored must be there
//! when the database is opened again.
//!
//! The writer is this test binary itself, running the ignored `writer_child` test with the
//! database location in its environment. It prints one line per acknowledged write.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use atrium_db::{Actor, ConfigChange, Database, LogEntry, Vote};

use crate::common::{TestDb, on_both_backends};

on_both_backends!(sigkill_keeps_acknowledged_writes);

const LOCATION_VAR: &str = "ATRIUM_DB_CRASH_LOCATION";
const SCHEMA_VAR: &str = "ATRIUM_DB_CRASH_SCHEMA";
/// The parent kills the writer once it has seen this many acknowledged log entries.
const KILL_AFTER_ENTRIES: u64 = 150;
/// The writer stops by itself after this many, should the parent never kill it.
const MAX_ENTRIES: u64 = 50_000;
const ACK_TIMEOUT: Duration = Duration::from_secs(60);

fn entry(index: u64) -> LogEntry {
    LogEntry {
        index,
        term: 1 + index / 50,
        payload: format!("entry {index} payload").into_bytes(),
    }
}

fn change(version: u64) -> ConfigChange {
    ConfigChange {
        version,
        actor: Actor::User("crash-test".into()),
        at_ms: 1_764_000_000_000 + version,
        summary: format!("change {version}"),
        diff: format!("+v{version}\n"),
        config: format!("config after change {version}\n"),
    }
}

#[tokio::test]
#[ignore = "the writer process of sigkill_keeps_acknowledged_writes; needs its environment"]
async fn writer_child() {
    let location =
        std::env::var(LOCATION_VAR).expect("run only by sigkill_keeps_acknowledged_writes");
    let db = match std::env::var(SCHEMA_VAR) {
        Ok(schema) => Database::open_in_schema(&location, &schema).await,
        Err(_) => Database::open(&location).await,
    }
    .unwrap();
    let (raft, history) = (db.raft(), db.config_history());
    for index in 1..=MAX_ENTRIES {
        raft.append(&[entry(index)]).await.unwrap();
        println!("ack entry {index}");
        if index.is_multiple_of(3) {
            history.record(&change(index / 3)).await.unwrap();
            println!("ack config {}", index / 3);
        }
        if index.is_multiple_of(10) {
            raft.save_vote(&Vote {
                term: index / 10,
                node_id: 1,
                committed: true,
            })
            .await
            .unwrap();
            println!("ack vote {}", index / 10);
        }
    }
}

#[derive(Default, Debug)]
struct Acked {
    entry: u64,
    config: u64,
    vote: u64,
}

impl Acked {
    fn note(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        if words.next() != Some("ack") {
            return;
        }
        let (Some(what), Some(Ok(n))) = (words.next(), words.next().map(str::parse::<u64>)) else {
            return;
        };
        let slot = match what {
            "entry" => &mut self.entry,
            "config" => &mut self.config,
            "vote" => &mut self.vote,
            _ => return,
        };
        *slot = (*slot).max(n);
    }
}

async fn sigkill_keeps_acknowledged_writes(t: &TestDb) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "durability::writer_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(LOCATION_VAR, &t.location)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(schema) = &t.schema {
        command.env(SCHEMA_VAR, schema);
    }
    let mut child = command.spawn().unwrap();

    // Lines are read on a thread so waiting for them can time out.
    let (lines_tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        // Only complete lines count: a line cut by the kill is not an acknowledgement.
        while stdout.read_line(&mut line).unwrap_or(0) > 0 && line.ends_with('\n') {
            if lines_tx.send(std::mem::take(&mut line)).is_err() {
                break;
            }
        }
    });

    let mut acked = Acked::default();
    let deadline = Instant::now() + ACK_TIMEOUT;
    while acked.entry < KILL_AFTER_ENTRIES {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(remaining) {
            Ok(line) => acked.note(&line),
            Err(e) => {
                let _ = child.kill();
                panic!("writer gave only {acked:?} acknowledgements ({e})");
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "the writer must die by SIGKILL mid-stream, not finish: {status}"
    );
    // Acknowledgements printed before the kill but not read yet count too.
    reader.join().unwrap();
    for line in lines.try_iter() {
        acked.note(&line);
    }
    assert!(acked.config > 0 && acked.vote > 0, "{acked:?}");

    let db = t.reopen().await.unwrap();
    let raft = db.raft();
    let expected: Vec<_> = (1..=acked.entry).map(entry).collect();
    assert_eq!(
        raft.entries(1..=acked.entry).await.unwrap(),
        expected,
        "acknowledged log entries"
    );
    assert!(raft.log_state().await.unwrap().last.unwrap().index >= acked.entry);
    let vote = raft.vote().await.unwrap().expect("an acknowledged vote");
    assert!(
        vote.term >= acked.vote,
        "vote {vote:?} older than acknowledged {acked:?}"
    );
    let history = db.config_history();
    for version in 1..=acked.config {
        assert_eq!(
            history.get(version).await.unwrap(),
            Some(change(version)),
            "config version {version}"
        );
    }
    // The database is still writable after the crash.
    let next = raft.log_state().await.unwrap().last.unwrap().index + 1;
    raft.append(&[entry(next)]).await.unwrap();
}

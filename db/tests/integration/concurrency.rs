//! Many writers at once on one database: every write lands, none fails with a lock error.

use atrium_db::{Actor, ConfigChange, Event, EventFilter, LogEntry, Severity};
use tokio::task::JoinSet;

use crate::common::{TestDb, on_both_backends};

on_both_backends!(concurrent_writers);

const WRITERS: u64 = 6;
const WRITES_EACH: u64 = 20;

async fn concurrent_writers(t: &TestDb) {
    let mut tasks = JoinSet::new();
    // Log appends from one task (Raft appends are sequential), the rest in parallel with it.
    let raft = t.db.raft();
    tasks.spawn(async move {
        for index in 1..=WRITERS * WRITES_EACH {
            raft.append(&[LogEntry {
                index,
                term: 1,
                payload: vec![1; 512],
            }])
            .await
            .unwrap();
        }
    });
    for writer in 0..WRITERS {
        let (history, events, ops) = (t.db.config_history(), t.db.events(), t.db.op_history());
        tasks.spawn(async move {
            for i in 0..WRITES_EACH {
                let version = writer * WRITES_EACH + i + 1;
                let change = ConfigChange {
                    version,
                    actor: Actor::Node(format!("node{writer}")),
                    at_ms: version,
                    summary: String::new(),
                    diff: String::new(),
                    config: format!("v{version}"),
                };
                history.record(&change).await.unwrap();
                let event = Event {
                    at_ms: version,
                    node: Some(format!("node{writer}")),
                    kind: "resource-failed".into(),
                    severity: Severity::Error,
                    message: String::new(),
                    details: serde_json::Value::Null,
                };
                events.record(&event).await.unwrap();
                ops.prune(5).await.unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }

    let total = WRITERS * WRITES_EACH;
    assert_eq!(t.db.raft().entries(..).await.unwrap().len() as u64, total);
    assert_eq!(
        t.db.config_history().list(None, 1000).await.unwrap().len() as u64,
        total
    );
    assert_eq!(
        t.db.events()
            .list(&EventFilter::recent(1000))
            .await
            .unwrap()
            .len() as u64,
        total
    );
}

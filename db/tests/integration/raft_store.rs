use atrium_db::{Error, LogEntry, LogId, LogState, Snapshot, Vote};

use crate::common::{TestDb, on_both_backends};

on_both_backends!(
    empty_store,
    append_and_read_ranges,
    append_rejects_gaps,
    append_replaces_same_index,
    truncate_removes_suffix,
    purge_removes_prefix_and_remembers_it,
    vote_round_trip,
    committed_round_trip,
    snapshot_replaced_whole,
    indexes_beyond_i64_rejected,
    everything_survives_reopen,
);

fn entry(index: u64, term: u64) -> LogEntry {
    LogEntry {
        index,
        term,
        payload: format!("{{\"op\":\"set\",\"n\":{index}}}").into_bytes(),
    }
}

fn entries(range: std::ops::RangeInclusive<u64>, term: u64) -> Vec<LogEntry> {
    range.map(|i| entry(i, term)).collect()
}

fn indexes(entries: &[LogEntry]) -> Vec<u64> {
    entries.iter().map(|e| e.index).collect()
}

async fn empty_store(t: &TestDb) {
    let raft = t.db.raft();
    assert_eq!(raft.log_state().await.unwrap(), LogState::default());
    assert_eq!(raft.entries(..).await.unwrap(), vec![]);
    assert_eq!(raft.vote().await.unwrap(), None);
    assert_eq!(raft.committed().await.unwrap(), None);
    assert_eq!(raft.snapshot().await.unwrap(), None);
}

async fn append_and_read_ranges(t: &TestDb) {
    let raft = t.db.raft();
    raft.append(&entries(1..=3, 1)).await.unwrap();
    raft.append(&entries(4..=6, 2)).await.unwrap();
    raft.append(&[]).await.unwrap();

    assert_eq!(
        raft.entries(..).await.unwrap(),
        [entries(1..=3, 1), entries(4..=6, 2)].concat()
    );
    assert_eq!(indexes(&raft.entries(2..4).await.unwrap()), [2, 3]);
    assert_eq!(indexes(&raft.entries(5..=100).await.unwrap()), [5, 6]);
    assert_eq!(indexes(&raft.entries(..=1).await.unwrap()), [1]);
    assert_eq!(
        indexes(&raft.entries(..0).await.unwrap()),
        Vec::<u64>::new()
    );
    assert_eq!(
        indexes(&raft.entries(7..).await.unwrap()),
        Vec::<u64>::new()
    );
    assert_eq!(
        raft.log_state().await.unwrap(),
        LogState {
            last_purged: None,
            last: Some(LogId { index: 6, term: 2 })
        }
    );
}

async fn append_rejects_gaps(t: &TestDb) {
    let raft = t.db.raft();
    let err = raft.append(&[entry(1, 1), entry(3, 1)]).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::NonContiguousAppend {
                previous: 1,
                found: 3
            }
        ),
        "{err}"
    );
    assert_eq!(
        raft.entries(..).await.unwrap(),
        vec![],
        "nothing of a rejected batch is stored"
    );
}

async fn append_replaces_same_index(t: &TestDb) {
    let raft = t.db.raft();
    raft.append(&entries(1..=2, 1)).await.unwrap();
    let replacement = LogEntry {
        index: 2,
        term: 5,
        payload: b"new".to_vec(),
    };
    raft.append(std::slice::from_ref(&replacement))
        .await
        .unwrap();
    assert_eq!(
        raft.entries(..).await.unwrap(),
        vec![entry(1, 1), replacement]
    );
}

async fn truncate_removes_suffix(t: &TestDb) {
    let raft = t.db.raft();
    raft.append(&entries(1..=10, 1)).await.unwrap();
    raft.truncate_from(6).await.unwrap();
    assert_eq!(indexes(&raft.entries(..).await.unwrap()), [1, 2, 3, 4, 5]);
    assert_eq!(
        raft.log_state().await.unwrap().last,
        Some(LogId { index: 5, term: 1 })
    );

    // The conflicting suffix is rewritten in a newer term.
    raft.append(&entries(6..=7, 2)).await.unwrap();
    assert_eq!(raft.entries(6..).await.unwrap(), entries(6..=7, 2));
}

async fn purge_removes_prefix_and_remembers_it(t: &TestDb) {
    let raft = t.db.raft();
    raft.append(&entries(1..=10, 3)).await.unwrap();
    raft.purge(LogId { index: 4, term: 3 }).await.unwrap();
    assert_eq!(
        indexes(&raft.entries(..).await.unwrap()),
        [5, 6, 7, 8, 9, 10]
    );
    let purged = Some(LogId { index: 4, term: 3 });
    assert_eq!(
        raft.log_state().await.unwrap(),
        LogState {
            last_purged: purged,
            last: Some(LogId { index: 10, term: 3 })
        }
    );

    // An older purge point changes nothing.
    raft.purge(LogId { index: 2, term: 3 }).await.unwrap();
    assert_eq!(raft.log_state().await.unwrap().last_purged, purged);

    // Purging everything: the last log id is then the purged one.
    raft.purge(LogId { index: 10, term: 3 }).await.unwrap();
    assert_eq!(raft.entries(..).await.unwrap(), vec![]);
    let all = Some(LogId { index: 10, term: 3 });
    assert_eq!(
        raft.log_state().await.unwrap(),
        LogState {
            last_purged: all,
            last: all
        }
    );
}

async fn vote_round_trip(t: &TestDb) {
    let raft = t.db.raft();
    raft.save_vote(&Vote {
        term: 1,
        node_id: 2,
        committed: false,
    })
    .await
    .unwrap();
    assert_eq!(
        raft.vote().await.unwrap(),
        Some(Vote {
            term: 1,
            node_id: 2,
            committed: false
        })
    );
    raft.save_vote(&Vote {
        term: 3,
        node_id: 1,
        committed: true,
    })
    .await
    .unwrap();
    assert_eq!(
        raft.vote().await.unwrap(),
        Some(Vote {
            term: 3,
            node_id: 1,
            committed: true
        })
    );
}

async fn committed_round_trip(t: &TestDb) {
    let raft = t.db.raft();
    raft.save_committed(Some(LogId { index: 7, term: 2 }))
        .await
        .unwrap();
    assert_eq!(
        raft.committed().await.unwrap(),
        Some(LogId { index: 7, term: 2 })
    );
    raft.save_committed(None).await.unwrap();
    assert_eq!(raft.committed().await.unwrap(), None);
}

async fn snapshot_replaced_whole(t: &TestDb) {
    let raft = t.db.raft();
    let first = Snapshot {
        meta: serde_json::json!({"last_log_id": {"index": 10, "term": 2}, "snapshot_id": "a"}),
        data: vec![0, 1, 2, 255],
    };
    let second = Snapshot {
        meta: serde_json::json!({"last_log_id": {"index": 20, "term": 3}, "snapshot_id": "b"}),
        data: vec![9; 100_000],
    };
    raft.save_snapshot(&first).await.unwrap();
    assert_eq!(raft.snapshot().await.unwrap(), Some(first));
    raft.save_snapshot(&second).await.unwrap();
    assert_eq!(raft.snapshot().await.unwrap(), Some(second));
}

async fn indexes_beyond_i64_rejected(t: &TestDb) {
    let raft = t.db.raft();
    let err = raft.append(&[entry(u64::MAX, 1)]).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::OutOfRange {
                what: "log index",
                value: u64::MAX
            }
        ),
        "{err}"
    );
    let err = raft
        .save_vote(&Vote {
            term: u64::MAX,
            node_id: 1,
            committed: false,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::OutOfRange {
                what: "vote term",
                ..
            }
        ),
        "{err}"
    );
    // Reading past the representable range is just empty.
    raft.append(&[entry(1, 1)]).await.unwrap();
    assert_eq!(raft.entries(u64::MAX..).await.unwrap(), vec![]);
    assert_eq!(indexes(&raft.entries(..=u64::MAX).await.unwrap()), [1]);
}

async fn everything_survives_reopen(t: &TestDb) {
    let raft = t.db.raft();
    raft.append(&entries(1..=5, 1)).await.unwrap();
    raft.purge(LogId { index: 2, term: 1 }).await.unwrap();
    raft.save_vote(&Vote {
        term: 1,
        node_id: 3,
        committed: true,
    })
    .await
    .unwrap();
    raft.save_committed(Some(LogId { index: 4, term: 1 }))
        .await
        .unwrap();
    let snapshot = Snapshot {
        meta: serde_json::json!({"id": 1}),
        data: b"cib".to_vec(),
    };
    raft.save_snapshot(&snapshot).await.unwrap();
    t.db.close().await;

    let raft = t.reopen().await.unwrap().raft();
    assert_eq!(raft.entries(..).await.unwrap(), entries(3..=5, 1));
    assert_eq!(
        raft.log_state().await.unwrap().last_purged,
        Some(LogId { index: 2, term: 1 })
    );
    assert_eq!(
        raft.vote().await.unwrap(),
        Some(Vote {
            term: 1,
            node_id: 3,
            committed: true
        })
    );
    assert_eq!(
        raft.committed().await.unwrap(),
        Some(LogId { index: 4, term: 1 })
    );
    assert_eq!(raft.snapshot().await.unwrap(), Some(snapshot));
}

use atrium_db::{OpRecord, OpResult};

use crate::common::{TestDb, on_both_backends};

on_both_backends!(
    all_fields_round_trip,
    query_by_resource_and_node,
    latest_per_operation,
    prune_keeps_newest_and_latest
);

fn op(node: &str, resource: &str, operation: &str, interval_ms: u64, call_id: i64) -> OpResult {
    OpResult {
        node: node.into(),
        resource: resource.into(),
        operation: operation.into(),
        interval_ms,
        rc: 0,
        status: "done".into(),
        exit_reason: None,
        call_id,
        started_ms: 1_000 * call_id as u64,
        ended_ms: 1_000 * call_id as u64 + 40,
        duration_ms: 35,
        transition_id: Some(format!("3:{call_id}:0:uuid")),
    }
}

fn call_ids(records: &[OpRecord]) -> Vec<i64> {
    records.iter().map(|r| r.result.call_id).collect()
}

async fn all_fields_round_trip(t: &TestDb) {
    let ops = t.db.op_history();
    let failed = OpResult {
        node: "node1".into(),
        resource: "db".into(),
        operation: "monitor".into(),
        interval_ms: 10_000,
        rc: 7,
        status: "timeout".into(),
        exit_reason: Some("monitor timed out after 20s".into()),
        call_id: -1,
        started_ms: 1_764_000_000_000,
        ended_ms: 1_764_000_020_000,
        duration_ms: 20_000,
        transition_id: None,
    };
    let id = ops.record(&failed).await.unwrap();
    let second = ops.record(&op("node1", "db", "stop", 0, 2)).await.unwrap();
    assert!(second > id);
    let stored = ops.for_resource("db", None, 10).await.unwrap();
    assert_eq!(stored.last(), Some(&OpRecord { id, result: failed }));
}

async fn query_by_resource_and_node(t: &TestDb) {
    let ops = t.db.op_history();
    ops.record(&op("node1", "web", "start", 0, 1))
        .await
        .unwrap();
    ops.record(&op("node1", "db", "start", 0, 2)).await.unwrap();
    ops.record(&op("node2", "web", "monitor", 5000, 3))
        .await
        .unwrap();
    ops.record(&op("node1", "web", "stop", 0, 4)).await.unwrap();

    assert_eq!(
        call_ids(&ops.for_resource("web", None, 10).await.unwrap()),
        [4, 3, 1]
    );
    assert_eq!(
        call_ids(&ops.for_resource("web", Some("node1"), 10).await.unwrap()),
        [4, 1]
    );
    assert_eq!(
        call_ids(&ops.for_resource("web", None, 1).await.unwrap()),
        [4]
    );
    assert_eq!(
        call_ids(&ops.for_resource("nothing", None, 10).await.unwrap()),
        Vec::<i64>::new()
    );
    assert_eq!(
        call_ids(&ops.for_node("node1", 10).await.unwrap()),
        [4, 2, 1]
    );
    assert_eq!(call_ids(&ops.for_node("node2", 10).await.unwrap()), [3]);
}

async fn latest_per_operation(t: &TestDb) {
    let ops = t.db.op_history();
    ops.record(&op("node1", "web", "start", 0, 1))
        .await
        .unwrap();
    ops.record(&op("node1", "web", "monitor", 5000, 2))
        .await
        .unwrap();
    ops.record(&op("node1", "web", "monitor", 5000, 3))
        .await
        .unwrap();
    ops.record(&op("node1", "web", "monitor", 10000, 4))
        .await
        .unwrap();
    ops.record(&op("node2", "web", "monitor", 5000, 5))
        .await
        .unwrap();
    ops.record(&op("node1", "db", "start", 0, 6)).await.unwrap();
    ops.record(&op("node1", "web", "monitor", 5000, 7))
        .await
        .unwrap();

    // Ordered by resource, node, operation, interval.
    assert_eq!(
        call_ids(&ops.latest(Some("web")).await.unwrap()),
        [7, 4, 1, 5]
    );
    assert_eq!(call_ids(&ops.latest(None).await.unwrap()), [6, 7, 4, 1, 5]);
}

async fn prune_keeps_newest_and_latest(t: &TestDb) {
    let ops = t.db.op_history();
    ops.record(&op("node1", "web", "start", 0, 1))
        .await
        .unwrap();
    for call in 2..=11 {
        ops.record(&op("node1", "web", "monitor", 5000, call))
            .await
            .unwrap();
    }
    ops.record(&op("node1", "db", "start", 0, 12))
        .await
        .unwrap();
    ops.record(&op("node1", "db", "monitor", 5000, 13))
        .await
        .unwrap();

    // web: keep the 3 newest monitors plus the start (latest of its key); db: untouched.
    assert_eq!(ops.prune(3).await.unwrap(), 7);
    assert_eq!(
        call_ids(&ops.for_resource("web", None, 100).await.unwrap()),
        [11, 10, 9, 1]
    );
    assert_eq!(
        call_ids(&ops.for_resource("db", None, 100).await.unwrap()),
        [13, 12]
    );
    assert_eq!(
        ops.prune(3).await.unwrap(),
        0,
        "pruning again deletes nothing"
    );
}

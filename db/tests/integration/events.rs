use atrium_db::{Event, EventFilter, EventRecord, Severity};
use serde_json::json;

use crate::common::{TestDb, on_both_backends};

on_both_backends!(
    round_trip,
    recent_newest_first,
    filters_combine,
    prune_before_a_time
);

fn event(at_ms: u64, node: Option<&str>, kind: &str) -> Event {
    Event {
        at_ms,
        node: node.map(str::to_owned),
        kind: kind.into(),
        severity: Severity::Warning,
        message: format!("{kind} at {at_ms}"),
        details: json!({"at": at_ms}),
    }
}

fn times(records: &[EventRecord]) -> Vec<u64> {
    records.iter().map(|r| r.event.at_ms).collect()
}

async fn round_trip(t: &TestDb) {
    let events = t.db.events();
    let fenced = Event {
        at_ms: 1_764_000_000_123,
        node: Some("node2".into()),
        kind: "fenced".into(),
        severity: Severity::Critical,
        message: "node2 was fenced by fence_ipmilan".into(),
        details: json!({"device": "ipmi-2", "action": "reboot", "attempts": [1, 2], "ok": true, "term": 7}),
    };
    let cluster_wide = Event {
        node: None,
        severity: Severity::Info,
        kind: "config-changed".into(),
        ..fenced.clone()
    };
    let id = events.record(&fenced).await.unwrap();
    let id2 = events.record(&cluster_wide).await.unwrap();
    assert!(id2 > id);
    assert_eq!(
        events.list(&EventFilter::recent(10)).await.unwrap(),
        vec![
            EventRecord {
                id: id2,
                event: cluster_wide
            },
            EventRecord { id, event: fenced }
        ]
    );
}

async fn recent_newest_first(t: &TestDb) {
    let events = t.db.events();
    // Recorded out of time order: listing goes by event time.
    for at in [300, 100, 500, 200, 400] {
        events
            .record(&event(at, Some("node1"), "node-lost"))
            .await
            .unwrap();
    }
    assert_eq!(
        times(&events.list(&EventFilter::recent(10)).await.unwrap()),
        [500, 400, 300, 200, 100]
    );
    assert_eq!(
        times(&events.list(&EventFilter::recent(2)).await.unwrap()),
        [500, 400]
    );
}

async fn filters_combine(t: &TestDb) {
    let events = t.db.events();
    events
        .record(&event(100, Some("node1"), "node-lost"))
        .await
        .unwrap();
    events
        .record(&event(200, Some("node2"), "node-lost"))
        .await
        .unwrap();
    events
        .record(&event(300, Some("node1"), "fenced"))
        .await
        .unwrap();
    events
        .record(&event(400, None, "dc-elected"))
        .await
        .unwrap();
    events
        .record(&event(500, Some("node1"), "resource-failed"))
        .await
        .unwrap();

    let events = &events;
    let list = |f: EventFilter| async move { times(&events.list(&f).await.unwrap()) };
    assert_eq!(
        list(EventFilter::recent(10).kind("node-lost")).await,
        [200, 100]
    );
    assert_eq!(
        list(EventFilter::recent(10).node("node1")).await,
        [500, 300, 100]
    );
    assert_eq!(
        list(EventFilter::recent(10).since(300)).await,
        [500, 400, 300]
    );
    assert_eq!(
        list(EventFilter::recent(10).node("node1").since(200)).await,
        [500, 300]
    );
    assert_eq!(
        list(EventFilter::recent(10).kind("node-lost").node("node2")).await,
        [200]
    );
    assert_eq!(
        list(EventFilter::recent(10).kind("fenced").since(301)).await,
        Vec::<u64>::new()
    );
}

async fn prune_before_a_time(t: &TestDb) {
    let events = t.db.events();
    for at in [100, 200, 300, 400] {
        events.record(&event(at, None, "dc-elected")).await.unwrap();
    }
    assert_eq!(events.prune_before(300).await.unwrap(), 2);
    assert_eq!(
        times(&events.list(&EventFilter::recent(10)).await.unwrap()),
        [400, 300]
    );
    assert_eq!(events.prune_before(300).await.unwrap(), 0);
}

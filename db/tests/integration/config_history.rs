use atrium_db::{Actor, ConfigChange, Error, Recorded};

use crate::common::{TestDb, on_both_backends};

on_both_backends!(
    empty_history,
    record_get_and_page,
    replay_is_idempotent_conflict_is_not
);

fn change(version: u64) -> ConfigChange {
    ConfigChange {
        version,
        actor: if version.is_multiple_of(2) {
            Actor::Node(format!("node{version}"))
        } else {
            Actor::User("admin".into())
        },
        at_ms: 1_764_000_000_000 + version * 1000,
        summary: format!("change {version}"),
        diff: format!("-old {version}\n+new {version}\n"),
        config: format!("primitive p{version} ocf:heartbeat:Dummy\n"),
    }
}

fn versions(list: &[atrium_db::ConfigChangeSummary]) -> Vec<u64> {
    list.iter().map(|c| c.version).collect()
}

async fn empty_history(t: &TestDb) {
    let history = t.db.config_history();
    assert_eq!(history.latest_version().await.unwrap(), None);
    assert_eq!(history.list(None, 10).await.unwrap(), vec![]);
    assert_eq!(history.get(1).await.unwrap(), None);
}

async fn record_get_and_page(t: &TestDb) {
    let history = t.db.config_history();
    for v in 1..=5 {
        assert_eq!(
            history.record(&change(v)).await.unwrap(),
            Recorded::Inserted
        );
    }
    assert_eq!(history.latest_version().await.unwrap(), Some(5));
    assert_eq!(history.get(3).await.unwrap(), Some(change(3)));
    assert_eq!(
        history.get(4).await.unwrap().unwrap().actor,
        Actor::Node("node4".into())
    );
    assert_eq!(history.get(99).await.unwrap(), None);

    let first = history.list(None, 2).await.unwrap();
    assert_eq!(versions(&first), [5, 4]);
    assert_eq!(first[0].summary, "change 5");
    assert_eq!(first[0].at_ms, change(5).at_ms);
    assert_eq!(first[0].actor, Actor::User("admin".into()));
    assert_eq!(versions(&history.list(Some(4), 2).await.unwrap()), [3, 2]);
    assert_eq!(versions(&history.list(Some(2), 2).await.unwrap()), [1]);
    assert_eq!(
        versions(&history.list(Some(1), 2).await.unwrap()),
        Vec::<u64>::new()
    );
}

async fn replay_is_idempotent_conflict_is_not(t: &TestDb) {
    let history = t.db.config_history();
    history.record(&change(1)).await.unwrap();
    assert_eq!(
        history.record(&change(1)).await.unwrap(),
        Recorded::AlreadyPresent
    );

    let mut different = change(1);
    different.diff = "+something else\n".into();
    let err = history.record(&different).await.unwrap_err();
    assert!(
        matches!(err, Error::ConfigVersionConflict { version: 1 }),
        "{err}"
    );
    assert_eq!(
        history.get(1).await.unwrap(),
        Some(change(1)),
        "the original row is kept"
    );
}

//! Writes what the replicated CIB applied into the node's database: each configuration change
//! (who, when, diff) and cluster events. Every node records the same versions; a replay of the
//! log after a restart records nothing twice (configuration versions are unique, events are
//! kept past a watermark of log indexes).

use std::path::PathBuf;
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::warn;

use atrium_db::{Actor, ConfigChange, Database, Event, Severity};

use super::cib_state::Applied;

pub async fn run(db: Database, watermark_file: PathBuf, mut applied: UnboundedReceiver<Applied>) {
    let history = db.config_history();
    let events = db.events();
    let mut watermark: u64 = std::fs::read_to_string(&watermark_file).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    while let Some(item) = applied.recv().await {
        let result = match item {
            Applied::ConfigChanged { version, actor, at_ms, summary, diff, config_xml } => {
                let change = ConfigChange { version, actor: actor_of(&actor), at_ms, summary, diff, config: config_xml };
                history.record(&change).await.map(|_| ())
            }
            Applied::Event { index, .. } if index <= watermark => Ok(()),
            Applied::Event { index, at_ms, node, kind, warning, message } => {
                let severity = if warning { Severity::Warning } else { Severity::Info };
                let event = Event { at_ms, node, kind: kind.to_string(), severity, message, details: serde_json::json!({ "log_index": index }) };
                let recorded = events.record(&event).await.map(|_| ());
                if recorded.is_ok() {
                    watermark = index;
                    if let Err(e) = std::fs::write(&watermark_file, index.to_string()) {
                        warn!(error = %e, file = %watermark_file.display(), "could not save the event watermark");
                    }
                }
                recorded
            }
        };
        if let Err(e) = result {
            warn!(error = %e, "could not record in the node's history");
        }
    }
}

/// Actors are written `node:NAME` by the cluster itself, anything else is a user.
fn actor_of(actor: &str) -> Actor {
    match actor.strip_prefix("node:") {
        Some(node) => Actor::Node(node.to_string()),
        None => Actor::User(actor.to_string()),
    }
}

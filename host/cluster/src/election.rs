//! Guard against openraft 0.9's election live-lock.
//!
//! openraft 0.9.25 draws its election timeout once per `Raft` instance, so two survivors whose
//! draws are close can split the vote round after round forever (fixed upstream only in 0.10,
//! openraft PR #1838). When no leader has been known for a fresh random delay in
//! `[2 * max, 3 * max)`, this task starts an election itself, which breaks the symmetry.
//!
//! The delay stays clear of openraft's own retries, which come within `max` of the last
//! campaign, or `3 * max` for a node that knows its log is behind (such a node cannot win; if
//! it campaigned early it would only push the term past the node that can, costing a round).

use std::time::Duration;

use rand::Rng;
use tokio::time::{Instant, MissedTickBehavior, interval};

use crate::config::Timings;
use crate::state::ReplicatedState;
use crate::types::Raft;

fn patience(timings: &Timings) -> Duration {
    let max = timings.election_timeout_max;
    max * 2 + max.mul_f64(rand::thread_rng().r#gen::<f64>())
}

pub(crate) async fn run<S: ReplicatedState>(raft: Raft<S>, timings: Timings) {
    let metrics = raft.metrics();
    let mut leaderless_since: Option<Instant> = None;
    let mut wait = patience(&timings);
    let mut tick = interval(timings.heartbeat);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let electable = {
            let m = metrics.borrow();
            m.current_leader.is_none()
                && m.membership_config
                    .membership()
                    .voter_ids()
                    .any(|v| v == m.id)
        };
        if !electable {
            leaderless_since = None;
            continue;
        }
        let since = *leaderless_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= wait {
            tracing::info!(leaderless_for = ?since.elapsed(), "no leader: starting an election");
            if raft.trigger().elect().await.is_err() {
                return; // the Raft core has stopped
            }
            leaderless_since = Some(Instant::now());
            wait = patience(&timings);
        }
    }
}

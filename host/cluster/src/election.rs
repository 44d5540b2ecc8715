//! Guard against openraft 0.9's election live-lock.
//!
//! openraft 0.9.25 draws its election timeout once per `Raft` instance, so two survivors whose
//! draws are close can split the vote round after round forever (fixed upstream only in 0.10,
//! openraft PR #1838). While no leader is known, this task starts an election itself after a
//! fresh random delay in `[max, 2 * max - min)`, which breaks the symmetry.

use std::time::Duration;

use rand::Rng;
use tokio::time::{Instant, MissedTickBehavior, interval};

use crate::config::Timings;
use crate::state::ReplicatedState;
use crate::types::Raft;

fn patience(timings: &Timings) -> Duration {
    let spread = timings.election_timeout_max - timings.election_timeout_min;
    timings.election_timeout_max + spread.mul_f64(rand::thread_rng().r#gen::<f64>())
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
            m.current_leader.is_none() && m.membership_config.membership().voter_ids().any(|v| v == m.id)
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

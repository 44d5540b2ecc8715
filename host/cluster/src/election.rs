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
//!
//! In two-node mode openraft's own elections are off and this task turns them on only while
//! `two_node::may_elect` allows it.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::time::{Instant, MissedTickBehavior, interval};

use crate::config::{Member, Timings};
use crate::protocol::Peers;
use crate::state::ReplicatedState;
use crate::two_node::{self, StandIn};
use crate::types::Raft;

/// Two-node mode: the peer whose answers decide whether this node may campaign.
pub(crate) struct TwoNodeGate<S: ReplicatedState> {
    pub(crate) peers: Arc<Peers<S>>,
    pub(crate) peer: Member,
    pub(crate) stand_in: Arc<StandIn>,
}

fn patience(timings: &Timings) -> Duration {
    let max = timings.election_timeout_max;
    max * 2 + max.mul_f64(rand::thread_rng().r#gen::<f64>())
}

pub(crate) async fn run<S: ReplicatedState>(
    raft: Raft<S>,
    timings: Timings,
    gate: Option<TwoNodeGate<S>>,
) {
    let metrics = raft.metrics();
    let mut elections_on = gate.is_none();
    let mut leaderless_since: Option<Instant> = None;
    let mut wait = patience(&timings);
    let mut tick = interval(timings.heartbeat);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Some(gate) = &gate {
            let leading = {
                let m = metrics.borrow();
                m.current_leader == Some(m.id)
            };
            let allowed = leading
                || two_node::may_elect(
                    &raft,
                    &gate.peers,
                    &gate.peer,
                    &gate.stand_in,
                    timings.heartbeat,
                )
                .await;
            if allowed != elections_on {
                tracing::debug!(allowed, "two-node: elections");
                raft.runtime_config().elect(allowed);
                elections_on = allowed;
            }
        }
        let electable = elections_on && {
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

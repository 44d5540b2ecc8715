//! Node liveness and quorum, from lease heartbeats.
//!
//! Every node sends a small lease heartbeat to the leader each heartbeat interval. The leader
//! records when it last heard from each node: a node silent for `node_lost` is reported lost,
//! and the leader is quorate while a majority of voters (itself included) was heard within
//! `lease`. The leader's acknowledgement carries its quorum and its view of every node; a node
//! that has had no acknowledgement from a quorate leader for `lease` reports itself inquorate,
//! so the node layer can apply no-quorum-policy.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use openraft::ServerState;
use serde::{Deserialize, Serialize};
use tokio::time::{Instant, MissedTickBehavior, interval};

use crate::config::Timings;
use crate::protocol::{Peers, Reply, Request};
use crate::state::ReplicatedState;
use crate::types::{Metrics, NodeId, Raft};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LeaseBeat {
    pub(crate) from: NodeId,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LeaseAck {
    /// False when the receiver is not (or no longer) the leader: the beat was not counted.
    leader: bool,
    quorate: bool,
    /// The leader's view: per node, alive or not, and milliseconds since last heard.
    nodes: Vec<(NodeId, bool, Option<u64>)>,
}

/// Whether a node is alive, as seen by the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeLiveness {
    pub alive: bool,
    /// When the leader last heard from the node (on this node's clock); `None`: not since the
    /// leader took over.
    pub last_seen: Option<Instant>,
}

pub(crate) struct Liveness {
    me: NodeId,
    node_lost: Duration,
    lease: Duration,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Leader: when each node was last heard from.
    heard: HashMap<NodeId, Instant>,
    /// Leader: the term and the moment this node became leader. Nodes not heard from since
    /// count as alive until the lease after it (winning the election was contact with a
    /// majority, and a follower may take a moment to learn of the new leader); quorum still
    /// needs real beats.
    leading: Option<(u64, Instant)>,
    /// Follower: when a quorate leader last acknowledged a beat, and its view of the nodes.
    acked: Option<(Instant, BTreeMap<NodeId, NodeLiveness>)>,
}

/// Quorum and per-node liveness as this node sees them.
pub(crate) struct View {
    pub(crate) quorate: bool,
    pub(crate) nodes: BTreeMap<NodeId, NodeLiveness>,
}

fn is_leader(me: NodeId, m: &Metrics) -> bool {
    m.state == ServerState::Leader && m.current_leader == Some(me)
}

impl Liveness {
    pub(crate) fn new(me: NodeId, timings: &Timings) -> Self {
        Self {
            me,
            node_lost: timings.node_lost,
            lease: timings.lease,
            inner: Mutex::default(),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Plain timestamps; nothing to repair after a panic.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The leader's side of a beat.
    pub(crate) fn on_beat(&self, beat: &LeaseBeat, metrics: &Metrics) -> LeaseAck {
        if !is_leader(self.me, metrics) {
            return LeaseAck {
                leader: false,
                quorate: false,
                nodes: Vec::new(),
            };
        }
        // A node outside the membership (a fenced two-node peer back before it is admitted
        // again) must not believe itself part of a quorate partition.
        let member = metrics
            .membership_config
            .membership()
            .get_node(&beat.from)
            .is_some();
        let now = Instant::now();
        if member {
            self.inner().heard.insert(beat.from, now);
        }
        let view = self.view(metrics);
        LeaseAck {
            leader: true,
            quorate: view.quorate && member,
            nodes: view
                .nodes
                .iter()
                .map(|(&id, l)| {
                    let ago = l
                        .last_seen
                        .map(|t| now.saturating_duration_since(t).as_millis() as u64);
                    (id, l.alive, ago)
                })
                .collect(),
        }
    }

    /// The follower's side: only a quorate leader's acknowledgement renews the lease.
    pub(crate) fn on_ack(&self, ack: LeaseAck) {
        if !(ack.leader && ack.quorate) {
            return;
        }
        let now = Instant::now();
        let nodes = ack
            .nodes
            .into_iter()
            .map(|(id, alive, ago)| {
                let last_seen = ago.and_then(|ms| now.checked_sub(Duration::from_millis(ms)));
                (id, NodeLiveness { alive, last_seen })
            })
            .collect();
        self.inner().acked = Some((now, nodes));
    }

    pub(crate) fn view(&self, metrics: &Metrics) -> View {
        let now = Instant::now();
        let mut inner = self.inner();
        if is_leader(self.me, metrics) {
            let since = match inner.leading {
                Some((term, since)) if term == metrics.current_term => since,
                _ => {
                    inner.leading = Some((metrics.current_term, now));
                    // A previous leader's acknowledgement must not count after this
                    // leadership ends.
                    inner.acked = None;
                    now
                }
            };
            let last = |id: NodeId| -> Instant {
                if id == self.me {
                    now
                } else {
                    inner.heard.get(&id).map_or(since, |&t| t.max(since))
                }
            };
            let membership = metrics.membership_config.membership();
            // Quorum needs beats actually heard: a node restarted with a committed vote of its
            // own comes back as leader of a term the others have left, and must not count
            // itself quorate before anyone answers.
            let heard_within_lease = |v: NodeId| {
                v == self.me || inner.heard.get(&v).is_some_and(|&t| now - t <= self.lease)
            };
            let quorate = membership.get_joint_config().iter().all(|voters| {
                let heard = voters.iter().filter(|&&v| heard_within_lease(v)).count();
                heard * 2 > voters.len()
            });
            let nodes = membership
                .nodes()
                .map(|(&id, _)| {
                    let last_seen = if id == self.me {
                        Some(now)
                    } else {
                        inner.heard.get(&id).copied()
                    };
                    // A node not heard since this leader took over gets the lease to find it
                    // (it may still be waiting out the election), not just `node_lost`.
                    let alive = match inner.heard.get(&id) {
                        Some(&t) if t >= since || id == self.me => now - last(id) <= self.node_lost,
                        _ if id == self.me => true,
                        _ => now - since <= self.lease.max(self.node_lost),
                    };
                    (id, NodeLiveness { alive, last_seen })
                })
                .collect();
            View { quorate, nodes }
        } else {
            inner.leading = None;
            match &inner.acked {
                Some((at, nodes)) => {
                    let fresh = now - *at <= self.node_lost;
                    let nodes = nodes
                        .iter()
                        .map(|(&id, l)| {
                            // A stale view says nothing about whether others are still alive.
                            let alive = id == self.me || (l.alive && fresh);
                            (
                                id,
                                NodeLiveness {
                                    alive,
                                    last_seen: l.last_seen,
                                },
                            )
                        })
                        .collect();
                    View {
                        quorate: now - *at <= self.lease,
                        nodes,
                    }
                }
                None => View {
                    quorate: false,
                    nodes: BTreeMap::new(),
                },
            }
        }
    }
}

/// Sends a lease heartbeat to the current leader every heartbeat interval.
pub(crate) async fn run_beats<S: ReplicatedState>(
    me: NodeId,
    raft: Raft<S>,
    peers: Arc<Peers<S>>,
    liveness: Arc<Liveness>,
    heartbeat: Duration,
) {
    let metrics = raft.metrics();
    let mut tick = interval(heartbeat);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let target = {
            let m = metrics.borrow();
            m.current_leader
                .filter(|&leader| leader != me)
                .and_then(|leader| {
                    m.membership_config
                        .membership()
                        .get_node(&leader)
                        .map(|n| (leader, n.addr.clone()))
                })
        };
        let Some((leader, addr)) = target else {
            continue;
        };
        let client = peers.client(leader, &addr);
        // One heartbeat interval per beat: a late answer is as good as none.
        match client
            .call(Request::Lease(LeaseBeat { from: me }), heartbeat)
            .await
        {
            Ok(Reply::Lease(ack)) => liveness.on_ack(ack),
            Ok(other) => tracing::warn!(
                leader,
                reply = other.kind(),
                "unexpected reply to a lease heartbeat"
            ),
            Err(error) => tracing::debug!(leader, %error, "lease heartbeat failed"),
        }
    }
}

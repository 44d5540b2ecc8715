//! Two-node mode, the node's side (`[quorum] two_node = true`), as Pacemaker runs on
//! corosync's `two_node` with `wait_for_all`.
//!
//! Losing the peer does not make this node apply `no-quorum-policy` (corosync keeps quorum for
//! the survivor): it fences the peer with the devices its copy of the CIB configures, and once
//! that succeeded it takes the cluster over alone (`Cluster::take_over_from_fenced_peer`) and
//! records the fencing, so the DC it now is recovers the peer's resources.
//!
//! - wait_for_all: armed only once this node has been quorate with its peer as a voter since it
//!   started, so a node booting alone never shoots a peer it has not seen.
//! - In a split both sides race to fence; `pcmk_delay_base` / `pcmk_delay_max` on the devices
//!   decide which one shoots first, and the other is off before its own delay ends.
//! - Fencing is required: with `stonith-enabled=false`, or no device for the peer (the watchdog
//!   proves nothing here, since both sides keep quorum), nothing is taken over. Resources keep
//!   running where they are and the peer's are not recovered, which is safe, unlike
//!   Pacemaker's two_node without fencing.

use std::sync::Arc;
use std::time::Duration;
use tracing::{Instrument, info, info_span, warn};

use atrium_cluster::ClusterStatus;

use super::cib_state::{CibCommand, FenceCompletion};
use super::{NodeContext, now_ms};
use crate::fencing::{self, FenceAction, FenceOutcome};

/// Pause between failed fencing attempts while the peer stays away.
const RETRY_PAUSE: Duration = Duration::from_secs(2);

pub async fn run(ctx: Arc<NodeContext>, peer: String, wait_for_all: bool) {
    let mut status = ctx.cluster.watch();
    let mut stopping = ctx.stopping.subscribe();
    let both_voters = |s: &ClusterStatus| s.quorate && s.voters.len() == 2;
    if wait_for_all {
        info!(%peer, "two-node mode: waiting to see the peer once (wait_for_all)");
        tokio::select! {
            r = status.wait_for(both_voters) => if r.is_err() { return },
            _ = stopping.changed() => return,
        }
    } else {
        // Give a peer booting at the same time the chance to answer before shooting it.
        tokio::select! {
            _ = tokio::time::sleep(ctx.lease * 2) => {}
            _ = stopping.changed() => return,
        }
    }
    info!(%peer, "two-node mode armed: losing the peer means fencing it and carrying on alone");
    loop {
        tokio::select! {
            r = status.wait_for(|s| !s.quorate && s.voters.len() == 2) => if r.is_err() { return },
            _ = stopping.changed() => return,
        }
        let span = info_span!("two_node_takeover", %peer);
        let taken = async {
            loop {
                if *ctx.stopping.borrow() || status.borrow().quorate {
                    info!("quorum is back: nothing to take over");
                    return false;
                }
                if take_over(&ctx, &peer).await {
                    return true;
                }
                tokio::select! {
                    _ = tokio::time::sleep(RETRY_PAUSE) => {}
                    _ = status.wait_for(|s| s.quorate) => {}
                }
            }
        }
        .instrument(span)
        .await;
        if taken {
            // Armed again once the peer is back as a voter.
            tokio::select! {
                r = status.wait_for(both_voters) => if r.is_err() { return },
                _ = stopping.changed() => return,
            }
        }
    }
}

/// Fences the peer and, if that worked, takes the cluster over and records the fencing. False
/// when it has to be tried again.
async fn take_over(ctx: &NodeContext, peer: &str) -> bool {
    let requested_ms = now_ms();
    let cib = ctx.cluster.read(|s| s.cib.clone());
    let options = cib.options();
    let action = FenceAction::parse(&options.fencing_action).unwrap_or(FenceAction::Reboot);
    let outcome = if !options.fencing_enabled {
        FenceOutcome::refused("fencing is disabled (stonith-enabled=false): the survivor of a two-node split takes over only after fencing its peer")
    } else {
        match fencing::operation_for(&cib, peer, action) {
            Err(e) => FenceOutcome::refused(e.to_string()),
            Ok(op) if op.levels.is_empty() => FenceOutcome::refused(format!("no fence device covers {peer} (the watchdog cannot prove a two-node peer down)")),
            Ok(op) => {
                warn!(%peer, ?action, "lost the peer: fencing it");
                op.run(ctx.fence_agents.as_ref()).await
            }
        }
    };
    if !outcome.ok {
        warn!(%peer, reason = outcome.reason.as_deref().unwrap_or(""), "could not fence the peer; resources stay where they are");
        return false;
    }
    // The DC loop waits until the fencing is recorded: it would otherwise see the peer lost
    // and unfenced, and fence it a second time.
    ctx.taking_over.send_replace(true);
    let recorded = async {
        ctx.cluster.take_over_from_fenced_peer().await?;
        let completion = FenceCompletion {
            id: 0,
            ok: true,
            executioner: ctx.name.clone(),
            at_ms: now_ms(),
            level: outcome.level,
            devices: outcome.devices,
            attempts: outcome.attempts,
            reason: None,
        };
        let command = CibCommand::PeerFenced { target: peer.to_string(), action: action.as_str().to_string(), requested_ms, completion: Box::new(completion) };
        ctx.propose_until_done(command).await.map(drop)
    }
    .await;
    ctx.taking_over.send_replace(false);
    match recorded {
        Ok(()) => {
            info!(%peer, ms = now_ms().saturating_sub(requested_ms), "peer fenced; this node carries on alone");
            true
        }
        Err(e) => {
            warn!(%peer, error = %e, "peer fenced, but taking the cluster over failed");
            false
        }
    }
}

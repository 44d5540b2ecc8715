//! Building `atrium status` from a node's copy of the CIB and its view of the cluster.

use atrium_cib::status::op_status;
use atrium_cib::{Cib, Role};
use atrium_cluster::ClusterStatus;
use atrium_contract::OcfStatus;
use atrium_scheduler::status::{NodeState, ResourceStatus};

use super::types::{ClusterSummary, FailedAction, MigrationEntry, NodeReport, ResourceReport, StatusReport, TransitionSummary};
use crate::daemon::plan;
use crate::daemon::transition::Transition;

pub fn build(me: &str, cib: &Cib, cluster: &ClusterStatus, transition: Option<&Transition>, now_ms: u64) -> StatusReport {
    let cib = &plan::scheduler_input(cib, cluster.quorate, cluster.dc());
    let schedule = atrium_scheduler::schedule(cib, (now_ms / 1000) as i64);
    let dc = cluster.dc().and_then(|id| cluster.members.get(&id)).map(|m| m.name.clone());
    let id_of = |name: &str| cib.configuration.nodes.iter().find(|n| n.uname == name).map(|n| n.id.clone()).unwrap_or_default();
    let nodes = schedule
        .current
        .nodes
        .iter()
        .map(|n| NodeReport {
            name: n.name.clone(),
            id: id_of(&n.name),
            state: match n.state {
                NodeState::Online => "online",
                NodeState::Offline => "offline",
                NodeState::Unclean => "unclean",
                NodeState::Standby => "standby",
                NodeState::Maintenance => "maintenance",
            }
            .into(),
            dc: dc.as_deref() == Some(n.name.as_str()),
            remote: n.remote,
        })
        .collect();
    let resources: Vec<ResourceReport> = schedule.current.resources.iter().map(resource).collect();
    let idle = transition.is_none_or(Transition::is_finished) && !plan::has_work(&plan::transition(cib, &schedule, me, 0, None, now_ms));
    let instances = resources.iter().map(count_primitives).sum();
    StatusReport {
        cluster: ClusterSummary {
            answered_by: me.to_string(),
            dc,
            term: cluster.term,
            quorate: cluster.quorate,
            epoch: cib.epoch,
            nodes_configured: cib.configuration.nodes.len(),
            resource_instances_configured: instances,
            transition: transition.map(|t| TransitionSummary {
                id: t.id,
                term: t.term,
                state: if !t.is_finished() {
                    "running"
                } else if t.aborted.is_some() {
                    "aborted"
                } else {
                    "complete"
                }
                .into(),
                counts: t.counts(),
                aborted: t.aborted.clone(),
            }),
            idle,
            updated_ms: now_ms,
        },
        nodes,
        resources,
        failed_actions: failed_actions(cib),
        migration_summary: migration_summary(cib),
    }
}

fn count_primitives(r: &ResourceReport) -> usize {
    match r {
        ResourceReport::Primitive { .. } => 1,
        ResourceReport::Group { members, .. } => members.iter().map(count_primitives).sum(),
        ResourceReport::Clone { instances, .. } => instances.iter().map(count_primitives).sum(),
    }
}

fn resource(r: &ResourceStatus) -> ResourceReport {
    match r {
        ResourceStatus::Primitive { id, agent, role, node, failed, managed, disabled, blocked, .. } => ResourceReport::Primitive {
            id: id.clone(),
            agent: agent.clone(),
            role: if *failed { "Failed".to_string() } else { role_name(*role).to_string() },
            node: node.clone(),
            managed: *managed,
            disabled: *disabled,
            blocked: *blocked,
        },
        ResourceStatus::Group { id, disabled, members, .. } => ResourceReport::Group { id: id.clone(), disabled: *disabled, members: members.iter().map(resource).collect() },
        ResourceStatus::Clone { id, promotable, unique, instances, .. } => {
            ResourceReport::Clone { id: id.clone(), promotable: *promotable, unique: *unique, instances: instances.iter().map(resource).collect() }
        }
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Promoted => "Promoted",
        Role::Unpromoted => "Unpromoted",
        Role::Stopped => "Stopped",
        _ => "Started",
    }
}

/// The last failure of each resource on each node, as crm_mon's "Failed Resource Actions".
fn failed_actions(cib: &Cib) -> Vec<FailedAction> {
    let mut out = Vec::new();
    for state in &cib.status.node_states {
        let node = state.uname.clone().unwrap_or_else(|| state.id.clone());
        for lrm in &state.lrm_resources {
            for op in lrm.ops.iter().filter(|o| o.id.ends_with("_last_failure_0")) {
                let rc_text = OcfStatus::from_code(op.rc_code).map_or("unknown", |s| s.name());
                out.push(FailedAction {
                    rsc: lrm.id.clone(),
                    node: node.clone(),
                    task: op.operation.clone(),
                    interval_ms: op.interval_ms,
                    rc: op.rc_code,
                    rc_text: if op.op_status == op_status::TIMEOUT { "timeout".into() } else { rc_text.into() },
                    op_status: op.op_status,
                    exit_reason: op.exit_reason.clone(),
                    call_id: op.call_id,
                    last_rc_change: op.last_rc_change,
                });
            }
        }
    }
    out
}

fn migration_summary(cib: &Cib) -> Vec<MigrationEntry> {
    let mut out = Vec::new();
    let threshold = |rsc: &str| {
        let base = rsc.split(':').next().unwrap_or(rsc);
        let own = cib.configuration.primitives().into_iter().find(|p| p.id == base).and_then(|p| atrium_cib::nv_get(&p.meta_attributes, "migration-threshold").map(str::to_string));
        own.or_else(|| atrium_cib::nv_get(&cib.configuration.rsc_defaults, "migration-threshold").map(str::to_string))
    };
    for state in &cib.status.node_states {
        let node = state.uname.clone().unwrap_or_else(|| state.id.clone());
        for fc in state.fail_counts() {
            out.push(MigrationEntry {
                node: node.clone(),
                rsc: fc.rsc.clone(),
                fail_count: fc.count.to_string(),
                migration_threshold: threshold(&fc.rsc),
                last_failure: fc.last_failure,
            });
        }
    }
    out
}

//! Cluster status views (before and after a transition) and their crm_mon-style rendering.

use serde::Serialize;

use atrium_cib::model::Role;

use crate::actions::Plan;
use crate::cluster::{Cluster, Kind, RscIx};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    Online,
    Offline,
    Unclean,
    Standby,
    Maintenance,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub remote: bool,
    pub state: NodeState,
    /// Member of the cluster and its controller is up (an unclean node may still be online).
    pub online: bool,
    /// Standby with resources still active.
    pub active_resources: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResourceStatus {
    Primitive {
        id: String,
        agent: String,
        role: Role,
        node: Option<String>,
        failed: bool,
        managed: bool,
        /// In maintenance itself, or running on a node in maintenance.
        maintenance: bool,
        /// target-role is Stopped.
        disabled: bool,
        /// The node hosting it is unclean.
        unclean: bool,
        /// A failure left it blocked (no action will be taken).
        blocked: bool,
        /// It failed, but on-fail=ignore says to carry on.
        failure_ignored: bool,
        /// No longer configured; still active somewhere.
        orphaned: bool,
    },
    Group { id: String, disabled: bool, maintenance: bool, members: Vec<ResourceStatus> },
    Clone {
        id: String,
        template: String,
        promotable: bool,
        unique: bool,
        instances: Vec<ResourceStatus>,
        /// Nodes with no instance.
        stopped_on: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterStatus {
    pub nodes: Vec<NodeStatus>,
    pub resources: Vec<ResourceStatus>,
}

/// Where a primitive is and how it is doing.
#[derive(Clone, Copy)]
struct At {
    node: usize,
    role: Role,
    failed: bool,
    blocked: bool,
    failure_ignored: bool,
}

type Placements = Vec<Option<At>>;

pub(crate) fn current(cl: &Cluster, plans: &[Plan]) -> ClusterStatus {
    let pl: Placements = plans
        .iter()
        .enumerate()
        .map(|(ix, p)| {
            let blocked = p.frozen && !p.start_runnable;
            p.cur.map(|node| At {
                node,
                role: p.cur_role.unwrap_or(Role::Started),
                failed: p.failed || blocked,
                blocked,
                failure_ignored: ignored_failure(cl, ix, node),
            })
        })
        .collect();
    build(cl, &pl, &[], false)
}

fn ignored_failure(cl: &Cluster, ix: usize, node: usize) -> bool {
    cl.rscs[ix].prim().and_then(|p| p.history.get(&node)).is_some_and(|h| h.ignored_failure)
}

pub(crate) fn revised(cl: &Cluster, plans: &[Plan], fenced: &[usize]) -> ClusterStatus {
    let pl: Placements = plans
        .iter()
        .enumerate()
        .map(|(ix, p)| {
            let at = |node, role: Option<Role>, failed, blocked| At {
                node,
                role: role.unwrap_or(Role::Started),
                failed,
                blocked,
                failure_ignored: p.cur == Some(node) && ignored_failure(cl, ix, node),
            };
            if p.frozen {
                let blocked = !p.start_runnable;
                return p.cur.map(|n| at(n, p.cur_role, p.failed || blocked, blocked));
            }
            match p.next {
                Some(n) if p.start_runnable || p.cur == Some(n) => Some(at(n, p.next_role, false, false)),
                _ => None,
            }
        })
        .collect();
    build(cl, &pl, fenced, true)
}

fn build(cl: &Cluster, pl: &Placements, fenced: &[usize], after: bool) -> ClusterStatus {
    let nodes = cl
        .nodes
        .iter()
        .enumerate()
        .map(|(n, node)| {
            // After the transition a remote node is up exactly when its connection runs.
            let connection_up = node.connection.map(|c| pl[c].is_some());
            let state = if after && let Some(up) = connection_up {
                if up { NodeState::Online } else { NodeState::Offline }
            } else if fenced.contains(&n) {
                NodeState::Offline
            } else if node.unclean.is_some() || (node.remote && node.unseen && !node.online) {
                // A remote node never seen is shown as unclean, though only a failed connection
                // gets it fenced.
                NodeState::Unclean
            } else if !node.online {
                NodeState::Offline
            } else if node.standby {
                NodeState::Standby
            } else if node.maintenance {
                NodeState::Maintenance
            } else {
                NodeState::Online
            };
            let active_resources = pl.iter().flatten().any(|a| a.node == n);
            NodeStatus { name: node.name.clone(), remote: node.remote, state, online: node.online, active_resources }
        })
        .collect();
    // Listed by priority, then configuration order.
    let mut top = cl.top.clone();
    top.sort_by_key(|&t| std::cmp::Reverse(cl.rscs[t].priority));
    // Orphans are only shown while active.
    let resources = top.iter().filter(|&&t| !cl.rscs[t].orphan || pl[t].is_some()).map(|&t| rsc_status(cl, pl, t)).collect();
    ClusterStatus { nodes, resources }
}

fn rsc_status(cl: &Cluster, pl: &Placements, ix: RscIx) -> ResourceStatus {
    let r = &cl.rscs[ix];
    match &r.kind {
        Kind::Primitive(p) => {
            let at = pl[ix];
            // Instances of a promotable clone that are not promoted are shown as unpromoted.
            let promotable = cl.clone_of(ix).is_some_and(|c| matches!(&cl.rscs[c].kind, Kind::Clone(cs) if cs.promotable));
            let role = match at.map_or(Role::Stopped, |a| a.role) {
                Role::Started if promotable => Role::Unpromoted,
                role => role,
            };
            ResourceStatus::Primitive {
                id: r.id.clone(),
                agent: p.agent.clone(),
                role,
                node: at.map(|a| cl.nodes[a.node].name.clone()),
                failed: at.is_some_and(|a| a.failed),
                managed: r.managed,
                maintenance: r.maintenance || at.is_some_and(|a| cl.nodes[a.node].maintenance),
                disabled: r.target_role == Some(Role::Stopped),
                unclean: at.is_some_and(|a| cl.nodes[a.node].unclean.is_some() && !cl.nodes[a.node].online),
                blocked: at.is_some_and(|a| a.blocked),
                failure_ignored: at.is_some_and(|a| a.failure_ignored),
                orphaned: r.orphan,
            }
        }
        Kind::Group(kids) => ResourceStatus::Group {
            id: r.id.clone(),
            disabled: r.target_role == Some(Role::Stopped),
            maintenance: r.maintenance,
            members: kids.iter().map(|&k| rsc_status(cl, pl, k)).collect(),
        },
        Kind::Clone(cs) => {
            // Shown as "Clone Set: <clone> [<configured child id>]".
            let template = cs
                .instances
                .first()
                .map_or_else(|| r.id.clone(), |&i| cl.rscs[i].id.rsplit_once(':').map_or(cl.rscs[i].id.clone(), |x| x.0.to_string()));
            let hosting: Vec<usize> = cs.instances.iter().flat_map(|&i| cl.leaves(i)).filter_map(|l| pl[l].map(|a| a.node)).collect();
            let mut stopped_on: Vec<String> =
                cl.nodes.iter().enumerate().filter(|(n, _)| !hosting.contains(n)).map(|(_, node)| node.name.clone()).collect();
            stopped_on.sort();
            ResourceStatus::Clone {
                id: r.id.clone(),
                template,
                promotable: cs.promotable,
                unique: cs.unique,
                instances: cs.instances.iter().map(|&i| rsc_status(cl, pl, i)).collect(),
                stopped_on,
            }
        }
    }
}

impl ClusterStatus {
    /// Render as crm_simulate prints it (Node List, Full List of Resources).
    pub fn render(&self) -> String {
        let mut out = String::from("  * Node List:\n");
        // Nodes are listed by name.
        let mut nodes: Vec<&NodeStatus> = self.nodes.iter().collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let mut online = Vec::new();
        let mut offline = Vec::new();
        let mut remote_online = Vec::new();
        let mut remote_offline = Vec::new();
        for n in nodes {
            let kind = if n.remote { "RemoteNode" } else { "Node" };
            match n.state {
                NodeState::Online if n.remote => remote_online.push(n.name.as_str()),
                NodeState::Online => online.push(n.name.as_str()),
                NodeState::Offline if n.remote => remote_offline.push(n.name.as_str()),
                NodeState::Offline => offline.push(n.name.as_str()),
                NodeState::Unclean => {
                    let how = if n.online { "online" } else { "offline" };
                    out.push_str(&format!("    * {kind} {}: UNCLEAN ({how})\n", n.name));
                }
                NodeState::Standby => {
                    let extra = if n.active_resources { " (with active resources)" } else { "" };
                    out.push_str(&format!("    * {kind} {}: standby{extra}\n", n.name));
                }
                NodeState::Maintenance => out.push_str(&format!("    * {kind} {}: maintenance\n", n.name)),
            }
        }
        for (label, list) in [("Online", online), ("OFFLINE", offline), ("RemoteOnline", remote_online), ("RemoteOFFLINE", remote_offline)] {
            if !list.is_empty() {
                out.push_str(&format!("    * {label}: [ {} ]\n", list.join(" ")));
            }
        }
        out.push_str("\n  * Full List of Resources:\n");
        for r in &self.resources {
            render_rsc(r, 2, &mut out);
        }
        out
    }
}

fn primitive_line(r: &ResourceStatus) -> String {
    let ResourceStatus::Primitive { id, agent, role, node, failed, managed, maintenance, disabled, unclean, blocked, failure_ignored, orphaned } = r else {
        unreachable!("only primitives have a line")
    };
    let state = match (failed, node) {
        (true, Some(n)) => format!("FAILED {n}"),
        (_, Some(n)) => format!("{} {n}", role.as_str()),
        (_, None) => "Stopped".to_string(),
    };
    let state = if *orphaned { format!("ORPHANED {state}") } else { state };
    let mut flags = Vec::new();
    if *unclean {
        flags.push("UNCLEAN");
    }
    if *disabled {
        flags.push("disabled");
    }
    if *maintenance {
        flags.push("maintenance");
    } else if !managed {
        flags.push("unmanaged");
    }
    if *blocked {
        flags.push("blocked");
    }
    if *failure_ignored {
        flags.push("failure ignored");
    }

    let flags = if flags.is_empty() { String::new() } else { format!(" ({})", flags.join(", ")) };
    format!("{id}\t({agent}):\t {state}{flags}")
}

fn render_rsc(r: &ResourceStatus, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    match r {
        ResourceStatus::Primitive { .. } => {
            out.push_str(&format!("{pad}* {}\n", primitive_line(r)));
        }
        ResourceStatus::Group { id, disabled, maintenance, members } => {
            let flags: Vec<&str> = [(*disabled, "disabled"), (*maintenance, "maintenance")].into_iter().filter(|f| f.0).map(|f| f.1).collect();
            let flags = if flags.is_empty() { String::new() } else { format!(" ({})", flags.join(", ")) };
            out.push_str(&format!("{pad}* Resource Group: {id}{flags}:\n"));
            for m in members {
                render_rsc(m, depth + 1, out);
            }
        }
        ResourceStatus::Clone { id, template, promotable, unique, instances, stopped_on } => {
            let mut tags = Vec::new();
            if *promotable {
                tags.push("promotable");
            }
            if *unique {
                tags.push("unique");
            }
            let tags = if tags.is_empty() { String::new() } else { format!(" ({})", tags.join(", ")) };
            out.push_str(&format!("{pad}* Clone Set: {id} [{template}]{tags}:\n"));
            let simple = instances.iter().all(|i| matches!(i, ResourceStatus::Primitive { failed: false, managed: true, .. }));
            if *unique || !simple {
                for i in instances {
                    render_rsc(i, depth + 1, out);
                }
                return;
            }
            // Anonymous instances are summarised by role.
            let mut by_role: Vec<(Role, Vec<String>)> = Vec::new();
            for i in instances {
                if let ResourceStatus::Primitive { role, node: Some(n), .. } = i {
                    match by_role.iter_mut().find(|(r, _)| r == role) {
                        Some((_, v)) => v.push(n.clone()),
                        None => by_role.push((*role, vec![n.clone()])),
                    }
                }
            }
            by_role.sort_by_key(|(r, _)| std::cmp::Reverse(*r));
            for (role, mut nodes) in by_role {
                nodes.sort();
                out.push_str(&format!("{pad}  * {}: [ {} ]\n", role.as_str(), nodes.join(" ")));
            }
            if !stopped_on.is_empty() {
                out.push_str(&format!("{pad}  * Stopped: [ {} ]\n", stopped_on.join(" ")));
            }
        }
    }
}

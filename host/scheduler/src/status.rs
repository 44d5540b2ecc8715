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
        /// The node hosting it is unclean.
        unclean: bool,
    },
    Group { id: String, members: Vec<ResourceStatus> },
    Clone { id: String, template: String, promotable: bool, unique: bool, instances: Vec<ResourceStatus> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterStatus {
    pub nodes: Vec<NodeStatus>,
    pub resources: Vec<ResourceStatus>,
}

/// (node, role, failed) for each primitive.
type Placements = Vec<Option<(usize, Role, bool)>>;

pub(crate) fn current(cl: &Cluster, plans: &[Plan]) -> ClusterStatus {
    let pl: Placements = plans
        .iter()
        .map(|p| p.cur.map(|n| (n, p.cur_role.unwrap_or(Role::Started), p.failed)))
        .collect();
    build(cl, &pl, &[])
}

pub(crate) fn revised(cl: &Cluster, plans: &[Plan], fenced: &[usize]) -> ClusterStatus {
    let pl: Placements = plans
        .iter()
        .map(|p| {
            if p.frozen {
                return p.cur.map(|n| (n, p.cur_role.unwrap_or(Role::Started), p.failed));
            }
            match p.next {
                Some(n) if p.start_runnable || p.cur == Some(n) => Some((n, p.next_role.unwrap_or(Role::Started), false)),
                _ => None,
            }
        })
        .collect();
    build(cl, &pl, fenced)
}

fn build(cl: &Cluster, pl: &Placements, fenced: &[usize]) -> ClusterStatus {
    let nodes = cl
        .nodes
        .iter()
        .enumerate()
        .map(|(n, node)| {
            let state = if fenced.contains(&n) {
                NodeState::Offline
            } else if node.unclean.is_some() {
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
            let active_resources = pl.iter().flatten().any(|&(m, _, _)| m == n);
            NodeStatus { name: node.name.clone(), remote: node.remote, state, active_resources }
        })
        .collect();
    let resources = cl.top.iter().map(|&t| rsc_status(cl, pl, t)).collect();
    ClusterStatus { nodes, resources }
}

fn rsc_status(cl: &Cluster, pl: &Placements, ix: RscIx) -> ResourceStatus {
    let r = &cl.rscs[ix];
    match &r.kind {
        Kind::Primitive(p) => {
            let at = pl[ix];
            ResourceStatus::Primitive {
                id: r.id.clone(),
                agent: p.agent.clone(),
                role: at.map_or(Role::Stopped, |x| x.1),
                node: at.map(|x| cl.nodes[x.0].name.clone()),
                failed: at.is_some_and(|x| x.2),
                managed: r.managed,
                unclean: at.is_some_and(|x| cl.nodes[x.0].unclean.is_some()),
            }
        }
        Kind::Group(kids) => ResourceStatus::Group { id: r.id.clone(), members: kids.iter().map(|&k| rsc_status(cl, pl, k)).collect() },
        Kind::Clone(cs) => {
            let template = cl.leaves(cs.instances.first().copied().unwrap_or(ix)).first().map_or_else(
                || r.id.clone(),
                |&l| cl.rscs[l].prim().map_or_else(|| r.id.clone(), |p| p.template.clone()),
            );
            let template = match &cl.rscs[cs.instances.first().copied().unwrap_or(ix)].kind {
                Kind::Group(_) => cl.rscs[cs.instances[0]].id.rsplit_once(':').map_or(template.clone(), |x| x.0.to_string()),
                _ => template,
            };
            ResourceStatus::Clone {
                id: r.id.clone(),
                template,
                promotable: cs.promotable,
                unique: cs.unique,
                instances: cs.instances.iter().map(|&i| rsc_status(cl, pl, i)).collect(),
            }
        }
    }
}

impl ClusterStatus {
    /// Render as crm_simulate prints it (Node List, Full List of Resources).
    pub fn render(&self) -> String {
        let mut out = String::from("  * Node List:\n");
        let mut online = Vec::new();
        let mut offline = Vec::new();
        let mut remote_online = Vec::new();
        let mut remote_offline = Vec::new();
        for n in &self.nodes {
            let kind = if n.remote { "RemoteNode" } else { "Node" };
            match n.state {
                NodeState::Online if n.remote => remote_online.push(n.name.as_str()),
                NodeState::Online => online.push(n.name.as_str()),
                NodeState::Offline if n.remote => remote_offline.push(n.name.as_str()),
                NodeState::Offline => offline.push(n.name.as_str()),
                NodeState::Unclean => out.push_str(&format!("    * {kind} {}: UNCLEAN (offline)\n", n.name)),
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

fn primitive_line(id: &str, agent: &str, role: Role, node: &Option<String>, failed: bool, managed: bool, unclean: bool) -> String {
    let state = match (failed, node) {
        (true, Some(n)) => format!("FAILED {n}"),
        (_, Some(n)) => format!("{} {n}", role.as_str()),
        (_, None) => "Stopped".to_string(),
    };
    let mut flags = Vec::new();
    if unclean {
        flags.push("UNCLEAN");
    }
    if !managed {
        flags.push("unmanaged");
    }
    let flags = if flags.is_empty() { String::new() } else { format!(" ({})", flags.join(", ")) };
    format!("{id}\t({agent}):\t {state}{flags}")
}

fn render_rsc(r: &ResourceStatus, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    match r {
        ResourceStatus::Primitive { id, agent, role, node, failed, managed, unclean } => {
            out.push_str(&format!("{pad}* {}\n", primitive_line(id, agent, *role, node, *failed, *managed, *unclean)));
        }
        ResourceStatus::Group { id, members } => {
            out.push_str(&format!("{pad}* Resource Group: {id}:\n"));
            for m in members {
                render_rsc(m, depth + 1, out);
            }
        }
        ResourceStatus::Clone { id, template, promotable, unique, instances } => {
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
        }
    }
}

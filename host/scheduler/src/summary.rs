//! The `Transition Summary:` block: one line per changed resource, in crm_simulate's format.

use serde::Serialize;

use atrium_cib::model::Role;

use crate::actions::Plan;
use crate::cluster::{Cluster, RscIx};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SummaryItem {
    Fence { node: String, action: String, reason: String },
    Resource {
        verb: String,
        rsc: String,
        details: String,
        reason: Option<String>,
        blocked: bool,
    },
}

fn role_name(r: Option<Role>) -> &'static str {
    r.map_or("Stopped", Role::as_str)
}

/// The line for one primitive, if anything changes for it.
pub(crate) fn item_for(cl: &Cluster, ix: RscIx, p: &Plan) -> Option<SummaryItem> {
    if p.frozen {
        return None;
    }
    let name = |n: usize| cl.nodes[n].name.as_str();
    let promotable = |r: Option<Role>| matches!(r, Some(Role::Promoted) | Some(Role::Unpromoted));
    let role_change = promotable(p.cur_role) || promotable(p.next_role);
    let item = |verb: &str, details: String, reason: Option<String>, blocked: bool| SummaryItem::Resource {
        verb: verb.to_string(),
        rsc: cl.rscs[ix].id.clone(),
        details,
        reason,
        blocked,
    };
    match (p.cur, p.next) {
        (None, None) => None,
        (None, Some(n)) => {
            let blocked = !p.start_runnable;
            let reason = if blocked { p.start_reason.clone() } else { None };
            if p.next_role == Some(Role::Promoted) {
                Some(item("Promote", format!("Stopped -> Promoted {}", name(n)), reason, blocked))
            } else {
                Some(item("Start", name(n).to_string(), reason, blocked))
            }
        }
        (Some(c), None) => {
            let details = if p.cur_role == Some(Role::Promoted) { format!("Promoted {}", name(c)) } else { name(c).to_string() };
            Some(item("Stop", details, p.stop_reason.clone(), false))
        }
        (Some(c), Some(n)) if c != n => {
            let verb = if p.failed {
                "Recover"
            } else if p.migrate {
                "Migrate"
            } else {
                "Move"
            };
            let details = if role_change && p.cur_role != p.next_role {
                format!("{} {} -> {} {}", role_name(p.cur_role), name(c), role_name(p.next_role), name(n))
            } else if role_change && p.next_role == Some(Role::Promoted) {
                format!("{} -> {} Promoted", name(c), name(n))
            } else {
                format!("{} -> {}", name(c), name(n))
            };
            Some(item(verb, details, None, !p.start_runnable))
        }
        (Some(c), Some(_)) => {
            let promote = p.cur_role != Some(Role::Promoted) && p.next_role == Some(Role::Promoted);
            let demote = p.cur_role == Some(Role::Promoted) && p.next_role != Some(Role::Promoted);
            if p.failed || p.forced_restart {
                let verb = match (p.failed, promote, p.next_role == Some(Role::Promoted)) {
                    (true, _, _) => "Recover",
                    (false, true, _) => "Promote",
                    (false, false, true) => "Re-promote",
                    _ => "Restart",
                };
                let details = if role_change && p.next_role == Some(Role::Promoted) && !promote {
                    format!("Promoted {}", name(c))
                } else if promote {
                    format!("{} -> Promoted {}", role_name(p.cur_role), name(c))
                } else {
                    name(c).to_string()
                };
                let reason = if p.forced_restart && !p.failed { p.start_reason.clone() } else { None };
                Some(item(verb, details, reason, false))
            } else if promote {
                Some(item("Promote", format!("{} -> Promoted {}", role_name(p.cur_role), name(c)), None, false))
            } else if demote {
                Some(item("Demote", format!("Promoted -> Unpromoted {}", name(c)), None, false))
            } else {
                None
            }
        }
    }
}

/// Render the block's lines (without the heading), with crm_simulate's column widths: the
/// resource column is at least 5 wide and grows to the longest name plus two; details are
/// right-aligned to the longest details.
pub fn render_lines(items: &[SummaryItem]) -> Vec<String> {
    let mut rsc_width = 5usize;
    let mut detail_width = 5usize;
    for i in items {
        if let SummaryItem::Resource { rsc, details, .. } = i {
            if rsc.len() > rsc_width {
                rsc_width = rsc.len() + 2;
            }
            detail_width = detail_width.max(details.len());
        }
    }
    items
        .iter()
        .map(|i| match i {
            SummaryItem::Fence { node, action, reason } => format!("  * Fence ({action}) {node} '{reason}'"),
            SummaryItem::Resource { verb, rsc, details, reason, blocked } => {
                let tail = match (reason, blocked) {
                    (Some(r), true) => format!("  due to {r} (blocked)"),
                    (Some(r), false) => format!("  due to {r}"),
                    (None, true) => "  blocked".to_string(),
                    (None, false) => String::new(),
                };
                format!("  * {verb:<8}   {rsc:<rsc_width$}   ( {details:>detail_width$} ){tail}")
            }
        })
        .collect()
}

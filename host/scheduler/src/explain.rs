//! Human explanations: why a resource is where it is, or why it is stopped, listing every
//! score contribution by source.

use serde::Serialize;

use crate::actions::Plan;
use crate::cluster::{Cluster, RscIx};
use crate::placement::Placement;
use crate::scores::Contribution;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub rsc: String,
    /// The node it will run on, if any.
    pub node: Option<String>,
    /// One sentence: the decision and its main reason.
    pub verdict: String,
    /// Every score contribution on every node, by source.
    pub contributions: Vec<Contribution>,
    /// Nodes that could not be used at all, with why.
    pub unavailable: Vec<(String, String)>,
}

impl Explanation {
    pub fn render(&self) -> String {
        let mut out = format!("{}: {}\n", self.rsc, self.verdict);
        for c in &self.contributions {
            out.push_str(&format!("  {:>10} on {}: {}\n", c.score.to_string(), c.node, c.source));
        }
        for (n, why) in &self.unavailable {
            out.push_str(&format!("  {n} unavailable: {why}\n"));
        }
        out
    }
}

/// The placed unit whose scores decided a primitive (its group, or itself).
fn unit_for(cl: &Cluster, pl: &Placement, ix: RscIx) -> RscIx {
    let mut u = ix;
    while pl.scores[u].is_none() {
        match cl.rscs[u].parent {
            Some(p) => u = p,
            None => break,
        }
    }
    u
}

pub(crate) fn explain_all(cl: &Cluster, pl: &Placement, plans: &[Plan]) -> Vec<Explanation> {
    let mut out = Vec::new();
    for (ix, r) in cl.rscs.iter().enumerate() {
        if r.prim().is_none() {
            continue;
        }
        let unit = unit_for(cl, pl, ix);
        let plan = &plans[ix];
        let name = |n: usize| cl.nodes[n].name.clone();
        let contributions = pl.contributions[unit]
            .iter()
            .map(|(n, s, src)| Contribution { node: name(*n), score: *s, source: src.clone() })
            .collect();
        let unavailable = cl
            .nodes
            .iter()
            .filter_map(|n| {
                let why = if let Some(u) = &n.unclean {
                    format!("unclean ({u})")
                } else if !(n.online || n.remote && n.connection.is_some()) {
                    "offline".into()
                } else if n.standby {
                    "standby".into()
                } else if n.maintenance {
                    "maintenance".into()
                } else if n.shutdown {
                    "shutting down".into()
                } else {
                    return None;
                };
                Some((n.name.clone(), why))
            })
            .collect();
        let verdict = match (plan.frozen, plan.next, plan.cur) {
            (true, Some(n), _) => format!("left on {} (not managed or blocked)", name(n)),
            (true, None, _) => "left stopped (not managed or blocked)".into(),
            (false, Some(n), _) if !plan.start_runnable && plan.start_required => {
                format!("would run on {} but its start is blocked: {}", name(n), plan.start_reason.clone().unwrap_or_default())
            }
            (false, Some(n), cur) => {
                let score = pl.scores[unit].as_ref().map(|s| s[n].to_string()).unwrap_or_default();
                let how = if cur == Some(n) { "stays on" } else { "placed on" };
                format!("{how} {} (highest usable score {score})", name(n))
            }
            (false, None, _) => {
                let why = plan
                    .stop_reason
                    .clone()
                    .or_else(|| pl.why_stopped[unit].clone())
                    .or_else(|| pl.why_stopped[ix].clone())
                    .unwrap_or_else(|| "no node with a non-negative score can host it".into());
                format!("stopped: {why}")
            }
        };
        out.push(Explanation { rsc: r.id.clone(), node: plan.next.map(name), verdict, contributions, unavailable });
    }
    out
}

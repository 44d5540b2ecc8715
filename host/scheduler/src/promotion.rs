//! Choosing which instances of a promotable clone are promoted.

use atrium_cib::model::Role;
use atrium_cib::Score;

use crate::cluster::{Cluster, Kind, RscIx};
use crate::placement::Placement;
use crate::scores::template_id;

/// The role each placed leaf should have next: Promoted for the chosen instances of promotable
/// clones, Unpromoted for their other instances, Started otherwise.
pub(crate) fn next_roles(cl: &Cluster, pl: &Placement) -> Vec<Role> {
    let mut roles: Vec<Role> = (0..cl.rscs.len())
        .map(|i| if pl.node[i].is_some() { Role::Started } else { Role::Stopped })
        .collect();
    for (cix, r) in cl.rscs.iter().enumerate() {
        let Kind::Clone(cs) = &r.kind else { continue };
        if !cs.promotable {
            continue;
        }
        let clone_tmpl = template_id(cl, cix);
        let mut cands: Vec<(Score, usize, RscIx)> = Vec::new();
        for (pos, &inst) in cs.instances.iter().enumerate() {
            let Some(node) = pl.node[inst] else { continue };
            for l in cl.leaves(inst) {
                roles[l] = Role::Unpromoted;
            }
            let leaf = cl.leaves(inst)[0];
            let p = cl.rscs[leaf].prim().unwrap();
            // Without a promotion score from the agent an instance cannot be promoted.
            let mut s = p.promotion_attr.get(&node).copied().unwrap_or(Score::new(-1));
            for (n, add, _) in pl.location.promoted(&clone_tmpl) {
                if n == node {
                    s = s.add(add);
                }
            }
            if p.running.iter().any(|&(n, role)| n == node && role == Role::Promoted) {
                s = s.add(cl.rscs[leaf].stickiness);
            }
            cands.push((s, pos, inst));
        }
        cands.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut per_node = vec![0usize; cl.nodes.len()];
        let mut promoted = 0;
        let can_promote = cl.rscs[cix].target_role != Some(Role::Unpromoted);
        for (s, _, inst) in cands {
            let node = pl.node[inst].unwrap();
            if !can_promote || promoted >= cs.promoted_max || per_node[node] >= cs.promoted_node_max || s.value() < 0 {
                continue;
            }
            per_node[node] += 1;
            promoted += 1;
            for l in cl.leaves(inst) {
                roles[l] = Role::Promoted;
            }
        }
    }
    roles
}

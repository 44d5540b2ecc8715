//! Capacity bookkeeping for the utilization, minimal and balanced placement strategies.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::cluster::{Cluster, NodeIx};

pub(crate) type Needs = BTreeMap<String, i64>;

/// Remaining capacity per node, reduced as resources are assigned.
#[derive(Debug, Clone)]
pub(crate) struct Capacity {
    remaining: Vec<BTreeMap<String, i64>>,
}

impl Capacity {
    pub fn new(cl: &Cluster) -> Capacity {
        Capacity { remaining: cl.nodes.iter().map(|n| n.capacity.clone()).collect() }
    }

    /// Does the node have room? A capacity the node does not define does not limit it (the
    /// behaviour of Pacemaker 3.x, pinned by the `utilization` regression case).
    pub fn fits(&self, node: NodeIx, needs: &Needs) -> bool {
        needs.iter().all(|(k, &need)| self.remaining[node].get(k).is_none_or(|&have| have >= need))
    }

    pub fn consume(&mut self, node: NodeIx, needs: &Needs) {
        for (k, need) in needs {
            if let Some(have) = self.remaining[node].get_mut(k) {
                *have -= need;
            }
        }
    }

    /// Balanced placement prefers the node with more free capacity: count the attributes in
    /// which each node has more left.
    pub fn compare(&self, a: NodeIx, b: NodeIx) -> Ordering {
        let mut score = 0i32;
        for (k, &ra) in &self.remaining[a] {
            let rb = self.remaining[b].get(k).copied().unwrap_or(0);
            score += (ra > rb) as i32 - (ra < rb) as i32;
        }
        for (k, &rb) in &self.remaining[b] {
            if !self.remaining[a].contains_key(k) {
                score -= (rb > 0) as i32;
            }
        }
        // More free capacity sorts first.
        0.cmp(&score)
    }
}

pub(crate) fn add_needs(into: &mut Needs, more: &Needs) {
    for (k, v) in more {
        *into.entry(k.clone()).or_insert(0) += v;
    }
}

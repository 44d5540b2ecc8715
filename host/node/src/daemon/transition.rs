//! A transition as the cluster replicates it: the scheduler's graph with, per action, what the
//! executor needs to run it and how far it got.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// What kind of work an action is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// An agent operation on a node.
    Resource,
    /// A marker: complete as soon as everything before it is.
    Pseudo,
    /// Fencing a node (`action` is reboot or off).
    Fence { action: String },
    /// The node's daemon leaves the cluster.
    Shutdown,
    /// An expired fail count is cleared.
    ClearFailcount,
}

/// How far an action got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StepState {
    /// Waiting for the actions before it.
    Pending,
    /// The scheduler marked it unrunnable (or something before it is): it never runs.
    Blocked,
    /// Handed to its node's executor by the DC of `term`.
    Dispatched { term: u64 },
    /// Finished with the expected result.
    Done,
    /// Finished with another result (or lost with its node).
    Failed { reason: String },
}

/// One action of a transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub id: usize,
    pub kind: StepKind,
    pub rsc: Option<String>,
    /// The name the agent and the status section know the resource by: the resource id, but
    /// an anonymous clone's instances all go by the clone's primitive id (instance numbers
    /// mean nothing for them and change between transitions), as in Pacemaker.
    pub instance: Option<String>,
    pub task: String,
    pub interval_ms: u64,
    pub node: Option<String>,
    /// For an action on a remote node, the full node that carries it over the remote's
    /// connection (see `remote::routing`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Agent address (`ocf:heartbeat:Dummy`, `wasm:atrium:dummy`) for resource actions, as
    /// the status section records it too.
    pub agent: Option<String>,
    pub params: BTreeMap<String, String>,
    /// Meta values passed to the agent (clone_max, ...), without the `CRM_meta_` prefix.
    pub meta: BTreeMap<String, String>,
    pub timeout_ms: u64,
    /// The OCF code that counts as success (7 for a probe expecting "not running").
    pub target_rc: i32,
    pub state: StepState,
}

impl Step {
    /// Pacemaker-style key: `rsc_start_0`, `stonith-node1-reboot`, `do_shutdown_node1`.
    pub fn key(&self) -> String {
        match (&self.kind, &self.rsc) {
            (StepKind::Fence { action }, _) => format!("stonith-{}-{action}", self.node.as_deref().unwrap_or("")),
            (_, Some(r)) => format!("{r}_{}_{}", self.task, self.interval_ms),
            (_, None) => format!("{}_{}", self.task, self.node.as_deref().unwrap_or("")),
        }
    }

    /// Runs on a node's executor (as opposed to markers the DC completes itself).
    pub fn is_executed(&self) -> bool {
        !matches!(self.kind, StepKind::Pseudo)
    }

    /// The full node whose executor runs it: the one carrying a remote node's action, or the
    /// node itself.
    fn carrier(&self) -> Option<&str> {
        self.via.as_deref().or(self.node.as_deref())
    }
}

/// One transition of the DC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub id: u64,
    /// Raft term of the DC that made it: executors refuse its actions once a newer DC exists.
    pub term: u64,
    pub dc: String,
    /// The CIB input generation it was computed from.
    pub generation: u64,
    /// The saved scheduler input (`pe-input-N`) it came from, on the DC.
    pub pe_input: Option<u64>,
    pub created_ms: u64,
    /// Read freely, but change a step's state only through [`Transition::set_state`]: the
    /// progress index follows the states.
    pub steps: Vec<Step>,
    /// (before, after) pairs.
    pub edges: Vec<(usize, usize)>,
    /// Set when the DC gave up on it: nothing more is dispatched; what runs finishes.
    pub aborted: Option<String>,
    #[serde(skip)]
    progress: ProgressCache,
}

impl Transition {
    /// A transition not yet started (id and term are given when the cluster applies it).
    pub fn new(dc: String, generation: u64, pe_input: Option<u64>, created_ms: u64, steps: Vec<Step>, edges: Vec<(usize, usize)>) -> Transition {
        Transition { id: 0, term: 0, dc, generation, pe_input, created_ms, steps, edges, aborted: None, progress: ProgressCache::default() }
    }

    fn progress(&self) -> &Progress {
        self.progress.0.get_or_init(|| Progress::of(&self.steps, &self.edges))
    }

    /// Steps whose predecessors have all finished successfully and that are still pending
    /// (what [`Transition::dispatchable`] hands out, unlimited and in one list).
    #[cfg(test)]
    fn ready(&self) -> Vec<usize> {
        if self.aborted.is_some() {
            return Vec::new();
        }
        let p = self.progress();
        let mut ready: Vec<usize> = p.ready_markers.iter().chain(&p.ready_work).copied().collect();
        ready.sort_unstable();
        ready
    }

    /// What one dispatch pass hands out: every ready marker (they complete on the spot), and
    /// the ready steps that run somewhere, in id order, as many as `batch_limit` (0: no limit)
    /// leaves room for beside those in flight.
    pub fn dispatchable(&self, batch_limit: usize) -> (Vec<usize>, Vec<usize>) {
        if self.aborted.is_some() {
            return (Vec::new(), Vec::new());
        }
        let p = self.progress();
        let room = if batch_limit > 0 { batch_limit.saturating_sub(p.in_flight.len()) } else { usize::MAX };
        (p.ready_markers.iter().copied().collect(), p.ready_work.iter().take(room).copied().collect())
    }

    /// Steps handed out and not yet finished.
    pub fn in_flight(&self) -> impl Iterator<Item = &Step> {
        self.progress().in_flight.iter().map(|&id| &self.steps[id])
    }

    /// Steps handed out to the executor of the full node `node` and not yet finished, in order.
    pub fn in_flight_on(&self, node: &str) -> impl Iterator<Item = &Step> {
        self.progress().in_flight_by_carrier.get(node).into_iter().flatten().map(|&id| &self.steps[id])
    }

    /// Nothing is running and nothing more will be dispatched.
    pub fn is_finished(&self) -> bool {
        let p = self.progress();
        p.in_flight.is_empty() && (self.aborted.is_some() || (p.ready_markers.is_empty() && p.ready_work.is_empty()))
    }

    /// Moves a step to `state`; when that is blocked or failed, the pending steps after it can
    /// never run and are marked blocked too, so the transition can finish.
    pub fn set_state(&mut self, id: usize, state: StepState) {
        let (steps, p) = self.parts();
        p.set(steps, id, state);
        let mut stuck = vec![id];
        while let Some(id) = stuck.pop() {
            if !steps[id].state.is_stuck() {
                continue;
            }
            for i in 0..p.successors[id].len() {
                let after = p.successors[id][i];
                if steps[after].state == StepState::Pending {
                    p.set(steps, after, StepState::Blocked);
                    stuck.push(after);
                }
            }
        }
    }

    /// Marks blocked every pending step after a blocked or failed one (as the scheduler hands
    /// over unrunnable actions without marking what follows them).
    pub fn block_unreachable(&mut self) {
        let stuck: Vec<usize> = self.steps.iter().filter(|s| s.state.is_stuck()).map(|s| s.id).collect();
        for id in stuck {
            let state = self.steps[id].state.clone();
            self.set_state(id, state);
        }
    }

    pub fn counts(&self) -> TransitionCounts {
        self.progress().counts
    }

    pub fn outline(&self) -> Outline {
        Outline { id: self.id, term: self.term, generation: self.generation, aborted: self.aborted.is_some(), finished: self.is_finished() }
    }

    fn parts(&mut self) -> (&mut [Step], &mut Progress) {
        self.progress();
        (&mut self.steps, self.progress.0.get_mut().expect("built just above"))
    }
}

/// A transition without its steps: what the DC looks at on every applied entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outline {
    pub id: u64,
    pub term: u64,
    pub generation: u64,
    pub aborted: bool,
    pub finished: bool,
}

impl StepState {
    /// Blocked or failed: what comes after it never runs.
    fn is_stuck(&self) -> bool {
        matches!(self, StepState::Blocked | StepState::Failed { .. })
    }
}

/// The progress index of a transition, built on first use (also after it was deserialised):
/// a derived copy, so transitions compare equal whatever their indexes.
#[derive(Debug, Clone, Default)]
struct ProgressCache(OnceLock<Progress>);

impl PartialEq for ProgressCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for ProgressCache {}

/// What applying a result needs to know without walking the whole transition: kept up to
/// date step by step, so a result costs the same in a transition of ten steps or of forty
/// thousand. Every field is a function of the steps' states and the edges (`Progress::of`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Progress {
    successors: Vec<Vec<usize>>,
    /// Per step, how many of its edges come from a step that is not done.
    unfinished: Vec<usize>,
    /// Pending steps with every predecessor done: markers (pseudo actions, fail-count
    /// clearing), which complete on the spot ...
    ready_markers: BTreeSet<usize>,
    /// ... and the rest, which are dispatched.
    ready_work: BTreeSet<usize>,
    in_flight: BTreeSet<usize>,
    /// The same by the node whose executor runs them.
    in_flight_by_carrier: BTreeMap<String, BTreeSet<usize>>,
    counts: TransitionCounts,
}

impl Progress {
    fn of(steps: &[Step], edges: &[(usize, usize)]) -> Progress {
        let mut p = Progress {
            successors: vec![Vec::new(); steps.len()],
            unfinished: vec![0; steps.len()],
            ready_markers: BTreeSet::new(),
            ready_work: BTreeSet::new(),
            in_flight: BTreeSet::new(),
            in_flight_by_carrier: BTreeMap::new(),
            counts: TransitionCounts::default(),
        };
        for &(before, after) in edges {
            p.successors[before].push(after);
            if steps[before].state != StepState::Done {
                p.unfinished[after] += 1;
            }
        }
        for s in steps {
            p.enter(s);
        }
        p
    }

    fn set(&mut self, steps: &mut [Step], id: usize, state: StepState) {
        self.leave(&steps[id]);
        let was_done = steps[id].state == StepState::Done;
        steps[id].state = state;
        self.enter(&steps[id]);
        let is_done = steps[id].state == StepState::Done;
        if was_done != is_done {
            for i in 0..self.successors[id].len() {
                let after = self.successors[id][i];
                self.leave(&steps[after]);
                if is_done {
                    self.unfinished[after] -= 1;
                } else {
                    self.unfinished[after] += 1;
                }
                self.enter(&steps[after]);
            }
        }
    }

    /// Takes a step out of the sets and counts its state puts it in ...
    fn leave(&mut self, s: &Step) {
        self.file(s, false);
    }

    /// ... and puts it in again.
    fn enter(&mut self, s: &Step) {
        self.file(s, true);
    }

    fn file(&mut self, s: &Step, add: bool) {
        let set = |set: &mut BTreeSet<usize>| {
            if add {
                set.insert(s.id);
            } else {
                set.remove(&s.id);
            }
        };
        let c = &mut self.counts;
        let count = match s.state {
            StepState::Pending => &mut c.pending,
            StepState::Blocked => &mut c.blocked,
            StepState::Dispatched { .. } => &mut c.in_flight,
            StepState::Done => &mut c.done,
            StepState::Failed { .. } => &mut c.failed,
        };
        if add {
            *count += 1;
        } else {
            *count -= 1;
        }
        match s.state {
            StepState::Pending if self.unfinished[s.id] == 0 && matches!(s.kind, StepKind::Pseudo | StepKind::ClearFailcount) => set(&mut self.ready_markers),
            StepState::Pending if self.unfinished[s.id] == 0 => set(&mut self.ready_work),
            StepState::Dispatched { .. } => {
                set(&mut self.in_flight);
                if let Some(carrier) = s.carrier() {
                    if add {
                        self.in_flight_by_carrier.entry(carrier.to_string()).or_default().insert(s.id);
                    } else if let Some(on) = self.in_flight_by_carrier.get_mut(carrier) {
                        on.remove(&s.id);
                        if on.is_empty() {
                            self.in_flight_by_carrier.remove(carrier);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionCounts {
    pub pending: usize,
    pub blocked: usize,
    pub in_flight: usize,
    pub done: usize,
    pub failed: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: usize, state: StepState) -> Step {
        Step {
            id,
            kind: StepKind::Resource,
            rsc: Some(format!("r{id}")),
            instance: Some(format!("r{id}")),
            task: "start".into(),
            interval_ms: 0,
            node: Some("n1".into()),
            via: None,
            agent: None,
            params: BTreeMap::new(),
            meta: BTreeMap::new(),
            timeout_ms: 20_000,
            target_rc: 0,
            state,
        }
    }

    fn transition(states: Vec<StepState>, edges: Vec<(usize, usize)>) -> Transition {
        let steps = states.into_iter().enumerate().map(|(i, s)| step(i, s)).collect();
        Transition { id: 1, term: 1, ..Transition::new("n1".into(), 0, None, 0, steps, edges) }
    }

    /// The ready set as it was computed before the index: every step and edge walked.
    fn ready_by_walking(t: &Transition) -> Vec<usize> {
        if t.aborted.is_some() {
            return Vec::new();
        }
        let mut waiting = vec![false; t.steps.len()];
        for &(before, after) in &t.edges {
            if t.steps[before].state != StepState::Done {
                waiting[after] = true;
            }
        }
        t.steps.iter().filter(|s| s.state == StepState::Pending && !waiting[s.id]).map(|s| s.id).collect()
    }

    /// Blocking as it was done before the index: edges walked until nothing changes.
    fn block_by_walking(t: &mut Transition) {
        loop {
            let mut changed = false;
            for &(before, after) in &t.edges.clone() {
                if t.steps[before].state.is_stuck() && t.steps[after].state == StepState::Pending {
                    t.steps[after].state = StepState::Blocked;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }

    #[test]
    fn ready_follows_edges_and_failures_block_what_follows() {
        let mut t = transition(vec![StepState::Pending, StepState::Pending, StepState::Pending], vec![(0, 1), (1, 2)]);
        assert_eq!(t.ready(), vec![0]);
        t.set_state(0, StepState::Done);
        assert_eq!(t.ready(), vec![1]);
        t.set_state(1, StepState::Failed { reason: "rc 1".into() });
        assert!(t.ready().is_empty());
        assert_eq!(t.steps[2].state, StepState::Blocked);
        assert!(t.is_finished());
    }

    #[test]
    fn an_aborted_transition_dispatches_nothing_but_waits_for_what_runs() {
        let mut t = transition(vec![StepState::Dispatched { term: 1 }, StepState::Pending], vec![]);
        t.aborted = Some("configuration changed".into());
        assert!(t.ready().is_empty());
        assert_eq!(t.dispatchable(0), (vec![], vec![]));
        assert!(!t.is_finished());
        t.set_state(0, StepState::Done);
        assert!(t.is_finished());
        assert_eq!(t.counts(), TransitionCounts { pending: 1, done: 1, ..Default::default() });
    }

    #[test]
    fn a_pass_hands_out_every_marker_and_work_within_the_batch_limit() {
        let mut t = transition(vec![StepState::Pending; 5], vec![]);
        t.steps[1].kind = StepKind::Pseudo;
        t.steps[3].kind = StepKind::ClearFailcount;
        t.set_state(4, StepState::Dispatched { term: 1 });
        assert_eq!(t.dispatchable(2), (vec![1, 3], vec![0]));
        assert_eq!(t.dispatchable(0), (vec![1, 3], vec![0, 2]));
        assert_eq!(t.ready(), vec![0, 1, 2, 3]);
    }

    /// xorshift64: random graphs without a dependency.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// The index must agree with walking the whole transition after every change, on random
    /// acyclic graphs (duplicate edges included) run to the end with random outcomes.
    #[test]
    fn the_index_agrees_with_walking_the_transition_on_random_graphs() {
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        for round in 0..300 {
            let n = 1 + random.below(40);
            let states = (0..n).map(|_| if random.below(8) == 0 { StepState::Blocked } else { StepState::Pending }).collect();
            let edges = (0..random.below(3 * n)).filter_map(|_| {
                let (a, b) = (random.below(n), random.below(n));
                (a != b).then(|| (a.min(b), a.max(b)))
            });
            let mut t = transition(states, edges.collect());
            for s in &mut t.steps {
                s.kind = [StepKind::Resource, StepKind::Pseudo, StepKind::ClearFailcount][random.below(3)].clone();
                s.node = Some(["n1", "n2", "remote1"][random.below(3)].to_string());
                s.via = (s.node.as_deref() == Some("remote1")).then(|| ["n1", "n2"][random.below(2)].to_string());
            }
            let mut walked = t.clone();
            t.block_unreachable();
            block_by_walking(&mut walked);
            loop {
                assert_eq!(t.steps, walked.steps, "round {round}");
                assert_eq!(t.ready(), ready_by_walking(&walked), "round {round}");
                assert_eq!(t.progress(), &Progress::of(&t.steps, &t.edges), "round {round}");
                for node in ["n1", "n2"] {
                    let on: Vec<usize> = t.in_flight_on(node).map(|s| s.id).collect();
                    let walked_on: Vec<usize> = walked.steps.iter().filter(|s| matches!(s.state, StepState::Dispatched { .. }) && (s.node.as_deref() == Some(node) || s.via.as_deref() == Some(node))).map(|s| s.id).collect();
                    assert_eq!(on, walked_on, "round {round}");
                }
                if round % 7 == 0 && random.below(10) == 0 {
                    t.aborted = Some("test".into());
                    walked.aborted = t.aborted.clone();
                }
                let in_flight: Vec<usize> = t.in_flight().map(|s| s.id).collect();
                let (markers, work) = t.dispatchable(1 + random.below(4));
                let candidates: Vec<usize> = in_flight.iter().chain(&markers).chain(&work).copied().collect();
                if candidates.is_empty() {
                    assert!(t.is_finished(), "round {round}");
                    break;
                }
                let id = candidates[random.below(candidates.len())];
                let next = match (&t.steps[id].state, random.below(5)) {
                    (StepState::Pending, _) if markers.contains(&id) => StepState::Done,
                    (StepState::Pending, _) => StepState::Dispatched { term: 1 },
                    (_, 0) => StepState::Failed { reason: "rc 1".into() },
                    _ => StepState::Done,
                };
                t.set_state(id, next.clone());
                walked.steps[id].state = next;
                block_by_walking(&mut walked);
            }
        }
    }
}

//! The invariant checker: polls every live node's agent state (the WASM agents' state files,
//! the OCF Dummy's state files in HA_RSCTMP) and records any moment a resource that must run
//! once was active on two nodes. A node counts while its daemon process is alive: a node
//! whose process is gone was powered off (killed by the test, or fenced), which in a real
//! cluster ends everything it ran.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Default)]
struct Shared {
    /// Nodes whose state is not to be believed (killed, not yet rebooted).
    excluded: BTreeSet<String>,
    violations: Vec<String>,
    samples: u64,
    /// When each resource was first seen active on a node after being inactive there (ms
    /// since the epoch), in order.
    activations: Vec<(String, String, u64)>,
    was_active: BTreeSet<(String, String)>,
}

pub struct Checker {
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Is `rsc` active on the node whose data directory is `dir`, by its agent's own state?
pub fn active_on(dir: &Path, rsc: &str) -> bool {
    let run = dir.join("run");
    let wasm = std::fs::read_to_string(run.join("agent-state").join(format!("{rsc}.json")))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["running"] == "1");
    wasm || run.join("rsctmp").join(format!("Dummy-{rsc}.state")).exists()
}

/// Is the daemon of the node with data directory `dir` running (not gone, not a zombie)?
pub fn daemon_alive(dir: &Path) -> bool {
    let config = dir.join("node.toml");
    let config = config.to_string_lossy();
    let Ok(procs) = std::fs::read_dir("/proc") else { return true };
    procs.flatten().filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit())).any(|e| {
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let runs_node = cmdline.split(|b| *b == 0).any(|arg| arg == config.as_bytes()) && cmdline.windows(4).any(|w| w == b"node");
        // `ip netns exec` execs the daemon, so the same process carries its command line.
        runs_node
            && std::fs::read_to_string(e.path().join("stat")).is_ok_and(|st| st.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
    })
}

impl Checker {
    /// Watches `resources` (each must be active on at most one node) on `nodes` (name, data dir).
    pub fn start(nodes: Vec<(String, PathBuf)>, resources: Vec<String>) -> Checker {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let excluded = shared.lock().unwrap().excluded.clone();
                    let mut active: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                    for (name, dir) in nodes.iter().filter(|(n, dir)| !excluded.contains(n) && daemon_alive(dir)) {
                        for rsc in &resources {
                            if active_on(dir, rsc) {
                                active.entry(rsc).or_default().push(name);
                            }
                        }
                    }
                    let mut s = shared.lock().unwrap();
                    s.samples += 1;
                    let now: BTreeSet<(String, String)> = active.iter().flat_map(|(r, on)| on.iter().map(|n| (r.to_string(), n.to_string()))).collect();
                    let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
                    for (r, n) in now.difference(&s.was_active).cloned().collect::<Vec<_>>() {
                        s.activations.push((r, n, at));
                    }
                    s.was_active = now;
                    for (rsc, on) in active.iter().filter(|(_, on)| on.len() > 1) {
                        // A node excluded meanwhile (killed during this sample) does not count.
                        if on.iter().filter(|n| !s.excluded.contains(**n)).count() > 1 {
                            s.violations.push(format!("{rsc} active on {} at once", on.join(" and ")));
                        }
                    }
                    drop(s);
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        Checker { shared, stop, thread: Some(thread) }
    }

    /// Stop believing a node's state (call before killing it).
    pub fn exclude(&self, node: &str) {
        self.shared.lock().unwrap().excluded.insert(node.to_string());
    }

    /// Believe it again (after it rebooted with its per-boot state cleared).
    pub fn include(&self, node: &str) {
        self.shared.lock().unwrap().excluded.remove(node);
    }

    /// (node, ms since the epoch) each time `rsc` became active on a node, in order.
    pub fn activations(&self, rsc: &str) -> Vec<(String, u64)> {
        self.shared.lock().unwrap().activations.iter().filter(|(r, _, _)| r == rsc).map(|(_, n, at)| (n.clone(), *at)).collect()
    }

    /// Violations so far.
    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().unwrap().violations.clone()
    }

    /// Stops watching; the violations seen and how many samples were taken.
    pub fn finish(mut self) -> (Vec<String>, u64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let s = self.shared.lock().unwrap();
        let mut v = s.violations.clone();
        v.dedup();
        (v, s.samples)
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

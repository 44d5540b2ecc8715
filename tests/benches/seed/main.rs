//! The seed benchmark: the three tables of the seed (Pacemaker 1.1 vs 1.0, OSC 2015) measured on
//! Atrium and on real Pacemaker in the same run, plus rows the seed could not reach, a failover
//! decomposition, peak RSS and CPU time. Plots go to docs/seed-*.svg.
//!
//! `cargo bench -p atrium-tests --bench seed -- [--with-pacemaker] [--quick] [--rounds N]
//!     [--rows nodes,resources,switchover,failover] [--rows resources=32/512,...] [--wasm-only]
//!     [--pacemaker-rounds N] [--pacemaker-max-nodes N]`
//!
//! `--wasm-only` leaves out Atrium's shell-agent cells (profiling Atrium itself);
//! `--pacemaker-max-nodes N` runs Pacemaker only in cells of at most N nodes (a 16-node
//! Pacemaker cell takes a quarter of an hour here).

mod atrium;
mod measure;
mod pacemaker;
mod plot;
mod report;
mod seed_figures;
mod workload;

use anyhow::{Result, bail};
use std::time::Instant;

use measure::{Outcome, Run};
use workload::Agent;

/// One row of the tables.
#[derive(Clone, Copy, Debug)]
pub enum Row {
    /// Cold start of `N+1` nodes with 15 resources per active node.
    Nodes(usize),
    /// Cold start of 1+1 with this many resources.
    Resources(usize),
    /// Standby switchover of 1+1 with this many resources.
    Switchover(usize),
    /// kill -9 of a node hosting 15 resources, in a cluster of this many nodes.
    Failover(usize),
}

pub const PER_NODE: usize = 15;

impl Row {
    pub fn group(self) -> &'static str {
        match self {
            Row::Nodes(_) => "nodes",
            Row::Resources(_) => "resources",
            Row::Switchover(_) => "switchover",
            Row::Failover(_) => "failover",
        }
    }

    pub fn label(self) -> String {
        match self {
            Row::Nodes(n) => format!("{n}+1 ({} rsc)", n * PER_NODE),
            Row::Resources(r) | Row::Switchover(r) => format!("1+1, {r} rsc"),
            Row::Failover(n) => format!("{n} nodes ({} rsc)", (n - 1) * PER_NODE),
        }
    }

    pub fn nodes(self) -> usize {
        match self {
            Row::Nodes(n) => n + 1,
            Row::Resources(_) | Row::Switchover(_) => 2,
            Row::Failover(n) => n,
        }
    }

    pub fn resources(self) -> usize {
        match self {
            Row::Nodes(n) => n * PER_NODE,
            Row::Resources(r) | Row::Switchover(r) => r,
            Row::Failover(n) => (n - 1) * PER_NODE,
        }
    }

    fn config(self, agent: Agent) -> String {
        match self {
            Row::Nodes(n) => workload::n_plus_one(agent, n, PER_NODE),
            Row::Resources(r) | Row::Switchover(r) => workload::one_plus_one(agent, r),
            Row::Failover(n) => workload::n_plus_one_fenced(agent, n - 1, PER_NODE),
        }
    }

    pub fn seed(self) -> Option<f64> {
        match self {
            Row::Nodes(n) => seed_figures::lookup(seed_figures::STARTUP_BY_NODES, n),
            Row::Resources(r) => seed_figures::lookup(seed_figures::STARTUP_BY_RESOURCES, r),
            Row::Switchover(r) => seed_figures::lookup(seed_figures::SWITCHOVER, r),
            Row::Failover(_) => None,
        }
    }

    /// Pacemaker runs the seed's sizes with at most `--pacemaker-max-nodes` nodes (default 16)
    /// and 512 resources; beyond them one Pacemaker cell takes longer than the whole run on two cores
    /// (7+1 took 82 s to start, plus minutes to set up and settle eight namespaces).
    fn pacemaker_runs(self, max_nodes: usize) -> bool {
        match self {
            Row::Nodes(n) => n + 1 <= max_nodes,
            Row::Resources(r) => r <= 512,
            Row::Switchover(r) => r <= 256,
            Row::Failover(n) => n <= max_nodes,
        }
    }

    /// Big cells run fewer rounds (each one takes minutes).
    fn rounds(self, rounds: usize) -> usize {
        if self.nodes() > 16 || self.resources() > 1024 { rounds.min(2) } else { rounds }
    }
}

fn all_rows(quick: bool) -> Vec<Row> {
    if quick {
        return vec![Row::Nodes(1), Row::Nodes(3), Row::Resources(32), Row::Resources(128), Row::Switchover(32), Row::Failover(3)];
    }
    // The seed's rows first, then the failover, then the rows beyond the seed: an interrupted
    // run still has the comparable cells (each row's figures go to stderr as it finishes).
    let mut rows: Vec<Row> = [1, 3, 5, 7, 9, 11, 13, 15].into_iter().map(Row::Nodes).collect();
    rows.extend([32, 64, 128, 256, 512].into_iter().map(Row::Resources));
    rows.extend([32, 64, 128, 256].into_iter().map(Row::Switchover));
    rows.extend([3, 16].into_iter().map(Row::Failover));
    rows.extend([31, 63].into_iter().map(Row::Nodes));
    rows.extend([1024, 4096, 10_000].into_iter().map(Row::Resources));
    rows.push(Row::Switchover(1024));
    rows
}

/// `--rows nodes,switchover` keeps whole groups; `--rows resources=32/512` picks sizes.
fn select(rows: Vec<Row>, spec: &str) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    for part in spec.split(',') {
        let (group, sizes) = part.split_once('=').map_or((part, None), |(g, s)| (g, Some(s)));
        let make: fn(usize) -> Row = match group {
            "nodes" => Row::Nodes,
            "resources" => Row::Resources,
            "switchover" => Row::Switchover,
            "failover" => Row::Failover,
            other => bail!("unknown row group {other:?} (nodes, resources, switchover, failover)"),
        };
        match sizes {
            Some(s) => out.extend(s.split('/').map(|n| n.parse().map(make)).collect::<Result<Vec<_>, _>>()?),
            None => out.extend(rows.iter().copied().filter(|r| r.group() == group)),
        }
    }
    Ok(out)
}

/// Everything measured for one row.
pub struct Cell {
    pub row: Row,
    pub wasm: Outcome,
    pub shell: Outcome,
    pub pacemaker: Option<Outcome>,
}

fn run_atrium(row: Row, agent: Agent, rounds: usize) -> Outcome {
    let what = format!("Atrium {agent:?} {} {}", row.group(), row.label());
    eprintln!("[{what}] {rounds} rounds");
    let config = row.config(agent);
    Outcome::measure(&what, |runs: &mut Vec<Run>| match row {
        Row::Nodes(_) | Row::Resources(_) => atrium::startup(row.nodes(), &config, row.resources(), rounds, runs),
        Row::Switchover(r) => atrium::switchover(&config, r, rounds, runs),
        Row::Failover(n) => atrium::failover(n, &config, row.resources(), rounds, runs),
    })
}

fn run_pacemaker(row: Row, rounds: usize) -> Outcome {
    let what = format!("Pacemaker {} {}", row.group(), row.label());
    eprintln!("[{what}] {rounds} rounds");
    let config = row.config(Agent::Shell);
    Outcome::measure(&what, |runs: &mut Vec<Run>| match row {
        Row::Nodes(_) | Row::Resources(_) => pacemaker::startup(row.nodes(), &config, row.resources(), rounds, runs),
        Row::Switchover(r) => pacemaker::switchover(&config, r, rounds, runs),
        Row::Failover(n) => pacemaker::failover(n, &config, row.resources(), rounds, runs),
    })
}

/// Many node processes hold connections to each other and log files: lift the descriptor
/// limit to the hard one (children inherit it).
fn raise_fd_limit() {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain getrlimit/setrlimit on this process with a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let has = |name: &str| args.iter().any(|a| a == name);
    let quick = has("--quick");
    let rounds: usize = flag("--rounds").and_then(|r| r.parse().ok()).unwrap_or(if quick { 2 } else { 3 });
    let pcmk_rounds: usize = flag("--pacemaker-rounds").and_then(|r| r.parse().ok()).unwrap_or(1);
    let pcmk_max_nodes: usize = flag("--pacemaker-max-nodes").and_then(|r| r.parse().ok()).unwrap_or(16);
    let mut rows = all_rows(quick);
    if let Some(spec) = flag("--rows") {
        rows = select(all_rows(false), &spec)?;
    }
    raise_fd_limit();
    let pacemaker = if has("--with-pacemaker") {
        match pacemaker::unavailable() {
            None => Ok(()),
            Some(why) => {
                eprintln!("Pacemaker lab unavailable: {why}");
                Err(why)
            }
        }
    } else {
        Err("not requested (--with-pacemaker)".to_string())
    };
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let partial = std::env::temp_dir().join("atrium-seed-tables.md");
    eprintln!("tables so far go to {} after each row", partial.display());
    let started = Instant::now();
    let mut cells = Vec::new();
    for row in rows {
        let n = row.rounds(rounds);
        let wasm = run_atrium(row, Agent::Wasm, n);
        let shell = if has("--wasm-only") { Outcome::skipped("not run (--wasm-only)") } else { run_atrium(row, Agent::Shell, n) };
        let pcmk = match &pacemaker {
            Ok(()) if row.pacemaker_runs(pcmk_max_nodes) => Some(run_pacemaker(row, pcmk_rounds)),
            Ok(()) => Some(Outcome::skipped("not run (too slow here)")),
            Err(_) => None,
        };
        let cell = Cell { row, wasm, shell, pacemaker: pcmk };
        eprintln!("{}", report::summary_line(&cell));
        cells.push(cell);
        // Tables and plots after every row: an interrupted run keeps what it measured.
        let context = report::Context { rounds, pacemaker_rounds: pcmk_rounds, pacemaker: pacemaker.clone().err(), elapsed: started.elapsed() };
        std::fs::write(&partial, report::tables(&cells, &context))?;
        report::plots(&cells, &docs)?;
    }
    let context = report::Context { rounds, pacemaker_rounds: pcmk_rounds, pacemaker: pacemaker.err(), elapsed: started.elapsed() };
    print!("{}", report::tables(&cells, &context));
    for written in report::plots(&cells, &docs)? {
        eprintln!("wrote {}", written.display());
    }
    Ok(())
}

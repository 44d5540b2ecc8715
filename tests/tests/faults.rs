//! A randomized fault run on a cluster of separate hosts (network namespaces): each round
//! injects one fault (kill, hang, partition, DC loss, or a kill while the first fencing level
//! fails), waits for the cluster to recover, then repairs the node. The checker watches every
//! node's agent state throughout: a resource must never be active on two nodes that are not
//! fenced.
//!
//! `ATRIUM_FAULT_ROUNDS` (default 4) and `ATRIUM_FAULT_SEED` choose the run; the report goes to
//! stdout (`--nocapture`) and docs/reliability.md records the figures of a long run.

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use atrium_tests::checker::Checker;
use atrium_tests::{Options, TestCluster, all_online, dc, netns, node_of, settled_with};

const SETTLE: Duration = Duration::from_secs(90);
const RESOURCES: usize = 8;
const GRANTS: &str = "[grants]\n\"stonith:fence-process\" = [\"exec:pkill\", \"exec:pgrep\"]\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    Kill,
    KillDc,
    Hang,
    Partition,
    FenceFailure,
}

const FAULTS: [Fault; 5] = [Fault::Kill, Fault::KillDc, Fault::Hang, Fault::Partition, Fault::FenceFailure];

/// xorshift64*: reproducible from the seed printed in the report.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

fn configuration(cluster: &TestCluster, failing_first_level: bool) -> String {
    let mut c = String::from("property stonith-enabled=true no-quorum-policy=stop\n");
    for i in 1..=RESOURCES {
        c += &format!("primitive r{i} wasm:atrium:dummy op monitor interval=1s timeout=10s\n");
    }
    c += &format!("primitive power stonith:fence-process params match=\"{}/{{plug}}/node.toml\" pcmk_host_check=none\n", cluster.dir.path().display());
    c += "primitive broken stonith:fence-dummy params mode_reboot=fail mode_off=fail pcmk_host_check=none pcmk_reboot_retries=0\n";
    let levels: String = (1..=cluster.nodes.len()).map(|i| if failing_first_level { format!(" node{i}: broken power") } else { format!(" node{i}: power") }).collect();
    c + "fencing_topology" + &levels + "\n"
}

#[test]
fn randomized_faults_never_run_a_resource_twice() -> Result<()> {
    if !netns::available() {
        eprintln!("skipped: needs root with ip(8) network namespaces");
        return Ok(());
    }
    let rounds: usize = std::env::var("ATRIUM_FAULT_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(4);
    let seed: u64 = std::env::var("ATRIUM_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| std::process::id() as u64 * 7919 + 1);
    let mut rng = Rng(seed.max(1));
    let mut cluster = TestCluster::start_online(Options { netns: true, extra_toml: GRANTS.into(), ..Options::nodes(3) }, SETTLE)?;
    let rscs: Vec<String> = (1..=RESOURCES).map(|i| format!("r{i}")).collect();
    let all: Vec<&str> = rscs.iter().map(String::as_str).collect();
    let checker = Checker::start(cluster.nodes.iter().map(|n| (n.name.clone(), n.dir.clone())).collect(), rscs.clone());
    cluster.load(&configuration(&cluster, false))?;
    cluster.wait_for("resources started", SETTLE, |s| settled_with(s, &all))?;

    let mut injected: BTreeMap<Fault, usize> = BTreeMap::new();
    let mut worst: BTreeMap<Fault, Duration> = BTreeMap::new();
    let mut extra_fenced: BTreeMap<String, usize> = BTreeMap::new();
    for round in 1..=rounds {
        let fault = FAULTS[rng.below(FAULTS.len())];
        let s = cluster.wait_for("settled before the fault", SETTLE, |s| settled_with(s, &all) && all_online(s))?;
        let the_dc = dc(&s).context("no DC")?;
        let holders: Vec<String> = cluster.nodes.iter().map(|n| n.name.clone()).filter(|n| *n != the_dc && rscs.iter().any(|r| node_of(&s, r).as_deref() == Some(n))).collect();
        let target = match fault {
            Fault::KillDc => the_dc.clone(),
            _ => holders.get(rng.below(holders.len().max(1))).cloned().unwrap_or_else(|| the_dc.clone()),
        };
        if fault == Fault::FenceFailure {
            cluster.load(&configuration(&cluster, true))?;
        }
        println!("round {round}: {fault:?} on {target}");
        let began = Instant::now();
        match fault {
            Fault::Kill | Fault::KillDc | Fault::FenceFailure => cluster.kill(&target)?,
            Fault::Hang => cluster.pause(&target, true)?,
            Fault::Partition => cluster.set_connected(&target, false)?,
        }
        cluster.wait_for(&format!("recovery from {fault:?} of {target}"), SETTLE, |s| {
            settled_with(s, &all) && rscs.iter().all(|r| node_of(s, r).is_some_and(|n| n != target))
        })?;
        let took = began.elapsed();
        *injected.entry(fault).or_default() += 1;
        let w = worst.entry(fault).or_default();
        *w = (*w).max(took);
        println!("round {round}: recovered in {} ms", took.as_millis());

        // Repair: heal, resume, and power the node back on if it is down (fenced or killed).
        if fault == Fault::Partition {
            cluster.set_connected(&target, true)?;
        }
        if fault == Fault::Hang && !cluster.has_exited(&target) {
            cluster.pause(&target, false)?;
        }
        // Any node that is down now (the target, or one fenced on the way) powers back on.
        let names: Vec<String> = cluster.nodes.iter().map(|n| n.name.clone()).collect();
        for name in names {
            if cluster.has_exited(&name) {
                if name != target {
                    println!("round {round}: {name} was fenced too");
                    *extra_fenced.entry(name.clone()).or_default() += 1;
                }
                cluster.reboot(&name)?;
            }
        }
        if fault == Fault::FenceFailure {
            cluster.load(&configuration(&cluster, false))?;
        }
        cluster.wait_for("the node back", SETTLE, |s| all_online(s) && settled_with(s, &all))?;
    }
    let (violations, samples) = checker.finish();
    println!("\nfault run: seed {seed}, {rounds} rounds, {samples} checker samples");
    println!("| fault | injected | worst recovery (ms) |\n|---|---|---|");
    for (f, n) in &injected {
        println!("| {f:?} | {n} | {} |", worst[f].as_millis());
    }
    println!("double activations: {}", violations.len());
    println!("nodes fenced besides the fault's target: {}", extra_fenced.values().sum::<usize>());
    assert!(violations.is_empty(), "resources active twice: {violations:?}\n{}", cluster.logs());
    Ok(())
}

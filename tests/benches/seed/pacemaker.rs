//! The same cells on real Pacemaker 2.1 (Debian packages), one network namespace per node,
//! built by the shared `pacemaker-lab` tool (`$ATRIUM_PCMK_LAB`, default
//! /work/shared/tools/pacemaker-lab). Completion is polled with `crm_mon` (250 ms: Pacemaker's
//! cells take seconds); failover phases come from the DC's pacemaker.log.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use atrium_tests::logs::now_ms;
use atrium_tests::procfs;

use crate::measure::Run;
use crate::workload;

/// The largest lab any cell builds, so that a teardown always removes every namespace.
const MAX_NODES: usize = 64;

pub fn tool() -> PathBuf {
    std::env::var_os("ATRIUM_PCMK_LAB").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/work/shared/tools/pacemaker-lab"))
}

/// Why the lab cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    if !tool().exists() {
        return Some(format!("{} not found", tool().display()));
    }
    if Command::new("sh").args(["-c", "command -v pacemakerd && command -v corosync && command -v crm"]).output().map_or(true, |o| !o.status.success()) {
        return Some("pacemaker, corosync or crmsh not installed (`pacemaker-lab install`)".into());
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("the lab needs root (network namespaces)".into());
    }
    None
}

pub fn timeout(nodes: usize, resources: usize) -> Duration {
    Duration::from_secs(300 + nodes as u64 * 20 + resources as u64 * 3 / 2)
}

/// A running lab cluster; torn down when dropped.
pub struct Lab {
    nodes: usize,
    dir: PathBuf,
}

impl Lab {
    /// A fresh cluster of `nodes` nodes (empty CIB), started, with a DC and every node online.
    pub fn up(nodes: usize) -> Result<Lab> {
        let dir = std::env::temp_dir().join("atrium-seed-pcmk-lab");
        // Whatever an earlier cell (or an interrupted run) left.
        lab_command(&dir, MAX_NODES, &["teardown"])?;
        let lab = Lab { nodes, dir };
        lab.run(&["setup"])?;
        lab.run(&["wipe-cib"])?;
        lab.run(&["start"])?;
        lab.wait_mon(1, "every node online", timeout(nodes, 0), |x| mon_online(x) == nodes && x.contains("<current_dc present=\"true\""))?;
        Ok(lab)
    }

    fn run(&self, args: &[&str]) -> Result<String> {
        lab_command(&self.dir, self.nodes, args)
    }

    /// A command inside node `n`.
    pub fn exec(&self, n: usize, cmd: &[&str]) -> Result<String> {
        let mut args = vec!["exec".to_string(), n.to_string()];
        args.extend(cmd.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&refs)
    }

    /// Loads a crm configuration with crmsh (the file lives in /tmp, which every node sees).
    pub fn load(&self, config: &str) -> Result<()> {
        let file = self.dir.join("config.crm");
        std::fs::write(&file, config)?;
        self.exec(1, &["crm", "configure", "load", "update", file.to_str().context("path")?])?;
        Ok(())
    }

    fn mon(&self, n: usize) -> Result<String> {
        self.exec(n, &["crm_mon", "-1", "--output-as=xml"])
    }

    /// Polls crm_mon on node `n` until `done` holds; returns when (Unix ms) it first did.
    fn wait_mon(&self, n: usize, what: &str, timeout: Duration, done: impl Fn(&str) -> bool) -> Result<f64> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(x) = self.mon(n) {
                if done(&x) {
                    return Ok(now_ms());
                }
            }
            if Instant::now() > deadline {
                bail!("Pacemaker: timed out after {timeout:?} waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn wait_started(&self, n: usize, resources: usize, on: Option<&str>) -> Result<f64> {
        let what = format!("{resources} resources started{}", on.map(|n| format!(" on {n}")).unwrap_or_default());
        self.wait_mon(n, &what, timeout(self.nodes, resources), |x| started(x, on) == resources)
    }

    /// Largest per-node peak RSS (every process of the node: corosync and the Pacemaker
    /// daemons, the equivalent of one Atrium process), and CPU seconds of all nodes.
    fn usage(&self, skip: Option<usize>) -> (u64, f64) {
        let (mut rss, mut cpu) = (0u64, 0.0);
        for n in (1..=self.nodes).filter(|n| Some(*n) != skip) {
            let pids = self.pids(n);
            rss = rss.max(pids.iter().filter_map(|p| procfs::peak_rss(*p)).sum());
            cpu += pids.iter().filter_map(|p| procfs::cpu_seconds(*p)).sum::<f64>();
        }
        (rss, cpu)
    }

    /// Every process of node `n` (the tool's exit status is its last test's: ignored).
    fn pids(&self, n: usize) -> Vec<u32> {
        let out = Command::new(tool()).args(["pids", &n.to_string()]).env("LAB", &self.dir).env("NODES", self.nodes.to_string()).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().filter_map(|p| p.parse().ok()).collect()).unwrap_or_default()
    }

    fn dc(&self, n: usize) -> Result<usize> {
        let x = self.mon(n)?;
        let at = x.find("<current_dc ").context("no current_dc")?;
        let name = attr(&x[at..], "name").context("no DC")?;
        name.trim_start_matches("node").parse().context("DC name")
    }

    fn log(&self, n: usize) -> String {
        std::fs::read_to_string(self.dir.join(format!("node{n}/log-pacemaker/pacemaker.log"))).unwrap_or_default()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.run(&["teardown"]);
    }
}

fn lab_command(dir: &std::path::Path, nodes: usize, args: &[&str]) -> Result<String> {
    let out = Command::new(tool()).args(args).env("LAB", dir).env("NODES", nodes.to_string()).output()?;
    if !out.status.success() {
        bail!("pacemaker-lab {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or(""));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The value of `name="..."` in the first element of `xml`.
fn attr<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let end = xml.find('>')?;
    let key = format!(" {name}=\"");
    let at = xml[..end].find(&key)? + key.len();
    Some(&xml[at..at + xml[at..].find('"')?])
}

fn mon_online(x: &str) -> usize {
    x.split("<node ").skip(1).filter(|n| attr(&format!(" {n}"), "online") == Some("true") && n.contains("type=\"member\"")).count()
}

/// Resources crm_mon shows Started (on node `on`, if given).
fn started(x: &str, on: Option<&str>) -> usize {
    x.split("<resource ")
        .skip(1)
        .filter(|r| {
            let head = format!(" {r}");
            attr(&head, "role") == Some("Started")
                && attr(&head, "nodes_running_on") == Some("1")
                && on.is_none_or(|n| r[..r.find("</resource>").unwrap_or(r.len())].contains(&format!("<node name=\"{n}\"")))
        })
        .count()
}

/// Every node killed, per-boot agent state cleared (as a reboot would), then started again.
pub fn startup(nodes: usize, config: &str, resources: usize, rounds: usize, runs: &mut Vec<Run>) -> Result<()> {
    let lab = Lab::up(nodes)?;
    lab.load(config)?;
    lab.wait_started(1, resources, None)?;
    for _ in 0..rounds {
        lab.run(&["kill"])?;
        for n in 1..=nodes {
            lab.exec(n, &["sh", "-c", "rm -rf /run/resource-agents/*"])?;
        }
        let t0 = now_ms();
        lab.run(&["start"])?;
        let end = lab.wait_started(1, resources, None)?;
        let (peak_rss, cpu) = lab.usage(None);
        runs.push(Run { secs: (end - t0) / 1000.0, peak_rss, cpu, phases: None });
    }
    Ok(())
}

pub fn switchover(config: &str, resources: usize, rounds: usize, runs: &mut Vec<Run>) -> Result<()> {
    let lab = Lab::up(2)?;
    lab.load(config)?;
    for _ in 0..rounds {
        lab.wait_started(1, resources, Some("node1"))?;
        let (_, cpu0) = lab.usage(None);
        let t0 = now_ms();
        lab.exec(1, &["crm", "node", "standby", "node1"])?;
        let end = lab.wait_started(1, resources, Some("node2"))?;
        let (peak_rss, cpu1) = lab.usage(None);
        runs.push(Run { secs: (end - t0) / 1000.0, peak_rss, cpu: cpu1 - cpu0, phases: None });
        lab.exec(1, &["crm", "node", "online", "node1"])?;
    }
    Ok(())
}

/// kill -9 of every process of a non-DC node hosting resources; detection is the DC's
/// "state is now lost", scheduling its next "Calculated transition", fencing the controller's
/// "Peer ... was terminated", start the last moved resource seen started by crm_mon.
pub fn failover(nodes: usize, config: &str, resources: usize, rounds: usize, runs: &mut Vec<Run>) -> Result<()> {
    let lab = Lab::up(nodes)?;
    lab.load(config)?;
    let resources = resources + workload::FENCE_DEVICES;
    for _ in 0..rounds {
        lab.wait_started(1, resources, None)?;
        let dc = lab.dc(1)?;
        // Node 1..nodes-1 each host 15 (see workload::n_plus_one); pick one that is not the DC.
        let victim = (1..nodes).find(|n| *n != dc).context("no non-DC host")?;
        let (_, cpu0) = lab.usage(Some(victim));
        let t0 = now_ms();
        lab.run(&["kill", &victim.to_string()])?;
        let victim_name = format!("node{victim}");
        let end = lab.wait_mon(dc, "the victim's resources elsewhere", timeout(nodes, resources), |x| {
            started(x, None) == resources && !x.split("<resource ").skip(1).any(|r| r.contains(&format!("<node name=\"{victim_name}\"")))
        })?;
        let (peak_rss, cpu1) = lab.usage(Some(victim));
        // Every survivor logs the loss; the first one to notice is detection. Only the DC
        // runs the scheduler.
        let logs: Vec<String> = (1..=nodes).filter(|n| *n != victim).map(|n| lab.log(n)).collect();
        let first = |needles: &[String], since: f64| {
            logs.iter().flat_map(|l| needles.iter().filter_map(move |n| log_time_after(l, n, since))).reduce(f64::min)
        };
        let detect = first(&[format!("Node {victim_name} state is now lost"), format!("Cluster node {victim_name} is now lost")], t0)
            .context("no survivor logged the victim lost")?;
        let schedule = first(&["Calculated transition".to_string()], detect).context("no transition logged after the loss")?;
        // The controller's note that the fencer finished; the starts wait for it.
        let fenced = first(&[format!("Peer {victim_name} was terminated")], schedule).unwrap_or(schedule);
        let phases = [(detect - t0) / 1000.0, (schedule - detect) / 1000.0, (fenced - schedule) / 1000.0, (end - fenced).max(0.0) / 1000.0];
        runs.push(Run { secs: (end - t0) / 1000.0, peak_rss, cpu: cpu1 - cpu0, phases: Some(phases) });
        lab.run(&["start", &victim.to_string()])?;
        lab.wait_mon(dc, "the victim back", timeout(nodes, 0), |x| mon_online(x) == nodes)?;
    }
    Ok(())
}

/// The time of the first line at or after `since_ms` containing `needle`. Pacemaker logs
/// `Nov 26 05:38:56.531 node1 ...` in UTC here, without the year.
fn log_time_after(log: &str, needle: &str, since_ms: f64) -> Option<f64> {
    log.lines().filter(|l| l.contains(needle)).filter_map(parse_log_time).find(|t| *t >= since_ms)
}

fn parse_log_time(line: &str) -> Option<f64> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let mut f = line.split_whitespace();
    let month_name = f.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)? as i64 + 1;
    let day: i64 = f.next()?.parse().ok()?;
    let mut hms = f.next()?.split(':');
    let (h, m, s): (f64, f64, f64) = (hms.next()?.parse().ok()?, hms.next()?.parse().ok()?, hms.next()?.parse().ok()?);
    let year = 1970 + (now_ms() / 1000.0 / 86_400.0 / 365.2425) as i64;
    let days = atrium_cib::rule::days_from_civil(year, month, day);
    Some(((days as f64 * 86_400.0) + h * 3600.0 + m * 60.0 + s) * 1000.0)
}

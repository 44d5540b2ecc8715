//! The printed tables (markdown) and the plots.

use anyhow::Result;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use atrium_tests::stats::{median, range};

use crate::measure::Outcome;
use crate::plot::{self, Series};
use crate::{Cell, Row, workload};

pub struct Context {
    pub rounds: usize,
    pub pacemaker_rounds: usize,
    /// Why Pacemaker was not measured, if it was not.
    pub pacemaker: Option<String>,
    pub elapsed: Duration,
}

fn secs(o: &Outcome) -> Vec<f64> {
    o.runs.iter().map(|r| r.secs).collect()
}

fn med(o: &Outcome) -> Option<f64> {
    let m = median(&secs(o));
    (!m.is_nan() && o.error.is_none()).then_some(m)
}

fn fmt_s(v: f64) -> String {
    if v >= 100.0 { format!("{v:.0}") } else if v >= 10.0 { format!("{v:.1}") } else if v >= 1.0 { format!("{v:.2}") } else { format!("{v:.3}") }
}

/// `median (min-max)`, or the error, in one cell.
fn timing(o: &Outcome) -> String {
    let s = secs(o);
    let body = if s.is_empty() {
        String::new()
    } else if s.len() == 1 {
        fmt_s(s[0])
    } else {
        let (lo, hi) = range(&s);
        format!("**{}** ({}-{})", fmt_s(median(&s)), fmt_s(lo), fmt_s(hi))
    };
    match &o.error {
        Some(e) if body.is_empty() => format!("failed: {e}"),
        Some(e) => format!("{body}, then failed: {e}"),
        None => body,
    }
}

fn ratio(slow: Option<f64>, fast: Option<f64>) -> String {
    match (slow, fast) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.0}x", a / b),
        _ => "-".into(),
    }
}

fn pcmk_cell(o: &Option<Outcome>) -> String {
    o.as_ref().map_or("-".into(), timing)
}

/// Targets: 10x Pacemaker here with the shell Dummy, 100x with WASM.
fn target(cell: &Cell) -> String {
    let Some(p) = cell.pacemaker.as_ref().and_then(med) else { return "-".into() };
    let check = |o: &Outcome, factor: f64| med(o).map(|m| if p / m >= factor { "met" } else { "missed" });
    format!("{} / {}", check(&cell.wasm, 100.0).unwrap_or("-"), check(&cell.shell, 10.0).unwrap_or("-"))
}

fn timing_table(out: &mut String, title: &str, cells: &[&Cell]) {
    if cells.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### {title} (seconds: median (min-max))\n");
    let _ = writeln!(out, "| cell | Atrium WASM | Atrium shell | Pacemaker here | seed 1.1 | here / WASM | here / shell | seed / WASM | target 100x / 10x |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for c in cells {
        let p = c.pacemaker.as_ref().and_then(med);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.row.label(),
            timing(&c.wasm),
            timing(&c.shell),
            pcmk_cell(&c.pacemaker),
            c.row.seed().map_or("-".into(), |s| format!("{s:.0}")),
            ratio(p, med(&c.wasm)),
            ratio(p, med(&c.shell)),
            ratio(c.row.seed(), med(&c.wasm)),
            target(c),
        );
    }
}

fn failover_table(out: &mut String, cells: &[&Cell]) {
    if cells.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### Failover of a killed node (kill -9 of a non-DC node hosting 15 resources; seconds, medians)\n");
    let _ = writeln!(out, "| nodes | system | detection | scheduling | fencing | agent starts | total |");
    let _ = writeln!(out, "|---:|---|---:|---:|---:|---:|---:|");
    for c in cells {
        let mut systems = vec![("Atrium WASM", &c.wasm), ("Atrium shell", &c.shell)];
        if let Some(p) = &c.pacemaker {
            systems.push(("Pacemaker here", p));
        }
        for (name, o) in systems {
            let phase = |i: usize| fmt_s(median(&o.runs.iter().filter_map(|r| r.phases.map(|p| p[i])).collect::<Vec<_>>()));
            let row = if o.runs.is_empty() {
                format!("{} | - | - | - | {}", "-", timing(o))
            } else {
                format!("{} | {} | {} | {} | {}", phase(0), phase(1), phase(2), phase(3), timing(o))
            };
            let _ = writeln!(out, "| {} | {name} | {row} |", c.row.nodes());
        }
    }
}

fn usage_table(out: &mut String, cells: &[Cell]) {
    let _ = writeln!(out, "\n### Peak RSS of one node (MiB) and CPU seconds of all nodes per run (medians)\n");
    let _ = writeln!(out, "| row | cell | WASM RSS | WASM CPU | shell RSS | shell CPU | Pacemaker RSS | Pacemaker CPU |");
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|");
    let usage = |o: Option<&Outcome>| -> (String, String) {
        match o {
            Some(o) if !o.runs.is_empty() => (
                format!("{:.0}", median(&o.runs.iter().map(|r| r.peak_rss as f64 / 1048576.0).collect::<Vec<_>>())),
                fmt_s(median(&o.runs.iter().map(|r| r.cpu).collect::<Vec<_>>())),
            ),
            _ => ("-".into(), "-".into()),
        }
    };
    for c in cells {
        let (wr, wc) = usage(Some(&c.wasm));
        let (sr, sc) = usage(Some(&c.shell));
        let (pr, pc) = usage(c.pacemaker.as_ref());
        let _ = writeln!(out, "| {} | {} | {wr} | {wc} | {sr} | {sc} | {pr} | {pc} |", c.row.group(), c.row.label());
    }
}

/// One row's results on one line, printed as soon as the row is done.
pub fn summary_line(c: &Cell) -> String {
    let usage = |o: &Outcome| match o.runs.last() {
        Some(r) => format!(" [{:.0} MiB, {:.2} cpu-s]", r.peak_rss as f64 / 1048576.0, r.cpu),
        None => String::new(),
    };
    let p = c.pacemaker.as_ref().map_or(String::new(), usage);
    format!("== {} {}: WASM {}{} | shell {}{} | Pacemaker {}{p}", c.row.group(), c.row.label(), timing(&c.wasm), usage(&c.wasm), timing(&c.shell), usage(&c.shell), pcmk_cell(&c.pacemaker))
}

pub fn tables(cells: &[Cell], ctx: &Context) -> String {
    let mut out = String::new();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let _ = writeln!(out, "\n## Seed benchmark: Atrium against Pacemaker\n");
    let _ = writeln!(out, "- settings (both systems): {}", workload::settings());
    let _ = writeln!(
        out,
        "- Atrium: {} rounds per cell (2 for cells above 16 nodes or 1,024 resources), release build, nodes on loopback",
        ctx.rounds
    );
    match &ctx.pacemaker {
        None => {
            let _ = writeln!(out, "- Pacemaker 2.1.5 / Corosync 3.1 (Debian), one network namespace per node: {} round(s) per cell", ctx.pacemaker_rounds);
        }
        Some(why) => {
            let _ = writeln!(out, "- Pacemaker: not measured ({why})");
        }
    }
    let _ = writeln!(out, "- seed: Pacemaker 1.1.12, 1-core KVM guests (2015); fencing: stonith-enabled=false everywhere");
    let _ = writeln!(out, "- run took {:.0} s; load average at the end: {}", ctx.elapsed.as_secs_f64(), load.trim());
    let pick = |f: fn(&Row) -> bool| cells.iter().filter(|c| f(&c.row)).collect::<Vec<_>>();
    timing_table(&mut out, "Startup vs nodes: cluster start -> all started, 15 Dummy per active node", &pick(|r| matches!(r, Row::Nodes(_))));
    timing_table(&mut out, "Startup vs resources: 1+1 cluster start -> all started", &pick(|r| matches!(r, Row::Resources(_))));
    timing_table(&mut out, "Switchover: standby of the active node -> all started on the other, 1+1", &pick(|r| matches!(r, Row::Switchover(_))));
    failover_table(&mut out, &pick(|r| matches!(r, Row::Failover(_))));
    usage_table(&mut out, cells);
    out
}

/// Writes the three plots into `docs`; returns the files written.
pub fn plots(cells: &[Cell], docs: &Path) -> Result<Vec<PathBuf>> {
    let figures: [(&str, &str, &str, fn(Row) -> Option<f64>); 3] = [
        ("seed-startup-nodes.svg", "Startup vs nodes (15 Dummy per active node)", "active nodes (N in N+1)", |r| match r {
            Row::Nodes(n) => Some(n as f64),
            _ => None,
        }),
        ("seed-startup-resources.svg", "Startup of 1+1 vs resources", "resources", |r| match r {
            Row::Resources(n) => Some(n as f64),
            _ => None,
        }),
        ("seed-switchover.svg", "Standby switchover of 1+1 vs resources", "resources", |r| match r {
            Row::Switchover(n) => Some(n as f64),
            _ => None,
        }),
    ];
    let mut written = Vec::new();
    for (file, title, x_label, x_of) in figures {
        let mine: Vec<&Cell> = cells.iter().filter(|c| x_of(c.row).is_some()).collect();
        if mine.is_empty() {
            continue;
        }
        let series_of = |name: &str, value: &dyn Fn(&Cell) -> Option<f64>| Series {
            name: name.to_string(),
            points: mine.iter().filter_map(|c| Some((x_of(c.row)?, value(c)?))).collect(),
        };
        let series = [
            series_of("Atrium, WASM Dummy", &|c| med(&c.wasm)),
            series_of("Atrium, shell Dummy", &|c| med(&c.shell)),
            series_of("Pacemaker 2.1.5 here", &|c| c.pacemaker.as_ref().and_then(med)),
            series_of("seed: Pacemaker 1.1 (2015)", &|c| c.row.seed()),
        ];
        let path = docs.join(file);
        plot::draw(&path, title, x_label, &series)?;
        written.push(path);
    }
    Ok(written)
}

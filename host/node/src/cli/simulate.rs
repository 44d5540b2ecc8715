//! `atrium simulate FILE`: the scheduler run offline on a CIB (XML or crm), printed the way
//! crm_simulate prints it. It is the same code the DC runs.

use super::OutputFormat;
use crate::config_file;
use anyhow::Result;
use atrium_scheduler::simulate::{SimulateOptions, simulate};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct SimulateArgs {
    /// CIB XML (e.g. from `cibadmin -Q`) or a crm configuration.
    pub file: PathBuf,
    /// Show allocation scores.
    #[arg(long, short = 's')]
    pub scores: bool,
    /// Explain where a resource goes and why: every score contribution by source.
    #[arg(long)]
    pub explain: Option<String>,
    /// Treat a node as failed (repeatable).
    #[arg(long = "node-fail")]
    pub node_fail: Vec<String>,
    /// Record an operation failure first: RSC_OP_INTERVALMS@NODE=RC, e.g. rsc1_monitor_10000@node1=7 (repeatable).
    #[arg(long = "op-fail")]
    pub op_fail: Vec<String>,
    /// The current time in seconds since the Unix epoch (default: now). The scheduler reads no
    /// clock, so the same file and time always give the same transition.
    #[arg(long, short = 't')]
    pub time: Option<i64>,
}

pub fn run(args: SimulateArgs, output: OutputFormat) -> Result<ExitCode> {
    let cib = config_file::load(&args.file)?;
    let now = args.time.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    });
    let opts = SimulateOptions { node_fail: args.node_fail, op_fail: args.op_fail, explain: args.explain, now };
    let report = simulate(&cib, &opts)?;
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Text => print!("{}", report.render_text(args.scores)),
    }
    Ok(ExitCode::SUCCESS)
}

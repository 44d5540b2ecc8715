//! `atrium simulate FILE`: the scheduler run offline on a CIB (XML or crm), printed the way
//! crm_simulate prints it. It is the same code the DC runs.

use super::OutputFormat;
use crate::client::Client;
use crate::config_file;
use crate::daemon::pe_inputs::execution_date;
use anyhow::{Result, bail};
use atrium_scheduler::simulate::{SimulateOptions, simulate};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct SimulateArgs {
    /// CIB XML (e.g. from `cibadmin -Q`, or a saved pe-input-N.xml) or a crm configuration.
    pub file: Option<PathBuf>,
    /// Replay the DC's saved scheduler input number N (as shown in its log), fetched from the
    /// running cluster.
    #[arg(long, conflicts_with = "file")]
    pub replay: Option<u64>,
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
    /// The current time in seconds since the Unix epoch (default: the saved input's
    /// execution-date, else now). The scheduler reads no clock, so the same file and time
    /// always give the same transition.
    #[arg(long, short = 't')]
    pub time: Option<i64>,
}

pub fn run(args: SimulateArgs, data_dir: &Path, output: OutputFormat) -> Result<ExitCode> {
    let cib = match (&args.file, args.replay) {
        (Some(file), _) => config_file::load(file)?,
        (None, Some(n)) => {
            let client = Client::from_data_dir(data_dir)?;
            let xml = super::block_on(client.find_text(&format!("/v1/pe-inputs/{n}")))?;
            config_file::parse(&xml, &format!("pe-input-{n}"))?
        }
        (None, None) => bail!("give a CIB or crm file, or --replay N"),
    };
    let now = args.time.or_else(|| execution_date(&cib)).unwrap_or_else(|| {
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

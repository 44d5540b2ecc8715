//! `atrium fence NODE [--off]` and `atrium fence history [NODE]`, like `stonith_admin --reboot`
//! and `--history`.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::{OutputFormat, actor, block_on, parse_duration};
use crate::api::types::{ChangeReply, FenceRequest};
use crate::client::Client;
use crate::fencing::{FenceRecord, FenceState};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct FenceArgs {
    #[command(subcommand)]
    pub command: Option<FenceCommand>,
    /// The node to fence (the DC runs the configured devices and topology for it).
    pub node: Option<String>,
    /// Power it off instead of rebooting it.
    #[arg(long)]
    pub off: bool,
    /// Return once the request is queued instead of waiting for the result.
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for the result.
    #[arg(long, default_value = "5min", value_parser = parse_duration)]
    pub timeout: Duration,
}

#[derive(Subcommand)]
pub enum FenceCommand {
    /// Fencing operations, oldest first (optionally of one node).
    History { node: Option<String> },
}

pub fn run(args: FenceArgs, data_dir: &Path, output: OutputFormat) -> Result<ExitCode> {
    let client = Client::from_data_dir(data_dir)?;
    block_on(async {
        if let Some(FenceCommand::History { node }) = args.command {
            let records: Vec<FenceRecord> = client.get("/v1/fence/history").await?;
            let records: Vec<&FenceRecord> = records.iter().filter(|r| node.as_deref().is_none_or(|n| r.target == n)).collect();
            match output {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&records)?),
                OutputFormat::Text if records.is_empty() => println!("no fencing operations"),
                OutputFormat::Text => records.iter().for_each(|r| println!("{}", describe(r))),
            }
            return Ok(ExitCode::SUCCESS);
        }
        let Some(node) = args.node else { bail!("name the node to fence, or `atrium fence history`") };
        let action = if args.off { "off" } else { "reboot" };
        let before: Vec<FenceRecord> = client.get("/v1/fence/history").await?;
        let last_id = before.iter().map(|r| r.id).max().unwrap_or(0);
        let reply: ChangeReply = client.post("/v1/fence", &FenceRequest { target: node.clone(), action: action.into(), actor: actor() }).await?;
        if args.no_wait {
            return super::print_change(&reply, output);
        }
        eprintln!("{}; waiting for the DC to carry it out", reply.summary);
        let began = Instant::now();
        loop {
            let records: Vec<FenceRecord> = client.get("/v1/fence/history").await?;
            if let Some(r) = records.iter().find(|r| r.id > last_id && r.target == node && r.state != FenceState::Pending) {
                match output {
                    OutputFormat::Json => println!("{}", serde_json::to_string_pretty(r)?),
                    OutputFormat::Text => println!("{}", describe(r)),
                }
                return Ok(if r.state == FenceState::Done { ExitCode::SUCCESS } else { ExitCode::FAILURE });
            }
            if began.elapsed() > args.timeout {
                bail!("fencing of {node} did not finish within {} s (see `atrium fence history`)", args.timeout.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

fn describe(r: &FenceRecord) -> String {
    let origin = match &r.origin {
        crate::fencing::FenceOrigin::Transition { transition, .. } => format!("transition {transition}"),
        crate::fencing::FenceOrigin::Manual { actor } => actor.clone(),
    };
    let when = |ms: u64| super::status::format_time_ms(ms);
    match r.state {
        FenceState::Pending => format!("{} of {}: pending (requested by {origin} at {})", r.action, r.target, when(r.requested_ms)),
        FenceState::Done => format!(
            "{} of {}: done by {} at {} (requested by {origin}; level {}, {})",
            r.action,
            r.target,
            r.executioner.as_deref().unwrap_or("?"),
            r.completed_ms.map(when).unwrap_or_default(),
            r.level.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
            r.devices.join(", ")
        ),
        FenceState::Failed => format!(
            "{} of {}: FAILED on {} at {} (requested by {origin}): {}",
            r.action,
            r.target,
            r.executioner.as_deref().unwrap_or("?"),
            r.completed_ms.map(when).unwrap_or_default(),
            r.reason.as_deref().unwrap_or("")
        ),
    }
}

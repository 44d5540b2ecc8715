//! `atrium node standby|online|list NODE` and `atrium node run --config node.toml`.

use anyhow::Result;
use clap::Subcommand;
use std::path::{Path, PathBuf};

use std::process::ExitCode;

use super::{OutputFormat, actor, block_on, print_change};
use crate::api::types::{ChangeReply, EditRequest, MemberRequest, StatusReport};
use crate::client::Client;
use crate::daemon::cib_state::ConfigEdit;
use crate::daemon::node_config::NodeConfig;

#[derive(Subcommand)]
pub enum NodeCommand {
    /// Move every resource off NODE and keep them off.
    Standby { node: String },
    /// Let NODE host resources again.
    Online { node: String },
    /// Nodes and their state.
    List,
    /// Add a node to the cluster's voters; start it first with a node.toml listing every member.
    Add {
        name: String,
        #[arg(long)]
        id: u64,
        /// Its cluster address, host:port.
        #[arg(long)]
        addr: String,
    },
    /// Take a node out of the cluster for good (stop it first).
    Remove { name: String },
    /// Run this machine's node (the daemon) until SIGTERM.
    Run {
        #[arg(long)]
        config: PathBuf,
    },
}

/// Runs the daemon (logging is set up by the caller, with the node's log file).
pub fn run_daemon(config: NodeConfig) -> Result<ExitCode> {
    block_on(crate::daemon::run(config))?;
    Ok(ExitCode::SUCCESS)
}

pub fn run(cmd: NodeCommand, data_dir: &Path, output: OutputFormat) -> Result<ExitCode> {
    let client = Client::from_data_dir(data_dir)?;
    block_on(async {
        let edit = match cmd {
            NodeCommand::Standby { node } => ConfigEdit::Standby { node, on: true },
            NodeCommand::Online { node } => ConfigEdit::Standby { node, on: false },
            NodeCommand::Add { name, id, addr } => {
                let reply: ChangeReply = client.post("/v1/members", &MemberRequest { id, name, addr }).await?;
                return print_change(&reply, output);
            }
            NodeCommand::Remove { name } => {
                let reply: ChangeReply = client.post(&format!("/v1/members/{name}/remove"), &serde_json::json!({})).await?;
                return print_change(&reply, output);
            }
            NodeCommand::Run { config } => anyhow::bail!("`node run --config {}` is handled before logging starts", config.display()),
            NodeCommand::List => {
                let report: StatusReport = client.get("/v1/status").await?;
                match output {
                    OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report.nodes)?),
                    OutputFormat::Text => {
                        for n in &report.nodes {
                            let dc = if n.dc { " (DC)" } else { "" };
                            println!("{} ({}): {}{dc}", n.name, n.id, n.state);
                        }
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
        };
        let reply: ChangeReply = client.post("/v1/edit", &EditRequest { edit, actor: actor() }).await?;
        print_change(&reply, output)
    })
}

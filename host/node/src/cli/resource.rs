//! `atrium resource start|stop|move|ban|clear|cleanup|locate|explain RSC`, as crm_resource.

use anyhow::Result;
use clap::Subcommand;
use std::path::Path;
use std::process::ExitCode;

use super::{OutputFormat, actor, block_on, print_change};
use crate::api::types::{ChangeReply, CleanupRequest, EditRequest, ExplainReply};
use crate::client::Client;
use crate::daemon::cib_state::ConfigEdit;
use atrium_cib::Role;

#[derive(Subcommand)]
pub enum ResourceCommand {
    /// Let the cluster start it (target-role=Started).
    Start { rsc: String },
    /// Stop it everywhere (target-role=Stopped).
    Stop { rsc: String },
    /// Move it to NODE (a cli-prefer constraint until `clear`).
    Move { rsc: String, node: String },
    /// Keep it off NODE (a cli-ban constraint until `clear`).
    Ban { rsc: String, node: String },
    /// Remove the move/ban constraints (for NODE only, if given).
    Clear { rsc: String, node: Option<String> },
    /// Forget its failures and history so the cluster probes it afresh.
    Cleanup {
        rsc: Option<String>,
        #[arg(long)]
        node: Option<String>,
    },
    /// Where it is active.
    Locate { rsc: String },
    /// Where it would run and why: every score by source.
    Explain { rsc: String },
}

pub fn run(cmd: ResourceCommand, data_dir: &Path, output: OutputFormat) -> Result<ExitCode> {
    let client = Client::from_data_dir(data_dir)?;
    block_on(async {
        let edit = match cmd {
            ResourceCommand::Start { rsc } => ConfigEdit::TargetRole { rsc, role: Role::Started },
            ResourceCommand::Stop { rsc } => ConfigEdit::TargetRole { rsc, role: Role::Stopped },
            ResourceCommand::Move { rsc, node } => ConfigEdit::Move { rsc, node },
            ResourceCommand::Ban { rsc, node } => ConfigEdit::Ban { rsc, node },
            ResourceCommand::Clear { rsc, node } => ConfigEdit::Clear { rsc, node },
            ResourceCommand::Cleanup { rsc, node } => {
                let reply: ChangeReply = client.post("/v1/cleanup", &CleanupRequest { rsc, node, actor: actor() }).await?;
                return print_change(&reply, output);
            }
            ResourceCommand::Locate { rsc } => {
                let reply: ExplainReply = client.get(&format!("/v1/resources/{rsc}/explain")).await?;
                match output {
                    OutputFormat::Json => println!("{}", serde_json::json!({ "rsc": reply.rsc, "active_on": reply.active_on })),
                    OutputFormat::Text if reply.active_on.is_empty() => println!("resource {} is NOT running", reply.rsc),
                    OutputFormat::Text => {
                        for node in &reply.active_on {
                            println!("resource {} is running on: {node}", reply.rsc);
                        }
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            ResourceCommand::Explain { rsc } => {
                let reply: ExplainReply = client.get(&format!("/v1/resources/{rsc}/explain")).await?;
                match output {
                    OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&reply)?),
                    OutputFormat::Text => {
                        let active = if reply.active_on.is_empty() { "nowhere".to_string() } else { reply.active_on.join(", ") };
                        println!("{} is active on: {active}", reply.rsc);
                        for (instance, node, role) in &reply.placement {
                            println!("  {instance} -> {} ({role})", node.as_deref().unwrap_or("not placed"));
                        }
                        if let Some(e) = &reply.explanation {
                            print!("{e}");
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

//! `atrium configure load FILE | show | history [VERSION]`.

use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{OutputFormat, actor, block_on, print_change};
use crate::api::types::{ChangeReply, ConfigurationReply, HistoryEntry, LoadRequest};
use crate::cli::status::format_time_ms;
use crate::client::Client;

#[derive(Subcommand)]
pub enum ConfigureCommand {
    /// Replace the configuration with a crm or CIB XML file (nodes are kept).
    Load { file: PathBuf },
    /// Print the configuration (crm syntax, or `--xml`).
    Show {
        #[arg(long)]
        xml: bool,
    },
    /// List configuration changes, or show one with its diff.
    History {
        version: Option<u64>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

pub fn run(cmd: ConfigureCommand, data_dir: &Path, output: OutputFormat) -> Result<ExitCode> {
    let client = Client::from_data_dir(data_dir)?;
    block_on(async {
        match cmd {
            ConfigureCommand::Load { file } => {
                let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
                // Parse here too: a bad file is reported with its place before anything is sent.
                crate::config_file::parse(&text, &file.display().to_string())?;
                let request = LoadRequest { text, name: file.display().to_string(), actor: actor() };
                let reply: ChangeReply = client.post("/v1/configuration", &request).await?;
                print_change(&reply, output)
            }
            ConfigureCommand::Show { xml } => {
                let reply: ConfigurationReply = client.get("/v1/configuration").await?;
                match output {
                    OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&reply)?),
                    OutputFormat::Text if xml => println!("{}", reply.xml.trim_end()),
                    OutputFormat::Text => println!("{}", reply.crm.trim_end()),
                }
                Ok(ExitCode::SUCCESS)
            }
            ConfigureCommand::History { version: Some(v), .. } => {
                let entry: HistoryEntry = client.get(&format!("/v1/configuration/history/{v}")).await?;
                match output {
                    OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&entry)?),
                    OutputFormat::Text => {
                        println!("version {} by {} at {}: {}", entry.version, entry.actor, format_time_ms(entry.at_ms), entry.summary);
                        println!("{}", entry.diff.unwrap_or_default().trim_end());
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            ConfigureCommand::History { version: None, limit } => {
                let entries: Vec<HistoryEntry> = client.get(&format!("/v1/configuration/history?limit={limit}")).await?;
                match output {
                    OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&entries)?),
                    OutputFormat::Text => {
                        for e in entries {
                            println!("{:>6}  {}  {:<12} {}", e.version, format_time_ms(e.at_ms), e.actor, e.summary);
                        }
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

//! `atrium property set NAME=VALUE | unset NAME`: cluster options (crm_config).

use anyhow::{Result, bail};
use clap::Subcommand;
use std::path::Path;
use std::process::ExitCode;

use super::{OutputFormat, actor, block_on, print_change};
use crate::api::types::{ChangeReply, EditRequest};
use crate::client::Client;
use crate::daemon::cib_state::ConfigEdit;

#[derive(Subcommand)]
pub enum PropertyCommand {
    /// Set a cluster option, e.g. `stonith-enabled=false`.
    Set { assignment: String },
    /// Remove a cluster option (back to its default).
    Unset { name: String },
}

pub fn run(cmd: PropertyCommand, data_dir: &Path, output: OutputFormat) -> Result<ExitCode> {
    let edit = match cmd {
        PropertyCommand::Set { assignment } => match assignment.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => ConfigEdit::SetProperty { name: name.trim().into(), value: Some(value.trim().into()) },
            _ => bail!("expected NAME=VALUE, got {assignment:?}"),
        },
        PropertyCommand::Unset { name } => ConfigEdit::SetProperty { name, value: None },
    };
    let client = Client::from_data_dir(data_dir)?;
    block_on(async {
        let reply: ChangeReply = client.post("/v1/edit", &EditRequest { edit, actor: actor() }).await?;
        print_change(&reply, output)
    })
}

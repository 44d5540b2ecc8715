//! `atrium`: the node daemon and the command-line tool.
//!
//! Invoked as `crm_attribute`, `crm_master`, `crm_node` or `attrd_updater` (through the OCF
//! shim's helper links) it answers as that Pacemaker tool instead.

mod api;
mod cli;
mod client;
mod config_file;
mod daemon;
mod fencing;
mod logging;
mod paths;
mod registry;
mod remote;

use atrium_ocf_shim::helpers::{HelperTool, main_from_env};
use std::process::ExitCode;

fn main() -> ExitCode {
    let argv0 = std::env::args().next().unwrap_or_default();
    if HelperTool::from_argv0(&argv0).is_some() {
        return ExitCode::from(main_from_env().clamp(0, 255) as u8);
    }
    cli::main()
}

//! The command line: crm/pcs habits (`status`, `resource move`, `node standby`), `--output json`.

mod agent;
mod simulate;

use crate::logging::{self, LogFormat};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Parser)]
#[command(name = "atrium", version, about = "High-availability cluster manager with sandboxed WASM resource agents")]
pub struct Cli {
    /// Data directory (default: $ATRIUM_DATA_DIR, else ./.atrium).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Output format of the command's result.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Inspect and run resource agents (WASM and OCF).
    #[command(subcommand)]
    Agent(agent::AgentCommand),
    /// Run the scheduler offline on a CIB or crm file (like crm_simulate).
    Simulate(simulate::SimulateArgs),
}

impl Command {
    /// Commands that only print: they may die quietly on a closed pipe. Anything that runs
    /// agents keeps SIGPIPE ignored, since agents write to pipes and sockets.
    fn only_prints(&self) -> bool {
        match self {
            Command::Agent(a) => a.only_prints(),
            Command::Simulate(_) => true,
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.command.only_prints() {
        restore_sigpipe();
    }
    logging::init("warn", cli.log_format);
    let result = match cli.command {
        Command::Agent(cmd) => agent::run(cmd, cli.data_dir.as_deref(), cli.output),
        Command::Simulate(args) => simulate::run(args, cli.output),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("atrium: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// A command piped into `head` should end quietly, as Unix tools do, instead of failing on a
/// broken pipe.
fn restore_sigpipe() {
    // SAFETY: resetting a signal disposition to its default before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

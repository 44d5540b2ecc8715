//! The command line: crm/pcs habits (`status`, `resource move`, `node standby`), `--output json`.

mod agent;
mod cluster;
mod configure;
mod fence;
mod node;
mod property;
mod remote;
mod resource;
mod simulate;
pub mod status;
mod up;

use crate::logging::{self, LogFormat};
use crate::paths;
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
    /// Start a local cluster of N nodes on loopback with a configuration, show it live.
    Up(up::UpArgs),
    /// The cluster's state, as crm_mon shows it.
    Status(status::StatusArgs),
    /// Load, show and list the history of the configuration.
    #[command(subcommand)]
    Configure(configure::ConfigureCommand),
    /// Start, stop, move, ban, clear, clean up, locate and explain resources.
    #[command(subcommand)]
    Resource(resource::ResourceCommand),
    /// Put nodes in standby or online, list them, or run this machine's node.
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// Fence a node, or show the fencing history.
    Fence(fence::FenceArgs),
    /// Set or unset cluster options.
    #[command(subcommand)]
    Property(property::PropertyCommand),
    /// Create a cluster key and node configurations.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Inspect and run resource agents (WASM and OCF).
    #[command(subcommand)]
    Agent(agent::AgentCommand),
    /// Run the scheduler offline on a CIB or crm file (like crm_simulate), or replay a
    /// decision the DC made.
    Simulate(simulate::SimulateArgs),
    /// Run this machine as a remote node, or check that one answers.
    #[command(subcommand)]
    Remote(remote::RemoteCommand),
}

#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Generate the cluster key and, for each --node, its node.toml.
    Init(cluster::InitArgs),
}

impl Command {
    /// Commands that only print: they may die quietly on a closed pipe. Anything that runs
    /// agents keeps SIGPIPE ignored, since agents write to pipes and sockets.
    fn only_prints(&self) -> bool {
        match self {
            Command::Agent(a) => a.only_prints(),
            Command::Up(_) | Command::Node(_) => false,
            Command::Remote(_) => false,
            _ => true,
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.command.only_prints() {
        restore_sigpipe();
    }
    let data_dir = paths::data_dir(cli.data_dir.as_deref());
    let result = match cli.command {
        // The daemon logs at info, to stderr and its data directory.
        Command::Node(node::NodeCommand::Run { config }) => match crate::daemon::node_config::NodeConfig::load(&config) {
            Ok(config) => logging::init(logging::NODE_DEFAULT, cli.log_format, Some(&config.data_dir.join("atrium.log"))).and_then(|()| node::run_daemon(config)),
            Err(e) => Err(e),
        },
        // The remote node's daemon logs like a node's.
        Command::Remote(remote::RemoteCommand::Run { listen, key_file }) => {
            logging::init(logging::NODE_DEFAULT, cli.log_format, Some(&data_dir.join("atrium.log"))).and_then(|()| remote::run_daemon(listen, &key_file, &data_dir))
        }
        command => logging::init("warn", cli.log_format, None).and_then(|()| match command {
            Command::Up(args) => up::run(args, cli.data_dir.as_deref(), cli.output),
            Command::Status(args) => status::run(args, &data_dir, cli.output),
            Command::Configure(cmd) => configure::run(cmd, &data_dir, cli.output),
            Command::Resource(cmd) => resource::run(cmd, &data_dir, cli.output),
            Command::Node(cmd) => node::run(cmd, &data_dir, cli.output),
            Command::Property(cmd) => property::run(cmd, &data_dir, cli.output),
            Command::Fence(args) => fence::run(args, &data_dir, cli.output),
            Command::Cluster(ClusterCommand::Init(args)) => cluster::init(args),
            Command::Agent(cmd) => agent::run(cmd, cli.data_dir.as_deref(), cli.output),
            Command::Simulate(args) => simulate::run(args, &data_dir, cli.output),
            Command::Remote(cmd) => remote::run(cmd, cli.output),
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("atrium: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs an async command on a runtime of its own.
pub fn block_on<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(f)
}

/// Who a change is recorded as made by.
pub fn actor() -> String {
    std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into())
}

pub fn print_change(reply: &crate::api::types::ChangeReply, output: OutputFormat) -> anyhow::Result<ExitCode> {
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(reply)?),
        OutputFormat::Text => println!("{} (configuration version {})", reply.summary, reply.epoch),
    }
    Ok(ExitCode::SUCCESS)
}

/// A duration flag in Pacemaker's spellings (`2s`, `500ms`, `1min`).
pub fn parse_duration(value: &str) -> Result<std::time::Duration, String> {
    atrium_cib::parse_duration_ms(value).map(std::time::Duration::from_millis).map_err(|e| e.to_string())
}

/// A command piped into `head` should end quietly, as Unix tools do, instead of failing on a
/// broken pipe.
fn restore_sigpipe() {
    // SAFETY: resetting a signal disposition to its default before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

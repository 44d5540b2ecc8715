//! `atrium remote run`: this machine as a remote node; `atrium remote ping SERVER`: check that
//! a remote node answers with the cluster key.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use atrium_transport::{ClusterKey, Identity, Requester};

use super::{OutputFormat, block_on, parse_duration};
use crate::remote::links::server_address;
use crate::remote::protocol::{RemoteRequest, RemoteResponse};
use crate::remote::server::{self, ServerConfig};

const DEFAULT_KEY_FILE: &str = "/etc/atrium/authkey";

#[derive(Subcommand)]
pub enum RemoteCommand {
    /// Run this machine as a remote node until SIGTERM: full nodes holding the cluster key
    /// connect and run agents here (state and log in --data-dir).
    Run {
        /// Address to listen on (pacemaker_remote's port by default).
        #[arg(long, default_value = "0.0.0.0:3121")]
        listen: String,
        /// The cluster key (copied from a full node).
        #[arg(long, default_value = DEFAULT_KEY_FILE)]
        key_file: PathBuf,
    },
    /// Connect to a remote node, authenticate with the key and time round trips.
    Ping {
        /// host or host:port (port 3121 when omitted).
        server: String,
        #[arg(long, default_value = DEFAULT_KEY_FILE)]
        key_file: PathBuf,
        /// Round trips on the one connection.
        #[arg(long, default_value_t = 1)]
        count: u32,
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        timeout: Duration,
    },
}

/// Runs the remote node's daemon (logging is set up by the caller, with its log file).
pub fn run_daemon(listen: String, key_file: &Path, data_dir: &Path) -> Result<ExitCode> {
    let key = ClusterKey::load(key_file).with_context(|| format!("cluster key {}", key_file.display()))?;
    block_on(server::run(ServerConfig { listen, key, data_dir: data_dir.to_path_buf() }))?;
    Ok(ExitCode::SUCCESS)
}

pub fn run(cmd: RemoteCommand, output: OutputFormat) -> Result<ExitCode> {
    match cmd {
        RemoteCommand::Run { .. } => bail!("`remote run` is handled before logging starts"),
        RemoteCommand::Ping { server, key_file, count, timeout } => {
            let key = ClusterKey::load(&key_file).with_context(|| format!("cluster key {}", key_file.display()))?;
            let addr = server_address(&server, &[("server".to_string(), server.clone())].into())?;
            let rtts = block_on(ping(&addr, &key, count, timeout))?;
            let avg_ms = rtts.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / rtts.len().max(1) as f64;
            match output {
                OutputFormat::Json => println!("{}", serde_json::json!({ "server": addr, "round_trips": rtts.len(), "average_ms": avg_ms })),
                OutputFormat::Text => println!("{addr}: {} round trip(s), {avg_ms:.2} ms average", rtts.len()),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn ping(addr: &str, key: &ClusterKey, count: u32, timeout: Duration) -> Result<Vec<Duration>> {
    let identity = Identity::new(format!("ping@{}", crate::paths::host_name()), None)?;
    let conn = atrium_transport::connect(addr, key, &identity, timeout).await?;
    let requester: Requester<RemoteRequest, RemoteResponse> = Requester::new(conn);
    let mut rtts = Vec::new();
    for i in 1..=count {
        let begin = Instant::now();
        match tokio::time::timeout(timeout, requester.request(&RemoteRequest::Ping)).await {
            Ok(Ok(RemoteResponse::Pong)) => rtts.push(begin.elapsed()),
            Ok(Ok(other)) => bail!("{addr}: round trip {i}: unexpected answer {other:?}"),
            Ok(Err(e)) => bail!("{addr}: round trip {i}: {e}"),
            Err(_) => bail!("{addr}: round trip {i}: no answer within {timeout:?}"),
        }
    }
    Ok(rtts)
}

//! `atrium cluster init`: the cluster key (like Pacemaker's authkey) and, for each node
//! named, its `node.toml`.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

use atrium_cluster::ClusterKey;
use atrium_transport::Overwrite;

use crate::daemon::node_config::{MemberConfig, NodeConfig, QuorumConfig, TimingsConfig};

#[derive(Args)]
pub struct InitArgs {
    /// Where to write the cluster key.
    #[arg(long, default_value = "authkey")]
    pub key_file: PathBuf,
    /// A node as NAME=HOST (repeatable); writes node-NAME.toml for each, ids in order.
    #[arg(long = "node")]
    pub nodes: Vec<String>,
    /// Cluster traffic port on each host.
    #[arg(long, default_value_t = 7400)]
    pub port: u16,
    /// HTTP API port on each host.
    #[arg(long, default_value_t = 7401)]
    pub api_port: u16,
    /// Data directory each node uses.
    #[arg(long, default_value = "/var/lib/atrium")]
    pub node_data_dir: PathBuf,
    /// Where the nodes will read the key from (default: the --key-file path).
    #[arg(long)]
    pub node_key_file: Option<PathBuf>,
    /// Directory for the node-NAME.toml files.
    #[arg(long, default_value = ".")]
    pub out_dir: PathBuf,
    /// Replace an existing key file.
    #[arg(long)]
    pub force: bool,
    /// Two nodes only: the survivor of a split fences its peer and carries on alone
    /// (`[quorum] two_node = true`, with wait_for_all).
    #[arg(long)]
    pub two_node: bool,
}

pub fn init(args: InitArgs) -> Result<ExitCode> {
    let mut members = Vec::new();
    for (i, spec) in args.nodes.iter().enumerate() {
        let Some((name, host)) = spec.split_once('=').filter(|(n, h)| !n.is_empty() && !h.is_empty()) else {
            bail!("--node {spec:?}: expected NAME=HOST");
        };
        let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_string() };
        members.push(MemberConfig {
            id: i as u64 + 1,
            name: name.to_string(),
            addr: format!("{host}:{}", args.port),
            api: format!("{host}:{}", args.api_port),
        });
    }
    if args.two_node && members.len() != 2 {
        bail!("--two-node: needs exactly two --node, got {}", members.len());
    }
    let key = ClusterKey::generate()?;
    let overwrite = if args.force { Overwrite::Allow } else { Overwrite::Refuse };
    key.write_to(&args.key_file, overwrite).with_context(|| format!("writing {}", args.key_file.display()))?;
    println!("cluster key written to {} (fingerprint {}); copy it to every node, mode 0600", args.key_file.display(), key.fingerprint());
    let key_file = args.node_key_file.clone().unwrap_or_else(|| std::path::absolute(&args.key_file).unwrap_or(args.key_file.clone()));
    for m in &members {
        let config = NodeConfig {
            name: m.name.clone(),
            id: m.id,
            listen: m.addr.clone(),
            api: m.api.clone(),
            data_dir: args.node_data_dir.clone(),
            key_file: key_file.clone(),
            database_url: None,
            database_schema: None,
            members: members.clone(),
            timings: TimingsConfig::default(),
            grants: Default::default(),
            quorum: QuorumConfig { two_node: args.two_node, wait_for_all: None },
        };
        let path = args.out_dir.join(format!("node-{}.toml", m.name));
        std::fs::write(&path, config.to_toml()).with_context(|| format!("writing {}", path.display()))?;
        println!("{} written: run `atrium node run --config {}` on {}", path.display(), path.display(), m.name);
    }
    Ok(ExitCode::SUCCESS)
}

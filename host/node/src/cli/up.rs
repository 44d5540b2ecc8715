//! `atrium up`: a local cluster of N node processes on loopback, loaded with a configuration
//! and shown live until Ctrl-C, which stops every node in order.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use atrium_cluster::ClusterKey;
use atrium_transport::Overwrite;

use super::{OutputFormat, actor, block_on};
use crate::api::types::{ChangeReply, LoadRequest, StatusReport};
use crate::client::{Client, ClientConfig};
use crate::daemon::node_config::{MemberConfig, NodeConfig, TimingsConfig};

/// The quick-start configuration, for a binary run away from the source tree.
const QUICKSTART: &str = include_str!("../../../../examples/quickstart.crm");
const QUICKSTART_PATH: &str = "examples/quickstart.crm";

/// How long nodes get to stop their resources and leave after Ctrl-C.
const STOP_GRACE: Duration = Duration::from_secs(60);

#[derive(Args)]
pub struct UpArgs {
    /// Number of node processes.
    #[arg(long, default_value_t = 3)]
    pub nodes: u16,
    /// Configuration (crm or CIB XML); default examples/quickstart.crm.
    pub config: Option<PathBuf>,
    /// Print the status once every resource settled, then stop the cluster (for scripts).
    #[arg(long)]
    pub once: bool,
    /// Keep the nodes' logs and history in PostgreSQL (one schema per node) instead of
    /// SQLite files, e.g. postgres://user:password@host/db.
    #[arg(long)]
    pub database_url: Option<String>,
}

struct NodeProcess {
    name: String,
    child: Child,
    /// Its exit was already reported.
    exited: bool,
}

pub fn run(args: UpArgs, data_dir_flag: Option<&Path>, output: OutputFormat) -> Result<ExitCode> {
    if args.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    let (config_name, config_text) = match &args.config {
        Some(p) => (p.display().to_string(), std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?),
        None => match std::fs::read_to_string(QUICKSTART_PATH) {
            Ok(text) => (QUICKSTART_PATH.to_string(), text),
            Err(_) => ("built-in quickstart.crm".to_string(), QUICKSTART.to_string()),
        },
    };
    // A bad configuration is reported before any node starts.
    crate::config_file::parse(&config_text, &config_name)?;

    // The cluster's files: the given directory, or a temporary one removed at exit. The CLI's
    // default data directory gets the client file so that `atrium status` finds the cluster.
    let (cluster_dir, temp) = match data_dir_flag {
        Some(d) => (d.to_path_buf(), None),
        None => {
            let t = tempfile::Builder::new().prefix("atrium-up-").tempdir().context("creating a temporary directory")?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let client_dir = data_dir_flag.map_or_else(|| crate::paths::data_dir(None), Path::to_path_buf);
    std::fs::create_dir_all(&cluster_dir)?;
    let key_file = std::path::absolute(cluster_dir.join("authkey"))?;
    if !key_file.exists() {
        ClusterKey::generate()?.write_to(&key_file, Overwrite::Refuse)?;
    }

    let configs = node_configs(&cluster_dir, &key_file, &args)?;
    let members = configs[0].members.clone();
    let exe = std::env::current_exe().context("locating the atrium executable")?;
    let mut processes = Vec::new();
    for (config, m) in configs.iter().zip(&members) {
        let node_dir = &config.data_dir;
        let config_path = node_dir.join("node.toml");
        let stderr = std::fs::OpenOptions::new().create(true).append(true).open(node_dir.join("stderr.log"))?;
        let mut child = Command::new(&exe);
        child
            .args(["node", "run", "--config"])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            // Its own process group: Ctrl-C reaches `atrium up`, which stops the nodes in order.
            .process_group(0);
        // SAFETY: prctl only sets a flag of the child; it allocates nothing between fork and exec.
        // If `atrium up` dies without stopping the nodes (kill -9), they get SIGTERM and leave.
        unsafe {
            child.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = child
            .spawn()
            .with_context(|| format!("starting {}", m.name))?;
        processes.push(NodeProcess { name: m.name.clone(), child, exited: false });
    }
    let client_config = ClientConfig { endpoints: members.iter().map(|m| m.api.clone()).collect(), key_file };
    client_config.write(&client_dir)?;
    eprintln!("atrium up: {} nodes, data in {}{}", args.nodes, cluster_dir.display(), if temp.is_some() { " (removed at exit)" } else { "" });

    let result = block_on(drive(&args, Client::new(client_config)?, &config_name, config_text, &mut processes, output));
    eprintln!("atrium up: stopping the cluster (each node stops its resources, then leaves)");
    stop_all(&mut processes);
    let _ = std::fs::remove_file(client_dir.join(crate::client::CLIENT_FILE));
    drop(temp);
    result
}

/// The nodes' configurations: those of an earlier `atrium up --data-dir DIR` when DIR holds
/// them (its nodes' logs name these addresses, so they are kept), else new ones on free
/// loopback ports, written to each node's directory.
fn node_configs(cluster_dir: &Path, key_file: &Path, args: &UpArgs) -> Result<Vec<NodeConfig>> {
    let existing: Vec<PathBuf> = (1..=args.nodes).map(|i| cluster_dir.join(format!("node{i}")).join("node.toml")).collect();
    if existing.iter().all(|p| p.exists()) {
        let configs = existing.iter().map(|p| NodeConfig::load(p)).collect::<Result<Vec<_>>>()?;
        if configs.iter().all(|c| c.members.len() == usize::from(args.nodes)) {
            return Ok(configs);
        }
        bail!("{} holds a cluster of another size; use --nodes {} or another --data-dir", cluster_dir.display(), configs[0].members.len());
    }
    let members = local_members(args.nodes)?;
    // One PostgreSQL schema per node, named after this cluster's directory.
    let tag: String = cluster_dir.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default().chars().filter(char::is_ascii_alphanumeric).collect();
    let mut configs = Vec::new();
    for m in &members {
        let node_dir = std::path::absolute(cluster_dir.join(&m.name))?;
        let config = NodeConfig {
            name: m.name.clone(),
            id: m.id,
            listen: m.addr.clone(),
            api: m.api.clone(),
            data_dir: node_dir.clone(),
            key_file: key_file.to_path_buf(),
            database_url: args.database_url.clone(),
            database_schema: args.database_url.as_ref().map(|_| format!("atrium_{tag}_{}", m.name)),
            members: members.clone(),
            timings: TimingsConfig::default(),
            grants: Default::default(),
            quorum: Default::default(),
        };
        std::fs::create_dir_all(&node_dir)?;
        std::fs::write(node_dir.join("node.toml"), config.to_toml())?;
        configs.push(config);
    }
    Ok(configs)
}

/// Loopback addresses with free ports for every node.
fn local_members(n: u16) -> Result<Vec<MemberConfig>> {
    let free_port = || -> Result<u16> { Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port()) };
    (1..=n)
        .map(|i| {
            Ok(MemberConfig {
                id: u64::from(i),
                name: format!("node{i}"),
                addr: format!("127.0.0.1:{}", free_port()?),
                api: format!("127.0.0.1:{}", free_port()?),
            })
        })
        .collect()
}

async fn drive(args: &UpArgs, client: Client, config_name: &str, config_text: String, processes: &mut [NodeProcess], output: OutputFormat) -> Result<ExitCode> {
    let ctrl_c = stop_signal();
    tokio::pin!(ctrl_c);
    // Wait for a DC with every node online.
    let started = Instant::now();
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(ExitCode::from(130)),
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        exited(processes)?;
        if let Ok(report) = client.get::<StatusReport>("/v1/status").await {
            let online = report.nodes.iter().filter(|n| n.state == "online").count();
            eprint!("\ratrium up: {online}/{} nodes online, DC: {}   ", args.nodes, report.cluster.dc.as_deref().unwrap_or("none yet"));
            if report.cluster.dc.is_some() && online == usize::from(args.nodes) {
                eprintln!();
                break;
            }
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("the cluster did not come up within two minutes; see the nodes' stderr.log files");
        }
    }
    let reply: ChangeReply = client.post("/v1/configuration", &LoadRequest { text: config_text, name: config_name.to_string(), actor: actor() }).await?;
    eprintln!("atrium up: loaded {config_name} (configuration version {}); Ctrl-C stops the cluster", reply.epoch);
    let mut shown_running = None;
    loop {
        let report: Result<StatusReport> = client.get("/v1/status").await;
        let done = args.once && report.as_ref().is_ok_and(settled);
        match (&report, output) {
            (Ok(r), _) if args.once && !done => {
                if shown_running != Some(running(r)) {
                    shown_running = Some(running(r));
                    eprintln!("atrium up: waiting for the cluster to settle ({} resources running)", running(r));
                }
            }
            (Ok(r), OutputFormat::Json) => println!("{}", serde_json::to_string(r)?),
            (Ok(r), OutputFormat::Text) if args.once => print!("{}", super::status::render(r)),
            (Ok(r), OutputFormat::Text) => print!("\x1b[2J\x1b[H{}\n(atrium up: Ctrl-C to stop)\n", super::status::render(r)),
            (Err(e), _) => eprintln!("atrium up: status: {e:#}"),
        }
        if done {
            return Ok(ExitCode::SUCCESS);
        }
        let gone = exited(processes).err();
        if let Some(e) = gone {
            eprintln!("atrium up: {e:#}");
        }
        tokio::select! {
            _ = &mut ctrl_c => return Ok(ExitCode::SUCCESS),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Ctrl-C, or the terminal or a supervisor ending `atrium up` (SIGHUP, SIGTERM).
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
        _ = hup.recv() => {}
    }
}

/// The configuration is in and the cluster has nothing left to do.
fn settled(r: &StatusReport) -> bool {
    r.cluster.epoch > 0 && r.cluster.idle
}

fn running(r: &StatusReport) -> usize {
    fn count(r: &crate::api::types::ResourceReport) -> usize {
        use crate::api::types::ResourceReport::*;
        match r {
            Primitive { node, role, .. } => usize::from(node.is_some() && role != "Failed" && role != "Stopped"),
            Group { members, .. } => members.iter().map(count).sum(),
            Clone { instances, .. } => instances.iter().map(count).sum(),
        }
    }
    r.resources.iter().map(count).sum()
}

/// An error naming nodes whose process ended since the last call (someone killed one to watch
/// failover).
fn exited(processes: &mut [NodeProcess]) -> Result<()> {
    let mut gone = Vec::new();
    for p in processes.iter_mut().filter(|p| !p.exited) {
        if let Ok(Some(status)) = p.child.try_wait() {
            p.exited = true;
            gone.push(format!("{} exited ({status})", p.name));
        }
    }
    if gone.is_empty() { Ok(()) } else { bail!("{}", gone.join(", ")) }
}

fn stop_all(processes: &mut [NodeProcess]) {
    for p in processes.iter() {
        // SAFETY: sending a signal to a child we started; no memory is involved.
        unsafe {
            libc::kill(p.child.id() as i32, libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + STOP_GRACE;
    for p in processes.iter_mut() {
        loop {
            match p.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() > deadline => {
                    eprintln!("atrium up: {} did not stop in {STOP_GRACE:?}; killing it", p.name);
                    let _ = p.child.kill();
                    let _ = p.child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

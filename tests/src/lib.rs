//! A harness for clusters of real `atrium node run` processes on loopback: start, kill -9,
//! "reboot" (kill, clear the per-boot directory, start), stop, and drive them with the real
//! CLI. [`checker::Checker`] watches the agents' own state for a resource active twice.

pub mod agent_cli;
pub mod checker;
pub mod docker;
pub mod failover;
pub mod libvirt;
pub mod logs;
pub mod netns;
pub mod procfs;
pub mod remote;
pub mod stats;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `atrium` binary: `$ATRIUM_BIN`, else next to the test executable's directory (cargo
/// puts test binaries in `target/<profile>/deps/` and the binary in `target/<profile>/`).
pub fn atrium_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("ATRIUM_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let profile_dir = exe.parent().and_then(Path::parent).context("test executable has no profile directory")?;
    let bin = profile_dir.join("atrium");
    if !bin.exists() {
        bail!("{} not found: build it first (`cargo build -p atrium-node`) or set ATRIUM_BIN", bin.display());
    }
    Ok(bin)
}

/// The log filter of the processes a test starts: `ATRIUM_TEST_LOG`, else the node's own
/// default (`info,openraft=warn`), set explicitly so that a developer's `RUST_LOG` does not leak in.
pub(crate) fn log_filter() -> String {
    std::env::var("ATRIUM_TEST_LOG").unwrap_or_else(|_| "info,openraft=warn".into())
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub struct TestNode {
    pub name: String,
    pub id: u64,
    pub dir: PathBuf,
    pub config: PathBuf,
    child: Option<Child>,
}

impl TestNode {
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

/// Knobs for a test cluster.
#[derive(Clone)]
pub struct Options {
    pub nodes: usize,
    /// Extra lines appended to every node.toml (e.g. a `[timings]` table).
    pub extra_toml: String,
    /// Nodes log JSON lines (for the benchmark, which reads their timestamps).
    pub json_logs: bool,
    /// Keep each node's log and history in this PostgreSQL database (a schema per node)
    /// instead of SQLite.
    pub postgres_url: Option<String>,
    /// Each node in a network namespace of its own (separate addresses, partitions possible).
    pub netns: bool,
}

impl Options {
    pub fn nodes(n: usize) -> Options {
        Options { nodes: n, extra_toml: String::new(), json_logs: false, postgres_url: None, netns: false }
    }
}

/// The PostgreSQL server for tests (`db/scripts/start-test-postgres.sh` prints its URL), or
/// `None` when `ATRIUM_SKIP_POSTGRES=1` says to skip; anything else is a setup error.
pub fn test_postgres_url() -> Option<String> {
    match std::env::var("ATRIUM_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("ATRIUM_SKIP_POSTGRES").as_deref() == Ok("1") => None,
        _ => panic!("ATRIUM_TEST_POSTGRES_URL is not set: export ATRIUM_TEST_POSTGRES_URL=$(db/scripts/start-test-postgres.sh), or ATRIUM_SKIP_POSTGRES=1 to skip"),
    }
}

pub struct TestCluster {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<TestNode>,
    pub key_file: PathBuf,
    bin: PathBuf,
    json_logs: bool,
    /// Keep the nodes' data and logs when dropped (see `keep_files`).
    keep: bool,
    /// Dropped after the nodes are killed (field order), removing the namespaces.
    pub net: Option<netns::Network>,
}

impl TestCluster {
    /// Writes a key and node.toml files and starts every node.
    pub fn start(options: Options) -> Result<TestCluster> {
        let dir = tempfile::Builder::new().prefix("atrium-test-").tempdir()?;
        let bin = atrium_bin()?;
        let key_file = dir.path().join("authkey");
        run_ok(Command::new(&bin).args(["cluster", "init", "--key-file"]).arg(&key_file))?;
        let net = if options.netns { Some(netns::Network::create(options.nodes)?) } else { None };
        let members: Vec<(u64, String, String, String)> = (1..=options.nodes as u64)
            .map(|i| match &net {
                Some(net) => Ok((i, format!("node{i}"), format!("{}:7000", net.address(i as usize)), format!("{}:7001", net.address(i as usize)))),
                None => Ok((i, format!("node{i}"), format!("127.0.0.1:{}", free_port()?), format!("127.0.0.1:{}", free_port()?))),
            })
            .collect::<Result<_>>()?;
        let members_toml: String = members
            .iter()
            .map(|(id, name, addr, api)| member_toml(*id, name, addr, api) + "\n")
            .collect();
        let mut nodes = Vec::new();
        for (id, name, addr, api) in &members {
            let node_dir = dir.path().join(name);
            std::fs::create_dir_all(&node_dir)?;
            let config = node_dir.join("node.toml");
            // Schemas unique to this cluster: the temporary directory's random name.
            let database = match &options.postgres_url {
                Some(url) => {
                    let tag: String = dir.path().file_name().unwrap_or_default().to_string_lossy().to_ascii_lowercase().chars().filter(char::is_ascii_alphanumeric).collect();
                    format!("database_url = \"{url}\"\ndatabase_schema = \"t_{tag}_{name}\"\n")
                }
                None => String::new(),
            };
            let toml = format!("{}{database}{}\n{members_toml}", node_toml(*id, name, addr, api, &node_dir, &key_file), options.extra_toml);
            std::fs::write(&config, toml)?;
            nodes.push(TestNode { name: name.clone(), id: *id, dir: node_dir, config, child: None });
        }
        // The CLI finds the cluster through a client file in its data directory.
        let endpoints: Vec<&str> = members.iter().map(|m| m.3.as_str()).collect();
        let client = serde_json::json!({ "endpoints": endpoints, "key_file": key_file });
        std::fs::write(dir.path().join("client.json"), client.to_string())?;
        let mut cluster = TestCluster { dir, nodes, key_file, bin, json_logs: options.json_logs, keep: false, net };
        for i in 0..cluster.nodes.len() {
            cluster.spawn(i)?;
        }
        Ok(cluster)
    }

    /// Writes the configuration of one more node (every member plus itself) and starts it; it
    /// waits to be added (`atrium node add`). Returns its name and cluster address.
    pub fn spawn_extra_node(&mut self) -> Result<(String, u64, String)> {
        let id = self.nodes.len() as u64 + 1;
        let name = format!("node{id}");
        let (addr, api) = (format!("127.0.0.1:{}", free_port()?), format!("127.0.0.1:{}", free_port()?));
        let template = std::fs::read_to_string(&self.nodes[0].config)?;
        let members_at = template.find("[[members]]").context("no members in node1's config")?;
        let node_dir = self.dir.path().join(&name);
        std::fs::create_dir_all(&node_dir)?;
        let config = node_dir.join("node.toml");
        std::fs::write(
            &config,
            format!("{}\n{}{}", node_toml(id, &name, &addr, &api, &node_dir, &self.key_file), &template[members_at..], member_toml(id, &name, &addr, &api)),
        )?;
        self.nodes.push(TestNode { name: name.clone(), id, dir: node_dir, config, child: None });
        self.spawn(self.nodes.len() - 1)?;
        Ok((name, id, addr))
    }

    /// Starts the cluster and waits up to `timeout` for a DC with every node online.
    pub fn start_online(options: Options, timeout: Duration) -> Result<TestCluster> {
        let n = options.nodes;
        let cluster = TestCluster::start(options)?;
        cluster.wait_for(&format!("a DC with {n} nodes online"), timeout, |s| {
            dc(s).is_some() && s["nodes"].as_array().is_some_and(|nodes| nodes.iter().filter(|x| x["state"] == "online").count() == n)
        })?;
        Ok(cluster)
    }

    pub fn index(&self, name: &str) -> usize {
        self.nodes.iter().position(|n| n.name == name).unwrap_or_else(|| panic!("no node {name}"))
    }

    fn spawn(&mut self, i: usize) -> Result<()> {
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new().create(true).append(true).open(node.dir.join("stderr.log"))?;
        let format = if self.json_logs { "json" } else { "human" };
        let mut command = match &self.net {
            Some(net) => net.command(i + 1, &self.bin),
            None => Command::new(&self.bin),
        };
        let child = command
            .args(["--log-format", format, "node", "run", "--config"])
            .arg(&node.config)
            .env("RUST_LOG", log_filter())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", node.name))?;
        node.child = Some(child);
        Ok(())
    }

    /// kill -9: the node's process dies at once, leaving whatever it ran behind.
    pub fn kill(&mut self, name: &str) -> Result<()> {
        let i = self.index(name);
        let mut child = self.nodes[i].child.take().with_context(|| format!("{name} is not running"))?;
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// SIGTERM: the node moves its resources away and leaves; waits for it to exit.
    pub fn stop(&mut self, name: &str, timeout: Duration) -> Result<()> {
        let i = self.index(name);
        let mut child = self.nodes[i].child.take().with_context(|| format!("{name} is not running"))?;
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                if !status.success() {
                    bail!("{name} exited with {status}");
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("{name} did not stop within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGSTOP / SIGCONT: the node hangs (or resumes) with everything it holds.
    pub fn pause(&self, name: &str, paused: bool) -> Result<()> {
        let pid = self.nodes[self.index(name)].pid().with_context(|| format!("{name} is not running"))?;
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(pid as i32, if paused { libc::SIGSTOP } else { libc::SIGCONT });
        }
        Ok(())
    }

    /// Cuts a node off the network (or connects it again); needs `Options::netns`.
    pub fn set_connected(&self, name: &str, connected: bool) -> Result<()> {
        let net = self.net.as_ref().context("partitions need a cluster in network namespaces (Options::netns)")?;
        net.set_connected(self.index(name) + 1, connected)
    }

    /// Whether the node's process ended (killed by a fence device, or exited); reaps it.
    pub fn has_exited(&mut self, name: &str) -> bool {
        let i = self.index(name);
        match self.nodes[i].child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(_))) | Some(Err(_)) => {
                self.nodes[i].child = None;
                true
            }
            Some(Ok(None)) => false,
            None => true,
        }
    }

    /// Starts a node that is down, keeping its per-boot directory (a daemon restart).
    pub fn restart(&mut self, name: &str) -> Result<()> {
        let i = self.index(name);
        self.spawn(i)
    }

    /// Starts a node that is down as after a machine reboot: its per-boot directory (agent
    /// state, HA_RSCTMP) is gone, as /run would be.
    pub fn reboot(&mut self, name: &str) -> Result<()> {
        let i = self.index(name);
        let run = self.nodes[i].dir.join("run");
        if run.exists() {
            std::fs::remove_dir_all(&run)?;
        }
        self.spawn(i)
    }

    /// Runs the real CLI against this cluster.
    pub fn atrium(&self, args: &[&str]) -> Result<Output> {
        Ok(Command::new(&self.bin).arg("--data-dir").arg(self.dir.path()).args(args).output()?)
    }

    pub fn atrium_ok(&self, args: &[&str]) -> Result<String> {
        let out = self.atrium(args)?;
        if !out.status.success() {
            bail!("atrium {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Keeps the nodes' data and logs when the cluster is dropped (a failed benchmark cell's
    /// post-mortem); returns where they are.
    pub fn keep_files(&mut self) -> PathBuf {
        self.keep = true;
        self.dir.path().to_path_buf()
    }

    pub fn status(&self) -> Result<Value> {
        Ok(serde_json::from_str(&self.atrium_ok(&["status", "--output", "json"])?)?)
    }

    pub fn load(&self, config: &str) -> Result<()> {
        let path = self.dir.path().join("config.crm");
        std::fs::write(&path, config)?;
        self.atrium_ok(&["configure", "load", path.to_str().context("path")?])?;
        Ok(())
    }

    /// Polls `atrium status` until `done` holds; the last status is returned either way in
    /// the error.
    pub fn wait_for(&self, what: &str, timeout: Duration, done: impl Fn(&Value) -> bool) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        let mut last = Value::Null;
        while Instant::now() < deadline {
            if let Ok(s) = self.status() {
                if done(&s) {
                    return Ok(s);
                }
                last = s;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("timed out after {timeout:?} waiting for {what}; last status: {}", serde_json::to_string_pretty(&last)?)
    }

    /// Every node's log, for a failing test's message.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("===== {} =====\n{}", n.name, std::fs::read_to_string(n.dir.join("stderr.log")).unwrap_or_default()))
            .collect()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        // ATRIUM_KEEP_TEST_DIRS=1 keeps the nodes' data and logs for a post-mortem.
        if self.keep || std::env::var_os("ATRIUM_KEEP_TEST_DIRS").is_some() {
            let path = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("a temporary directory")).keep();
            eprintln!("kept the test cluster's files in {}", path.display());
        }
    }
}

/// The part of a node.toml naming the node itself.
fn node_toml(id: u64, name: &str, addr: &str, api: &str, dir: &Path, key_file: &Path) -> String {
    format!("name = \"{name}\"\nid = {id}\nlisten = \"{addr}\"\napi = \"{api}\"\ndata_dir = \"{}\"\nkey_file = \"{}\"\n", dir.display(), key_file.display())
}

/// One `[[members]]` entry.
fn member_toml(id: u64, name: &str, addr: &str, api: &str) -> String {
    format!("[[members]]\nid = {id}\nname = \"{name}\"\naddr = \"{addr}\"\napi = \"{api}\"\n")
}

fn run_ok(cmd: &mut Command) -> Result<Output> {
    let out = cmd.output()?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(out)
}

/// Where every primitive (and clone instance) is, with its role, from `status --output json`.
pub fn placement(status: &Value) -> BTreeMap<String, (Option<String>, String)> {
    fn walk(r: &Value, out: &mut BTreeMap<String, (Option<String>, String)>) {
        match r["kind"].as_str() {
            Some("primitive") => {
                out.insert(r["id"].as_str().unwrap_or("").to_string(), (r["node"].as_str().map(str::to_string), r["role"].as_str().unwrap_or("").to_string()));
            }
            Some("group") => r["members"].as_array().into_iter().flatten().for_each(|m| walk(m, out)),
            Some("clone") => r["instances"].as_array().into_iter().flatten().for_each(|m| walk(m, out)),
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    for r in status["resources"].as_array().into_iter().flatten() {
        walk(r, &mut out);
    }
    out
}

/// The node a resource runs on, if it is Started (or Promoted).
pub fn node_of(status: &Value, rsc: &str) -> Option<String> {
    placement(status).get(rsc).and_then(|(node, role)| if matches!(role.as_str(), "Started" | "Promoted" | "Unpromoted") { node.clone() } else { None })
}

/// The cluster is idle (nothing running, nothing left to schedule) and every listed resource
/// runs.
pub fn settled_with(status: &Value, resources: &[&str]) -> bool {
    status["cluster"]["idle"] == true && resources.iter().all(|r| node_of(status, r).is_some())
}

/// Every node of the cluster is online.
pub fn all_online(status: &Value) -> bool {
    status["nodes"].as_array().is_some_and(|n| n.iter().all(|n| n["state"] == "online"))
}

pub fn dc(status: &Value) -> Option<String> {
    status["cluster"]["dc"].as_str().map(str::to_string)
}

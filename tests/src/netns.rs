//! Separate hosts on one machine: each node in a network namespace of its own with an address
//! on a private bridge (which lives in a namespace too, out of reach of the host's firewall),
//! and the host (where the tests and the CLI run) attached to the same bridge. Partitions are
//! made by taking a node's bridge port down.

use anyhow::{Context, Result, bail};
use std::net::Ipv4Addr;
use std::process::Command;

/// The host's address on every test network.
const HOST_OCTET: u8 = 254;

pub struct Network {
    /// The third octet of 10.77.X.0/24, unique among the networks alive on this machine.
    subnet: u8,
    nodes: usize,
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip").args(args).output().context("running ip(8)")?;
    if !out.status.success() {
        bail!("ip {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Whether this machine lets us make namespaces (root with ip(8)).
pub fn available() -> bool {
    Command::new("ip").args(["netns", "list"]).output().is_ok_and(|o| o.status.success()) && unsafe { libc::geteuid() } == 0
}

impl Network {
    /// Creates the bridge namespace, `nodes` node namespaces and the host's link.
    pub fn create(nodes: usize) -> Result<Network> {
        // Claim a subnet by creating its bridge namespace: creation fails if another test has it.
        let start = (std::process::id() % 200) as u8;
        let subnet = (0..200u8)
            .map(|i| (start.wrapping_add(i)) % 200 + 20)
            .find(|s| Command::new("ip").args(["netns", "add", &format!("atb{s}")]).output().is_ok_and(|o| o.status.success()))
            .context("no free test network (10.77.20-219.0/24)")?;
        let net = Network { subnet, nodes };
        net.build().with_context(|| format!("building test network 10.77.{subnet}.0/24"))?;
        Ok(net)
    }

    fn build(&self) -> Result<()> {
        let s = self.subnet;
        let hub = format!("atb{s}");
        ip(&["-n", &hub, "link", "set", "lo", "up"])?;
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &hub, "link", "set", "br0", "up"])?;
        // The host's leg.
        let (host, host_port) = (format!("ath{s}"), format!("athp{s}"));
        ip(&["link", "add", &host, "type", "veth", "peer", "name", &host_port])?;
        ip(&["link", "set", &host_port, "netns", &hub])?;
        ip(&["-n", &hub, "link", "set", &host_port, "master", "br0", "up"])?;
        ip(&["addr", "add", &format!("10.77.{s}.{HOST_OCTET}/24"), "dev", &host])?;
        ip(&["link", "set", &host, "up"])?;
        for i in 1..=self.nodes {
            let ns = self.namespace(i);
            let (leg, port) = (format!("atv{s}n{i}"), format!("atp{s}n{i}"));
            ip(&["netns", "add", &ns])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            ip(&["link", "add", &leg, "type", "veth", "peer", "name", &port])?;
            ip(&["link", "set", &leg, "netns", &ns])?;
            ip(&["link", "set", &port, "netns", &hub])?;
            ip(&["-n", &hub, "link", "set", &port, "master", "br0", "up"])?;
            ip(&["-n", &ns, "addr", "add", &format!("{}/24", self.address(i)), "dev", &leg])?;
            ip(&["-n", &ns, "link", "set", &leg, "up"])?;
        }
        Ok(())
    }

    /// Node `i`'s (1-based) namespace.
    pub fn namespace(&self, i: usize) -> String {
        format!("atn{}n{i}", self.subnet)
    }

    pub fn address(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.subnet, i as u8)
    }

    /// A command run inside node `i`'s namespace.
    pub fn command(&self, i: usize, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.namespace(i)]).arg(program);
        c
    }

    /// Cuts node `i` off from every other node and from the host, or connects it again.
    pub fn set_connected(&self, i: usize, connected: bool) -> Result<()> {
        ip(&["-n", &format!("atb{}", self.subnet), "link", "set", &format!("atp{}n{i}", self.subnet), if connected { "up" } else { "down" }])
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for i in 1..=self.nodes {
            let _ = ip(&["netns", "del", &self.namespace(i)]);
        }
        let _ = ip(&["link", "del", &format!("ath{}", self.subnet)]);
        let _ = ip(&["netns", "del", &format!("atb{}", self.subnet)]);
    }
}

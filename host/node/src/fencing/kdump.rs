//! `fence_kdump`, built in: a crashed node whose crash kernel runs `fence_kdump_send` counts
//! as fenced, so its dump completes while its services move on.
//!
//! The crash kernel sends 8-byte datagrams (magic 0x1B302A40, then version 1, each a u32 in
//! the sender's byte order) to UDP port 7410 of every cluster node. Like the real agent, a
//! message counts only when it comes from one of the target's own addresses. One listener per
//! port is shared by all fencing operations, so two nodes crashing at once both get through.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use atrium_contract::{ActionSpec, AgentError, FenceAgent, FenceRequest, MetaData, Parameter, PowerState};
use tracing::{debug, info, warn};

pub const DEFAULT_PORT: u16 = 7410;
const MAGIC: u32 = 0x1B30_2A40;
const VERSION: u32 = 1;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Datagrams older than this are forgotten.
const KEEP: Duration = Duration::from_secs(600);

/// Is this datagram a fence_kdump message? Either byte order is accepted: the sender writes
/// its own, which need not be ours.
pub fn is_kdump_message(bytes: &[u8]) -> bool {
    if bytes.len() < 8 {
        return false;
    }
    let word = |b: &[u8], le: bool| {
        let a = [b[0], b[1], b[2], b[3]];
        if le { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) }
    };
    [true, false].into_iter().any(|le| word(&bytes[0..4], le) == MAGIC && word(&bytes[4..8], le) == VERSION)
}

/// Received kdump messages on one port: (when, from).
struct PortListener {
    seen: Mutex<VecDeque<(Instant, IpAddr)>>,
    arrived: Condvar,
}

/// The listeners of this process, one per port, started on first use.
#[derive(Default)]
pub struct KdumpListeners {
    ports: Mutex<HashMap<(u16, bool), Arc<PortListener>>>,
}

impl KdumpListeners {
    fn listener(&self, port: u16, ipv6: bool) -> std::io::Result<Arc<PortListener>> {
        let mut ports = self.ports.lock().unwrap();
        if let Some(l) = ports.get(&(port, ipv6)) {
            return Ok(Arc::clone(l));
        }
        let bind: SocketAddr = if ipv6 { (std::net::Ipv6Addr::UNSPECIFIED, port).into() } else { (std::net::Ipv4Addr::UNSPECIFIED, port).into() };
        let socket = UdpSocket::bind(bind)?;
        info!(%bind, "fence_kdump listener started");
        let listener = Arc::new(PortListener { seen: Mutex::new(VecDeque::new()), arrived: Condvar::new() });
        let shared = Arc::clone(&listener);
        std::thread::Builder::new().name(format!("kdump-{port}")).spawn(move || {
            let mut buf = [0u8; 64];
            loop {
                match socket.recv_from(&mut buf) {
                    Ok((n, from)) if is_kdump_message(&buf[..n]) => {
                        debug!(%from, "fence_kdump message");
                        let mut seen = shared.seen.lock().unwrap();
                        seen.retain(|(at, _)| at.elapsed() < KEEP);
                        seen.push_back((Instant::now(), from.ip()));
                        shared.arrived.notify_all();
                    }
                    Ok((n, from)) => warn!(%from, bytes = n, "ignored a datagram that is not a fence_kdump message"),
                    Err(e) => {
                        warn!(error = %e, "fence_kdump listener failed");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        })?;
        ports.insert((port, ipv6), Arc::clone(&listener));
        Ok(listener)
    }
}

/// The `fence_kdump` device. `addresses` resolves a node name to the addresses its crash
/// kernel may send from (the cluster's member addresses; names are also looked up).
pub struct KdumpAgent {
    listeners: Arc<KdumpListeners>,
    members: BTreeMap<String, IpAddr>,
}

impl KdumpAgent {
    pub fn new(listeners: Arc<KdumpListeners>, members: BTreeMap<String, IpAddr>) -> Self {
        KdumpAgent { listeners, members }
    }

    fn addresses(&self, node: &str) -> Vec<IpAddr> {
        if let Ok(ip) = node.parse::<IpAddr>() {
            return vec![ip];
        }
        let mut out: Vec<IpAddr> = self.members.get(node).copied().into_iter().collect();
        if let Ok(found) = (node, 0).to_socket_addrs() {
            out.extend(found.map(|a| a.ip()));
        }
        out.sort();
        out.dedup();
        out
    }

    fn error(&self, detail: String) -> AgentError {
        AgentError::Run { agent: "fence_kdump".into(), detail }
    }

    fn settings(&self, req: &FenceRequest) -> Result<(u16, bool, Duration), AgentError> {
        let port = match req.params.get("ipport") {
            Some(p) => p.parse().map_err(|_| self.error(format!("ipport=\"{p}\" is not a port number")))?,
            None => DEFAULT_PORT,
        };
        let ipv6 = match req.params.get("family").map(String::as_str) {
            None | Some("auto") | Some("ipv4") => false,
            Some("ipv6") => true,
            Some(other) => return Err(self.error(format!("family=\"{other}\": expected auto, ipv4 or ipv6"))),
        };
        // The agent's own `timeout` parameter, bounded by the operation's.
        let own = match req.params.get("timeout") {
            Some(t) => Duration::from_secs(t.parse().map_err(|_| self.error(format!("timeout=\"{t}\" is not a number of seconds")))?),
            None => DEFAULT_TIMEOUT,
        };
        Ok((port, ipv6, own.min(req.timeout)))
    }

    /// Waits for a message from `node` that arrived after the wait began.
    fn wait_for(&self, req: &FenceRequest, node: &str) -> Result<(), AgentError> {
        let (port, ipv6, timeout) = self.settings(req)?;
        let from = self.addresses(node);
        if from.is_empty() {
            return Err(self.error(format!("cannot resolve the address of {node}")));
        }
        let listener = self.listeners.listener(port, ipv6).map_err(|e| self.error(format!("cannot listen on UDP port {port}: {e}")))?;
        let began = Instant::now();
        info!(%node, ?from, port, timeout_ms = timeout.as_millis() as u64, "waiting for fence_kdump message");
        let mut seen = listener.seen.lock().unwrap();
        loop {
            if seen.iter().any(|(at, ip)| *at >= began && from.contains(ip)) {
                info!(%node, waited_ms = began.elapsed().as_millis() as u64, "fence_kdump message received: the node is dumping its kernel");
                return Ok(());
            }
            let left = timeout.saturating_sub(began.elapsed());
            if left.is_zero() {
                return Err(self.error(format!("no message from {node} within {} s", timeout.as_secs_f32())));
            }
            seen = listener.arrived.wait_timeout(seen, left).unwrap().0;
        }
    }
}

impl FenceAgent for KdumpAgent {
    fn name(&self) -> String {
        "stonith:fence_kdump".into()
    }

    fn meta_data(&self) -> Result<MetaData, AgentError> {
        let param = |name: &str, desc: &str| Parameter::string(name, desc);
        Ok(MetaData {
            name: "fence_kdump".into(),
            version: "1.0".into(),
            shortdesc: "Counts a node as fenced when its crash kernel reports in (built in)".into(),
            longdesc: "Waits for the fence_kdump_send message of the target's crash kernel, from the target's own address. Configure pcmk_reboot_action=off and pcmk_monitor_action=metadata, and put a power fence device in the next topology level.".into(),
            parameters: vec![
                param("nodename", "Name or address of the node to wait for (the plug)"),
                param("ipport", "UDP port to listen on (7410)"),
                param("family", "Address family: auto, ipv4 or ipv6"),
                param("timeout", "Seconds to wait for a message (60)"),
            ],
            actions: ["off", "monitor", "metadata", "validate-all"].iter().map(|a| ActionSpec::new(a, DEFAULT_TIMEOUT)).collect(),
        })
    }

    fn list(&self, _req: &FenceRequest) -> Result<Vec<String>, AgentError> {
        Err(self.error("list is not supported: name the targets with pcmk_host_list".into()))
    }

    fn status(&self, _req: &FenceRequest, _plug: &str) -> Result<PowerState, AgentError> {
        Ok(PowerState::Unknown)
    }

    fn on(&self, _req: &FenceRequest, plug: &str) -> Result<(), AgentError> {
        Err(self.error(format!("cannot power {plug} on: fence_kdump only confirms a crash")))
    }

    fn off(&self, req: &FenceRequest, plug: &str) -> Result<(), AgentError> {
        self.wait_for(req, req.params.get("nodename").map_or(plug, String::as_str))
    }

    fn reboot(&self, req: &FenceRequest, plug: &str) -> Result<(), AgentError> {
        self.off(req, plug)
    }

    fn monitor(&self, req: &FenceRequest) -> Result<(), AgentError> {
        let (port, ipv6, _) = self.settings(req)?;
        self.listeners.listener(port, ipv6).map(|_| ()).map_err(|e| self.error(format!("cannot listen on UDP port {port}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(port: u16, timeout_ms: u64) -> FenceRequest {
        FenceRequest { device: "kdump".into(), params: [("ipport".to_string(), port.to_string())].into(), timeout: Duration::from_millis(timeout_ms) }
    }

    fn free_udp_port() -> u16 {
        UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    #[test]
    fn messages_are_recognised_in_either_byte_order() {
        let mut m = MAGIC.to_le_bytes().to_vec();
        m.extend(VERSION.to_le_bytes());
        assert!(is_kdump_message(&m));
        let mut be = MAGIC.to_be_bytes().to_vec();
        be.extend(VERSION.to_be_bytes());
        assert!(is_kdump_message(&be));
        assert!(!is_kdump_message(&m[..7]));
        let mut v2 = MAGIC.to_le_bytes().to_vec();
        v2.extend(2u32.to_le_bytes());
        assert!(!is_kdump_message(&v2));
    }

    #[test]
    fn a_message_from_the_target_confirms_and_silence_or_a_stranger_does_not() {
        let port = free_udp_port();
        let members: BTreeMap<String, IpAddr> = [("n2".to_string(), "127.0.0.1".parse().unwrap()), ("n3".to_string(), "127.0.0.3".parse().unwrap())].into();
        let agent = Arc::new(KdumpAgent::new(Arc::new(KdumpListeners::default()), members));
        agent.monitor(&request(port, 1_000)).unwrap();
        let send = move || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut m = MAGIC.to_le_bytes().to_vec();
            m.extend(VERSION.to_le_bytes());
            s.send_to(&m, ("127.0.0.1", port)).unwrap();
        };
        // Nothing arrives: the level fails at the timeout.
        let err = agent.off(&request(port, 300), "n2").unwrap_err();
        assert!(err.to_string().contains("no message from n2"), "{err}");
        // A message from 127.0.0.1 is n2's, not n3's.
        let a = Arc::clone(&agent);
        let waiter = std::thread::spawn(move || a.off(&request(port, 3_000), "n2"));
        std::thread::sleep(Duration::from_millis(100));
        send();
        waiter.join().unwrap().unwrap();
        let a = Arc::clone(&agent);
        let stranger = std::thread::spawn(move || a.off(&request(port, 500), "n3"));
        std::thread::sleep(Duration::from_millis(100));
        send();
        assert!(stranger.join().unwrap().is_err(), "a message from another address does not fence n3");
    }
}

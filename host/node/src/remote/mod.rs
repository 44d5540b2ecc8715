//! Remote nodes: machines that run resources for the cluster without being members of it.
//!
//! ```text
//! protocol  the requests a full node sends to a remote node and their answers
//! server    `atrium remote run`: the daemon on the remote machine, runs agents on request
//! links     the full node's side: the `ocf:pacemaker:remote` connection resource (start =
//!           connect, monitor = round trip, stop = disconnect) and actions carried over it
//! routing   which full node carries each action of a remote node (a transition step's `via`)
//! ```
//!
//! A remote node holds no vote, never becomes DC and keeps no CIB: it only runs what the full
//! node holding its connection asks, over atrium-transport with the cluster key.

pub mod links;
pub mod protocol;
pub mod routing;
pub mod server;

/// The agent address of connection resources (`primitive X ocf:pacemaker:remote`).
pub const CONNECTION_AGENT: &str = "ocf:pacemaker:remote";

/// The port `atrium remote run` listens on and connections use when `server` names none
/// (pacemaker_remote's, so firewall rules written for Pacemaker fit).
pub const DEFAULT_PORT: u16 = 3121;

//! The crate's error types: one for the key file, one for everything on the wire.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why a cluster key could not be created, read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "cluster key file {path} does not exist (create it with `atrium cluster init` and copy it to every node)"
    )]
    Missing { path: PathBuf },
    #[error("cluster key file {path} holds {len} bytes; a key needs {min} to {max} bytes")]
    BadLength {
        path: PathBuf,
        len: usize,
        min: usize,
        max: usize,
    },
    #[error("cluster key file {path} already exists; refusing to overwrite it")]
    AlreadyExists { path: PathBuf },
    #[error("cluster key file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the operating system random source failed: {0}")]
    Random(String),
}

/// Why a connection could not be set up, or why an established one was dropped.
///
/// Every variant that concerns one connection names the peer address, so a caller can log or
/// count failures per peer; none of them affects other connections or the listener.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{peer}: peer does not hold the cluster key (handshake proof failed)")]
    AuthenticationFailed { peer: SocketAddr },
    #[error("{peer}: malformed handshake: {reason}")]
    MalformedHandshake {
        peer: SocketAddr,
        reason: &'static str,
    },
    #[error("{peer}: protocol version mismatch (ours {ours}, theirs {theirs})")]
    VersionMismatch {
        peer: SocketAddr,
        ours: u16,
        theirs: u16,
    },
    #[error("{peer}: handshake did not complete in time")]
    HandshakeTimeout { peer: SocketAddr },
    #[error(
        "{peer}: frame failed authentication (tampered, replayed or reordered); connection dropped"
    )]
    FrameAuthentication { peer: SocketAddr },
    #[error("{peer}: frame length {len} exceeds the maximum {max}; connection dropped")]
    FrameTooLarge {
        peer: SocketAddr,
        len: usize,
        max: usize,
    },
    #[error("{peer}: frame length {len} is shorter than an authentication tag; connection dropped")]
    FrameTooShort { peer: SocketAddr, len: usize },
    #[error("{peer}: connection closed in the middle of a frame; connection dropped")]
    Truncated { peer: SocketAddr },
    #[error("{peer}: connection closed")]
    Closed { peer: SocketAddr },
    #[error("{peer}: an earlier send was cancelled mid-frame; this connection can no longer send")]
    SendAborted { peer: SocketAddr },
    #[error("{peer}: frame counter exhausted; reconnect to get fresh session keys")]
    CounterExhausted { peer: SocketAddr },
    #[error("payload of {len} bytes exceeds the maximum frame size {max}")]
    PayloadTooLarge { len: usize, max: usize },
    #[error("local node name must be 1 to 255 bytes of UTF-8, got {len} bytes")]
    InvalidIdentity { len: usize },
    #[error("{peer}: {source}")]
    Io {
        peer: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("connecting to {addr} timed out")]
    ConnectTimeout { addr: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("listener has shut down")]
    ListenerClosed,
    #[error("cannot encode message: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("{peer}: cannot decode message: {source}")]
    Decode {
        peer: SocketAddr,
        #[source]
        source: serde_json::Error,
    },
    #[error("the operating system random source failed: {0}")]
    Random(String),
}

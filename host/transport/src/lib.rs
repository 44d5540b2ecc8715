//! Atrium's node-to-node and node-to-remote transport: TCP, mutually authenticated with the
//! cluster key, every frame encrypted and authenticated.
//!
//! ```text
//! key        ClusterKey: the shared secret file (generate, write_to, load, fingerprint)
//! handshake  nonces + HKDF-SHA256 session keys + HMAC proofs, node identities, version
//! frame      length-prefixed ChaCha20-Poly1305 frames with counter nonces
//! connection Listener / connect / Connection (split into SendHalf + RecvHalf)
//! rpc        Requester / serve / serve_concurrent: request/response with correlation ids
//! error      KeyError, TransportError
//! ```

mod connection;
mod error;
mod frame;
mod handshake;
mod key;
mod rpc;

pub use connection::{
    Connection, Listener, PeerInfo, RecvHalf, SendHalf, TransportConfig, connect,
    connect_with_config,
};
pub use error::{KeyError, TransportError};
pub use frame::DEFAULT_MAX_FRAME_LEN;
pub use handshake::{Identity, PROTOCOL_VERSION};
pub use key::{ClusterKey, Overwrite};
pub use rpc::{Requester, serve, serve_concurrent};

//! Mutual authentication and session-key agreement.
//!
//! Wire exchange (all integers big-endian):
//!
//! ```text
//! hello    = "ATRM" | version u16 | role u8 (0 client, 1 server) | nonce [32]
//!            | has_node_id u8 | node_id u64 | name_len u8 | name (UTF-8, 1..=255 bytes)
//! client -> server : hello_c
//! server -> client : hello_s | finished_s [32]
//! client -> server : finished_c [32]
//! ```
//!
//! Both sides derive everything with HKDF-SHA256 from the cluster key, salted with both nonces,
//! the info bound to a label and to `transcript = SHA-256(hello_c | hello_s)`:
//! one frame key per direction and one "finished" MAC key per role.
//! `finished_x = HMAC-SHA256(finished_key_x, transcript)`. Fresh nonces make every session's
//! keys new, so nothing recorded from an earlier connection verifies in a later one; separate
//! per-role keys stop a peer reflecting our own proof back at us.
//!
//! The client sends its proof before checking the server's, so with a wrong key *both* sides
//! see the mismatch and report [`TransportError::AuthenticationFailed`]. Revealing a proof to a
//! peer without the key gives it nothing: the key is at least 256 random bits.

use std::net::SocketAddr;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::Zeroizing;

use crate::error::TransportError;
use crate::key::ClusterKey;

/// Version of the handshake and frame format. Peers must agree exactly; a later version that
/// wants to negotiate keeps the magic and this field in place so old peers refuse it cleanly.
pub const PROTOCOL_VERSION: u16 = 1;

const MAGIC: [u8; 4] = *b"ATRM";
const NONCE_LEN: usize = 32;
const MAC_LEN: usize = 32;
/// magic, version: read first so that anything else is refused before more is read.
const PREAMBLE_LEN: usize = 6;
/// role, nonce, has_node_id, node_id, name_len.
const REST_FIXED_LEN: usize = 1 + NONCE_LEN + 1 + 8 + 1;

/// Who a node says it is. Carried in the handshake (and covered by both proofs, so it cannot
/// be altered in transit); it is a claim by a key holder, not a separate credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    name: String,
    node_id: Option<u64>,
}

impl Identity {
    /// `name` is the node name (1 to 255 bytes). Remote nodes have no Raft id.
    pub fn new(name: impl Into<String>, node_id: Option<u64>) -> Result<Self, TransportError> {
        let name = name.into();
        if name.is_empty() || name.len() > usize::from(u8::MAX) {
            return Err(TransportError::InvalidIdentity { len: name.len() });
        }
        Ok(Self { name, node_id })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn node_id(&self) -> Option<u64> {
        self.node_id
    }
}

/// 256-bit symmetric key, wiped on drop.
pub(crate) type SessionKey = Zeroizing<[u8; 32]>;

/// The outcome of a successful handshake.
pub(crate) struct Session {
    pub(crate) peer: Identity,
    pub(crate) send_key: SessionKey,
    pub(crate) recv_key: SessionKey,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Client = 0,
    Server = 1,
}

struct DerivedKeys {
    c2s: SessionKey,
    s2c: SessionKey,
    client_finished: SessionKey,
    server_finished: SessionKey,
}

/// Runs the connecting side. The caller bounds it with a timeout.
pub(crate) async fn client<S>(
    io: &mut S,
    peer: SocketAddr,
    key: &ClusterKey,
    me: &Identity,
) -> Result<Session, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let nonce_c = fresh_nonce()?;
    let hello_c = encode_hello(Role::Client, &nonce_c, me);
    write(io, peer, &hello_c).await?;

    let (hello_s, nonce_s, server) = read_hello(io, peer, Role::Server).await?;
    let mut finished_s = [0u8; MAC_LEN];
    read(io, peer, &mut finished_s).await?;

    let transcript = transcript(&hello_c, &hello_s);
    let keys = derive(key, &nonce_c, &nonce_s, &transcript);
    write(io, peer, &finished(&keys.client_finished, &transcript)).await?;
    verify(&keys.server_finished, &transcript, &finished_s, peer)?;
    Ok(Session {
        peer: server,
        send_key: keys.c2s,
        recv_key: keys.s2c,
    })
}

/// Runs the accepting side. Nothing is sent until the client's hello parses, so a port scan
/// or a stray protocol learns nothing but the closed connection.
pub(crate) async fn server<S>(
    io: &mut S,
    peer: SocketAddr,
    key: &ClusterKey,
    me: &Identity,
) -> Result<Session, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (hello_c, nonce_c, client) = read_hello(io, peer, Role::Client).await?;
    let nonce_s = fresh_nonce()?;
    let hello_s = encode_hello(Role::Server, &nonce_s, me);

    let transcript = transcript(&hello_c, &hello_s);
    let keys = derive(key, &nonce_c, &nonce_s, &transcript);
    let mut reply = hello_s;
    reply.extend_from_slice(&finished(&keys.server_finished, &transcript));
    write(io, peer, &reply).await?;

    let mut finished_c = [0u8; MAC_LEN];
    read(io, peer, &mut finished_c).await?;
    verify(&keys.client_finished, &transcript, &finished_c, peer)?;
    Ok(Session {
        peer: client,
        send_key: keys.s2c,
        recv_key: keys.c2s,
    })
}

fn fresh_nonce() -> Result<[u8; NONCE_LEN], TransportError> {
    use rand::TryRng;
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::SysRng
        .try_fill_bytes(&mut nonce)
        .map_err(|e| TransportError::Random(e.to_string()))?;
    Ok(nonce)
}

fn encode_hello(role: Role, nonce: &[u8; NONCE_LEN], me: &Identity) -> Vec<u8> {
    let mut out = Vec::with_capacity(PREAMBLE_LEN + REST_FIXED_LEN + me.name.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    out.push(role as u8);
    out.extend_from_slice(nonce);
    out.push(u8::from(me.node_id.is_some()));
    out.extend_from_slice(&me.node_id.unwrap_or(0).to_be_bytes());
    // Identity::new bounds the name to 255 bytes.
    out.push(me.name.len() as u8);
    out.extend_from_slice(me.name.as_bytes());
    out
}

/// Reads and checks one hello; returns its raw bytes (for the transcript), nonce and identity.
async fn read_hello<S>(
    io: &mut S,
    peer: SocketAddr,
    expected: Role,
) -> Result<(Vec<u8>, [u8; NONCE_LEN], Identity), TransportError>
where
    S: AsyncRead + Unpin,
{
    let malformed = |reason| TransportError::MalformedHandshake { peer, reason };
    let mut raw = vec![0u8; PREAMBLE_LEN + REST_FIXED_LEN];
    read(io, peer, &mut raw[..PREAMBLE_LEN]).await?;
    if raw[..4] != MAGIC {
        return Err(malformed("not an Atrium transport peer (bad magic)"));
    }
    let theirs = u16::from_be_bytes([raw[4], raw[5]]);
    if theirs != PROTOCOL_VERSION {
        return Err(TransportError::VersionMismatch {
            peer,
            ours: PROTOCOL_VERSION,
            theirs,
        });
    }
    read(io, peer, &mut raw[PREAMBLE_LEN..]).await?;
    let rest = &raw[PREAMBLE_LEN..];
    if rest[0] != expected as u8 {
        return Err(malformed("peer claims the wrong role"));
    }
    let nonce: [u8; NONCE_LEN] = rest[1..1 + NONCE_LEN].try_into().expect("fixed slice");
    let id_at = 1 + NONCE_LEN;
    let node_id = match rest[id_at] {
        0 => None,
        1 => Some(u64::from_be_bytes(
            rest[id_at + 1..id_at + 9].try_into().expect("fixed slice"),
        )),
        _ => return Err(malformed("bad node id flag")),
    };
    let name_len = usize::from(rest[id_at + 9]);
    if name_len == 0 {
        return Err(malformed("empty node name"));
    }
    let name_at = raw.len();
    raw.resize(name_at + name_len, 0);
    read(io, peer, &mut raw[name_at..]).await?;
    let name = std::str::from_utf8(&raw[name_at..])
        .map_err(|_| malformed("node name is not UTF-8"))?
        .to_owned();
    Ok((raw, nonce, Identity { name, node_id }))
}

fn transcript(hello_c: &[u8], hello_s: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update(hello_c)
        .chain_update(hello_s)
        .finalize()
        .into()
}

fn derive(
    key: &ClusterKey,
    nonce_c: &[u8; NONCE_LEN],
    nonce_s: &[u8; NONCE_LEN],
    transcript: &[u8; 32],
) -> DerivedKeys {
    let mut salt = [0u8; 2 * NONCE_LEN];
    salt[..NONCE_LEN].copy_from_slice(nonce_c);
    salt[NONCE_LEN..].copy_from_slice(nonce_s);
    let hk = Hkdf::<Sha256>::new(Some(&salt), key.as_bytes());
    let expand = |label: &[u8]| {
        let mut out = Zeroizing::new([0u8; 32]);
        hk.expand_multi_info(&[label, transcript], out.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        out
    };
    DerivedKeys {
        c2s: expand(b"atrium/1 frame key client->server"),
        s2c: expand(b"atrium/1 frame key server->client"),
        client_finished: expand(b"atrium/1 client finished"),
        server_finished: expand(b"atrium/1 server finished"),
    }
}

fn mac(key: &SessionKey, transcript: &[u8; 32]) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref()).expect("HMAC takes any key length");
    mac.update(transcript);
    mac
}

fn finished(key: &SessionKey, transcript: &[u8; 32]) -> [u8; MAC_LEN] {
    mac(key, transcript).finalize().into_bytes().into()
}

/// `verify_slice` compares in constant time (via `subtle`), so timing reveals nothing about
/// how much of a forged proof was right.
fn verify(
    key: &SessionKey,
    transcript: &[u8; 32],
    received: &[u8; MAC_LEN],
    peer: SocketAddr,
) -> Result<(), TransportError> {
    mac(key, transcript)
        .verify_slice(received)
        .map_err(|_| TransportError::AuthenticationFailed { peer })
}

async fn read<S: AsyncRead + Unpin>(
    io: &mut S,
    peer: SocketAddr,
    buf: &mut [u8],
) -> Result<(), TransportError> {
    match io.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(TransportError::MalformedHandshake {
                peer,
                reason: "connection closed during the handshake",
            })
        }
        Err(source) => Err(TransportError::Io { peer, source }),
    }
}

async fn write<S: AsyncWrite + Unpin>(
    io: &mut S,
    peer: SocketAddr,
    bytes: &[u8],
) -> Result<(), TransportError> {
    io.write_all(bytes)
        .await
        .map_err(|source| TransportError::Io { peer, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:1".parse().unwrap()
    }

    fn key(byte: u8) -> ClusterKey {
        ClusterKey::from_bytes(vec![byte; 32]).unwrap()
    }

    async fn run(
        client_key: &ClusterKey,
        server_key: &ClusterKey,
    ) -> (
        Result<Session, TransportError>,
        Result<Session, TransportError>,
    ) {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let alice = Identity::new("alice", Some(1)).unwrap();
        let bob = Identity::new("bob", None).unwrap();
        tokio::join!(
            client(&mut a, addr(), client_key, &alice),
            server(&mut b, addr(), server_key, &bob)
        )
    }

    #[tokio::test]
    async fn same_key_agrees_on_keys_and_exchanges_identities() {
        let k = key(1);
        let (c, s) = run(&k, &k).await;
        let (c, s) = (c.unwrap(), s.unwrap());
        assert_eq!(*c.send_key, *s.recv_key);
        assert_eq!(*c.recv_key, *s.send_key);
        assert_ne!(*c.send_key, *c.recv_key);
        assert_eq!(c.peer, Identity::new("bob", None).unwrap());
        assert_eq!(s.peer, Identity::new("alice", Some(1)).unwrap());
    }

    #[tokio::test]
    async fn each_session_gets_fresh_keys() {
        let k = key(1);
        let (first, _) = run(&k, &k).await;
        let (second, _) = run(&k, &k).await;
        assert_ne!(*first.unwrap().send_key, *second.unwrap().send_key);
    }

    #[tokio::test]
    async fn wrong_key_fails_on_both_sides() {
        let (c, s) = run(&key(1), &key(2)).await;
        assert!(matches!(
            c,
            Err(TransportError::AuthenticationFailed { .. })
        ));
        assert!(matches!(
            s,
            Err(TransportError::AuthenticationFailed { .. })
        ));
    }

    #[tokio::test]
    async fn version_mismatch_is_reported() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let mut hello = encode_hello(
            Role::Client,
            &[0; NONCE_LEN],
            &Identity::new("x", None).unwrap(),
        );
        hello[4..6].copy_from_slice(&(PROTOCOL_VERSION + 1).to_be_bytes());
        a.write_all(&hello).await.unwrap();
        let err = server(&mut b, addr(), &key(1), &Identity::new("s", None).unwrap())
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, TransportError::VersionMismatch { theirs, .. } if theirs == PROTOCOL_VERSION + 1)
        );
    }

    #[tokio::test]
    async fn reflected_hello_is_refused() {
        // A server must not accept a hello that claims to come from a server.
        let (mut a, mut b) = tokio::io::duplex(4096);
        let hello = encode_hello(
            Role::Server,
            &[0; NONCE_LEN],
            &Identity::new("x", None).unwrap(),
        );
        a.write_all(&hello).await.unwrap();
        let err = server(&mut b, addr(), &key(1), &Identity::new("s", None).unwrap())
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, TransportError::MalformedHandshake { reason, .. } if reason.contains("role"))
        );
    }

    #[test]
    fn identity_name_is_bounded() {
        assert!(Identity::new("", None).is_err());
        assert!(Identity::new("n".repeat(255), None).is_ok());
        assert!(Identity::new("n".repeat(256), None).is_err());
    }
}

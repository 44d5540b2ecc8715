//! Listener, connect and the established connection with its send and receive halves.

use std::fmt;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, timeout_at};

use crate::error::TransportError;
use crate::frame::{DEFAULT_MAX_FRAME_LEN, FrameReader, FrameWriter};
use crate::handshake::{self, Identity, Session};
use crate::key::ClusterKey;

/// Tunables shared by both ends. Both ends should use the same `max_frame_len`: a frame
/// larger than the receiver's limit drops the connection.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Largest plaintext payload of one frame (at most 4 GiB - 16, the 32-bit length prefix
    /// less the tag; larger values are clamped).
    pub max_frame_len: usize,
    /// Bound on the handshake (and, when connecting, on the TCP connect before it).
    pub handshake_timeout: Duration,
    /// Connections the listener holds that are mid-handshake or waiting for `accept()`; past
    /// this it stops accepting TCP connections until some finish (unauthenticated peers
    /// cannot make it hold unbounded state).
    pub max_pending: usize,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            handshake_timeout: Duration::from_secs(10),
            max_pending: 64,
        }
    }
}

/// The authenticated far end of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub addr: SocketAddr,
    pub identity: Identity,
}

/// Accepts authenticated connections. Handshakes run concurrently in the background (up to
/// `max_pending` at once), so a slow or hostile peer does not delay others; dropping the
/// listener stops them all.
pub struct Listener {
    local_addr: SocketAddr,
    incoming: mpsc::Receiver<Result<Connection, TransportError>>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Listens on `addr` (port 0 picks a free port; see [`Listener::local_addr`]) with the
    /// default [`TransportConfig`]. Must be called inside a tokio runtime.
    pub async fn bind<A: ToSocketAddrs + fmt::Display>(
        addr: A,
        key: ClusterKey,
        identity: Identity,
    ) -> Result<Self, TransportError> {
        Self::bind_with_config(addr, key, identity, TransportConfig::default()).await
    }

    pub async fn bind_with_config<A: ToSocketAddrs + fmt::Display>(
        addr: A,
        key: ClusterKey,
        identity: Identity,
        config: TransportConfig,
    ) -> Result<Self, TransportError> {
        let bind_err = |source| TransportError::Bind {
            addr: addr.to_string(),
            source,
        };
        let tcp = TcpListener::bind(&addr).await.map_err(bind_err)?;
        let local_addr = tcp.local_addr().map_err(bind_err)?;
        tracing::info!(%local_addr, key = %key.fingerprint(), node = identity.name(), "transport listening");
        // The semaphore bounds held connections; a one-slot queue keeps waiting ones counted.
        let (tx, incoming) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            key,
            identity,
            config,
        });
        let task = tokio::spawn(accept_loop(tcp, shared, tx));
        Ok(Self {
            local_addr,
            incoming,
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The next incoming connection, or the error that refused it (already logged). A refused
    /// connection affects nothing else: keep calling `accept`.
    pub async fn accept(&mut self) -> Result<Connection, TransportError> {
        self.incoming
            .recv()
            .await
            .unwrap_or(Err(TransportError::ListenerClosed))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    key: ClusterKey,
    identity: Identity,
    config: TransportConfig,
}

async fn accept_loop(
    tcp: TcpListener,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Result<Connection, TransportError>>,
) {
    let pending = Arc::new(Semaphore::new(shared.config.max_pending.max(1)));
    // Owning the handshake tasks here means aborting this loop aborts them too.
    let mut handshakes = JoinSet::new();
    loop {
        while handshakes.try_join_next().is_some() {}
        let permit = Arc::clone(&pending)
            .acquire_owned()
            .await
            .expect("semaphore is never closed");
        let (stream, addr) = tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Typically out of file descriptors; retrying at once would spin.
                    tracing::warn!(%error, "accepting a TCP connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = tx.closed() => return,
        };
        let shared = Arc::clone(&shared);
        let tx = tx.clone();
        handshakes.spawn(async move {
            let result = accept_one(stream, addr, &shared).await;
            // The permit is held until the outcome is queued for `accept`, so connections
            // waiting for the application count towards `max_pending`.
            let _ = tx.send(result).await;
            drop(permit);
        });
    }
}

async fn accept_one(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
) -> Result<Connection, TransportError> {
    let deadline = Instant::now() + shared.config.handshake_timeout;
    set_nodelay(&stream);
    let outcome = timeout_at(
        deadline,
        handshake::server(&mut stream, peer, &shared.key, &shared.identity),
    )
    .await;
    finish(stream, peer, outcome, &shared.config)
}

/// Connects and authenticates; `timeout` bounds the TCP connect and the handshake together.
pub async fn connect<A: ToSocketAddrs + fmt::Display>(
    addr: A,
    key: &ClusterKey,
    identity: &Identity,
    timeout: Duration,
) -> Result<Connection, TransportError> {
    let config = TransportConfig {
        handshake_timeout: timeout,
        ..TransportConfig::default()
    };
    connect_with_config(addr, key, identity, &config).await
}

/// Like [`connect`], with `config.handshake_timeout` bounding the TCP connect and handshake.
pub async fn connect_with_config<A: ToSocketAddrs + fmt::Display>(
    addr: A,
    key: &ClusterKey,
    identity: &Identity,
    config: &TransportConfig,
) -> Result<Connection, TransportError> {
    let deadline = Instant::now() + config.handshake_timeout;
    let connect_err = |source| TransportError::Connect {
        addr: addr.to_string(),
        source,
    };
    let mut stream = timeout_at(deadline, TcpStream::connect(&addr))
        .await
        .map_err(|_| TransportError::ConnectTimeout {
            addr: addr.to_string(),
        })?
        .map_err(connect_err)?;
    let peer = stream.peer_addr().map_err(connect_err)?;
    set_nodelay(&stream);
    let outcome = timeout_at(
        deadline,
        handshake::client(&mut stream, peer, key, identity),
    )
    .await;
    finish(stream, peer, outcome, config)
}

/// Frames are whole messages written at once; Nagle would only add latency. Failing to set it
/// costs latency, not correctness, so it is not an error.
fn set_nodelay(stream: &TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
}

/// Wraps a handshake outcome; every refusal, on either side and for any cause, is logged here
/// with the peer address.
fn finish(
    stream: TcpStream,
    peer: SocketAddr,
    outcome: Result<Result<Session, TransportError>, tokio::time::error::Elapsed>,
    config: &TransportConfig,
) -> Result<Connection, TransportError> {
    match outcome.unwrap_or(Err(TransportError::HandshakeTimeout { peer })) {
        Ok(session) => {
            tracing::debug!(%peer, node = session.peer.name(), "transport connection established");
            Ok(Connection::new(stream, peer, session, config.max_frame_len))
        }
        Err(error) => {
            tracing::warn!(%peer, %error, "transport handshake refused");
            Err(error)
        }
    }
}

/// An authenticated, encrypted connection. Use it whole, or [`split`](Connection::split) it to
/// send and receive from different tasks.
pub struct Connection {
    tx: SendHalf,
    rx: RecvHalf,
}

/// The sending half of a [`Connection`].
pub struct SendHalf {
    writer: FrameWriter<OwnedWriteHalf>,
    peer: Arc<PeerInfo>,
}

/// The receiving half of a [`Connection`].
pub struct RecvHalf {
    reader: FrameReader<OwnedReadHalf>,
    peer: Arc<PeerInfo>,
}

impl Connection {
    fn new(stream: TcpStream, addr: SocketAddr, session: Session, max_frame_len: usize) -> Self {
        let peer = Arc::new(PeerInfo {
            addr,
            identity: session.peer,
        });
        let (read, write) = stream.into_split();
        Self {
            tx: SendHalf {
                writer: FrameWriter::new(write, &session.send_key, max_frame_len, addr),
                peer: Arc::clone(&peer),
            },
            rx: RecvHalf {
                reader: FrameReader::new(read, &session.recv_key, max_frame_len, addr),
                peer,
            },
        }
    }

    pub fn peer(&self) -> &PeerInfo {
        &self.tx.peer
    }

    pub async fn send(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        self.tx.send(payload).await
    }

    pub async fn recv(&mut self) -> Result<Vec<u8>, TransportError> {
        self.rx.recv().await
    }

    pub async fn send_msg<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<(), TransportError> {
        self.tx.send_msg(msg).await
    }

    pub async fn recv_msg<T: DeserializeOwned>(&mut self) -> Result<T, TransportError> {
        self.rx.recv_msg().await
    }

    pub fn split(self) -> (SendHalf, RecvHalf) {
        (self.tx, self.rx)
    }
}

impl SendHalf {
    pub fn peer(&self) -> &PeerInfo {
        &self.peer
    }

    /// Sends one frame. Not cancel-safe: if the future is dropped mid-write, later sends fail
    /// with [`TransportError::SendAborted`].
    pub async fn send(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        self.writer.write_frame(payload).await
    }

    /// Messages are JSON: self-describing, so a peer on another build fails with a clear
    /// decode error instead of misreading fields, and it supports every serde feature the
    /// cluster types use (tagged enums, defaults, skipped fields), which compact positional
    /// formats such as bincode or postcard reject. Cluster traffic is small control messages,
    /// so its size and speed cost does not matter; bulk data can go through `send`.
    pub async fn send_msg<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<(), TransportError> {
        let bytes = serde_json::to_vec(msg).map_err(TransportError::Encode)?;
        self.send(&bytes).await
    }
}

impl RecvHalf {
    pub fn peer(&self) -> &PeerInfo {
        &self.peer
    }

    /// The next frame's payload. Cancel-safe, so it can be used in `select!`.
    ///
    /// On a frame that fails authentication, a bad length, a truncated frame or an I/O error,
    /// the error is logged and the socket is shut down in both directions, so the peer and our
    /// own send half see the connection gone at once. [`TransportError::Closed`] is an orderly
    /// end of stream between frames.
    pub async fn recv(&mut self) -> Result<Vec<u8>, TransportError> {
        let result = self.reader.read_frame().await;
        if let Err(error) = &result
            && !matches!(error, TransportError::Closed { .. })
        {
            tracing::warn!(peer = %self.peer.addr, node = self.peer.identity.name(), %error, "dropping transport connection");
            let stream: &TcpStream = self.reader.get_ref().as_ref();
            // Already broken if this fails; nothing more to do.
            let _ = socket2::SockRef::from(stream).shutdown(Shutdown::Both);
        }
        result
    }

    /// Receives one message sent with `send_msg`. A payload that does not decode is an error
    /// for this message only: the frame itself was authentic, so the connection stays up.
    pub async fn recv_msg<T: DeserializeOwned>(&mut self) -> Result<T, TransportError> {
        let bytes = self.recv().await?;
        serde_json::from_slice(&bytes).map_err(|source| TransportError::Decode {
            peer: self.peer.addr,
            source,
        })
    }
}

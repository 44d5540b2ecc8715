//! Shared test helpers: keys, identities, a listener serving echo, and a raw TCP
//! man-in-the-middle that understands just enough of the wire format (see `handshake.rs` and
//! `frame.rs`) to find frame boundaries and tamper with them.

#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atrium_transport::{ClusterKey, Identity, Listener, TransportConfig, connect};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const TIMEOUT: Duration = Duration::from_secs(5);

pub fn key(byte: u8) -> ClusterKey {
    ClusterKey::from_bytes((0..64).map(|i| byte ^ i).collect()).unwrap()
}

pub fn node(name: &str) -> Identity {
    Identity::new(name, Some(name.len() as u64)).unwrap()
}

pub async fn listener(key: &ClusterKey) -> Listener {
    Listener::bind("127.0.0.1:0", key.clone(), node("server"))
        .await
        .unwrap()
}

pub async fn listener_with(key: &ClusterKey, config: TransportConfig) -> Listener {
    Listener::bind_with_config("127.0.0.1:0", key.clone(), node("server"), config)
        .await
        .unwrap()
}

/// Proves the listener still serves: a fresh direct connection exchanges a message each way.
pub async fn assert_listener_still_serves(listener: &mut Listener, key: &ClusterKey) {
    let addr = listener.local_addr();
    let client = tokio::spawn({
        let key = key.clone();
        async move {
            let mut conn = connect(addr, &key, &node("good-client"), TIMEOUT)
                .await
                .unwrap();
            conn.send(b"ping").await.unwrap();
            assert_eq!(conn.recv().await.unwrap(), b"pong");
        }
    });
    let mut server = tokio::time::timeout(TIMEOUT, listener.accept())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(server.peer().identity.name(), "good-client");
    assert_eq!(server.recv().await.unwrap(), b"ping");
    server.send(b"pong").await.unwrap();
    client.await.unwrap();
}

/// What the man in the middle does to the frames flowing in one direction. Frames are
/// counted from 0 after the handshake.
#[derive(Debug, Clone)]
pub enum Attack {
    /// Forward everything unchanged.
    None,
    /// Flip one bit of frame `n`'s ciphertext.
    Tamper(usize),
    /// After forwarding frame `after`, send frame `n` again.
    Replay { n: usize, after: usize },
    /// Forward frame `n + 1` before frame `n`.
    Swap(usize),
    /// Forward the first half of frame `n`, then end the stream.
    Truncate(usize),
    /// Instead of frame `n`, send only a length prefix of `len`, and keep the stream open.
    Oversize { n: usize, len: u32 },
    /// Send these bytes instead of frame `n`.
    Replace { n: usize, with: Vec<u8> },
}

/// A one-connection TCP proxy in front of `upstream`. It records every frame it saw from the
/// client, so a test can replay one into a later connection.
pub struct Mitm {
    pub addr: SocketAddr,
    pub client_frames: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Mitm {
    pub async fn start(upstream: SocketAddr, to_server: Attack, to_client: Attack) -> Mitm {
        let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = front.local_addr().unwrap();
        let client_frames = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&client_frames);
        tokio::spawn(async move {
            let (client, _) = front.accept().await.unwrap();
            let server = TcpStream::connect(upstream).await.unwrap();
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            let up = pump(cr, sw, to_server, Some(record));
            let down = pump(sr, cw, to_client, None);
            let _ = tokio::join!(up, down);
        });
        Mitm {
            addr,
            client_frames,
        }
    }
}

/// Forwards one direction: the handshake message (a hello, then a 32-byte proof) untouched,
/// then frame by frame, applying `attack`. Returns when either side closes.
async fn pump<R, W>(
    mut from: R,
    mut to: W,
    attack: Attack,
    record: Option<Arc<Mutex<Vec<Vec<u8>>>>>,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    // hello: magic 4, version 2, role 1, nonce 32, has_id 1, id 8, name_len 1, name.
    let mut hello = vec![0u8; 49];
    from.read_exact(&mut hello).await?;
    let name_len = hello[48] as usize;
    hello.resize(49 + name_len, 0);
    from.read_exact(&mut hello[49..]).await?;
    to.write_all(&hello).await?;
    // The client's proof only comes after the server's hello, so forward the hello first.
    let mut proof = [0u8; 32];
    from.read_exact(&mut proof).await?;
    to.write_all(&proof).await?;

    let mut held: Option<Vec<u8>> = None;
    let mut seen: Vec<Vec<u8>> = Vec::new();
    for n in 0.. {
        let mut prefix = [0u8; 4];
        if from.read_exact(&mut prefix).await.is_err() {
            break;
        }
        let mut frame = prefix.to_vec();
        frame.resize(4 + u32::from_be_bytes(prefix) as usize, 0);
        from.read_exact(&mut frame[4..]).await?;
        if let Some(record) = &record {
            record.lock().unwrap().push(frame.clone());
        }
        seen.push(frame.clone());
        match &attack {
            Attack::Tamper(i) if *i == n => {
                let mid = frame.len() / 2;
                frame[mid] ^= 0x01;
                to.write_all(&frame).await?;
            }
            Attack::Replay { n: i, after } if *after == n => {
                to.write_all(&frame).await?;
                to.write_all(&seen[*i]).await?;
            }
            Attack::Swap(i) if *i == n => held = Some(frame),
            Attack::Swap(i) if *i + 1 == n => {
                to.write_all(&frame).await?;
                to.write_all(&held.take().unwrap()).await?;
            }
            Attack::Truncate(i) if *i == n => {
                to.write_all(&frame[..frame.len() / 2]).await?;
                to.shutdown().await?;
                return Ok(());
            }
            Attack::Oversize { n: i, len } if *i == n => {
                to.write_all(&len.to_be_bytes()).await?;
                // Hold the stream open: the receiver must refuse on the prefix alone.
                std::future::pending::<()>().await;
            }
            Attack::Replace { n: i, with } if *i == n => to.write_all(with).await?,
            _ => to.write_all(&frame).await?,
        }
    }
    to.shutdown().await
}

//! Loopback benchmark: handshake latency and frame throughput, with a plain-TCP baseline of
//! the same framing for scale. Run with `cargo bench`; figures go to stdout.
//! A plain binary rather than criterion: the numbers needed are few and coarse, and it keeps
//! the dependency tree (and build time on shared machines) small.

use std::time::{Duration, Instant};

use atrium_transport::{ClusterKey, Identity, Listener, connect};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const HANDSHAKES: usize = 500;
const BYTES_PER_RUN: usize = 256 * 1024 * 1024;
const MAX_FRAMES_PER_RUN: usize = 200_000;
const SIZES: [usize; 5] = [64, 1024, 16 * 1024, 64 * 1024, 1024 * 1024];

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let key = ClusterKey::generate().unwrap();
        handshakes(&key).await;
        aead_only();
        println!();
        println!(
            "{:>10} {:>10} {:>12} {:>10} {:>16}",
            "frame", "frames", "frames/s", "MiB/s", "plain TCP MiB/s"
        );
        for size in SIZES {
            let frames = (BYTES_PER_RUN / size).min(MAX_FRAMES_PER_RUN);
            let encrypted = throughput(&key, size, frames).await;
            let plain = plain_tcp(size, frames).await;
            let secs = encrypted.as_secs_f64();
            println!(
                "{:>10} {:>10} {:>12.0} {:>10.1} {:>16.1}",
                size,
                frames,
                frames as f64 / secs,
                mib(size * frames) / secs,
                mib(size * frames) / plain.as_secs_f64(),
            );
        }
    });
}

/// The cipher alone (seal then open in memory, one core): the ceiling for one connection,
/// whose sender and receiver each do one half of this work.
fn aead_only() {
    use chacha20poly1305::aead::AeadInPlace;
    use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
    let aead = ChaCha20Poly1305::new(&[7u8; 32].into());
    for (size, rounds) in [(64, 200_000), (64 * 1024, 2048)] {
        let mut buf = vec![0x5a; size];
        let started = Instant::now();
        for i in 0..rounds {
            let mut nonce = Nonce::default();
            nonce[4..].copy_from_slice(&(i as u64).to_be_bytes());
            let tag = aead
                .encrypt_in_place_detached(&nonce, b"", &mut buf)
                .unwrap();
            aead.decrypt_in_place_detached(&nonce, b"", &mut buf, &tag)
                .unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "ChaCha20-Poly1305 seal+open in memory, {size} B: {:.0} frames/s, {:.0} MiB/s",
            rounds as f64 / secs,
            mib(rounds * size) / secs
        );
    }
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

async fn handshakes(key: &ClusterKey) {
    let mut listener = Listener::bind(
        "127.0.0.1:0",
        key.clone(),
        Identity::new("server", Some(1)).unwrap(),
    )
    .await
    .unwrap();
    let addr = listener.local_addr();
    let server = tokio::spawn(async move {
        for _ in 0..HANDSHAKES {
            listener.accept().await.unwrap();
        }
    });
    let me = Identity::new("client", Some(2)).unwrap();
    let mut samples = Vec::with_capacity(HANDSHAKES);
    for _ in 0..HANDSHAKES {
        let started = Instant::now();
        let conn = connect(addr, key, &me, Duration::from_secs(5))
            .await
            .unwrap();
        samples.push(started.elapsed());
        drop(conn);
    }
    server.await.unwrap();
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / HANDSHAKES as u32;
    println!(
        "handshake (TCP connect + authentication) x{HANDSHAKES}: mean {:?}, median {:?}, p99 {:?}",
        mean,
        samples[HANDSHAKES / 2],
        samples[HANDSHAKES * 99 / 100]
    );
}

/// Time to push `frames` frames of `size` bytes through one connection, until the receiver
/// has them all.
async fn throughput(key: &ClusterKey, size: usize, frames: usize) -> Duration {
    let mut listener = Listener::bind(
        "127.0.0.1:0",
        key.clone(),
        Identity::new("server", None).unwrap(),
    )
    .await
    .unwrap();
    let mut client = connect(
        listener.local_addr(),
        key,
        &Identity::new("client", None).unwrap(),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let mut server = listener.accept().await.unwrap();
    let payload = vec![0x5a; size];
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        for _ in 0..frames {
            client.send(&payload).await.unwrap();
        }
        client
    });
    for _ in 0..frames {
        assert_eq!(server.recv().await.unwrap().len(), size);
    }
    let elapsed = started.elapsed();
    drop(sender.await.unwrap());
    elapsed
}

/// The same length-prefixed framing over plain TCP, without encryption.
async fn plain_tcp(size: usize, frames: usize) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    client.set_nodelay(true).unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let mut server = tokio::io::BufReader::new(server);
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        let mut frame = (size as u32).to_be_bytes().to_vec();
        frame.resize(4 + size, 0x5a);
        for _ in 0..frames {
            client.write_all(&frame).await.unwrap();
        }
    });
    let mut buf = vec![0u8; size];
    for _ in 0..frames {
        let len = server.read_u32().await.unwrap() as usize;
        // A fresh buffer per frame, as the transport hands out an owned Vec per frame.
        buf = vec![0u8; len.max(buf.len())];
        server.read_exact(&mut buf[..len]).await.unwrap();
    }
    let elapsed = started.elapsed();
    sender.await.unwrap();
    elapsed
}

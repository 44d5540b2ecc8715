//! Hostile and broken peers: each failure drops that one connection with a typed error, and
//! the same listener then serves a good connection.

mod common;

use std::time::Duration;

use atrium_transport::{Connection, TransportConfig, TransportError, connect};
use common::{
    Attack, Mitm, TIMEOUT, assert_listener_still_serves, key, listener, listener_with, node,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MESSAGES: [&[u8]; 4] = [b"frame zero", b"frame one", b"frame two", b"frame three"];

/// Runs a client through a man in the middle that attacks client->server frames; returns
/// what the server received before its first error, that error, and the client's view of
/// the connection afterwards.
async fn attack_client_to_server(attack: Attack) -> (Vec<Vec<u8>>, TransportError) {
    let k = key(1);
    let mut listener = listener(&k).await;
    let mitm = Mitm::start(listener.local_addr(), attack, Attack::None).await;

    let mut client = connect(mitm.addr, &k, &node("client"), TIMEOUT)
        .await
        .unwrap();
    for m in MESSAGES {
        client.send(m).await.unwrap();
    }
    let mut server = listener.accept().await.unwrap();
    let (delivered, error) = drain(&mut server).await;

    // The server shut the connection down; the client sees it end rather than hang.
    let after = tokio::time::timeout(TIMEOUT, client.recv()).await.unwrap();
    assert!(after.is_err(), "client still connected: {after:?}");

    assert_listener_still_serves(&mut listener, &k).await;
    (delivered, error)
}

async fn drain(conn: &mut Connection) -> (Vec<Vec<u8>>, TransportError) {
    let mut delivered = Vec::new();
    loop {
        match tokio::time::timeout(TIMEOUT, conn.recv()).await.unwrap() {
            Ok(m) => delivered.push(m),
            Err(e) => return (delivered, e),
        }
    }
}

fn owned(msgs: &[&[u8]]) -> Vec<Vec<u8>> {
    msgs.iter().map(|m| m.to_vec()).collect()
}

#[tokio::test]
async fn passthrough_proxy_delivers_everything() {
    // Control for the tests below: the proxy itself does not disturb the stream.
    let k = key(1);
    let mut listener = listener(&k).await;
    let mitm = Mitm::start(listener.local_addr(), Attack::None, Attack::None).await;
    let mut client = connect(mitm.addr, &k, &node("client"), TIMEOUT)
        .await
        .unwrap();
    for m in MESSAGES {
        client.send(m).await.unwrap();
    }
    drop(client);
    let mut server = listener.accept().await.unwrap();
    let (delivered, error) = drain(&mut server).await;
    assert_eq!(delivered, owned(&MESSAGES));
    assert!(matches!(error, TransportError::Closed { .. }), "{error}");
    assert_eq!(mitm.client_frames.lock().unwrap().len(), MESSAGES.len());
}

#[tokio::test]
async fn tampered_ciphertext_drops_the_connection() {
    let (delivered, error) = attack_client_to_server(Attack::Tamper(1)).await;
    assert_eq!(delivered, owned(&MESSAGES[..1]));
    assert!(
        matches!(error, TransportError::FrameAuthentication { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn replayed_frame_drops_the_connection() {
    let (delivered, error) = attack_client_to_server(Attack::Replay { n: 0, after: 1 }).await;
    assert_eq!(delivered, owned(&MESSAGES[..2]));
    assert!(
        matches!(error, TransportError::FrameAuthentication { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn reordered_frames_drop_the_connection() {
    let (delivered, error) = attack_client_to_server(Attack::Swap(1)).await;
    assert_eq!(delivered, owned(&MESSAGES[..1]));
    assert!(
        matches!(error, TransportError::FrameAuthentication { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn truncated_frame_drops_the_connection() {
    let (delivered, error) = attack_client_to_server(Attack::Truncate(2)).await;
    assert_eq!(delivered, owned(&MESSAGES[..2]));
    assert!(matches!(error, TransportError::Truncated { .. }), "{error}");
}

#[tokio::test]
async fn oversize_length_prefix_is_refused_before_the_body_arrives() {
    // The proxy sends only the 4-byte prefix and then nothing: a receiver that waited for (or
    // allocated) the announced 4 GiB body would hang here instead of failing.
    let (delivered, error) = attack_client_to_server(Attack::Oversize {
        n: 1,
        len: u32::MAX,
    })
    .await;
    assert_eq!(delivered, owned(&MESSAGES[..1]));
    assert!(
        matches!(error, TransportError::FrameTooLarge { max, .. } if max == atrium_transport::DEFAULT_MAX_FRAME_LEN),
        "{error}"
    );
}

#[tokio::test]
async fn configured_max_frame_len_is_enforced_by_the_receiver() {
    let k = key(1);
    let config = TransportConfig {
        max_frame_len: 1024,
        ..TransportConfig::default()
    };
    let mut listener = listener_with(&k, config).await;
    // The sender's limit is larger than the receiver's.
    let mut client = connect(listener.local_addr(), &k, &node("client"), TIMEOUT)
        .await
        .unwrap();
    let mut server = listener.accept().await.unwrap();
    client.send(&[7; 1024]).await.unwrap();
    client.send(&[7; 1025]).await.unwrap();
    assert_eq!(server.recv().await.unwrap(), vec![7; 1024]);
    let error = server.recv().await.unwrap_err();
    assert!(
        matches!(
            error,
            TransportError::FrameTooLarge {
                len: 1025,
                max: 1024,
                ..
            }
        ),
        "{error}"
    );
    assert_listener_still_serves(&mut listener, &k).await;
}

#[tokio::test]
async fn frame_replayed_from_an_earlier_connection_is_refused() {
    let k = key(1);
    let mut listener = listener(&k).await;

    // Record a genuine first frame on one connection.
    let first = Mitm::start(listener.local_addr(), Attack::None, Attack::None).await;
    let mut client = connect(first.addr, &k, &node("client"), TIMEOUT)
        .await
        .unwrap();
    client.send(b"transfer 100").await.unwrap();
    let mut server = listener.accept().await.unwrap();
    assert_eq!(server.recv().await.unwrap(), b"transfer 100");
    let captured = first.client_frames.lock().unwrap()[0].clone();

    // Substitute it for the first frame of a second connection: fresh session keys refuse it.
    let second = Mitm::start(
        listener.local_addr(),
        Attack::Replace {
            n: 0,
            with: captured,
        },
        Attack::None,
    )
    .await;
    let mut client = connect(second.addr, &k, &node("client"), TIMEOUT)
        .await
        .unwrap();
    client.send(b"transfer 1").await.unwrap();
    let mut server = listener.accept().await.unwrap();
    let (delivered, error) = drain(&mut server).await;
    assert!(delivered.is_empty());
    assert!(
        matches!(error, TransportError::FrameAuthentication { .. }),
        "{error}"
    );
    assert_listener_still_serves(&mut listener, &k).await;
}

#[tokio::test]
async fn tampered_frame_towards_the_client_is_refused_by_the_client() {
    let k = key(1);
    let mut listener = listener(&k).await;
    let mitm = Mitm::start(listener.local_addr(), Attack::None, Attack::Tamper(0)).await;
    let mut client = connect(mitm.addr, &k, &node("client"), TIMEOUT)
        .await
        .unwrap();
    let mut server = listener.accept().await.unwrap();
    server.send(b"from server").await.unwrap();
    let error = client.recv().await.unwrap_err();
    assert!(
        matches!(error, TransportError::FrameAuthentication { .. }),
        "{error}"
    );
    // The client shut the connection down, so the server sees it end too.
    let after = tokio::time::timeout(TIMEOUT, server.recv()).await.unwrap();
    assert!(after.is_err(), "server still connected: {after:?}");
    assert_listener_still_serves(&mut listener, &k).await;
}

/// Sends raw bytes instead of a handshake, and returns the listener's verdict; the server must
/// close the raw connection.
async fn raw_handshake(bytes: &[u8], close_after: bool) -> TransportError {
    let k = key(1);
    let mut listener = listener(&k).await;
    let mut raw = TcpStream::connect(listener.local_addr()).await.unwrap();
    raw.write_all(bytes).await.unwrap();
    if close_after {
        raw.shutdown().await.unwrap();
    }
    let error = tokio::time::timeout(TIMEOUT, listener.accept())
        .await
        .unwrap()
        .err()
        .unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(TIMEOUT, raw.read_to_end(&mut rest))
        .await
        .unwrap();
    assert!(
        read.is_err() || rest.is_empty(),
        "server answered garbage with {rest:?}"
    );
    assert_listener_still_serves(&mut listener, &k).await;
    error
}

#[tokio::test]
async fn garbage_instead_of_a_handshake_is_refused() {
    let error = raw_handshake(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false).await;
    assert!(
        matches!(error, TransportError::MalformedHandshake { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn random_bytes_instead_of_a_handshake_are_refused() {
    use rand::TryRng;
    let mut bytes = [0u8; 256];
    rand::rngs::SysRng.try_fill_bytes(&mut bytes).unwrap();
    bytes[0] = b'X'; // never the magic by chance
    let error = raw_handshake(&bytes, false).await;
    assert!(
        matches!(error, TransportError::MalformedHandshake { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn truncated_handshake_is_refused() {
    let error = raw_handshake(b"ATRM\x00\x01\x00", true).await;
    assert!(
        matches!(error, TransportError::MalformedHandshake { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn other_protocol_version_is_refused() {
    let error = raw_handshake(b"ATRM\x00\x09", false).await;
    assert!(
        matches!(
            error,
            TransportError::VersionMismatch {
                ours: 1,
                theirs: 9,
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn silent_peer_times_out_without_delaying_others() {
    let k = key(1);
    let config = TransportConfig {
        handshake_timeout: Duration::from_millis(300),
        ..TransportConfig::default()
    };
    let mut listener = listener_with(&k, config).await;
    let _silent = TcpStream::connect(listener.local_addr()).await.unwrap();
    // Served while the silent peer's handshake is still pending.
    assert_listener_still_serves(&mut listener, &k).await;
    let error = listener.accept().await.err().unwrap();
    assert!(
        matches!(error, TransportError::HandshakeTimeout { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn connect_times_out_against_a_silent_server() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let started = std::time::Instant::now();
    let error = connect(
        silent.local_addr().unwrap(),
        &key(1),
        &node("client"),
        Duration::from_millis(200),
    )
    .await
    .err()
    .unwrap();
    assert!(
        matches!(error, TransportError::HandshakeTimeout { .. }),
        "{error}"
    );
    assert!(started.elapsed() < TIMEOUT);
}

#[tokio::test]
async fn listener_holds_at_most_max_pending_unauthenticated_connections() {
    let k = key(1);
    let config = TransportConfig {
        handshake_timeout: Duration::from_millis(500),
        max_pending: 1,
        ..TransportConfig::default()
    };
    let mut listener = listener_with(&k, config).await;
    let addr = listener.local_addr();
    let _silent = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The only slot is taken: the kernel completes the TCP connect, but no handshake is served.
    let error = connect(addr, &k, &node("client"), Duration::from_millis(200))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(error, TransportError::HandshakeTimeout { .. }),
        "{error}"
    );
    // Once the silent peer times out, the slot frees up and service resumes.
    let error = listener.accept().await.err().unwrap();
    assert!(
        matches!(error, TransportError::HandshakeTimeout { .. }),
        "{error}"
    );
    // The client that gave up is refused when its turn comes.
    assert!(listener.accept().await.is_err());
    assert_listener_still_serves(&mut listener, &k).await;
}

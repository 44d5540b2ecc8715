//! Good peers: many messages both ways, concurrent connections, typed messages, wrong keys.

mod common;

use std::collections::HashSet;

use atrium_transport::{Identity, TransportError, connect};
use common::{TIMEOUT, key, listener, node};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Msg {
    Request { id: u64, body: String },
    Reply { id: u64, body: String },
}

/// Deterministic payloads of varied sizes, including empty and multi-read ones.
fn payload(i: usize) -> Vec<u8> {
    let len = [0, 1, 17, 1500, 70_000][i % 5];
    (0..len).map(|j| (i * 31 + j) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_messages_flow_both_ways_at_once_on_split_halves() {
    const N: usize = 2000;
    let k = key(1);
    let mut listener = listener(&k).await;
    let addr = listener.local_addr();

    let client = tokio::spawn({
        let k = k.clone();
        async move {
            let conn = connect(addr, &k, &node("client"), TIMEOUT).await.unwrap();
            let (mut tx, mut rx) = conn.split();
            let sender = tokio::spawn(async move {
                for i in 0..N {
                    tx.send(&payload(i)).await.unwrap();
                }
                tx
            });
            for i in 0..N {
                assert_eq!(
                    rx.recv().await.unwrap(),
                    payload(N - 1 - i),
                    "client frame {i}"
                );
            }
            sender.await.unwrap()
        }
    });

    let server = listener.accept().await.unwrap();
    let (mut tx, mut rx) = server.split();
    let sender = tokio::spawn(async move {
        for i in (0..N).rev() {
            tx.send(&payload(i)).await.unwrap();
        }
    });
    for i in 0..N {
        assert_eq!(rx.recv().await.unwrap(), payload(i), "server frame {i}");
    }
    sender.await.unwrap();
    // Dropping the client's send half (and the connection) ends the stream cleanly.
    drop(client.await.unwrap());
    assert!(matches!(
        rx.recv().await,
        Err(TransportError::Closed { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connections_each_get_their_own_replies() {
    const CLIENTS: usize = 16;
    const REQUESTS: u64 = 200;
    let k = key(2);
    let mut listener = listener(&k).await;
    let addr = listener.local_addr();

    let server = tokio::spawn(async move {
        let mut names = HashSet::new();
        let mut echoes = Vec::new();
        for _ in 0..CLIENTS {
            let mut conn = listener.accept().await.unwrap();
            names.insert(conn.peer().identity.name().to_owned());
            echoes.push(tokio::spawn(async move {
                while let Ok(Msg::Request { id, body }) = conn.recv_msg::<Msg>().await {
                    let body = format!("{body} from {}", conn.peer().identity.name());
                    conn.send_msg(&Msg::Reply { id, body }).await.unwrap();
                }
            }));
        }
        for echo in echoes {
            echo.await.unwrap();
        }
        names
    });

    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let k = k.clone();
            tokio::spawn(async move {
                let me = Identity::new(format!("node-{c}"), Some(c as u64)).unwrap();
                let mut conn = connect(addr, &k, &me, TIMEOUT).await.unwrap();
                assert_eq!(conn.peer().identity, node("server"));
                for id in 0..REQUESTS {
                    let body = format!("req {id}");
                    conn.send_msg(&Msg::Request {
                        id,
                        body: body.clone(),
                    })
                    .await
                    .unwrap();
                    let reply: Msg = conn.recv_msg().await.unwrap();
                    assert_eq!(
                        reply,
                        Msg::Reply {
                            id,
                            body: format!("{body} from node-{c}")
                        }
                    );
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    let names = server.await.unwrap();
    assert_eq!(names, (0..CLIENTS).map(|c| format!("node-{c}")).collect());
}

#[tokio::test]
async fn identities_and_addresses_are_exchanged() {
    let k = key(3);
    let mut listener = listener(&k).await;
    let me = Identity::new("remote-1", None).unwrap();
    let mut client = connect(listener.local_addr(), &k, &me, TIMEOUT)
        .await
        .unwrap();
    let server = listener.accept().await.unwrap();
    assert_eq!(server.peer().identity, me);
    assert_eq!(client.peer().identity, node("server"));
    assert_eq!(client.peer().addr, listener.local_addr());
    // The server's view of the peer address is the client's socket.
    client.send(b"x").await.unwrap();
    assert_eq!(server.peer().addr.ip(), listener.local_addr().ip());
}

#[tokio::test]
async fn large_frames_round_trip_and_oversize_sends_are_refused_locally() {
    let k = key(4);
    let mut listener = listener(&k).await;
    let mut client = connect(listener.local_addr(), &k, &node("client"), TIMEOUT)
        .await
        .unwrap();
    let mut server = listener.accept().await.unwrap();
    let big: Vec<u8> = (0..atrium_transport::DEFAULT_MAX_FRAME_LEN)
        .map(|i| i as u8)
        .collect();
    let (sent, received) = tokio::join!(client.send(&big), server.recv());
    sent.unwrap();
    assert_eq!(received.unwrap(), big);

    let too_big = vec![0u8; atrium_transport::DEFAULT_MAX_FRAME_LEN + 1];
    let error = client.send(&too_big).await.unwrap_err();
    assert!(
        matches!(error, TransportError::PayloadTooLarge { .. }),
        "{error}"
    );
    // Nothing was written, so the connection is intact.
    client.send(b"still here").await.unwrap();
    assert_eq!(server.recv().await.unwrap(), b"still here");
}

#[tokio::test]
async fn undecodable_message_is_an_error_for_that_message_only() {
    let k = key(5);
    let mut listener = listener(&k).await;
    let mut client = connect(listener.local_addr(), &k, &node("client"), TIMEOUT)
        .await
        .unwrap();
    let mut server = listener.accept().await.unwrap();
    client.send(b"not json").await.unwrap();
    client
        .send_msg(&Msg::Request {
            id: 7,
            body: "ok".into(),
        })
        .await
        .unwrap();
    let error = server.recv_msg::<Msg>().await.unwrap_err();
    assert!(matches!(error, TransportError::Decode { .. }), "{error}");
    assert_eq!(
        server.recv_msg::<Msg>().await.unwrap(),
        Msg::Request {
            id: 7,
            body: "ok".into()
        }
    );
}

#[tokio::test]
async fn wrong_key_is_refused_on_both_sides_and_delivers_nothing() {
    let good = key(6);
    let mut listener = listener(&good).await;
    let addr = listener.local_addr();

    let error = connect(addr, &key(7), &node("intruder"), TIMEOUT)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(error, TransportError::AuthenticationFailed { peer } if peer == addr),
        "{error}"
    );
    let error = listener.accept().await.err().unwrap();
    assert!(
        matches!(error, TransportError::AuthenticationFailed { .. }),
        "{error}"
    );

    // The next connection the application sees is the good one, and its first frame is the
    // good client's: nothing from the intruder was delivered.
    let mut client = connect(addr, &good, &node("client"), TIMEOUT)
        .await
        .unwrap();
    client.send(b"first").await.unwrap();
    let mut server = listener.accept().await.unwrap();
    assert_eq!(server.peer().identity.name(), "client");
    assert_eq!(server.recv().await.unwrap(), b"first");
}

#[tokio::test]
async fn dropping_the_listener_stops_accepting() {
    let k = key(8);
    let listener = listener(&k).await;
    let addr = listener.local_addr();
    drop(listener);
    // Give the aborted accept task a moment to release the socket.
    tokio::task::yield_now().await;
    let error = connect(addr, &k, &node("client"), TIMEOUT)
        .await
        .err()
        .unwrap();
    assert!(matches!(error, TransportError::Connect { .. }), "{error}");
}

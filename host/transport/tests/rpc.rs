//! Request/response with correlation ids.

mod common;

use std::sync::Arc;

use atrium_transport::{Connection, Requester, TransportError, connect, serve};
use common::{TIMEOUT, key, listener, node};
use serde_json::{Value, json};

async fn pair() -> (Connection, Connection) {
    let k = key(1);
    let mut listener = listener(&k).await;
    let client = connect(listener.local_addr(), &k, &node("client"), TIMEOUT)
        .await
        .unwrap();
    (client, listener.accept().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_connection() {
    let (client, server) = pair().await;
    let server = tokio::spawn(serve(server, |n: u64| async move { n * 2 }));
    let requester = Arc::new(Requester::<u64, u64>::new(client));
    let callers: Vec<_> = (0..8u64)
        .map(|c| {
            let requester = Arc::clone(&requester);
            tokio::spawn(async move {
                for i in 0..50 {
                    let n = c * 1000 + i;
                    assert_eq!(requester.request(&n).await.unwrap(), n * 2);
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    drop(requester);
    assert!(matches!(
        server.await.unwrap(),
        TransportError::Closed { .. }
    ));
}

#[tokio::test]
async fn out_of_order_responses_reach_their_own_callers() {
    let (client, mut server) = pair().await;
    let responder = tokio::spawn(async move {
        let mut requests = Vec::new();
        for _ in 0..10 {
            requests.push(server.recv_msg::<Value>().await.unwrap());
        }
        for req in requests.iter().rev() {
            let reply = json!({ "id": req["id"], "body": format!("re: {}", req["body"].as_str().unwrap()) });
            server.send_msg(&reply).await.unwrap();
        }
        server
    });
    let requester = Arc::new(Requester::<String, String>::new(client));
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..10 {
        let requester = Arc::clone(&requester);
        calls.spawn(async move { (i, requester.request(&format!("q{i}")).await.unwrap()) });
    }
    while let Some(call) = calls.join_next().await {
        let (i, reply) = call.unwrap();
        assert_eq!(reply, format!("re: q{i}"));
    }
    drop(responder.await.unwrap());
}

#[tokio::test]
async fn connection_loss_fails_pending_and_later_requests() {
    let (client, mut server) = pair().await;
    let requester = Requester::<String, String>::new(client);
    let responder = async move {
        server.recv_msg::<Value>().await.unwrap();
        drop(server);
    };
    let hello = "hello".to_owned();
    let (reply, ()) = tokio::join!(requester.request(&hello), responder);
    assert!(
        matches!(reply, Err(TransportError::Closed { .. })),
        "{reply:?}"
    );
    let later = tokio::time::timeout(TIMEOUT, requester.request(&"again".to_owned()))
        .await
        .unwrap();
    assert!(later.is_err(), "{later:?}");
}

#[tokio::test]
async fn undecodable_response_fails_only_its_request() {
    let (client, mut server) = pair().await;
    let responder = tokio::spawn(async move {
        let first = server.recv_msg::<Value>().await.unwrap();
        server
            .send_msg(&json!({ "id": first["id"], "body": [1, 2] }))
            .await
            .unwrap();
        let second = server.recv_msg::<Value>().await.unwrap();
        server
            .send_msg(&json!({ "id": second["id"], "body": 42 }))
            .await
            .unwrap();
        server
    });
    let requester = Requester::<(), u32>::new(client);
    let error = requester.request(&()).await.unwrap_err();
    assert!(matches!(error, TransportError::Decode { .. }), "{error}");
    assert_eq!(requester.request(&()).await.unwrap(), 42);
    drop(responder.await.unwrap());
}

//! Request/response over one connection, matched by correlation id, so many tasks can have
//! requests in flight on the same connection (e.g. Raft RPCs to one peer).
//!
//! Each message is a JSON object `{"id": u64, "body": ...}`; a response carries the id of its
//! request.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::connection::{Connection, RecvHalf, SendHalf};
use crate::error::TransportError;

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    id: u64,
    body: T,
}

type Reply<Resp> = Result<Resp, TransportError>;

struct Waiters<Resp> {
    by_id: HashMap<u64, oneshot::Sender<Reply<Resp>>>,
    /// Set when the connection is gone; later requests fail at once instead of waiting.
    closed: bool,
}

/// The requesting side. Cheap to share behind an `Arc`; `request` takes `&self`.
pub struct Requester<Req, Resp> {
    tx: tokio::sync::Mutex<SendHalf>,
    peer: SocketAddr,
    waiters: Arc<Mutex<Waiters<Resp>>>,
    next_id: AtomicU64,
    reader: JoinHandle<()>,
    _req: PhantomData<fn(&Req)>,
}

impl<Req, Resp> Requester<Req, Resp>
where
    Req: Serialize,
    Resp: DeserializeOwned + Send + 'static,
{
    /// Takes over the connection; a background task routes responses to their callers.
    pub fn new(conn: Connection) -> Self {
        let peer = conn.peer().addr;
        let (tx, rx) = conn.split();
        let waiters = Arc::new(Mutex::new(Waiters {
            by_id: HashMap::new(),
            closed: false,
        }));
        let reader = tokio::spawn(route_responses(rx, Arc::clone(&waiters)));
        Self {
            tx: tokio::sync::Mutex::new(tx),
            peer,
            waiters,
            next_id: AtomicU64::new(0),
            reader,
            _req: PhantomData,
        }
    }

    /// Sends `req` and waits for its response. Dropping the future forgets the request; a
    /// response that arrives later is discarded. If the connection fails, every pending
    /// request ends with [`TransportError::Closed`] (the cause is logged by the transport).
    pub async fn request(&self, req: &Req) -> Result<Resp, TransportError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply_tx, reply_rx) = oneshot::channel();
        {
            let mut waiters = self.waiters.lock().expect("waiters lock");
            if waiters.closed {
                return Err(TransportError::Closed { peer: self.peer });
            }
            waiters.by_id.insert(id, reply_tx);
        }
        let _forget = Forget {
            waiters: &self.waiters,
            id,
        };
        self.tx
            .lock()
            .await
            .send_msg(&Envelope { id, body: req })
            .await?;
        reply_rx
            .await
            .unwrap_or(Err(TransportError::Closed { peer: self.peer }))
    }
}

impl<Req, Resp> Requester<Req, Resp> {
    /// True once the connection is gone: every later request fails at once.
    pub fn is_closed(&self) -> bool {
        self.waiters.lock().expect("waiters lock").closed
    }
}

impl<Req, Resp> Drop for Requester<Req, Resp> {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Removes a request's waiter when its caller is done or gone, so cancelled requests do not
/// accumulate.
struct Forget<'a, Resp> {
    waiters: &'a Mutex<Waiters<Resp>>,
    id: u64,
}

impl<Resp> Drop for Forget<'_, Resp> {
    fn drop(&mut self) {
        if let Ok(mut waiters) = self.waiters.lock() {
            waiters.by_id.remove(&self.id);
        }
    }
}

async fn route_responses<Resp: DeserializeOwned>(
    mut rx: RecvHalf,
    waiters: Arc<Mutex<Waiters<Resp>>>,
) {
    let peer = rx.peer().addr;
    // Decoding the envelope first keeps the id even when the body does not decode, so that
    // caller gets the decode error instead of waiting forever.
    while let Ok(Envelope { id, body }) = rx.recv_msg::<Envelope<serde_json::Value>>().await {
        let reply =
            serde_json::from_value(body).map_err(|source| TransportError::Decode { peer, source });
        let waiter = waiters.lock().expect("waiters lock").by_id.remove(&id);
        match waiter {
            Some(waiter) => {
                let _ = waiter.send(reply);
            }
            None => tracing::debug!(%peer, id, "response for a request no longer waited for"),
        }
    }
    let mut waiters = waiters.lock().expect("waiters lock");
    waiters.closed = true;
    // Dropping the senders wakes every caller with `Closed`.
    waiters.by_id.clear();
}

/// The responding side: answers each request with `handler`'s result, one at a time, until
/// the connection ends; returns the error that ended it ([`TransportError::Closed`] when the
/// requester hung up).
pub async fn serve<Req, Resp, F, Fut>(conn: Connection, mut handler: F) -> TransportError
where
    Req: DeserializeOwned,
    Resp: Serialize,
    F: FnMut(Req) -> Fut,
    Fut: Future<Output = Resp>,
{
    let (mut tx, mut rx) = conn.split();
    loop {
        let Envelope { id, body } = match rx.recv_msg::<Envelope<Req>>().await {
            Ok(envelope) => envelope,
            Err(error) => return error,
        };
        let body = handler(body).await;
        if let Err(error) = tx.send_msg(&Envelope { id, body }).await {
            return error;
        }
    }
}

/// Like [`serve`], but each request runs in a task of its own, so a slow request does not hold
/// up the others; responses go back in the order they finish. When the connection ends, the
/// handlers still running are dropped (work they handed to tasks of their own goes on).
pub async fn serve_concurrent<Req, Resp, F, Fut>(conn: Connection, handler: F) -> TransportError
where
    Req: DeserializeOwned,
    Resp: Serialize + Send + 'static,
    F: Fn(Req) -> Fut,
    Fut: Future<Output = Resp> + Send + 'static,
{
    let (mut tx, mut rx) = conn.split();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Envelope<Resp>>();
    let mut handlers = tokio::task::JoinSet::new();
    loop {
        while handlers.try_join_next().is_some() {}
        tokio::select! {
            received = rx.recv_msg::<Envelope<Req>>() => match received {
                Ok(Envelope { id, body }) => {
                    let reply = handler(body);
                    let done_tx = done_tx.clone();
                    handlers.spawn(async move {
                        let _ = done_tx.send(Envelope { id, body: reply.await });
                    });
                }
                Err(error) => return error,
            },
            Some(envelope) = done_rx.recv() => {
                if let Err(error) = tx.send_msg(&envelope).await {
                    return error;
                }
            }
        }
    }
}

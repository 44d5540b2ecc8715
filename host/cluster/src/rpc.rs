//! Request/response calls over atrium-transport: one authenticated connection per peer,
//! many calls in flight on it (each tagged with an id), a deadline on every call.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use atrium_transport::{ClusterKey, Connection, Identity, Listener, TransportError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};

/// One message on the wire: a request or the reply to the request with the same id.
#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    id: u64,
    body: T,
}

/// Why a call failed. Only `NotSent` guarantees the peer never saw the request.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    #[error("not sent: {0}")]
    NotSent(String),
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("connection closed before the reply")]
    Closed,
}

/// Calls to one peer. The connection is made on first use and again after it breaks.
pub(crate) struct Client<Req, Rep> {
    addr: String,
    key: ClusterKey,
    identity: Identity,
    link: tokio::sync::Mutex<Option<Arc<Link<Req, Rep>>>>,
    next_id: AtomicU64,
}

type Pending<Rep> = Arc<Mutex<HashMap<u64, oneshot::Sender<Rep>>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The map is only ever inserted into / removed from; no half-done update to recover from.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Link<Req, Rep> {
    outgoing: mpsc::Sender<Envelope<Req>>,
    pending: Pending<Rep>,
    /// Cleared by the reader or writer task when it stops.
    open: Arc<AtomicBool>,
    /// The reader and writer tasks; dropping the link aborts them and closes the socket.
    _tasks: JoinSet<()>,
}

impl<Req, Rep> Link<Req, Rep> {
    fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }
}

impl<Req, Rep> Client<Req, Rep>
where
    Req: Serialize + Send + Sync + 'static,
    Rep: DeserializeOwned + Send + 'static,
{
    pub(crate) fn new(addr: String, key: ClusterKey, identity: Identity) -> Self {
        Self {
            addr,
            key,
            identity,
            link: tokio::sync::Mutex::new(None),
            next_id: AtomicU64::new(0),
        }
    }

    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    pub(crate) async fn call(&self, request: Req, timeout: Duration) -> Result<Rep, CallError> {
        let deadline = Instant::now() + timeout;
        let link = timeout_at(deadline, self.link(deadline))
            .await
            .map_err(|_| CallError::NotSent(format!("connecting to {} timed out", self.addr)))??;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&link.pending).insert(id, tx);
        if link
            .outgoing
            .send(Envelope { id, body: request })
            .await
            .is_err()
        {
            lock(&link.pending).remove(&id);
            return Err(CallError::NotSent(format!(
                "connection to {} closed",
                self.addr
            )));
        }
        match timeout_at(deadline, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(CallError::Closed),
            Err(_) => {
                lock(&link.pending).remove(&id);
                Err(CallError::Timeout(timeout))
            }
        }
    }

    async fn link(&self, deadline: Instant) -> Result<Arc<Link<Req, Rep>>, CallError> {
        let mut slot = self.link.lock().await;
        if let Some(link) = slot.as_ref().filter(|l| l.is_open()) {
            return Ok(Arc::clone(link));
        }
        *slot = None;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let conn = atrium_transport::connect(&self.addr, &self.key, &self.identity, remaining)
            .await
            .map_err(|e| {
                if matches!(e, TransportError::AuthenticationFailed { .. }) {
                    tracing::warn!(peer = %self.addr, error = %e, "cluster peer refused: wrong cluster key");
                }
                CallError::NotSent(e.to_string())
            })?;
        let link = Arc::new(open_link(conn));
        *slot = Some(Arc::clone(&link));
        Ok(link)
    }
}

fn open_link<Req, Rep>(conn: Connection) -> Link<Req, Rep>
where
    Req: Serialize + Send + Sync + 'static,
    Rep: DeserializeOwned + Send + 'static,
{
    let (mut send, mut recv) = conn.split();
    let (outgoing, mut queue) = mpsc::channel::<Envelope<Req>>(256);
    let pending: Pending<Rep> = Arc::default();
    let open = Arc::new(AtomicBool::new(true));
    let mut tasks = JoinSet::new();
    let writer_open = Arc::clone(&open);
    tasks.spawn(async move {
        while let Some(envelope) = queue.recv().await {
            if let Err(error) = send.send_msg(&envelope).await {
                tracing::debug!(%error, "cluster rpc send failed");
                break;
            }
        }
        writer_open.store(false, Ordering::Release);
    });
    let replies = Arc::clone(&pending);
    let reader_open = Arc::clone(&open);
    tasks.spawn(async move {
        loop {
            match recv.recv_msg::<Envelope<Rep>>().await {
                Ok(envelope) => {
                    if let Some(tx) = lock(&replies).remove(&envelope.id) {
                        let _ = tx.send(envelope.body);
                    }
                }
                Err(TransportError::Decode { source, .. }) => {
                    tracing::warn!(error = %source, "undecodable cluster rpc reply dropped");
                }
                Err(error) => {
                    tracing::debug!(%error, "cluster rpc connection closed");
                    reader_open.store(false, Ordering::Release);
                    // Dropping the senders fails every call waiting on this connection.
                    lock(&replies).clear();
                    return;
                }
            }
        }
    });
    Link {
        outgoing,
        pending,
        open,
        _tasks: tasks,
    }
}

/// Accepts connections and answers each request with `handler`, concurrently, until the
/// listener fails. Peers with the wrong cluster key are refused by the transport; the refusal
/// is logged there and here.
pub(crate) async fn serve<Req, Rep, H, F>(mut listener: Listener, handler: H)
where
    Req: DeserializeOwned + Send + 'static,
    Rep: Serialize + Send + Sync + 'static,
    H: Fn(Req) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Rep> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        match listener.accept().await {
            Ok(conn) => {
                tracing::debug!(peer = %conn.peer().addr, node = conn.peer().identity.name(), "cluster peer connected");
                connections.spawn(serve_connection(conn, handler.clone()));
            }
            Err(TransportError::ListenerClosed) => return,
            Err(error) => tracing::warn!(%error, "cluster peer refused"),
        }
    }
}

async fn serve_connection<Req, Rep, H, F>(conn: Connection, handler: H)
where
    Req: DeserializeOwned + Send + 'static,
    Rep: Serialize + Send + Sync + 'static,
    H: Fn(Req) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Rep> + Send + 'static,
{
    let (mut send, mut recv) = conn.split();
    let (replies, mut queue) = mpsc::channel::<Envelope<Rep>>(256);
    let mut tasks = JoinSet::new();
    tasks.spawn(async move {
        while let Some(envelope) = queue.recv().await {
            if send.send_msg(&envelope).await.is_err() {
                return;
            }
        }
    });
    loop {
        while tasks.try_join_next().is_some() {}
        match recv.recv_msg::<Envelope<Req>>().await {
            Ok(Envelope { id, body }) => {
                let handler = handler.clone();
                let replies = replies.clone();
                tasks.spawn(async move {
                    let body = handler(body).await;
                    let _ = replies.send(Envelope { id, body }).await;
                });
            }
            Err(TransportError::Decode { peer, source }) => {
                tracing::warn!(%peer, error = %source, "undecodable cluster rpc request dropped");
            }
            Err(_) => return,
        }
    }
}

//! The HTTP server: accepts connections and serves the router on each, within
//! [`HttpLimits`]. Nothing a client sends before it is verified may hold the server: headers
//! have a deadline, connections are capped (past the cap the longest-idle one is closed, so
//! a crowd of silent connections cannot keep a real delivery out), and request bodies are
//! admitted by [`body_gate`].

pub mod body_gate;
pub mod readiness;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::settings::HttpLimits;

/// How long a connection may take to finish once shutdown asked it to.
const CONNECTION_GRACE: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until `shutdown` is cancelled, then lets the connections
/// finish their requests (for a few seconds) and returns; the listener stays open for the
/// caller (a reload serves on it again).
pub async fn serve(
    listener: &TcpListener,
    router: Router,
    limits: &HttpLimits,
    shutdown: CancellationToken,
) {
    let connections = Connections::new(limits.max_connections);
    let tasks = TaskTracker::new();
    let close_all = CancellationToken::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);

    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of files or a connection reset before accept: not fatal. A short
                    // pause lets closing connections give their files back.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = stream;
        let Some(slot) = connections.admit(&shutdown).await else {
            break;
        };
        let _ = stream.set_nodelay(true);
        tasks.spawn(serve_connection(
            http.clone(),
            stream,
            peer,
            router.clone(),
            slot,
            shutdown.clone(),
            close_all.clone(),
        ));
    }

    tasks.close();
    if tokio::time::timeout(CONNECTION_GRACE, tasks.wait())
        .await
        .is_err()
    {
        close_all.cancel();
        tasks.wait().await;
    }
}

/// One connection, until the client closes it, it is evicted, or shutdown ends it.
async fn serve_connection(
    http: http1::Builder,
    stream: TcpStream,
    peer: std::net::SocketAddr,
    router: Router,
    slot: Slot,
    shutdown: CancellationToken,
    close_all: CancellationToken,
) {
    let activity = slot.activity.clone();
    let service = hyper::service::service_fn(move |request: http::Request<_>| {
        let busy = activity.busy();
        let mut request = request.map(axum::body::Body::new);
        // Who is on the other end, for the per-address body budget.
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        let answer = router.clone().oneshot(request);
        async move {
            let response = answer.await;
            drop(busy);
            response
        }
    });
    let connection = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut asked_to_finish = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                break;
            }
            // Dropping the connection closes its socket.
            () = slot.evicted.cancelled() => break,
            () = close_all.cancelled() => break,
            () = shutdown.cancelled(), if !asked_to_finish => {
                asked_to_finish = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
    drop(slot);
}

/// The open connections, and which of them may be closed to make room.
#[derive(Clone)]
struct Connections {
    slots: Arc<Semaphore>,
    table: Arc<Mutex<HashMap<u64, Arc<Activity>>>>,
    next_id: Arc<std::sync::atomic::AtomicU64>,
}

/// A connection's place among the open ones; dropping it frees the place.
struct Slot {
    id: u64,
    table: Arc<Mutex<HashMap<u64, Arc<Activity>>>>,
    activity: Arc<Activity>,
    evicted: CancellationToken,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.table).remove(&self.id);
    }
}

/// Whether a connection is answering a request, and since when it has not been.
struct Activity {
    state: Mutex<Idle>,
    evict: CancellationToken,
}

struct Idle {
    in_flight: u32,
    since: Instant,
}

/// Marks a connection busy while a request is being answered.
struct Busy(Arc<Activity>);

impl Activity {
    fn busy(self: &Arc<Self>) -> Busy {
        lock(&self.state).in_flight += 1;
        Busy(self.clone())
    }

    /// Since when the connection has had nothing to answer; `None` while it answers.
    fn idle_since(&self) -> Option<Instant> {
        let state = lock(&self.state);
        (state.in_flight == 0).then_some(state.since)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut state = lock(&self.0.state);
        state.in_flight = state.in_flight.saturating_sub(1);
        state.since = Instant::now();
    }
}

impl Connections {
    fn new(max: usize) -> Connections {
        Connections {
            slots: Arc::new(Semaphore::new(max.max(1))),
            table: Arc::default(),
            next_id: Arc::default(),
        }
    }

    /// A place for a new connection. At the cap, the connection idle for longest (one that
    /// never sent a whole request, or a kept-alive one between requests) is closed to make
    /// room; when every connection is answering, this waits for one to end. `None` when
    /// shutdown comes first.
    async fn admit(&self, shutdown: &CancellationToken) -> Option<Slot> {
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                self.evict_longest_idle();
                tokio::select! {
                    permit = self.slots.clone().acquire_owned() => permit.ok()?,
                    () = shutdown.cancelled() => return None,
                }
            }
        };
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let evicted = CancellationToken::new();
        let activity = Arc::new(Activity {
            state: Mutex::new(Idle {
                in_flight: 0,
                since: Instant::now(),
            }),
            evict: evicted.clone(),
        });
        lock(&self.table).insert(id, activity.clone());
        Some(Slot {
            id,
            table: self.table.clone(),
            activity,
            evicted,
            _permit: permit,
        })
    }

    fn evict_longest_idle(&self) {
        let table = lock(&self.table);
        let longest = table
            .values()
            .filter(|activity| !activity.evict.is_cancelled())
            .filter_map(|activity| Some((activity.idle_since()?, activity)))
            .min_by_key(|(since, _)| *since);
        if let Some((_, activity)) = longest {
            activity.evict.cancel();
        }
    }
}

/// Locks past a poisoned mutex: the tables stay consistent whatever panicked.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn at_the_cap_the_longest_idle_connection_makes_room() {
        let connections = Connections::new(2);
        let shutdown = CancellationToken::new();
        let oldest = connections.admit(&shutdown).await.expect("slot");
        tokio::time::sleep(Duration::from_millis(5)).await;
        let newer = connections.admit(&shutdown).await.expect("slot");
        let answering = oldest.activity.busy();
        // The oldest is answering a request, so the newer idle one is closed.
        let admitted = tokio::spawn({
            let connections = connections.clone();
            let shutdown = shutdown.clone();
            async move { connections.admit(&shutdown).await.map(|slot| slot.id) }
        });
        tokio::time::timeout(Duration::from_secs(1), newer.evicted.cancelled())
            .await
            .expect("the idle connection is asked to close");
        assert!(!oldest.evicted.is_cancelled());
        drop(newer);
        let third = admitted.await.expect("task").expect("admitted");
        assert_eq!(third, 2);
        drop(answering);
    }

    #[tokio::test]
    async fn when_every_connection_is_answering_a_new_one_waits() {
        let connections = Connections::new(1);
        let shutdown = CancellationToken::new();
        let only = connections.admit(&shutdown).await.expect("slot");
        let _answering = only.activity.busy();
        let waiting =
            tokio::time::timeout(Duration::from_millis(100), connections.admit(&shutdown));
        assert!(waiting.await.is_err(), "nothing was evicted");
        assert!(!only.evicted.is_cancelled());
        shutdown.cancel();
        assert!(connections.admit(&shutdown).await.is_none());
    }
}

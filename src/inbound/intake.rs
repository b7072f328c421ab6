//! The durable intake: records deliveries and enqueues their jobs in group commits.
//!
//! Each accepted delivery must be in the store before it is answered, and committing costs
//! the same for one row as for fifty (a fsync on PostgreSQL, a hand-off to SQLite's writer
//! thread). So requests hand their delivery to one writer task, which takes everything
//! waiting, writes it in one transaction (each delivery's record and job together, as
//! before), commits once, and answers each request. Under light load a batch is one delivery
//! and nothing waits; under heavy load batches grow and throughput with them.

use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use crate::handlers::events::HandleWebhook;
use crate::jobs::Queue;
use crate::store::deliveries::{self, DeliveryParams};
use crate::store::{Backend, Db};

/// Most deliveries written in one transaction.
const MAX_BATCH: usize = 128;
/// Deliveries waiting for a writer before submitters wait for room.
const QUEUE_DEPTH: usize = 1024;
/// Writers on PostgreSQL: each batch pays a round trip per statement, so a few batches in
/// flight on separate connections keep the server busy. SQLite has one connection: one writer.
const POSTGRES_WRITERS: usize = 4;

/// What happened to a submitted delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Recorded, and its job enqueued.
    Queued,
    /// Recorded as ignored; no job.
    Ignored,
    /// Seen before; nothing written.
    Duplicate,
}

/// The delivery could not be recorded; the sender should deliver it again later.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot record the delivery: {0}")]
pub struct IntakeError(String);

/// A delivery to record.
#[derive(Debug)]
pub struct Delivery {
    /// `github`, …
    pub source: &'static str,
    /// The sender's delivery id.
    pub delivery_id: String,
    /// Event name.
    pub event: String,
    /// Action.
    pub action: Option<String>,
    /// Repository.
    pub repository: Option<String>,
    /// Installation.
    pub installation_id: Option<u64>,
    /// Receipt time (epoch ms).
    pub received_at: i64,
    /// The job to enqueue with it; `None` records the delivery as ignored.
    pub job: Option<HandleWebhook>,
}

struct Pending {
    delivery: Delivery,
    reply: oneshot::Sender<Result<Accepted, IntakeError>>,
}

/// Hands deliveries to the writer. Cheap to clone; the writer stops once every clone is gone
/// and what was submitted is written.
#[derive(Clone, Debug)]
pub struct Intake {
    sender: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("delivery", &self.delivery.delivery_id)
            .finish()
    }
}

impl Intake {
    /// Starts the writers over `db`, enqueueing through `queue`; the handle ends when they
    /// all have.
    pub fn start(db: Db, queue: Queue) -> (Intake, JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        let receiver = Arc::new(Mutex::new(receiver));
        let writers = match db.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => POSTGRES_WRITERS,
        };
        let mut tasks = JoinSet::new();
        for _ in 0..writers {
            tasks.spawn(write_batches(db.clone(), queue.clone(), receiver.clone()));
        }
        let all = tokio::spawn(async move { while tasks.join_next().await.is_some() {} });
        (Intake { sender }, all)
    }

    /// Records `delivery` (and enqueues its job) durably; returns once committed.
    pub async fn submit(&self, delivery: Delivery) -> Result<Accepted, IntakeError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Pending { delivery, reply })
            .await
            .map_err(|_| IntakeError("the server is shutting down".into()))?;
        answer
            .await
            .map_err(|_| IntakeError("the intake writer stopped".into()))?
    }
}

async fn write_batches(db: Db, queue: Queue, receiver: Arc<Mutex<mpsc::Receiver<Pending>>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Take whatever is waiting (at least one), then let the next writer take the rest.
    while receiver.lock().await.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match write(&db, &queue, &batch).await {
            Ok((outcomes, runnable)) => {
                for (pending, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = pending.reply.send(Ok(outcome));
                }
                if runnable {
                    queue.wake();
                }
            }
            Err(error) => {
                tracing::error!(%error, deliveries = batch.len(), "cannot record deliveries");
                for pending in batch.drain(..) {
                    let _ = pending.reply.send(Err(IntakeError(error.to_string())));
                }
            }
        }
    }
}

/// Writes a batch; returns each delivery's outcome and whether any new job may start at once.
async fn write(db: &Db, queue: &Queue, batch: &[Pending]) -> anyhow::Result<(Vec<Accepted>, bool)> {
    let mut tx = db.pool().begin().await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut runnable = false;
    for Pending { delivery: d, .. } in batch {
        let params = DeliveryParams {
            source: d.source,
            delivery_id: &d.delivery_id,
            event: &d.event,
            action: d.action.as_deref(),
            outcome: if d.job.is_some() { "queued" } else { "ignored" },
            repository: d.repository.as_deref(),
            installation_id: d.installation_id,
            received_at: d.received_at,
        };
        let outcome = if !deliveries::record(&mut tx, &params).await? {
            Accepted::Duplicate
        } else if let Some(job) = &d.job {
            runnable |= queue.enqueue_with_hint(&mut tx, job).await?.1;
            Accepted::Queued
        } else {
            Accepted::Ignored
        };
        outcomes.push(outcome);
    }
    tx.commit().await?;
    Ok((outcomes, runnable))
}

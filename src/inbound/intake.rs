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
use crate::store::{Backend, Db, StoreError};

/// Most deliveries written in one transaction.
const MAX_BATCH: usize = 128;
/// Deliveries waiting for a writer before submitters wait for room.
const QUEUE_DEPTH: usize = 1024;
/// Writers on PostgreSQL: each batch pays a round trip per statement, so a few batches in
/// flight on separate connections keep the server busy. SQLite has one connection: one writer.
const POSTGRES_WRITERS: usize = 4;
/// How often a batch that lost a deadlock or serialization conflict is written again.
const CONFLICT_RETRIES: usize = 5;
/// The longest a submitter waits for its delivery to be recorded. GitHub gives up on an
/// answer after 10 s; past this the sender is told to deliver again (503), well inside that.
pub const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

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

    /// Records `delivery` (and enqueues its job) durably; returns once committed, or with an
    /// error after [`ANSWER_WITHIN`] (the store is held by someone else): the delivery may
    /// still be recorded then, and a redelivery is recognised as a duplicate.
    pub async fn submit(&self, delivery: Delivery) -> Result<Accepted, IntakeError> {
        tokio::time::timeout(ANSWER_WITHIN, self.submit_unbounded(delivery))
            .await
            .unwrap_or_else(|_| {
                Err(IntakeError(format!(
                    "not recorded within {} s",
                    ANSWER_WITHIN.as_secs()
                )))
            })
    }

    async fn submit_unbounded(&self, delivery: Delivery) -> Result<Accepted, IntakeError> {
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
        // Every writer (and every replica) inserts in the same order, so two batches holding
        // some of the same deliveries wait for each other instead of deadlocking.
        batch.sort_by(|a, b| {
            (a.delivery.source, &a.delivery.delivery_id)
                .cmp(&(b.delivery.source, &b.delivery.delivery_id))
        });
        let deliveries: Vec<&Delivery> = batch.iter().map(|p| &p.delivery).collect();
        let outcomes = match write_retrying(&db, &queue, &deliveries).await {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            // One bad delivery must not refuse the others: write each on its own.
            Err(error) if deliveries.len() > 1 => {
                tracing::warn!(%error, deliveries = deliveries.len(), "batch not recorded; recording one by one");
                let mut each = Vec::with_capacity(deliveries.len());
                for delivery in &deliveries {
                    each.push(
                        write_retrying(&db, &queue, std::slice::from_ref(delivery))
                            .await
                            .map(|mut o| o.remove(0)),
                    );
                }
                each
            }
            Err(error) => vec![Err(error)],
        };
        let mut runnable = false;
        for (pending, outcome) in batch.drain(..).zip(outcomes) {
            let answer = match outcome {
                Ok((accepted, may_start)) => {
                    runnable |= may_start;
                    Ok(accepted)
                }
                Err(error) => {
                    tracing::error!(%error, delivery = %pending.delivery.delivery_id, "cannot record the delivery");
                    Err(IntakeError(error.to_string()))
                }
            };
            let _ = pending.reply.send(answer);
        }
        if runnable {
            queue.wake();
        }
    }
}

/// Writes deliveries in one transaction, again when PostgreSQL chose it as a deadlock victim
/// or refused it for a serialization conflict (another writer's batch won; ours is fine).
async fn write_retrying(
    db: &Db,
    queue: &Queue,
    deliveries: &[&Delivery],
) -> Result<Vec<(Accepted, bool)>, StoreError> {
    let mut tries = 0;
    loop {
        match write(db, queue, deliveries).await {
            Err(error) if tries < CONFLICT_RETRIES && is_conflict(&error) => {
                tries += 1;
                tracing::debug!(%error, tries, "delivery batch lost a conflict; writing it again");
                tokio::time::sleep(std::time::Duration::from_millis(
                    rand::random_range(1..=10u64) * tries as u64,
                ))
                .await;
            }
            other => return other,
        }
    }
}

/// PostgreSQL's `deadlock_detected` and `serialization_failure`.
fn is_conflict(error: &StoreError) -> bool {
    matches!(error, StoreError::Query(sqlx::Error::Database(e))
        if matches!(e.code().as_deref(), Some("40P01" | "40001")))
}

/// Writes deliveries in three statements whatever their number (records, queue keys,
/// jobs); returns each one's outcome and whether a worker should be woken.
async fn write(
    db: &Db,
    queue: &Queue,
    deliveries: &[&Delivery],
) -> Result<Vec<(Accepted, bool)>, StoreError> {
    // A delivery sent twice within one batch counts once.
    let mut seen = std::collections::HashSet::new();
    let firsts: Vec<bool> = deliveries
        .iter()
        .map(|d| seen.insert((d.source, d.delivery_id.as_str())))
        .collect();
    let params: Vec<DeliveryParams<'_>> = deliveries
        .iter()
        .zip(&firsts)
        .filter(|(_, first)| **first)
        .map(|(d, _)| DeliveryParams {
            source: d.source,
            delivery_id: &d.delivery_id,
            event: &d.event,
            action: d.action.as_deref(),
            outcome: if d.job.is_some() { "queued" } else { "ignored" },
            repository: d.repository.as_deref(),
            installation_id: d.installation_id,
            received_at: d.received_at,
        })
        .collect();
    let mut tx = db.pool().begin().await?;
    let new = deliveries::record_many(&mut tx, &params).await?;
    let mut jobs = Vec::new();
    let mut outcomes = Vec::with_capacity(deliveries.len());
    for (d, first) in deliveries.iter().zip(firsts) {
        let outcome = if !first || !new.contains(&d.delivery_id) {
            Accepted::Duplicate
        } else if let Some(job) = &d.job {
            jobs.push(job);
            Accepted::Queued
        } else {
            Accepted::Ignored
        };
        outcomes.push(outcome);
    }
    let runnable = match queue.enqueue_many(&mut tx, &jobs).await {
        Ok(runnable) => runnable,
        Err(crate::jobs::QueueError::Store(e)) => return Err(e.into()),
        Err(other) => return Err(sqlx::Error::Protocol(other.to_string()).into()),
    };
    tx.commit().await?;
    Ok(outcomes.into_iter().map(|o| (o, runnable)).collect())
}

//! Running claimed jobs: each attempt runs in its own task under a timeout, so a panic or a
//! hang becomes a recorded failure instead of taking a worker down.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::queue::ClaimedJob;
use super::{JobError, Queue, QueueError, Registry, StartError};

/// How often an idle worker looks for due jobs (other replicas' jobs, retries coming due).
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How long claimed jobs wait for a free worker before they are handed back.
const READY_HOLD: Duration = Duration::from_millis(250);
/// Pause after the store itself failed, so an outage is not a hot loop.
const STORE_ERROR_PAUSE: Duration = Duration::from_secs(2);

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done; the job is gone.
    Completed,
    /// Failed; runs again at the time given.
    Retrying(Timestamp),
    /// Asked to wait; runs again at the time given, attempt not counted.
    Rescheduled(Timestamp),
    /// Out of attempts or permanently failed.
    Dead,
    /// The lease ran out before the outcome was recorded; another worker owns the job now.
    LeaseLost,
}

/// What [`Runner::run_pending`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Attempts that completed.
    pub completed: usize,
    /// Attempts that failed and will be retried.
    pub retrying: usize,
    /// Attempts that asked to wait.
    pub rescheduled: usize,
    /// Jobs that died.
    pub dead: usize,
}

impl Drained {
    fn record(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Completed => self.completed += 1,
            Outcome::Retrying(_) => self.retrying += 1,
            Outcome::Rescheduled(_) => self.rescheduled += 1,
            Outcome::Dead => self.dead += 1,
            Outcome::LeaseLost => {}
        }
    }
}

/// Claims jobs from a [`Queue`] and runs them with the handlers of a [`Registry`].
#[derive(Debug, Clone)]
pub struct Runner {
    queue: Queue,
    registry: Arc<Registry>,
}

impl Runner {
    /// A runner for `queue` with `registry`'s handlers.
    pub fn new(queue: Queue, registry: Registry) -> Self {
        let registry = Arc::new(registry);
        let erasing = registry.clone();
        queue.install_eraser(Box::new(move |kind, payload| {
            erasing.erase_secrets(kind, payload)
        }));
        Runner { queue, registry }
    }

    /// The queue this runner claims from.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// Runs jobs one after another until none is due now; for tests and the CLI, which need
    /// the queue drained deterministically without sleeping.
    pub async fn run_pending(&self) -> Result<Drained, QueueError> {
        let mut drained = Drained::default();
        while let Some(outcome) = self.run_one().await? {
            drained.record(&outcome);
        }
        Ok(drained)
    }

    /// Claims and runs one job, if one is due.
    pub async fn run_one(&self) -> Result<Option<Outcome>, QueueError> {
        match self.queue.claim().await? {
            Some(job) => self.execute(job).await.map(Some),
            None => Ok(None),
        }
    }

    /// Starts the process's workers: one claimer that leases jobs in batches (the free slots'
    /// round and one more, so one claim serves several starts and the next round is ready as
    /// slots free) and runs each in its own task as slots of `workers` free. It stops
    /// claiming when `shutdown` is cancelled, hands back what it claimed but did not start,
    /// and ends once the running jobs have finished.
    pub fn start(&self, workers: usize, shutdown: CancellationToken) -> JoinSet<()> {
        let mut set = JoinSet::new();
        let runner = self.clone();
        set.spawn(
            async move { runner.work(workers.max(1), shutdown).await }
                .instrument(tracing::info_span!("workers", workers)),
        );
        set
    }

    async fn work(&self, workers: usize, shutdown: CancellationToken) {
        let slots = Arc::new(Semaphore::new(workers));
        let mut running = JoinSet::new();
        let mut ready: VecDeque<ClaimedJob> = VecDeque::new();
        while !shutdown.is_cancelled() {
            // A slot frees when a job ends: that is when to start the next.
            let wait_for_slot = if ready.is_empty() {
                Duration::from_secs(86_400)
            } else {
                READY_HOLD
            };
            let first = tokio::select! {
                () = shutdown.cancelled() => break,
                permit = tokio::time::timeout(wait_for_slot, slots.clone().acquire_owned()) => {
                    match permit {
                        Ok(Ok(permit)) => permit,
                        Ok(Err(_closed)) => break,
                        Err(_elapsed) => {
                            // Every worker is busy for long: let other replicas have these.
                            self.hand_back(ready.drain(..)).await;
                            continue;
                        }
                    }
                },
            };
            if ready.is_empty() {
                // A claim costs about the same for one job as for many (it orders every key with
                // work), so it takes the free slots' jobs and a round ahead; what waits
                // unstarted goes back after READY_HOLD.
                let free = slots.available_permits() + 1;
                let pause = match self.queue.claim_batch(free + workers).await {
                    Ok(jobs) if !jobs.is_empty() => {
                        ready.extend(jobs);
                        None
                    }
                    Ok(_) => Some(POLL_INTERVAL),
                    Err(error) => {
                        tracing::error!(%error, "job queue unavailable");
                        Some(STORE_ERROR_PAUSE)
                    }
                };
                if let Some(pause) = pause {
                    drop(first);
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = self.queue.woken() => {}
                        () = tokio::time::sleep(pause) => {}
                    }
                    continue;
                }
            }
            let mut permit = Some(first);
            while !ready.is_empty() {
                let Some(slot) = permit
                    .take()
                    .or_else(|| slots.clone().try_acquire_owned().ok())
                else {
                    break;
                };
                let Some(job) = ready.pop_front() else { break };
                let runner = self.clone();
                running.spawn(async move {
                    let _slot = slot;
                    if let Err(error) = runner.execute(job).await {
                        tracing::error!(%error, "could not record a job's outcome");
                    }
                    // The next job of its key may start now: claim again.
                    runner.queue.wake();
                });
            }
            while running.try_join_next().is_some() {}
        }
        self.hand_back(ready.drain(..)).await;
        while running.join_next().await.is_some() {}
    }

    /// Returns claimed jobs that were not started to the queue, due at once.
    async fn hand_back(&self, jobs: impl Iterator<Item = ClaimedJob>) {
        for job in jobs {
            if let Err(error) = self.queue.hand_back(&job).await {
                tracing::error!(job_id = job.id, %error, "could not hand a job back; it runs after its lease");
            }
        }
    }

    async fn execute(&self, job: ClaimedJob) -> Result<Outcome, QueueError> {
        let span = tracing::info_span!(
            "job",
            job_id = job.id,
            kind = %job.kind,
            queue_key = %job.queue_key,
            attempt = job.attempt,
        );
        async {
            let started = std::time::Instant::now();
            let result = self.attempt(&job).await;
            let took = started.elapsed();
            let outcome = self.record(&job, result).await?;
            let label = match outcome {
                Outcome::Completed => "completed",
                Outcome::Retrying(_) => "retrying",
                Outcome::Rescheduled(_) => "rescheduled",
                Outcome::Dead => "dead",
                Outcome::LeaseLost => "lease_lost",
            };
            crate::metrics::metrics().job(&job.kind, label, took);
            Ok(outcome)
        }
        .instrument(span)
        .await
    }

    /// Runs the job's handler in its own task, under the job timeout.
    async fn attempt(&self, job: &ClaimedJob) -> Result<(), JobError> {
        let future = match self.registry.start(&job.kind, &job.payload) {
            Ok(future) => future,
            Err(StartError::UnknownKind) => {
                return Err(JobError::Failed(format!(
                    "no handler for job kind {:?} in this process",
                    job.kind
                )));
            }
            Err(StartError::BadPayload(error)) => {
                return Err(JobError::Permanent(format!(
                    "stored payload does not fit job kind {:?}: {error}",
                    job.kind
                )));
            }
        };
        let timeout = self.queue.settings().job_timeout;
        let mut task = tokio::spawn(future.in_current_span());
        match tokio::time::timeout(timeout, &mut task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) if join_error.is_panic() => Err(JobError::Failed(format!(
                "panicked: {}",
                panic_message(join_error.into_panic())
            ))),
            Ok(Err(_cancelled)) => Err(JobError::Failed("the job's task was cancelled".into())),
            Err(_elapsed) => {
                task.abort();
                Err(JobError::Failed(format!(
                    "timed out after {} s",
                    timeout.as_secs_f64()
                )))
            }
        }
    }

    async fn record(
        &self,
        job: &ClaimedJob,
        result: Result<(), JobError>,
    ) -> Result<Outcome, QueueError> {
        let outcome = match result {
            Ok(()) => {
                if self.queue.complete(job).await? {
                    tracing::info!("job completed");
                    Outcome::Completed
                } else {
                    Outcome::LeaseLost
                }
            }
            Err(JobError::RetryAt { until, reason }) => {
                match self.queue.reschedule(job, until, &reason).await? {
                    Some(at) => {
                        tracing::warn!(%reason, retry_at = %at, "job waits");
                        Outcome::Rescheduled(at)
                    }
                    None => {
                        tracing::error!(%reason, "job waited too often in a row; dead");
                        Outcome::Dead
                    }
                }
            }
            Err(JobError::Paced {
                until,
                reason,
                step_aside,
            }) => {
                let at = self.queue.pace(job, until, &reason, step_aside).await?;
                tracing::debug!(%reason, retry_at = %at, "job paced");
                Outcome::Rescheduled(at)
            }
            Err(JobError::Transient(reason)) => {
                match self.queue.retry_transient(job, &reason).await? {
                    Some(at) => {
                        tracing::warn!(%reason, retry_at = %at, "job hit a transient failure; will retry");
                        Outcome::Rescheduled(at)
                    }
                    None => {
                        tracing::error!(%reason, "job kept failing transiently; dead");
                        Outcome::Dead
                    }
                }
            }
            Err(JobError::Permanent(error)) => {
                self.queue.bury(job, &error).await?;
                tracing::error!(%error, "job failed permanently; dead");
                Outcome::Dead
            }
            Err(JobError::Failed(error)) => match self.queue.fail(job, &error).await? {
                Some(at) => {
                    tracing::warn!(%error, retry_at = %at, "job failed; will retry");
                    Outcome::Retrying(at)
                }
                None => {
                    tracing::error!(%error, "job failed on its last attempt; dead");
                    Outcome::Dead
                }
            },
        };
        if outcome == Outcome::LeaseLost {
            tracing::warn!("job finished after its lease expired; another worker owns it");
        }
        Ok(outcome)
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-text panic".to_owned()
    }
}

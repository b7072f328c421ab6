//! Running claimed jobs: each attempt runs in its own task under a timeout, so a panic or a
//! hang becomes a recorded failure instead of taking a worker down.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::queue::ClaimedJob;
use super::{JobError, Queue, QueueError, Registry, StartError};

/// How often an idle worker looks for due jobs (other replicas' jobs, retries coming due).
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How long claimed jobs wait for a free worker before they are handed back.
const READY_HOLD: Duration = Duration::from_millis(250);
/// Rounds of jobs (one per worker) a claim leases ahead at least, and at most while jobs
/// are so short that the workers wait for the claims.
const MIN_LEASE_ROUNDS: usize = 2;
const MAX_LEASE_ROUNDS: usize = 8;
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
        queue.install_eraser(registry.eraser());
        Runner {
            queue,
            registry: Arc::new(registry),
        }
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

    /// Starts the process's workers: one claimer that leases jobs in batches and runs each
    /// in its own task as slots of `workers` free. The next claim runs while the workers run
    /// the last one's jobs (once less than a round is left); a claim tops the lease up to two
    /// rounds, more while jobs end faster than claims come back (see [`next_lease`]), and
    /// after leased jobs went back unstarted nothing more is claimed until a worker frees.
    /// It stops claiming when `shutdown` is cancelled, hands back what it claimed but did
    /// not start, and ends once the running jobs have finished.
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
        // At most one claim in flight, running while the workers run what the last one leased.
        let mut claiming: JoinSet<(usize, Result<Vec<ClaimedJob>, QueueError>)> = JoinSet::new();
        // After a claim found nothing (or the store failed): until when to wait for a wake.
        let mut resting: Option<Instant> = None;
        let mut hold_until = Instant::now() + READY_HOLD;
        let mut lease_rounds = MIN_LEASE_ROUNDS;
        // Every worker stayed busy past READY_HOLD: claim nothing more until one frees.
        let mut saturated = false;
        loop {
            let started = self.start_ready(&slots, &mut ready, &mut running);
            if started || ready.is_empty() {
                hold_until = Instant::now() + READY_HOLD;
            }
            // Claim the next rounds while this one runs, once less than a round is leased
            // ahead: a claim costs about the same for one job as for many (it orders every
            // key with work), so it tops the lease up to `lease_rounds` rounds.
            if claiming.is_empty() && resting.is_none() && !saturated && ready.len() < workers {
                let want = (lease_rounds * workers).saturating_sub(ready.len()).max(1);
                let queue = self.queue.clone();
                claiming.spawn(async move { (want, queue.claim_batch(want).await) });
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                Some(claimed) = claiming.join_next(), if !claiming.is_empty() => {
                    match claimed {
                        Ok((wanted, Ok(jobs))) if !jobs.is_empty() => {
                            let full = jobs.len() >= wanted;
                            lease_rounds = next_lease(lease_rounds, full, slots.available_permits());
                            ready.extend(jobs);
                        }
                        Ok((_, Ok(_))) => resting = Some(Instant::now() + POLL_INTERVAL),
                        Ok((_, Err(error))) => {
                            tracing::error!(%error, "job queue unavailable");
                            resting = Some(Instant::now() + STORE_ERROR_PAUSE);
                        }
                        Err(error) => {
                            tracing::error!(%error, "the claim's task failed");
                            resting = Some(Instant::now() + STORE_ERROR_PAUSE);
                        }
                    }
                }
                // A job ended: a slot is free, and the next job of its key may start.
                Some(_) = running.join_next(), if !running.is_empty() => {
                    resting = None;
                    saturated = false;
                }
                () = self.queue.woken(), if resting.is_some() => resting = None,
                () = tokio::time::sleep_until(resting.unwrap_or_else(Instant::now)),
                    if resting.is_some() => resting = None,
                // Every worker is busy for long: let other replicas have these.
                () = tokio::time::sleep_until(hold_until), if !ready.is_empty() => {
                    lease_rounds = MIN_LEASE_ROUNDS;
                    saturated = true;
                    self.hand_back(ready.drain(..)).await;
                }
            }
        }
        self.hand_back(ready.drain(..)).await;
        while let Some(claimed) = claiming.join_next().await {
            if let Ok((_, Ok(jobs))) = claimed {
                self.hand_back(jobs.into_iter()).await;
            }
        }
        while running.join_next().await.is_some() {}
    }

    /// Starts leased jobs in the free slots, in lease order; whether any started.
    fn start_ready(
        &self,
        slots: &Arc<Semaphore>,
        ready: &mut VecDeque<ClaimedJob>,
        running: &mut JoinSet<()>,
    ) -> bool {
        let mut started = false;
        while !ready.is_empty() {
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                break;
            };
            let Some(job) = ready.pop_front() else { break };
            let runner = self.clone();
            running.spawn(async move {
                let _slot = slot;
                if let Err(error) = runner.execute(job).await {
                    tracing::error!(%error, "could not record a job's outcome");
                }
            });
            started = true;
        }
        started
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

/// The lease for the next claim, from how the last one went: workers idle when it came back
/// although it got all it asked for means jobs end faster than claims come, so the next
/// claim takes more (doubling, to [`MAX_LEASE_ROUNDS`]); every worker busy means the lease
/// is enough, so it shrinks by a round (to [`MIN_LEASE_ROUNDS`]).
fn next_lease(rounds: usize, full: bool, free_workers: usize) -> usize {
    if full && free_workers > 0 {
        (rounds * 2).min(MAX_LEASE_ROUNDS)
    } else if free_workers == 0 {
        rounds.saturating_sub(1).max(MIN_LEASE_ROUNDS)
    } else {
        rounds
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

#[cfg(test)]
mod tests {
    use super::{MAX_LEASE_ROUNDS, MIN_LEASE_ROUNDS, next_lease};

    #[test]
    fn the_lease_grows_while_workers_wait_on_claims_and_shrinks_while_they_are_busy() {
        // Workers idle when a full claim came back: jobs end faster than claims; double.
        assert_eq!(next_lease(2, true, 3), 4);
        assert_eq!(next_lease(4, true, 1), 8);
        assert_eq!(next_lease(MAX_LEASE_ROUNDS, true, 4), MAX_LEASE_ROUNDS);
        // The queue had fewer jobs than asked: more would not have come; keep.
        assert_eq!(next_lease(4, false, 2), 4);
        // Every worker busy: the lease is enough; a round less, never under the floor.
        assert_eq!(next_lease(8, true, 0), 7);
        assert_eq!(next_lease(MIN_LEASE_ROUNDS, false, 0), MIN_LEASE_ROUNDS);
    }
}

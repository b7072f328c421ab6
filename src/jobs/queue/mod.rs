//! Job rows: enqueue inside the caller's transaction, claim with a lease, and record how each
//! attempt ended.
//!
//! Claiming ([`claim`]) takes, several at a time, due jobs whose queue key has no earlier
//! unfinished job and no running job, fairly: installations in turn, then repositories in
//! turn, urgent work first within an installation. PostgreSQL locks the chosen keys with
//! `SKIP LOCKED` so replicas and workers do not wait on each other; SQLite claims inside
//! `BEGIN IMMEDIATE`, which serialises writers. A partial unique index (one `running` row per
//! key) backs the per-key rule in the database itself, so even a race between replicas cannot
//! start two jobs of one repository.

mod claim;
mod completions;
mod rows;
mod sql;
#[cfg(test)]
mod tests;

use super::BackgroundJob;
/// Longest wait a rate limit or retry hint can impose on one job.
pub use super::backoff::MAX_WAIT;
use super::backoff::{random_jitter, retry_delay};
use crate::clock::SharedClock;
pub use crate::settings::{DEFAULT_JOB_TIMEOUT, DEFAULT_MAX_ATTEMPTS, QueueSettings};
use crate::store::{Backend, Db};
use jiff::Timestamp;
pub use rows::{ClaimedJob, Enqueued, JobId, JobRow, JobState, QueueCounts};
use rows::{JobRecord, Retry};
use sql::{ADD_QUEUE_KEY_SQLITE, ENQUEUE_POSTGRES, INSERT_JOB_SQLITE, QUEUE_KEYS_LOCK};
use sqlx::{Any, AnyConnection, Transaction};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long past its timeout a claimed job stays leased: by then its worker has given up on
/// it, so another worker may safely take it over.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// First retry delay (before jitter); doubles per attempt.
const RETRY_BASE: Duration = Duration::from_secs(5);

/// Longest retry delay.
const RETRY_CAP: Duration = Duration::from_secs(3600);

/// Shortest wait for a job paced by the write budget.
const MIN_PACE: Duration = Duration::from_millis(100);

/// Shortest wait for a job that asked to run again later, so a past or zero time cannot
/// become a hot loop.
const MIN_RESCHEDULE: Duration = Duration::from_secs(1);

/// Rate-limit waits and transient failures in a row after which a job is dead. With the
/// waits doubling up to an hour this is most of a day of an upstream refusing it.
pub const MAX_WAITS_IN_A_ROW: u32 = 24;

/// Errors from the queue's own bookkeeping (not from the jobs it runs).
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The store failed.
    #[error("job queue store error: {0}")]
    Store(#[from] sqlx::Error),
    /// A job could not be serialised.
    #[error("cannot serialise job {kind}: {source}")]
    Serialize {
        /// The job kind.
        kind: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
}

/// The queue over the store. Cheap to clone.
#[derive(Clone)]
pub struct Queue {
    db: Db,
    clock: SharedClock,
    settings: QueueSettings,
    wake: Arc<Notify>,
    completions: Arc<completions::Completions>,
    /// Rewrites a dead job's payload without its credentials (installed by the runner, which
    /// knows the kinds): a dead job is kept for operators, its reply URLs and tokens are not.
    eraser: Arc<std::sync::OnceLock<Eraser>>,
}

/// A dead job's payload without its credentials, by kind; `None` to keep it as it is.
pub(crate) type Eraser = Box<dyn Fn(&str, &str) -> Option<String> + Send + Sync>;

impl std::fmt::Debug for QueueEraser<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "installed"
        } else {
            "none"
        })
    }
}

struct QueueEraser<'a>(&'a std::sync::OnceLock<Eraser>);

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("db", &self.db)
            .field("settings", &self.settings)
            .field("eraser", &QueueEraser(&self.eraser))
            .finish()
    }
}

impl Queue {
    /// Installs how dead jobs' payloads lose their credentials (once; later calls are
    /// ignored).
    pub(crate) fn install_eraser(&self, eraser: Eraser) {
        let _ = self.eraser.set(eraser);
    }

    /// `payload` of a job of `kind` without credentials, when it carries any.
    fn erased(&self, kind: &str, payload: &str) -> Option<String> {
        self.eraser.get().and_then(|erase| erase(kind, payload))
    }

    /// A queue over `db`, reading time from `clock`.
    pub fn new(db: Db, clock: SharedClock, settings: QueueSettings) -> Self {
        Queue {
            db,
            clock,
            settings,
            wake: Arc::new(Notify::new()),
            completions: Arc::default(),
            eraser: Arc::default(),
        }
    }

    /// The store the queue keeps its rows in.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The queue's settings.
    pub fn settings(&self) -> &QueueSettings {
        &self.settings
    }

    /// The clock the queue schedules by.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Adds `job` through `conn`, which may be inside the caller's transaction: the job
    /// exists exactly when that transaction commits. Call [`Queue::wake`] after the commit.
    pub async fn enqueue<J: BackgroundJob>(
        &self,
        conn: &mut AnyConnection,
        job: &J,
    ) -> Result<Enqueued, QueueError> {
        Ok(self.enqueue_with_hint(conn, job).await?.0)
    }

    /// Like [`Queue::enqueue`], also saying whether the new job may start at once (on
    /// PostgreSQL, `false` when older work of its key is waiting or running): waking idle
    /// workers for a job that must wait only costs them a fruitless claim.
    pub async fn enqueue_with_hint<J: BackgroundJob>(
        &self,
        conn: &mut AnyConnection,
        job: &J,
    ) -> Result<(Enqueued, bool), QueueError> {
        let payload = serde_json::to_string(job).map_err(|source| QueueError::Serialize {
            kind: J::KIND,
            source,
        })?;
        let max_attempts = i64::from(J::MAX_ATTEMPTS.unwrap_or(self.settings.max_attempts));
        let now = self.now_millis();
        let queue_key = job.queue_key();
        let postgres = self.db.backend() == Backend::Postgres;
        if !postgres {
            // The key row first: claimers find work through it. DO NOTHING takes no row lock,
            // so a busy repository's deliveries do not queue behind each other here.
            sqlx::query(ADD_QUEUE_KEY_SQLITE)
                .bind(&queue_key)
                .bind(now)
                .bind(fairness_group(&queue_key))
                .execute(&mut *conn)
                .await?;
        }
        // PostgreSQL adds the key in the same statement, given its group as `$8`.
        let insert = if postgres {
            ENQUEUE_POSTGRES
        } else {
            INSERT_JOB_SQLITE
        };
        let mut query = sqlx::query_as(insert)
            .bind(J::KIND)
            .bind(&queue_key)
            .bind(job.dedupe_key())
            .bind(payload)
            .bind(max_attempts)
            .bind(now)
            .bind(J::PRIORITY.rank());
        if postgres {
            query = query.bind(fairness_group(&queue_key));
        }
        // (id, 1 when older work of the key is ahead): integers decode alike on both.
        let inserted: Option<(i64, i64)> = query.fetch_optional(&mut *conn).await?;
        Ok(match inserted {
            Some((id, behind)) => (Enqueued::New(id), behind == 0),
            None => (Enqueued::Duplicate, false),
        })
    }

    /// Adds many jobs through `conn` in two statements (their keys, then the jobs): the
    /// intake's group commit. Returns whether any was added (wake a worker after the commit).
    pub async fn enqueue_many<J: BackgroundJob>(
        &self,
        conn: &mut AnyConnection,
        jobs: &[&J],
    ) -> Result<bool, QueueError> {
        if jobs.is_empty() {
            return Ok(false);
        }
        let now = self.now_millis();
        let max_attempts = i64::from(J::MAX_ATTEMPTS.unwrap_or(self.settings.max_attempts));
        let mut keys: Vec<String> = jobs.iter().map(|j| j.queue_key()).collect();
        keys.sort();
        keys.dedup();
        let key_rows = crate::store::value_rows(keys.len(), 3);
        let add_keys = match self.db.backend() {
            Backend::Sqlite => format!(
                "INSERT INTO queue_keys (queue_key, created_at, group_key) VALUES {key_rows} \
                 ON CONFLICT (queue_key) DO NOTHING"
            ),
            // The shared advisory lock as in `ADD_QUEUE_KEY_POSTGRES`.
            Backend::Postgres => format!(
                "INSERT INTO queue_keys (queue_key, created_at, group_key) SELECT v.k, v.t, v.g \
                 FROM (SELECT pg_advisory_xact_lock_shared({QUEUE_KEYS_LOCK})) AS guard, \
                      (VALUES {key_rows}) AS v(k, t, g) \
                 ON CONFLICT (queue_key) DO NOTHING"
            ),
        };
        let mut query = sqlx::query(sqlx::AssertSqlSafe(add_keys));
        for key in &keys {
            query = query
                .bind(key.clone())
                .bind(now)
                .bind(fairness_group(key).to_owned());
        }
        query.execute(&mut *conn).await?;
        let insert = format!(
            "INSERT INTO jobs (kind, queue_key, dedupe_key, payload, state, attempts, \
                 max_attempts, run_at, created_at, updated_at, priority) VALUES {} \
             ON CONFLICT (dedupe_key) WHERE state = 'queued' DO NOTHING",
            crate::store::value_rows(jobs.len(), 11)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(insert));
        for job in jobs {
            let payload = serde_json::to_string(job).map_err(|source| QueueError::Serialize {
                kind: J::KIND,
                source,
            })?;
            query = query
                .bind(J::KIND)
                .bind(job.queue_key())
                .bind(job.dedupe_key())
                .bind(payload)
                .bind("queued")
                .bind(0_i64)
                .bind(max_attempts)
                .bind(now)
                .bind(now)
                .bind(now)
                .bind(J::PRIORITY.rank());
        }
        let done = query.execute(&mut *conn).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Adds `job` in a transaction of its own and wakes the workers.
    pub async fn enqueue_now<J: BackgroundJob>(&self, job: &J) -> Result<Enqueued, QueueError> {
        let (enqueued, runnable) = match self.db.backend() {
            // One statement is its own transaction: one round trip, one commit.
            Backend::Postgres => {
                let mut conn = self.db.pool().acquire().await?;
                self.enqueue_with_hint(&mut conn, job).await?
            }
            // Two statements (the key, the job), one transaction.
            Backend::Sqlite => {
                let mut tx = self.begin_write().await?;
                let done = self.enqueue_with_hint(&mut tx, job).await?;
                tx.commit().await?;
                done
            }
        };
        if runnable {
            self.wake();
        }
        Ok(enqueued)
    }

    /// Tells an idle worker in this process to look for work now rather than at its next
    /// poll (one, not all: one new job needs one worker).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Records success: the job is removed. `false` if the lease was lost meanwhile.
    /// Jobs finishing together are deleted together, in one statement and one commit.
    pub async fn complete(&self, job: &ClaimedJob) -> Result<bool, QueueError> {
        self.completions.complete(&self.db, job).await
    }

    /// Hands a claimed job back unstarted: its attempt is not counted and it is due at once
    /// (as `retrying`, so a queued copy with its dedupe key cannot collide with it).
    pub async fn hand_back(&self, job: &ClaimedJob) -> Result<(), QueueError> {
        sqlx::query(
            "UPDATE jobs SET state = 'retrying', attempts = attempts - 1, lease_token = NULL, \
                    locked_until = NULL, updated_at = $3 \
             WHERE id = $1 AND lease_token = $2",
        )
        .bind(job.id)
        .bind(&job.lease_token)
        .bind(self.now_millis())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Records a failed attempt: retried after a backoff, or dead when out of attempts.
    /// Returns the time of the next attempt, or `None` when the job is now dead.
    pub async fn fail(
        &self,
        job: &ClaimedJob,
        error: &str,
    ) -> Result<Option<Timestamp>, QueueError> {
        if job.attempt >= job.max_attempts {
            self.bury(job, error).await?;
            return Ok(None);
        }
        let delay = retry_delay(job.attempt, RETRY_BASE, RETRY_CAP, random_jitter());
        let run_at = self.now_millis().saturating_add(duration_millis(delay));
        self.release(job, run_at, error, Retry::Failure).await?;
        Ok(Some(from_millis(run_at)))
    }

    /// Records an attempt that must wait (rate limit) until `until`; it does not count
    /// against the job's attempts. The wait is clamped: never shorter than a floor that
    /// doubles with each wait or outage in a row (so `retry-after: 0` cannot loop), never
    /// longer than [`MAX_WAIT`] (so an absurd hint cannot park a job for ever). After
    /// [`MAX_WAITS_IN_A_ROW`] of them the job is dead. Returns `None` then.
    pub async fn reschedule(
        &self,
        job: &ClaimedJob,
        until: Timestamp,
        reason: &str,
    ) -> Result<Option<Timestamp>, QueueError> {
        let waits = job.transient_retries.saturating_add(1);
        if waits > MAX_WAITS_IN_A_ROW {
            self.bury(job, &give_up(waits, reason)).await?;
            return Ok(None);
        }
        let now = self.now_millis();
        let floor = MIN_RESCHEDULE
            .saturating_mul(1u32 << waits.saturating_sub(1).min(20))
            .min(MAX_WAIT);
        let run_at = until.as_millisecond().clamp(
            now.saturating_add(duration_millis(floor)),
            now.saturating_add(duration_millis(MAX_WAIT)),
        );
        self.release(job, run_at, reason, Retry::Wait).await?;
        Ok(Some(from_millis(run_at)))
    }

    /// Records an attempt held by our own budget of GitHub calls until `until` (at least
    /// [`MIN_PACE`] away, at most [`MAX_WAIT`]): neither an attempt nor a wait in a row is
    /// counted, since the budget refills by itself. The job keeps its place, unless it
    /// `step_aside`s (a long wait) for the later jobs of its key.
    pub async fn pace(
        &self,
        job: &ClaimedJob,
        until: Timestamp,
        reason: &str,
        step_aside: bool,
    ) -> Result<Timestamp, QueueError> {
        let now = self.now_millis();
        let run_at = until.as_millisecond().clamp(
            now.saturating_add(duration_millis(MIN_PACE)),
            now.saturating_add(duration_millis(MAX_WAIT)),
        );
        let why = if step_aside {
            Retry::PacedAside
        } else {
            Retry::Paced
        };
        self.release(job, run_at, reason, why).await?;
        Ok(from_millis(run_at))
    }

    /// Records a transient failure: retried after a backoff that grows with each transient
    /// failure in a row; the attempt is not counted, but after [`MAX_WAITS_IN_A_ROW`] the
    /// job is dead (an upstream that always answers 5xx must not hold a job for ever).
    /// Returns `None` then.
    pub async fn retry_transient(
        &self,
        job: &ClaimedJob,
        reason: &str,
    ) -> Result<Option<Timestamp>, QueueError> {
        let waits = job.transient_retries.saturating_add(1);
        if waits > MAX_WAITS_IN_A_ROW {
            self.bury(job, &give_up(waits, reason)).await?;
            return Ok(None);
        }
        let delay = retry_delay(waits, RETRY_BASE, RETRY_CAP, random_jitter());
        let run_at = self.now_millis().saturating_add(duration_millis(delay));
        self.release(job, run_at, reason, Retry::Transient).await?;
        Ok(Some(from_millis(run_at)))
    }

    /// Marks the job dead at once, keeping `error` (and its payload, credentials erased).
    pub async fn bury(&self, job: &ClaimedJob, error: &str) -> Result<(), QueueError> {
        let payload = self
            .erased(&job.kind, &job.payload)
            .unwrap_or(job.payload.clone());
        sqlx::query(
            "UPDATE jobs SET state = 'dead', last_error = $3, lease_token = NULL, \
                    locked_until = NULL, updated_at = $4, payload = $5 \
             WHERE id = $1 AND lease_token = $2",
        )
        .bind(job.id)
        .bind(&job.lease_token)
        .bind(error)
        .bind(self.now_millis())
        .bind(payload)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// A stored job's payload (operators' tools and tests).
    pub async fn payload(&self, id: JobId) -> Result<Option<String>, QueueError> {
        Ok(sqlx::query_scalar("SELECT payload FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?)
    }

    /// Hands the job back to run again at `run_at`, if this worker still holds its lease.
    async fn release(
        &self,
        job: &ClaimedJob,
        run_at: i64,
        error: &str,
        why: Retry,
    ) -> Result<(), QueueError> {
        // The claim counted an attempt; waits and outages give it back.
        let (refund_attempt, transient_step) = match why {
            Retry::Failure => (0_i64, 0_i64),
            Retry::Wait | Retry::Transient => (1, 1),
            Retry::Paced | Retry::PacedAside => (1, 0),
        };
        // A failed job stops holding up its key: later jobs run, and it is retried after
        // them. A rate-limited or paced one keeps its place (whatever follows would wait too).
        let parked = i64::from(!matches!(why, Retry::Wait | Retry::Paced));
        sqlx::query(
            "UPDATE jobs SET state = 'retrying', run_at = $3, last_error = $4, \
                    attempts = attempts - $5, transient_retries = transient_retries + $6, \
                    parked = CASE WHEN $8 = 1 THEN 1 ELSE parked END, \
                    lease_token = NULL, locked_until = NULL, updated_at = $7 \
             WHERE id = $1 AND lease_token = $2",
        )
        .bind(job.id)
        .bind(&job.lease_token)
        .bind(run_at)
        .bind(error)
        .bind(refund_attempt)
        .bind(transient_step)
        .bind(self.now_millis())
        .bind(parked)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Forgets queue keys made before `before` that have no unfinished job (claims never read
    /// them, but they would pile up). Returns how many were forgotten.
    pub async fn forget_idle_keys(&self, before: Timestamp) -> Result<u64, QueueError> {
        let mut tx = self.begin_write().await?;
        if self.db.backend() == Backend::Postgres {
            // Waits out every enqueue in flight (they hold the lock shared), so a job not yet
            // committed cannot lose its key. SQLite's writers are serialised already.
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(QUEUE_KEYS_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let done = sqlx::query(
            "DELETE FROM queue_keys WHERE created_at < $1 \
               AND NOT EXISTS (SELECT 1 FROM jobs j \
                               WHERE j.queue_key = queue_keys.queue_key AND j.state <> 'dead')",
        )
        .bind(before.as_millisecond())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// How many jobs are in each state.
    pub async fn counts(&self) -> Result<QueueCounts, QueueError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                .fetch_all(self.db.pool())
                .await?;
        let mut counts = QueueCounts::default();
        for (state, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match JobState::from_db(&state) {
                Some(JobState::Queued) => counts.queued = n,
                Some(JobState::Running) => counts.running = n,
                Some(JobState::Retrying) => counts.retrying = n,
                Some(JobState::Dead) => counts.dead = n,
                None => {}
            }
        }
        Ok(counts)
    }

    /// How long the job that has been due the longest has waited (none when nothing is due).
    pub async fn oldest_due(&self) -> Result<Option<Duration>, QueueError> {
        let now = self.now_millis();
        let (oldest,): (Option<i64>,) = sqlx::query_as(
            "SELECT MIN(run_at) FROM jobs WHERE state IN ('queued', 'retrying') AND run_at <= $1",
        )
        .bind(now)
        .fetch_one(self.db.pool())
        .await?;
        Ok(oldest
            .map(|at| Duration::from_millis(u64::try_from(now.saturating_sub(at)).unwrap_or(0))))
    }

    /// One stored job, if it still exists (finished jobs are removed).
    pub async fn job(&self, id: JobId) -> Result<Option<JobRow>, QueueError> {
        let row = sqlx::query_as::<_, JobRecord>(
            "SELECT id, kind, queue_key, state, attempts, max_attempts, run_at, last_error, \
                    parked FROM jobs WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.map(JobRow::from))
    }

    /// All stored jobs in enqueue order, for operators and tests.
    pub async fn jobs(&self) -> Result<Vec<JobRow>, QueueError> {
        let rows = sqlx::query_as::<_, JobRecord>(
            "SELECT id, kind, queue_key, state, attempts, max_attempts, run_at, last_error, \
                    parked FROM jobs ORDER BY id",
        )
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.into_iter().map(JobRow::from).collect())
    }

    /// A write transaction: SQLite takes the writer lock at once (`BEGIN IMMEDIATE`) so two
    /// claimers cannot both read before either writes.
    async fn begin_write(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.db.backend() {
            Backend::Sqlite => self.db.pool().begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.db.pool().begin().await,
        }
    }

    fn now_millis(&self) -> i64 {
        self.clock.now().as_millisecond()
    }
}

/// The group a queue key's work is shared fairly within: the account in `owner/name` (an
/// installation belongs to one account), after any `kind:` prefix; the key itself otherwise.
pub fn fairness_group(queue_key: &str) -> &str {
    let key = queue_key.rsplit(':').next().unwrap_or(queue_key);
    match key.split_once('/') {
        Some((owner, _)) if !owner.is_empty() => owner,
        _ => queue_key,
    }
}

fn give_up(waits: u32, reason: &str) -> String {
    format!(
        "gave up after {} waits and outages in a row; last: {reason}",
        waits - 1
    )
}

fn duration_millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn from_millis(millis: i64) -> Timestamp {
    Timestamp::from_millisecond(millis).unwrap_or(Timestamp::MAX)
}

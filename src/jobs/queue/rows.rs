//! The queue's rows and what a claim returns: job states, counts, a claimed job with its lease.

use super::from_millis;
use jiff::Timestamp;
use sqlx::FromRow;

/// A job row's id.
pub type JobId = i64;

/// What `enqueue` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job row.
    New(JobId),
    /// A job with the same dedupe key is already waiting to start; nothing was added.
    Duplicate,
}

/// The life-cycle states of a stored job (finished jobs are deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for its first run.
    Queued,
    /// Leased by a worker.
    Running,
    /// Failed or asked to wait; runs again at `run_at`.
    Retrying,
    /// Out of attempts or permanently failed; kept with its last error.
    Dead,
}

impl JobState {
    pub(super) fn from_db(state: &str) -> Option<Self> {
        Some(match state {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "retrying" => JobState::Retrying,
            "dead" => JobState::Dead,
            _ => return None,
        })
    }
}

/// How many stored jobs are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Waiting for their first run.
    pub queued: u64,
    /// Leased by a worker.
    pub running: u64,
    /// Waiting to run again.
    pub retrying: u64,
    /// Dead, kept for operators.
    pub dead: u64,
}

/// A stored job as operators and tests see it.
#[derive(Debug, Clone)]
pub struct JobRow {
    /// Row id.
    pub id: JobId,
    /// Job kind.
    pub kind: String,
    /// Serialisation key (the repository).
    pub queue_key: String,
    /// Current state.
    pub state: JobState,
    /// Attempts made (rate-limit waits not counted).
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// When it may run next.
    pub run_at: Timestamp,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// It failed and no longer holds up the later jobs of its key.
    pub parked: bool,
}

#[derive(FromRow)]
pub(super) struct JobRecord {
    pub(super) id: i64,
    pub(super) kind: String,
    pub(super) queue_key: String,
    pub(super) state: String,
    pub(super) attempts: i64,
    pub(super) max_attempts: i64,
    pub(super) run_at: i64,
    pub(super) last_error: Option<String>,
    pub(super) parked: i64,
}

impl From<JobRecord> for JobRow {
    fn from(r: JobRecord) -> Self {
        JobRow {
            id: r.id,
            kind: r.kind,
            queue_key: r.queue_key,
            state: JobState::from_db(&r.state).unwrap_or(JobState::Dead),
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            max_attempts: u32::try_from(r.max_attempts).unwrap_or(0),
            run_at: from_millis(r.run_at),
            last_error: r.last_error,
            parked: r.parked != 0,
        }
    }
}

/// A job leased to this worker; only the lease holder can record its outcome.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// Row id.
    pub id: JobId,
    /// Job kind.
    pub kind: String,
    /// Serialisation key.
    pub queue_key: String,
    /// The stored payload (JSON).
    pub payload: String,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Transient failures in a row so far.
    pub transient_retries: u32,
    pub(super) lease_token: String,
}

/// A key's job that may start now, as the claim's first look finds it.
#[derive(FromRow)]
pub(super) struct Candidate {
    pub(super) id: i64,
    pub(super) state: String,
    pub(super) attempts: i64,
    pub(super) max_attempts: i64,
}

/// A job the claim started (its attempt already counted).
#[derive(FromRow)]
pub(super) struct Started {
    pub(super) id: i64,
    pub(super) kind: String,
    pub(super) queue_key: String,
    pub(super) payload: String,
    pub(super) attempts: i64,
    pub(super) max_attempts: i64,
    pub(super) transient_retries: i64,
}

impl Started {
    pub(super) fn into_claimed(self, lease_token: &str) -> ClaimedJob {
        ClaimedJob {
            id: self.id,
            kind: self.kind,
            queue_key: self.queue_key,
            payload: self.payload,
            attempt: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            max_attempts: u32::try_from(self.max_attempts).unwrap_or(0),
            transient_retries: u32::try_from(self.transient_retries).unwrap_or(0),
            lease_token: lease_token.to_owned(),
        }
    }
}

/// A row of PostgreSQL's one-statement claim (see `CLAIM_POSTGRES`): `what` 0 a started
/// job, 1 an expired one out of attempts (to bury), 2 the count of candidates seen (in `id`).
#[derive(FromRow)]
pub(super) struct ClaimRow {
    pub(super) what: i64,
    #[sqlx(flatten)]
    pub(super) job: Started,
}

impl ClaimRow {
    pub(super) fn into_candidate(self) -> Candidate {
        Candidate {
            id: self.job.id,
            state: "running".to_owned(),
            attempts: self.job.attempts,
            max_attempts: self.job.max_attempts,
        }
    }
}

/// Why a job goes back to `retrying`.
#[derive(Clone, Copy)]
pub(super) enum Retry {
    /// It failed: the attempt counts.
    Failure,
    /// It must wait (rate limit): the attempt does not count.
    Wait,
    /// A dependency is down: the attempt does not count, and the outage backoff grows.
    Transient,
    /// Our own budget of GitHub calls holds it for a moment: nothing is counted, and it
    /// keeps its place.
    Paced,
    /// The same for long (until the primary budget's reset): it steps aside for the later
    /// jobs of its key.
    PacedAside,
}

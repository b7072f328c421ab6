//! The durable job queue: every accepted webhook or command becomes a job row, written in the
//! same transaction as whatever made it necessary, and workers run it later with retries.
//!
//! - [`queue`] owns the rows: enqueue, claim with a lease, complete, retry, bury, counts.
//! - [`worker`] runs claimed jobs: timeout, panic capture, backoff, the worker loop and
//!   [`worker::Runner::run_pending`] for tests and the CLI.
//!
//! Guarantees (tested on SQLite and PostgreSQL): a job runs to completion at most once at a
//! time and is not lost when a worker dies (its lease expires and another worker takes it);
//! jobs sharing a queue key run one at a time in enqueue order.

pub mod backoff;
pub mod queue;
pub mod worker;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use jiff::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use queue::{
    Enqueued, JobId, JobRow, JobState, Queue, QueueCounts, QueueError, QueueSettings,
    fairness_group,
};
pub use worker::{Drained, Outcome, Runner};

/// A kind of work the queue can carry. The value itself is the payload (stored as JSON).
pub trait BackgroundJob: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Stable name stored with each row; never rename one that may still be queued.
    const KIND: &'static str;

    /// Attempts before the job is marked dead; `None` takes the queue's setting.
    const MAX_ATTEMPTS: Option<u32> = None;

    /// Whether someone is waiting on this work (see [`Priority`]).
    const PRIORITY: Priority = Priority::Routine;

    /// What the job needs to run (clients, store); given when the kind is registered.
    type Context: Clone + Send + Sync + 'static;

    /// Jobs with the same key run one at a time, in enqueue order (usually the repository).
    fn queue_key(&self) -> String;

    /// If set, enqueueing while an identical-key job is still waiting to start adds nothing.
    fn dedupe_key(&self) -> Option<String> {
        None
    }

    /// Forgets the credentials the job carries (a reply URL, an interaction token): called
    /// on a copy when the job dies, so a dead job kept for operators holds none.
    fn erase_secrets(&mut self) {}

    /// Does the work.
    fn run(
        self,
        context: Self::Context,
    ) -> impl Future<Output = Result<(), JobError>> + Send + 'static;
}

/// Which work goes first within an installation, and which may spend the last of its GitHub
/// budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Someone is waiting: commands and their answers, releases, deployments. Claimed before
    /// the installation's routine work, and may use GitHub's reserve.
    Urgent,
    /// Draft refreshes, notifications, checks, housekeeping: waits behind urgent work of its
    /// installation, and for GitHub's budget to reset when only the reserve is left.
    Routine,
}

impl Priority {
    /// As stored in the queue (lower goes first).
    pub fn rank(self) -> i64 {
        match self {
            Priority::Urgent => 0,
            Priority::Routine => 1,
        }
    }

    /// The priority of the job this task is running; work outside a job (a webhook's intake,
    /// the command line) has a person waiting on it, so it counts as urgent.
    pub fn current() -> Priority {
        RUNNING_PRIORITY
            .try_with(|p| *p)
            .unwrap_or(Priority::Urgent)
    }

    /// Runs `work` as work of this priority (what [`Priority::current`] answers inside it).
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        RUNNING_PRIORITY.scope(self, work).await
    }
}

tokio::task_local! {
    static RUNNING_PRIORITY: Priority;
}

/// Why a job did not finish, and so what the queue does next.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Failed; retried with backoff, and counted against the job's attempts.
    #[error("{0}")]
    Failed(String),
    /// Must wait (a rate limit); runs again at `until`, and the attempt is not counted.
    #[error("waiting until {until}: {reason}")]
    RetryAt {
        /// When to run again.
        until: Timestamp,
        /// Why, for the job's record.
        reason: String,
    },
    /// Held back by our own budget of GitHub calls, which refills by itself: runs again at
    /// `until`; neither an attempt nor a wait in a row is counted (a release commenting on
    /// 200 pull requests waits for its budget many times, making progress each time).
    #[error("held until {until}: {reason}")]
    Paced {
        /// When the budget allows the call.
        until: Timestamp,
        /// Which budget.
        reason: String,
        /// A long wait (routine work at the primary budget's reserve): the job steps aside,
        /// so the later work of its key (a command) runs meanwhile; a short one keeps its
        /// place.
        step_aside: bool,
    },
    /// A dependency is down (5xx, timeout); retried with growing backoff, and not counted
    /// against the job's attempts, since the job itself is fine.
    #[error("{0}")]
    Transient(String),
    /// Can never succeed (the payload is invalid, the thing is gone); dead at once.
    #[error("{0}")]
    Permanent(String),
}

/// A job that cannot enqueue its follow-up failed this attempt; it is retried.
impl From<QueueError> for JobError {
    fn from(error: QueueError) -> Self {
        JobError::Failed(error.to_string())
    }
}

impl From<anyhow::Error> for JobError {
    fn from(error: anyhow::Error) -> Self {
        JobError::Failed(format!("{error:#}"))
    }
}

/// A started job's future.
pub(crate) type JobFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;
type StartJob = Box<dyn Fn(&str) -> Result<JobFuture, serde_json::Error> + Send + Sync>;
type EraseJob = std::sync::Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Which code runs each job kind; built once at start-up.
#[derive(Default)]
pub struct Registry {
    handlers: HashMap<&'static str, StartJob>,
    erasers: HashMap<&'static str, EraseJob>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.handlers.keys()).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The registered job kinds.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<&'static str> = self.handlers.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }

    /// Registers job kind `J`, to run with `context`.
    pub fn register<J: BackgroundJob>(mut self, context: J::Context) -> Self {
        let start: StartJob = Box::new(move |payload| {
            let job: J = serde_json::from_str(payload)?;
            Ok(Box::pin(J::PRIORITY.scope(job.run(context.clone()))))
        });
        self.handlers.insert(J::KIND, start);
        let erase: EraseJob = std::sync::Arc::new(|payload: &str| {
            let mut job: J = serde_json::from_str(payload).ok()?;
            job.erase_secrets();
            let erased = serde_json::to_string(&job).ok()?;
            (erased != payload).then_some(erased)
        });
        self.erasers.insert(J::KIND, erase);
        self
    }

    /// What the queue uses to take credentials out of a job's payload before keeping it dead:
    /// the erasers alone. It must not hold the registry, whose handlers hold contexts that
    /// hold the queue: that cycle kept every store's connections open for the life of the
    /// process (harmless once in production, but each test's pool leaked until PostgreSQL
    /// refused new clients).
    pub(crate) fn eraser(&self) -> queue::Eraser {
        let erasers = self.erasers.clone();
        Box::new(move |kind, payload| erasers.get(kind).and_then(|erase| erase(payload)))
    }

    /// Starts the job of `kind` from its stored payload.
    pub(crate) fn start(&self, kind: &str, payload: &str) -> Result<JobFuture, StartError> {
        let start = self.handlers.get(kind).ok_or(StartError::UnknownKind)?;
        start(payload).map_err(StartError::BadPayload)
    }
}

/// Why a stored job could not be started.
#[derive(Debug)]
pub(crate) enum StartError {
    /// No handler for this kind in this process (e.g. an older replica during a deploy).
    UnknownKind,
    /// The payload does not deserialize into the kind's type.
    BadPayload(serde_json::Error),
}

/// A store failure is worth another attempt: the database may be back by then.
impl From<crate::store::StoreError> for JobError {
    fn from(error: crate::store::StoreError) -> Self {
        JobError::Failed(error.to_string())
    }
}

//! The job queue's specification, run on SQLite and PostgreSQL.

mod harness;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use trainyard::clock::{Clock, ManualClock};
use trainyard::jobs::{
    BackgroundJob, Drained, Enqueued, JobError, JobState, Queue, QueueCounts, QueueSettings,
    Registry, Runner,
};
use trainyard::store::Db;

use harness::TestDb;

const START: &str = "2026-11-27T09:00:00Z";

/// What the test jobs did, in the order they did it.
#[derive(Default)]
struct Journal {
    runs: Mutex<Vec<(String, u32)>>,
    in_flight: Mutex<HashSet<String>>,
    overlaps: Mutex<Vec<String>>,
    failures_left: Mutex<HashMap<u32, u32>>,
    started: tokio::sync::Notify,
    /// One permit per finished `Record` run, so a waiter never misses one.
    finished: tokio::sync::Notify,
}

impl Journal {
    fn runs(&self) -> Vec<(String, u32)> {
        self.runs.lock().expect("journal").clone()
    }
}

/// Records its run; holds its key for `hold_ms` to give overlaps a chance to show.
#[derive(Serialize, Deserialize)]
struct Record {
    key: String,
    seq: u32,
    hold_ms: u64,
}

impl BackgroundJob for Record {
    const KIND: &'static str = "test.record";
    type Context = Arc<Journal>;

    fn queue_key(&self) -> String {
        self.key.clone()
    }

    async fn run(self, journal: Arc<Journal>) -> Result<(), JobError> {
        if !journal
            .in_flight
            .lock()
            .expect("journal")
            .insert(self.key.clone())
        {
            journal
                .overlaps
                .lock()
                .expect("journal")
                .push(self.key.clone());
        }
        journal.started.notify_waiters();
        if self.hold_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.hold_ms)).await;
        } else {
            tokio::task::yield_now().await;
        }
        journal
            .runs
            .lock()
            .expect("journal")
            .push((self.key.clone(), self.seq));
        journal.in_flight.lock().expect("journal").remove(&self.key);
        journal.finished.notify_one();
        Ok(())
    }
}

/// Fails its first `fail_times` attempts, then succeeds.
#[derive(Serialize, Deserialize)]
struct Flaky {
    id: u32,
    fail_times: u32,
}

impl BackgroundJob for Flaky {
    const KIND: &'static str = "test.flaky";
    const MAX_ATTEMPTS: Option<u32> = Some(3);
    type Context = Arc<Journal>;

    fn queue_key(&self) -> String {
        "acme/api".into()
    }

    async fn run(self, journal: Arc<Journal>) -> Result<(), JobError> {
        let failed_so_far = {
            let mut left = journal.failures_left.lock().expect("journal");
            let failed = left.entry(self.id).or_insert(0);
            *failed += 1;
            *failed - 1
        };
        if failed_so_far < self.fail_times {
            return Err(JobError::Failed(format!("boom #{}", failed_so_far + 1)));
        }
        journal
            .runs
            .lock()
            .expect("journal")
            .push(("flaky".into(), self.id));
        Ok(())
    }
}

/// Misbehaves in the way it is told.
#[derive(Serialize, Deserialize)]
enum Misbehave {
    Panic,
    Hang,
    RateLimited { until_ms: i64 },
    Permanent,
}

impl BackgroundJob for Misbehave {
    const KIND: &'static str = "test.misbehave";
    type Context = Arc<Journal>;

    fn queue_key(&self) -> String {
        "acme/api".into()
    }

    async fn run(self, journal: Arc<Journal>) -> Result<(), JobError> {
        match self {
            Misbehave::Panic => panic!("kaboom"),
            Misbehave::Hang => std::future::pending().await,
            Misbehave::RateLimited { until_ms } => {
                let mut runs = journal.runs.lock().expect("journal");
                if runs.is_empty() {
                    runs.push(("rate-limited".into(), 0));
                    Err(JobError::RetryAt {
                        until: Timestamp::from_millisecond(until_ms).expect("valid"),
                        reason: "GitHub rate limit".into(),
                    })
                } else {
                    runs.push(("ran".into(), 1));
                    Ok(())
                }
            }
            Misbehave::Permanent => Err(JobError::Permanent("repository was deleted".into())),
        }
    }
}

/// Always fails the same way: transiently, or asked to wait until a fixed time.
#[derive(Serialize, Deserialize)]
enum Stubborn {
    Transient,
    WaitUntil { until_ms: i64 },
}

impl BackgroundJob for Stubborn {
    const KIND: &'static str = "test.stubborn";
    type Context = Arc<Journal>;

    /// Each a key of its own: a waiting job keeps its key's place in line.
    fn queue_key(&self) -> String {
        match self {
            Stubborn::Transient => "acme/api".into(),
            Stubborn::WaitUntil { until_ms } => format!("acme/wait-{until_ms}"),
        }
    }

    async fn run(self, _journal: Arc<Journal>) -> Result<(), JobError> {
        match self {
            Stubborn::Transient => Err(JobError::Transient("GitHub unavailable: 502".into())),
            Stubborn::WaitUntil { until_ms } => Err(JobError::RetryAt {
                until: Timestamp::from_millisecond(until_ms).unwrap_or(Timestamp::MAX),
                reason: "rate limited".into(),
            }),
        }
    }
}

/// A deduplicated job.
#[derive(Serialize, Deserialize)]
struct SyncDraft {
    train: u32,
}

impl BackgroundJob for SyncDraft {
    const KIND: &'static str = "test.sync_draft";
    type Context = Arc<Journal>;

    fn queue_key(&self) -> String {
        "acme/api".into()
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("sync-draft:{}", self.train))
    }

    async fn run(self, journal: Arc<Journal>) -> Result<(), JobError> {
        journal
            .runs
            .lock()
            .expect("journal")
            .push(("sync".into(), self.train));
        Ok(())
    }
}

struct Bench {
    queue: Queue,
    runner: Runner,
    clock: ManualClock,
    journal: Arc<Journal>,
}

fn bench(db: Db, settings: QueueSettings) -> Bench {
    let clock = ManualClock::starting_at(START.parse().expect("valid start"));
    bench_with_clock(db, settings, clock, Arc::new(Journal::default()))
}

fn bench_with_clock(
    db: Db,
    settings: QueueSettings,
    clock: ManualClock,
    journal: Arc<Journal>,
) -> Bench {
    let queue = Queue::new(db, Arc::new(clock.clone()), settings);
    let registry = Registry::new()
        .register::<Record>(journal.clone())
        .register::<Flaky>(journal.clone())
        .register::<Misbehave>(journal.clone())
        .register::<SyncDraft>(journal.clone())
        .register::<Stubborn>(journal.clone());
    Bench {
        runner: Runner::new(queue.clone(), registry),
        queue,
        clock,
        journal,
    }
}

fn record(key: &str, seq: u32, hold_ms: u64) -> Record {
    Record {
        key: key.into(),
        seq,
        hold_ms,
    }
}

async fn enqueue_records(queue: &Queue, keys: usize, per_key: u32, hold_ms: u64) {
    for seq in 0..per_key {
        for k in 0..keys {
            let key = format!("acme/repo-{k}");
            queue
                .enqueue_now(&record(&key, seq, hold_ms))
                .await
                .expect("enqueue");
        }
    }
}

fn assert_each_ran_once_in_order(journal: &Journal, keys: usize, per_key: u32) {
    let runs = journal.runs();
    assert_eq!(
        runs.len(),
        keys * per_key as usize,
        "every job ran exactly once"
    );
    let distinct: HashSet<_> = runs.iter().cloned().collect();
    assert_eq!(distinct.len(), runs.len(), "no job ran twice");
    let mut by_key: HashMap<&str, Vec<u32>> = HashMap::new();
    for (key, seq) in &runs {
        by_key.entry(key).or_default().push(*seq);
    }
    for (key, seqs) in by_key {
        let expected: Vec<u32> = (0..per_key).collect();
        assert_eq!(seqs, expected, "jobs of {key} ran in enqueue order");
    }
    assert!(
        journal.overlaps.lock().expect("journal").is_empty(),
        "two jobs of one key ran at the same time"
    );
}

async fn two_workers_run_two_thousand_jobs_exactly_once(test: TestDb) {
    let clock = ManualClock::starting_at(START.parse().expect("valid"));
    let journal = Arc::new(Journal::default());
    let first = bench_with_clock(
        test.db.clone(),
        QueueSettings::default(),
        clock.clone(),
        journal.clone(),
    );
    // The second worker has its own connection pool, as a second process would.
    let second = bench_with_clock(
        test.reopen().await,
        QueueSettings::default(),
        clock,
        journal.clone(),
    );
    enqueue_records(&first.queue, 40, 50, 0).await;

    let (a, b) = (first.runner.clone(), second.runner.clone());
    let a = tokio::spawn(async move { a.run_pending().await });
    let b = tokio::spawn(async move { b.run_pending().await });
    let a = a.await.expect("worker a").expect("queue a");
    let b = b.await.expect("worker b").expect("queue b");

    assert_eq!(a.completed + b.completed, 2000);
    assert!(
        a.completed > 0 && b.completed > 0,
        "both workers took jobs: {a:?} {b:?}"
    );
    assert_each_ran_once_in_order(&journal, 40, 50);
    assert_eq!(
        first.queue.counts().await.expect("counts"),
        QueueCounts::default()
    );
}

async fn jobs_of_one_key_run_in_order_and_never_overlap(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    enqueue_records(&b.queue, 3, 25, 2).await;
    let shutdown = CancellationToken::new();
    let mut workers = b.runner.start(6, shutdown.clone());
    // The workers run on their own; stop them once the last job is done.
    while b.journal.runs().len() < 75 {
        tokio::time::timeout(Duration::from_secs(60), b.journal.finished.notified())
            .await
            .expect("the workers keep finishing jobs");
    }
    shutdown.cancel();
    while workers.join_next().await.is_some() {}
    assert_each_ran_once_in_order(&b.journal, 3, 25);
    assert_eq!(
        b.queue.counts().await.expect("counts"),
        QueueCounts::default()
    );
}

async fn a_failed_job_is_retried_after_backoff_then_succeeds(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    let Enqueued::New(id) = b
        .queue
        .enqueue_now(&Flaky {
            id: 7,
            fail_times: 1,
        })
        .await
        .expect("enqueue")
    else {
        panic!("expected a new job");
    };

    let first = b.runner.run_pending().await.expect("run");
    assert_eq!(
        first,
        Drained {
            retrying: 1,
            ..Drained::default()
        }
    );
    let row = b.queue.job(id).await.expect("read").expect("still stored");
    assert_eq!(row.state, JobState::Retrying);
    assert_eq!(row.attempts, 1);
    assert_eq!(row.last_error.as_deref(), Some("boom #1"));
    let wait = row.run_at.duration_since(b.clock.now());
    assert!(
        wait >= SignedDuration::from_millis(2500) && wait < SignedDuration::from_secs(5),
        "first retry waits 2.5–5 s, got {wait}"
    );

    // Not due yet: nothing runs.
    assert_eq!(
        b.runner.run_pending().await.expect("run"),
        Drained::default()
    );
    b.clock.advance(SignedDuration::from_secs(5));
    let second = b.runner.run_pending().await.expect("run");
    assert_eq!(
        second,
        Drained {
            completed: 1,
            ..Drained::default()
        }
    );
    assert!(
        b.queue.job(id).await.expect("read").is_none(),
        "finished jobs are removed"
    );
    assert_eq!(b.journal.runs(), [("flaky".to_owned(), 7)]);
}

async fn a_job_that_keeps_failing_is_dead_with_its_last_error(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    let Enqueued::New(id) = b
        .queue
        .enqueue_now(&Flaky {
            id: 1,
            fail_times: u32::MAX,
        })
        .await
        .expect("enqueue")
    else {
        panic!("expected a new job");
    };
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        outcomes.push(b.runner.run_pending().await.expect("run"));
        b.clock.advance(SignedDuration::from_hours(2));
    }
    let retried = Drained {
        retrying: 1,
        ..Drained::default()
    };
    let died = Drained {
        dead: 1,
        ..Drained::default()
    };
    assert_eq!(
        outcomes,
        [
            retried,
            retried,
            died,
            Drained::default(),
            Drained::default()
        ]
    );
    let row = b
        .queue
        .job(id)
        .await
        .expect("read")
        .expect("dead jobs are kept");
    assert_eq!(row.state, JobState::Dead);
    assert_eq!((row.attempts, row.max_attempts), (3, 3));
    assert_eq!(row.last_error.as_deref(), Some("boom #3"));
    assert_eq!(
        b.queue.counts().await.expect("counts"),
        QueueCounts {
            dead: 1,
            ..QueueCounts::default()
        }
    );
}

async fn a_job_whose_worker_died_runs_again_after_its_lease(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    b.queue
        .enqueue_now(&record("acme/api", 1, 0))
        .await
        .expect("enqueue");
    b.queue
        .enqueue_now(&record("acme/api", 2, 0))
        .await
        .expect("enqueue");

    // A worker claims the first job and then dies without a word.
    let crashed = b.queue.claim().await.expect("claim").expect("a job is due");
    assert_eq!(
        b.queue.counts().await.expect("counts"),
        QueueCounts {
            queued: 1,
            running: 1,
            ..QueueCounts::default()
        }
    );
    // While the lease holds, neither it nor the next job of its key may start.
    assert_eq!(
        b.runner.run_pending().await.expect("run"),
        Drained::default()
    );

    b.clock.advance(SignedDuration::from_secs(300 + 31));
    let drained = b.runner.run_pending().await.expect("run");
    assert_eq!(
        drained,
        Drained {
            completed: 2,
            ..Drained::default()
        }
    );
    assert_eq!(
        b.journal.runs(),
        [("acme/api".to_owned(), 1), ("acme/api".to_owned(), 2)]
    );
    // The dead worker's late report changes nothing.
    assert!(!b.queue.complete(&crashed).await.expect("complete"));
}

async fn a_worker_that_dies_on_the_last_attempt_leaves_a_dead_job(test: TestDb) {
    let b = bench(
        test.db.clone(),
        QueueSettings {
            max_attempts: 1,
            ..QueueSettings::default()
        },
    );
    let Enqueued::New(id) = b
        .queue
        .enqueue_now(&record("acme/api", 1, 0))
        .await
        .expect("enqueue")
    else {
        panic!("expected a new job");
    };
    let _crashed = b.queue.claim().await.expect("claim").expect("due");
    b.clock.advance(SignedDuration::from_secs(331));
    assert_eq!(
        b.runner.run_pending().await.expect("run"),
        Drained::default()
    );
    let row = b.queue.job(id).await.expect("read").expect("kept");
    assert_eq!(row.state, JobState::Dead);
    assert_eq!(
        row.last_error.as_deref(),
        Some("the worker running attempt 1 stopped without finishing (lease expired)")
    );
    assert!(b.journal.runs().is_empty());
}

async fn a_dedupe_key_enqueued_twice_gives_one_job(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    let first = b
        .queue
        .enqueue_now(&SyncDraft { train: 4 })
        .await
        .expect("enqueue");
    let second = b
        .queue
        .enqueue_now(&SyncDraft { train: 4 })
        .await
        .expect("enqueue");
    let other = b
        .queue
        .enqueue_now(&SyncDraft { train: 5 })
        .await
        .expect("enqueue");
    assert!(matches!(first, Enqueued::New(_)));
    assert_eq!(second, Enqueued::Duplicate);
    assert!(matches!(other, Enqueued::New(_)));
    b.runner.run_pending().await.expect("run");
    assert_eq!(
        b.journal.runs(),
        [("sync".to_owned(), 4), ("sync".to_owned(), 5)]
    );
    // Once the first has run, the same key may be enqueued again.
    let again = b
        .queue
        .enqueue_now(&SyncDraft { train: 4 })
        .await
        .expect("enqueue");
    assert!(matches!(again, Enqueued::New(_)));
}

async fn an_enqueue_rolled_back_with_its_transaction_leaves_no_job(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    let mut tx = test.db.pool().begin().await.expect("begin");
    b.queue
        .enqueue(&mut tx, &record("acme/api", 1, 0))
        .await
        .expect("enqueue");
    tx.rollback().await.expect("rollback");
    assert_eq!(
        b.queue.counts().await.expect("counts"),
        QueueCounts::default()
    );

    let mut tx = test.db.pool().begin().await.expect("begin");
    b.queue
        .enqueue(&mut tx, &record("acme/api", 2, 0))
        .await
        .expect("enqueue");
    tx.commit().await.expect("commit");
    assert_eq!(
        b.queue.counts().await.expect("counts"),
        QueueCounts {
            queued: 1,
            ..QueueCounts::default()
        }
    );
}

async fn a_panic_counts_as_a_failure(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    let Enqueued::New(id) = b
        .queue
        .enqueue_now(&Misbehave::Panic)
        .await
        .expect("enqueue")
    else {
        panic!("expected a new job");
    };
    assert_eq!(
        b.runner.run_pending().await.expect("run"),
        Drained {
            retrying: 1,
            ..Drained::default()
        }
    );
    let row = b.queue.job(id).await.expect("read").expect("kept");
    assert_eq!(row.last_error.as_deref(), Some("panicked: kaboom"));
}

async fn a_job_past_its_timeout_is_stopped_and_retried(test: TestDb) {
    let settings = QueueSettings {
        job_timeout: Duration::from_millis(100),
        ..QueueSettings::default()
    };
    let b = bench(test.db.clone(), settings);
    let Enqueued::New(id) = b
        .queue
        .enqueue_now(&Misbehave::Hang)
        .await
        .expect("enqueue")
    else {
        panic!("expected a new job");
    };
    assert_eq!(
        b.runner.run_pending().await.expect("run"),
        Drained {
            retrying: 1,
            ..Drained::default()
        }
    );
    let row = b.queue.job(id).await.expect("read").expect("kept");
    assert_eq!(row.last_error.as_deref(), Some("timed out after 0.1 s"));
}

async fn a_rate_limited_job_waits_without_using_an_attempt(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    let until = b.clock.now() + SignedDuration::from_secs(30);
    let job = Misbehave::RateLimited {
        until_ms: until.as_millisecond(),
    };
    let Enqueued::New(id) = b.queue.enqueue_now(&job).await.expect("enqueue") else {
        panic!("expected a new job");
    };
    assert_eq!(
        b.runner.run_pending().await.expect("run"),
        Drained {
            rescheduled: 1,
            ..Drained::default()
        }
    );
    let row = b.queue.job(id).await.expect("read").expect("kept");
    assert_eq!(
        (row.state, row.attempts, row.run_at),
        (JobState::Retrying, 0, until)
    );
    b.clock.advance(SignedDuration::from_secs(29));
    assert_eq!(
        b.runner.run_pending().await.expect("run"),
        Drained::default()
    );
    b.clock.advance(SignedDuration::from_secs(1));
    assert_eq!(
        b.runner.run_pending().await.expect("run"),
        Drained {
            completed: 1,
            ..Drained::default()
        }
    );
}

async fn a_permanent_failure_or_unreadable_payload_is_dead_at_once(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    b.queue
        .enqueue_now(&Misbehave::Permanent)
        .await
        .expect("enqueue");
    // A payload of another shape stored under a registered kind.
    #[derive(Serialize, Deserialize)]
    struct Imposter {
        unexpected: bool,
    }
    impl BackgroundJob for Imposter {
        const KIND: &'static str = "test.record";
        type Context = ();
        fn queue_key(&self) -> String {
            "acme/other".into()
        }
        async fn run(self, (): ()) -> Result<(), JobError> {
            Ok(())
        }
    }
    b.queue
        .enqueue_now(&Imposter { unexpected: true })
        .await
        .expect("enqueue");
    assert_eq!(
        b.runner.run_pending().await.expect("run"),
        Drained {
            dead: 2,
            ..Drained::default()
        }
    );
    let errors: Vec<String> = b
        .queue
        .jobs()
        .await
        .expect("jobs")
        .into_iter()
        .filter_map(|j| j.last_error)
        .collect();
    assert_eq!(errors[0], "repository was deleted");
    assert!(
        errors[1].starts_with("stored payload does not fit job kind \"test.record\""),
        "{}",
        errors[1]
    );
}

async fn a_kind_this_process_does_not_know_is_retried_not_lost(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    #[derive(Serialize, Deserialize)]
    struct FromNewerRelease;
    impl BackgroundJob for FromNewerRelease {
        const KIND: &'static str = "test.from_newer_release";
        type Context = ();
        fn queue_key(&self) -> String {
            "acme/api".into()
        }
        async fn run(self, (): ()) -> Result<(), JobError> {
            Ok(())
        }
    }
    let Enqueued::New(id) = b
        .queue
        .enqueue_now(&FromNewerRelease)
        .await
        .expect("enqueue")
    else {
        panic!("expected a new job");
    };
    assert_eq!(
        b.runner.run_pending().await.expect("run"),
        Drained {
            retrying: 1,
            ..Drained::default()
        }
    );
    let row = b.queue.job(id).await.expect("read").expect("kept");
    assert_eq!(
        row.last_error.as_deref(),
        Some("no handler for job kind \"test.from_newer_release\" in this process")
    );
}

async fn shutdown_lets_the_running_job_finish(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    let shutdown = CancellationToken::new();
    let mut workers = b.runner.start(2, shutdown.clone());
    let started = b.journal.started.notified();
    b.queue
        .enqueue_now(&record("acme/api", 1, 300))
        .await
        .expect("enqueue");
    started.await;
    shutdown.cancel();
    while let Some(joined) = workers.join_next().await {
        joined.expect("worker ended cleanly");
    }
    assert_eq!(b.journal.runs(), [("acme/api".to_owned(), 1)]);
    assert_eq!(
        b.queue.counts().await.expect("counts"),
        QueueCounts::default()
    );
}

/// A slow job and a quick one of another repository, enqueued in that order.
async fn enqueue_slow_then_quick(queue: &Queue, slow_ms: u64) {
    for job in [record("acme/slow", 0, slow_ms), record("acme/quick", 0, 0)] {
        queue.enqueue_now(&job).await.expect("enqueue");
    }
}

async fn a_busy_process_hands_back_what_it_claimed_ahead_for_another_to_run(test: TestDb) {
    let clock = ManualClock::starting_at(START.parse().expect("valid"));
    let journal = Arc::new(Journal::default());
    let busy = bench_with_clock(
        test.db.clone(),
        QueueSettings::default(),
        clock.clone(),
        journal.clone(),
    );
    // A second process, with its own connection pool.
    let idle = bench_with_clock(
        test.reopen().await,
        QueueSettings::default(),
        clock,
        journal.clone(),
    );
    enqueue_slow_then_quick(&busy.queue, 3_000).await;
    let started = journal.started.notified();
    let shutdown = CancellationToken::new();
    let mut busy_workers = busy.runner.start(1, shutdown.clone());
    started.await;
    // One claim leased both: the slow job runs on the only worker, the quick one waits.
    let quick = busy
        .queue
        .jobs()
        .await
        .expect("jobs")
        .into_iter()
        .find(|j| j.queue_key == "acme/quick")
        .expect("the quick job");
    assert_eq!(quick.state, JobState::Running);
    let mut idle_workers = idle.runner.start(1, shutdown.clone());
    // No worker of the busy process frees for a while: it hands the quick job back and the
    // other process runs it while the slow one still runs.
    tokio::time::timeout(Duration::from_secs(2), journal.finished.notified())
        .await
        .expect("the quick job ran before the slow one ended");
    assert_eq!(journal.runs(), [("acme/quick".to_owned(), 0)]);
    shutdown.cancel();
    for workers in [&mut busy_workers, &mut idle_workers] {
        while let Some(joined) = workers.join_next().await {
            joined.expect("workers ended cleanly");
        }
    }
    assert_eq!(
        journal.runs(),
        [("acme/quick".to_owned(), 0), ("acme/slow".to_owned(), 0)]
    );
    assert_eq!(
        busy.queue.counts().await.expect("counts"),
        QueueCounts::default()
    );
}

async fn shutdown_hands_back_the_jobs_it_had_not_started(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    enqueue_slow_then_quick(&b.queue, 300).await;
    let started = b.journal.started.notified();
    let shutdown = CancellationToken::new();
    let mut workers = b.runner.start(1, shutdown.clone());
    started.await;
    shutdown.cancel();
    while let Some(joined) = workers.join_next().await {
        joined.expect("workers ended cleanly");
    }
    assert_eq!(b.journal.runs(), [("acme/slow".to_owned(), 0)]);
    // Due at once, its attempt not counted: the next process runs it as its first.
    let jobs = b.queue.jobs().await.expect("jobs");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].queue_key, "acme/quick");
    assert_eq!(jobs[0].state, JobState::Retrying);
    assert_eq!(jobs[0].attempts, 0);
    assert!(jobs[0].run_at <= b.clock.now());
    let next = b.queue.claim().await.expect("claim").expect("due");
    assert_eq!((next.queue_key.as_str(), next.attempt), ("acme/quick", 1));
}

async fn a_backlog_in_one_repository_does_not_hold_up_another(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    for seq in 0..300 {
        b.queue
            .enqueue_now(&record("acme/busy", seq, 0))
            .await
            .expect("enqueue");
    }
    b.queue
        .enqueue_now(&record("acme/quiet", 0, 0))
        .await
        .expect("enqueue");
    let busy_head = b.queue.claim().await.expect("claim").expect("due");
    assert_eq!(busy_head.queue_key, "acme/busy");
    let next = b
        .queue
        .claim()
        .await
        .expect("claim")
        .expect("the quiet repository's job");
    assert_eq!(next.queue_key, "acme/quiet");
    assert!(
        b.queue.claim().await.expect("claim").is_none(),
        "the busy repository runs one at a time"
    );
}

/// Someone waits on it: claimed before the routine work of its installation.
#[derive(Serialize, Deserialize)]
struct Command {
    key: String,
}

impl BackgroundJob for Command {
    const KIND: &'static str = "test.command";
    const PRIORITY: trainyard::jobs::Priority = trainyard::jobs::Priority::Urgent;
    type Context = ();
    fn queue_key(&self) -> String {
        self.key.clone()
    }
    async fn run(self, (): ()) -> Result<(), JobError> {
        Ok(())
    }
}

async fn a_command_goes_before_the_routine_work_of_its_installation(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    for (key, seq) in [("acme/api", 1), ("acme/docs", 1), ("acme/api", 2)] {
        b.queue
            .enqueue_now(&record(key, seq, 0))
            .await
            .expect("enqueue");
    }
    b.queue
        .enqueue_now(&Command {
            key: "acme/web".into(),
        })
        .await
        .expect("enqueue");
    let first = b.queue.claim().await.expect("claim").expect("due");
    assert_eq!(
        (first.kind.as_str(), first.queue_key.as_str()),
        ("test.command", "acme/web"),
        "the command, though enqueued last"
    );
    // Then the routine work, repositories in turn.
    let next = b.queue.claim_batch(4).await.expect("claim");
    let keys: Vec<&str> = next.iter().map(|j| j.queue_key.as_str()).collect();
    assert_eq!(keys, ["acme/api", "acme/docs"]);
}

async fn idle_queue_keys_are_forgotten_but_never_under_waiting_work(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    b.queue
        .enqueue_now(&record("acme/done", 1, 0))
        .await
        .expect("enqueue");
    b.runner.run_pending().await.expect("run");
    b.queue
        .enqueue_now(&record("acme/waiting", 1, 0))
        .await
        .expect("enqueue");
    let later = b.clock.now() + SignedDuration::from_hours(48);
    assert_eq!(
        b.queue.forget_idle_keys(later).await.expect("forget"),
        1,
        "only the idle key"
    );
    // The waiting job is still found.
    assert_eq!(b.runner.run_pending().await.expect("run").completed, 1);
    // A forgotten key comes back with its next job.
    b.queue
        .enqueue_now(&record("acme/done", 2, 0))
        .await
        .expect("enqueue");
    assert_eq!(b.runner.run_pending().await.expect("run").completed, 1);
}

async fn the_wake_hint_says_whether_a_new_job_can_start_at_once(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    let mut conn = test.db.pool().acquire().await.expect("connection");
    let (_, first) = b
        .queue
        .enqueue_with_hint(&mut conn, &record("acme/api", 1, 0))
        .await
        .expect("enqueue");
    let (_, second) = b
        .queue
        .enqueue_with_hint(&mut conn, &record("acme/api", 2, 0))
        .await
        .expect("enqueue");
    let (_, other) = b
        .queue
        .enqueue_with_hint(&mut conn, &record("acme/web", 1, 0))
        .await
        .expect("enqueue");
    assert!(first && other, "the head of a key can start");
    // PostgreSQL knows the second waits behind the first; SQLite always wakes (it is cheap).
    let expected_second = test.db.backend() == trainyard::store::Backend::Sqlite;
    assert_eq!(second, expected_second);
}

async fn a_failing_head_is_parked_and_the_later_jobs_of_its_key_run(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    let Enqueued::New(flaky) = b
        .queue
        .enqueue_now(&Flaky {
            id: 1,
            fail_times: 2,
        })
        .await
        .expect("enqueue")
    else {
        panic!("expected a new job");
    };
    for seq in 1..=2 {
        b.queue
            .enqueue_now(&record("acme/api", seq, 0))
            .await
            .expect("enqueue");
    }
    // The head fails once; the jobs behind it are not held up.
    let first = b.runner.run_pending().await.expect("run");
    assert_eq!((first.retrying, first.completed), (1, 2));
    let parked = b.queue.job(flaky).await.expect("read").expect("kept");
    assert!(parked.parked, "a failed head is parked");
    // New work of the key still runs ahead of the parked job while it waits.
    b.queue
        .enqueue_now(&record("acme/api", 3, 0))
        .await
        .expect("enqueue");
    assert_eq!(b.runner.run_pending().await.expect("run").completed, 1);
    // Its own retries come in their time.
    b.clock.advance(SignedDuration::from_secs(5));
    assert_eq!(b.runner.run_pending().await.expect("run").retrying, 1);
    b.clock.advance(SignedDuration::from_secs(10));
    assert_eq!(b.runner.run_pending().await.expect("run").completed, 1);
    assert_eq!(
        b.journal.runs(),
        [
            ("acme/api".to_owned(), 1),
            ("acme/api".to_owned(), 2),
            ("acme/api".to_owned(), 3),
            ("flaky".to_owned(), 1)
        ]
    );
}

async fn a_job_that_always_meets_an_outage_ends_dead_not_retried_for_ever(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    let Enqueued::New(id) = b
        .queue
        .enqueue_now(&Stubborn::Transient)
        .await
        .expect("enqueue")
    else {
        panic!("expected a new job");
    };
    let mut rounds = 0;
    while b.queue.job(id).await.expect("read").expect("kept").state != JobState::Dead {
        rounds += 1;
        assert!(rounds <= 30, "still retrying after {rounds} outages");
        b.runner.run_pending().await.expect("run");
        b.clock.advance(SignedDuration::from_hours(1));
    }
    let row = b.queue.job(id).await.expect("read").expect("kept");
    assert_eq!(rounds, 25, "24 retries, then dead");
    assert_eq!(
        row.last_error.as_deref(),
        Some("gave up after 24 waits and outages in a row; last: GitHub unavailable: 502")
    );
}

async fn retry_hints_of_zero_back_off_and_huge_ones_are_capped(test: TestDb) {
    let b = bench(test.db.clone(), QueueSettings::default());
    // `retry-after: 0`, over and over: the waits grow 1 s, 2 s, 4 s …
    let Enqueued::New(id) = b
        .queue
        .enqueue_now(&Stubborn::WaitUntil {
            until_ms: b.clock.now().as_millisecond(),
        })
        .await
        .expect("enqueue")
    else {
        panic!("expected a new job");
    };
    for expected in [1, 2, 4, 8] {
        assert_eq!(b.runner.run_pending().await.expect("run").rescheduled, 1);
        let row = b.queue.job(id).await.expect("read").expect("kept");
        assert_eq!(
            row.run_at.duration_since(b.clock.now()),
            SignedDuration::from_secs(expected)
        );
        assert_eq!(row.attempts, 0, "waits use no attempts");
        b.clock.advance(SignedDuration::from_secs(expected));
    }
    // A hint from the far future waits an hour at most.
    let Enqueued::New(far) = b
        .queue
        .enqueue_now(&Stubborn::WaitUntil { until_ms: i64::MAX })
        .await
        .expect("enqueue")
    else {
        panic!("expected a new job");
    };
    b.clock.advance(SignedDuration::from_secs(16));
    b.runner.run_pending().await.expect("run");
    let row = b.queue.job(far).await.expect("read").expect("kept");
    assert_eq!(
        row.run_at.duration_since(b.clock.now()),
        SignedDuration::from_hours(1)
    );
}

/// The claim finds each key's head by walking an index in id order; a plan that scans a
/// key's backlog instead cut webhook intake on SQLite to a third under load.
#[tokio::test]
async fn sqlite_claims_walk_the_head_indexes_in_id_order() {
    let test = TestDb::sqlite().await;
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN SELECT MIN(e.id) FROM jobs e \
         WHERE e.queue_key = 'a/b' AND e.state <> 'dead' AND e.parked = 0",
    )
    .fetch_all(test.db.pool())
    .await
    .expect("plan");
    let details: Vec<&str> = plan.iter().map(|(_, _, _, d)| d.as_str()).collect();
    assert!(
        details.iter().any(|d| d.contains("jobs_head_by_key")),
        "{details:?}"
    );
}

on_both_backends!(
    a_command_goes_before_the_routine_work_of_its_installation,
    a_failing_head_is_parked_and_the_later_jobs_of_its_key_run,
    a_job_that_always_meets_an_outage_ends_dead_not_retried_for_ever,
    retry_hints_of_zero_back_off_and_huge_ones_are_capped,
    the_wake_hint_says_whether_a_new_job_can_start_at_once,
    a_backlog_in_one_repository_does_not_hold_up_another,
    idle_queue_keys_are_forgotten_but_never_under_waiting_work,
    two_workers_run_two_thousand_jobs_exactly_once,
    jobs_of_one_key_run_in_order_and_never_overlap,
    a_failed_job_is_retried_after_backoff_then_succeeds,
    a_job_that_keeps_failing_is_dead_with_its_last_error,
    a_job_whose_worker_died_runs_again_after_its_lease,
    a_worker_that_dies_on_the_last_attempt_leaves_a_dead_job,
    a_dedupe_key_enqueued_twice_gives_one_job,
    an_enqueue_rolled_back_with_its_transaction_leaves_no_job,
    a_panic_counts_as_a_failure,
    a_job_past_its_timeout_is_stopped_and_retried,
    a_rate_limited_job_waits_without_using_an_attempt,
    a_permanent_failure_or_unreadable_payload_is_dead_at_once,
    a_kind_this_process_does_not_know_is_retried_not_lost,
    shutdown_lets_the_running_job_finish,
    shutdown_hands_back_the_jobs_it_had_not_started,
    a_busy_process_hands_back_what_it_claimed_ahead_for_another_to_run,
);

/// Handlers' contexts hold the queue (to enqueue follow-ups); the queue holds what erases a
/// dead job's credentials. When that held the whole registry, the two kept each other alive:
/// every runner's store pool, and its PostgreSQL connections, outlived it (the test suite ran
/// PostgreSQL out of clients).
#[tokio::test]
async fn a_dropped_runner_lets_go_of_its_handlers_and_their_store() {
    #[derive(Clone)]
    struct Holder {
        _queue: Queue,
        _alive: Arc<Alive>,
    }
    struct Alive(Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Alive {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    #[derive(Serialize, Deserialize)]
    struct Follows;
    impl BackgroundJob for Follows {
        const KIND: &'static str = "test.follows";
        type Context = Holder;
        fn queue_key(&self) -> String {
            "acme/widgets".to_owned()
        }
        async fn run(self, _holder: Holder) -> Result<(), JobError> {
            Ok(())
        }
    }
    let test = TestDb::sqlite().await;
    let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let queue = Queue::new(
            test.db.clone(),
            Arc::new(trainyard::clock::SystemClock),
            QueueSettings::default(),
        );
        let holder = Holder {
            _queue: queue.clone(),
            _alive: Arc::new(Alive(dropped.clone())),
        };
        let runner = Runner::new(queue, Registry::new().register::<Follows>(holder));
        runner.queue().enqueue_now(&Follows).await.expect("enqueue");
        assert_eq!(runner.run_pending().await.expect("run").completed, 1);
    }
    assert!(
        dropped.load(std::sync::atomic::Ordering::SeqCst),
        "the handlers' context (and the queue and store it holds) outlived the runner"
    );
}

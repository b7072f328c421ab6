//! Queue throughput: enqueue → claim → run (a no-op job) → complete, in batches of 500 over 50
//! repositories (with 2,000 more remembered idle), with 1 and 4 workers, on SQLite and, when `TRAINYARD_TEST_DATABASE_URL` is
//! set, on PostgreSQL.
//!
//! `cargo bench --bench queue`; `cargo bench --bench queue -- --test` runs each once (CI).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};
use sqlx::Executor;
use trainyard::clock::SystemClock;
use trainyard::jobs::{BackgroundJob, JobError, Queue, QueueSettings, Registry, Runner};
use trainyard::store::Db;

const BATCH: u64 = 500;
/// Repositories the batch is spread over (jobs of one repository run one at a time), in five
/// installations.
const KEYS: u64 = 50;
/// Repositories with no work left that the queue still remembers (it keeps them a day): a
/// shared service has many more of these than repositories with work at any moment.
const IDLE_KEYS: u64 = 2_000;
/// Deliveries enqueueing at once.
const PRODUCERS: u64 = 4;

#[derive(Serialize, Deserialize)]
struct Noop {
    repo: u64,
}

/// Jobs done so far, and a bell when the batch is through.
#[derive(Default)]
struct Done {
    count: AtomicU64,
    bell: Notify,
}

impl BackgroundJob for Noop {
    const KIND: &'static str = "bench.noop";
    type Context = Arc<Done>;
    fn queue_key(&self) -> String {
        format!("acme-{}/repo-{}", self.repo % 5, self.repo)
    }
    async fn run(self, done: Arc<Done>) -> Result<(), JobError> {
        if done.count.fetch_add(1, Ordering::SeqCst) + 1 == BATCH {
            done.bell.notify_one();
        }
        Ok(())
    }
}

async fn open(url: &str, done: Arc<Done>) -> Runner {
    let db = Db::connect(url).await.expect("open store");
    db.migrate().await.expect("migrate");
    db.pool()
        .execute("DELETE FROM jobs")
        .await
        .expect("empty queue");
    db.pool()
        .execute(sqlx::AssertSqlSafe(format!(
            "DELETE FROM queue_keys; \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {IDLE_KEYS}) \
             INSERT INTO queue_keys (queue_key, created_at, group_key) \
             SELECT 'idle-' || (i % 100) || '/repo-' || i, 0, 'idle-' || (i % 100) FROM n"
        )))
        .await
        .expect("idle keys");
    let queue = Queue::new(db, Arc::new(SystemClock), QueueSettings::default());
    Runner::new(queue, Registry::new().register::<Noop>(done))
}

/// Stands in for autovacuum (off on this machine's PostgreSQL), untimed: a queue table
/// churns three row versions a job, and a scan through thousands of dead ones measures the
/// bloat, not the queue.
async fn vacuum(runner: &Runner) {
    let db = runner.queue().db();
    if db.backend() == trainyard::store::Backend::Postgres {
        db.pool()
            .execute("VACUUM jobs, queue_keys")
            .await
            .expect("vacuum");
    }
}

/// One batch as production sees it: webhooks enqueue (one transaction per job, from
/// `PRODUCERS` concurrent deliveries) while the process's workers claim, run and complete.
async fn batch(runner: &Runner, done: &Arc<Done>) -> Duration {
    done.count.store(0, Ordering::SeqCst);
    let finished = done.bell.notified();
    let start = Instant::now();
    let mut producers = tokio::task::JoinSet::new();
    for producer in 0..PRODUCERS {
        let queue = runner.queue().clone();
        producers.spawn(async move {
            for i in (producer..BATCH).step_by(PRODUCERS as usize) {
                queue
                    .enqueue_now(&Noop { repo: i % KEYS })
                    .await
                    .expect("enqueue");
            }
        });
    }
    while let Some(produced) = producers.join_next().await {
        produced.expect("producer");
    }
    finished.await;
    start.elapsed()
}

/// The workers' side alone: the batch is enqueued first (untimed, in one group commit as the
/// intake writes under load), then drained.
async fn drain(runner: &Runner, done: &Arc<Done>) -> Duration {
    done.count.store(0, Ordering::SeqCst);
    let finished = done.bell.notified();
    let jobs: Vec<Noop> = (0..BATCH).map(|i| Noop { repo: i % KEYS }).collect();
    let refs: Vec<&Noop> = jobs.iter().collect();
    let queue = runner.queue();
    // The workers are idle (the previous batch is done); hold them off until all is queued.
    let start = {
        let mut tx = queue.db().pool().begin().await.expect("transaction");
        queue.enqueue_many(&mut tx, &refs).await.expect("enqueue");
        tx.commit().await.expect("commit");
        Instant::now()
    };
    queue.wake();
    finished.await;
    start.elapsed()
}

/// What one timed round measures.
#[derive(Clone, Copy)]
enum Round {
    /// Enqueueing while the workers claim and complete ([`batch`]).
    Pipeline,
    /// The workers draining a queued batch ([`drain`]).
    Drain,
}

fn bench_backend(c: &mut Criterion, name: &str, url: &str) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let done = Arc::new(Done::default());
    let runner = rt.block_on(open(url, done.clone()));
    let mut group = c.benchmark_group(format!("queue/{name}"));
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(10);
    for workers in [1, 4] {
        let shutdown = CancellationToken::new();
        let running = {
            let _guard = rt.enter();
            runner.start(workers, shutdown.clone())
        };
        for (name, round) in [
            ("enqueue+claim+complete", Round::Pipeline),
            ("claim+complete", Round::Drain),
        ] {
            group.bench_function(format!("{name}/{workers}-workers"), |b| {
                b.to_async(&rt).iter_custom(|iters| {
                    let (runner, done) = (runner.clone(), done.clone());
                    async move {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            vacuum(&runner).await;
                            total += match round {
                                Round::Pipeline => batch(&runner, &done).await,
                                Round::Drain => drain(&runner, &done).await,
                            };
                        }
                        total
                    }
                });
            });
        }
        shutdown.cancel();
        rt.block_on(running.join_all());
    }
    group.finish();
}

fn queue_throughput(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    bench_backend(c, "sqlite", &sqlite);
    match std::env::var("TRAINYARD_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            // A schema of its own, so the benchmark leaves the database's public schema alone.
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async {
                let admin = Db::connect(&url).await.expect("connect");
                admin
                    .pool()
                    .execute("CREATE SCHEMA IF NOT EXISTS trainyard_bench")
                    .await
                    .expect("create schema");
                admin.close().await;
            });
            let separator = if url.contains('?') { '&' } else { '?' };
            let url = format!("{url}{separator}options[search_path]=trainyard_bench");
            bench_backend(c, "postgres", &url);
        }
        _ => eprintln!("queue/postgres skipped: set TRAINYARD_TEST_DATABASE_URL"),
    }
}

criterion_group!(benches, queue_throughput);
criterion_main!(benches);

//! Queue throughput: enqueue → claim → run (a no-op job) → complete, in batches, on SQLite
//! and, when `TRAINYARD_TEST_DATABASE_URL` is set, on PostgreSQL.
//!
//! `cargo bench --bench queue`

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};
use sqlx::Executor;
use trainyard::clock::SystemClock;
use trainyard::jobs::{BackgroundJob, JobError, Queue, QueueSettings, Registry, Runner};
use trainyard::store::Db;

const BATCH: u64 = 500;
/// Repositories the batch is spread over (jobs of one repository run one at a time).
const KEYS: u64 = 50;

#[derive(Serialize, Deserialize)]
struct Noop {
    repo: u64,
}

impl BackgroundJob for Noop {
    const KIND: &'static str = "bench.noop";
    type Context = ();
    fn queue_key(&self) -> String {
        format!("acme/repo-{}", self.repo)
    }
    async fn run(self, (): ()) -> Result<(), JobError> {
        Ok(())
    }
}

async fn open(url: &str) -> Runner {
    let db = Db::connect(url).await.expect("open store");
    db.migrate().await.expect("migrate");
    db.pool()
        .execute("DELETE FROM jobs")
        .await
        .expect("empty queue");
    let queue = Queue::new(db, Arc::new(SystemClock), QueueSettings::default());
    Runner::new(queue, Registry::new().register::<Noop>(()))
}

/// Enqueues a batch (one transaction per job, as webhooks do), then drains it with
/// `workers` concurrent workers.
async fn batch(runner: &Runner, workers: usize) -> Duration {
    let start = Instant::now();
    for i in 0..BATCH {
        runner
            .queue()
            .enqueue_now(&Noop { repo: i % KEYS })
            .await
            .expect("enqueue");
    }
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let runner = runner.clone();
        tasks.spawn(async move { runner.run_pending().await.expect("drain") });
    }
    let mut done = 0;
    while let Some(drained) = tasks.join_next().await {
        done += drained.expect("worker").completed;
    }
    assert_eq!(done as u64, BATCH);
    start.elapsed()
}

fn bench_backend(c: &mut Criterion, name: &str, url: &str) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let runner = rt.block_on(open(url));
    let mut group = c.benchmark_group(format!("queue/{name}"));
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(10);
    for workers in [1, 4] {
        group.bench_function(format!("enqueue+claim+complete/{workers}-workers"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let runner = runner.clone();
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += batch(&runner, workers).await;
                    }
                    total
                }
            });
        });
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

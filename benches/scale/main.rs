//! trainyard as a shared service: a fake GitHub serving many installations (its latency and
//! limits real), 1–4 `trainyard serve` processes on one PostgreSQL, and traffic from many
//! repositories at once plus one noisy repository. Reports, per replica count: deliveries
//! accepted and stored, event → draft latency (p50/p99) for quiet repositories without and
//! with the noisy one's backlog, GitHub calls per event, secondary-limit answers, dead jobs,
//! PostgreSQL connections and throughput; then releases: in some of the quiet repositories a
//! maintainer cuts and another approves, trainyard tags, publishes and files the staging
//! deployment, the deploy system reports success, and each step's latency is reported. See
//! `docs/scaling.md`; run it with `bench/scale.sh`.
//!
//! Knobs (environment): `REPLICAS` ("1 2"), `INSTALLATIONS` (1000), `REPOS_PER_INSTALLATION`
//! (5), `ACTIVE_REPOS` (200: repositories that get quiet traffic), `QUIET_EVENTS` (200),
//! `QUIET_RATE` (20 merges/s), `NOISY_EVENTS` (10000), `BURST` (400), `RELEASES` (50),
//! `LATENCY_MS` (100),
//! `WORKERS` (8 per replica), `BIN` (target/release/trainyard), `DATABASE_URL`; `SMOKE=1`
//! shrinks everything to a few seconds (CI).

mod github;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trainyard::settings::Secret;

const SECRET: &str = "scale-secret";
const SCHEMA: &str = "trainyard_scale";
const NOISY: &str = "noisy-0/repo-0";

struct Knobs {
    replicas: Vec<usize>,
    installations: u64,
    repos_per: u64,
    active: u64,
    quiet_events: u64,
    quiet_rate: f64,
    noisy_events: u64,
    burst: u64,
    releases: u64,
    latency: Duration,
    workers: usize,
    bin: String,
    database_url: String,
}

fn knob<T: std::str::FromStr>(name: &str, normal: T, smoke: T) -> T {
    let default = if std::env::var("SMOKE").is_ok_and(|v| v == "1") {
        smoke
    } else {
        normal
    };
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Knobs {
    fn from_env() -> Knobs {
        let smoke = std::env::var("SMOKE").is_ok_and(|v| v == "1");
        let replicas = std::env::var("REPLICAS")
            .unwrap_or_else(|_| if smoke { "1" } else { "1 2" }.to_owned())
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        Knobs {
            replicas,
            installations: knob("INSTALLATIONS", 1000, 20),
            repos_per: knob("REPOS_PER_INSTALLATION", 5, 5),
            active: knob("ACTIVE_REPOS", 200, 10),
            quiet_events: knob("QUIET_EVENTS", 200, 20),
            quiet_rate: knob("QUIET_RATE", 20.0, 20.0),
            noisy_events: knob("NOISY_EVENTS", 10_000, 200),
            burst: knob("BURST", 400, 20),
            releases: knob("RELEASES", 50, 3),
            latency: Duration::from_millis(knob("LATENCY_MS", 100, 5)),
            workers: knob("WORKERS", 8, 4),
            bin: std::env::var("BIN").unwrap_or_else(|_| "target/release/trainyard".into()),
            database_url: std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
        }
    }

    /// The repositories that get quiet traffic, spread over the installations.
    fn active_repos(&self) -> Vec<(String, u64)> {
        let total = self.installations * self.repos_per;
        let step = (total / self.active.max(1)).max(1);
        (0..self.active)
            .map(|i| {
                let n = (i * step) % total;
                let installation = n / self.repos_per + 1;
                (
                    format!("acme-{installation}/repo-{}", n % self.repos_per),
                    installation,
                )
            })
            .collect()
    }
}

/// Sends signed webhooks to the replicas in turn, counting answers.
struct Sender {
    http: reqwest::Client,
    replicas: Vec<String>,
    next: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
    template: Value,
    comment_template: Value,
    status_template: Value,
}

impl Sender {
    fn merge_payload(&self, repo: &str, installation: u64, number: u64) -> Value {
        let (owner, name) = repo.split_once('/').unwrap_or((repo, repo));
        let mut payload = self.template.clone();
        payload["action"] = json!("closed");
        payload["number"] = json!(number);
        payload["repository"]["full_name"] = json!(repo);
        payload["repository"]["name"] = json!(name);
        payload["repository"]["owner"]["login"] = json!(owner);
        payload["installation"] = json!({"id": installation});
        let pr = &mut payload["pull_request"];
        pr["number"] = json!(number);
        pr["title"] = json!(format!("Change {number}"));
        pr["merged"] = json!(true);
        pr["state"] = json!("closed");
        pr["merge_commit_sha"] = json!(format!("{:040x}", rand::random::<u128>()));
        pr["merged_at"] = json!(jiff::Timestamp::now().to_string());
        pr["base"]["ref"] = json!("master");
        pr["head"]["sha"] = json!(format!("{:040x}", number));
        pr["user"] = json!({"login": "dev", "type": "User", "id": 7});
        pr["labels"] = json!([{"name": "release"}]);
        payload
    }

    /// `login`'s comment `body` on issue 1 of `repo`.
    fn comment_payload(&self, repo: &str, installation: u64, login: &str, body: &str) -> Value {
        let mut payload = self.template_for(&self.comment_template, repo, installation);
        let id = rand::random::<u32>();
        payload["action"] = json!("created");
        payload["comment"] = json!({
            "id": id, "body": body, "author_association": "MEMBER",
            "user": {"login": login, "type": "User", "id": 1000 + u64::from(id % 1000)},
            "created_at": jiff::Timestamp::now().to_string(),
            "updated_at": jiff::Timestamp::now().to_string(),
        });
        payload["issue"]["number"] = json!(1);
        payload["sender"] = json!({"login": login, "type": "User", "id": 77});
        payload
    }

    /// The deploy system's `success` for deployment `id` of `sha` to `environment`.
    fn status_payload(
        &self,
        repo: &str,
        installation: u64,
        id: u64,
        sha: &str,
        environment: &str,
    ) -> Value {
        let mut payload = self.template_for(&self.status_template, repo, installation);
        payload["deployment"] = github::deployment_json(id, sha, sha, environment);
        payload["deployment_status"] = json!({
            "id": rand::random::<u32>(), "state": "success", "environment": environment,
            "description": format!("success on {environment}"),
            "environment_url": "", "log_url": "", "target_url": "",
            "creator": {"login": "deploy-bot", "type": "Bot", "id": 5},
        });
        payload
    }

    fn template_for(&self, template: &Value, repo: &str, installation: u64) -> Value {
        let (owner, name) = repo.split_once('/').unwrap_or((repo, repo));
        let mut payload = template.clone();
        payload["repository"]["full_name"] = json!(repo);
        payload["repository"]["name"] = json!(name);
        payload["repository"]["owner"]["login"] = json!(owner);
        payload["installation"] = json!({"id": installation});
        payload
    }

    async fn send(&self, event: &str, payload: &Value) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let url = &self.replicas[n as usize % self.replicas.len()];
        let body = serde_json::to_vec(payload).unwrap_or_default();
        let signature = trainyard::inbound::github::signature::sign(&Secret::new(SECRET), &body);
        let answer = self
            .http
            .post(format!("{url}/webhooks/github"))
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header(
                "x-github-delivery",
                format!("scale-{n}-{}", rand::random::<u32>()),
            )
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
            .await;
        match answer {
            Ok(a) if a.status().is_success() => self.accepted.fetch_add(1, Ordering::Relaxed),
            _ => self.refused.fetch_add(1, Ordering::Relaxed),
        };
    }
}

struct Replicas {
    children: Vec<Child>,
    urls: Vec<String>,
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn start_replicas(knobs: &Knobs, count: usize, github_url: &str, db_url: &str) -> Replicas {
    let mut replicas = Replicas {
        children: Vec::new(),
        urls: Vec::new(),
    };
    for i in 0..count {
        let port = 3300 + i;
        let child = Command::new(&knobs.bin)
            .arg("serve")
            .env("DATABASE_URL", db_url)
            .env("TRAINYARD_LISTEN", format!("127.0.0.1:{port}"))
            .env("TRAINYARD_GITHUB_APP_ID", "1")
            .env(
                "TRAINYARD_GITHUB_PRIVATE_KEY_PATH",
                "fixtures/keys/test-app.pem",
            )
            .env("TRAINYARD_GITHUB_WEBHOOK_SECRET", SECRET)
            .env("TRAINYARD_GITHUB_API_URL", github_url)
            .env("TRAINYARD_WORKERS", knobs.workers.to_string())
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start trainyard serve");
        replicas.children.push(child);
        let url = format!("http://127.0.0.1:{port}");
        // One at a time: the first migrates the store.
        let client = reqwest::Client::new();
        let mut ready = false;
        for _ in 0..200 {
            if client
                .get(format!("{url}/readyz"))
                .send()
                .await
                .is_ok_and(|a| a.status().is_success())
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "replica {i} did not become ready");
        replicas.urls.push(url);
    }
    replicas
}

/// p50 and p99 of `samples` (ms).
fn percentiles(mut samples: Vec<f64>) -> (f64, f64) {
    if samples.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

/// Sends quiet merges at `rate` a second, one to each active repository in turn, and waits
/// for each to show in its draft; returns the event → draft latencies (ms) and the misses.
async fn quiet_phase(
    sender: &Arc<Sender>,
    fake: &Arc<github::Fake>,
    repos: &[(String, u64)],
    numbers: &mut HashMap<String, u64>,
    events: u64,
    rate: f64,
) -> (Vec<f64>, usize) {
    let mut sent = Vec::new();
    let gap = Duration::from_secs_f64(1.0 / rate.max(0.1));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..events {
        let (repo, installation) = &repos[i as usize % repos.len()];
        let number = numbers.entry(repo.clone()).or_insert(1000);
        *number += 1;
        let payload = sender.merge_payload(repo, *installation, *number);
        sent.push((repo.clone(), *number, Instant::now()));
        let sender = sender.clone();
        tasks.spawn(async move { sender.send("pull_request", &payload).await });
        tokio::time::sleep(gap).await;
    }
    while tasks.join_next().await.is_some() {}
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let missing = {
            let seen = fake.seen.lock().unwrap_or_else(|p| p.into_inner());
            sent.iter()
                .filter(|(r, n, _)| !seen.drafted.contains_key(&(r.clone(), *n)))
                .count()
        };
        if missing == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = fake.seen.lock().unwrap_or_else(|p| p.into_inner());
    let mut latencies = Vec::new();
    let mut missed = 0;
    for (repo, number, at) in &sent {
        match seen.drafted.get(&(repo.clone(), *number)) {
            Some(drafted) => latencies.push(drafted.duration_since(*at).as_secs_f64() * 1000.0),
            None => missed += 1,
        }
    }
    (latencies, missed)
}

/// What the release phase measured.
struct Releases {
    count: usize,
    published: Vec<f64>,
    deployed: Vec<f64>,
    reported: Vec<f64>,
    calls: u64,
}

impl Releases {
    fn missed(&self) -> usize {
        (self.count - self.published.len())
            + (self.count - self.deployed.len())
            + (self.count - self.reported.len())
    }

    fn print(&self) {
        let show = |samples: &[f64]| {
            let (p50, p99) = percentiles(samples.to_vec());
            format!(
                "p50 {p50:.0} ms, p99 {p99:.0} ms ({} of {})",
                samples.len(),
                self.count
            )
        };
        println!("  releases: approve -> published {}", show(&self.published));
        println!(
            "            published -> staging deployment filed {}",
            show(&self.deployed)
        );
        println!(
            "            deployment success -> checks say deployed {}",
            show(&self.reported)
        );
        println!(
            "            GitHub calls per release (cut, approve, tag, publish, comments, checks, deployment): {:.1}",
            self.calls as f64 / self.count.max(1) as f64
        );
    }
}

/// Releases in the first `count` quiet repositories, all at once: a maintainer cuts, another
/// approves; trainyard tags, publishes, comments and files the staging deployment; the deploy
/// system then reports success. Waits for each step to show at the fake.
async fn release_phase(
    sender: &Arc<Sender>,
    fake: &Arc<github::Fake>,
    repos: &[(String, u64)],
    count: u64,
) -> Releases {
    let releasing: Vec<(String, u64)> = repos.iter().take(count as usize).cloned().collect();
    let calls_before = fake.calls();
    let mut tasks = tokio::task::JoinSet::new();
    for (repo, installation) in releasing.clone() {
        let sender = sender.clone();
        tasks.spawn(async move {
            let cut = sender.comment_payload(&repo, installation, "lead", "/release cut");
            sender.send("issue_comment", &cut).await;
            let approve = sender.comment_payload(&repo, installation, "second", "/release approve");
            let at = Instant::now();
            sender.send("issue_comment", &approve).await;
            (repo, at)
        });
    }
    let mut approved = HashMap::new();
    while let Some(Ok((repo, at))) = tasks.join_next().await {
        approved.insert(repo, at);
    }
    let deployed_all = |seen: &github::Seen| {
        releasing
            .iter()
            .all(|(r, _)| seen.deployments.iter().any(|d| d.0 == *r))
    };
    wait_for(fake, deployed_all).await;
    let (mut published, mut deployed, mut filed) = (Vec::new(), Vec::new(), Vec::new());
    {
        let seen = fake.seen.lock().unwrap_or_else(|p| p.into_inner());
        for (repo, installation) in &releasing {
            let Some(published_at) = seen.published.get(repo) else {
                continue;
            };
            published.push(published_at.duration_since(approved[repo]).as_secs_f64() * 1000.0);
            if let Some(d) = seen.deployments.iter().find(|d| d.0 == *repo) {
                deployed.push(d.4.duration_since(*published_at).as_secs_f64() * 1000.0);
                filed.push((repo.clone(), *installation, d.1, d.2.clone(), d.3.clone()));
            }
        }
    }
    // The deploy system reports success; the pull requests' checks then say so.
    let mut reported_sent = HashMap::new();
    for (repo, installation, id, sha, environment) in &filed {
        let payload = sender.status_payload(repo, *installation, *id, sha, environment);
        reported_sent.insert(repo.clone(), Instant::now());
        sender.send("deployment_status", &payload).await;
    }
    let reported_all = |seen: &github::Seen| {
        reported_sent.iter().all(|(r, sent)| {
            seen.deployed_checks
                .get(r)
                .is_some_and(|times| times.iter().any(|t| t >= sent))
        })
    };
    wait_for(fake, reported_all).await;
    let reported = {
        let seen = fake.seen.lock().unwrap_or_else(|p| p.into_inner());
        reported_sent
            .iter()
            .filter_map(|(r, sent)| {
                let first = seen.deployed_checks.get(r)?.iter().find(|t| *t >= sent)?;
                Some(first.duration_since(*sent).as_secs_f64() * 1000.0)
            })
            .collect()
    };
    Releases {
        count: releasing.len(),
        published,
        deployed,
        reported,
        calls: fake.calls() - calls_before,
    }
}

/// Waits (at most two minutes) until `done` holds of what the fake saw.
async fn wait_for(fake: &Arc<github::Fake>, done: impl Fn(&github::Seen) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if done(&fake.seen.lock().unwrap_or_else(|p| p.into_inner())) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn scalar(db: &sqlx::PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(db)
        .await
        .unwrap_or(-1)
}

async fn run(knobs: &Knobs, replica_count: usize) {
    let admin = sqlx::PgPool::connect(&knobs.database_url)
        .await
        .expect("PostgreSQL");
    sqlx::query("DROP SCHEMA IF EXISTS trainyard_scale CASCADE")
        .execute(&admin)
        .await
        .expect("drop schema");
    sqlx::query("CREATE SCHEMA trainyard_scale")
        .execute(&admin)
        .await
        .expect("create schema");
    let sep = if knobs.database_url.contains('?') {
        '&'
    } else {
        '?'
    };
    let db_url = format!("{}{sep}options[search_path]={SCHEMA}", knobs.database_url);
    let store = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&db_url)
        .await
        .expect("store");

    let fake = github::Fake::new(knobs.latency);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let github_url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(github::serve(fake.clone(), listener));
    let replicas = start_replicas(knobs, replica_count, &github_url, &db_url).await;

    // PostgreSQL stands in for autovacuum where it is off, and connections are sampled.
    let autovacuum_off = sqlx::query_scalar::<_, String>("SHOW autovacuum")
        .fetch_one(&admin)
        .await
        .is_ok_and(|v| v == "off");
    let max_connections = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (admin, store, max) = (admin.clone(), store.clone(), max_connections.clone());
        tokio::spawn(async move {
            let mut ticks = 0_u64;
            loop {
                let n = scalar(
                    &admin,
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()",
                )
                .await;
                max.fetch_max(u64::try_from(n).unwrap_or(0), Ordering::Relaxed);
                ticks += 1;
                if autovacuum_off && ticks.is_multiple_of(20) {
                    let _ = sqlx::query("VACUUM jobs, queue_keys").execute(&store).await;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };

    let fixture = |path: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(format!("fixtures/github-webhooks/{path}")).expect("fixture"),
        )
        .expect("fixture json")
    };
    let sender = Arc::new(Sender {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("client"),
        replicas: replicas.urls.clone(),
        next: AtomicU64::new(0),
        accepted: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        template: fixture("pull_request/closed.payload.json"),
        comment_template: fixture("issue_comment/created.with-installation.payload.json"),
        status_template: fixture("deployment_status/with-installation.payload.json"),
    });
    let repos = knobs.active_repos();
    let mut numbers = HashMap::new();

    // Warm-up: each active repository's first merge reads its configuration and creates its
    // draft; the phases measure the steady state after it.
    let (_, warm_missed) = quiet_phase(
        &sender,
        &fake,
        &repos,
        &mut numbers,
        repos.len() as u64,
        200.0,
    )
    .await;

    let calls_before = fake.calls();
    let (alone, alone_missed) = quiet_phase(
        &sender,
        &fake,
        &repos,
        &mut numbers,
        knobs.quiet_events,
        knobs.quiet_rate,
    )
    .await;
    let calls_per_merge = (fake.calls() - calls_before) as f64 / knobs.quiet_events as f64;

    // The noisy repository: its events as fast as they come, then the quiet traffic again
    // while its backlog is queued.
    let noisy_started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let per_task = knobs.noisy_events.div_ceil(32);
    for t in 0..32 {
        let sender = sender.clone();
        tasks.spawn(async move {
            for i in 0..per_task {
                let number = 100_000 + t * per_task + i;
                let payload = sender.merge_payload(NOISY, 999_999, number);
                sender.send("pull_request", &payload).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let noisy_sent_in = noisy_started.elapsed();
    let noisy_queued = scalar(
        &store,
        "SELECT COUNT(*) FROM jobs WHERE queue_key LIKE 'noisy-0/%' AND state <> 'dead'",
    )
    .await;
    let (with_noisy, noisy_missed) = quiet_phase(
        &sender,
        &fake,
        &repos,
        &mut numbers,
        knobs.quiet_events,
        knobs.quiet_rate,
    )
    .await;

    // Throughput: a burst of merges over the active repositories, all at once.
    let burst_started = Instant::now();
    let (burst_latencies, burst_missed) =
        quiet_phase(&sender, &fake, &repos, &mut numbers, knobs.burst, 10_000.0).await;
    let burst_secs = burst_started.elapsed().as_secs_f64();
    let _ = burst_latencies;

    let releases = release_phase(&sender, &fake, &repos, knobs.releases).await;

    tokio::time::sleep(Duration::from_millis(500)).await;
    sampler.abort();
    let stored = scalar(&store, "SELECT COUNT(*) FROM deliveries").await;
    let dead = scalar(&store, "SELECT COUNT(*) FROM jobs WHERE state = 'dead'").await;
    let (a50, a99) = percentiles(alone);
    let (n50, n99) = percentiles(with_noisy);
    let seen = fake.seen.lock().unwrap_or_else(|p| p.into_inner());
    println!(
        "replicas={replica_count} workers={} latency={}ms installations={} repos={} active={}",
        knobs.workers,
        knobs.latency.as_millis(),
        knobs.installations,
        knobs.installations * knobs.repos_per,
        knobs.active
    );
    println!(
        "  deliveries: {} accepted, {} refused, {stored} stored",
        sender.accepted.load(Ordering::Relaxed),
        sender.refused.load(Ordering::Relaxed)
    );
    println!("  quiet merge -> draft alone: p50 {a50:.0} ms, p99 {a99:.0} ms");
    println!(
        "  quiet merge -> draft with the noisy backlog ({noisy_queued} jobs queued, {} events sent in {:.1} s): p50 {n50:.0} ms, p99 {n99:.0} ms ({:.2}x alone)",
        knobs.noisy_events,
        noisy_sent_in.as_secs_f64(),
        n99 / a99
    );
    println!(
        "  throughput: {} merges drafted in {burst_secs:.1} s = {:.0} merges/s",
        knobs.burst,
        knobs.burst as f64 / burst_secs
    );
    println!("  GitHub calls per steady-state labelled merge: {calls_per_merge:.2}");
    println!(
        "  secondary-limit 403s: {}; dead jobs: {dead}; max PostgreSQL connections: {}",
        seen.secondary,
        max_connections.load(Ordering::Relaxed)
    );
    println!(
        "  missed drafts: warm-up {warm_missed}, alone {alone_missed}, with noisy {noisy_missed}, burst {burst_missed}"
    );
    releases.print();
    if !seen.unknown.is_empty() {
        println!("  routes the fake does not know: {:?}", seen.unknown);
    }
    let failed = sender.refused.load(Ordering::Relaxed) > 0
        || dead > 0
        || seen.secondary > 0
        || alone_missed + noisy_missed + burst_missed + warm_missed > 0
        || releases.missed() > 0;
    drop(seen);
    drop(replicas);
    if failed {
        eprintln!("FAIL: refused deliveries, dead jobs, secondary-limit answers or missed drafts");
        std::process::exit(1);
    }
}

#[tokio::main]
async fn main() {
    // `cargo test --benches` passes no `--bench`: the benchmark is run by `bench/scale.sh`.
    if !std::env::args().any(|a| a == "--bench") && std::env::var("SCALE_RUN").is_err() {
        println!("scale: run it with bench/scale.sh (SMOKE=1 for a short run)");
        return;
    }
    trainyard::chat::install_tls_provider();
    let knobs = Knobs::from_env();
    for &count in &knobs.replicas {
        run(&knobs, count).await;
    }
}

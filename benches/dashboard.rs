//! Load script: the server-side time to render a repository's dashboard page with 1,000
//! releases behind it (one a day, three pull requests and a production deployment each,
//! one in ten failing first), two live trains of 20 and 10 pull requests, three
//! environments, 2,000 audit records and a staging bake per release (one in ten failed and
//! rolled back; the latest with 60 rounds of readings): every store read, the health
//! figures and the 12 weeks of charts, the bake chart, and the HTML.
//!
//! `cargo bench --bench dashboard` (SQLite in a temporary folder), or with
//! `TRAINYARD_TEST_DATABASE_URL=postgres://…` for PostgreSQL (a fresh schema). Prints
//! p50 / p99 / max over 200 renders. Target: under 50 ms.

use std::sync::Arc;
use std::time::{Duration, Instant};

use trainyard::app::AppState;
use trainyard::clock::{Clock as _, SystemClock};
use trainyard::domain::ids::RepoFullName;
use trainyard::domain::permission::Permission;
use trainyard::settings::{Secret, Settings, SettingsArgs};
use trainyard::store::audit::{self, Entry};
use trainyard::store::web_sessions::Session;
use trainyard::store::{Db, installations};

const REPO: &str = "acme/api";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut drop_schema = None;
        let url = match std::env::var("TRAINYARD_TEST_DATABASE_URL") {
            Ok(admin) => {
                let schema = format!("bench_dashboard_{}", std::process::id());
                let db = Db::connect(&admin).await.expect("postgres");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(db.pool())
                    .await
                    .expect("schema");
                db.close().await;
                drop_schema = Some((admin.clone(), schema.clone()));
                let separator = if admin.contains('?') { '&' } else { '?' };
                format!("{admin}{separator}options[search_path]={schema}")
            }
            Err(_) => format!("sqlite://{}/bench.db", dir.path().display()),
        };
        let settings = Settings::resolve(SettingsArgs {
            database_url: Some(Secret::new(&url)),
            ..SettingsArgs::default()
        })
        .expect("settings");
        let state = AppState::open(settings, Arc::new(SystemClock))
            .await
            .expect("state");
        let seeded = Instant::now();
        seed(&state.db, SystemClock.now().as_millisecond()).await;
        println!("seeded in {:.1} s", seeded.elapsed().as_secs_f64());
        let repo = RepoFullName::parse(REPO).expect("repo");
        let session = Session {
            github_id: 8,
            login: "maya".into(),
            csrf: "bench".into(),
            repositories: format!("[\"{REPO}\"]"),
        };
        let mut times = Vec::with_capacity(renders());
        let mut bytes = 0;
        for round in 0..renders() + 20 {
            let started = Instant::now();
            let page = trainyard::web::dashboard::repository_page(
                &state,
                &session,
                &repo,
                Permission::Maintain,
                None,
            )
            .await
            .expect("page")
            .into_string();
            let took = started.elapsed();
            // The first renders warm the caches and the connection.
            if round >= 20 {
                times.push(took);
                bytes = page.len();
            }
        }
        times.sort();
        let at = |p: usize| times[(times.len() * p / 100).min(times.len() - 1)];
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let backend = if url.starts_with("postgres") { "PostgreSQL" } else { "SQLite" };
        let releases = releases();
        println!(
            "dashboard, {releases} releases, {backend}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} KiB of HTML)",
            ms(at(50)),
            ms(at(99)),
            ms(*times.last().expect("times")),
            bytes / 1024
        );
        state.db.close().await;
        if let Some((admin, schema)) = drop_schema {
            let db = Db::connect(&admin).await.expect("postgres");
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(db.pool())
                .await
                .expect("drop schema");
            db.close().await;
        }
    });
}

async fn seed(db: &Db, now: i64) {
    let day = 24 * 3600 * 1000_i64;
    let repo = RepoFullName::parse(REPO).expect("repo");
    installations::note_repository(db, 1, &repo, 0)
        .await
        .expect("installation");
    let mut tx = db.begin_write().await.expect("tx");
    for n in 0..releases() {
        let published = now - (releases() - n) * day;
        let version = format!("v1.{n}.0");
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO trains (repository, line, kind, state, branch, version, tag_name, \
             cut_at, published_at, created_at, updated_at) \
             VALUES ($1, 'main', 'regular', 'released', 'main', $2, $2, $3, $4, $3, $4) RETURNING id",
        )
        .bind(REPO)
        .bind(&version)
        .bind(published - 6 * 3600 * 1000)
        .bind(published)
        .fetch_one(&mut *tx)
        .await
        .expect("train");
        for pr in 0..3 {
            let merged = jiff::Timestamp::from_millisecond(published - (pr + 1) * day)
                .expect("time")
                .to_string();
            sqlx::query(
                "INSERT INTO train_pull_requests (train_id, number, title, merged_at, boarded_at) \
                 VALUES ($1, $2, 'A change', $3, $4)",
            )
            .bind(id)
            .bind(n * 3 + pr + 1)
            .bind(merged)
            .bind(published - day)
            .execute(&mut *tx)
            .await
            .expect("pull request");
        }
        sqlx::query(
            "INSERT INTO train_approvals (train_id, login, approved_at) VALUES ($1, 'maya', $2)",
        )
        .bind(id)
        .bind(published - 3600 * 1000)
        .execute(&mut *tx)
        .await
        .expect("approval");
        let states: &[&str] = if n % 10 == 0 {
            &["failure", "success"]
        } else {
            &["success"]
        };
        for (k, deployment_state) in states.iter().enumerate() {
            let at = published + (k as i64 + 1) * 3600 * 1000;
            sqlx::query(
                "INSERT INTO deployments (repository, environment, train_id, version, ref_name, \
                 requested_by, state, created_at, updated_at) \
                 VALUES ($1, 'production', $2, $3, $3, 'maya', $4, $5, $5)",
            )
            .bind(REPO)
            .bind(id)
            .bind(&version)
            .bind(*deployment_state)
            .bind(at)
            .execute(&mut *tx)
            .await
            .expect("deployment");
        }
    }
    // A staging bake per release, each its own deployment; one in ten breached and restored.
    for n in 0..releases() {
        let published = now - (releases() - n) * day;
        let (deployment,): (i64,) = sqlx::query_as(
            "INSERT INTO deployments (repository, environment, ref_name, requested_by, state, \
             created_at, updated_at) VALUES ($1, 'staging', $2, 'trainyard', 'success', $3, $3) \
             RETURNING id",
        )
        .bind(REPO)
        .bind(format!("v1.{n}.0"))
        .bind(published)
        .fetch_one(&mut *tx)
        .await
        .expect("staging deployment");
        let breached = n % 10 == 5;
        let (bake,): (i64,) = sqlx::query_as(
            "INSERT INTO bakes (repository, installation_id, environment, deployment_id, \
             version, tag, sha, state, started_at, ends_at, every_ms, next_check_at, rounds, \
             finished_at, restored_at, reason) \
             VALUES ($1, 1, 'staging', $2, $3, $4, 'abc', $5, $6, $7, 60000, $7, 60, $7, $8, $9) \
             RETURNING id",
        )
        .bind(REPO)
        .bind(deployment)
        .bind(format!("1.{n}.0"))
        .bind(format!("v1.{n}.0"))
        .bind(if breached { "breached" } else { "verified" })
        .bind(published)
        .bind(published + 3_600_000)
        .bind(breached.then_some(published + 3_700_000))
        .bind(breached.then_some("`errors` = 0.5 > max 0.02"))
        .fetch_one(&mut *tx)
        .await
        .expect("bake");
        if n == releases() - 1 {
            for round in 1..=60_i64 {
                sqlx::query(
                    "INSERT INTO bake_readings (bake_id, round, at, value, healthy) \
                     VALUES ($1, $2, $3, $4, 1)",
                )
                .bind(bake)
                .bind(round)
                .bind(published + round * 60_000)
                .bind(0.001 * round as f64)
                .execute(&mut *tx)
                .await
                .expect("reading");
            }
        }
    }
    for environment in ["staging", "canary"] {
        sqlx::query(
            "INSERT INTO deployments (repository, environment, ref_name, requested_by, state, \
             created_at, updated_at) VALUES ($1, $2, 'v1.999.0', 'carol', 'success', $3, $3)",
        )
        .bind(REPO)
        .bind(environment)
        .bind(now - day)
        .execute(&mut *tx)
        .await
        .expect("deployment");
    }
    for (state, passengers) in [("frozen", 10), ("open", 20)] {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO trains (repository, line, kind, state, branch, version, cut_at, \
             created_at, updated_at) VALUES ($1, 'main', 'regular', $2, 'main', 'v1.1000.0', $3, $3, $3) \
             RETURNING id",
        )
        .bind(REPO)
        .bind(state)
        .bind(now - day)
        .fetch_one(&mut *tx)
        .await
        .expect("live train");
        for pr in 0..passengers {
            sqlx::query(
                "INSERT INTO train_pull_requests (train_id, number, title, author, boarded_at) \
                 VALUES ($1, $2, 'A change waiting to ship', 'octocat', $3)",
            )
            .bind(id)
            .bind(10_000 + id * 100 + pr)
            .bind(now - day)
            .execute(&mut *tx)
            .await
            .expect("passenger");
        }
    }
    for n in 0..2_000 {
        let entry = Entry::effect(REPO, "github.comment", format!("comment {n} on #{n}"));
        audit::record(&mut tx, &entry, now - n * 60_000)
            .await
            .expect("audit");
    }
    tx.commit().await.expect("commit");
}

/// 1_000 in a full run; 50 in the smoke run `cargo test --benches` makes (CI).
fn releases() -> i64 {
    if smoke() { 50 } else { 1_000 }
}

/// 200 in a full run; 5 in the smoke run `cargo test --benches` makes (CI).
fn renders() -> usize {
    if smoke() { 5 } else { 200 }
}

/// Run by `cargo test --benches` (no `--bench` argument): a few requests, to show it works.
fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

//! Load script: the time from a signed `deployment_status` webhook to the edited chat message.
//! The real server (intake, queue, workers, Slack client) runs in-process against a real store
//! and a fake Slack (wiremock) that notes when each `chat.update` arrives. 20 repositories,
//! 10 deployments each: every deployment reports `in_progress` (its message is posted), then,
//! under load, `success` — 200 webhooks at once over 32 connections — and each edit's latency
//! is measured from the moment its webhook was sent.
//!
//! `cargo bench --bench deploy_relay` (SQLite in a temporary folder), or with
//! `TRAINYARD_TEST_DATABASE_URL=postgres://…` for PostgreSQL. Prints p50 / p99 / max.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trainyard::app::{AppState, router};
use trainyard::clock::SystemClock;
use trainyard::domain::ids::RepoFullName;
use trainyard::inbound::github::signature;
use trainyard::settings::{Secret, Settings, SettingsArgs};
use trainyard::store::chat::{ChatSurface, Route, set_routes};
use trainyard::store::deployments::{self, SeenDeployment};
use trainyard::store::{Db, installations};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

const REPOSITORIES: usize = 20;

const CONNECTIONS: usize = 32;
const SECRET: &str = "bench-webhook-secret";

/// When each edit naming a reference arrived at Slack.
#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<HashMap<String, Instant>>>);

impl Respond for Arrivals {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let text = body["text"].as_str().unwrap_or_default();
        // "Deployment of `ref-3-7` to *production* succeeded".
        if text.contains("succeeded")
            && let Some(reference) = text.split('`').nth(1)
        {
            self.0
                .lock()
                .expect("lock")
                .entry(reference.to_owned())
                .or_insert_with(Instant::now);
        }
        ResponseTemplate::new(200).set_body_json(json!({"ok": true, "ts": "1700000000.000001"}))
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = match std::env::var("TRAINYARD_TEST_DATABASE_URL") {
            Ok(url) => {
                let db = Db::connect(&url).await.expect("postgres");
                db.migrate().await.expect("migrate");
                for statement in [
                    "DELETE FROM deployments",
                    "DELETE FROM chat_routes",
                    "DELETE FROM train_events",
                    "DELETE FROM train_event_deliveries",
                    "DELETE FROM effect_steps",
                    "DELETE FROM deliveries",
                    "DELETE FROM jobs",
                ] {
                    sqlx::query(statement)
                        .execute(db.pool())
                        .await
                        .expect("clean");
                }
                db.close().await;
                url
            }
            Err(_) => format!("sqlite://{}/bench.db", dir.path().display()),
        };
        let slack = MockServer::start().await;
        let arrivals = Arrivals::default();
        Mock::given(method("POST"))
            .and(path("/chat.update"))
            .respond_with(arrivals.clone())
            .mount(&slack)
            .await;
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ok": true, "ts": "1700000000.000001"})),
            )
            .mount(&slack)
            .await;
        let github = MockServer::start().await;
        let settings = Settings::resolve(SettingsArgs {
            database_url: Some(Secret::new(&url)),
            github_app_id: Some(42),
            github_private_key_path: Some(
                format!("{}/fixtures/keys/test-app.pem", env!("CARGO_MANIFEST_DIR")).into(),
            ),
            github_webhook_secret: Some(SECRET.parse().expect("secret")),
            github_api_url: Some(github.uri()),
            slack_signing_secret: Some(Secret::new("bench")),
            slack_bot_token: Some(Secret::new("xoxb-bench")),
            slack_api_url: Some(slack.uri()),
            slack_workspaces: Some("T1".into()),
            workers: Some(8),
            ..SettingsArgs::default()
        })
        .expect("settings");
        let state = AppState::open(settings, Arc::new(SystemClock))
            .await
            .expect("state");
        seed(&state.db).await;
        let shutdown = tokio_util::sync::CancellationToken::new();
        let _workers = state.runner().start(8, shutdown.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listen");
        let address = listener.local_addr().expect("address");
        let limits = state.settings.http.clone();
        let app = router(state);
        tokio::spawn({
            let shutdown = shutdown.clone();
            async move { trainyard::server::serve(&listener, app, &limits, shutdown).await }
        });
        let base = format!("http://{address}/webhooks/github");
        // Idle connections are dropped before the server's header deadline closes them.
        trainyard::chat::install_tls_provider();
        let client = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(1))
            .build()
            .expect("client");

        // Every deployment's message is posted first.
        let all: Vec<(usize, usize)> = (0..REPOSITORIES)
            .flat_map(|r| (0..deployments_per_repository()).map(move |d| (r, d)))
            .collect();
        send_all(&client, &base, &all, "in_progress").await;
        // Let the first statuses' posts go out (a few hundred milliseconds).
        tokio::time::sleep(Duration::from_secs(2)).await;

        // Then every one succeeds at once; each edit is timed from its webhook.
        let started = Instant::now();
        let sent = send_all(&client, &base, &all, "success").await;
        let deadline = Instant::now() + Duration::from_secs(120);
        while arrivals.0.lock().expect("lock").len() < all.len() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let arrived = arrivals.0.lock().expect("lock").clone();
        let mut latencies: Vec<Duration> = sent
            .iter()
            .filter_map(|(reference, at)| arrived.get(reference).map(|done| *done - *at))
            .collect();
        latencies.sort();
        let pick =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        let backend = if url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        println!(
            "deployment_status → edited Slack message, {backend}, {} webhooks over {CONNECTIONS} \
             connections, {REPOSITORIES} repositories: edited {}/{}, min {:.1} ms, p50 {:.1} ms, \
             p99 {:.1} ms, max {:.1} ms, all done in {:.2} s",
            all.len(),
            latencies.len(),
            all.len(),
            latencies.first().copied().unwrap_or_default().as_secs_f64() * 1000.0,
            pick(0.50).as_secs_f64() * 1000.0,
            pick(0.99).as_secs_f64() * 1000.0,
            latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
            started.elapsed().as_secs_f64()
        );
        shutdown.cancel();
    });
}

fn reference(repository: usize, deployment: usize) -> String {
    format!("ref-{repository}-{deployment}")
}

fn github_id(repository: usize, deployment: usize) -> i64 {
    (1000 + repository * 100 + deployment) as i64
}

async fn seed(db: &Db) {
    for r in 0..REPOSITORIES {
        let repo = RepoFullName::parse(&format!("acme/service-{r}")).expect("repo");
        installations::note_repository(db, 1, &repo, 0)
            .await
            .expect("installation");
        set_routes(
            db,
            &repo,
            &[Route {
                surface: ChatSurface::Slack,
                channel: "C1".into(),
                announce: true,
            }],
        )
        .await
        .expect("routes");
        for d in 0..deployments_per_repository() {
            deployments::seen(
                db,
                &SeenDeployment {
                    repository: repo.as_ref(),
                    github_id: github_id(r, d),
                    environment: "production",
                    ref_name: &reference(r, d),
                    sha: "0123456789abcdef0123456789abcdef01234567",
                    creator: "deployer",
                    request_id: None,
                },
                0,
            )
            .await
            .expect("deployment");
        }
    }
}

/// The `deployment_status` webhook GitHub sends (GitHub's own example, re-pointed).
fn status_payload(repository: usize, deployment: usize, state: &str, n: u64) -> Vec<u8> {
    static FIXTURE: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let fixture = FIXTURE.get_or_init(|| {
        let text = std::fs::read_to_string(format!(
            "{}/fixtures/github-webhooks/deployment_status/with-installation.payload.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture");
        serde_json::from_str(&text).expect("json")
    });
    let mut payload = fixture.clone();
    payload["deployment_status"]["id"] = json!(n);
    payload["deployment_status"]["state"] = json!(state);
    payload["deployment_status"]["environment"] = json!("production");
    payload["deployment_status"]["description"] = json!(state);
    payload["deployment"]["id"] = json!(github_id(repository, deployment));
    payload["deployment"]["ref"] = json!(reference(repository, deployment));
    payload["deployment"]["sha"] = json!("0123456789abcdef0123456789abcdef01234567");
    payload["deployment"]["environment"] = json!("production");
    payload["deployment"]["payload"] = json!({});
    payload["repository"]["name"] = json!(format!("service-{repository}"));
    payload["repository"]["full_name"] = json!(format!("acme/service-{repository}"));
    serde_json::to_vec(&payload).expect("json")
}

/// Sends one status per deployment over `CONNECTIONS` connections; returns when each was sent.
async fn send_all(
    client: &reqwest::Client,
    url: &str,
    all: &[(usize, usize)],
    state: &str,
) -> Vec<(String, Instant)> {
    let chunks: Vec<Vec<(usize, usize)>> = all
        .chunks(all.len().div_ceil(CONNECTIONS))
        .map(<[(usize, usize)]>::to_vec)
        .collect();
    let mut tasks = Vec::new();
    for (c, chunk) in chunks.into_iter().enumerate() {
        let client = client.clone();
        let url = url.to_owned();
        let state = state.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for (i, (r, d)) in chunk.into_iter().enumerate() {
                let n = (c * 10_000 + i) as u64 + if state == "success" { 1_000_000 } else { 0 };
                let body = status_payload(r, d, &state, n);
                let at = Instant::now();
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-github-event", "deployment_status")
                    .header(
                        "x-github-delivery",
                        format!("{:08x}-0000-4000-8000-{:012x}", n, r * 1000 + d),
                    )
                    .header(
                        "x-hub-signature-256",
                        signature::sign(&Secret::new(SECRET), &body),
                    )
                    .body(body)
                    .send()
                    .await
                    .expect("answer");
                let status = response.status().as_u16();
                assert_eq!(status, 202, "{}", response.text().await.unwrap_or_default());
                sent.push((reference(r, d), at));
            }
            sent
        }));
    }
    let mut sent = Vec::new();
    for task in tasks {
        sent.extend(task.await.expect("sender"));
    }
    sent
}

/// 10 in a full run; 1 in the smoke run `cargo test --benches` makes (CI).
fn deployments_per_repository() -> usize {
    if smoke() { 1 } else { 10 }
}

/// Run by `cargo test --benches` (no `--bench` argument): a few requests, to show it works.
fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

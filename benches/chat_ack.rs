//! Load script: ack latency of `/release status` from Slack and Discord, over real HTTP to
//! the server's router, with 32 concurrent keep-alive connections. Every request is signed
//! the way the service signs it (Slack HMAC with a unique trigger id, Discord Ed25519 with a
//! unique interaction id), so it goes through verification, the dedupe row, routing and the
//! store reads of a 20-passenger train, like a real command.
//!
//! `cargo bench --bench chat_ack` (SQLite in a temporary folder), or with
//! `TRAINYARD_TEST_DATABASE_URL=postgres://…` for PostgreSQL. Prints p50 / p99 / max.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use hmac::{KeyInit, Mac};
use trainyard::app::{AppState, router};
use trainyard::clock::SystemClock;
use trainyard::domain::ids::RepoFullName;
use trainyard::settings::{Secret, Settings, SettingsArgs};
use trainyard::store::chat::{ChatSurface, Route, set_routes};
use trainyard::store::{Db, installations, repo_configs, trains};

const CONNECTIONS: usize = 32;

const SLACK_SECRET: &str = "bench-signing-secret";
const REPO: &str = "acme/api";
/// The Discord guild the bench speaks from (a snowflake, as Discord sends it).
const GUILD: &str = "8800";

#[derive(Clone, Copy)]
enum Surface {
    Slack,
    Discord,
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
                // Migrated first, so the tables exist; then a clean slate for the seed.
                db.migrate().await.expect("migrate");
                for statement in [
                    "DELETE FROM chat_requests",
                    "DELETE FROM chat_routes",
                    "DELETE FROM train_pull_requests",
                    "DELETE FROM trains",
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
        let key = SigningKey::from_bytes(&[3; 32]);
        let settings = Settings::resolve(SettingsArgs {
            database_url: Some(Secret::new(&url)),
            slack_signing_secret: Some(Secret::new(SLACK_SECRET)),
            slack_bot_token: Some(Secret::new("xoxb-bench")),
            slack_workspaces: Some("T1".into()),
            discord_public_key: Some(hex::encode(key.verifying_key().to_bytes())),
            discord_application_id: Some(1),
            discord_bot_token: Some(Secret::new("bench")),
            discord_guilds: Some(GUILD.into()),
            ..SettingsArgs::default()
        })
        .expect("settings");
        let state = AppState::open(settings, Arc::new(SystemClock))
            .await
            .expect("state");
        seed(&state.db).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listen");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            axum::serve(listener, router(state)).await.ok();
        });
        let backend = if url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        for surface in [Surface::Slack, Surface::Discord] {
            run(surface, address, &key, backend).await;
        }
    });
}

async fn seed(db: &Db) {
    let repo = RepoFullName::parse(REPO).expect("repo");
    installations::note_repository(db, 1, &repo, 0)
        .await
        .expect("installation");
    repo_configs::save_good(
        db,
        &repo,
        Some(".github/trainyard.yml"),
        Some("sha"),
        Some("chat:\n  slack-channel: C1\n  discord-channel: '555'\n"),
        0,
    )
    .await
    .expect("config");
    set_routes(
        db,
        &repo,
        &[
            Route {
                surface: ChatSurface::Slack,
                channel: "C1".into(),
                announce: true,
            },
            Route {
                surface: ChatSurface::Discord,
                channel: "555".into(),
                announce: true,
            },
        ],
    )
    .await
    .expect("routes");
    let train = trains::open_train(
        &mut db.conn().await.expect("connection"),
        &repo,
        "main",
        "main",
        0,
    )
    .await
    .expect("train");
    let labels = vec!["release".to_owned(), "feature".to_owned()];
    for number in 1..=20u64 {
        let title = format!("Change number {number}");
        trains::board(
            &mut db.conn().await.expect("connection"),
            train.id,
            &trains::Boarding {
                number,
                title: &title,
                author: Some("octocat"),
                merge_sha: None,
                merged_at: Some("2026-11-27T09:00:00Z"),
                labels: &labels,
                body: "",
                changed_files: None,
            },
            0,
        )
        .await
        .expect("board");
    }
}

fn slack_request(n: usize) -> (String, Vec<(&'static str, String)>) {
    let body = serde_urlencoded::to_string([
        ("team_id", "T1"),
        ("channel_id", "C1"),
        ("user_id", "U1"),
        ("command", "/release"),
        ("text", "status"),
        ("response_url", "https://hooks.slack.invalid/response"),
        ("trigger_id", &format!("trigger-{n}-{}", std::process::id())),
    ])
    .expect("form");
    let timestamp = jiff::Timestamp::now().as_second().to_string();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SLACK_SECRET.as_bytes()).expect("key");
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    let signature = format!("v0={}", hex::encode(mac.finalize().into_bytes()));
    (
        body,
        vec![
            ("content-type", "application/x-www-form-urlencoded".into()),
            ("x-slack-request-timestamp", timestamp),
            ("x-slack-signature", signature),
        ],
    )
}

fn discord_request(n: usize, key: &SigningKey) -> (String, Vec<(&'static str, String)>) {
    // Discord's real shape (serenity's models read it): snowflake ids as strings, the member
    // and user fields Discord always sends, the command's own id.
    let id = 1_300_000_000_000_000_000_u64 + (u64::from(std::process::id()) << 20) + n as u64;
    let body = serde_json::json!({
        "type": 2, "id": id.to_string(), "token": "t", "application_id": "1", "version": 1,
        "guild_id": GUILD, "channel_id": "555", "locale": "en-US", "guild_locale": "en-US",
        "app_permissions": "2248473465835073", "entitlements": [], "context": 0,
        "authorizing_integration_owners": {"0": GUILD}, "attachment_size_limit": 524_288_000,
        "member": {
            "user": {"id": "4100", "username": "bench", "discriminator": "0",
                     "global_name": null, "avatar": null},
            "roles": [], "joined_at": "2026-01-05T10:00:00.000000+00:00", "deaf": false,
            "mute": false, "flags": 0, "permissions": "2248473465835073"
        },
        "data": {"id": "1200000000000000001", "name": "release", "type": 1,
                 "options": [{"name": "status", "type": 1, "options": []}]}
    })
    .to_string();
    let timestamp = jiff::Timestamp::now().as_second().to_string();
    let mut message = timestamp.clone().into_bytes();
    message.extend_from_slice(body.as_bytes());
    let signature = hex::encode(key.sign(&message).to_bytes());
    (
        body,
        vec![
            ("content-type", "application/json".into()),
            ("x-signature-timestamp", timestamp),
            ("x-signature-ed25519", signature),
        ],
    )
}

async fn run(surface: Surface, address: std::net::SocketAddr, key: &SigningKey, backend: &str) {
    trainyard::chat::install_tls_provider();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .expect("client");
    let (path, name) = match surface {
        Surface::Slack => ("/slack/commands", "Slack /release status"),
        Surface::Discord => ("/discord/interactions", "Discord /release status"),
    };
    let url = format!("http://{address}{path}");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for connection in 0..CONNECTIONS {
        let client = client.clone();
        let url = url.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(requests_per_connection());
            for i in 0..warmup_per_connection() + requests_per_connection() {
                let n = connection * 100_000 + i;
                let (body, headers) = match surface {
                    Surface::Slack => slack_request(n),
                    Surface::Discord => discord_request(n, &key),
                };
                let mut request = client.post(&url).body(body);
                for (name, value) in headers {
                    request = request.header(name, value);
                }
                let sent = Instant::now();
                let response = request.send().await.expect("answer");
                let status = response.status();
                let text = response.text().await.expect("body");
                let took = sent.elapsed();
                assert!(status.is_success(), "{status}: {text}");
                assert!(
                    text.contains("20 pull requests"),
                    "a real status card: {text}"
                );
                if i >= warmup_per_connection() {
                    latencies.push(took);
                }
            }
            latencies
        }));
    }
    let mut all: Vec<Duration> = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("task"));
    }
    let wall = started.elapsed();
    all.sort_unstable();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    println!(
        "{name} on {backend}: {} requests over {CONNECTIONS} connections in {:.2?} \
         ({:.0} req/s): p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        all.len(),
        wall,
        all.len() as f64 / wall.as_secs_f64(),
        at(0.50),
        at(0.99),
        all[all.len() - 1]
    );
}

/// 250 in a full run; 5 in the smoke run `cargo test --benches` makes (CI).
fn requests_per_connection() -> usize {
    if smoke() { 5 } else { 250 }
}

/// 20 in a full run; 1 in the smoke run `cargo test --benches` makes (CI).
fn warmup_per_connection() -> usize {
    if smoke() { 1 } else { 20 }
}

/// Run by `cargo test --benches` (no `--bench` argument): a few requests, to show it works.
fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

//! `trainyard doctor` as an operator runs it: the real binary against a fake GitHub, Slack and
//! Discord at the HTTP level; one line per check, the fix for each failure, exit status 1.

mod harness;

use std::process::Output;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use harness::process::trainyard;

struct Fakes {
    github: MockServer,
    slack: MockServer,
    discord: MockServer,
}

async fn fakes(permissions: serde_json::Value, delivery_status: u16) -> Fakes {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/app"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"slug": "trainyard-acme", "name": "trainyard"})),
        )
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path("/app/installations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 1, "account": {"login": "acme"}, "permissions": permissions}
        ])))
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path("/app/installations/1/access_tokens"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(
                json!({"token": "ghs_doctor", "expires_at": "2099-01-01T00:00:00Z"}),
            ),
        )
        .mount(&github)
        .await;
    // acme/api's production has trainyard as its protection rule; staging has none.
    Mock::given(method("GET"))
        .and(path(
            "/repos/acme/api/environments/production/deployment_protection_rules",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 1,
            "custom_deployment_protection_rules": [
                {"id": 3, "enabled": true, "app": {"id": 42, "slug": "trainyard-acme"}}
            ]
        })))
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/repos/acme/api/environments/staging/deployment_protection_rules",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"total_count": 0, "custom_deployment_protection_rules": []})),
        )
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path("/app/hook/deliveries"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 9, "event": "pull_request", "status_code": delivery_status},
            {"id": 8, "event": "push", "status_code": 202}
        ])))
        .mount(&github)
        .await;
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/auth.test"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "team_id": "T1"})),
        )
        .mount(&slack)
        .await;
    let discord = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v10/oauth2/applications/@me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "77"})))
        .mount(&discord)
        .await;
    Fakes {
        github,
        slack,
        discord,
    }
}

async fn doctor(fakes: &Fakes, dir: &std::path::Path) -> Output {
    let key = format!("{}/fixtures/keys/test-app.pem", env!("CARGO_MANIFEST_DIR"));
    let mut cmd = trainyard(dir);
    cmd.arg("doctor")
        .env("TRAINYARD_GITHUB_APP_ID", "42")
        .env("TRAINYARD_GITHUB_PRIVATE_KEY_PATH", &key)
        .env("TRAINYARD_GITHUB_WEBHOOK_SECRET", "s")
        .env("TRAINYARD_GITHUB_API_URL", fakes.github.uri())
        .env("TRAINYARD_SLACK_SIGNING_SECRET", "s")
        .env("TRAINYARD_SLACK_BOT_TOKEN", "xoxb-1")
        .env("TRAINYARD_SLACK_API_URL", fakes.slack.uri())
        .env("TRAINYARD_SLACK_WORKSPACES", "T1")
        .env("TRAINYARD_DISCORD_PUBLIC_KEY", "a".repeat(64))
        .env("TRAINYARD_DISCORD_APPLICATION_ID", "77")
        .env("TRAINYARD_DISCORD_BOT_TOKEN", "d")
        .env(
            "TRAINYARD_DISCORD_API_URL",
            format!("{}/api/v10", fakes.discord.uri()),
        )
        .env("TRAINYARD_PUBLIC_URL", "https://trainyard.example")
        .env("RUST_LOG", "off");
    tokio::task::spawn_blocking(move || cmd.output().expect("run doctor"))
        .await
        .expect("doctor")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_setup_passes_every_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A store that was migrated, as `serve` leaves it.
    let migrate = trainyard(dir.path())
        .arg("migrate")
        .output()
        .expect("migrate");
    assert!(migrate.status.success());
    // acme/api, installed as installation 1, deploys to staging and production.
    let url = format!("sqlite://{}", dir.path().join("trainyard.db").display());
    let db = trainyard::store::Db::connect(&url).await.expect("store");
    let repo = trainyard::domain::ids::RepoFullName::parse("acme/api").expect("repo");
    let config = "deploy:\n  environments:\n    - name: staging\n    - name: production\n";
    trainyard::store::repo_configs::save_good(
        &db,
        &repo,
        Some(".github/trainyard.yml"),
        Some("b1"),
        Some(config),
        0,
    )
    .await
    .expect("config");
    trainyard::store::installations::note_repository(&db, 1, &repo, 0)
        .await
        .expect("installation");
    db.close().await;
    let fakes = fakes(
        json!({"actions": "read", "checks": "write", "contents": "write", "issues": "write",
               "pull_requests": "write", "deployments": "write", "metadata": "read"}),
        202,
    )
    .await;
    let out = doctor(&fakes, dir.path()).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "ok    public URL: https://trainyard.example",
        "ok    store: sqlite://trainyard.db (SQLite), migrated",
        "ok    GitHub App: the key signs in as trainyard-acme",
        "ok    installation acme: permissions as app-manifest.yml asks",
        "ok    webhooks: GitHub's last 2 deliveries were accepted",
        "ok    Slack: the bot token works in workspace T1",
        "ok    Discord: the bot token belongs to application 77",
        "ok    release gate acme/api: trainyard is the deployment protection rule of production",
        "note  release gate acme/api: staging does not have trainyard as a deployment protection rule",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_is_named_with_its_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fakes = fakes(json!({"contents": "read", "metadata": "read"}), 401).await;
    let out = doctor(&fakes, dir.path()).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    for line in [
        "FAIL  store: sqlite://trainyard.db: the file does not exist",
        "fix: run `trainyard migrate`",
        "FAIL  installation acme: actions: read needed, none granted; checks: write needed, none granted; contents: write needed, read granted; issues: write needed, none granted",
        "FAIL  webhooks: 1 of GitHub's last 2 deliveries were refused for their signature (the latest: pull_request)",
        "fix: TRAINYARD_GITHUB_WEBHOOK_SECRET must be the App's webhook secret",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
}

/// In an empty folder with no settings at all: the doctor says what is missing, exits 1,
/// and leaves nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_configured_fails_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = trainyard(dir.path())
        .arg("doctor")
        .env("RUST_LOG", "off")
        .output()
        .expect("doctor");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    for line in [
        "FAIL  public URL: TRAINYARD_PUBLIC_URL is not set",
        "FAIL  store: sqlite://trainyard.db: the file does not exist",
        "FAIL  GitHub App: no GitHub App is configured",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    // A public URL over plain http to another machine is refused too.
    let out = trainyard(dir.path())
        .arg("doctor")
        .env("TRAINYARD_PUBLIC_URL", "http://trainyard.example")
        .env("RUST_LOG", "off")
        .output()
        .expect("doctor");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL  public URL: http://trainyard.example is not https"),
        "{text}"
    );
}

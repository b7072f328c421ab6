//! `trainyard serve` and `trainyard migrate` as a user runs them: the real binary, no
//! settings but a free port, in an empty folder.

mod harness;

use std::process::Command;
use std::time::{Duration, Instant};

use harness::process::{Server, trainyard};

#[tokio::test]
async fn serve_with_no_settings_answers_health_and_refuses_unconfigured_routes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]).await;

    assert_eq!(
        server.get("/healthz").await,
        (200, r#"{"status":"ok"}"#.into())
    );
    assert_eq!(
        server.get("/readyz").await,
        (200, r#"{"status":"ready"}"#.into())
    );
    let (status, body) = server.post("/webhooks/github").await;
    assert_eq!(status, 503);
    assert!(body.contains("the GitHub App is not configured"), "{body}");
    for path in [
        "/slack/commands",
        "/slack/interactions",
        "/discord/interactions",
    ] {
        let (status, body) = server.post(path).await;
        assert_eq!(status, 503, "{path}");
        assert!(
            body.contains("is not configured on this server"),
            "{path}: {body}"
        );
    }
    assert!(
        dir.path().join("trainyard.db").exists(),
        "the default SQLite file is created"
    );

    let (status, out) = server.terminate();
    assert!(status.success(), "exit 0 on SIGTERM, got {status}: {out}");
    for integration in [
        "GitHub App not configured",
        "GitHub OAuth not configured",
        "Slack not configured",
        "Discord not configured",
    ] {
        assert_eq!(
            out.matches(integration).count(),
            1,
            "one line for {integration}:\n{out}"
        );
    }
    assert!(out.contains("SIGTERM received; shutting down"), "{out}");
    assert!(out.contains("trainyard stopped"), "{out}");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[("TRAINYARD_LOG_FORMAT", "json")]).await;
    server.get("/healthz").await;
    let (status, out) = server.terminate();
    assert!(status.success());
    let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    assert!(lines.len() >= 5, "{out}");
    for line in lines {
        let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert!(value.get("level").is_some(), "{line}");
    }
}

#[tokio::test]
async fn serve_on_postgres_is_ready() {
    let Some(test) = harness::TestDb::postgres("serve_on_postgres_is_ready").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[("DATABASE_URL", &test.url)]).await;
    assert_eq!(
        server.get("/readyz").await,
        (200, r#"{"status":"ready"}"#.into())
    );
    let (status, out) = server.terminate();
    assert!(status.success(), "{out}");
    assert!(
        !dir.path().join("trainyard.db").exists(),
        "no SQLite file when on PostgreSQL"
    );
}

#[test]
fn a_partly_configured_integration_stops_start_up_naming_what_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = trainyard(dir.path())
        .arg("serve")
        .env("TRAINYARD_GITHUB_APP_ID", "1234")
        .env("TRAINYARD_SLACK_BOT_TOKEN", "xoxb-not-printed")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "error: GitHub App is partly configured: missing TRAINYARD_GITHUB_PRIVATE_KEY (or \
         TRAINYARD_GITHUB_PRIVATE_KEY_PATH), TRAINYARD_GITHUB_WEBHOOK_SECRET"
    );
    assert!(
        !dir.path().join("trainyard.db").exists(),
        "nothing is created"
    );
}

#[test]
fn help_never_shows_secret_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = trainyard(dir.path())
        .args(["serve", "--help"])
        .env("TRAINYARD_SLACK_BOT_TOKEN", "xoxb-very-secret")
        .env("DATABASE_URL", "postgres://app:hunter2@db/x")
        .output()
        .expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("TRAINYARD_SLACK_BOT_TOKEN"), "{help}");
    assert!(
        !help.contains("xoxb-very-secret") && !help.contains("hunter2"),
        "{help}"
    );
}

#[test]
fn migrate_applies_migrations_and_jobs_shows_the_queue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = trainyard(dir.path()).arg("migrate").output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It says what it applied (tests/cli.rs checks the wording and a second run).
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("applied "),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = trainyard(dir.path())
        .args(["jobs", "--run"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ran due jobs: 0 completed, 0 will retry, 0 waiting, 0 dead"),
        "{stdout}"
    );
    assert!(
        stdout.contains("queued 0  running 0  retrying 0  dead 0"),
        "{stdout}"
    );
}

#[tokio::test]
async fn replay_against_serve_stores_the_delivery_and_runs_its_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = format!("{}/fixtures/keys/test-app.pem", env!("CARGO_MANIFEST_DIR"));
    let app = [
        ("TRAINYARD_GITHUB_APP_ID", "42"),
        ("TRAINYARD_GITHUB_PRIVATE_KEY_PATH", key.as_str()),
        ("TRAINYARD_GITHUB_WEBHOOK_SECRET", "replay-secret"),
    ];
    let server = Server::start(dir.path(), &app).await;
    let payload = format!(
        "{}/fixtures/github-webhooks/installation/created.payload.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let replay = |delivery: &str| {
        let mut cmd = trainyard(dir.path());
        cmd.args([
            "replay",
            &payload,
            "--event",
            "installation",
            "--url",
            &server.base,
            "--delivery",
            delivery,
        ]);
        for (k, v) in app {
            cmd.env(k, v);
        }
        cmd.output().expect("run replay")
    };
    let out = replay("11111111-2222-3333-4444-555555555555");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.trim(),
        "delivery 11111111-2222-3333-4444-555555555555: HTTP 202\n{\"status\":\"queued\"}"
    );
    let again = replay("11111111-2222-3333-4444-555555555555");
    assert!(String::from_utf8_lossy(&again.stdout).contains(r#"{"status":"duplicate"}"#));

    // The server's workers run the job: the installation is recorded.
    let db = trainyard::store::Db::connect(&format!(
        "sqlite://{}",
        dir.path().join("trainyard.db").display()
    ))
    .await
    .expect("open the server's store");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let installed = trainyard::store::installations::list(&db)
            .await
            .expect("list");
        if !installed.is_empty() {
            assert_eq!(installed[0].id, 957387);
            break;
        }
        assert!(Instant::now() < deadline, "the job did not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deliveries = trainyard::store::deliveries::list(&db).await.expect("list");
    assert_eq!(deliveries.len(), 1);
    assert_eq!(
        deliveries[0].delivery_id,
        "11111111-2222-3333-4444-555555555555"
    );
    db.close().await;

    let wrong = {
        let mut cmd = trainyard(dir.path());
        cmd.args([
            "replay",
            &payload,
            "--event",
            "installation",
            "--url",
            &server.base,
        ])
        .env("TRAINYARD_GITHUB_WEBHOOK_SECRET", "not-the-secret");
        cmd.output().expect("run replay")
    };
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stdout).contains("HTTP 401"));
    let (status, out) = server.terminate();
    assert!(status.success(), "{out}");
}

#[tokio::test]
async fn sighup_reloads_a_rotated_webhook_secret_without_dropping_the_socket() {
    use trainyard::inbound::github::signature;
    use trainyard::settings::Secret;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("trainyard.toml");
    let key = format!("{}/fixtures/keys/test-app.pem", env!("CARGO_MANIFEST_DIR"));
    let write = |secret: &str| {
        std::fs::write(
            &config,
            format!(
                "github_app_id = 42\ngithub_private_key_path = \"{key}\"\n\
                 github_webhook_secret = \"{secret}\"\ngithub_api_url = \"http://127.0.0.1:9\"\n"
            ),
        )
        .expect("config");
    };
    write("old-secret");
    let config_path = config.display().to_string();
    let server = Server::start(dir.path(), &[("TRAINYARD_CONFIG", &config_path)]).await;
    let ping = |secret: &'static str| {
        let base = server.base.clone();
        async move {
            let body = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#.to_vec();
            reqwest::Client::new()
                .post(format!("{base}/webhooks/github"))
                .header("content-type", "application/json")
                .header("x-github-event", "ping")
                .header("x-github-delivery", "reload-1")
                .header(
                    "x-hub-signature-256",
                    signature::sign(&Secret::new(secret), &body),
                )
                .body(body)
                .send()
                .await
                .expect("answer")
                .status()
                .as_u16()
        }
    };
    trainyard::chat::install_tls_provider();
    assert_eq!(ping("old-secret").await, 200);

    // The secret is rotated in the file; SIGHUP makes the running server read it.
    write("new-secret");
    let hup = Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(hup.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while ping("new-secret").await != 200 {
        assert!(
            Instant::now() < deadline,
            "the new secret was never accepted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ping("old-secret").await, 401);
    let (status, out) = server.terminate();
    assert!(status.success(), "{out}");
    assert!(out.contains("settings reloaded"), "{out}");
}

/// Fly's Prometheus reads `/metrics`: deliveries by event and outcome (a forged one under
/// `unverified`, whatever event it names), the queue as it stands, and nothing a caller
/// chose as a label.
#[tokio::test]
async fn metrics_count_deliveries_by_event_and_outcome_and_show_the_queue() {
    use trainyard::inbound::github::signature;
    use trainyard::settings::Secret;
    let dir = tempfile::tempdir().expect("tempdir");
    let key = format!("{}/fixtures/keys/test-app.pem", env!("CARGO_MANIFEST_DIR"));
    let server = Server::start(
        dir.path(),
        &[
            ("TRAINYARD_GITHUB_APP_ID", "42"),
            ("TRAINYARD_GITHUB_PRIVATE_KEY_PATH", &key),
            ("TRAINYARD_GITHUB_WEBHOOK_SECRET", "metrics-secret"),
            // Nothing answers there: the job waits to retry, and nothing leaves this machine.
            ("TRAINYARD_GITHUB_API_URL", "http://127.0.0.1:9"),
        ],
    )
    .await;
    let body = std::fs::read(format!(
        "{}/fixtures/github-webhooks/pull_request/closed.payload.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let send = |event: &'static str, delivery: &'static str, signature: String| {
        let body = body.clone();
        let url = format!("{}/webhooks/github", server.base);
        async move {
            reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .header("x-github-event", event)
                .header("x-github-delivery", delivery)
                .header("x-hub-signature-256", signature)
                .body(body)
                .send()
                .await
                .expect("delivery")
                .status()
                .as_u16()
        }
    };
    // The first scrape already has every family, its closed label sets at zero, and no
    // rate limit GitHub has not told.
    let first = reqwest::get(format!("{}/metrics", server.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in [
        "trainyard_webhook_deliveries_total{event=\"pull_request\",outcome=\"queued\"} 0",
        "trainyard_github_requests_total{method=\"GET\",status=\"2xx\"} 0",
        "trainyard_job_duration_seconds_count{kind=\"github.webhook\",outcome=\"completed\"} 0",
        "trainyard_chat_ack_seconds_count{surface=\"slack\"} 0",
    ] {
        assert!(first.lines().any(|l| l == line), "{line} in:\n{first}");
    }
    assert!(!first.contains("rate_limit_remaining"), "{first}");
    let good = signature::sign(&Secret::new("metrics-secret"), &body);
    assert_eq!(send("pull_request", "m-1", good.clone()).await, 202);
    assert_eq!(send("pull_request", "m-1", good).await, 200, "duplicate");
    assert_eq!(send("made_up_event", "m-2", "sha256=00".into()).await, 401);

    // The delivery's job runs (the pull request was closed unmerged: nothing to do).
    let deadline = Instant::now() + Duration::from_secs(15);
    let text = loop {
        let response = reqwest::get(format!("{}/metrics", server.base))
            .await
            .expect("metrics");
        assert_eq!(response.status(), 200);
        assert!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/openmetrics-text")),
        );
        let text = response.text().await.expect("text");
        if text.contains(
            "trainyard_job_duration_seconds_count{kind=\"github.webhook\",outcome=\"completed\"} 1",
        ) {
            break text;
        }
        assert!(Instant::now() < deadline, "the job never ran:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for line in [
        "trainyard_webhook_deliveries_total{event=\"pull_request\",outcome=\"queued\"} 1",
        "trainyard_webhook_deliveries_total{event=\"pull_request\",outcome=\"duplicate\"} 1",
        "trainyard_webhook_deliveries_total{event=\"unverified\",outcome=\"unauthorized\"} 1",
        "trainyard_queue_jobs{state=\"dead\"} 0",
        "trainyard_bake_rounds_total{outcome=\"breach\"} 0",
        "trainyard_bakes_ended_total{state=\"breached\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
    }
    assert!(!text.contains("made_up_event"), "{text}");
    assert!(
        text.contains("trainyard_queue_oldest_due_seconds "),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    let (status, out) = server.terminate();
    assert!(status.success(), "{out}");
}

/// `trainyard audit`: the log newest first, by repository and date, as text or JSON lines.
#[tokio::test]
async fn the_audit_command_reads_the_log_by_repository_and_date() {
    use trainyard::store::audit::{self, Entry};
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/trainyard.db", dir.path().display());
    let db = trainyard::store::Db::connect(&url).await.expect("store");
    db.migrate().await.expect("migrate");
    let day = 24 * 3600 * 1000_i64;
    let nov_1 = "2026-11-01T00:00:00Z"
        .parse::<jiff::Timestamp>()
        .expect("time")
        .as_millisecond();
    let mut conn = db.conn().await.expect("conn");
    for (repo, action, at) in [
        ("acme/api", "github.tag", nov_1 - day),
        ("acme/api", "github.release", nov_1 + day),
        ("acme/web", "github.comment", nov_1 + 2 * day),
    ] {
        let entry = Entry::effect(repo, action, format!("{action} detail"));
        audit::record(&mut conn, &entry, at).await.expect("record");
    }
    drop(conn);
    db.close().await;

    let run = |args: &[&str]| {
        let out = trainyard(dir.path())
            .env("DATABASE_URL", &url)
            .arg("audit")
            .args(args)
            .output()
            .expect("run");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let text = run(&["--repo", "acme/api"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with(
            "2026-11-02 00:00:00Z  acme/api  trainyard (trainyard)  github.release done: "
        ),
        "{text}"
    );
    assert!(lines[1].contains("github.tag done"), "{text}");
    let json = run(&["--since", "2026-11-01", "--json"]);
    let records: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let actions: Vec<&str> = records
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(actions, ["github.comment", "github.release"]);
    let bad = trainyard(dir.path())
        .env("DATABASE_URL", &url)
        .args(["audit", "--since", "last week"])
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("give a date (2026-11-01)"),
        "{bad:?}"
    );
}

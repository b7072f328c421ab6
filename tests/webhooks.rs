//! `POST /webhooks/github` through the real router, on SQLite and PostgreSQL: what GitHub is
//! answered, and what is left in the store.

mod harness;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use jiff::SignedDuration;
use trainyard::app::AppState;
use trainyard::clock::ManualClock;
use trainyard::inbound::github::signature;
use trainyard::jobs::{JobState, QueueCounts};
use trainyard::settings::{Secret, Settings, SettingsArgs};
use trainyard::store::{deliveries, installations};

use harness::TestDb;

const SECRET: &str = "webhook-secret";
const OLD_SECRET: &str = "previous-webhook-secret";

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/fixtures/github-webhooks/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

struct Bot {
    state: AppState,
    clock: ManualClock,
}

impl Bot {
    fn new(test: &TestDb) -> Bot {
        let settings = Settings::resolve(SettingsArgs {
            github_app_id: Some(42),
            github_private_key_path: Some(
                format!("{}/fixtures/keys/test-app.pem", env!("CARGO_MANIFEST_DIR")).into(),
            ),
            github_webhook_secret: Some(SECRET.parse().expect("secret")),
            github_webhook_secret_previous: Some(OLD_SECRET.parse().expect("secret")),
            ..SettingsArgs::default()
        })
        .expect("settings");
        let clock = ManualClock::starting_at("2026-11-27T09:00:00Z".parse().expect("time"));
        Bot {
            state: AppState::new(settings, test.db.clone(), Arc::new(clock.clone()))
                .expect("state"),
            clock,
        }
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, String) {
        let answer = harness::http::send(&self.state, request).await;
        (answer.status, answer.body)
    }

    async fn deliver(&self, event: &str, delivery: &str, body: &[u8]) -> (StatusCode, String) {
        self.send(signed(event, delivery, body, SECRET)).await
    }

    async fn counts(&self) -> (u64, QueueCounts) {
        let stored = deliveries::count(&self.state.db).await.expect("count");
        (stored, self.state.queue.counts().await.expect("counts"))
    }

    async fn assert_nothing_stored(&self) {
        assert_eq!(self.counts().await, (0, QueueCounts::default()));
    }
}

fn request(
    event: Option<&str>,
    delivery: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Request<Body> {
    let mut builder = Request::post("/webhooks/github").header("content-type", "application/json");
    if let Some(event) = event {
        builder = builder.header("x-github-event", event);
    }
    if let Some(delivery) = delivery {
        builder = builder.header("x-github-delivery", delivery);
    }
    if let Some(signature) = signature {
        builder = builder.header("x-hub-signature-256", signature);
    }
    builder.body(Body::from(body.to_vec())).expect("request")
}

fn signed(event: &str, delivery: &str, body: &[u8], secret: &str) -> Request<Body> {
    let signature = signature::sign(&Secret::new(secret), body);
    request(Some(event), Some(delivery), Some(&signature), body)
}

const DELIVERY: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

async fn a_signed_delivery_is_stored_with_its_job_and_accepted(test: TestDb) {
    let bot = Bot::new(&test);
    let body = fixture("pull_request/labeled.payload.json");
    assert_eq!(
        bot.deliver("pull_request", DELIVERY, &body).await,
        (StatusCode::ACCEPTED, r#"{"status":"queued"}"#.into())
    );
    let stored = deliveries::list(&bot.state.db).await.expect("list");
    assert_eq!(stored.len(), 1);
    let d = &stored[0];
    assert_eq!(
        (
            d.source.as_str(),
            d.delivery_id.as_str(),
            d.event.as_str(),
            d.action.as_deref()
        ),
        ("github", DELIVERY, "pull_request", Some("labeled"))
    );
    assert_eq!(
        (d.outcome.as_str(), d.repository.as_deref()),
        ("queued", Some("Codertocat/Hello-World"))
    );
    let jobs = bot.state.queue.jobs().await.expect("jobs");
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (jobs[0].kind.as_str(), jobs[0].queue_key.as_str()),
        ("github.webhook", "Codertocat/Hello-World")
    );
    assert_eq!(jobs[0].state, JobState::Queued);
}

async fn a_redelivery_is_a_duplicate_and_adds_no_job(test: TestDb) {
    let bot = Bot::new(&test);
    let body = fixture("pull_request/closed.payload.json");
    assert_eq!(
        bot.deliver("pull_request", DELIVERY, &body).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        bot.deliver("pull_request", DELIVERY, &body).await,
        (StatusCode::OK, r#"{"status":"duplicate"}"#.into())
    );
    assert_eq!(
        bot.counts().await,
        (
            1,
            QueueCounts {
                queued: 1,
                ..QueueCounts::default()
            }
        )
    );
}

async fn a_delivery_signed_with_the_previous_secret_is_accepted(test: TestDb) {
    let bot = Bot::new(&test);
    let body = fixture("release/published.payload.json");
    let (status, _) = bot
        .send(signed("release", DELIVERY, &body, OLD_SECRET))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

async fn bad_input_is_refused_and_nothing_is_stored(test: TestDb) {
    let bot = Bot::new(&test);
    let body = fixture("pull_request/labeled.payload.json");
    let good = signature::sign(&Secret::new(SECRET), &body);
    let wrong = signature::sign(&Secret::new("not the secret"), &body);
    let cases: Vec<(&str, Request<Body>, StatusCode)> = vec![
        (
            "no signature",
            request(Some("pull_request"), Some(DELIVERY), None, &body),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong secret",
            request(Some("pull_request"), Some(DELIVERY), Some(&wrong), &body),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "sha1 only",
            request(
                Some("pull_request"),
                Some(DELIVERY),
                Some("sha1=0000"),
                &body,
            ),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "no event header",
            request(None, Some(DELIVERY), Some(&good), &body),
            StatusCode::BAD_REQUEST,
        ),
        (
            "no delivery header",
            request(Some("pull_request"), None, Some(&good), &body),
            StatusCode::BAD_REQUEST,
        ),
        (
            "odd delivery id",
            request(Some("pull_request"), Some("../../etc"), Some(&good), &body),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (case, req, expected) in cases {
        let (status, reply) = bot.send(req).await;
        assert_eq!(status, expected, "{case}: {reply}");
        assert!(!reply.contains(SECRET), "{case}");
    }
    // A body altered after signing.
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    let req = request(Some("pull_request"), Some(DELIVERY), Some(&good), &tampered);
    assert_eq!(bot.send(req).await.0, StatusCode::UNAUTHORIZED);

    // Form-encoded webhooks (a repository hook setting) are not ours.
    let mut form = signed("pull_request", DELIVERY, &body, SECRET);
    form.headers_mut().insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().expect("value"),
    );
    assert_eq!(bot.send(form).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Signed, but not JSON, or JSON of the wrong shape.
    let (status, reply) = bot
        .deliver("pull_request", DELIVERY, b"{\"action\": \"closed\",")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert!(reply.contains("malformed pull_request payload"), "{reply}");
    let (status, reply) = bot
        .deliver(
            "release",
            DELIVERY,
            br#"{"action":"published","release":{"id":"x"}}"#,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(reply.contains("release.id"), "{reply}");

    bot.assert_nothing_stored().await;
}

async fn a_body_over_25_mib_is_refused(test: TestDb) {
    let bot = Bot::new(&test);
    let mut body = br#"{"action":"opened","padding":""#.to_vec();
    body.resize(25 * 1024 * 1024 + 1, b'x');
    body.extend_from_slice(br#""}"#);
    let (status, _) = bot.deliver("pull_request", DELIVERY, &body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    bot.assert_nothing_stored().await;
}

async fn ping_is_answered_and_not_stored(test: TestDb) {
    let bot = Bot::new(&test);
    assert_eq!(
        bot.deliver("ping", DELIVERY, &fixture("ping/with-app_id.payload.json"))
            .await,
        (StatusCode::OK, r#"{"status":"pong"}"#.into())
    );
    bot.assert_nothing_stored().await;
}

async fn events_we_do_not_handle_are_recorded_as_ignored_without_a_job(test: TestDb) {
    let bot = Bot::new(&test);
    let ignored = [
        ("pull_request", "pull_request/assigned.payload.json"),
        ("check_suite", "check_suite/completed.payload.json"),
        ("issue_comment", "issue_comment/deleted.payload.json"),
    ];
    for (n, (event, path)) in ignored.iter().enumerate() {
        let delivery = format!("{DELIVERY}-{n}");
        assert_eq!(
            bot.deliver(event, &delivery, &fixture(path)).await,
            (StatusCode::ACCEPTED, r#"{"status":"ignored"}"#.into()),
            "{path}"
        );
    }
    let stored = deliveries::list(&bot.state.db).await.expect("list");
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|d| d.outcome == "ignored"));
    assert_eq!(
        bot.state.queue.counts().await.expect("counts"),
        QueueCounts::default()
    );
}

async fn installation_events_keep_the_installation_list(test: TestDb) {
    let bot = Bot::new(&test);
    let runner = bot.state.runner();
    let steps = [
        ("installation", "installation/created.payload.json"),
        (
            "installation_repositories",
            "installation_repositories/added.payload.json",
        ),
    ];
    for (n, (event, path)) in steps.iter().enumerate() {
        assert_eq!(
            bot.deliver(event, &format!("d-{n}"), &fixture(path))
                .await
                .0,
            StatusCode::ACCEPTED
        );
    }
    let drained = runner.run_pending().await.expect("run");
    assert_eq!(drained.completed, 2);
    let listed = installations::list(&bot.state.db).await.expect("list");
    assert_eq!(listed.len(), 1);
    let id = u64::try_from(listed[0].id).expect("id");
    assert_eq!((id, listed[0].account.as_str()), (957387, "Codertocat"));
    assert_eq!(
        installations::repositories(&bot.state.db, id)
            .await
            .expect("repos"),
        ["Codertocat/Hello-World", "Codertocat/Space"]
    );
    let repo = trainyard::domain::ids::RepoFullName::parse("codertocat/hello-world").expect("name");
    assert_eq!(
        installations::for_repository(&bot.state.db, &repo)
            .await
            .expect("find"),
        Some(id)
    );

    // The same installation loses a repository, is suspended, then uninstalled.
    let removed = for_installation("installation_repositories/removed.payload.json", id, |p| {
        p["repositories_removed"][0]["full_name"] = "Codertocat/Space".into()
    });
    bot.deliver("installation_repositories", "d-2", &removed)
        .await;
    bot.deliver(
        "installation",
        "d-3",
        &for_installation("installation/suspend.payload.json", id, |_| {}),
    )
    .await;
    runner.run_pending().await.expect("run");
    assert_eq!(
        installations::repositories(&bot.state.db, id)
            .await
            .expect("repos"),
        ["Codertocat/Hello-World"]
    );
    assert_eq!(
        installations::for_repository(&bot.state.db, &repo)
            .await
            .expect("find"),
        None,
        "suspended"
    );

    bot.deliver(
        "installation",
        "d-4",
        &for_installation("installation/deleted.payload.json", id, |_| {}),
    )
    .await;
    runner.run_pending().await.expect("run");
    assert!(
        installations::list(&bot.state.db)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        installations::repositories(&bot.state.db, id)
            .await
            .expect("repos")
            .is_empty()
    );
}

/// A fixture re-addressed to installation `id`, with `edit` applied.
fn for_installation(path: &str, id: u64, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut payload: serde_json::Value = serde_json::from_slice(&fixture(path)).expect("json");
    payload["installation"]["id"] = id.into();
    edit(&mut payload);
    serde_json::to_vec(&payload).expect("json")
}

async fn old_delivery_records_are_pruned_after_eight_days(test: TestDb) {
    let bot = Bot::new(&test);
    let body = fixture("pull_request/opened.payload.json");
    bot.deliver("pull_request", "old", &body).await;
    bot.clock.advance(SignedDuration::from_hours(24));
    bot.deliver("pull_request", "newer", &body).await;
    bot.clock.advance(SignedDuration::from_hours(7 * 24 + 1));
    bot.state
        .queue
        .enqueue_now(&trainyard::handlers::events::Housekeeping)
        .await
        .expect("enqueue");
    bot.state.runner().run_pending().await.expect("run");
    let kept: Vec<String> = deliveries::list(&bot.state.db)
        .await
        .expect("list")
        .into_iter()
        .map(|d| d.delivery_id)
        .collect();
    assert_eq!(kept, ["newer"]);
    // Inside the window a redelivery is still recognised.
    assert_eq!(
        bot.deliver("pull_request", "newer", &body).await.0,
        StatusCode::OK
    );
}

async fn concurrent_deliveries_are_each_stored_once(test: TestDb) {
    let bot = Bot::new(&test);
    let body = fixture("pull_request/labeled.payload.json");
    // 200 distinct deliveries and 20 copies of one, all at once: they share group commits.
    let ids: Vec<String> = (0..200).map(|n| format!("{DELIVERY}-{n}")).collect();
    let mut requests = Vec::new();
    for id in &ids {
        requests.push(bot.deliver("pull_request", id, &body));
    }
    for _ in 0..20 {
        requests.push(bot.deliver("pull_request", "the-same-delivery", &body));
    }
    let answers = futures::future::join_all(requests).await;
    let accepted = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::ACCEPTED)
        .count();
    let duplicates = answers
        .iter()
        .filter(|(s, b)| *s == StatusCode::OK && b.contains("duplicate"))
        .count();
    assert_eq!((accepted, duplicates), (201, 19));
    assert_eq!(
        bot.counts().await,
        (
            201,
            QueueCounts {
                queued: 201,
                ..QueueCounts::default()
            }
        )
    );
}

async fn events_that_change_nothing_cost_no_job_once_the_repository_is_known(test: TestDb) {
    let bot = Bot::new(&test);
    let labeled = fixture("pull_request/labeled.payload.json");
    // First sight of the repository: a job records it.
    assert_eq!(
        bot.deliver("pull_request", "first", &labeled).await,
        (StatusCode::ACCEPTED, r#"{"status":"queued"}"#.into())
    );
    bot.state.runner().run_pending().await.expect("run");
    // (The labelled pull request's check waits for a GitHub this bot has not got.)
    let waiting = bot.state.queue.jobs().await.expect("jobs").len();
    // A comment without a command changes nothing: recorded, no job.
    let chatter = fixture("issue_comment/created.with-installation.payload.json");
    assert_eq!(
        bot.deliver("issue_comment", "second", &chatter).await,
        (StatusCode::ACCEPTED, r#"{"status":"ignored"}"#.into())
    );
    assert_eq!(bot.state.queue.jobs().await.expect("jobs").len(), waiting);
    // A merge still does.
    let mut merged: serde_json::Value =
        serde_json::from_slice(&fixture("pull_request/closed.payload.json")).expect("json");
    merged["pull_request"]["merged"] = serde_json::json!(true);
    let merged = serde_json::to_vec(&merged).expect("json");
    assert_eq!(
        bot.deliver("pull_request", "third", &merged).await,
        (StatusCode::ACCEPTED, r#"{"status":"queued"}"#.into())
    );
    let kept: Vec<String> = deliveries::list(&bot.state.db)
        .await
        .expect("list")
        .into_iter()
        .map(|d| format!("{}:{}", d.delivery_id, d.outcome))
        .collect();
    assert_eq!(kept, ["first:queued", "second:ignored", "third:queued"]);
}

/// Another process holds SQLite's writer lock: the answer still comes well inside GitHub's
/// 10 s (a 503, so GitHub's redelivery, or the operator's, brings the event again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_sqlite_writer_is_answered_within_five_seconds() {
    use sqlx::Connection as _;
    let test = TestDb::sqlite().await;
    let bot = Bot::new(&test);
    let mut other = sqlx::SqliteConnection::connect(&test.url)
        .await
        .expect("second connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect("writer lock");
    let body = fixture("pull_request/labeled.payload.json");
    let started = std::time::Instant::now();
    // Deliveries arriving one after another queue behind the writer that waits for the lock;
    // each is answered within the bound all the same.
    let ids: Vec<String> = (0..3).map(|n| format!("while-locked-{n}")).collect();
    let answers = futures::future::join_all(ids.iter().enumerate().map(|(n, id)| {
        let (bot, body) = (&bot, &body);
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(300 * n as u64)).await;
            bot.deliver("pull_request", id, body).await
        }
    }))
    .await;
    let waited = started.elapsed();
    assert!(
        answers
            .iter()
            .all(|(status, _)| *status == StatusCode::SERVICE_UNAVAILABLE),
        "{answers:?}"
    );
    assert!(
        waited < std::time::Duration::from_millis(6_500),
        "answered after {waited:?}"
    );
    sqlx::query("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("release");
}

on_both_backends!(
    events_that_change_nothing_cost_no_job_once_the_repository_is_known,
    concurrent_deliveries_are_each_stored_once,
    a_signed_delivery_is_stored_with_its_job_and_accepted,
    a_redelivery_is_a_duplicate_and_adds_no_job,
    a_delivery_signed_with_the_previous_secret_is_accepted,
    bad_input_is_refused_and_nothing_is_stored,
    a_body_over_25_mib_is_refused,
    ping_is_answered_and_not_stored,
    events_we_do_not_handle_are_recorded_as_ignored_without_a_job,
    installation_events_keep_the_installation_list,
    old_delivery_records_are_pruned_after_eight_days,
);

#[tokio::test]
async fn without_a_configured_app_the_route_answers_503_and_reads_nothing() {
    let test = TestDb::sqlite().await;
    let settings = Settings::resolve(SettingsArgs::default()).expect("settings");
    let clock = ManualClock::starting_at("2026-11-27T09:00:00Z".parse().expect("time"));
    let bot = Bot {
        state: AppState::new(settings, test.db.clone(), Arc::new(clock.clone())).expect("state"),
        clock,
    };
    let body = fixture("pull_request/labeled.payload.json");
    let (status, reply) = bot.deliver("pull_request", DELIVERY, &body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.contains("not configured"), "{reply}");
    bot.assert_nothing_stored().await;
}

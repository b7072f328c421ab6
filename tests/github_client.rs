//! The real GitHub client against a wiremock GitHub: App JWTs, installation tokens, errors,
//! and what the queue does with a rate limit.

mod harness;

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use trainyard::clock::{Clock, ManualClock};
use trainyard::domain::ids::RepoFullName;
use trainyard::domain::permission::Permission;
use trainyard::github::{ContentLimits, GitHubClient, GitHubError};
use trainyard::jobs::{
    BackgroundJob, Drained, Enqueued, JobError, JobState, Queue, QueueSettings, Registry, Runner,
};
use trainyard::settings::{GitHubAppSettings, Secret};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const INSTALLATION: u64 = 7;
const START: &str = "2026-11-27T09:00:00Z";

fn key(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/fixtures/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("test key")
}

fn app(client_id: Option<&str>) -> GitHubAppSettings {
    GitHubAppSettings {
        app_id: Some(42),
        client_id: client_id.map(str::to_owned),
        private_key: Secret::new(key("test-app.pem")),
        webhook_secrets: vec![Secret::new("s")],
    }
}

struct Fake {
    server: MockServer,
    clock: ManualClock,
    client: GitHubClient,
}

async fn fake(client_id: Option<&str>, pacing: ContentLimits) -> Fake {
    let server = MockServer::start().await;
    let clock = ManualClock::starting_at(START.parse().expect("time"));
    let client = GitHubClient::new(
        &app(client_id),
        &server.uri(),
        Arc::new(clock.clone()),
        pacing,
    )
    .expect("client");
    Fake {
        server,
        clock,
        client,
    }
}

fn token_answer(token: &str, expires_at: Timestamp) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(serde_json::json!({
        "token": token,
        "expires_at": expires_at.to_string(),
        "permissions": { "contents": "write" },
        "repository_selection": "all"
    }))
}

/// The token endpoint, answering every mint with `token`.
async fn mount_tokens(server: &MockServer, token: &str, expires_at: Timestamp) {
    Mock::given(method("POST"))
        .and(path(TOKENS))
        .respond_with(token_answer(token, expires_at))
        .mount(server)
        .await;
}

fn permission_answer(role: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "permission": if role == "maintain" { "write" } else { role },
        "role_name": role,
        "user": { "login": "alice" }
    }))
}

const TOKENS: &str = "/app/installations/7/access_tokens";
const PERMISSION: &str = "/repos/acme/api/collaborators/alice/permission";

fn repo() -> RepoFullName {
    RepoFullName::parse("acme/api").expect("repo")
}

#[derive(Debug, Deserialize)]
struct Claims {
    iat: i64,
    exp: i64,
    iss: serde_json::Value,
}

fn claims_of(request: &Request) -> Claims {
    let auth = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .expect("authorization");
    let jwt = auth.strip_prefix("Bearer ").expect("bearer");
    let key = DecodingKey::from_rsa_pem(key("test-app.pub.pem").as_bytes()).expect("public key");
    let mut validation = Validation::new(Algorithm::RS256);
    // The fake's clock is not the wall clock; the claims are checked below instead.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Claims>(jwt, &key, &validation)
        .expect("JWT verifies with the App's public key")
        .claims
}

#[tokio::test]
async fn the_app_jwt_verifies_and_carries_githubs_claims() {
    for (client_id, issuer) in [
        (None, serde_json::json!(42)),
        (Some("Iv1.abc123"), serde_json::json!("Iv1.abc123")),
    ] {
        let f = fake(client_id, ContentLimits::default()).await;
        let now: Timestamp = START.parse().expect("time");
        Mock::given(method("POST"))
            .and(path(TOKENS))
            .respond_with(token_answer("ghs_one", now + SignedDuration::from_hours(1)))
            .expect(1)
            .mount(&f.server)
            .await;
        Mock::given(method("GET"))
            .and(path(PERMISSION))
            .respond_with(permission_answer("maintain"))
            .mount(&f.server)
            .await;

        let permission = f
            .client
            .collaborator_permission(INSTALLATION, &repo(), "alice")
            .await
            .expect("permission");
        assert_eq!(permission, Permission::Maintain);

        let requests = f.server.received_requests().await.expect("recorded");
        let mint = requests
            .iter()
            .find(|r| r.url.path() == TOKENS)
            .expect("token minted");
        let claims = claims_of(mint);
        assert_eq!(claims.iat, now.as_second() - 60, "issued a minute early");
        assert_eq!(claims.exp, now.as_second() + 540, "valid nine minutes");
        assert_eq!(claims.iss, issuer);
        assert_eq!(
            mint.headers
                .get("x-github-api-version")
                .map(|v| v.as_bytes()),
            Some(b"2022-11-28".as_slice())
        );
        assert_eq!(last_bearer(&f.server, PERMISSION).await, "Bearer ghs_one");
    }
}

#[tokio::test]
async fn calls_within_the_hour_share_one_token_and_a_near_expiry_token_is_replaced() {
    let f = fake(None, ContentLimits::default()).await;
    let now: Timestamp = START.parse().expect("time");
    Mock::given(method("POST"))
        .and(path(TOKENS))
        .respond_with(token_answer("ghs_one", now + SignedDuration::from_hours(1)))
        .up_to_n_times(1)
        .mount(&f.server)
        .await;
    mount_tokens(&f.server, "ghs_two", now + SignedDuration::from_hours(2)).await;
    Mock::given(method("GET"))
        .and(path(PERMISSION))
        .respond_with(permission_answer("write"))
        .mount(&f.server)
        .await;

    let acme_api = repo();
    let calls = (0..20).map(|_| {
        f.client
            .collaborator_permission(INSTALLATION, &acme_api, "alice")
    });
    for result in futures::future::join_all(calls).await {
        assert_eq!(result.expect("permission"), Permission::Write);
    }
    f.clock.advance(SignedDuration::from_mins(54));
    f.client
        .collaborator_permission(INSTALLATION, &repo(), "alice")
        .await
        .expect("permission");
    let mints = count(&f.server, TOKENS).await;
    assert_eq!(mints, 1, "21 calls inside the hour mint one token");

    f.clock.advance(SignedDuration::from_mins(2));
    f.client
        .collaborator_permission(INSTALLATION, &repo(), "alice")
        .await
        .expect("permission");
    assert_eq!(
        count(&f.server, TOKENS).await,
        2,
        "a token with under 5 minutes left is replaced"
    );
    assert_eq!(last_bearer(&f.server, PERMISSION).await, "Bearer ghs_two");
}

#[tokio::test]
async fn a_401_mints_a_new_token_once() {
    let f = fake(None, ContentLimits::default()).await;
    let now: Timestamp = START.parse().expect("time");
    Mock::given(method("POST"))
        .and(path(TOKENS))
        .respond_with(token_answer(
            "ghs_revoked",
            now + SignedDuration::from_hours(1),
        ))
        .up_to_n_times(1)
        .mount(&f.server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKENS))
        .respond_with(token_answer(
            "ghs_fresh",
            now + SignedDuration::from_hours(1),
        ))
        .mount(&f.server)
        .await;
    Mock::given(method("GET"))
        .and(path(PERMISSION))
        .and(header("authorization", "Bearer ghs_revoked"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({"message": "Bad credentials"})),
        )
        .mount(&f.server)
        .await;
    Mock::given(method("GET"))
        .and(path(PERMISSION))
        .and(header("authorization", "Bearer ghs_fresh"))
        .respond_with(permission_answer("admin"))
        .mount(&f.server)
        .await;

    let permission = f
        .client
        .collaborator_permission(INSTALLATION, &repo(), "alice")
        .await
        .expect("permission");
    assert_eq!(permission, Permission::Admin);
    assert_eq!(count(&f.server, TOKENS).await, 2);
    assert_eq!(count(&f.server, PERMISSION).await, 2);
}

#[tokio::test]
async fn a_token_refused_twice_is_an_error_after_one_new_mint() {
    let f = fake(None, ContentLimits::default()).await;
    let now: Timestamp = START.parse().expect("time");
    mount_tokens(&f.server, "ghs_x", now + SignedDuration::from_hours(1)).await;
    Mock::given(method("GET"))
        .and(path(PERMISSION))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({"message": "Bad credentials"})),
        )
        .mount(&f.server)
        .await;
    let err = f
        .client
        .collaborator_permission(INSTALLATION, &repo(), "alice")
        .await
        .unwrap_err();
    assert_eq!(err, GitHubError::Unauthorized("Bad credentials".into()));
    assert!(
        !err.to_string().contains("ghs_x"),
        "tokens never appear in errors"
    );
    assert_eq!(count(&f.server, TOKENS).await, 2);
    assert_eq!(count(&f.server, PERMISSION).await, 2);
}

#[tokio::test]
async fn githubs_errors_are_classified_and_messages_kept() {
    let f = fake(None, ContentLimits::default()).await;
    let now: Timestamp = START.parse().expect("time");
    mount_tokens(&f.server, "ghs_x", now + SignedDuration::from_hours(1)).await;
    let cases = [
        (
            502,
            serde_json::json!({"message": "Server Error"}),
            GitHubError::Transient("502 Bad Gateway: Server Error".into()),
        ),
        (
            404,
            serde_json::json!({"message": "Not Found"}),
            GitHubError::NotFound("Not Found".into()),
        ),
        (
            422,
            serde_json::json!({"message": "Reference already exists"}),
            GitHubError::Validation("Reference already exists".into()),
        ),
    ];
    for (status, body, expected) in cases {
        f.server.reset().await;
        mount_tokens(&f.server, "ghs_x", now + SignedDuration::from_hours(1)).await;
        Mock::given(method("POST"))
            .and(path("/repos/acme/api/issues/12/comments"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&f.server)
            .await;
        let err = f
            .client
            .create_comment(INSTALLATION, &repo(), 12, "hello")
            .await
            .unwrap_err();
        assert_eq!(err, expected);
    }
}

#[tokio::test]
async fn an_unreachable_github_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let clock = ManualClock::starting_at(START.parse().expect("time"));
    let client = GitHubClient::new(&app(None), &url, Arc::new(clock), ContentLimits::default())
        .expect("client");
    let err = client.repository_installation(&repo()).await.unwrap_err();
    assert!(matches!(err, GitHubError::Transient(_)), "{err:?}");
}

#[tokio::test]
async fn requests_per_installation_are_capped_at_ten_in_flight() {
    let f = fake(None, ContentLimits::default()).await;
    let now: Timestamp = START.parse().expect("time");
    mount_tokens(&f.server, "ghs_x", now + SignedDuration::from_hours(1)).await;
    Mock::given(method("GET"))
        .and(path(PERMISSION))
        .respond_with(permission_answer("read").set_delay(Duration::from_millis(150)))
        .mount(&f.server)
        .await;
    let started = Instant::now();
    let acme_api = repo();
    let calls = (0..20).map(|_| {
        f.client
            .collaborator_permission(INSTALLATION, &acme_api, "alice")
    });
    for result in futures::future::join_all(calls).await {
        result.expect("permission");
    }
    // Twenty 150 ms calls, ten at a time, need at least two rounds.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn content_creation_past_its_limit_is_held_back_without_reaching_github() {
    let limits = ContentLimits {
        per_minute: 2,
        per_hour: 10,
    };
    let f = fake(None, limits).await;
    let now: Timestamp = START.parse().expect("time");
    mount_tokens(&f.server, "ghs_x", now + SignedDuration::from_hours(1)).await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/api/issues/3/comments"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"id": 99})))
        .mount(&f.server)
        .await;
    for _ in 0..2 {
        assert_eq!(
            f.client
                .create_comment(INSTALLATION, &repo(), 3, "Released in v1.0.0")
                .await,
            Ok(99)
        );
    }
    // The third in the same minute waits for the first to leave the minute; GitHub never
    // sees it.
    let held = f
        .client
        .create_comment(INSTALLATION, &repo(), 3, "Released in v1.0.0")
        .await;
    assert!(
        matches!(&held, Err(GitHubError::Paced { until, .. }) if *until == now + SignedDuration::from_secs(60)),
        "{held:?}"
    );
    assert_eq!(
        count(&f.server, "/repos/acme/api/issues/3/comments").await,
        2
    );
    // A minute later the pace allows one more.
    f.clock.advance(SignedDuration::from_secs(60));
    assert_eq!(
        f.client
            .create_comment(INSTALLATION, &repo(), 3, "Released in v1.0.0")
            .await,
        Ok(99)
    );
}

/// A job that asks GitHub for a permission, as the train jobs will.
#[derive(Serialize, Deserialize)]
struct CheckPermission;

impl BackgroundJob for CheckPermission {
    const KIND: &'static str = "test.check_permission";
    type Context = GitHubClient;
    fn queue_key(&self) -> String {
        "acme/api".into()
    }
    async fn run(self, github: GitHubClient) -> Result<(), JobError> {
        github
            .collaborator_permission(INSTALLATION, &repo(), "alice")
            .await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_403_with_retry_after_reschedules_the_job_without_counting_a_failure() {
    let f = fake(None, ContentLimits::default()).await;
    let test = harness::TestDb::sqlite().await;
    let now = f.clock.now();
    mount_tokens(&f.server, "ghs_x", now + SignedDuration::from_hours(1)).await;
    Mock::given(method("GET"))
        .and(path(PERMISSION))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("retry-after", "30")
                .set_body_json(
                    serde_json::json!({"message": "You have exceeded a secondary rate limit"}),
                ),
        )
        .up_to_n_times(1)
        .mount(&f.server)
        .await;
    Mock::given(method("GET"))
        .and(path(PERMISSION))
        .respond_with(permission_answer("write"))
        .mount(&f.server)
        .await;

    let queue = Queue::new(
        test.db.clone(),
        Arc::new(f.clock.clone()),
        QueueSettings::default(),
    );
    let runner = Runner::new(
        queue.clone(),
        Registry::new().register::<CheckPermission>(f.client.clone()),
    );
    let Enqueued::New(id) = queue.enqueue_now(&CheckPermission).await.expect("enqueue") else {
        panic!("new job");
    };
    assert_eq!(
        runner.run_pending().await.expect("run"),
        Drained {
            rescheduled: 1,
            ..Drained::default()
        }
    );
    let row = queue.job(id).await.expect("read").expect("kept");
    assert_eq!(row.state, JobState::Retrying);
    assert_eq!(row.attempts, 0, "a rate limit is not a failure");
    assert_eq!(row.run_at, now + SignedDuration::from_secs(30));
    assert_eq!(row.last_error.as_deref(), Some("GitHub rate limit"));

    f.clock.advance(SignedDuration::from_secs(29));
    assert_eq!(
        runner.run_pending().await.expect("run"),
        Drained::default(),
        "nothing before the reset"
    );
    f.clock.advance(SignedDuration::from_secs(1));
    assert_eq!(
        runner.run_pending().await.expect("run"),
        Drained {
            completed: 1,
            ..Drained::default()
        }
    );
    assert_eq!(count(&f.server, PERMISSION).await, 2);
}

#[tokio::test]
async fn a_github_outage_is_retried_without_using_attempts() {
    let f = fake(None, ContentLimits::default()).await;
    let test = harness::TestDb::sqlite().await;
    let now = f.clock.now();
    mount_tokens(&f.server, "ghs_x", now + SignedDuration::from_hours(24)).await;
    Mock::given(method("GET"))
        .and(path(PERMISSION))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(serde_json::json!({"message": "Unicorn"})),
        )
        .mount(&f.server)
        .await;
    let queue = Queue::new(
        test.db.clone(),
        Arc::new(f.clock.clone()),
        QueueSettings {
            max_attempts: 2,
            ..QueueSettings::default()
        },
    );
    let runner = Runner::new(
        queue.clone(),
        Registry::new().register::<CheckPermission>(f.client.clone()),
    );
    let Enqueued::New(id) = queue.enqueue_now(&CheckPermission).await.expect("enqueue") else {
        panic!("new job");
    };
    let mut waits = Vec::new();
    for _ in 0..5 {
        assert_eq!(
            runner.run_pending().await.expect("run"),
            Drained {
                rescheduled: 1,
                ..Drained::default()
            }
        );
        let row = queue.job(id).await.expect("read").expect("kept");
        assert_eq!((row.state, row.attempts), (JobState::Retrying, 0));
        waits.push(row.run_at.duration_since(f.clock.now()));
        f.clock.advance(SignedDuration::from_hours(2));
    }
    // Exponential backoff with jitter: the n-th wait lies in [2.5 s, 5 s) · 2^n.
    for (n, wait) in waits.iter().enumerate() {
        let low = SignedDuration::from_millis(2500 << n);
        assert!(
            *wait >= low && *wait < low * 2,
            "wait {n} was {wait}: {waits:?}"
        );
    }
}

async fn count(server: &MockServer, route: &str) -> usize {
    server
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .filter(|r| r.url.path() == route)
        .count()
}

#[tokio::test]
async fn a_repository_installation_is_asked_of_github_once_then_remembered() {
    let f = fake(None, ContentLimits::default()).await;
    let test = harness::TestDb::sqlite().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/api/installation"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"id": 7, "account": {"login": "acme"}})),
        )
        .expect(1)
        .mount(&f.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/gone/installation"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(serde_json::json!({"message": "Not Found"})),
        )
        .mount(&f.server)
        .await;
    let now = f.clock.now().as_millisecond();
    for _ in 0..3 {
        let found =
            trainyard::handlers::installations::installation_for(&test.db, &f.client, &repo(), now)
                .await;
        assert_eq!(found.ok(), Some(INSTALLATION));
    }
    let gone = RepoFullName::parse("acme/gone").expect("repo");
    let err = trainyard::handlers::installations::installation_for(&test.db, &f.client, &gone, now)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, JobError::Permanent(m) if m == "the trainyard GitHub App is not installed on acme/gone"),
        "{err:?}"
    );
    // The lookup went out as the App itself.
    let requests = f.server.received_requests().await.expect("recorded");
    let asked = requests
        .iter()
        .find(|r| r.url.path() == "/repos/acme/api/installation")
        .expect("asked");
    assert_eq!(claims_of(asked).iss, serde_json::json!(42));
}

/// The Authorization header of the last request to `route`.
async fn last_bearer(server: &MockServer, route: &str) -> String {
    let requests = server.received_requests().await.expect("recorded");
    let last = requests
        .iter()
        .rev()
        .find(|r| r.url.path() == route)
        .expect("a request to the route");
    last.headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_permission_is_trusted_for_a_minute_then_asked_again() {
    let f = fake(None, ContentLimits::default()).await;
    let now: Timestamp = START.parse().expect("time");
    mount_tokens(&f.server, "ghs_one", now + SignedDuration::from_hours(1)).await;
    Mock::given(method("GET"))
        .and(path(PERMISSION))
        .respond_with(permission_answer("write"))
        .up_to_n_times(1)
        .mount(&f.server)
        .await;
    Mock::given(method("GET"))
        .and(path(PERMISSION))
        .respond_with(permission_answer("read"))
        .mount(&f.server)
        .await;
    let acme_api = repo();
    let ask = || {
        f.client
            .collaborator_permission(INSTALLATION, &acme_api, "alice")
    };
    assert_eq!(ask().await.expect("permission"), Permission::Write);
    f.clock.advance(SignedDuration::from_secs(59));
    assert_eq!(ask().await.expect("cached"), Permission::Write);
    assert_eq!(
        count(&f.server, PERMISSION).await,
        1,
        "asked once within the minute"
    );
    // Demoted on GitHub: after the minute the new permission applies.
    f.clock.advance(SignedDuration::from_secs(2));
    assert_eq!(ask().await.expect("permission"), Permission::Read);
    assert_eq!(count(&f.server, PERMISSION).await, 2);
}

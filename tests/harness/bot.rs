//! `TestBot`: the real server (router, intake, queue, handlers) over a real store, talking
//! to a [`FakeGitHub`]. Stories read as user actions — merge, comment, run the jobs — and
//! assert on GitHub's resulting state and the rows left in the store.

use std::sync::Arc;

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use jiff::SignedDuration;
use serde_json::Value;
use tower::ServiceExt;
use trainyard::app::{AppState, router};
use trainyard::clock::ManualClock;
use trainyard::domain::ids::RepoFullName;
use trainyard::domain::train::TrainState;
use trainyard::inbound::github::signature;
use trainyard::settings::{Secret, Settings, SettingsArgs};
use trainyard::store::trains::{self, TrainRow};

use super::TestDb;
use super::fake_github::{FakeGitHub, REPO};

const SECRET: &str = "story-secret";

/// The bot under test.
pub struct TestBot {
    /// The server's state.
    pub app: AppState,
    /// GitHub.
    pub github: FakeGitHub,
    /// The clock the bot reads.
    pub clock: ManualClock,
    /// The repository, `owner/name`.
    pub repo: String,
    deliveries: std::sync::atomic::AtomicU64,
}

impl TestBot {
    /// A bot on `test`'s store with the repository configured by `config` (YAML).
    pub async fn start(test: &TestDb, config: &str) -> TestBot {
        TestBot::start_with(test, config, |_, _| {}).await
    }

    /// [`TestBot::start`] in the repository `repo` (`owner/name`): GitHub is that
    /// repository's and every webhook delivered names it.
    pub async fn start_in(test: &TestDb, repo: &str, config: &str) -> TestBot {
        TestBot::start_on(FakeGitHub::start_as(repo).await, test, config, |_, _| {}).await
    }

    /// [`TestBot::start`] with the App's OAuth (GitHub's sign-in on the fake) and the site at
    /// `public_url`: the dashboard's settings.
    pub async fn start_web(test: &TestDb, config: &str, public_url: &str) -> TestBot {
        let public_url = public_url.to_owned();
        TestBot::start_with(test, config, move |args, github| {
            args.github_client_id = Some("Iv1.trainyard".into());
            args.github_client_secret = Some(trainyard::settings::Secret::new("oauth-secret"));
            args.github_web_url = Some(github.uri());
            args.public_url = Some(public_url.clone());
        })
        .await
    }

    /// [`TestBot::start`] with deployment verification reading `prometheus` (its token
    /// `prom-token`), health URLs on this machine allowed.
    pub async fn start_verified(
        test: &TestDb,
        config: &str,
        prometheus: &super::fake_prometheus::FakePrometheus,
    ) -> TestBot {
        TestBot::start_verified_web(test, config, prometheus, None).await
    }

    /// [`TestBot::start_verified`], with the dashboard's settings when `public_url` is given.
    pub async fn start_verified_web(
        test: &TestDb,
        config: &str,
        prometheus: &super::fake_prometheus::FakePrometheus,
        public_url: Option<&str>,
    ) -> TestBot {
        let url = prometheus.uri();
        let public_url = public_url.map(str::to_owned);
        TestBot::start_with(test, config, move |args, github| {
            args.prometheus_url = Some(url.clone());
            args.prometheus_token = Some(Secret::new("prom-token"));
            args.verify_private_hosts = Some(true);
            if let Some(public_url) = &public_url {
                args.github_client_id = Some("Iv1.trainyard".into());
                args.github_client_secret = Some(Secret::new("oauth-secret"));
                args.github_web_url = Some(github.uri());
                args.public_url = Some(public_url.clone());
            }
        })
        .await
    }

    /// Another replica of this bot over the same store (its own connections, queue and
    /// clients), reading the same clock and GitHub.
    pub async fn replica(&self, test: &TestDb) -> AppState {
        AppState::new(
            (*self.app.settings).clone(),
            test.reopen().await,
            Arc::new(self.clock.clone()),
        )
        .expect("state")
    }

    async fn start_with(
        test: &TestDb,
        config: &str,
        more: impl Fn(&mut SettingsArgs, &FakeGitHub),
    ) -> TestBot {
        TestBot::start_on(FakeGitHub::start().await, test, config, more).await
    }

    async fn start_on(
        github: FakeGitHub,
        test: &TestDb,
        config: &str,
        more: impl Fn(&mut SettingsArgs, &FakeGitHub),
    ) -> TestBot {
        github.set_config(config);
        let mut args = SettingsArgs {
            github_app_id: Some(42),
            github_private_key_path: Some(
                format!("{}/fixtures/keys/test-app.pem", env!("CARGO_MANIFEST_DIR")).into(),
            ),
            github_webhook_secret: Some(SECRET.parse().expect("secret")),
            github_api_url: Some(github.uri()),
            ..SettingsArgs::default()
        };
        more(&mut args, &github);
        let settings = Settings::resolve(args).expect("settings");
        let clock = ManualClock::starting_at("2026-11-27T09:00:00Z".parse().expect("time"));
        let app = AppState::new(settings, test.db.clone(), Arc::new(clock.clone())).expect("state");
        TestBot {
            app,
            repo: github.repo(),
            github,
            clock,
            deliveries: Default::default(),
        }
    }

    /// Delivers a webhook signed as GitHub signs it; returns the answer's status.
    pub async fn deliver(&self, event: &str, payload: &Value) -> StatusCode {
        let n = self
            .deliveries
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut payload = payload.clone();
        if self.repo != REPO
            && let Some((owner, name)) = self.repo.split_once('/')
            && payload["repository"].is_object()
        {
            payload["repository"]["full_name"] = self.repo.clone().into();
            payload["repository"]["name"] = name.into();
            payload["repository"]["owner"]["login"] = owner.into();
        }
        let bytes = serde_json::to_vec(&payload).expect("json");
        let request = Request::post("/webhooks/github")
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", format!("story-{n}"))
            .header(
                "x-hub-signature-256",
                signature::sign(&Secret::new(SECRET), &bytes),
            )
            .body(Body::from(bytes))
            .expect("request");
        let response = router(self.app.clone())
            .oneshot(request)
            .await
            .expect("answer");
        let status = response.status();
        let _ = response.into_body().collect().await;
        status
    }

    /// A pull request labelled `labels` is merged into `master`.
    pub async fn merge(&self, number: u64, title: &str, labels: &[&str]) {
        self.merge_into(number, title, labels, "master").await;
    }

    /// A pull request by `author`, labelled `labels`, is merged into master.
    pub async fn merge_by(&self, number: u64, title: &str, labels: &[&str], author: &str) {
        let payload = self
            .github
            .merge_pr_by(number, title, labels, "master", author);
        self.deliver("pull_request", &payload).await;
    }

    /// A pull request labelled `labels` is merged into `base`.
    pub async fn merge_into(&self, number: u64, title: &str, labels: &[&str], base: &str) {
        let payload = self.github.merge_pr(number, title, labels, base);
        assert_eq!(
            self.deliver("pull_request", &payload).await,
            StatusCode::ACCEPTED
        );
    }

    /// GitHub's webhook for a push to the default branch that changed `path`.
    pub fn push_payload(path: &str) -> Value {
        let fixture = std::fs::read_to_string(format!(
            "{}/fixtures/github-webhooks/push/with-new-branch.payload.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture");
        let mut push: Value = serde_json::from_str(&fixture).expect("json");
        push["commits"][0]["modified"] = serde_json::json!([path]);
        push["head_commit"]["modified"] = serde_json::json!([path]);
        push
    }

    /// A push to the default branch changes `path` to `text`; returns what trainyard wrote
    /// on the pushed commit.
    pub async fn push_file(&self, path: &str, text: &str) -> Vec<String> {
        self.github.set_file(path, Some(text));
        let before = self.github.commit_comments().len();
        let push = TestBot::push_payload(path);
        assert_eq!(self.deliver("push", &push).await, StatusCode::ACCEPTED);
        self.run_jobs().await;
        self.github.commit_comments()[before..]
            .iter()
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// `login` comments `body` on issue or pull request `issue`.
    pub async fn comment(&self, login: &str, issue: u64, body: &str) {
        use trainyard::clock::Clock as _;
        self.github.set_now(self.clock.now());
        let payload = self.github.comment(login, issue, body);
        assert_eq!(
            self.deliver("issue_comment", &payload).await,
            StatusCode::ACCEPTED
        );
    }

    /// The common start of a story: #1 "Add the departure board" merged with the `release`
    /// label, then cut by carol in a comment on issue 7.
    pub async fn merge_and_cut(&self) {
        self.merge(1, "Add the departure board", &["release"]).await;
        self.run_jobs().await;
        self.comment("carol", 7, "/release cut").await;
        self.run_jobs().await;
    }

    /// The frozen train's draft release.
    pub async fn frozen_draft(&self) -> u64 {
        let frozen = self.trains(&[TrainState::Frozen]).await;
        frozen[0].draft_release_id.expect("a draft") as u64
    }

    /// Runs jobs until none is left, moving the clock on past retries (at most a day of
    /// them); fails when a job died or GitHub saw a request it does not know.
    pub async fn run_jobs(&self) {
        let runner = self.app.runner();
        for _ in 0..48 {
            let drained = runner.run_pending().await.expect("jobs run");
            assert_eq!(drained.dead, 0, "no job died: {drained:?}");
            let waiting = self.app.queue.jobs().await.expect("jobs");
            if waiting.is_empty() {
                assert!(
                    self.github.unexpected().is_empty(),
                    "GitHub saw requests it does not know: {:?}",
                    self.github.unexpected()
                );
                return;
            }
            self.clock.advance(SignedDuration::from_mins(30));
        }
        panic!(
            "jobs still waiting: {:?}",
            self.app.queue.jobs().await.expect("jobs")
        );
    }

    /// A dashboard session for `login` (GitHub id `id`), who could read the repository at
    /// sign-in, written straight to the store: its cookie value and CSRF token.
    pub async fn session_for(&self, id: i64, login: &str) -> (String, String) {
        use trainyard::store::web_sessions::{self, Session};
        self.github.set_user(id, login);
        let token = format!("{id:0>64}");
        let csrf = format!("csrf-{login}");
        let session = Session {
            github_id: id,
            login: login.into(),
            csrf: csrf.clone(),
            repositories: serde_json::json!([self.repo]).to_string(),
        };
        let now = jiff::Timestamp::now().as_millisecond();
        web_sessions::create(&self.app.db, &token, &session, 0, now + 3_600_000)
            .await
            .expect("session");
        (token, csrf)
    }

    /// The bot's clock now, in epoch milliseconds.
    pub fn clock_ms(&self) -> i64 {
        use trainyard::clock::Clock as _;
        self.clock.now().as_millisecond()
    }

    /// The repository's trains in `states`, newest first.
    pub async fn trains(&self, states: &[TrainState]) -> Vec<TrainRow> {
        let repo = RepoFullName::parse(&self.repo).expect("repo");
        trains::in_states(&self.app.db, &repo, states)
            .await
            .expect("trains")
    }

    /// The kinds of the events recorded for the repository, in order.
    pub async fn event_kinds(&self) -> Vec<String> {
        let repo = RepoFullName::parse(&self.repo).expect("repo");
        trains::events_since(&self.app.db, &repo, 0)
            .await
            .expect("events")
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    /// The events of `kind` recorded for the repository, as stored (JSON), in order.
    pub async fn events_of(&self, kind: &str) -> Vec<Value> {
        let repo = RepoFullName::parse(&self.repo).expect("repo");
        trains::events_since(&self.app.db, &repo, 0)
            .await
            .expect("events")
            .into_iter()
            .filter(|e| e.kind == kind)
            .map(|e| serde_json::from_str(&e.detail).expect("event json"))
            .collect()
    }

    /// The audit records of `action` for the repository, oldest first.
    pub async fn audited(&self, action: &str) -> Vec<trainyard::store::audit::Record> {
        let query = trainyard::store::audit::Query {
            repository: Some(self.repo.clone()),
            since: None,
            limit: 1000,
        };
        let mut records: Vec<_> = trainyard::store::audit::recent(&self.app.db, &query)
            .await
            .expect("audit")
            .into_iter()
            .filter(|r| r.action == action)
            .collect();
        records.sort_by_key(|r| r.id);
        records
    }
}

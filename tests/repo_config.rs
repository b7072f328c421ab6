//! Repository configuration: the documented example parses; loading through the contents API
//! (wiremock GitHub, real client) stores it by blob sha on both backends, a broken push keeps
//! the last good configuration and the error, the migration path falls back to
//! release-drafter's and GitHub's files, and a push to the default branch queues a reload.

mod harness;

use std::sync::Arc;

use base64::Engine as _;
use serde_json::json;
use trainyard::clock::SystemClock;
use trainyard::domain::event::{Event, PushEvent, PushedRef};
use trainyard::domain::ids::RepoFullName;
use trainyard::domain::notes::config::SemverIncrement;
use trainyard::domain::repo_config::{Include, RepoConfig};
use trainyard::github::GitHubClient;
use trainyard::handlers::events::{EventContext, HandleWebhook};
use trainyard::handlers::kit::config::{Refresh, current, refresh};
use trainyard::handlers::kit::routes::ConfigReach;
use trainyard::jobs::{BackgroundJob, Queue, QueueSettings};
use trainyard::store::repo_configs;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use harness::TestDb;

const REPO: &str = "acme/api";

/// Every key release-drafter's schema (at the fixture commit) lists is read: a file with any
/// one of them, at its documented default or a sample value, loads; so does one with all of
/// them at once.
#[test]
fn every_key_of_release_drafters_schema_is_read() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/fixtures/release-drafter/schema.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("schema"),
    )
    .expect("json");
    let properties = schema["properties"].as_object().expect("properties");
    assert!(properties.len() > 30, "{}", properties.len());
    let mut all = serde_json::Map::new();
    for (key, property) in properties {
        if key == "_extends" {
            continue; // resolved before the keys are read (tests/config_extends.rs)
        }
        let value = match key.as_str() {
            "latest" | "prerelease" | "include-pre-releases" => json!(false),
            "filter-by-range" => json!("^1.0.0"),
            "template" => json!("$CHANGES"),
            _ => match property.get("default") {
                Some(default) => default.clone(),
                None if property["type"] == "string" => json!("x"),
                None => panic!("no sample for {key}: {property}"),
            },
        };
        let one = serde_json::Map::from_iter([(key.clone(), value.clone())]);
        let text = serde_json::to_string(&one).expect("json is yaml");
        if let Err(error) = RepoConfig::from_release_drafter(".github/release-drafter.yml", &text) {
            panic!("`{key}` is not read: {error}");
        }
        all.insert(key.clone(), value);
    }
    let text = serde_json::to_string(&all).expect("json is yaml");
    RepoConfig::from_release_drafter(".github/release-drafter.yml", &text)
        .unwrap_or_else(|e| panic!("all keys together: {e}"));
}

#[test]
fn the_documented_example_parses_with_every_section() {
    let text = std::fs::read_to_string(format!(
        "{}/fixtures/trainyard.example.yml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("example");
    let config = RepoConfig::parse(".github/trainyard.yml", &text).expect("example parses");
    let lines = config.lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1].include, Some(Include::All));
    assert_eq!(lines[1].tag_prefix.as_deref(), Some("api-v"));
    assert!(config.conventional_commits());
    assert_eq!(config.prerelease_start(), 1);
    let notes = config.notes_keys().expect("notes");
    let resolved = notes.resolve().expect("resolves");
    assert_eq!(resolved.tag_template, "v$RESOLVED_VERSION");
    assert_eq!(resolved.default_increment, SemverIncrement::Patch);
    assert_eq!(config.approvals.as_ref().and_then(|a| a.required), Some(1));
    let deploy = config.deploy.as_ref().expect("deploy");
    assert_eq!(deploy.environments[1].name, "production");
    assert_eq!(
        config
            .chat
            .as_ref()
            .and_then(|c| c.slack_channel.as_deref()),
        Some("C0123456789")
    );
}

#[test]
fn every_release_drafter_fixture_config_parses_except_the_two_broken_ones() {
    let dir = format!(
        "{}/fixtures/release-drafter/config",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut refused = Vec::new();
    for entry in std::fs::read_dir(dir).expect("configs") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        if RepoConfig::from_release_drafter(".github/release-drafter.yml", &text).is_err() {
            refused.push(
                path.file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    refused.sort();
    assert_eq!(
        refused,
        [
            "config-with-schema-error.yml",
            "config-with-yaml-exception.yml"
        ]
    );
}

fn contents(text: &str, sha: &str) -> serde_json::Value {
    json!({
        "type": "file", "encoding": "base64", "sha": sha,
        "content": base64::engine::general_purpose::STANDARD.encode(text),
    })
}

async fn serve_file(server: &MockServer, file: &str, text: &str, sha: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/contents/{file}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(contents(text, sha)))
        .mount(server)
        .await;
}

fn client(server: &MockServer) -> GitHubClient {
    harness::github::token_client(&server.uri(), "t")
}

async fn a_broken_push_keeps_the_last_good_configuration(test: TestDb) {
    let server = MockServer::start().await;
    let github = client(&server);
    let repo = RepoFullName::parse(REPO).expect("repo");
    let good = "notes:\n  tag-prefix: api-v\n";
    serve_file(&server, ".github/trainyard.yml", good, "sha-1").await;

    let first = refresh(&test.db, &github, &ConfigReach::default(), 1, &repo, 1)
        .await
        .expect("refresh");
    assert_eq!(first, Refresh::Loaded(".github/trainyard.yml".into()));
    // Same blob: not parsed again.
    let again = refresh(&test.db, &github, &ConfigReach::default(), 1, &repo, 2)
        .await
        .expect("refresh");
    assert_eq!(again, Refresh::Unchanged);

    server.reset().await;
    serve_file(
        &server,
        ".github/trainyard.yml",
        "notes:\n  tag-prefix: api-v\n  sort-by: size\n",
        "sha-2",
    )
    .await;
    let broken = refresh(&test.db, &github, &ConfigReach::default(), 1, &repo, 3)
        .await
        .expect("refresh");
    let Refresh::Refused(message) = broken else {
        panic!("expected a refusal, got {broken:?}");
    };
    assert!(message.contains("line 3"), "{message}");
    assert!(message.contains("notes.sort-by"), "{message}");

    let now = current(&test.db, &github, &ConfigReach::default(), 1, &repo, 4)
        .await
        .expect("current");
    assert_eq!(now.refused.as_deref(), Some(message.as_str()));
    let keys = now.effective.config.notes_keys().expect("keys");
    assert_eq!(keys.tag_prefix.as_deref(), Some("api-v"));
    let row = repo_configs::get(&test.db, &repo)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.blob_sha.as_deref(), Some("sha-1"));
    assert_eq!(row.error_sha.as_deref(), Some("sha-2"));

    // The fix is loaded and the error cleared.
    server.reset().await;
    serve_file(
        &server,
        ".github/trainyard.yml",
        "notes:\n  tag-prefix: v\n",
        "sha-3",
    )
    .await;
    refresh(&test.db, &github, &ConfigReach::default(), 1, &repo, 5)
        .await
        .expect("refresh");
    let row = repo_configs::get(&test.db, &repo)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(
        (row.blob_sha.as_deref(), row.error.as_deref()),
        (Some("sha-3"), None)
    );

    // Audited: each version once, however often it was read (oldest first).
    let query = trainyard::store::audit::Query {
        repository: Some(REPO.into()),
        since: None,
        limit: 100,
    };
    let mut trail: Vec<String> = trainyard::store::audit::recent(&test.db, &query)
        .await
        .expect("audit")
        .iter()
        .map(|r| format!("{} {}", r.action, r.detail))
        .collect();
    trail.reverse();
    assert_eq!(trail.len(), 3, "{trail:#?}");
    assert_eq!(
        trail[0],
        "config.changed .github/trainyard.yml at blob sha-1"
    );
    assert!(
        trail[1].starts_with("config.refused blob sha-2: "),
        "{trail:#?}"
    );
    assert!(trail[1].contains("notes.sort-by"), "{trail:#?}");
    assert_eq!(
        trail[2],
        "config.changed .github/trainyard.yml at blob sha-3"
    );
}

async fn without_trainyard_yml_release_drafter_then_release_yml_then_defaults(test: TestDb) {
    let server = MockServer::start().await;
    let github = client(&server);
    let repo = RepoFullName::parse(REPO).expect("repo");
    // Nothing mounted for trainyard.yml: wiremock answers 404, as GitHub does.
    serve_file(
        &server,
        ".github/release.yml",
        "changelog:\n  categories:\n    - title: Features\n      labels: [feature]\n",
        "r1",
    )
    .await;
    let loaded = refresh(&test.db, &github, &ConfigReach::default(), 1, &repo, 1)
        .await
        .expect("refresh");
    assert_eq!(loaded, Refresh::Loaded(".github/release.yml".into()));

    serve_file(
        &server,
        ".github/release-drafter.yml",
        "template: $CHANGES\n",
        "d1",
    )
    .await;
    let loaded = refresh(&test.db, &github, &ConfigReach::default(), 1, &repo, 2)
        .await
        .expect("refresh");
    assert_eq!(
        loaded,
        Refresh::Loaded(".github/release-drafter.yml".into())
    );
    let now = current(&test.db, &github, &ConfigReach::default(), 1, &repo, 3)
        .await
        .expect("current");
    assert_eq!(now.effective.config.prerelease_start(), 0);

    server.reset().await;
    let none = refresh(&test.db, &github, &ConfigReach::default(), 1, &repo, 4)
        .await
        .expect("refresh");
    assert_eq!(none, Refresh::Defaults);
    let now = current(&test.db, &github, &ConfigReach::default(), 1, &repo, 5)
        .await
        .expect("current");
    assert_eq!(now.effective.source, None);
}

async fn a_push_touching_the_config_on_the_default_branch_queues_one_reload(test: TestDb) {
    let queue = Queue::new(
        test.db.clone(),
        Arc::new(SystemClock),
        QueueSettings::default(),
    );
    let ctx = EventContext {
        db: test.db.clone(),
        clock: Arc::new(SystemClock),
        queue: queue.clone(),
        noted_repositories: Arc::default(),
    };
    let push = |branch: &str, paths: &[&str]| HandleWebhook {
        delivery_id: "d".into(),
        received_at: 0,
        event: Event::Push(PushEvent {
            repository: RepoFullName::parse(REPO).expect("repo"),
            default_branch: Some("main".into()),
            installation_id: Some(9),
            pushed_ref: PushedRef::Branch(branch.into()),
            before: "a".into(),
            after: "b".into(),
            created: false,
            deleted: false,
            forced: false,
            changed_paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
    };
    push("feature", &[".github/trainyard.yml"])
        .run(ctx.clone())
        .await
        .expect("run");
    push("main", &["src/lib.rs"])
        .run(ctx.clone())
        .await
        .expect("run");
    assert_eq!(queue.jobs().await.expect("jobs").len(), 0, "no reload yet");
    push("main", &[".github/trainyard.yml"])
        .run(ctx.clone())
        .await
        .expect("run");
    push("main", &[".github/release-drafter.yml"])
        .run(ctx)
        .await
        .expect("run");
    let jobs = queue.jobs().await.expect("jobs");
    assert_eq!(jobs.len(), 1, "deduplicated: {jobs:?}");
    assert_eq!(jobs[0].kind, "config.reload");
}

on_both_backends!(
    a_broken_push_keeps_the_last_good_configuration,
    without_trainyard_yml_release_drafter_then_release_yml_then_defaults,
    a_push_touching_the_config_on_the_default_branch_queues_one_reload,
);

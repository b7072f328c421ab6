//! `trainyard metrics backfill`: a repository's past releases, merged pull requests and
//! deployments read from GitHub (faked at the HTTP level) into the store once, and the
//! health figures they give, worked out by hand.

mod harness;

use serde_json::json;
use trainyard::cli::backfill::{Backfilled, backfill};
use trainyard::domain::health::{self, Basis, Spread};
use trainyard::domain::ids::RepoFullName;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use harness::TestDb;
use harness::github::token_client;

const REPO: &str = "acme/api";

async fn github_with_history() -> MockServer {
    let server = MockServer::start().await;
    let answer = |route: &str, body: serde_json::Value| {
        Mock::given(method("GET"))
            .and(path(format!("/repos/{REPO}{route}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
    };
    answer(
        "/releases",
        json!([
            {"id": 3, "tag_name": "v1.3.0", "draft": true, "published_at": null},
            {"id": 2, "tag_name": "v1.2.0", "draft": false, "published_at": "2026-11-20T10:00:00Z"},
            // A release candidate is not a release of the line: left out of the figures.
            {"id": 4, "tag_name": "v1.2.0-rc.1", "draft": false, "prerelease": true,
             "published_at": "2026-11-15T10:00:00Z"},
            {"id": 1, "tag_name": "v1.1.0", "draft": false, "published_at": "2026-11-10T10:00:00Z"},
        ]),
    )
    .mount(&server)
    .await;
    let pull = |number: u64, merged: Option<&str>, base: &str| {
        json!({"number": number, "title": format!("Change {number}"), "user": {"login": "octocat"},
               "merged_at": merged, "base": {"ref": base}})
    };
    answer(
        "/pulls",
        json!([
            pull(7, Some("2026-11-19T09:00:00Z"), "other"),
            pull(6, None, "main"),
            pull(5, Some("2026-11-19T10:00:00Z"), "main"),
            pull(4, Some("2026-11-09T10:00:00Z"), "main"),
            pull(3, Some("2026-11-05T10:00:00Z"), "main"),
        ]),
    )
    .mount(&server)
    .await;
    answer(
        "/deployments",
        json!([
            {"id": 900, "environment": "production", "ref": "v1.2.0", "sha": "b2",
             "created_at": "2026-11-20T12:00:00Z", "creator": {"login": "deploy-bot"}},
            {"id": 901, "environment": "production", "ref": "v1.1.0", "sha": "b1",
             "created_at": "2026-11-10T10:30:00Z", "creator": {"login": "deploy-bot"}},
        ]),
    )
    .mount(&server)
    .await;
    answer(
        "/deployments/900/statuses",
        json!([{"state": "success", "created_at": "2026-11-20T13:00:00Z"}]),
    )
    .mount(&server)
    .await;
    answer(
        "/deployments/901/statuses",
        json!([{"state": "success", "created_at": "2026-11-10T11:00:00Z"}]),
    )
    .mount(&server)
    .await;
    server
}

async fn past_releases_and_deployments_are_read_once_and_give_their_figures(test: TestDb) {
    let server = github_with_history().await;
    let github = token_client(&server.uri(), "ghs_test");
    let repo = RepoFullName::parse(REPO).expect("repo");
    let now = "2026-11-27T10:00:00Z"
        .parse::<jiff::Timestamp>()
        .expect("time")
        .as_millisecond();
    let first = backfill(&test.db, &github, 1, &repo, "main", "main", now)
        .await
        .expect("backfill");
    assert_eq!(
        first,
        Backfilled {
            releases: 2,
            pull_requests: 3,
            deployments: 2,
            calls: 5
        }
    );
    let again = backfill(&test.db, &github, 1, &repo, "main", "main", now)
        .await
        .expect("again");
    assert_eq!(
        (again.releases, again.pull_requests, again.deployments),
        (0, 0, 0),
        "what is known is not read in twice"
    );

    let history = trainyard::store::history::history(&test.db, &repo, |e| e == "production")
        .await
        .expect("history");
    let figures = health::compute(&history, now, 30);
    let hours = |h: i64| Some(h * 3600);
    // Merge → release: #3 5 days, #4 1 day (v1.1.0); #5 1 day (v1.2.0).
    assert_eq!(
        figures.lead_time_to_release,
        Spread {
            count: 3,
            median_secs: hours(24),
            p90_secs: hours(120)
        }
    );
    // Merge → production: #3 5 d 1 h, #4 1 d 1 h (v1.1.0 live at 11:00 on the 10th);
    // #5 1 d 3 h (v1.2.0 live at 13:00 on the 20th).
    assert_eq!(
        figures.lead_time_to_production,
        Spread {
            count: 3,
            median_secs: hours(27),
            p90_secs: hours(121)
        }
    );
    assert_eq!(figures.basis, Basis::Deployments);
    assert_eq!(figures.production_deployments, 2);
    assert_eq!(figures.releases, 2);
    let trail = trainyard::store::audit::recent(
        &test.db,
        &trainyard::store::audit::Query {
            repository: Some(REPO.into()),
            since: None,
            limit: 10,
        },
    )
    .await
    .expect("audit");
    assert_eq!(
        trail[1].detail,
        "2 releases, 3 pull requests, 2 deployments from GitHub"
    );
}

/// `trainyard metrics backfill --repo acme/api` run as the binary, as an operator runs it:
/// the App's credentials and the store from the environment, the installation known from
/// its webhooks; it prints what it added and leaves it in the store, and a second run adds
/// nothing.
async fn the_backfill_command_run_as_the_binary_fills_the_store(test: TestDb) {
    let server = github_with_history().await;
    Mock::given(method("POST"))
        .and(path("/app/installations/1/access_tokens"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(
                json!({"token": "ghs_backfill", "expires_at": "2099-01-01T00:00:00Z"}),
            ),
        )
        .mount(&server)
        .await;
    harness::github::repository(&server, REPO, "main").await;
    let repo = RepoFullName::parse(REPO).expect("repo");
    trainyard::store::installations::note_repository(&test.db, 1, &repo, 0)
        .await
        .expect("installation");
    let dir = tempfile::tempdir().expect("dir");
    let key = format!("{}/fixtures/keys/test-app.pem", env!("CARGO_MANIFEST_DIR"));
    let run = || {
        harness::process::trainyard(dir.path())
            .args(["metrics", "backfill", "--repo", REPO])
            .env("DATABASE_URL", &test.url)
            .env("TRAINYARD_GITHUB_APP_ID", "42")
            .env("TRAINYARD_GITHUB_PRIVATE_KEY_PATH", &key)
            .env("TRAINYARD_GITHUB_WEBHOOK_SECRET", "backfill-secret")
            .env("TRAINYARD_GITHUB_API_URL", server.uri())
            .env("TRAINYARD_LOG_FORMAT", "json")
            .output()
            .expect("run trainyard")
    };
    let first = run();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        stdout.contains("acme/api: added 2 past releases with 3 pull requests, and 2 deployments"),
        "{stdout}"
    );
    let history = trainyard::store::history::history(&test.db, &repo, |e| e == "production")
        .await
        .expect("history");
    let now = "2026-11-27T10:00:00Z"
        .parse::<jiff::Timestamp>()
        .expect("time")
        .as_millisecond();
    let figures = health::compute(&history, now, 30);
    assert_eq!(figures.releases, 2);
    assert_eq!(figures.production_deployments, 2);

    let again = run();
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success());
    assert!(
        stdout.contains("added 0 past releases with 0 pull requests, and 0 deployments"),
        "{stdout}"
    );
}

on_both_backends!(
    past_releases_and_deployments_are_read_once_and_give_their_figures,
    the_backfill_command_run_as_the_binary_fills_the_store,
);

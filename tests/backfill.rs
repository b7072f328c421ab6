//! `trainyard metrics backfill`: a repository's past releases, merged pull requests and
//! deployments read from GitHub (faked at the HTTP level) into the store once, and the
//! health figures they give, worked out by hand.

mod harness;

use serde_json::json;
use trainyard::domain::health::{self, Basis, Spread};
use trainyard::domain::ids::RepoFullName;
use trainyard::handlers::backfill::{Backfilled, backfill};
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

on_both_backends!(past_releases_and_deployments_are_read_once_and_give_their_figures);

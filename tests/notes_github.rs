//! Drafting against a generated GitHub: the calls it takes for N merged pull requests, what
//! happens when GitHub times out a page, a body over GitHub's limit, and `trainyard notes` as
//! a user runs it (the real binary, GITHUB_TOKEN, `--api-url` at the fake).

mod harness;

use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use trainyard::domain::ids::RepoFullName;
use trainyard::domain::notes::config::NotesKeys;
use trainyard::domain::notes::render::RELEASE_BODY_LIMIT;
use trainyard::github::GitHubClient;
use trainyard::handlers::trains::drafting::{DraftRequest, VersionRules, prepare_draft};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const REPO: &str = "acme/api";

/// A repository with `n` merged pull requests since `v1.0.0`, one squash commit each.
#[derive(Clone)]
struct History {
    n: usize,
    title_len: usize,
    /// 1-based GraphQL calls answered with 502.
    fail_calls: Vec<usize>,
    seen: Arc<Mutex<Vec<(u64, usize)>>>,
}

impl History {
    fn new(n: usize) -> History {
        History {
            n,
            title_len: 0,
            fail_calls: Vec::new(),
            seen: Arc::default(),
        }
    }

    fn pull_request(&self, i: usize) -> Value {
        let mut labels = match i % 4 {
            0 => vec!["feature"],
            1 => vec!["bug"],
            2 => vec!["chore", "dependencies"],
            _ => vec![],
        };
        // A third of them carry the default boarding label.
        if i.is_multiple_of(3) {
            labels.push("release");
        }
        let mut title = format!("Change number {i}");
        while title.len() < self.title_len {
            title.push_str(" and more words");
        }
        json!({
            "title": title, "number": i, "url": format!("https://github.com/{REPO}/pull/{i}"),
            "body": "", "mergedAt": format!("2026-11-{:02}T{:02}:{:02}:00Z", 1 + i / 1440 % 28, i / 60 % 24, i % 60),
            "merged": true, "baseRefName": "main", "headRefName": format!("branch-{i}"),
            "author": {"__typename": "User", "login": format!("dev{}", i % 7), "url": ""},
            "baseRepository": {"nameWithOwner": REPO},
            "labels": {"nodes": labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>()},
            "mergeCommit": {"oid": format!("{i:040x}")},
        })
    }
}

impl Respond for History {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let vars = &body["variables"];
        let size = vars["historyLimit"].as_u64().unwrap_or(0);
        let after: usize = vars["after"]
            .as_str()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let call = {
            let mut seen = self.seen.lock().expect("lock");
            seen.push((size, after));
            seen.len()
        };
        if self.fail_calls.contains(&call) {
            return ResponseTemplate::new(502).set_body_string("Bad Gateway");
        }
        let end = (after + size as usize).min(self.n);
        let nodes: Vec<Value> = (after..end)
            .map(|i| {
                json!({
                    "oid": format!("{i:040x}"), "committedDate": "2026-11-01T00:00:00Z",
                    "messageHeadline": format!("Change number {i} (#{i})"),
                    "authors": {"nodes": [{"name": "Dev", "user": {"login": format!("dev{}", i % 7)}}]},
                    "associatedPullRequests": {"nodes": [self.pull_request(i)]},
                })
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(
            json!({"data": {"repository": {"ref": {"compare": {"commits": {
                "pageInfo": {"hasNextPage": end < self.n, "endCursor": end.to_string()},
                "nodes": nodes,
            }}}}}}),
        )
    }
}

fn release(id: u64, tag: &str, draft: bool) -> Value {
    json!({
        "id": id, "tag_name": tag, "name": tag, "draft": draft, "prerelease": false,
        "created_at": "2026-10-01T00:00:00Z", "target_commitish": "main",
        "html_url": format!("https://github.com/{REPO}/releases/{id}"),
    })
}

async fn fake_github(history: History) -> MockServer {
    let server = MockServer::start().await;
    harness::github::repository(&server, REPO, "main").await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/releases")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([release(1, "v1.0.0", false)])),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/graphql"))
        .respond_with(history)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/repos/{REPO}/releases")))
        .respond_with(ResponseTemplate::new(201).set_body_json(release(2, "v1.1.0", true)))
        .mount(&server)
        .await;
    server
}

fn request(keys: NotesKeys) -> DraftRequest {
    DraftRequest {
        repo: RepoFullName::parse(REPO).expect("repo"),
        installation: 1,
        keys,
        head: "refs/heads/main".into(),
        from: None,
        tag: None,
        name: None,
        version: None,
        publish: false,
        dry_run: false,
        rules: VersionRules {
            conventional_titles: false,
            prerelease_start: 1,
        },
        server_url: "https://github.com".into(),
        calendar: None,
        boarding: None,
    }
}

fn keys() -> NotesKeys {
    let yaml = "template: \"## Changes\\n\\n$CHANGES\\n\\nThanks $CONTRIBUTORS\"\n\
                tag-template: v$RESOLVED_VERSION\n\
                categories:\n  - title: Features\n    semver-increment: minor\n    label: feature\n\
                \x20 - title: Fixes\n    label: bug\n  - title: Maintenance\n    labels: [chore]\n";
    trainyard::domain::repo_config::RepoConfig::from_release_drafter(
        ".github/release-drafter.yml",
        yaml,
    )
    .expect("config")
    .notes_keys()
    .expect("keys")
}

fn client(server: &MockServer) -> GitHubClient {
    harness::github::token_client(&server.uri(), "t")
}

/// Drafts the release for `n` pull requests; returns the calls GitHub received (reads only)
/// and the release it would be sent.
async fn calls_for(n: usize) -> (usize, Value) {
    let server = fake_github(History::new(n)).await;
    let github = client(&server);
    let req = request(keys());
    let prepared = prepare_draft(&github, &req, |_| {})
        .await
        .expect("prepared");
    assert_eq!(prepared.pull_requests, n);
    let received = server.received_requests().await.expect("recorded");
    assert_eq!(
        prepared.calls as usize,
        received.len(),
        "calls counted as made"
    );
    let written = serde_json::to_value(&prepared.write).expect("json");
    (received.len(), written)
}

#[tokio::test]
async fn a_thousand_pull_requests_take_at_most_one_call_per_hundred_plus_three() {
    let (calls, written) = calls_for(1000).await;
    // The releases list + 10 comparison pages (writing the release is one more).
    assert!(calls <= 1000usize.div_ceil(100) + 2, "{calls} calls");
    assert_eq!(calls, 11);
    assert_eq!(
        written["tag_name"], "v1.1.0",
        "a feature calls for a minor release"
    );
    let body = written["body"].as_str().expect("body");
    assert_eq!(
        body.matches("* Change number").count(),
        1000,
        "each listed once"
    );
    assert!(body.contains("## Features\n\n* Change number 996 (#996) @dev2"));
    assert!(body.ends_with("Thanks @dev0, @dev1, @dev2, @dev3, @dev4, @dev5 and @dev6"));
}

#[tokio::test]
async fn call_counts_for_one_hundred_and_ten_thousand() {
    let (hundred, _) = calls_for(100).await;
    assert_eq!(hundred, 2);
    let (ten_thousand, _) = calls_for(10_000).await;
    assert_eq!(ten_thousand, 101);
    assert!(ten_thousand <= 10_000usize.div_ceil(100) + 2);
}

#[tokio::test]
async fn a_page_github_times_out_is_asked_again_at_half_the_size_then_grows_back() {
    let mut history = History::new(1000);
    history.fail_calls = vec![2];
    let seen = history.seen.clone();
    let server = fake_github(history).await;
    let prepared = prepare_draft(&client(&server), &request(keys()), |_| {})
        .await
        .expect("prepared despite the 502");
    assert_eq!(prepared.pull_requests, 1000, "nothing lost");
    let pages = seen.lock().expect("lock").clone();
    let sizes: Vec<u64> = pages.iter().map(|(size, _)| *size).collect();
    assert_eq!(&sizes[..6], &[100, 100, 50, 50, 50, 100], "{sizes:?}");
    assert_eq!(
        pages[2].1, 100,
        "the failed page is asked again from the same cursor"
    );
}

#[tokio::test]
async fn a_body_over_githubs_limit_is_shortened_in_the_release_prepared() {
    let mut history = History::new(3000);
    history.title_len = 80;
    let server = fake_github(history).await;
    let github = client(&server);
    let req = request(keys());
    let prepared = prepare_draft(&github, &req, |_| {})
        .await
        .expect("prepared");
    assert!(prepared.draft.shortened);
    let written = serde_json::to_value(&prepared.write).expect("json");
    let body = written["body"].as_str().expect("body");
    assert!(
        body.chars().count() <= RELEASE_BODY_LIMIT,
        "{} chars",
        body.chars().count()
    );
    assert!(
        body.contains(&format!(
            "more in the [full comparison](https://github.com/{REPO}/compare/v1.0.0...main)"
        )),
        "links the full list"
    );
    assert!(
        body.contains("## Features"),
        "every section keeps its heading"
    );
}

fn cli(server: &MockServer, args: &[&str], token: Option<&str>) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trainyard"));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("TRAINYARD_") || name == "GITHUB_TOKEN" {
            cmd.env_remove(name);
        }
    }
    if let Some(token) = token {
        cmd.env("GITHUB_TOKEN", token);
    }
    let output = cmd
        .arg("notes")
        .args(["--api-url", &server.uri()])
        .args(args)
        .output()
        .expect("runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_notes_command_prints_the_notes_and_the_version_without_writing() {
    let server = fake_github(History::new(300)).await;
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("release-drafter.yml");
    std::fs::write(
        &config,
        "template: \"$CHANGES\"\ntag-template: v$RESOLVED_VERSION\nversion-resolver:\n  minor:\n    labels: [feature]\n",
    )
    .expect("write");
    let config = config.to_string_lossy().into_owned();
    let (ok, out, err) = cli(
        &server,
        &[
            "--repo",
            REPO,
            "--to",
            "main",
            "--repo-config",
            &config,
            "--json",
        ],
        Some("token-123"),
    );
    assert!(ok, "stderr: {err}");
    let printed: Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(printed["version"], "1.1.0");
    assert_eq!(printed["tag_name"], "v1.1.0");
    assert_eq!(printed["baseline"], "v1.0.0");
    assert_eq!(printed["pull_requests"], 300);
    assert!(
        printed["body"]
            .as_str()
            .expect("body")
            .starts_with("* Change number 299 (#299) @dev5")
    );
    assert!(
        err.contains("read 300 commits"),
        "progress on stderr: {err}"
    );
    assert!(
        !err.contains("token-123") && !out.contains("token-123"),
        "the token never shows"
    );
    let received = server.received_requests().await.expect("recorded");
    assert!(
        received
            .iter()
            .all(|r| r.method.as_str() == "GET" || r.url.path() == "/graphql"),
        "read-only"
    );
    assert!(
        received.iter().all(
            |r| r.headers.get("authorization").and_then(|h| h.to_str().ok())
                == Some("Bearer token-123")
        ),
        "GITHUB_TOKEN is the credential"
    );

    // Text output, the repository's own configuration (none: defaults), an explicit baseline.
    let (ok, out, err) = cli(
        &server,
        &["--repo", REPO, "--from", "v1.0.0", "--to", "main"],
        Some("t"),
    );
    assert!(ok, "stderr: {err}");
    // By default the preview is the line's next train: what its boarding rules take, and
    // the tag and name it will be cut with (named by its tag: no name template).
    assert!(
        out.starts_with(concat!(
            "acme/api: v1.0.0 → main\n",
            "next train on line `main`: 300 merged, 100 would board (label `release`)\n",
            "version 1.0.1 (Patch), tag v1.0.1, name v1.0.1\n",
        )),
        "{out}"
    );
    assert!(out.contains("100 listed; configuration: defaults"), "{out}");
    assert!(!out.contains("(#299)") && out.contains("(#297)"), "{out}");

    // `--whole-range`: every merged pull request, as release-drafter drafts them.
    let (ok, out, err) = cli(
        &server,
        &[
            "--repo",
            REPO,
            "--from",
            "v1.0.0",
            "--to",
            "main",
            "--whole-range",
        ],
        Some("t"),
    );
    assert!(ok, "stderr: {err}");
    assert!(
        out.starts_with(concat!(
            "acme/api: v1.0.0 → main\n",
            "whole range: 300 pull requests merged\n",
            "version 1.0.1 (Patch), tag -, name -\n",
        )),
        "{out}"
    );
    assert!(out.contains("(#299)"), "{out}");
}

#[tokio::test]
async fn the_notes_command_says_what_to_do_when_it_cannot_work() {
    let server = fake_github(History::new(1)).await;
    let (ok, _, err) = cli(&server, &["--repo", REPO, "--to", "main"], None);
    assert!(!ok);
    assert!(
        err.contains("no GitHub credentials: set GITHUB_TOKEN"),
        "{err}"
    );

    let (ok, _, err) = cli(
        &server,
        &["--repo", "acme/missing", "--to", "main"],
        Some("t"),
    );
    assert!(!ok);
    assert!(
        err.contains("repository acme/missing not found, or the credentials cannot see it"),
        "{err}"
    );

    // GitHub answers a comparison from a missing tag with a null ref.
    Mock::given(method("POST"))
        .and(path("/graphql"))
        .and(wiremock::matchers::body_string_contains("refs/tags/v9.9.9"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"repository": {"ref": null}}})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let (ok, _, err) = cli(
        &server,
        &["--repo", REPO, "--from", "v9.9.9", "--to", "main"],
        Some("t"),
    );
    assert!(!ok);
    assert!(err.contains("tag `v9.9.9` not found in acme/api"), "{err}");

    let (ok, _, err) = cli(&server, &["--repo", "not-a-repo"], Some("t"));
    assert!(!ok);
    assert!(
        err.contains("--repo `not-a-repo` is not owner/name"),
        "{err}"
    );
}

/// A repository with only GitHub's `release.yml`: `trainyard notes` shows GitHub's own
/// generated notes for the range, as the train's draft would carry them.
#[tokio::test]
async fn the_notes_command_shows_githubs_notes_for_a_release_yml() {
    let server = fake_github(History::new(3)).await;
    let github_body = "## What's Changed\n* Change number 2 by @dev2 in https://github.com/acme/api/pull/2\n\n## New Contributors\n* @dev2 made their first contribution in https://github.com/acme/api/pull/2\n\n**Full Changelog**: https://github.com/acme/api/compare/v1.0.0...v1.0.1";
    Mock::given(method("POST"))
        .and(path(format!("/repos/{REPO}/releases/generate-notes")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"name": "v1.0.1", "body": github_body})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("release.yml");
    std::fs::write(
        &config,
        "changelog:\n  categories:\n    - title: Everything\n      labels: ['*']\n",
    )
    .expect("write");
    let config = config.to_string_lossy().into_owned();
    let (ok, out, err) = cli(
        &server,
        &[
            "--repo",
            REPO,
            "--to",
            "main",
            "--repo-config",
            &config,
            "--json",
        ],
        Some("t"),
    );
    assert!(ok, "stderr: {err}");
    let printed: Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(printed["body"], github_body);
    let asked: Vec<Value> = server
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .filter(|r| r.url.path().ends_with("/generate-notes"))
        .map(|r| serde_json::from_slice(&r.body).expect("json"))
        .collect();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["previous_tag_name"], "v1.0.0");
    assert_eq!(asked[0]["target_commitish"], "main");
}

/// `trainyard notes` reads the configuration as the server does: a repository's
/// `_extends: .github` brings in the organisation's file (and a repository with no file of
/// its own uses the organisation's), so the preview is what the train's draft will say.
#[tokio::test]
async fn the_notes_command_follows_extends_as_the_server_does() {
    use base64::Engine as _;
    let file = |text: &str, sha: &str| {
        ResponseTemplate::new(200).set_body_json(json!({
            "type": "file", "encoding": "base64", "sha": sha,
            "content": base64::engine::general_purpose::STANDARD.encode(text),
        }))
    };
    let org = "template: 'Organisation notes: $CHANGES'\nname-template: 'Org v$RESOLVED_VERSION'\n";
    for own in [Some("_extends: .github\n"), None] {
        let server = fake_github(History::new(2)).await;
        if let Some(own) = own {
            Mock::given(method("GET"))
                .and(path(format!(
                    "/repos/{REPO}/contents/.github/release-drafter.yml"
                )))
                .respond_with(file(own, "own-1"))
                .mount(&server)
                .await;
        }
        Mock::given(method("GET"))
            .and(path(
                "/repos/acme/.github/contents/.github/release-drafter.yml",
            ))
            .respond_with(file(org, "org-1"))
            .mount(&server)
            .await;
        let (ok, out, err) = cli(
            &server,
            &["--repo", REPO, "--from", "v1.0.0", "--to", "main"],
            Some("t"),
        );
        assert!(ok, "stderr: {err}");
        assert!(out.contains("Organisation notes: "), "{own:?}: {out}");
        assert!(
            out.contains("acme/.github:.github/release-drafter.yml"),
            "{own:?}: the configuration line names the organisation's file: {out}"
        );
    }
}

/// A `release-drafter.yml` key release-drafter would ignore is ignored here too, and said:
/// in the text and in the JSON.
#[tokio::test]
async fn the_notes_command_says_which_keys_it_ignored() {
    let server = fake_github(History::new(3)).await;
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("release-drafter.yml");
    std::fs::write(
        &config,
        "x-fix-labels: &fix [bug]\ncategories:\n  - title: Fixes\n    labels: *fix\n",
    )
    .expect("write");
    let config = config.to_string_lossy().into_owned();
    let args = ["--repo", REPO, "--to", "main", "--repo-config", &config];
    let (ok, out, err) = cli(&server, &args, Some("t"));
    assert!(ok, "stderr: {err}");
    assert!(
        out.contains("warning: `x-fix-labels` is not a release-drafter key"),
        "{out}"
    );
    assert!(out.contains("## Fixes"), "the anchored labels work: {out}");
    let json_args = [&args[..], &["--json"]].concat();
    let (ok, out, err) = cli(&server, &json_args, Some("t"));
    assert!(ok, "stderr: {err}");
    let printed: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        printed["warnings"].as_array().map(Vec::len),
        Some(1),
        "{printed}"
    );
}

//! A fake GitHub for the scale benchmark: every installation's repositories answered from
//! memory after a configurable latency, GitHub's limits enforced (content-creating writes at
//! most 80 a minute and 500 an hour per installation, the secondary-limit `403` beyond; the
//! primary budget counted down in `x-ratelimit-*` headers), and the time each pull request
//! first appears in its repository's draft release recorded, for event → effect latency.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

/// The configuration every repository has: one line, `main` on `master`, and a staging
/// environment deployed when a release is published.
const CONFIG: &str = "trains:\n  lines:\n    - name: main\n      branch: master\n\
                      deploy:\n  environments:\n    - name: staging\n      auto: true\n";

/// What the fake saw, and answers from.
#[derive(Default)]
pub struct Seen {
    /// Calls answered.
    pub calls: u64,
    /// Secondary-limit `403`s answered.
    pub secondary: u64,
    /// Calls to routes the fake does not know, by `METHOD route`.
    pub unknown: HashMap<String, u64>,
    /// When `(repository, pull request)` first appeared in the repository's draft.
    pub drafted: HashMap<(String, u64), Instant>,
    /// When each repository's release was published (its draft `PATCH`ed to `draft: false`).
    pub published: HashMap<String, Instant>,
    /// Deployments filed: (repository, id, sha, environment, when).
    pub deployments: Vec<(String, u64, String, String, Instant)>,
    /// When a repository's pull request checks said it is deployed to staging.
    pub deployed_checks: HashMap<String, Vec<Instant>>,
    releases: HashMap<String, Vec<Value>>,
    /// Check runs created, by (repository, head commit): their ids and external ids.
    check_runs: HashMap<(String, String), Vec<Value>>,
    refs: HashMap<(String, String), String>,
    content_writes: HashMap<u64, VecDeque<Instant>>,
    primary_used: HashMap<u64, i64>,
    next_id: u64,
}

/// The fake's shared state.
pub struct Fake {
    latency: Duration,
    started_epoch: i64,
    /// What it saw.
    pub seen: Mutex<Seen>,
}

impl Fake {
    /// A fake answering after `latency`.
    pub fn new(latency: Duration) -> Arc<Fake> {
        Arc::new(Fake {
            latency,
            started_epoch: jiff::Timestamp::now().as_second(),
            seen: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Calls answered so far.
    pub fn calls(&self) -> u64 {
        self.lock().calls
    }
}

/// Serves the fake on `listener`.
pub async fn serve(fake: Arc<Fake>, listener: tokio::net::TcpListener) {
    let app = axum::Router::new().fallback(answer).with_state(fake);
    let _ = axum::serve(listener, app).await;
}

async fn answer(
    State(fake): State<Arc<Fake>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tokio::time::sleep(fake.latency).await;
    let installation = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ghs_"))
        .and_then(|v| v.parse::<u64>().ok());
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let query = uri.query().unwrap_or_default().to_owned();
    let mut seen = fake.lock();
    seen.calls += 1;
    let path = uri.path().to_owned();
    if let Some(installation) = installation {
        if creates_content(&method, &path) && !seen.take_content_write(installation) {
            seen.secondary += 1;
            return (
                StatusCode::FORBIDDEN,
                axum::Json(json!({"message": "You have exceeded a secondary rate limit."})),
            )
                .into_response();
        }
        let used = seen.primary_used.entry(installation).or_default();
        *used += 1;
        let remaining = (5_000 - *used).max(0);
        let mut response = route(&mut seen, &method, &path, &query, &body);
        let h = response.headers_mut();
        for (name, value) in [
            ("x-ratelimit-limit", "5000".to_owned()),
            ("x-ratelimit-remaining", remaining.to_string()),
            (
                "x-ratelimit-reset",
                (fake.started_epoch + 3_600).to_string(),
            ),
            ("x-ratelimit-resource", "core".to_owned()),
        ] {
            if let Ok(value) = value.parse() {
                h.insert(name, value);
            }
        }
        return response;
    }
    route(&mut seen, &method, &path, &query, &body)
}

impl Seen {
    /// One content write of `installation` now, unless GitHub's limits refuse it.
    fn take_content_write(&mut self, installation: u64) -> bool {
        let now = Instant::now();
        let log = self.content_writes.entry(installation).or_default();
        while log
            .front()
            .is_some_and(|at| now.duration_since(*at) > Duration::from_secs(3_600))
        {
            log.pop_front();
        }
        let last_minute = log
            .iter()
            .filter(|at| now.duration_since(**at) <= Duration::from_secs(60))
            .count();
        if last_minute >= 80 || log.len() >= 500 {
            return false;
        }
        log.push_back(now);
        true
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Records when each pull request first shows in `repo`'s draft.
    fn note_draft(&mut self, repo: &str, body: &str) {
        let now = Instant::now();
        for part in body.split("(#").skip(1) {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(number) = digits.parse::<u64>() {
                self.drafted.entry((repo.to_owned(), number)).or_insert(now);
            }
        }
    }
}

/// The commit `master` points to in `repo`: fixed, one per repository.
fn head_of(repo: &str) -> String {
    let digest = repo.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("{digest:016x}{digest:016x}{:08x}", repo.len())
}

fn route(seen: &mut Seen, method: &Method, path: &str, query: &str, body: &Value) -> Response {
    let ok = |status: StatusCode, value: Value| (status, axum::Json(value)).into_response();
    if let Some(rest) = path.strip_prefix("/app/installations/")
        && let Some(id) = rest.strip_suffix("/access_tokens")
    {
        return ok(
            StatusCode::CREATED,
            json!({"token": format!("ghs_{id}"), "expires_at": "2099-01-01T00:00:00Z"}),
        );
    }
    let Some(rest) = path.strip_prefix("/repos/") else {
        return unknown(seen, method, path);
    };
    let parts: Vec<&str> = rest.splitn(3, '/').collect();
    let (repo, tail) = match parts.as_slice() {
        [owner, name, tail] => (format!("{owner}/{name}"), (*tail).to_owned()),
        [owner, name] => (format!("{owner}/{name}"), String::new()),
        _ => return unknown(seen, method, path),
    };
    let segments: Vec<&str> = tail.split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["contents", ".github", "trainyard.yml"]) => ok(
            StatusCode::OK,
            json!({
                "type": "file", "encoding": "base64", "sha": "c0nf1g",
                "content": base64::engine::general_purpose::STANDARD.encode(CONFIG),
            }),
        ),
        ("GET", ["contents", ..]) => ok(StatusCode::NOT_FOUND, json!({"message": "Not Found"})),
        ("GET", ["releases"]) => {
            let releases = seen.releases.get(&repo).cloned().unwrap_or_default();
            ok(StatusCode::OK, Value::Array(releases))
        }
        ("POST", ["releases"]) => {
            let id = seen.id();
            let release = json!({
                "id": id, "draft": body["draft"].as_bool().unwrap_or(true),
                "prerelease": false, "tag_name": body["tag_name"], "name": body["name"],
                "body": body["body"], "target_commitish": body["target_commitish"],
                "created_at": "2026-12-05T00:00:00Z",
                "html_url": format!("https://github.com/{repo}/releases/{id}"),
            });
            seen.note_draft(&repo, body["body"].as_str().unwrap_or_default());
            seen.releases.entry(repo).or_default().push(release.clone());
            ok(StatusCode::CREATED, release)
        }
        ("PATCH", ["releases", id]) => {
            let id: u64 = id.parse().unwrap_or_default();
            seen.note_draft(&repo, body["body"].as_str().unwrap_or_default());
            if body["draft"] == json!(false) {
                seen.published
                    .entry(repo.clone())
                    .or_insert_with(Instant::now);
            }
            let releases = seen.releases.entry(repo).or_default();
            match releases.iter_mut().find(|r| r["id"] == id) {
                Some(release) => {
                    if let (Some(stored), Some(patch)) = (release.as_object_mut(), body.as_object())
                    {
                        for (k, v) in patch {
                            stored.insert(k.clone(), v.clone());
                        }
                    }
                    ok(StatusCode::OK, release.clone())
                }
                None => ok(StatusCode::NOT_FOUND, json!({"message": "Not Found"})),
            }
        }
        ("POST", ["check-runs"]) => {
            let id = seen.id();
            let run = json!({"id": id, "name": body["name"], "external_id": body["external_id"]});
            let sha = body["head_sha"].as_str().unwrap_or_default().to_owned();
            seen.check_runs.entry((repo, sha)).or_default().push(run);
            ok(StatusCode::CREATED, json!({"id": id}))
        }
        // Where a create's answer was lost (or never sent), the check is looked up by its
        // external id.
        ("GET", ["commits", sha, "check-runs"]) => {
            let runs = seen
                .check_runs
                .get(&(repo, (*sha).to_owned()))
                .cloned()
                .unwrap_or_default();
            ok(
                StatusCode::OK,
                json!({"total_count": runs.len(), "check_runs": runs}),
            )
        }
        ("POST", ["issues", _, "comments"]) => {
            let id = seen.id();
            ok(StatusCode::CREATED, json!({"id": id}))
        }
        ("PATCH", ["check-runs", id]) => {
            if body["output"].to_string().contains("staging") {
                seen.deployed_checks
                    .entry(repo)
                    .or_default()
                    .push(Instant::now());
            }
            ok(
                StatusCode::OK,
                json!({"id": id.parse::<u64>().unwrap_or_default()}),
            )
        }
        ("GET", ["collaborators", _, "permission"]) => ok(
            StatusCode::OK,
            json!({"permission": "admin", "role_name": "admin"}),
        ),
        ("POST", ["issues", "comments", _, "reactions"]) => {
            let id = seen.id();
            ok(
                StatusCode::CREATED,
                json!({"id": id, "content": body["content"]}),
            )
        }
        ("GET", ["branches", name]) => ok(
            StatusCode::OK,
            json!({"name": name, "commit": {"sha": head_of(&repo)}}),
        ),
        ("GET", ["git", "ref", "heads", "master"]) => ok(
            StatusCode::OK,
            json!({"ref": "refs/heads/master", "object": {"sha": head_of(&repo), "type": "commit"}}),
        ),
        ("GET", ["git", "ref", rest @ ..]) => {
            match seen.refs.get(&(repo.clone(), rest.join("/"))) {
                Some(sha) => ok(
                    StatusCode::OK,
                    json!({"ref": format!("refs/{}", rest.join("/")), "object": {"sha": sha, "type": "commit"}}),
                ),
                None => ok(StatusCode::NOT_FOUND, json!({"message": "Not Found"})),
            }
        }
        ("POST", ["git", "refs"]) => {
            let name = body["ref"].as_str().unwrap_or_default();
            let name = name.strip_prefix("refs/").unwrap_or(name).to_owned();
            let sha = body["sha"].as_str().unwrap_or_default().to_owned();
            if seen.refs.contains_key(&(repo.clone(), name.clone())) {
                return ok(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"message": "Reference already exists"}),
                );
            }
            seen.refs.insert((repo, name.clone()), sha.clone());
            ok(
                StatusCode::CREATED,
                json!({"ref": format!("refs/{name}"), "object": {"sha": sha, "type": "commit"}}),
            )
        }
        ("POST", ["deployments"]) => {
            let id = seen.id();
            let git_ref = body["ref"].as_str().unwrap_or_default().to_owned();
            let sha = seen
                .refs
                .get(&(repo.clone(), format!("tags/{git_ref}")))
                .cloned()
                .unwrap_or_else(|| git_ref.clone());
            let environment = body["environment"]
                .as_str()
                .unwrap_or("production")
                .to_owned();
            seen.deployments
                .push((repo, id, sha.clone(), environment.clone(), Instant::now()));
            ok(
                StatusCode::CREATED,
                deployment_json(id, &sha, &git_ref, &environment),
            )
        }
        ("GET", ["deployments"]) => {
            let environment = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("environment="));
            let found: Vec<Value> = seen
                .deployments
                .iter()
                .rev()
                .filter(|(r, ..)| *r == repo)
                .filter(|(.., e, _)| environment.is_none_or(|wanted| wanted == e))
                .map(|(_, id, sha, e, _)| deployment_json(*id, sha, sha, e))
                .collect();
            ok(StatusCode::OK, Value::Array(found))
        }
        ("GET", ["installation"]) => ok(StatusCode::OK, json!({"id": 1})),
        _ => unknown(seen, method, path),
    }
}

/// A deployment as GitHub shows it.
pub fn deployment_json(id: u64, sha: &str, git_ref: &str, environment: &str) -> Value {
    json!({
        "id": id, "sha": sha, "ref": git_ref, "task": "deploy",
        "environment": environment, "original_environment": environment,
        "payload": {}, "description": null,
        "creator": {"login": "trainyard[bot]", "type": "Bot", "id": 9},
        "production_environment": false, "transient_environment": false,
    })
}

fn unknown(seen: &mut Seen, method: &Method, path: &str) -> Response {
    // Numbers and names out, so routes group.
    let shape: String = path
        .split('/')
        .enumerate()
        .map(|(i, s)| {
            if i == 2 || i == 3 || s.chars().all(|c| c.is_ascii_digit()) {
                "*"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    *seen.unknown.entry(format!("{method} {shape}")).or_default() += 1;
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"message": "Not Found"})),
    )
        .into_response()
}

/// GitHub's content-creating calls.
fn creates_content(method: &Method, path: &str) -> bool {
    let posted = method == Method::POST
        && [
            "/releases",
            "/git/refs",
            "/git/tags",
            "/comments",
            "/deployments",
            "/statuses",
        ]
        .iter()
        .any(|part| path.contains(part))
        && !path.ends_with("/generate-notes");
    posted || ((method == Method::POST || method == Method::PATCH) && path.contains("/check-runs"))
}

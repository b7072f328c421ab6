//! Trains end to end through the real HTTP entry: signed webhooks built from real payloads,
//! the server's router, its job runner, and a wiremock GitHub that keeps its releases.
//! Stories: label → merge → the draft shows the PR; unlabel → it leaves; maintainers'
//! highlights survive updates; fifty merges at once make one draft.

mod harness;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use trainyard::app::{AppState, router};
use trainyard::clock::ManualClock;
use trainyard::domain::ids::RepoFullName;
use trainyard::domain::train::{GENERATED_MARKER, TrainCommand, TrainState};
use trainyard::domain::train_event::TrainEvent;
use trainyard::handlers::train_commands::{CommandReply, RunTrainCommand, execute};
use trainyard::inbound::github::signature;
use trainyard::settings::{Secret, Settings, SettingsArgs};
use trainyard::store::trains as train_store;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

use harness::TestDb;

const SECRET: &str = "trains-secret";
const REPO: &str = "Codertocat/Hello-World";

/// GitHub's releases of one repository, kept across calls.
#[derive(Clone, Default)]
struct Releases(Arc<Mutex<Vec<Value>>>, Arc<std::sync::atomic::AtomicBool>);

impl Respond for Releases {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let mut releases = self.0.lock().expect("lock");
        match request.method.as_str() {
            "GET" => ResponseTemplate::new(200).set_body_json(Value::Array(releases.clone())),
            "POST" => {
                let mut release: Value = serde_json::from_slice(&request.body).expect("json");
                let id = 100 + releases.len() as u64;
                release["id"] = json!(id);
                release["created_at"] = json!("2026-11-27T09:00:00Z");
                release["html_url"] = json!(format!("https://github.com/{REPO}/releases/{id}"));
                releases.push(release.clone());
                ResponseTemplate::new(201).set_body_json(release)
            }
            "PATCH" => {
                // A "crash" while publishing: GitHub fails once.
                if self.1.swap(false, std::sync::atomic::Ordering::SeqCst) {
                    return ResponseTemplate::new(502).set_body_string("Bad Gateway");
                }
                let id: u64 = request
                    .url
                    .path()
                    .rsplit('/')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let update: Value = serde_json::from_slice(&request.body).expect("json");
                let Some(release) = releases.iter_mut().find(|r| r["id"] == json!(id)) else {
                    return ResponseTemplate::new(404)
                        .set_body_json(json!({"message": "Not Found"}));
                };
                if let (Some(r), Some(u)) = (release.as_object_mut(), update.as_object()) {
                    r.extend(u.clone());
                }
                ResponseTemplate::new(200).set_body_json(release.clone())
            }
            _ => ResponseTemplate::new(405),
        }
    }
}

struct World {
    bot: AppState,
    github: MockServer,
    releases: Releases,
    clock: ManualClock,
    head: Arc<Mutex<String>>,
}

/// The repository's branch head, movable by the test.
#[derive(Clone)]
struct Head(Arc<Mutex<String>>);

impl Respond for Head {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let sha = self.0.lock().expect("lock").clone();
        ResponseTemplate::new(200).set_body_json(json!({"name": "master", "commit": {"sha": sha}}))
    }
}

/// Tags created through the refs API; a second create of the same ref is refused (422).
#[derive(Clone, Default)]
struct Refs(Arc<Mutex<Vec<(String, String)>>>);

impl Respond for Refs {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let mut refs = self.0.lock().expect("lock");
        if request.method.as_str() == "POST" {
            let body: Value = serde_json::from_slice(&request.body).expect("json");
            let name = body["ref"].as_str().unwrap_or_default().to_owned();
            if refs.iter().any(|(r, _)| *r == name) {
                return ResponseTemplate::new(422)
                    .set_body_json(json!({"message": "Reference already exists"}));
            }
            let sha = body["sha"].as_str().unwrap_or_default().to_owned();
            refs.push((name.clone(), sha.clone()));
            return ResponseTemplate::new(201)
                .set_body_json(json!({"ref": name, "object": {"sha": sha, "type": "commit"}}));
        }
        let wanted = format!(
            "refs/{}",
            request.url.path().split("/git/ref/").nth(1).unwrap_or("")
        );
        match refs.iter().find(|(r, _)| *r == wanted) {
            Some((r, sha)) => ResponseTemplate::new(200)
                .set_body_json(json!({"ref": r, "object": {"sha": sha, "type": "commit"}})),
            None => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
        }
    }
}

impl World {
    async fn new(test: &TestDb) -> World {
        let github = MockServer::start().await;
        harness::github::mount_app_and_crew(&github, REPO).await;
        let releases = Releases::default();
        releases.0.lock().expect("lock").push(json!({
            "id": 1, "tag_name": "v1.0.0", "name": "v1.0.0", "draft": false,
            "prerelease": false, "created_at": "2026-10-01T00:00:00Z",
            "target_commitish": "master", "html_url": "", "body": "old"
        }));
        Mock::given(path(format!("/repos/{REPO}/releases")))
            .respond_with(releases.clone())
            .mount(&github)
            .await;
        Mock::given(method("PATCH"))
            .and(path_regex(format!("^/repos/{REPO}/releases/[0-9]+$")))
            .respond_with(releases.clone())
            .mount(&github)
            .await;
        let settings = Settings::resolve(SettingsArgs {
            github_app_id: Some(42),
            github_private_key_path: Some(
                format!("{}/fixtures/keys/test-app.pem", env!("CARGO_MANIFEST_DIR")).into(),
            ),
            github_webhook_secret: Some(SECRET.parse().expect("secret")),
            github_api_url: Some(github.uri()),
            ..SettingsArgs::default()
        })
        .expect("settings");
        let head = Arc::new(Mutex::new("a".repeat(40)));
        Mock::given(method("GET"))
            .and(path(format!("/repos/{REPO}/branches/master")))
            .respond_with(Head(head.clone()))
            .mount(&github)
            .await;
        let clock = ManualClock::starting_at("2026-11-27T09:00:00Z".parse().expect("time"));
        let bot = AppState::new(settings, test.db.clone(), Arc::new(clock.clone())).expect("state");
        World {
            bot,
            github,
            releases,
            clock,
            head,
        }
    }

    /// GitHub's git refs (tags and branches), starting with `existing` (ref, sha).
    async fn mount_refs(&self, existing: &[(&str, String)]) -> Refs {
        let refs = Refs::default();
        refs.0.lock().expect("lock").extend(
            existing
                .iter()
                .map(|(r, sha)| ((*r).to_owned(), sha.clone())),
        );
        Mock::given(path_regex(format!("^/repos/{REPO}/git/refs?(/.*)?$")))
            .respond_with(refs.clone())
            .mount(&self.github)
            .await;
        refs
    }

    /// Serves `text` as the repository's `.github/trainyard.yml`.
    async fn mount_config(&self, text: &str) {
        use base64::Engine as _;
        Mock::given(method("GET"))
            .and(path(format!(
                "/repos/{REPO}/contents/.github/trainyard.yml"
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "type": "file", "encoding": "base64", "sha": "c1",
                "content": base64::engine::general_purpose::STANDARD.encode(text),
            })))
            .mount(&self.github)
            .await;
    }

    /// Accepts comments on pull requests, exactly `expected` of them when given.
    async fn mount_comments(&self, expected: Option<u64>) {
        let mock = Mock::given(method("POST"))
            .and(path_regex(format!(
                "^/repos/{REPO}/issues/[0-9]+/comments$"
            )))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})));
        match expected {
            Some(n) => mock.expect(n).mount(&self.github).await,
            None => mock.mount(&self.github).await,
        }
    }

    async fn command(&self, actor: &str, command: TrainCommand) -> CommandReply {
        let request = RunTrainCommand {
            repository: RepoFullName::parse(REPO).expect("repo"),
            installation: 1,
            line: None,
            actor: actor.into(),
            command,
            command_id: format!("test:{}", rand::random::<u64>()),
            by_schedule: false,
            reply_to: None,
            train_id: None,
            expect_version: None,
        };
        execute(&self.bot.train_context(), &request)
            .await
            .expect("command ran")
    }

    /// Delivers a pull_request event as GitHub would sign it.
    async fn deliver(&self, delivery: impl Into<String>, body: &Value) -> StatusCode {
        self.deliver_event("pull_request", delivery, body).await
    }

    /// Delivers an event as GitHub would sign it.
    async fn deliver_event(
        &self,
        event: &str,
        delivery: impl Into<String>,
        body: &Value,
    ) -> StatusCode {
        let delivery: String = delivery.into();
        let bytes = serde_json::to_vec(body).expect("json");
        let request = Request::post("/webhooks/github")
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", delivery.as_str())
            .header(
                "x-hub-signature-256",
                signature::sign(&Secret::new(SECRET), &bytes),
            )
            .body(Body::from(bytes))
            .expect("request");
        let response = router(self.bot.clone())
            .oneshot(request)
            .await
            .expect("response");
        let status = response.status();
        let _ = response.into_body().collect().await;
        status
    }

    async fn run_jobs(&self) {
        let drained = self.bot.runner().run_pending().await.expect("jobs run");
        assert_eq!(drained.dead, 0, "no job died: {drained:?}");
    }

    fn drafts(&self) -> Vec<Value> {
        self.releases
            .0
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r["draft"] == json!(true))
            .cloned()
            .collect()
    }
}

/// A `pull_request` payload (GitHub's own sample, adjusted).
fn pull_request(action: &str, number: u64, labels: &[&str], label: Option<&str>) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/fixtures/github-webhooks/pull_request/closed.payload.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let mut payload: Value = serde_json::from_str(&text).expect("json");
    payload["action"] = json!(action);
    let pr = &mut payload["pull_request"];
    pr["number"] = json!(number);
    pr["title"] = json!(format!("Change {number}"));
    pr["merged"] = json!(true);
    pr["merged_at"] = json!(format!("2026-11-27T09:{:02}:00Z", number % 60));
    pr["merge_commit_sha"] = json!(format!("{number:040x}"));
    pr["labels"] = json!(
        labels
            .iter()
            .map(|l| json!({"name": l}))
            .collect::<Vec<_>>()
    );
    if let Some(label) = label {
        payload["label"] = json!({"name": label});
    }
    payload
}

async fn a_labelled_merge_boards_and_the_draft_follows_its_passengers(test: TestDb) {
    let world = World::new(&test).await;
    assert_eq!(
        world
            .deliver("d1", &pull_request("closed", 7, &["release"], None))
            .await,
        StatusCode::ACCEPTED
    );
    // Merged without the label: stays off until labelled later.
    world
        .deliver("d2", &pull_request("closed", 8, &[], None))
        .await;
    world.run_jobs().await;
    let drafts = world.drafts();
    assert_eq!(drafts.len(), 1, "one draft for the train");
    let body = drafts[0]["body"].as_str().expect("body");
    assert!(body.starts_with(GENERATED_MARKER), "{body}");
    assert!(body.contains("* Change 7 (#7) @Codertocat"), "{body}");
    assert!(!body.contains("#8"), "{body}");
    assert_eq!(drafts[0]["tag_name"], "", "no tag template configured");
    assert_eq!(drafts[0]["target_commitish"], "master");

    // A maintainer writes highlights above the marker; a late label boards #8.
    let id = drafts[0]["id"].clone();
    {
        let mut releases = world.releases.0.lock().expect("lock");
        let draft = releases.iter_mut().find(|r| r["id"] == id).expect("draft");
        draft["body"] = json!(format!("Highlights: faster builds.\n\n{body}"));
    }
    // GitHub tells of the maintainer's edit.
    let text = std::fs::read_to_string(format!(
        "{}/fixtures/github-webhooks/release/edited.payload.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let mut edited: Value = serde_json::from_str(&text).expect("json");
    edited["release"]["id"] = id.clone();
    edited["release"]["draft"] = json!(true);
    edited["sender"]["login"] = json!("maya");
    edited["sender"]["type"] = json!("User");
    edited["installation"] = json!({"id": 1});
    assert_eq!(
        world.deliver_event("release", "d-edit", &edited).await,
        StatusCode::ACCEPTED
    );
    world
        .deliver(
            "d3",
            &pull_request("labeled", 8, &["release"], Some("release")),
        )
        .await;
    world.run_jobs().await;
    let drafts = world.drafts();
    assert_eq!(drafts.len(), 1);
    let body = drafts[0]["body"].as_str().expect("body");
    assert!(body.starts_with("Highlights: faster builds.\n\n"), "{body}");
    assert!(body.contains("#8") && body.contains("#7"), "{body}");

    // Unlabelled: #7 leaves the train.
    world
        .deliver("d4", &pull_request("unlabeled", 7, &[], Some("release")))
        .await;
    world.run_jobs().await;
    let body = world.drafts()[0]["body"].as_str().expect("body").to_owned();
    assert!(!body.contains("(#7)"), "{body}");
    assert!(body.contains("(#8)"), "{body}");
    world.github.reset().await;
}

async fn fifty_merges_at_once_make_one_draft(test: TestDb) {
    let world = World::new(&test).await;
    let payloads: Vec<(u64, Value)> = (1..=50u64)
        .map(|n| (n, pull_request("closed", n, &["release"], None)))
        .collect();
    let statuses = futures::future::join_all(
        payloads
            .iter()
            .map(|(n, payload)| world.deliver(format!("m{n}"), payload)),
    )
    .await;
    assert!(statuses.iter().all(|s| *s == StatusCode::ACCEPTED));
    world.run_jobs().await;
    let drafts = world.drafts();
    assert_eq!(drafts.len(), 1, "never two drafts for one train");
    let body = drafts[0]["body"].as_str().expect("body");
    assert_eq!(body.matches("* Change ").count(), 50, "{body}");
}

async fn cut_approve_and_release_tag_the_frozen_commit_once(test: TestDb) {
    let world = World::new(&test).await;
    let refs = world.mount_refs(&[]).await;
    let comments = Arc::new(Mutex::new(Vec::<u64>::new()));
    {
        let comments = comments.clone();
        Mock::given(method("POST"))
            .and(path_regex(format!(
                "^/repos/{REPO}/issues/[0-9]+/comments$"
            )))
            .respond_with(move |request: &wiremock::Request| {
                let number: u64 = request
                    .url
                    .path()
                    .split('/')
                    .nth(5)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                comments.lock().expect("lock").push(number);
                ResponseTemplate::new(201).set_body_json(json!({"id": number * 10}))
            })
            .mount(&world.github)
            .await;
    }
    // GitHub's compare: merge commits of PRs 1, 2 and 4 are behind the frozen head `aaa…`;
    // none of them is in the last release v1.0.0.
    Mock::given(method("GET"))
        .and(path_regex(format!("^/repos/{REPO}/compare/.+$")))
        .respond_with(|request: &wiremock::Request| {
            let range = request
                .url
                .path()
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_owned();
            let (base, head) = range.split_once("...").unwrap_or(("", ""));
            let merged_before_cut = [1u64, 2, 4].iter().any(|n| base == format!("{n:040x}"));
            let status = if merged_before_cut && head == "a".repeat(40) {
                "ahead"
            } else {
                "diverged"
            };
            ResponseTemplate::new(200).set_body_json(json!({"status": status}))
        })
        .mount(&world.github)
        .await;
    for n in [1, 2] {
        world
            .deliver(
                format!("m{n}"),
                &pull_request("closed", n, &["release"], None),
            )
            .await;
    }
    // #4 is merged before the cut but labelled only after it.
    world
        .deliver("m4", &pull_request("closed", 4, &[], None))
        .await;
    world.run_jobs().await;

    assert_eq!(
        world.command("rick", TrainCommand::Cut).await,
        CommandReply::Refused(
            "`cut` needs write permission on the repository; rick has read".into()
        )
    );
    let head = "a".repeat(40);
    assert_eq!(
        world.command("carol", TrainCommand::Cut).await,
        CommandReply::Done(
            "cut v1.0.1 at aaaaaaa with 2 pull requests; the next train is open".into()
        )
    );
    world.run_jobs().await;
    // The branch moves on; a PR merged after the cut rides the next train.
    *world.head.lock().expect("lock") = "b".repeat(40);
    world
        .deliver("m3", &pull_request("closed", 3, &["release"], None))
        .await;
    world.run_jobs().await;
    world
        .deliver(
            "l4",
            &pull_request("labeled", 4, &["release"], Some("release")),
        )
        .await;
    world.run_jobs().await;
    let drafts = world.drafts();
    let frozen_draft = drafts
        .iter()
        .find(|d| d["tag_name"] == "v1.0.1")
        .expect("the frozen train's draft");
    let body = frozen_draft["body"].as_str().expect("body");
    assert!(
        body.contains("(#4)") && !body.contains("(#3)"),
        "a late label inside the frozen range boards the frozen train: {body}"
    );
    assert_eq!(
        world.drafts().len(),
        2,
        "the frozen train's draft and the next train's"
    );

    assert_eq!(
        world.command("rick", TrainCommand::Approve).await,
        CommandReply::Refused(
            "`approve` needs maintain permission on the repository; rick has read".into()
        )
    );
    assert_eq!(
        world.command("carol", TrainCommand::Approve).await,
        CommandReply::Refused(
            "`approve` needs maintain permission on the repository; carol has write".into()
        )
    );
    world
        .releases
        .1
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let reply = world.command("maya", TrainCommand::Approve).await;
    assert_eq!(
        reply,
        CommandReply::Done("approved; releasing v1.0.1".into())
    );
    world.run_jobs().await;
    // The publish failed (GitHub 502) after the tag was made: recorded, waiting to retry.
    let repo = RepoFullName::parse(REPO).expect("repo");
    let halfway = train_store::in_states(&world.bot.db, &repo, &[TrainState::Approved])
        .await
        .expect("trains");
    assert_eq!(halfway.len(), 1);
    assert!(halfway[0].tag_created_at.is_some() && halfway[0].published_at.is_none());
    world.clock.advance(jiff::SignedDuration::from_hours(2));
    world.run_jobs().await;

    let created = refs.0.lock().expect("lock").clone();
    assert_eq!(created.len(), 1, "exactly one tag: {created:?}");
    assert_eq!(
        created[0],
        ("refs/tags/v1.0.1".to_owned(), head),
        "at the frozen commit, not the moved head"
    );
    let published: Vec<Value> = world
        .releases
        .0
        .lock()
        .expect("lock")
        .iter()
        .filter(|r| r["draft"] == json!(false) && r["id"] != json!(1))
        .cloned()
        .collect();
    assert_eq!(published.len(), 1, "one release published");
    assert_eq!(published[0]["target_commitish"], json!(created[0].1));
    let mut commented = comments.lock().expect("lock").clone();
    commented.sort_unstable();
    let released = train_store::in_states(
        &world.bot.db,
        &RepoFullName::parse(REPO).expect("repo"),
        &[TrainState::Released],
    )
    .await
    .expect("trains");
    assert_eq!(released.len(), 1);
    let passengers = train_store::passengers(&world.bot.db, released[0].id)
        .await
        .expect("passengers");
    let mut expected: Vec<u64> = passengers.iter().map(|p| p.number as u64).collect();
    expected.sort_unstable();
    assert_eq!(commented, expected, "one comment per boarded pull request");
    assert_eq!(commented, vec![1, 2, 4]);
    assert_eq!(published[0]["tag_name"], "v1.0.1");

    // The chat notifications' outbox holds the frozen train's story in order.
    let events = train_store::events_since(&world.bot.db, &repo, 0)
        .await
        .expect("events");
    let story: Vec<&str> = events
        .iter()
        .filter(|e| e.train_id == Some(released[0].id))
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(
        story,
        [
            "boarded", "boarded", "cut", "boarded", "approved", "released"
        ]
    );
    let cut = events
        .iter()
        .find_map(|e| match e.event() {
            Some(cut @ TrainEvent::Cut { .. }) => Some(cut),
            _ => None,
        })
        .expect("a cut event");
    assert_eq!(
        cut,
        TrainEvent::Cut {
            version: "1.0.1".into(),
            tag: "v1.0.1".into(),
            target_sha: "a".repeat(40),
            by: "carol".into(),
            passengers: 2,
            approvals_required: 1,
        }
    );
}

/// A `release` payload: the draft `id` published by `sender`.
fn release_published(id: u64, tag: &str, sender: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/fixtures/github-webhooks/release/published.payload.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let mut payload: Value = serde_json::from_str(&text).expect("json");
    payload["release"]["id"] = json!(id);
    payload["release"]["tag_name"] = json!(tag);
    payload["release"]["draft"] = json!(false);
    payload["sender"]["login"] = json!(sender);
    payload["installation"] = json!({"id": 1});
    payload
}

async fn a_draft_published_by_hand_releases_the_train_or_blocks_it(test: TestDb) {
    let world = World::new(&test).await;
    let refs = world.mount_refs(&[]).await;
    world.mount_comments(Some(0)).await;
    world
        .deliver("m1", &pull_request("closed", 1, &["release"], None))
        .await;
    world.run_jobs().await;
    world.command("carol", TrainCommand::Cut).await;
    world.run_jobs().await;
    let draft_id = world
        .drafts()
        .iter()
        .find(|d| d["tag_name"] == "v1.0.1")
        .map(|d| d["id"].as_u64().expect("id"))
        .expect("the frozen draft");
    let repo = RepoFullName::parse(REPO).expect("repo");

    // Published on GitHub after the branch moved: GitHub tagged the new head.
    refs.0
        .lock()
        .expect("lock")
        .push(("refs/tags/v1.0.1".into(), "b".repeat(40)));
    let status = world
        .deliver_event(
            "release",
            "r1",
            &release_published(draft_id, "v1.0.1", "maya"),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    world.run_jobs().await;
    let blocked = train_store::in_states(&world.bot.db, &repo, &[TrainState::Blocked])
        .await
        .expect("trains");
    assert_eq!(blocked.len(), 1);
    let reason = blocked[0].blocked_reason.clone().unwrap_or_default();
    assert!(
        reason.contains("published the draft by hand")
            && reason.contains(&"b".repeat(40))
            && reason.contains(&"a".repeat(40)),
        "{reason}"
    );

    // The same, with GitHub's tag at the frozen commit: released, one comment.
    let other = TestDb::sqlite().await;
    let world = World::new(&other).await;
    let refs = world.mount_refs(&[]).await;
    world.mount_comments(Some(1)).await;
    world
        .deliver("m1", &pull_request("closed", 1, &["release"], None))
        .await;
    world.run_jobs().await;
    world.command("carol", TrainCommand::Cut).await;
    world.run_jobs().await;
    refs.0
        .lock()
        .expect("lock")
        .push(("refs/tags/v1.0.1".into(), "a".repeat(40)));
    world
        .deliver_event(
            "release",
            "r1",
            &release_published(draft_id, "v1.0.1", "maya"),
        )
        .await;
    world.run_jobs().await;
    let released = train_store::in_states(&world.bot.db, &repo, &[TrainState::Released])
        .await
        .expect("trains");
    assert_eq!(
        released.len(),
        1,
        "publishing by hand approves and releases"
    );
    assert_eq!(
        train_store::commented(&world.bot.db, released[0].id)
            .await
            .expect("c"),
        vec![1]
    );
}

async fn a_scheduled_cut_fires_once_across_two_replicas(test: TestDb) {
    use trainyard::handlers::train_commands::ScheduledCuts;
    use trainyard::jobs::BackgroundJob as _;
    let world = World::new(&test).await;
    let config =
        "trains:\n  lines:\n    - name: main\n      schedule: '0 9 * * *'\n      timezone: UTC\n";
    world.mount_config(config).await;
    world
        .deliver("m1", &pull_request("closed", 1, &["release"], None))
        .await;
    world.run_jobs().await;

    // It is 09:00 UTC: the slot is due. Two replicas check at the same moment.
    world.clock.advance(jiff::SignedDuration::from_secs(30));
    let replica_a = world.bot.train_context();
    let mut replica_b = world.bot.train_context();
    replica_b.db = test.reopen().await;
    let (a, b) = tokio::join!(ScheduledCuts.run(replica_a), ScheduledCuts.run(replica_b));
    a.expect("replica a");
    b.expect("replica b");
    let commands = world
        .bot
        .queue
        .jobs()
        .await
        .expect("jobs")
        .into_iter()
        .filter(|j| j.kind == "train.command")
        .count();
    assert_eq!(commands, 1, "the slot was claimed by one replica only");
    world.run_jobs().await;
    let repo = RepoFullName::parse(REPO).expect("repo");
    let frozen = train_store::in_states(&world.bot.db, &repo, &[TrainState::Frozen])
        .await
        .expect("trains");
    assert_eq!(frozen.len(), 1, "one cut");
    assert_eq!(frozen[0].cut_by.as_deref(), Some("trainyard-schedule"));
    assert_eq!(frozen[0].tag_name.as_deref(), Some("v1.0.1"));

    // The next minute the same slot does not fire again.
    world.clock.advance(jiff::SignedDuration::from_mins(1));
    ScheduledCuts
        .run(world.bot.train_context())
        .await
        .expect("check");
    assert!(
        world.bot.queue.jobs().await.expect("jobs").is_empty(),
        "no second cut is even asked for"
    );
    world.run_jobs().await;
    let frozen = train_store::in_states(&world.bot.db, &repo, &[TrainState::Frozen])
        .await
        .expect("trains");
    assert_eq!(frozen.len(), 1, "still one cut");
}

async fn a_reminder_comes_once_before_the_scheduled_cut(test: TestDb) {
    use trainyard::handlers::train_commands::ScheduledCuts;
    use trainyard::jobs::BackgroundJob as _;
    let world = World::new(&test).await;
    let config =
        "trains:\n  lines:\n    - name: main\n      schedule: '45 9 * * *'\n      reminder: 30m\n";
    world.mount_config(config).await;
    world
        .deliver("m1", &pull_request("closed", 1, &["release"], None))
        .await;
    world.run_jobs().await;
    let repo = RepoFullName::parse(REPO).expect("repo");
    let reminders = || async {
        train_store::events_since(&world.bot.db, &repo, 0)
            .await
            .expect("events")
            .into_iter()
            .filter(|e| e.kind == "cut_reminder")
            .collect::<Vec<_>>()
    };

    // 09:00: the 09:45 cut is 45 minutes away, beyond the 30-minute lead.
    ScheduledCuts
        .run(world.bot.train_context())
        .await
        .expect("check");
    assert!(reminders().await.is_empty());

    // 09:15: two replicas check at once; one reminder.
    world.clock.advance(jiff::SignedDuration::from_mins(15));
    let replica_a = world.bot.train_context();
    let mut replica_b = world.bot.train_context();
    replica_b.db = test.reopen().await;
    let (a, b) = tokio::join!(ScheduledCuts.run(replica_a), ScheduledCuts.run(replica_b));
    a.expect("replica a");
    b.expect("replica b");
    world.clock.advance(jiff::SignedDuration::from_mins(1));
    ScheduledCuts
        .run(world.bot.train_context())
        .await
        .expect("check");
    let sent = reminders().await;
    assert_eq!(sent.len(), 1, "one reminder per slot: {sent:?}");
    let cut_at: jiff::Timestamp = "2026-11-27T09:45:00Z".parse().expect("time");
    assert_eq!(
        sent[0].event(),
        Some(TrainEvent::CutReminder {
            cut_at: cut_at.as_millisecond(),
            passengers: 1
        })
    );
    assert!(sent[0].train_id.is_some(), "about the open train");
    let jobs: Vec<String> = world
        .bot
        .queue
        .jobs()
        .await
        .expect("jobs")
        .into_iter()
        .map(|j| j.kind)
        .collect();
    assert!(
        !jobs.iter().any(|k| k == "train.command"),
        "a reminder is not a cut: {jobs:?}"
    );

    // 09:45: the cut itself.
    world.clock.advance(jiff::SignedDuration::from_mins(29));
    ScheduledCuts
        .run(world.bot.train_context())
        .await
        .expect("check");
    world.run_jobs().await;
    let frozen = train_store::in_states(&world.bot.db, &repo, &[TrainState::Frozen])
        .await
        .expect("trains");
    assert_eq!(frozen.len(), 1, "cut at the slot");
    assert_eq!(reminders().await.len(), 1, "no second reminder");
}

async fn a_slot_missed_while_down_fires_at_start_up_but_a_new_schedule_waits(test: TestDb) {
    use trainyard::handlers::train_commands::ScheduledCuts;
    use trainyard::jobs::BackgroundJob as _;
    let world = World::new(&test).await;
    // Daily at 08:00: at 09:00 today's slot is one hour old, but the schedule is new.
    let config = "trains:\n  lines:\n    - name: main\n      schedule: '0 8 * * *'\n";
    world.mount_config(config).await;
    world
        .deliver("m1", &pull_request("closed", 1, &["release"], None))
        .await;
    world.run_jobs().await;
    let repo = RepoFullName::parse(REPO).expect("repo");
    let cuts = || async {
        ScheduledCuts
            .run(world.bot.train_context())
            .await
            .expect("check");
        world.run_jobs().await;
        train_store::in_states(&world.bot.db, &repo, &[TrainState::Frozen])
            .await
            .expect("trains")
            .len()
    };
    assert_eq!(
        cuts().await,
        0,
        "a schedule first seen now does not fire past slots"
    );
    // Down from 09:00 until 08:30 the next day, over that day's 08:00 slot: it fires once
    // at start-up, half an hour late.
    world
        .clock
        .advance(jiff::SignedDuration::from_mins(23 * 60 + 30));
    assert_eq!(cuts().await, 1, "the missed slot fires at start-up");
    world.clock.advance(jiff::SignedDuration::from_mins(1));
    assert_eq!(cuts().await, 1, "and only once");
}

async fn monorepo_lines_board_by_paths_and_include_all(test: TestDb) {
    let world = World::new(&test).await;
    let config = "trains:\n  lines:\n    - name: api\n      include: all\n      paths: ['services/api/**']\n      tag-prefix: api-v\n    - name: web\n      paths: ['web/**']\n      tag-prefix: web-v\n";
    world.mount_config(config).await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^/repos/{REPO}/pulls/[0-9]+/files$")))
        .respond_with(|request: &wiremock::Request| {
            let number: u64 = request
                .url
                .path()
                .split('/')
                .nth(5)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let file = match number {
                1 | 4 | 5 => "services/api/src/main.rs",
                2 | 3 => "web/app.ts",
                _ => "README.md",
            };
            ResponseTemplate::new(200).set_body_json(json!([{ "filename": file }]))
        })
        .mount(&world.github)
        .await;
    // #1 api, unlabelled (include: all); #2 web, labelled; #3 web, unlabelled; #4 api with
    // the skip label; #5 api, labelled but closed without merging; #6 touches neither.
    let mut closed_unmerged = pull_request("closed", 5, &["release"], None);
    closed_unmerged["pull_request"]["merged"] = json!(false);
    closed_unmerged["pull_request"]["merged_at"] = Value::Null;
    let deliveries = [
        ("p1", pull_request("closed", 1, &[], None)),
        ("p2", pull_request("closed", 2, &["release"], None)),
        ("p3", pull_request("closed", 3, &[], None)),
        ("p4", pull_request("closed", 4, &["no-release"], None)),
        ("p5", closed_unmerged),
        ("p6", pull_request("closed", 6, &["release"], None)),
    ];
    for (id, payload) in &deliveries {
        world.deliver(*id, payload).await;
    }
    world.run_jobs().await;
    let repo = RepoFullName::parse(REPO).expect("repo");
    let open = train_store::in_states(&world.bot.db, &repo, &[TrainState::Open])
        .await
        .expect("trains");
    let mut boarded = Vec::new();
    for train in &open {
        for p in train_store::passengers(&world.bot.db, train.id)
            .await
            .expect("passengers")
        {
            boarded.push((train.line.clone(), p.number));
        }
    }
    boarded.sort();
    assert_eq!(boarded, [("api".to_owned(), 1), ("web".to_owned(), 2)]);
    let drafts = world.drafts();
    let mut tags: Vec<&str> = drafts
        .iter()
        .filter_map(|d| d["tag_name"].as_str())
        .collect();
    tags.sort_unstable();
    assert_eq!(
        tags,
        ["api-v0.0.1", "web-v0.0.1"],
        "one draft per line, own prefix"
    );
}

async fn a_full_train_of_twenty_costs_a_bounded_number_of_calls(test: TestDb) {
    let world = World::new(&test).await;
    world.mount_refs(&[]).await;
    world.mount_comments(None).await;
    for n in 1..=20u64 {
        world
            .deliver(
                format!("m{n}"),
                &pull_request("closed", n, &["release"], None),
            )
            .await;
    }
    world.run_jobs().await;
    let boarding = world
        .github
        .received_requests()
        .await
        .expect("requests")
        .len();
    world.command("carol", TrainCommand::Cut).await;
    world.run_jobs().await;
    world.command("maya", TrainCommand::Approve).await;
    world.run_jobs().await;
    let requests = world.github.received_requests().await.expect("requests");
    let mut by_kind = std::collections::BTreeMap::<String, usize>::new();
    for r in &requests {
        let path = r.url.path();
        let kind = if path.contains("/access_tokens") {
            "token"
        } else if path.contains("/contents/") {
            "config"
        } else if path.ends_with("/releases") && r.method.as_str() == "GET" {
            "list releases"
        } else if path.contains("/releases") {
            "write release"
        } else if path.contains("/permission") {
            "permission"
        } else if path.contains("/branches/") {
            "branch head"
        } else if path.contains("/git/") {
            "tag"
        } else if path.contains("/comments") {
            "comment"
        } else {
            "other"
        };
        *by_kind.entry(kind.to_owned()).or_default() += 1;
    }
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "full train of 20 PRs: {} GitHub calls ({boarding} while boarding): {by_kind:?}",
        requests.len()
    );
    assert_eq!(by_kind.get("comment"), Some(&20));
    assert_eq!(by_kind.get("tag"), Some(&1));
    // Twenty merges cost one draft write (refreshes are deduplicated); the rest is the cut
    // (permission, head, draft), the approval and the release steps. The releases are listed
    // once: our own writes keep the kept list current.
    assert_eq!(boarding, 6, "{by_kind:?}");
    assert_eq!(by_kind.get("list releases"), Some(&1), "{by_kind:?}");
    assert_eq!(requests.len(), 32, "{by_kind:?}");
}

async fn a_tag_already_at_another_commit_blocks_the_release_with_the_reason(test: TestDb) {
    let world = World::new(&test).await;
    let refs = world
        .mount_refs(&[("refs/tags/v1.0.1", "c".repeat(40))])
        .await;
    world
        .deliver("m1", &pull_request("closed", 1, &["release"], None))
        .await;
    world.run_jobs().await;
    world.command("carol", TrainCommand::Cut).await;
    world.command("maya", TrainCommand::Approve).await;
    world.run_jobs().await;
    let repo = RepoFullName::parse(REPO).expect("repo");
    let blocked = train_store::in_states(&world.bot.db, &repo, &[TrainState::Blocked])
        .await
        .expect("trains");
    assert_eq!(blocked.len(), 1);
    assert_eq!(
        blocked[0].blocked_reason.as_deref(),
        Some(
            format!(
                "tag v1.0.1 already exists at {}, not at the frozen commit {}",
                "c".repeat(40),
                "a".repeat(40)
            )
            .as_str()
        )
    );
    assert_eq!(refs.0.lock().expect("lock").len(), 1, "no second tag");
    assert!(
        world.drafts().len() == 1,
        "nothing published: the draft stays a draft"
    );
}

async fn a_hotfix_train_boards_hotfix_prs_on_its_release_branch(test: TestDb) {
    let world = World::new(&test).await;
    let refs = world
        .mount_refs(&[("refs/tags/v1.0.0", "d".repeat(40))])
        .await;
    let reply = world
        .command(
            "carol",
            TrainCommand::Hotfix {
                base: "1.0.0".into(),
            },
        )
        .await;
    assert!(
        matches!(&reply, CommandReply::Done(text) if text.contains("open on release/1.0 for 1.0.1 (branch created from the release tag)")),
        "{reply:?}"
    );
    assert!(
        refs.0
            .lock()
            .expect("lock")
            .contains(&("refs/heads/release/1.0".to_owned(), "d".repeat(40))),
        "the release branch starts at the base tag"
    );
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/branches/release/1.0")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"name": "release/1.0", "commit": {"sha": "e".repeat(40)}})),
        )
        .mount(&world.github)
        .await;
    let mut fix = pull_request("closed", 9, &["hotfix"], None);
    fix["pull_request"]["base"]["ref"] = json!("release/1.0");
    world.deliver("h9", &fix).await;
    // A PR into the release branch without the hotfix label stays off.
    let mut other = pull_request("closed", 10, &["release"], None);
    other["pull_request"]["base"]["ref"] = json!("release/1.0");
    world.deliver("h10", &other).await;
    world.run_jobs().await;
    let repo = RepoFullName::parse(REPO).expect("repo");
    let hotfix = train_store::in_states(&world.bot.db, &repo, &[TrainState::Open])
        .await
        .expect("trains")
        .into_iter()
        .find(|t| t.kind == "hotfix")
        .expect("hotfix train");
    let aboard: Vec<i64> = train_store::passengers(&world.bot.db, hotfix.id)
        .await
        .expect("passengers")
        .iter()
        .map(|p| p.number)
        .collect();
    assert_eq!(aboard, vec![9]);
    let request = RunTrainCommand {
        repository: repo.clone(),
        installation: 1,
        line: Some("hotfix-1.0".into()),
        actor: "carol".into(),
        command: TrainCommand::Cut,
        command_id: "t".into(),
        by_schedule: false,
        reply_to: None,
        train_id: None,
        expect_version: None,
    };
    let reply = execute(&world.bot.train_context(), &request)
        .await
        .expect("cut");
    assert_eq!(
        reply,
        CommandReply::Done(
            "cut v1.0.1 at eeeeeee with 1 pull request; the next train is open".into()
        )
    );
}

/// A crash after GitHub made the tag but before the step was recorded: the retry finds the
/// tag at the frozen commit (422, then the ref) and carries on; nothing is made twice.
async fn a_tag_already_at_the_frozen_commit_counts_as_done(test: TestDb) {
    let world = World::new(&test).await;
    let refs = world
        .mount_refs(&[("refs/tags/v1.0.1", "a".repeat(40))])
        .await;
    world.mount_comments(Some(1)).await;
    world
        .deliver("m1", &pull_request("closed", 1, &["release"], None))
        .await;
    world.run_jobs().await;
    world.command("carol", TrainCommand::Cut).await;
    world.command("maya", TrainCommand::Approve).await;
    world.run_jobs().await;
    let repo = RepoFullName::parse(REPO).expect("repo");
    let released = train_store::in_states(&world.bot.db, &repo, &[TrainState::Released])
        .await
        .expect("trains");
    assert_eq!(released.len(), 1);
    assert_eq!(refs.0.lock().expect("lock").len(), 1, "one tag");
}

async fn reject_reopens_and_include_exclude_respect_the_frozen_range(test: TestDb) {
    let world = World::new(&test).await;
    // #1 and #2 were merged before the cut (behind the frozen head); #3 after it.
    Mock::given(method("GET"))
        .and(path_regex(format!("^/repos/{REPO}/compare/.+$")))
        .respond_with(|request: &wiremock::Request| {
            let range = request
                .url
                .path()
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_owned();
            let (base, head) = range.split_once("...").unwrap_or(("", ""));
            let before_cut = [1u64, 2].iter().any(|n| base == format!("{n:040x}"));
            let status = if before_cut && head == "a".repeat(40) {
                "ahead"
            } else {
                "diverged"
            };
            ResponseTemplate::new(200).set_body_json(json!({"status": status}))
        })
        .mount(&world.github)
        .await;
    for n in [1u64, 2, 3] {
        Mock::given(method("GET"))
            .and(path(format!("/repos/{REPO}/pulls/{n}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "title": format!("Change {n}"), "merged": true,
                "merge_commit_sha": format!("{n:040x}"), "merged_at": "2026-11-27T09:00:00Z",
                "base": {"ref": "master"}, "user": {"login": "dev"}, "labels": [],
            })))
            .mount(&world.github)
            .await;
    }
    world
        .deliver("m1", &pull_request("closed", 1, &["release"], None))
        .await;
    world
        .deliver("m2", &pull_request("closed", 2, &[], None))
        .await;
    world.run_jobs().await;
    assert!(matches!(
        world.command("carol", TrainCommand::Cut).await,
        CommandReply::Done(_)
    ));
    world
        .deliver("m3", &pull_request("closed", 3, &[], None))
        .await;
    world.run_jobs().await;

    assert_eq!(
        world
            .command("carol", TrainCommand::Include { number: 3 })
            .await,
        CommandReply::Refused(
            "#3 was not merged inside the frozen range; it rides the next train".into()
        )
    );
    assert_eq!(
        world
            .command("carol", TrainCommand::Include { number: 2 })
            .await,
        CommandReply::Done("#2 is on the train".into())
    );
    assert_eq!(
        world
            .command("carol", TrainCommand::Include { number: 2 })
            .await,
        CommandReply::Refused("#2 is already on this train".into())
    );
    assert_eq!(
        world
            .command("carol", TrainCommand::Exclude { number: 1 })
            .await,
        CommandReply::Done("#1 left the train".into())
    );
    // The cut opened the next train, so a reject folds the passengers into it.
    let reply = world
        .command(
            "maya",
            TrainCommand::Reject {
                reason: "needs the migration".into(),
            },
        )
        .await;
    assert_eq!(
        reply,
        CommandReply::Done(
            "rejected (needs the migration); its pull requests joined the open train".into()
        )
    );
    world.run_jobs().await;
    let repo = RepoFullName::parse(REPO).expect("repo");
    let open = train_store::in_states(&world.bot.db, &repo, &[TrainState::Open])
        .await
        .expect("trains");
    assert_eq!(open.len(), 1);
    let aboard: Vec<i64> = train_store::passengers(&world.bot.db, open[0].id)
        .await
        .expect("passengers")
        .iter()
        .map(|p| p.number)
        .collect();
    assert_eq!(
        aboard,
        vec![2],
        "the rejected train's passengers ride the open one"
    );
    assert!(
        train_store::in_states(&world.bot.db, &repo, &[TrainState::Frozen])
            .await
            .expect("trains")
            .is_empty()
    );
    assert_eq!(
        world.command("maya", TrainCommand::Approve).await,
        CommandReply::Refused("`approve` is not possible: the train is open; cut it first".into())
    );
    assert!(
        matches!(
            world.command("carol", TrainCommand::Cut).await,
            CommandReply::Done(_)
        ),
        "re-cut"
    );
}

on_both_backends!(
    monorepo_lines_board_by_paths_and_include_all,
    a_slot_missed_while_down_fires_at_start_up_but_a_new_schedule_waits,
    a_reminder_comes_once_before_the_scheduled_cut,
    reject_reopens_and_include_exclude_respect_the_frozen_range,
    a_tag_already_at_the_frozen_commit_counts_as_done,
    a_hotfix_train_boards_hotfix_prs_on_its_release_branch,
    a_tag_already_at_another_commit_blocks_the_release_with_the_reason,
    a_full_train_of_twenty_costs_a_bounded_number_of_calls,
    a_scheduled_cut_fires_once_across_two_replicas,
    a_draft_published_by_hand_releases_the_train_or_blocks_it,
    a_labelled_merge_boards_and_the_draft_follows_its_passengers,
    fifty_merges_at_once_make_one_draft,
    cut_approve_and_release_tag_the_frozen_commit_once,
);

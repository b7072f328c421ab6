//! `_extends`, as a team moving from release-drafter writes it, through the real GitHub client
//! against a GitHub faked at the HTTP level: the organisation's `.github` repository, another
//! repository with a path, another owner, the same repository, chains, the local keys winning,
//! loops and faults refused naming the file that holds them, and a push to the shared file
//! reloading every configuration built on it.

mod harness;

use std::sync::Arc;

use base64::Engine as _;
use serde_json::json;
use trainyard::clock::SystemClock;
use trainyard::domain::event::{Event, PushEvent, PushedRef};
use trainyard::domain::ids::RepoFullName;
use trainyard::domain::repo_config::{ExtendsTarget, parse_extends};
use trainyard::handlers::chat_routes::RouteCheck;
use trainyard::handlers::events::{EventContext, HandleWebhook};
use trainyard::handlers::repo_config::{Refresh, current, refresh};
use trainyard::jobs::{BackgroundJob, Queue, QueueSettings};
use trainyard::store::{installations, repo_configs};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use harness::TestDb;

const REPO: &str = "acme/api";
const DRAFTER: &str = ".github/release-drafter.yml";

async fn serve(server: &MockServer, repo: &str, file: &str, text: &str, sha: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/repos/{repo}/contents/{file}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "type": "file", "encoding": "base64", "sha": sha,
            "content": base64::engine::general_purpose::STANDARD.encode(text),
        })))
        .mount(server)
        .await;
}

/// Loads acme/api's configuration; returns the refresh's verdict.
async fn load(test: &TestDb, server: &MockServer) -> Refresh {
    let github = harness::github::token_client(&server.uri(), "t");
    let repo = RepoFullName::parse(REPO).expect("repo");
    refresh(&test.db, &github, &RouteCheck::default(), 1, &repo, 1)
        .await
        .expect("refresh")
}

/// The notes keys in force for acme/api: (template, name-template, category titles).
async fn in_force(test: &TestDb, server: &MockServer) -> (String, String, Vec<String>) {
    let github = harness::github::token_client(&server.uri(), "t");
    let repo = RepoFullName::parse(REPO).expect("repo");
    let config = current(&test.db, &github, &RouteCheck::default(), 1, &repo, 2)
        .await
        .expect("current");
    let keys = config.effective.config.notes_keys().expect("keys");
    (
        keys.template.unwrap_or_default(),
        keys.name_template.unwrap_or_default(),
        keys.categories
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| c.title)
            .collect(),
    )
}

const ORG: &str = "name-template: 'v$RESOLVED_VERSION'\ntemplate: 'Org $CHANGES'\ncategories:\n  \
                   - title: Features\n    labels: [feature]\n";

#[test]
fn extends_values_read_as_release_drafter_reads_them() {
    let target = |owner: Option<&str>, repo: &str, path: Option<&str>| {
        Some(ExtendsTarget {
            owner: owner.map(str::to_owned),
            repo: repo.to_owned(),
            path: path.map(str::to_owned),
        })
    };
    assert_eq!(parse_extends(".github"), target(None, ".github", None));
    assert_eq!(
        parse_extends("shared:configs/drafter.yml"),
        target(None, "shared", Some("configs/drafter.yml"))
    );
    assert_eq!(
        parse_extends("other-org/templates:release.yaml"),
        target(Some("other-org"), "templates", Some("release.yaml"))
    );
    for bad in [
        "",
        "a/b/c",
        "repo:file.txt",
        "repo:../secret.yml",
        "-x/repo",
        "re po",
    ] {
        assert_eq!(parse_extends(bad), None, "{bad:?}");
    }
}

async fn the_organisations_github_repository_is_extended_and_local_keys_win(test: TestDb) {
    let server = MockServer::start().await;
    serve(
        &server,
        REPO,
        DRAFTER,
        "_extends: .github\ntemplate: 'Local $CHANGES'\n",
        "l1",
    )
    .await;
    serve(&server, "acme/.github", DRAFTER, ORG, "o1").await;
    assert_eq!(load(&test, &server).await, Refresh::Loaded(DRAFTER.into()));
    assert_eq!(
        in_force(&test, &server).await,
        (
            "Local $CHANGES".into(),
            "v$RESOLVED_VERSION".into(),
            vec!["Features".into()]
        )
    );
    // Read again, unchanged on both sides: nothing parsed.
    assert_eq!(load(&test, &server).await, Refresh::Unchanged);
}

async fn another_repository_another_owner_and_the_same_repository_chain(test: TestDb) {
    let server = MockServer::start().await;
    // acme/api → acme/api:.github/base.yml → acme/shared:configs/drafter.yml
    //          → tools/templates:release.yml
    serve(
        &server,
        REPO,
        DRAFTER,
        "_extends: api:.github/base.yml\ntemplate: 'Local $CHANGES'\n",
        "l1",
    )
    .await;
    serve(
        &server,
        REPO,
        ".github/base.yml",
        "_extends: shared:configs/drafter.yml\nname-template: 'API $RESOLVED_VERSION'\n",
        "b1",
    )
    .await;
    serve(
        &server,
        "acme/shared",
        "configs/drafter.yml",
        "_extends: tools/templates:release.yml\nname-template: 'Shared'\ntemplate: 'Shared'\n",
        "s1",
    )
    .await;
    serve(&server, "tools/templates", "release.yml", ORG, "t1").await;
    assert_eq!(load(&test, &server).await, Refresh::Loaded(DRAFTER.into()));
    assert_eq!(
        in_force(&test, &server).await,
        (
            "Local $CHANGES".into(),
            "API $RESOLVED_VERSION".into(),
            vec!["Features".into()]
        )
    );
}

async fn loops_and_faults_are_refused_naming_the_file(test: TestDb) {
    let server = MockServer::start().await;
    serve(
        &server,
        REPO,
        DRAFTER,
        "_extends: shared\ntemplate: 'Local'\n",
        "l1",
    )
    .await;
    serve(&server, "acme/shared", DRAFTER, "_extends: api\n", "s1").await;
    let Refresh::Refused(reason) = load(&test, &server).await else {
        panic!("a loop is refused");
    };
    assert!(
        reason.contains("acme/shared:.github/release-drafter.yml: `_extends: api` loops back to acme/api:.github/release-drafter.yml"),
        "{reason}"
    );

    // A key the extended file gets wrong is reported as that file's.
    let server = MockServer::start().await;
    serve(&server, REPO, DRAFTER, "_extends: .github\n", "l2").await;
    serve(
        &server,
        "acme/.github",
        DRAFTER,
        "template: x\nsort-by: size\n",
        "o2",
    )
    .await;
    let Refresh::Refused(reason) = load(&test, &server).await else {
        panic!("a fault in the extended file is refused");
    };
    assert!(
        reason.contains("acme/.github:.github/release-drafter.yml"),
        "{reason}"
    );
    assert!(reason.contains("sort-by"), "{reason}");

    // A repository the App cannot read (or a file that is not there).
    let server = MockServer::start().await;
    serve(&server, REPO, DRAFTER, "_extends: private-config\n", "l3").await;
    let Refresh::Refused(reason) = load(&test, &server).await else {
        panic!("an unreadable base is refused");
    };
    assert!(
        reason.contains("acme/private-config:.github/release-drafter.yml cannot be read"),
        "{reason}"
    );
    // The last good configuration (none here: defaults) stays in force meanwhile.
    let row = repo_configs::get(&test.db, &RepoFullName::parse(REPO).expect("repo"))
        .await
        .expect("row")
        .expect("stored");
    assert!(row.error.is_some());
}

async fn a_push_to_the_shared_file_reloads_every_configuration_built_on_it(test: TestDb) {
    let server = MockServer::start().await;
    serve(&server, REPO, DRAFTER, "_extends: .github\n", "l1").await;
    serve(&server, "acme/.github", DRAFTER, ORG, "o1").await;
    assert_eq!(load(&test, &server).await, Refresh::Loaded(DRAFTER.into()));
    let api = RepoFullName::parse(REPO).expect("repo");
    installations::note_repository(&test.db, 9, &api, 0)
        .await
        .expect("installation");
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
    let push = |paths: &[&str]| HandleWebhook {
        delivery_id: "d".into(),
        received_at: 0,
        event: Event::Push(PushEvent {
            repository: RepoFullName::parse("acme/.github").expect("repo"),
            default_branch: Some("main".into()),
            installation_id: Some(9),
            pushed_ref: PushedRef::Branch("main".into()),
            before: "a".into(),
            after: "b".into(),
            created: false,
            deleted: false,
            forced: false,
            changed_paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
    };
    push(&["README.md"]).run(ctx.clone()).await.expect("run");
    assert!(
        queue.jobs().await.expect("jobs").is_empty(),
        "not the shared file"
    );
    push(&[DRAFTER]).run(ctx).await.expect("run");
    let jobs = queue.jobs().await.expect("jobs");
    let reloads: Vec<_> = jobs
        .iter()
        .filter(|j| j.kind == "config.reload" && j.queue_key == REPO)
        .collect();
    assert_eq!(reloads.len(), 1, "{jobs:?}");
}

on_both_backends!(
    the_organisations_github_repository_is_extended_and_local_keys_win,
    another_repository_another_owner_and_the_same_repository_chain,
    loops_and_faults_are_refused_naming_the_file,
    a_push_to_the_shared_file_reloads_every_configuration_built_on_it,
);

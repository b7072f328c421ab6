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
use trainyard::domain::repo_config::{
    ConfigTarget, layer, merge_chain, normalize_filepath, parse_config_target,
};
use trainyard::handlers::events::{EventContext, HandleWebhook};
use trainyard::handlers::kit::config::{Refresh, current, refresh};
use trainyard::handlers::kit::routes::ConfigReach;
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

/// What the operator of these stories allows `_extends` to read besides acme/api and
/// acme/.github.
fn reach() -> ConfigReach {
    ConfigReach::default().extending(["acme/shared", "tools/*"])
}

/// Loads acme/api's configuration; returns the refresh's verdict.
async fn load(test: &TestDb, server: &MockServer) -> Refresh {
    let github = harness::github::token_client(&server.uri(), "t");
    let repo = RepoFullName::parse(REPO).expect("repo");
    refresh(&test.db, &github, &reach(), 1, &repo, 1)
        .await
        .expect("refresh")
}

/// The notes keys in force for acme/api: (template, name-template, category titles).
async fn in_force(test: &TestDb, server: &MockServer) -> (String, String, Vec<String>) {
    let github = harness::github::token_client(&server.uri(), "t");
    let repo = RepoFullName::parse(REPO).expect("repo");
    let config = current(&test.db, &github, &reach(), 1, &repo, 2)
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

fn target(owner: &str, repo: &str, filepath: &str, reference: Option<&str>) -> ConfigTarget {
    ConfigTarget {
        owner: owner.into(),
        repo: repo.into(),
        filepath: filepath.into(),
        reference: reference.map(str::to_owned),
    }
}

/// Cases from release-drafter's own `parse-config-target` tests (MIT; see
/// `fixtures/release-drafter/LICENSE`), read in `cchanche/hello-world` at `main`, or at
/// `feature/destroyer-of-worlds` where the case says so.
#[test]
fn extends_targets_read_as_release_drafter_reads_them() {
    let main = |value: &str| parse_config_target(value, "cchanche", "hello-world", Some("main"));
    let feature = |value: &str| {
        parse_config_target(
            value,
            "cchanche",
            "hello-world",
            Some("feature/destroyer-of-worlds"),
        )
    };
    let here = |path: &str, r: &str| target("cchanche", "hello-world", path, Some(r));
    assert_eq!(
        main("release-drafter.yml"),
        Ok(here("release-drafter.yml", "main"))
    );
    assert_eq!(
        main("github:release-drafter.yml"),
        Ok(here("release-drafter.yml", "main"))
    );
    assert_eq!(
        main("github:bye-world:release-drafter.yml"),
        Ok(target("cchanche", "bye-world", "release-drafter.yml", None))
    );
    assert_eq!(
        feature("github:bye-world:release-drafter.yml@main"),
        Ok(target(
            "cchanche",
            "bye-world",
            "release-drafter.yml",
            Some("main")
        ))
    );
    assert_eq!(
        feature("bye-world:release-drafter.yml@main"),
        Ok(target(
            "cchanche",
            "bye-world",
            "release-drafter.yml",
            Some("main")
        ))
    );
    assert_eq!(
        feature("worlds/bye-world:release-drafter.yml"),
        Ok(target("worlds", "bye-world", "release-drafter.yml", None))
    );
    assert_eq!(
        feature("worlds/bye-world:release-drafter.yml@main"),
        Ok(target(
            "worlds",
            "bye-world",
            "release-drafter.yml",
            Some("main")
        ))
    );
    assert_eq!(
        feature("alternative-config-name.json"),
        Ok(here(
            "alternative-config-name.json",
            "feature/destroyer-of-worlds"
        ))
    );
    for (value, owner, repo, reference) in [
        ("ansible/team-devtools", "ansible", "team-devtools", None),
        ("team-devtools", "cchanche", "team-devtools", None),
        (
            "ansible/team-devtools@v2",
            "ansible",
            "team-devtools",
            Some("v2"),
        ),
        ("ansible/team-devtools:", "ansible", "team-devtools", None),
        (
            "github:ansible/team-devtools",
            "ansible",
            "team-devtools",
            None,
        ),
        ("team-devtools@v2", "cchanche", "team-devtools", Some("v2")),
        (".github", "cchanche", ".github", None),
    ] {
        assert_eq!(
            main(value),
            Ok(target(owner, repo, "", reference)),
            "{value}"
        );
    }
    // The Action's checkout of this repository: the same file, at this reference.
    assert_eq!(
        parse_config_target(
            "file:../configs/conf.yaml",
            "cchanche",
            "proj",
            Some("main")
        ),
        Ok(target(
            "cchanche",
            "proj",
            "../configs/conf.yaml",
            Some("main")
        ))
    );
    assert_eq!(
        normalize_filepath(
            &parse_config_target(
                "file:../configs/conf.yaml",
                "cchanche",
                "proj",
                Some("main")
            )
            .expect("target"),
            None
        ),
        "configs/conf.yaml"
    );
    // A checkout has no `@ref`; other files are not configurations.
    assert!(main("file:conf.yaml@main").is_err());
    assert!(main("repo:README.md").is_err());
    assert!(main("a b/c:x.yml").is_err());
}

/// Cases from release-drafter's `normalize-filepath` tests.
#[test]
fn extended_files_are_found_where_release_drafter_finds_them() {
    let at = |path: &str, owner: &str, repo: &str, r: &str| target(owner, repo, path, Some(r));
    let proj = |path: &str, r: &str| at(path, "cchanche", "proj", r);
    let alone = |t: ConfigTarget| normalize_filepath(&t, None);
    let beside = |t: ConfigTarget, parent: ConfigTarget| {
        let parent_path = parent.filepath.clone();
        normalize_filepath(&t, Some((&parent, &parent_path)))
    };
    assert_eq!(
        alone(proj("release-drafter.yml", "main")),
        ".github/release-drafter.yml"
    );
    assert_eq!(
        alone(proj("/src/../configs/release-drafter.yml", "main")),
        "configs/release-drafter.yml"
    );
    assert_eq!(
        alone(proj("../configs/release-drafter.yml", "main")),
        "configs/release-drafter.yml"
    );
    assert_eq!(
        beside(
            proj("release-drafter.yml", "main"),
            proj("src/config.yml", "main")
        ),
        "src/release-drafter.yml"
    );
    assert_eq!(
        alone(proj("/absolute/path/to/file.yml", "main")),
        "absolute/path/to/file.yml"
    );
    let parent = || proj("with/a/parent.yaml", "main");
    assert_eq!(
        beside(proj("../relative/../file.yml", "main"), parent()),
        "with/file.yml"
    );
    assert_eq!(
        beside(
            proj("../very_long_relative/../../../file.yml", "main"),
            parent()
        ),
        "../file.yml"
    );
    assert_eq!(
        beside(proj("/absolute/path.yaml", "main"), parent()),
        "absolute/path.yaml"
    );
    assert_eq!(
        beside(proj("./here-nearby.json", "v6"), parent()),
        ".github/here-nearby.json"
    );
    assert_eq!(
        beside(
            proj("./here-nearby.json", "main"),
            at("with/a/parent.yaml", "torvalds", "proj", "main")
        ),
        ".github/here-nearby.json"
    );
    assert_eq!(
        beside(
            proj("./here-nearby.json", "main"),
            at("with/a/parent.yaml", "cchanche", "project", "main")
        ),
        ".github/here-nearby.json"
    );
    assert_eq!(
        beside(proj("./here-nearby.json", "main"), parent()),
        "with/a/here-nearby.json"
    );
    let devtools = |path: &str| at(path, "ansible", "team-devtools", "main");
    for path in [".github/release-drafter.yml", ".github/custom-drafter.yml"] {
        assert_eq!(
            beside(devtools(path), proj(".github/release-drafter.yml", "main")),
            path
        );
    }
    assert_eq!(
        alone(devtools(".github/release-drafter.yml")),
        ".github/release-drafter.yml"
    );
}

/// Cases from release-drafter's `merge-config-chain` tests.
#[test]
fn chains_merge_as_release_drafter_merges_them() {
    let file = |name: &str, yaml: &str| layer(name, yaml).expect("layer");
    let merged =
        |files: Vec<trainyard::domain::repo_config::Layer>| merge_chain(files).expect("merged");
    // The extending file overrides by default.
    assert_eq!(
        merged(vec![
            file(
                "child",
                "_extends: base.yml\ncategories: [{title: Child}]\ntemplate: child\n"
            ),
            file(
                "base",
                "categories: [{title: Base}]\ntemplate: base\ntag-prefix: v\n"
            ),
        ]),
        json!({"categories": [{"title": "Child"}], "template": "child", "tag-prefix": "v"})
    );
    // The mapping form: per-key append and prepend, at each file's own step only.
    let append = "_extends: {from: base.yml, strategy: {categories: append}}\n";
    assert_eq!(
        merged(vec![
            file(
                "child",
                &format!("{append}categories: [{{title: Child}}]\n")
            ),
            file("base", "categories: [{title: Base}]\ntemplate: base\n"),
        ]),
        json!({"categories": [{"title": "Base"}, {"title": "Child"}], "template": "base"})
    );
    assert_eq!(
        merged(vec![
            file(
                "child",
                "_extends: {from: base.yml, strategy: {categories: prepend}}\ncategories: [{title: Child}]\n"
            ),
            file("base", "categories: [{title: Base}]\n"),
        ])["categories"],
        json!([{"title": "Child"}, {"title": "Base"}])
    );
    assert_eq!(
        merged(vec![
            file("a", "_extends: b.yml\ncategories: [{title: A}]\n"),
            file(
                "b",
                "_extends: {from: c.yml, strategy: {categories: append}}\ncategories: [{title: B}]\n"
            ),
            file("c", "categories: [{title: C}]\n"),
        ])["categories"],
        json!([{"title": "A"}]),
        "b's strategy is b's alone"
    );
    assert_eq!(
        merged(vec![
            file(
                "a",
                "_extends: {from: b.yml, strategy: {categories: prepend}}\ncategories: [{title: A}]\n"
            ),
            file(
                "b",
                "_extends: {from: c.yml, strategy: {categories: append}}\ncategories: [{title: B}]\n"
            ),
            file("c", "categories: [{title: C}]\n"),
        ])["categories"],
        json!([{"title": "A"}, {"title": "C"}, {"title": "B"}])
    );
    // An empty (null) list merges as an empty list; strategies for keys not set do nothing.
    assert_eq!(
        merged(vec![
            file("child", &format!("{append}categories:\n")),
            file("base", "categories: [{title: Base}]\n"),
        ])["categories"],
        json!([{"title": "Base"}])
    );
    assert_eq!(
        merged(vec![
            file("child", &format!("{append}template: child\n")),
            file("base", "categories: [{title: Base}]\n"),
        ]),
        json!({"categories": [{"title": "Base"}], "template": "child"})
    );
    // Merging what is not a list is refused, naming the file.
    let error = merge_chain(vec![
        file(
            "acme/api:.github/child.yml",
            "_extends: {from: base.yml, strategy: {template: append}}\ntemplate: child\n",
        ),
        file("base", "template: base\n"),
    ])
    .expect_err("not a list");
    assert!(
        error.to_string().contains("Cannot append 'template'")
            && error.to_string().contains("acme/api:.github/child.yml"),
        "{error}"
    );
    let error = merge_chain(vec![
        file("child", "_extends: {from: base.yml, strategy: {categories: prepend}}\ncategories: [{title: Child}]\n"),
        file("base", "categories: oops\n"),
    ])
    .expect_err("inherited not a list");
    assert!(
        error.to_string().contains("inherited value is not a list"),
        "{error}"
    );
    // `_extends` itself never reaches the merged keys; a blank one is none.
    assert!(file("x", "_extends: '   '\n").extends.is_none());
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
    // acme/api → base.yml beside it → acme/shared:/configs/drafter.yml (from the root)
    //          → tools/templates:release.yml (under .github/, another repository)
    serve(
        &server,
        REPO,
        DRAFTER,
        "_extends: base.yml\ntemplate: 'Local $CHANGES'\n",
        "l1",
    )
    .await;
    serve(
        &server,
        REPO,
        ".github/base.yml",
        "_extends: shared:/configs/drafter.yml\nname-template: 'API $RESOLVED_VERSION'\n",
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
    serve(&server, "tools/templates", ".github/release.yml", ORG, "t1").await;
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

/// `_extends: file:…` names the Action's checkout of this repository: trainyard reads the same
/// file from GitHub (release-drafter documents both schemes as giving the same result). A
/// file only generated on the Action's runner is not there, and the refusal says so.
async fn a_file_target_is_this_repositorys_file(test: TestDb) {
    let server = MockServer::start().await;
    serve(
        &server,
        REPO,
        DRAFTER,
        "_extends: file:../configs/common.yml\nname-template: 'API'\n",
        "l1",
    )
    .await;
    serve(&server, REPO, "configs/common.yml", ORG, "c1").await;
    assert_eq!(load(&test, &server).await, Refresh::Loaded(DRAFTER.into()));
    assert_eq!(
        in_force(&test, &server).await,
        ("Org $CHANGES".into(), "API".into(), vec!["Features".into()])
    );

    let server = MockServer::start().await;
    serve(
        &server,
        REPO,
        DRAFTER,
        "_extends: file:release-drafter-parsed.yml\n",
        "l2",
    )
    .await;
    let Refresh::Refused(reason) = load(&test, &server).await else {
        panic!("a missing file is refused");
    };
    assert!(
        reason.contains("acme/api:.github/release-drafter-parsed.yml cannot be read"),
        "{reason}"
    );
    assert!(
        reason.contains("generated on the Action's runner"),
        "{reason}"
    );
}

/// A repository without a configuration file uses its organisation's shared one, as
/// release-drafter does; without either, the defaults.
async fn a_repository_without_a_file_uses_its_organisations(test: TestDb) {
    let server = MockServer::start().await;
    serve(&server, "acme/.github", DRAFTER, ORG, "o1").await;
    assert_eq!(load(&test, &server).await, Refresh::Loaded(DRAFTER.into()));
    assert_eq!(
        in_force(&test, &server).await,
        (
            "Org $CHANGES".into(),
            "v$RESOLVED_VERSION".into(),
            vec!["Features".into()]
        )
    );
    let sources = repo_configs::extending(&test.db, "acme/.github:.github/release-drafter.yml")
        .await
        .expect("sources");
    assert_eq!(sources, [REPO], "a push to the shared file reloads it");

    let nothing = MockServer::start().await;
    let other = TestDb::sqlite().await;
    assert_eq!(load(&other, &nothing).await, Refresh::Defaults);
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

    // An allowed repository the App cannot read (or a file that is not there).
    let server = MockServer::start().await;
    serve(&server, REPO, DRAFTER, "_extends: tools/missing\n", "l3").await;
    let Refresh::Refused(reason) = load(&test, &server).await else {
        panic!("an unreadable base is refused");
    };
    assert!(
        reason.contains("tools/missing:.github/release-drafter.yml cannot be read"),
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

/// A writer of acme/api points `_extends` at a private repository the App can read but the
/// operator did not allow (another owner's, or one of acme's besides `.github`): it is not
/// read at all, and the refusal says it cannot be used, nothing about the file.
async fn extends_reaches_only_what_the_operator_allows(test: TestDb) {
    for (text, sha) in [
        ("_extends: payroll\n", "x1"),
        ("_extends: globex/private\n", "x2"),
        (
            "_extends: github:globex/private:.github/release-drafter.yml\n",
            "x3",
        ),
    ] {
        let server = MockServer::start().await;
        serve(
            &server,
            "acme/payroll",
            DRAFTER,
            "secret-key: hunter2\ntemplate: 'x'\n",
            "p1",
        )
        .await;
        serve(&server, "globex/private", DRAFTER, ORG, "g1").await;
        serve(&server, REPO, DRAFTER, text, sha).await;
        let Refresh::Refused(reason) = load(&test, &server).await else {
            panic!("`{text}` is refused");
        };
        assert!(reason.contains("cannot be used"), "{reason}");
        assert!(
            reason.contains("TRAINYARD_EXTENDS_REPOSITORIES"),
            "{reason}"
        );
        assert!(
            !reason.contains("secret-key") && !reason.contains("cannot be read"),
            "nothing about the file: {reason}"
        );
        let asked: Vec<String> = server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| r.url.path().to_owned())
            .filter(|p| p.contains("/payroll/") || p.contains("/globex/"))
            .collect();
        assert!(asked.is_empty(), "never read: {asked:?}");
    }
}

on_both_backends!(
    a_file_target_is_this_repositorys_file,
    a_repository_without_a_file_uses_its_organisations,
    the_organisations_github_repository_is_extended_and_local_keys_win,
    another_repository_another_owner_and_the_same_repository_chain,
    loops_and_faults_are_refused_naming_the_file,
    a_push_to_the_shared_file_reloads_every_configuration_built_on_it,
    extends_reaches_only_what_the_operator_allows,
);

//! Configuration files as their authors meet them, through the real HTTP entry (a push to the
//! default branch) on the stateful fake GitHub: a `release-drafter.yml` is read as
//! release-drafter reads it (unknown top-level keys ignored, with a warning on the commit),
//! `trainyard.yml` stays strict, and errors speak the author's words.

mod harness;

use http::StatusCode;

use harness::TestDb;
use harness::bot::TestBot;

/// A push to the default branch changes `path` to `text`, and GitHub delivers it again (a
/// redelivery from the App's settings); returns what trainyard wrote on the pushed commit.
async fn push_file(bot: &TestBot, path: &str, text: &str) -> Vec<String> {
    let said = bot.push_file(path, text).await;
    let before = bot.github.commit_comments().len();
    let again = TestBot::push_payload(path);
    assert_eq!(bot.deliver("push", &again).await, StatusCode::ACCEPTED);
    bot.run_jobs().await;
    assert_eq!(
        bot.github.commit_comments().len(),
        before,
        "a redelivery says nothing twice"
    );
    said
}

/// An anchor holder, as teams write to share a list between categories.
const WITH_ANCHORS: &str = concat!(
    "x-fix-labels: &fix\n  - bug\n  - fix\n",
    "categroies-old: []\n",
    "categories:\n  - title: Fixes\n    labels: *fix\n",
    "template: |\n  $CHANGES\n",
);

async fn unknown_top_level_keys_of_a_release_drafter_file_are_ignored_with_a_warning(test: TestDb) {
    let bot = TestBot::start(&test, "").await;
    bot.github.set_file(".github/trainyard.yml", None);
    let said = push_file(&bot, ".github/release-drafter.yml", WITH_ANCHORS).await;
    assert_eq!(said.len(), 1, "{said:?}");
    let comment = &said[0];
    assert!(
        comment.contains("trainyard uses `.github/release-drafter.yml`"),
        "{comment}"
    );
    assert!(
        comment.contains("`x-fix-labels` is not a release-drafter key"),
        "{comment}"
    );
    assert!(
        comment.contains("`categroies-old` is not a release-drafter key"),
        "{comment}"
    );
    assert!(bot.events_of("config_refused").await.is_empty());

    // The file is in force: the anchored labels make the category.
    bot.merge(1, "Keep the clock in time", &["bug"]).await;
    bot.run_jobs().await;
    let drafts = bot.github.drafts();
    let body = drafts
        .iter()
        .find_map(|d| d["body"].as_str().filter(|b| b.contains("(#1)")))
        .expect("the train's draft");
    assert!(
        body.contains("## Fixes\n\n* Keep the clock in time (#1)"),
        "{body}"
    );
}

async fn trainyard_yml_stays_strict_and_names_the_key_meant(test: TestDb) {
    let good = "trains:\n  lines:\n    - name: main\n      branch: master\n";
    let bot = TestBot::start(&test, good).await;
    let said = push_file(
        &bot,
        ".github/trainyard.yml",
        "verison:\n  conventional-commits: true\n",
    )
    .await;
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("unknown key `verison`: did you mean `version`?"),
        "{}",
        said[0]
    );
    assert_eq!(bot.events_of("config_refused").await.len(), 1);
}

async fn a_wrong_type_is_said_as_the_value_wanted(test: TestDb) {
    let bot = TestBot::start(&test, "").await;
    let said = push_file(
        &bot,
        ".github/trainyard.yml",
        "version:\n  prerelease-start: soon\n",
    )
    .await;
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("line 2 column 21, `version.prerelease-start`: expected a whole number (0 or more), found `soon`"),
        "{}",
        said[0]
    );
}

on_both_backends!(
    unknown_top_level_keys_of_a_release_drafter_file_are_ignored_with_a_warning,
    trainyard_yml_stays_strict_and_names_the_key_meant,
    a_wrong_type_is_said_as_the_value_wanted,
);

/// `trainyard config check FILE`, run as the binary with no settings at all (no
/// credentials, no store): its exit status and what it printed.
fn config_check(name: &str, text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join(name);
    std::fs::write(&file, text).expect("write");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_trainyard"))
        .args(["config", "check"])
        .arg(&file)
        .current_dir(dir.path())
        .env_clear()
        .output()
        .expect("run trainyard");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
    .replace(&format!("{}/", dir.path().display()), "");
    (output.status.success(), printed)
}

#[test]
fn config_check_shows_the_configuration_in_effect_and_its_warnings_offline() {
    let (ok, printed) = config_check("release-drafter.yml", WITH_ANCHORS);
    assert!(ok, "{printed}");
    assert!(
        printed.starts_with("release-drafter.yml: usable (read as release-drafter.yml)\n"),
        "{printed}"
    );
    assert!(
        printed.contains("warning: `x-fix-labels` is not a release-drafter key"),
        "{printed}"
    );
    assert!(
        printed.contains("main: merged into the default branch, boards every merged pull request"),
        "{printed}"
    );
    assert!(printed.contains("  Fixes: `bug`, `fix`\n"), "{printed}");
}

#[test]
fn config_check_reads_verify_keys_and_names_a_bad_one() {
    let good = concat!(
        "deploy:\n  environments:\n    - name: staging\n      auto: true\n",
        "      verify:\n        bake: 15m\n        every: 1m\n",
        "        prometheus: {query: 'sum(rate(errors[5m]))', max: 0.02}\n",
        "        http: {url: https://staging.example/healthz}\n",
        "    - name: production\n      after: staging\n",
    );
    let (ok, printed) = config_check("trainyard.yml", good);
    assert!(ok, "{printed}");
    assert!(
        printed.contains(
            "deploy: staging (automatic) (verified: 15m bake), production (after staging)"
        ),
        "{printed}"
    );
    let (ok, printed) = config_check("trainyard.yml", &good.replace("every: 1m", "every: 20m"));
    assert!(!ok);
    assert!(
        printed.contains("`deploy.environments[0].verify.every`: `20m` is longer than the bake"),
        "{printed}"
    );
}

#[test]
fn config_check_speaks_the_authors_words_and_fails() {
    let (ok, printed) = config_check("trainyard.yml", "verison:\n  prerelease-start: 1\n");
    assert!(!ok);
    assert_eq!(
        printed,
        "error: trainyard.yml, line 1 column 1, `verison`: unknown key `verison`: did you mean `version`?\n"
    );

    let (ok, printed) = config_check("trainyard.yml", "approvals:\n  required: two\n");
    assert!(!ok);
    assert!(
        printed.contains("`approvals.required`: expected a whole number (0 or more), found `two`"),
        "{printed}"
    );

    let (ok, printed) = config_check(
        "trainyard.yml",
        "trains:\n  lines:\n    - name: main\n      branch: master\n        include: all\n",
    );
    assert!(!ok);
    assert!(
        printed.contains("hint: line 5 is indented further than the line above it"),
        "{printed}"
    );
}

//! The autolabeler as a team moving from release-drafter uses it: its rules, unchanged, label
//! pull requests when they are opened, pushed to, edited or reopened, through the real HTTP
//! entry and the stateful fake GitHub; release-drafter's own end-to-end case (its fixtures,
//! ISC: `fixtures/release-drafter/LICENSE`) gives the same labels.

mod harness;

use trainyard::domain::autolabel::{Facts, labels_for};
use trainyard::domain::repo_config::RepoConfig;

use harness::TestDb;
use harness::bot::TestBot;

/// release-drafter's `config-autolabeler.yml`, as the `notes` of a trainyard.yml.
const CONFIG: &str = "trains:\n  lines:\n    - name: main\n      branch: master\nnotes:\n  \
                      autolabeler:\n    - label: chore\n      files: ['*.md']\n      branch: \
                      ['/docs{0,1}\\/.+/']\n    - label: bug\n      branch: ['/fix\\/.+/']\n      \
                      title: ['/fix/i']\n    - label: enhancement\n      branch: \
                      ['/feature\\/.+/']\n      body: ['/JIRA-[0-9]{1,4}/']\n";

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/fixtures/release-drafter/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect(path)
}

/// release-drafter's `autolabeler.e2e` case: the synchronize event of its pull request #1475
/// with its 30 changed files, under `config-autolabeler.yml`, is labelled `chore`.
#[test]
fn release_drafters_own_case_gives_its_labels() {
    let config = RepoConfig::from_release_drafter(
        ".github/release-drafter.yml",
        &fixture("config/config-autolabeler.yml"),
    )
    .expect("config");
    let rules = config.autolabel_rules().expect("rules");
    let event: serde_json::Value =
        serde_json::from_str(&fixture("events/pull_request-synchronize.json")).expect("event");
    let files: Vec<String> =
        serde_json::from_str::<Vec<serde_json::Value>>(&fixture("pull_requests/files.json"))
            .expect("files")
            .iter()
            .filter_map(|f| f["filename"].as_str().map(str::to_owned))
            .collect();
    let pr = &event["pull_request"];
    let labels = labels_for(
        &rules,
        Facts {
            files: &files,
            head_ref: pr["head"]["ref"].as_str().expect("head"),
            title: pr["title"].as_str().expect("title"),
            body: pr["body"].as_str(),
        },
    );
    assert_eq!(labels, ["chore"]);
}

#[test]
fn a_broken_rule_refuses_the_configuration_naming_it() {
    let error = RepoConfig::parse(
        ".github/trainyard.yml",
        "notes:\n  autolabeler:\n    - label: bug\n      title: ['/(/']\n",
    )
    .expect_err("refused");
    let text = error.to_string();
    assert!(text.contains("autolabeler[0].title"), "{text}");
}

async fn pull_requests_are_labelled_once_with_what_they_lack(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    // Opened from fix/crash, a JIRA ticket in the body, a Markdown file changed.
    let opened = bot.github.open_pr(
        5,
        "opened",
        "fix/crash",
        "Fix the clock",
        Some("Closes JIRA-12"),
    );
    bot.github.set_files(5, &["src/clock.rs", "docs/README.md"]);
    bot.deliver("pull_request", &opened).await;
    bot.run_jobs().await;
    assert_eq!(
        bot.github.label_calls(),
        [(5, vec!["chore".into(), "bug".into(), "enhancement".into()])]
    );

    // Pushed to and edited again: it has every label already; no call.
    let pushed = bot.github.open_pr(
        5,
        "synchronize",
        "fix/crash",
        "Fix the clock",
        Some("Closes JIRA-12"),
    );
    bot.deliver("pull_request", &pushed).await;
    let edited = bot
        .github
        .open_pr(5, "edited", "fix/crash", "Fix the clock, again", None);
    bot.deliver("pull_request", &edited).await;
    bot.run_jobs().await;
    assert_eq!(bot.github.label_calls().len(), 1);

    // A pull request nothing matches: its files are read, nothing is labelled.
    let before = bot.github.log().len();
    let plain = bot
        .github
        .open_pr(6, "opened", "topic/board", "Add the board", None);
    bot.github.set_files(6, &["src/board.rs"]);
    bot.deliver("pull_request", &plain).await;
    bot.run_jobs().await;
    assert_eq!(bot.github.label_calls().len(), 1);
    let calls: Vec<_> = bot.github.log()[before..].to_vec();
    assert_eq!(
        calls
            .iter()
            .filter(|(_, path)| path.contains("/pulls/6/files"))
            .count(),
        1,
        "{calls:?}"
    );
    // Other actions (assigned, review requested…) cost nothing.
    let mut assigned = bot
        .github
        .open_pr(6, "opened", "topic/board", "Add the board", None);
    assigned["action"] = serde_json::json!("assigned");
    let before = bot.github.log().len();
    bot.deliver("pull_request", &assigned).await;
    bot.run_jobs().await;
    assert_eq!(
        bot.github.log().len(),
        before,
        "{:?}",
        &bot.github.log()[before..]
    );
}

async fn without_rules_nothing_is_labelled_and_files_are_read_once(test: TestDb) {
    let bot = TestBot::start(
        &test,
        "trains:\n  lines:\n    - name: main\n      branch: master\n",
    )
    .await;
    let opened = bot
        .github
        .open_pr(5, "opened", "fix/crash", "Fix the clock", None);
    bot.deliver("pull_request", &opened).await;
    bot.run_jobs().await;
    assert!(bot.github.label_calls().is_empty());
    // Its files are read once, for the `trainyard/config` check of the new head commit
    // (which touches no configuration: no such check).
    let reads = bot
        .github
        .log()
        .iter()
        .filter(|(_, path)| path.contains("/files"))
        .count();
    assert_eq!(reads, 1, "{:?}", bot.github.log());
    assert!(
        bot.github
            .check_runs()
            .iter()
            .all(|r| r.name != "trainyard/config")
    );
}

on_both_backends!(
    pull_requests_are_labelled_once_with_what_they_lack,
    without_rules_nothing_is_labelled_and_files_are_read_once,
);

//! A train's draft reads what a release-drafter configuration's keys need, on the path users
//! take (pull requests merged as webhooks, the train's draft on the stateful fake GitHub):
//! each passenger's body for `$BODY`, and its changed files for `include-paths` and
//! `exclude-paths`, read once at boarding and only when a key uses them; and a `BREAKING
//! CHANGE:` footer in a body bumps the train's version under `conventional-commits`.

mod harness;

use harness::TestDb;
use harness::bot::TestBot;

const DRAFTER: &str = concat!(
    "include-paths: [src]\n",
    "exclude-paths: [src/generated]\n",
    "change-template: '* $TITLE (#$NUMBER): $BODY'\n",
    "template: |\n  ## Changes\n\n  $CHANGES\n",
);

/// Pull request `number` is merged with the `release` label, changing `files`, its body
/// `body`.
async fn merge(bot: &TestBot, number: u64, title: &str, body: &str, files: &[&str]) {
    let mut payload = bot.github.merge_pr(number, title, &["release"], "master");
    bot.github.set_files(number, files);
    payload["pull_request"]["body"] = serde_json::json!(body);
    bot.deliver("pull_request", &payload).await;
    bot.run_jobs().await;
}

fn draft_body(bot: &TestBot) -> String {
    let drafts = bot.github.drafts();
    assert_eq!(drafts.len(), 1, "{drafts:?}");
    drafts[0]["body"].as_str().expect("body").to_owned()
}

/// Requests for pull request `number`'s changed files so far.
fn files_asked(bot: &TestBot, number: u64) -> usize {
    let path = format!("/pulls/{number}/files");
    bot.github
        .log()
        .iter()
        .filter(|(_, p)| p.ends_with(&path))
        .count()
}

async fn paths_and_bodies_shape_the_trains_draft(test: TestDb) {
    let bot = TestBot::start(&test, "").await;
    bot.github.set_file(".github/trainyard.yml", None);
    bot.github
        .set_file(".github/release-drafter.yml", Some(DRAFTER));

    merge(
        &bot,
        1,
        "Add the departure board",
        "Shows the next trains.",
        &["src/board.rs"],
    )
    .await;
    merge(&bot, 2, "Fix the guide", "Typos.", &["docs/guide.md"]).await;
    merge(
        &bot,
        3,
        "Regenerate the client",
        "Nothing to read.",
        &["src/generated/api.rs"],
    )
    .await;

    let body = draft_body(&bot);
    assert!(
        body.contains("## Changes\n\n* Add the departure board (#1): Shows the next trains."),
        "{body}"
    );
    assert!(!body.contains("(#2)"), "outside include-paths: {body}");
    assert!(!body.contains("(#3)"), "inside exclude-paths: {body}");
    // Each pull request's files were read once, at boarding.
    for number in 1..=3 {
        assert_eq!(files_asked(&bot, number), 1, "#{number}");
    }

    // A later merge re-renders the draft from what is stored: nothing is read again.
    merge(
        &bot,
        4,
        "Speed up the board",
        "Twice as fast.",
        &["src/board.rs"],
    )
    .await;
    assert!(
        draft_body(&bot).contains("* Speed up the board (#4): Twice as fast."),
        "{}",
        draft_body(&bot)
    );
    for number in 1..=3 {
        assert_eq!(files_asked(&bot, number), 1, "#{number} read once");
    }
}

async fn files_are_not_read_when_no_key_uses_them(test: TestDb) {
    let bot = TestBot::start(&test, "").await;
    bot.github.set_file(".github/trainyard.yml", None);
    bot.github.set_file(
        ".github/release-drafter.yml",
        Some("change-template: '* $TITLE (#$NUMBER): $BODY'\n"),
    );
    merge(
        &bot,
        1,
        "Add the departure board",
        "Shows the next trains.",
        &["src/board.rs"],
    )
    .await;
    assert!(
        draft_body(&bot).contains("* Add the departure board (#1): Shows the next trains."),
        "{}",
        draft_body(&bot)
    );
    assert_eq!(files_asked(&bot, 1), 0);
}

const CONVENTIONAL: &str = concat!(
    "trains:\n  lines:\n    - name: main\n      branch: master\n",
    "version:\n  conventional-commits: true\n",
);

/// carol cuts the train; the tag it was cut with.
async fn cut(bot: &TestBot) -> Option<String> {
    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    let frozen = bot
        .trains(&[trainyard::domain::train::TrainState::Frozen])
        .await;
    frozen.first().and_then(|t| t.tag_name.clone())
}

/// `version.conventional-commits`: a `BREAKING CHANGE:` footer in a passenger's body makes
/// the train a major release, as `fixtures/trainyard.example.yml` promises.
async fn a_breaking_change_footer_makes_the_train_major(test: TestDb) {
    let bot = TestBot::start(&test, CONVENTIONAL).await;
    merge(
        &bot,
        1,
        "fix: keep the clock in time",
        "Ticks.",
        &["src/clock.rs"],
    )
    .await;
    // `feat:` alone would make 1.1.0; the footer in its body makes 2.0.0.
    merge(
        &bot,
        2,
        "feat: a new departures API",
        "Replaces the old one.\n\nBREAKING CHANGE: /v1/departures is gone",
        &["src/api.rs"],
    )
    .await;
    assert_eq!(cut(&bot).await.as_deref(), Some("v2.0.0"));
}

/// `version.conventional-commits`: a `!` after the type (`refactor!:`) makes the train major
/// too, with nothing in the body.
async fn a_bang_in_a_conventional_title_makes_the_train_major(test: TestDb) {
    let bot = TestBot::start(&test, CONVENTIONAL).await;
    merge(
        &bot,
        1,
        "fix: keep the clock in time",
        "",
        &["src/clock.rs"],
    )
    .await;
    merge(
        &bot,
        2,
        "refactor!: one departures API",
        "",
        &["src/api.rs"],
    )
    .await;
    assert_eq!(cut(&bot).await.as_deref(), Some("v2.0.0"));
}

/// Moving over from release-drafter, a train takes over the draft release-drafter left; in a
/// repository `trainyard.yml` configures, a draft someone wrote is theirs and stays as it is.
async fn a_hand_written_draft_is_left_alone_where_trainyard_yml_configures(test: TestDb) {
    let config = "trains:\n  lines:\n    - name: main\n      branch: master\n";
    let bot = TestBot::start(&test, config).await;
    let mut releases = bot.github.releases();
    releases.reverse();
    let own = serde_json::json!({
        "id": 7, "tag_name": "", "name": "Launch letter", "draft": true, "prerelease": false,
        "created_at": "2026-11-01T00:00:00Z", "target_commitish": "master",
        "body": "Our own words", "html_url": "https://github.com/Codertocat/Hello-World/releases/7",
    });
    releases.insert(0, own.clone());
    bot.github.set_releases(releases);
    merge(&bot, 1, "Add the departure board", "", &["src/board.rs"]).await;
    let drafts = bot.github.drafts();
    assert_eq!(drafts.len(), 2, "{drafts:?}");
    assert!(drafts.contains(&own), "untouched: {drafts:?}");
}

/// With no `name-template`, a cut train's draft is named by its tag, not left untitled.
async fn a_cut_trains_draft_is_named_by_its_tag(test: TestDb) {
    let config = "trains:\n  lines:\n    - name: main\n      branch: master\n";
    let bot = TestBot::start(&test, config).await;
    merge(&bot, 1, "Add the departure board", "", &["src/board.rs"]).await;
    assert!(!draft_body(&bot).is_empty());
    assert_eq!(
        bot.github.drafts()[0]["name"],
        "",
        "an open train has no version yet"
    );
    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    let drafts = bot.github.drafts();
    let frozen = drafts
        .iter()
        .find(|d| d["tag_name"] == "v1.0.1")
        .expect("the frozen train's draft");
    assert_eq!(frozen["name"], "v1.0.1");
}

on_both_backends!(
    a_hand_written_draft_is_left_alone_where_trainyard_yml_configures,
    a_cut_trains_draft_is_named_by_its_tag,
    a_bang_in_a_conventional_title_makes_the_train_major,
    paths_and_bodies_shape_the_trains_draft,
    files_are_not_read_when_no_key_uses_them,
    a_breaking_change_footer_makes_the_train_major,
);

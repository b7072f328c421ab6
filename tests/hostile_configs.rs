//! A repository's configuration is untrusted input: through the real HTTP entry, on the
//! stateful fake GitHub, configurations built to exhaust memory are refused when read (naming
//! the key, the last good one staying in force) or cut while rendering, and the bot goes on
//! answering and moving drafts.

mod harness;

use trainyard::domain::notes::render::RELEASE_BODY_LIMIT;

use harness::TestDb;
use harness::bot::TestBot;

const GOOD: &str = "trains:\n  lines:\n    - name: main\n      branch: master\n";

/// `GOOD` with `count` replacers, each repeating what `search` matches eight times.
fn with_replacers(search: &str, count: usize) -> String {
    let mut text = format!("{GOOD}notes:\n  replacers:\n");
    for _ in 0..count {
        text.push_str(&format!(
            "    - search: '{search}'\n      replace: '$&$&$&$&$&$&$&$&'\n"
        ));
    }
    text
}

/// A push to the default branch changes `.github/trainyard.yml` to `text`; returns what
/// trainyard wrote on the pushed commit.
async fn push_config(bot: &TestBot, text: &str) -> Vec<String> {
    bot.push_file(".github/trainyard.yml", text).await
}

/// The open train's draft body.
fn draft_body(bot: &TestBot) -> String {
    let drafts = bot.github.drafts();
    assert_eq!(drafts.len(), 1, "{drafts:?}");
    drafts[0]["body"].as_str().expect("body").to_owned()
}

async fn a_replacer_bomb_is_refused_with_its_key_and_drafts_still_move(test: TestDb) {
    let bot = TestBot::start(&test, GOOD).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    assert!(draft_body(&bot).contains("Add the departure board (#1)"));

    // Twelve replacers, each repeating the whole body eight times: 8^12 times the notes.
    let said = push_config(&bot, &with_replacers("/[\\s\\S]+/", 12)).await;
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("the last good one stays in force"),
        "{said:?}"
    );
    assert!(said[0].contains("notes.replacers[1]"), "{said:?}");
    let refused = bot.events_of("config_refused").await;
    assert_eq!(refused.len(), 1, "{refused:?}");

    // The bot goes on: the next merge moves the draft under the last good configuration.
    bot.merge(2, "Fix the clock", &["release"]).await;
    bot.run_jobs().await;
    let body = draft_body(&bot);
    assert!(body.contains("Fix the clock (#2)"), "{body}");
    assert!(body.chars().count() < 1_000, "{}", body.len());
}

async fn a_bomb_the_sample_misses_is_cut_while_rendering(test: TestDb) {
    // Each replacer repeats everything from a word only a pull request's title has: nothing
    // in the sample it is tried on when read, so it is accepted, and cut while rendering.
    let config = with_replacers("/BOOM[\\s\\S]*/", 12);
    let bot = TestBot::start(&test, &config).await;
    bot.merge(1, "BOOM goes the departure board", &["release"])
        .await;
    bot.run_jobs().await;
    let body = draft_body(&bot);
    assert!(
        body.chars().count() <= RELEASE_BODY_LIMIT,
        "{} characters",
        body.chars().count()
    );
    assert!(
        body.contains("BOOM goes the departure board"),
        "{}",
        &body[..200]
    );

    // The bot still answers a command on the same repository.
    bot.comment("rick", 7, "/release status").await;
    bot.run_jobs().await;
    let answer = bot.github.bot_comments_on(7).pop().unwrap_or_default();
    assert!(answer.contains("#1"), "{answer}");
}

/// The notice of a refused configuration is a recorded effect: GitHub failing the first
/// comment on the commit (`strike`: before or after writing it) leaves exactly one comment
/// and one notice in the channels, told by the retry.
async fn told_once_when_the_first_comment_fails(
    test: TestDb,
    strike: harness::fake_github::Strike,
) {
    let bot = TestBot::start(&test, GOOD).await;
    bot.github.fail_next("POST", "/commits/", strike, 1);
    let said = push_config(&bot, &with_replacers("/[\\s\\S]+/", 12)).await;
    assert_eq!(said.len(), 1, "{strike:?}: {said:?}");
    assert!(said[0].contains("notes.replacers[1]"), "{said:?}");
    let refused = bot.events_of("config_refused").await;
    assert_eq!(refused.len(), 1, "{strike:?}: {refused:?}");
}

async fn a_refusal_is_told_when_the_first_comment_failed_before_github_wrote_it(test: TestDb) {
    told_once_when_the_first_comment_fails(test, harness::fake_github::Strike::Before).await;
}

async fn a_refusal_is_told_once_when_the_first_answer_was_lost(test: TestDb) {
    told_once_when_the_first_comment_fails(test, harness::fake_github::Strike::After).await;
}

on_both_backends!(
    a_replacer_bomb_is_refused_with_its_key_and_drafts_still_move,
    a_bomb_the_sample_misses_is_cut_while_rendering,
    a_refusal_is_told_when_the_first_comment_failed_before_github_wrote_it,
    a_refusal_is_told_once_when_the_first_answer_was_lost,
);

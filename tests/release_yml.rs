//! A repository with only GitHub's `.github/release.yml` moves over without a new file: its
//! train's draft carries GitHub's own generated notes (one `generate-notes` call, GitHub's
//! exact text: "What's Changed", "New Contributors", "Full Changelog"), with trainyard's
//! marker and the maintainers' highlights around them.

mod harness;

use axum::http::StatusCode;

use harness::TestDb;
use harness::bot::TestBot;

const RELEASE_YML: &str = "changelog:\n  categories:\n    - title: Features\n      labels: ['*']\n";

async fn a_release_yml_repository_gets_githubs_own_notes(test: TestDb) {
    let bot = TestBot::start(&test, "").await;
    bot.github.set_file(".github/trainyard.yml", None);
    bot.github
        .set_file(".github/release.yml", Some(RELEASE_YML));
    bot.merge(7, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;

    let asked = bot.github.generate_notes_calls();
    assert_eq!(asked.len(), 1, "one call per draft refresh: {asked:?}");
    assert_eq!(asked[0]["previous_tag_name"], "v1.0.0");
    assert_eq!(asked[0]["target_commitish"], "master");
    assert!(
        asked[0]["tag_name"]
            .as_str()
            .is_some_and(|t| t.starts_with('v')),
        "{asked:?}"
    );
    let drafts = bot.github.drafts();
    assert_eq!(drafts.len(), 1);
    let body = drafts[0]["body"].as_str().expect("body").to_owned();
    assert!(
        body.contains(
            "## What's Changed\n* Add the departure board by @octocat in \
             https://github.com/Codertocat/Hello-World/pull/7"
        ),
        "{body}"
    );
    assert!(
        body.contains(
            "**Full Changelog**: https://github.com/Codertocat/Hello-World/compare/v1.0.0..."
        ),
        "{body}"
    );

    // Highlights written above the marker stay when GitHub's notes are asked for again.
    let id = drafts[0]["id"].as_u64().expect("id");
    let edited =
        bot.github
            .edit_release("maya", id, &format!("Highlights: faster builds.\n\n{body}"));
    assert_eq!(bot.deliver("release", &edited).await, StatusCode::ACCEPTED);
    bot.merge(8, "Fix the clock", &["release"]).await;
    bot.run_jobs().await;
    let body = bot.github.drafts()[0]["body"]
        .as_str()
        .expect("body")
        .to_owned();
    assert!(body.starts_with("Highlights: faster builds.\n\n"), "{body}");
    assert!(body.contains("* Fix the clock by @octocat"), "{body}");
    assert_eq!(
        body.matches("## What's Changed").count(),
        1,
        "GitHub's notes once: {body}"
    );
    assert!(
        bot.github.searches().is_empty(),
        "GitHub names the new contributors itself"
    );
}

async fn trainyards_renderer_stays_unless_the_configuration_asks_for_github(test: TestDb) {
    let bot = TestBot::start(
        &test,
        "trains:\n  lines:\n    - name: main\n      branch: master\n",
    )
    .await;
    bot.merge(7, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    assert!(bot.github.generate_notes_calls().is_empty());
}

async fn notes_engine_github_asks_github_in_a_trainyard_yml_too(test: TestDb) {
    let bot = TestBot::start(
        &test,
        "trains:\n  lines:\n    - name: main\n      branch: master\nnotes:\n  engine: github\n",
    )
    .await;
    bot.merge(9, "Add the clock", &["release"]).await;
    bot.run_jobs().await;
    assert_eq!(bot.github.generate_notes_calls().len(), 1);
}

/// A train is not always the commit range: a pull request merged without the boarding
/// label is in the range but not on the train. GitHub's generated list would carry it, so
/// trainyard writes the train's own notes, in GitHub's format, with New Contributors and the
/// Full Changelog link on the web host.
async fn a_train_that_is_not_the_range_gets_its_own_notes_in_githubs_format(test: TestDb) {
    let bot = TestBot::start(&test, "").await;
    bot.github.set_file(".github/trainyard.yml", None);
    bot.github.set_file(
        ".github/release.yml",
        Some(
            "changelog:\n  categories:\n    - title: Bug Fixes\n      labels: [bug]\n    \
             - title: Other Changes\n      labels: ['*']\n",
        ),
    );
    // octocat has contributed before; newbie has not.
    bot.merge_by(6, "Tidy the README", &[], "octocat").await;
    bot.merge_by(7, "Add the departure board", &["release"], "octocat")
        .await;
    bot.merge_by(8, "Experiment with colours", &[], "octocat")
        .await;
    bot.merge_by(9, "Fix the clock", &["release", "bug"], "newbie")
        .await;
    bot.run_jobs().await;

    assert!(!bot.github.generate_notes_calls().is_empty());
    let drafts = bot.github.drafts();
    assert_eq!(drafts.len(), 1);
    let body = drafts[0]["body"].as_str().expect("body");
    let web = bot.github.uri();
    let notes = String::from(
        "## What's Changed\n\
         ### Bug Fixes\n\
         * Fix the clock by @newbie in https://github.com/Codertocat/Hello-World/pull/9\n\
         ### Other Changes\n\
         * Add the departure board by @octocat in https://github.com/Codertocat/Hello-World/pull/7\n\
         \n\
         ## New Contributors\n\
         * @newbie made their first contribution in https://github.com/Codertocat/Hello-World/pull/9\n\
         \n\
         **Full Changelog**: https://github.com/Codertocat/Hello-World/compare/v1.0.0...v1.0.1"
    )
    .replace("https://github.com", &web);
    assert!(body.contains(&notes), "{body}");
    assert!(!body.contains("/pull/8"), "not on the train: {body}");
    assert!(!body.contains("@octocat made"), "{body}");
    assert!(
        bot.github
            .searches()
            .iter()
            .any(|q| q.contains("author:newbie")),
        "trainyard finds the new contributors itself"
    );
}

on_both_backends!(
    a_train_that_is_not_the_range_gets_its_own_notes_in_githubs_format,
    a_release_yml_repository_gets_githubs_own_notes,
    trainyards_renderer_stays_unless_the_configuration_asks_for_github,
    notes_engine_github_asks_github_in_a_trainyard_yml_too,
    new_contributors_are_those_whose_first_merged_pull_request_is_here,
    new_contributor_templates_are_honoured,
    no_search_without_new_contributors_in_the_template,
);

/// `$NEW_CONTRIBUTORS` in a release-drafter template, as release-drafter renders it: one
/// line per author whose first merged pull request in the repository is on this release
/// (`new-contributor-template`, default `* $AUTHOR_MENTION made their first contribution in
/// #$NUMBER`), linked to their first one here; one GraphQL request of searches for them all.
async fn new_contributors_are_those_whose_first_merged_pull_request_is_here(test: TestDb) {
    let bot = TestBot::start(
        &test,
        "trains:\n  lines:\n    - name: main\n      branch: master\nnotes:\n  template: \
         \"$CHANGES\\n\\n**New Contributors**\\n$NEW_CONTRIBUTORS\"\n",
    )
    .await;
    // octocat contributed before (merged without the label: not on the train).
    bot.merge_by(100, "An old change", &[], "octocat").await;
    bot.merge_by(1, "Add the departure board", &["release"], "octocat")
        .await;
    bot.merge_by(2, "Fix the clock", &["release"], "newbie")
        .await;
    bot.merge_by(3, "Fix the clock again", &["release"], "newbie")
        .await;
    bot.run_jobs().await;
    let body = bot.github.drafts()[0]["body"]
        .as_str()
        .expect("body")
        .to_owned();
    assert!(
        body.contains("**New Contributors**\n* @newbie made their first contribution in #2\n"),
        "{body}"
    );
    assert_eq!(
        body.matches("made their first contribution").count(),
        1,
        "{body}"
    );
    let searches = bot.github.searches();
    assert!(
        searches.iter().any(|q| q.contains("author:newbie")
            && q.contains("is:merged")
            && q.contains("merged:<2026-11-27T08:00:02Z")),
        "{searches:?}"
    );
    assert_eq!(searches.len(), 2, "one search per author: {searches:?}");
}

/// The templates of the list are release-drafter's keys: `new-contributor-template` with its
/// variables, and `no-new-contributor-template` when nobody is new.
async fn new_contributor_templates_are_honoured(test: TestDb) {
    let bot = TestBot::start(
        &test,
        "trains:\n  lines:\n    - name: main\n      branch: master\nnotes:\n  template: \
         \"$NEW_CONTRIBUTORS\"\n  new-contributor-template: '- $AUTHOR ($AUTHOR_URL) \
         with $URL'\n  no-new-contributor-template: 'Nobody new'\n",
    )
    .await;
    bot.merge_by(4, "Tidy the README", &[], "octocat").await;
    bot.merge_by(5, "Fix the clock", &["release"], "newbie")
        .await;
    bot.merge_by(6, "Fix the board", &["release"], "octocat")
        .await;
    bot.run_jobs().await;
    let web = bot.github.uri();
    let body = bot.github.drafts()[0]["body"]
        .as_str()
        .expect("body")
        .to_owned();
    assert!(
        body.contains(&format!(
            "- newbie ({web}/newbie) with {web}/Codertocat/Hello-World/pull/5"
        )),
        "{body}"
    );
    assert!(!body.contains("- octocat"), "{body}");
}

/// Without `$NEW_CONTRIBUTORS` in the template, nobody is looked up.
async fn no_search_without_new_contributors_in_the_template(test: TestDb) {
    let bot = TestBot::start(
        &test,
        "trains:\n  lines:\n    - name: main\n      branch: master\n",
    )
    .await;
    bot.merge_by(2, "Fix the clock", &["release"], "newbie")
        .await;
    bot.run_jobs().await;
    assert!(bot.github.searches().is_empty());
}

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

on_both_backends!(
    a_release_yml_repository_gets_githubs_own_notes,
    trainyards_renderer_stays_unless_the_configuration_asks_for_github,
    notes_engine_github_asks_github_in_a_trainyard_yml_too,
    new_contributors_are_those_whose_first_merged_pull_request_is_here,
    no_search_without_new_contributors_in_the_template,
);

/// `$NEW_CONTRIBUTORS` in a release-drafter template, rendered as GitHub renders its "New
/// Contributors": only authors whose first merged pull request in the repository is on this
/// release, once each, linked to their first one here; one search per author.
async fn new_contributors_are_those_whose_first_merged_pull_request_is_here(test: TestDb) {
    let bot = TestBot::start(
        &test,
        "trains:\n  lines:\n    - name: main\n      branch: master\nnotes:\n  template: \
         \"$CHANGES\\n\\n$NEW_CONTRIBUTORS\"\n",
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
        body.contains("## New Contributors\n* @newbie made their first contribution in "),
        "{body}"
    );
    assert!(
        body.contains("/pull/2"),
        "linked to the first one here: {body}"
    );
    assert_eq!(
        body.matches("made their first contribution").count(),
        1,
        "{body}"
    );
    assert!(!body.contains("@octocat made"), "{body}");
    let searches = bot.github.searches();
    assert!(
        searches
            .iter()
            .any(|q| q.contains("author:newbie") && q.contains("is:merged")),
        "{searches:?}"
    );
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

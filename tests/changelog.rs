//! `notes.changelog`: a released train's notes go into `CHANGELOG.md` once, as a commit on
//! the line's branch or as a pull request carrying the skip label; a protected branch falls
//! back to the pull request and the train's thread is told why. Through the real HTTP entry
//! against the stateful fake GitHub, on SQLite and PostgreSQL.

mod harness;

use trainyard::domain::ids::RepoFullName;
use trainyard::domain::train::TrainState;
use trainyard::handlers::changelog::UpdateChangelog;
use trainyard::store::trains as train_store;

use harness::TestDb;
use harness::bot::TestBot;
use harness::fake_github::REPO;

const EXISTING: &str = "# Changelog\n\n## [Unreleased]\n\n## [1.0.0] - 2026-10-01\n\n- First\n";

fn config(mode: &str) -> String {
    format!(
        "trains:\n  lines:\n    - name: main\n      branch: master\nnotes:\n  changelog:\n    \
         path: CHANGELOG.md\n    mode: {mode}\n"
    )
}

/// #1 merged, cut by carol, approved by maya: v1.0.1 is released; returns the release day.
async fn release(bot: &TestBot) -> String {
    bot.github.set_file("CHANGELOG.md", Some(EXISTING));
    bot.merge_and_cut().await;
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    let released = bot.trains(&[TrainState::Released]).await;
    assert_eq!(released.len(), 1);
    let at = released[0].published_at.expect("published");
    jiff::Timestamp::from_millisecond(at)
        .expect("time")
        .strftime("%Y-%m-%d")
        .to_string()
}

fn expected_file(day: &str) -> String {
    format!(
        "# Changelog\n\n## [Unreleased]\n\n## [1.0.1] - {day}\n\n## What's Changed\n\n\
         * Add the departure board (#1) @octocat\n\n## [1.0.0] - 2026-10-01\n\n- First\n"
    )
}

async fn the_release_is_committed_to_the_changelog_once(test: TestDb) {
    let bot = TestBot::start(&test, &config("commit")).await;
    let day = release(&bot).await;
    assert_eq!(
        bot.github.content_writes(),
        [(
            "master".to_owned(),
            "CHANGELOG.md".to_owned(),
            "docs(changelog): v1.0.1".to_owned()
        )]
    );
    assert_eq!(
        bot.github.file_on("master", "CHANGELOG.md").as_deref(),
        Some(expected_file(&day).as_str())
    );

    // Asked again (a retry after a lost answer, or by hand): nothing more is written.
    let train = bot.trains(&[TrainState::Released]).await[0].id;
    let mut conn = bot.app.db.conn().await.expect("conn");
    bot.app
        .queue
        .enqueue(
            &mut conn,
            &UpdateChangelog {
                repository: RepoFullName::parse(REPO).expect("repo"),
                installation: 1,
                train_id: train,
            },
        )
        .await
        .expect("enqueue");
    drop(conn);
    bot.run_jobs().await;
    assert_eq!(bot.github.content_writes().len(), 1);
    let query = trainyard::store::audit::Query {
        repository: Some(REPO.to_owned()),
        since: None,
        limit: 100,
    };
    let audit = trainyard::store::audit::recent(&bot.app.db, &query)
        .await
        .expect("audit");
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "github.changelog")
            .count(),
        1
    );
}

async fn a_pull_request_mode_proposes_it_with_the_skip_label(test: TestDb) {
    let bot = TestBot::start(&test, &config("pull-request")).await;
    let day = release(&bot).await;
    let branch = "trainyard/changelog-v1.0.1";
    assert_eq!(
        bot.github.opened_pulls(),
        [(
            901,
            branch.to_owned(),
            "master".to_owned(),
            "docs(changelog): v1.0.1".to_owned(),
            vec!["no-release".to_owned()]
        )]
    );
    assert_eq!(
        bot.github.file_on(branch, "CHANGELOG.md").as_deref(),
        Some(expected_file(&day).as_str())
    );
    assert_eq!(
        bot.github.file_on("master", "CHANGELOG.md").as_deref(),
        Some(EXISTING),
        "the line's branch is untouched"
    );
    assert!(
        bot.event_kinds()
            .await
            .contains(&"changelog_proposed".to_owned())
    );
}

async fn a_protected_branch_falls_back_to_a_pull_request_and_says_why(test: TestDb) {
    let bot = TestBot::start(&test, &config("commit")).await;
    bot.github.protect("master");
    release(&bot).await;
    assert_eq!(bot.github.opened_pulls().len(), 1);
    assert_eq!(
        bot.github.file_on("master", "CHANGELOG.md").as_deref(),
        Some(EXISTING)
    );
    let repo = RepoFullName::parse(REPO).expect("repo");
    let told: Vec<String> = train_store::events_since(&bot.app.db, &repo, 0)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == "changelog_proposed")
        .map(|e| e.detail)
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].contains("Changes must be made through a pull request"),
        "{told:?}"
    );
    assert!(told[0].contains("901"), "{told:?}");
}

on_both_backends!(
    the_release_is_committed_to_the_changelog_once,
    a_pull_request_mode_proposes_it_with_the_skip_label,
    a_protected_branch_falls_back_to_a_pull_request_and_says_why,
);

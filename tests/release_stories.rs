//! Release stories end to end on the stateful fake GitHub, through the real HTTP entry:
//! merges and `/release` comments as GitHub sends them, the bot's jobs run, and assertions on
//! what GitHub holds afterwards (tags, releases, comments) and the rows in the store.
//!
//! - A fault at any GitHub call of cut, approve and release — failing before the call is
//!   carried out, or after (its answer lost) — leaves, after the retries, exactly what the
//!   story leaves without it.
//! - Two approvers through comments; annotated tags; a hotfix train to its published
//!   release; a calver line's draft; notes over GitHub's limit.

mod harness;

use trainyard::domain::train::TrainState;

use harness::TestDb;
use harness::bot::TestBot;
use harness::fake_github::{Strike, visible};

/// The configuration of most stories: one line on `master`.
const CONFIG: &str = "trains:\n  lines:\n    - name: main\n      branch: master\nversion:\n  \
                      version-resolver:\n    minor:\n      labels: [feature]\n";

/// What a released story leaves behind.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// (tag, commit, annotated).
    tags: Vec<(String, String, bool)>,
    /// (tag, draft) of every release.
    releases: Vec<(String, bool)>,
    /// Visible bot comments on PR 1, PR 2, and the command comments' issue 7.
    on_first: Vec<String>,
    on_second: Vec<String>,
    on_issue: Vec<String>,
    /// Train events, in order.
    events: Vec<String>,
    /// Released trains.
    released: usize,
    /// The audit log as `action outcome actor`, sorted: each case exactly once.
    audit: Vec<String>,
}

/// Two PRs board; carol cuts and maya approves by commenting on issue 7; the bot releases.
async fn release_story(bot: &TestBot) -> String {
    bot.merge(1, "Add the departure board", &["release", "feature"])
        .await;
    bot.merge(2, "Fix the clock", &["release", "fix"]).await;
    bot.run_jobs().await;
    let frozen_head = bot.github.head("master");
    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    // The branch moves on after the cut: the tag must still go to the frozen commit.
    bot.github.push("master");
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    frozen_head
}

async fn outcome(bot: &TestBot) -> Outcome {
    Outcome {
        tags: bot.github.tags(),
        releases: bot
            .github
            .releases()
            .iter()
            .map(|r| {
                (
                    r["tag_name"].as_str().unwrap_or_default().to_owned(),
                    r["draft"] == serde_json::json!(true),
                )
            })
            .collect(),
        on_first: bot.github.bot_comments_on(1),
        on_second: bot.github.bot_comments_on(2),
        on_issue: bot.github.bot_comments_on(7),
        events: bot.event_kinds().await,
        released: bot.trains(&[TrainState::Released]).await.len(),
        audit: audit_log(bot).await,
    }
}

async fn audit_log(bot: &TestBot) -> Vec<String> {
    let query = trainyard::store::audit::Query {
        repository: Some("Codertocat/Hello-World".into()),
        since: None,
        limit: 1000,
    };
    let mut records: Vec<String> = trainyard::store::audit::recent(&bot.app.db, &query)
        .await
        .expect("audit")
        .iter()
        .map(|r| {
            format!(
                "{} {} {} ({})",
                r.action, r.outcome, r.actor_login, r.surface
            )
        })
        .collect();
    records.sort();
    records
}

fn expected(bot: &TestBot, first_release: &str, frozen_head: &str) -> Outcome {
    let url = format!(
        "{}/Codertocat/Hello-World/releases/tag/v1.1.0",
        bot.github.uri()
    );
    Outcome {
        tags: vec![
            ("v1.0.0".into(), first_release.to_owned(), false),
            ("v1.1.0".into(), frozen_head.to_owned(), false),
        ],
        releases: vec![("v1.0.0".into(), false), ("v1.1.0".into(), false)],
        on_first: vec![format!("Released in [v1.1.0]({url}).")],
        on_second: vec![format!("Released in [v1.1.0]({url}).")],
        on_issue: vec![
            format!(
                "**Codertocat/Hello-World cut**: cut v1.1.0 at {} with 2 pull requests; the \
                 next train is open",
                &frozen_head[..7]
            ),
            "**Codertocat/Hello-World approve**: approved; releasing v1.1.0".into(),
        ],
        events: ["boarded", "boarded", "cut", "approved", "released"]
            .map(String::from)
            .to_vec(),
        released: 1,
        audit: [
            "command.approve accepted maya (comment)",
            "command.cut accepted carol (comment)",
            "config.changed accepted trainyard (github)",
            "github.comment done trainyard (trainyard)",
            "github.comment done trainyard (trainyard)",
            "github.comment done trainyard (trainyard)",
            "github.comment done trainyard (trainyard)",
            "github.release done trainyard (trainyard)",
            "github.tag done trainyard (trainyard)",
        ]
        .map(String::from)
        .to_vec(),
    }
}

async fn the_release_story_without_faults(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    let first_release = bot.github.head("master");
    let frozen_head = release_story(&bot).await;
    let got = outcome(&bot).await;
    assert_eq!(got, expected(&bot, &first_release, &frozen_head));
    // The command comments were seen (👀) once each.
    assert_eq!(bot.github.reactions().len(), 2);
}

async fn stats_answer_from_what_trainyard_recorded(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    release_story(&bot).await;
    bot.comment("maya", 7, "/release stats 7").await;
    bot.comment("maya", 7, "/release stats 400").await;
    bot.run_jobs().await;
    let said = bot.github.bot_comments_on(7);
    let stats = &said[said.len() - 2];
    assert!(
        stats.contains("**Codertocat/Hello-World** — release health, last 7 days"),
        "{stats}"
    );
    // One release, two pull requests, no deployments: frequency counts releases.
    for line in [
        "Frequency: 1.0 releases a week (1 in all)",
        "Change failure rate: 0% (0 of 1)",
        "Lead time to production: no samples",
        "Trains: 1 released, 2.0 pull requests each",
        "0 rejected cuts",
    ] {
        assert!(stats.contains(line), "{line:?} in {stats}");
    }
    assert!(stats.contains("Lead time to release: median "), "{stats}");
    assert!(stats.contains("(2 samples)"), "{stats}");
    let refused = said.last().expect("an answer");
    assert!(refused.contains("a number of days (1–365)"), "{refused}");
}

/// The story with one fault injected at `method path`, struck before or after the call.
async fn story_with_fault(test: TestDb, method: &'static str, path: &str, strike: Strike) {
    let bot = TestBot::start(&test, CONFIG).await;
    bot.github.fail_next(method, path, strike, 1);
    let first_release = bot.github.head("master");
    let frozen_head = release_story(&bot).await;
    let got = outcome(&bot).await;
    assert_eq!(
        got,
        expected(&bot, &first_release, &frozen_head),
        "fault at {method} {path} ({strike:?})"
    );
}

/// The story with the `skip`-th decision after the start failing at its commit (a crash
/// after the decision's GitHub calls, before its writes): boarding, the cut, the approval,
/// the release's end.
async fn story_with_lost_commit(test: TestDb, skip: u32) {
    let bot = TestBot::start(&test, CONFIG).await;
    bot.app.db.fail_decision_commit(skip);
    let first_release = bot.github.head("master");
    let frozen_head = release_story(&bot).await;
    assert!(
        !bot.app.db.commit_fault_pending(),
        "the story has fewer than {} decisions",
        skip + 1
    );
    let got = outcome(&bot).await;
    assert_eq!(
        got,
        expected(&bot, &first_release, &frozen_head),
        "decision {skip} lost at its commit"
    );
}

async fn every_lost_decision_commit_is_made_good_by_the_retry(test: TestDb) {
    // Each decision of the story in turn: the two boardings, the cut, the approval and the
    // release's end (its tag, publication and comments are steps, faulted at GitHub above).
    for skip in 0..5 {
        // A fresh store for each story, on the test's backend.
        let db = if test.db.backend() == trainyard::store::Backend::Sqlite {
            TestDb::sqlite().await
        } else {
            match TestDb::postgres(&format!("lost_commit_{skip}")).await {
                Some(db) => db,
                None => return,
            }
        };
        story_with_lost_commit(db, skip).await;
    }
}

macro_rules! fault_stories {
    ($($name:ident: $method:literal $path:literal $strike:ident),* $(,)?) => {
        $(
            async fn $name(test: TestDb) {
                story_with_fault(test, $method, $path, Strike::$strike).await;
            }
        )*
    };
}

fault_stories!(
    fault_reading_the_configuration: "GET" "/contents/" Before,
    fault_reading_a_permission: "GET" "/collaborators/" Before,
    fault_reading_the_branch_head_at_the_cut: "GET" "/branches/master" Before,
    fault_listing_releases: "GET" "/releases" Before,
    fault_creating_the_draft_answer_lost: "POST" "/releases" After,
    fault_updating_the_draft_answer_lost: "PATCH" "/releases/101" After,
    fault_creating_the_tag: "POST" "/git/refs" Before,
    fault_creating_the_tag_answer_lost: "POST" "/git/refs" After,
    fault_publishing_answer_lost: "PATCH" "/releases/101" After,
    fault_commenting_released_answer_lost: "POST" "/issues/1/comments" After,
    fault_commenting_released: "POST" "/issues/2/comments" Before,
    fault_answering_the_command_answer_lost: "POST" "/issues/7/comments" After,
    fault_reacting_to_the_command: "POST" "/reactions" Before,
);

async fn a_labelled_merge_in_steady_state_costs_the_draft_and_its_check(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    // The configuration and the draft are known now.
    let before = bot.github.log().len();
    bot.merge(2, "Fix the clock", &["release"]).await;
    bot.run_jobs().await;
    let mut calls: Vec<(String, String)> = bot.github.log()[before..].to_vec();
    calls.sort();
    let draft = &bot.github.releases()[1];
    let draft_id = draft["id"].as_u64().expect("draft id");
    assert_eq!(
        calls,
        [
            (
                "PATCH".to_owned(),
                format!("/repos/Codertocat/Hello-World/releases/{draft_id}")
            ),
            (
                "POST".to_owned(),
                "/repos/Codertocat/Hello-World/check-runs".to_owned()
            ),
        ],
        "only the draft write, and the new passenger's check"
    );
    assert!(
        draft["body"]
            .as_str()
            .is_some_and(|b| b.contains("Fix the clock"))
    );
}

async fn two_approvers_through_comments(test: TestDb) {
    let config = format!("{CONFIG}approvals:\n  required: 2\n");
    let bot = TestBot::start(&test, &config).await;
    bot.merge_and_cut().await;
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    // carol writes, and cut the train: refused either way; rick only reads.
    bot.comment("carol", 7, "/release approve").await;
    bot.comment("rick", 7, "/release approve").await;
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    assert!(bot.trains(&[TrainState::Released]).await.is_empty());
    bot.comment("dave", 7, "/release approve").await;
    bot.run_jobs().await;
    assert_eq!(bot.trains(&[TrainState::Released]).await.len(), 1);
    let answers = bot.github.bot_comments_on(7);
    assert_eq!(
        answers[1..],
        [
            "**Codertocat/Hello-World approve**: approval 1 of 2 recorded".to_owned(),
            "**Codertocat/Hello-World approve** refused: `approve` needs maintain permission \
             on the repository; carol has write"
                .to_owned(),
            "**Codertocat/Hello-World approve** refused: `approve` needs maintain permission \
             on the repository; rick has read"
                .to_owned(),
            "**Codertocat/Hello-World approve** refused: maya has already approved this train"
                .to_owned(),
            "**Codertocat/Hello-World approve**: approved; releasing v1.0.1".to_owned(),
        ]
    );
    assert!(bot.github.tags().iter().any(|(t, _, _)| t == "v1.0.1"));
}

async fn an_annotated_tag_carries_the_notes(test: TestDb) {
    let config = format!("{CONFIG}  tag: annotated\n");
    let bot = TestBot::start(&test, &config).await;
    let frozen_head = release_story(&bot).await;
    let (_, commit, annotated) = bot
        .github
        .tags()
        .into_iter()
        .find(|(t, _, _)| t == "v1.1.0")
        .expect("tagged");
    assert!(annotated, "a tag object, not a lightweight tag");
    assert_eq!(commit, frozen_head, "peeled, it names the frozen commit");
    let message = bot.github.tag_message("v1.1.0").expect("message");
    assert!(
        message.contains("Add the departure board") && message.contains("Fix the clock"),
        "{message}"
    );
}

async fn a_hotfix_train_is_released_from_its_branch(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    // v1.0.0 is out; main has moved on with an unreleased feature.
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    let base = bot
        .github
        .tags()
        .into_iter()
        .find(|(t, _, _)| t == "v1.0.0")
        .map(|(_, c, _)| c)
        .expect("v1.0.0");
    bot.comment("carol", 7, "/release hotfix 1.0.0").await;
    bot.run_jobs().await;
    assert_eq!(
        bot.github.head("release/1.0"),
        base,
        "branch made from the tag"
    );
    bot.merge_into(5, "Fix the crash at midnight", &["hotfix"], "release/1.0")
        .await;
    bot.run_jobs().await;
    let hotfix_head = bot.github.head("release/1.0");
    bot.comment("carol", 7, "/release cut hotfix-1.0").await;
    bot.run_jobs().await;
    bot.comment("maya", 7, "/release approve 1.0.1").await;
    bot.run_jobs().await;
    assert!(
        bot.github
            .tags()
            .contains(&("v1.0.1".to_owned(), hotfix_head, false)),
        "{:?} {:?}",
        bot.github.tags(),
        bot.github.bot_comments_on(7)
    );
    let release = bot
        .github
        .releases()
        .into_iter()
        .find(|r| r["tag_name"] == "v1.0.1")
        .expect("release");
    assert_eq!(release["draft"], false);
    let body = release["body"].as_str().unwrap_or_default();
    assert!(body.contains("Fix the crash at midnight") && !body.contains("departure"));
    // The main line's train is untouched.
    let open = bot.trains(&[TrainState::Open]).await;
    assert!(open.iter().any(|t| t.line == "main"));
}

async fn a_calver_line_is_cut_at_todays_version(test: TestDb) {
    let config = format!("{CONFIG}  scheme: calver\n");
    let bot = TestBot::start(&test, &config).await;
    bot.merge_and_cut().await;
    let frozen = bot.trains(&[TrainState::Frozen]).await;
    assert_eq!(frozen[0].version.as_deref(), Some("2026.11.0"));
    let drafts: Vec<_> = bot
        .github
        .releases()
        .into_iter()
        .filter(|r| r["draft"] == true)
        .collect();
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0]["tag_name"], "v2026.11.0", "{:?}", drafts[0]);
}

async fn notes_over_the_limit_are_published_within_it(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    let long = "A very long title that goes on and on ".repeat(110);
    for number in 1..=40 {
        bot.merge(number, &format!("{number} {long}"), &["release"])
            .await;
    }
    bot.run_jobs().await;
    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    let release = bot
        .github
        .releases()
        .into_iter()
        .find(|r| r["tag_name"] == "v1.0.1")
        .expect("release");
    assert_eq!(release["draft"], false);
    let body = release["body"].as_str().expect("body");
    assert!(body.chars().count() <= 125_000, "{}", body.chars().count());
    assert!(
        body.contains("more in the [full comparison]"),
        "the notes say what was left out"
    );
    assert!(
        visible(body).len() < body.len(),
        "the train's marker is kept"
    );
}

on_both_backends!(
    stats_answer_from_what_trainyard_recorded,
    fault_reading_the_configuration,
    fault_reading_a_permission,
    fault_reading_the_branch_head_at_the_cut,
    fault_listing_releases,
    fault_creating_the_draft_answer_lost,
    fault_updating_the_draft_answer_lost,
    fault_creating_the_tag,
    fault_creating_the_tag_answer_lost,
    fault_publishing_answer_lost,
    fault_commenting_released_answer_lost,
    fault_commenting_released,
    fault_answering_the_command_answer_lost,
    fault_reacting_to_the_command,
    the_release_story_without_faults,
    every_lost_decision_commit_is_made_good_by_the_retry,
    a_labelled_merge_in_steady_state_costs_the_draft_and_its_check,
    two_approvers_through_comments,
    an_annotated_tag_carries_the_notes,
    a_hotfix_train_is_released_from_its_branch,
    a_calver_line_is_cut_at_todays_version,
    notes_over_the_limit_are_published_within_it,
);

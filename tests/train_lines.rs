//! Lines, schedules and approvals as a team meets them, through the real HTTP entry on the
//! stateful fake GitHub, on SQLite and PostgreSQL: a daily cut in Europe/Berlin keeps its
//! local hour across the change to summer time; a named line (`api`) is cut, approved and
//! released with its own prefixed tags from its own baseline; the maintainer who cut a train
//! cannot approve it alone unless the repository allows it; and a train lists the commits
//! pushed without a pull request when the configuration asks.

mod harness;

use jiff::SignedDuration;
use serde_json::json;
use trainyard::clock::Clock as _;
use trainyard::domain::train::TrainState;
use trainyard::handlers::trains::ScheduledCuts;
use trainyard::jobs::BackgroundJob as _;

use harness::TestDb;
use harness::bot::TestBot;

/// Moves the bot's clock to `at`.
fn set_clock(bot: &TestBot, at: &str) {
    let at: jiff::Timestamp = at.parse().expect("time");
    let by = at.duration_since(bot.clock.now());
    assert!(by >= SignedDuration::ZERO, "clocks only move forward");
    bot.clock.advance(by);
}

/// Runs the scheduler's check now, then the jobs it queued; the frozen trains after it.
async fn scheduler_checks(bot: &TestBot) -> Vec<trainyard::store::trains::TrainRow> {
    ScheduledCuts
        .run(bot.app.train_context())
        .await
        .expect("check");
    bot.run_jobs().await;
    bot.trains(&[TrainState::Frozen]).await
}

async fn a_berlin_morning_cut_keeps_its_local_hour_across_the_change_to_summer_time(test: TestDb) {
    let config = "trains:\n  lines:\n    - name: main\n      branch: master\n      \
                  schedule: '0 9 * * *'\n      timezone: Europe/Berlin\n";
    let bot = TestBot::start(&test, config).await;
    // Saturday 27 March 2027, 08:30 in Berlin (UTC+1, winter time).
    set_clock(&bot, "2027-03-27T07:30:00Z");
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    assert!(
        scheduler_checks(&bot).await.is_empty(),
        "08:30 is not 09:00"
    );
    // 09:00 in Berlin is 08:00 UTC in winter.
    set_clock(&bot, "2027-03-27T08:00:30Z");
    let frozen = scheduler_checks(&bot).await;
    assert_eq!(frozen.len(), 1, "cut at 09:00 winter time");
    assert_eq!(frozen[0].cut_by.as_deref(), Some("trainyard-schedule"));

    // Sunday 28 March: summer time from 02:00 (01:00 UTC); 09:00 in Berlin is 07:00 UTC.
    bot.merge(2, "Speed up the board", &["release"]).await;
    bot.run_jobs().await;
    set_clock(&bot, "2027-03-28T06:59:00Z");
    assert_eq!(
        scheduler_checks(&bot).await.len(),
        1,
        "08:59 summer time: not yet"
    );
    set_clock(&bot, "2027-03-28T07:00:30Z");
    let frozen = scheduler_checks(&bot).await;
    assert_eq!(
        frozen.len(),
        2,
        "cut at 09:00 summer time, not at 08:00 UTC"
    );
    // An hour later (08:00 UTC, winter time's 09:00) nothing fires again.
    set_clock(&bot, "2027-03-28T08:00:30Z");
    assert_eq!(scheduler_checks(&bot).await.len(), 2);
}

/// The example configuration's monorepo shape: one tag template for the repository, and an
/// `api` line with its own prefix and paths.
const TWO_LINES: &str = concat!(
    "trains:\n  lines:\n",
    "    - name: main\n      branch: master\n",
    "    - name: api\n      branch: master\n      include: all\n",
    "      paths: ['services/api/**']\n      tag-prefix: api-v\n",
    "version:\n  tag-template: v$RESOLVED_VERSION\n",
);

async fn a_named_line_is_released_with_its_own_prefix_from_its_own_baseline(test: TestDb) {
    let bot = TestBot::start(&test, TWO_LINES).await;
    // The api line's last release, older than the repository's v1.0.0.
    let root = bot.github.head("master");
    bot.github.add_tag("api-v1.2.0", &root);
    let mut releases = bot.github.releases();
    releases.reverse();
    releases.insert(
        1,
        json!({
            "id": 2, "tag_name": "api-v1.2.0", "name": "api 1.2.0", "draft": false,
            "prerelease": false, "created_at": "2026-09-01T00:00:00Z",
            "target_commitish": "master", "body": "api",
            "html_url": "https://github.com/Codertocat/Hello-World/releases/2",
        }),
    );
    bot.github.set_releases(releases);

    let mut merged = bot
        .github
        .merge_pr(1, "Paginate departures", &["feature"], "master");
    bot.github.set_files(1, &["services/api/departures.rs"]);
    merged["pull_request"]["body"] = json!("Pages of 50.");
    bot.deliver("pull_request", &merged).await;
    bot.run_jobs().await;

    bot.comment("carol", 7, "/release cut api").await;
    bot.run_jobs().await;
    bot.comment("maya", 7, "/release approve api").await;
    bot.run_jobs().await;

    let released = bot.trains(&[TrainState::Released]).await;
    assert_eq!(released.len(), 1, "{:?}", bot.github.bot_comments_on(7));
    assert_eq!(released[0].line, "api");
    assert_eq!(released[0].tag_name.as_deref(), Some("api-v1.2.1"));
    // 1.2.1: the next patch after the line's own api-v1.2.0, not after the repository's v1.0.0.
    let tags: Vec<String> = bot.github.tags().into_iter().map(|(t, _, _)| t).collect();
    assert!(tags.contains(&"api-v1.2.1".to_owned()), "{tags:?}");
    assert!(
        !tags.contains(&"v1.0.1".to_owned()),
        "the main line is untouched: {tags:?}"
    );
    let release = bot
        .github
        .releases()
        .into_iter()
        .find(|r| r["tag_name"] == "api-v1.2.1")
        .expect("the api release");
    assert_eq!(release["draft"], false);
    let body = release["body"].as_str().expect("body");
    assert!(body.contains("Paginate departures (#1)"), "{body}");
}

async fn the_maintainer_who_cut_cannot_approve_alone(test: TestDb) {
    let config = "trains:\n  lines:\n    - name: main\n      branch: master\n";
    let bot = TestBot::start(&test, config).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    bot.comment("maya", 7, "/release cut").await;
    bot.run_jobs().await;
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    let said = bot.github.bot_comments_on(7);
    assert!(
        said.last()
            .is_some_and(|s| s.contains("refused") && s.contains("maya")),
        "{said:?}"
    );
    assert_eq!(
        bot.trains(&[TrainState::Frozen]).await.len(),
        1,
        "still frozen"
    );
    assert!(
        !bot.github.tags().iter().any(|(t, _, _)| t == "v1.0.1"),
        "nothing tagged"
    );
    let refused = bot.audited("command.approve").await;
    assert!(
        refused.iter().any(|r| r.outcome.contains("refused")),
        "the refusal is audited: {refused:?}"
    );
    // Another maintainer's approval releases it.
    bot.comment("dave", 7, "/release approve").await;
    bot.run_jobs().await;
    assert_eq!(bot.trains(&[TrainState::Released]).await.len(), 1);
}

async fn a_repository_may_allow_self_approval(test: TestDb) {
    let config = concat!(
        "trains:\n  lines:\n    - name: main\n      branch: master\n",
        "approvals:\n  allow-self-approval: true\n",
    );
    let bot = TestBot::start(&test, config).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    bot.comment("maya", 7, "/release cut").await;
    bot.run_jobs().await;
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    let released = bot.trains(&[TrainState::Released]).await;
    assert_eq!(released.len(), 1, "{:?}", bot.github.bot_comments_on(7));
    assert!(bot.github.tags().iter().any(|(t, _, _)| t == "v1.0.1"));
}

async fn a_train_lists_commits_pushed_without_a_pull_request_when_asked(test: TestDb) {
    let config = concat!(
        "trains:\n  lines:\n    - name: main\n      branch: master\n",
        "notes:\n  include-commits-without-pr: true\n",
        "  template: |\n    $CHANGES\n",
    );
    let bot = TestBot::start(&test, config).await;
    let base = bot.github.head("master");
    let pushed = bot.github.push("master");
    bot.github.serve_history(vec![json!({"data": {"repository": {"ref": {"compare": {"commits": {
        "pageInfo": {"hasNextPage": false, "endCursor": null},
        "nodes": [{
            "oid": pushed, "committedDate": "2026-11-27T08:30:00Z",
            "message": "Fix a typo in the README", "messageHeadline": "Fix a typo in the README",
            "author": {"name": "Dave", "user": {"login": "dave"}},
            "authors": {"nodes": [{"name": "Dave", "user": {"login": "dave"}}]},
            "associatedPullRequests": {"nodes": []},
        }],
    }}}}}})]);
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    let drafts = bot.github.drafts();
    assert_eq!(drafts.len(), 1, "{drafts:?}");
    let body = drafts[0]["body"].as_str().expect("body");
    assert!(body.contains("Add the departure board (#1)"), "{body}");
    assert!(body.contains("Fix a typo in the README"), "{body}");
    assert_ne!(base, pushed);
}

on_both_backends!(
    a_berlin_morning_cut_keeps_its_local_hour_across_the_change_to_summer_time,
    a_named_line_is_released_with_its_own_prefix_from_its_own_baseline,
    the_maintainer_who_cut_cannot_approve_alone,
    a_repository_may_allow_self_approval,
    a_train_lists_commits_pushed_without_a_pull_request_when_asked,
);

//! A shared service, through the real HTTP entry on the stateful fake GitHub, which keeps
//! GitHub's limits (content writes at most 80 a minute and 500 an hour per account, its
//! secondary-limit `403` beyond): one installation flooding while another's merge is drafted
//! first; the primary budget's reserve holding a draft refresh while a command runs and
//! `/release status` says why; a release's 200 "Released in" comments paced under the limits
//! without one `403`; a secondary-limit answer pausing one installation's writes, not the
//! other's.

mod harness;

use http::StatusCode;
use jiff::SignedDuration;
use serde_json::Value;
use trainyard::clock::Clock as _;
use trainyard::domain::train::TrainState;

use harness::TestDb;
use harness::bot::TestBot;
use harness::fake_github::Primary;

const CONFIG: &str = "trains:\n  lines:\n    - name: main\n      branch: master\n";

/// The other installation's repository, served by the same fake.
const OTHER: &str = "zen/web";

/// `payload` as GitHub sends it for `repo` of installation `installation`.
fn for_repository(mut payload: Value, repo: &str, installation: u64) -> Value {
    let (owner, name) = repo.split_once('/').expect("owner/name");
    payload["repository"]["full_name"] = repo.into();
    payload["repository"]["name"] = name.into();
    payload["repository"]["owner"]["login"] = owner.into();
    payload["installation"]["id"] = installation.into();
    payload
}

fn posted(bot: &TestBot, path: &str) -> usize {
    bot.github
        .log()
        .iter()
        .filter(|(method, p)| method == "POST" && p == path)
        .count()
}

async fn a_flooding_installation_does_not_hold_up_another_installations_merge(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    bot.github.watch_clock(bot.clock.clone());
    bot.github.also_serve(OTHER);
    // Codertocat's installation floods: sixty commands in comments.
    for _ in 0..60 {
        bot.comment("carol", 7, "/release status").await;
    }
    // Then a labelled merge in the other installation's repository.
    let merged = bot.github.merge_pr(9, "Add search", &["release"], "master");
    let merged = for_repository(merged, OTHER, 2);
    assert_eq!(
        bot.deliver("pull_request", &merged).await,
        StatusCode::ACCEPTED
    );

    // One worker, one job at a time, as a busy process would take them.
    let runner = bot.app.runner();
    let mut ran = 0;
    while posted(&bot, "/repos/zen/web/releases") == 0 {
        runner
            .run_one()
            .await
            .expect("the queue answers")
            .expect("a job is due");
        ran += 1;
        assert!(
            ran < 400,
            "the other installation's draft was never written"
        );
    }
    let flood_left = bot
        .app
        .queue
        .jobs()
        .await
        .expect("jobs")
        .iter()
        .filter(|j| j.queue_key.contains("Codertocat"))
        .count();
    assert!(
        ran <= 12,
        "the other installation's draft took {ran} jobs (arrival order would take over 60)"
    );
    assert!(flood_left >= 60, "the flood is still queued: {flood_left}");
    // Nothing is lost: the flood is answered in full afterwards.
    bot.run_jobs().await;
    assert_eq!(bot.github.bot_comments_on(7).len(), 60);
    assert_eq!(bot.github.secondary_limit_answers(), 0);
}

async fn at_the_reserve_a_draft_refresh_waits_while_a_command_runs(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    bot.github.watch_clock(bot.clock.clone());
    let reset = bot.clock.now() + SignedDuration::from_mins(20);
    let budget = |remaining| Primary {
        limit: 5_000,
        remaining,
        reset: reset.as_second(),
    };
    bot.github.set_primary_budget("Codertocat", budget(4_000));
    bot.merge(7, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;

    // GitHub's next answer says only 400 of 5,000 are left: under the 10 % reserve.
    bot.github.set_primary_budget("Codertocat", budget(400));
    bot.merge(8, "Fix the clock", &["release"]).await;
    bot.app.runner().run_pending().await.expect("run");
    bot.merge(9, "Add the timetable", &["release"]).await;
    bot.app.runner().run_pending().await.expect("run");
    let draft = &bot.github.drafts()[0];
    let body = draft["body"].as_str().expect("body");
    assert!(
        !body.contains("(#9)"),
        "the refresh waits for the reset: {body}"
    );
    let held: Vec<_> = bot
        .app
        .queue
        .jobs()
        .await
        .expect("jobs")
        .into_iter()
        .filter(|j| j.run_at == reset)
        .collect();
    assert!(!held.is_empty(), "routine work waits for the reset");
    assert!(held.iter().all(|j| j.attempts == 0), "{held:?}");

    // A command still runs, spending the reserve, and says what is held.
    bot.comment("carol", 7, "/release status").await;
    bot.app.runner().run_pending().await.expect("run");
    let answers = bot.github.bot_comments_on(7);
    let Some(answer) = answers.last() else {
        panic!(
            "the command was answered: {:#?}\n{:?}",
            bot.app.queue.jobs().await.expect("jobs"),
            bot.github.log()
        );
    };
    assert!(
        answer.contains("GitHub budget:") && answer.contains("400 of 5000 left"),
        "{answer}"
    );
    assert!(
        answer.contains("routine work waits for the reset"),
        "{answer}"
    );
    let metrics = trainyard::metrics::metrics().render();
    assert!(
        metrics.contains(
            "trainyard_github_budget_remaining{installation=\"1\",resource=\"core\"} 400"
        ),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("trainyard_github_calls_held_total{installation=\"1\",budget=\"reserve\"}")
    );

    // The reset refills the budget; the held refresh writes #9.
    bot.github.set_primary_budget(
        "Codertocat",
        Primary {
            remaining: 5_000,
            reset: (reset + SignedDuration::from_hours(1)).as_second(),
            ..budget(0)
        },
    );
    bot.clock.advance(SignedDuration::from_mins(21));
    bot.run_jobs().await;
    let body = bot.github.drafts()[0]["body"]
        .as_str()
        .expect("body")
        .to_owned();
    assert!(body.contains("(#8)") && body.contains("(#9)"), "{body}");
}

async fn a_release_comments_on_200_pull_requests_without_a_secondary_limit(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    bot.github.watch_clock(bot.clock.clone());
    for number in 1..=200 {
        bot.merge(number, &format!("Change {number}"), &["release"])
            .await;
    }
    bot.run_jobs().await;
    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    bot.comment("maya", 7, "/release approve").await;

    // Time passes a few seconds at a time while the workers run what is due.
    let runner = bot.app.runner();
    for _ in 0..2_000 {
        runner.run_pending().await.expect("run");
        if bot.app.queue.jobs().await.expect("jobs").is_empty() {
            break;
        }
        bot.clock.advance(SignedDuration::from_secs(5));
    }
    assert!(bot.app.queue.jobs().await.expect("jobs").is_empty());
    assert_eq!(bot.trains(&[TrainState::Released]).await.len(), 1);
    let released_in = (1..=200)
        .filter(|n| {
            bot.github
                .bot_comments_on(*n)
                .iter()
                .any(|c| c.starts_with("Released in"))
        })
        .count();
    assert_eq!(released_in, 200, "every pull request has its comment");
    assert_eq!(bot.github.secondary_limit_answers(), 0);
    let (per_minute, per_hour) = bot.github.busiest_content_writes("Codertocat");
    assert!(
        per_minute <= 75,
        "{per_minute} content writes in one minute"
    );
    assert!(per_hour <= 480, "{per_hour} content writes in one hour");
}

async fn a_secondary_limit_pauses_one_installation_not_the_other(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    bot.github.watch_clock(bot.clock.clone());
    bot.github.also_serve(OTHER);
    bot.merge(7, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;

    // GitHub answers Codertocat's next comment with its secondary limit, for two minutes.
    bot.github
        .secondary_limit_next("/repos/Codertocat/Hello-World/issues/", 120);
    bot.comment("carol", 7, "/release status").await;
    bot.comment("carol", 7, "/release status").await;
    let merged = for_repository(
        bot.github.merge_pr(9, "Add search", &["release"], "master"),
        OTHER,
        2,
    );
    assert_eq!(
        bot.deliver("pull_request", &merged).await,
        StatusCode::ACCEPTED
    );
    bot.app.runner().run_pending().await.expect("run");

    assert_eq!(bot.github.secondary_limit_answers(), 1);
    assert!(
        bot.github.bot_comments_on(7).is_empty(),
        "Codertocat's writes wait out the pause"
    );
    // One refused write, and no other write of Codertocat's reached GitHub.
    let codertocat_comment_posts = bot
        .github
        .log()
        .iter()
        .filter(|(m, p)| m == "POST" && p.starts_with("/repos/Codertocat/Hello-World/issues/"))
        .count();
    assert_eq!(codertocat_comment_posts, 1);
    assert_eq!(
        posted(&bot, "/repos/zen/web/releases"),
        1,
        "the other installation writes on"
    );
    let paused: i64 = sqlx::query_scalar(
        "SELECT writes_paused_until FROM installation_budgets WHERE installation_id = 1",
    )
    .fetch_one(bot.app.db.pool())
    .await
    .expect("the pause is shared through the store");
    assert_eq!(
        paused,
        (bot.clock.now() + SignedDuration::from_secs(120)).as_millisecond()
    );

    // After the pause both answers go out; nothing was lost or doubled.
    bot.clock.advance(SignedDuration::from_secs(121));
    bot.run_jobs().await;
    assert_eq!(bot.github.bot_comments_on(7).len(), 2);
    assert_eq!(bot.github.secondary_limit_answers(), 1);
}

on_both_backends!(
    a_flooding_installation_does_not_hold_up_another_installations_merge,
    at_the_reserve_a_draft_refresh_waits_while_a_command_runs,
    a_release_comments_on_200_pull_requests_without_a_secondary_limit,
    a_secondary_limit_pauses_one_installation_not_the_other,
);

//! The `trainyard` check run on pull requests, on the stateful fake GitHub through the real
//! HTTP entry: one check per pull request, on its head commit, telling where it stands from
//! label to production; and a 200-pull-request release whose check updates stay within
//! GitHub's content-creation limits on the bot's (fake) clock.

mod harness;

use std::collections::BTreeMap;

use trainyard::store::pr_checks;

use harness::TestDb;
use harness::bot::TestBot;
use harness::fake_github::head_sha;

const REPO: &str = "Codertocat/Hello-World";

/// staging deploys itself on publishing; production needs staging's success first.
const CONFIG: &str = concat!(
    "trains:\n  lines:\n    - name: main\n      branch: master\n",
    "deploy:\n  environments:\n",
    "    - name: staging\n      auto: true\n",
    "    - name: production\n      requires: staging\n",
);

fn title_of(bot: &TestBot, number: u64) -> String {
    bot.github
        .check_of(number)
        .map(|run| run.title)
        .unwrap_or_default()
}

async fn report(bot: &TestBot, id: u64, state: &str) {
    let payload = bot.github.deployment_status(id, state, None);
    bot.deliver("deployment_status", &payload).await;
    bot.run_jobs().await;
}

async fn a_pull_requests_check_follows_its_train_from_label_to_production(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    let opened = bot.github.open_pr(
        1,
        "opened",
        "departure-board",
        "Add the departure board",
        None,
    );
    bot.deliver("pull_request", &opened).await;
    bot.run_jobs().await;
    let run = bot.github.check_of(1).expect("a check on the head commit");
    assert_eq!(run.name, "trainyard");
    assert_eq!(run.head_sha, head_sha(1));
    assert_eq!(run.external_id.as_deref(), Some("trainyard:1"));
    assert_eq!(run.title, "not labelled `release`: will not board `main`");
    assert_eq!(run.conclusion, "neutral");

    let labelled = bot.github.label(1, "release", true);
    bot.deliver("pull_request", &labelled).await;
    bot.run_jobs().await;
    assert_eq!(
        title_of(&bot, 1),
        "will board `main` when merged (next v1.0.1)"
    );

    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    assert_eq!(title_of(&bot, 1), "boarded v1.0.1 (open)");
    assert_eq!(bot.github.check_of(1).expect("check").conclusion, "success");

    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    assert_eq!(title_of(&bot, 1), "frozen in v1.0.1");

    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    let released = bot.github.check_of(1).expect("check");
    assert_eq!(released.title, "released in v1.0.1");
    let page = format!(
        "{}/{REPO}/releases/tag/v1.0.1",
        bot.app.settings.github_web_url
    );
    assert_eq!(released.details_url.as_deref(), Some(page.as_str()));
    assert!(released.summary.contains(&format!("[The release]({page})")));

    let staging = bot.github.deployments()[0].id;
    report(&bot, staging, "success").await;
    assert_eq!(title_of(&bot, 1), "deployed: staging ✓");
    bot.comment("maya", 7, "/release deploy latest to production")
        .await;
    bot.run_jobs().await;
    let production = bot.github.deployments()[1].id;
    report(&bot, production, "success").await;
    assert_eq!(title_of(&bot, 1), "deployed: staging ✓ production ✓");

    // One check run the whole way, written once per change: created (unlabelled), then
    // labelled, boarded, frozen, released, staging, production.
    let runs = bot.github.check_runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].writes, 7, "{runs:?}");
    // The store agrees with GitHub and has nothing left to send.
    let row = pr_checks::get(&bot.app.db, REPO, 1)
        .await
        .expect("row")
        .expect("the pull request is known");
    assert_eq!(row.check_run_id, Some(runs[0].id as i64));
    assert_eq!(row.dirty, 0);
}

async fn a_closed_pull_request_says_it_rides_nothing(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    let opened = bot.github.open_pr(4, "opened", "spike", "A spike", None);
    bot.deliver("pull_request", &opened).await;
    let labelled = bot.github.label(4, "release", true);
    bot.deliver("pull_request", &labelled).await;
    bot.run_jobs().await;
    let mut closed = bot.github.label(4, "release", true);
    closed["action"] = "closed".into();
    closed["pull_request"]["merged"] = false.into();
    closed["pull_request"]["merged_at"] = serde_json::Value::Null;
    bot.deliver("pull_request", &closed).await;
    bot.run_jobs().await;
    assert_eq!(title_of(&bot, 4), "closed without merging: rides no train");
    // Redelivered webhooks change nothing on GitHub.
    let writes = bot.github.check_writes();
    bot.deliver("pull_request", &closed).await;
    bot.run_jobs().await;
    assert_eq!(bot.github.check_writes(), writes);
}

/// Runs the due jobs once a minute on the bot's clock for `minutes`, or until nothing is left;
/// records the check-run writes GitHub received in each minute.
async fn run_minutes(bot: &TestBot, minutes: u32, writes: &mut BTreeMap<u32, usize>, at: &mut u32) {
    let runner = bot.app.runner();
    for _ in 0..minutes {
        let before = bot.github.check_writes();
        let drained = runner.run_pending().await.expect("jobs run");
        assert_eq!(
            drained.dead,
            0,
            "{drained:?}: {:?}",
            bot.app.queue.jobs().await.expect("jobs")
        );
        *writes.entry(*at).or_default() += bot.github.check_writes() - before;
        *at += 1;
        bot.clock.advance(jiff::SignedDuration::from_mins(1));
        if bot.app.queue.jobs().await.expect("jobs").is_empty() {
            return;
        }
    }
}

async fn two_hundred_check_updates_are_paced_under_githubs_limits(test: TestDb) {
    let bot = TestBot::start(
        &test,
        // The checks say "released in": no comment on each of the 200 pull requests.
        "trains:\n  release-comments: false\n  lines:\n    - name: main\n      branch: master\n",
    )
    .await;
    for number in 1..=200 {
        let merged =
            bot.github
                .merge_pr(number, &format!("Change {number}"), &["release"], "master");
        bot.deliver("pull_request", &merged).await;
    }
    let mut writes = BTreeMap::new();
    let mut minute = 0;
    run_minutes(&bot, 2, &mut writes, &mut minute).await;
    bot.comment("carol", 7, "/release cut").await;
    run_minutes(&bot, 1, &mut writes, &mut minute).await;
    bot.comment("maya", 7, "/release approve").await;
    run_minutes(&bot, 24 * 60, &mut writes, &mut minute).await;

    // Every pull request's check says where it ended.
    for number in 1..=200 {
        assert_eq!(title_of(&bot, number), "released in v1.0.1", "#{number}");
    }
    assert!(
        pr_checks::dirty(&bot.app.db, REPO, 10)
            .await
            .expect("dirty")
            .is_empty()
    );
    // Paced: never more than 40 writes in a minute, 240 in an hour on the clock, nor 500 in
    // any 60 minutes; batched: a stage a check had already left behind while it waited is
    // never written, so far fewer than 200 × 3 writes were needed.
    let per_minute: Vec<usize> = writes.values().copied().collect();
    assert!(per_minute.iter().all(|n| *n <= 40), "{per_minute:?}");
    for hour in per_minute.chunks(60) {
        assert!(hour.iter().sum::<usize>() <= 240, "{per_minute:?}");
    }
    for window in per_minute.windows(60) {
        assert!(window.iter().sum::<usize>() <= 500, "{per_minute:?}");
    }
    let total: usize = per_minute.iter().sum();
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "200 pull requests: {total} check-run writes over {} minutes of the clock, at most {} \
         in a minute",
        per_minute.len(),
        per_minute.iter().max().unwrap_or(&0)
    );
    assert_eq!(total, bot.github.check_writes());
    assert!((200..600).contains(&total), "{total} writes");
    assert!(
        bot.github.unexpected().is_empty(),
        "{:?}",
        bot.github.unexpected()
    );
}

async fn a_pull_request_changing_the_configuration_gets_a_red_check(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    bot.github
        .open_pr(9, "opened", "config", "Tidy the configuration", None);
    bot.github
        .set_files(9, &[".github/trainyard.yml", "README.md"]);
    bot.github.set_file_at(
        &head_sha(9),
        ".github/trainyard.yml",
        "trains:\n  linez:\n    - name: main\n",
    );
    let opened = bot
        .github
        .open_pr(9, "opened", "config", "Tidy the configuration", None);
    bot.deliver("pull_request", &opened).await;
    bot.run_jobs().await;
    let config_check = bot
        .github
        .check_runs()
        .into_iter()
        .find(|r| r.name == "trainyard/config")
        .expect("a trainyard/config check");
    assert_eq!(config_check.head_sha, head_sha(9));
    assert_eq!(config_check.conclusion, "failure");
    assert!(
        config_check.title.starts_with("1 error"),
        "{}",
        config_check.title
    );
    assert!(
        config_check.summary.contains("linez"),
        "{}",
        config_check.summary
    );
    // The configuration in force is untouched; a redelivery writes no second check.
    bot.deliver("pull_request", &opened).await;
    bot.run_jobs().await;
    let config_checks = bot
        .github
        .check_runs()
        .into_iter()
        .filter(|r| r.name == "trainyard/config")
        .count();
    assert_eq!(config_checks, 1);

    // A usable change is green, its warnings listed; one that touches no configuration gets
    // no such check.
    bot.github.open_pr(10, "opened", "docs", "Docs", None);
    bot.github.set_files(10, &["README.md"]);
    let docs = bot.github.open_pr(10, "opened", "docs", "Docs", None);
    bot.deliver("pull_request", &docs).await;
    bot.github.open_pr(11, "opened", "drafter", "Drafter", None);
    bot.github.set_files(11, &[".github/release-drafter.yml"]);
    bot.github.set_file_at(
        &head_sha(11),
        ".github/release-drafter.yml",
        "template: |\n  $CHANGES\n",
    );
    let drafter = bot.github.open_pr(11, "opened", "drafter", "Drafter", None);
    bot.deliver("pull_request", &drafter).await;
    bot.run_jobs().await;
    let on = |number: u64| {
        bot.github
            .check_runs()
            .into_iter()
            .find(|r| r.name == "trainyard/config" && r.head_sha == head_sha(number))
    };
    assert!(on(10).is_none());
    assert_eq!(on(11).expect("checked").conclusion, "success");
}

async fn a_burst_of_labels_costs_one_read_and_shows_the_last(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    let opened = bot
        .github
        .open_pr(5, "opened", "clock", "Fix the clock", None);
    bot.deliver("pull_request", &opened).await;
    bot.run_jobs().await;
    let before = bot.github.log().len();
    // Someone fiddles with the labels: on, off, on, off, on, within a second.
    for on in [true, false, true, false, true] {
        let event = bot.github.label(5, "release", on);
        bot.deliver("pull_request", &event).await;
    }
    bot.run_jobs().await;
    let reads = bot.github.log()[before..]
        .iter()
        .filter(|(method, path)| method == "GET" && path.ends_with("/pulls/5"))
        .count();
    assert_eq!(reads, 1, "{:?}", &bot.github.log()[before..]);
    assert_eq!(
        title_of(&bot, 5),
        "will board `main` when merged (next v1.0.1)"
    );
    // The deliveries are all kept; only the first asked for work.
    let kept = trainyard::store::deliveries::list(&bot.app.db)
        .await
        .expect("deliveries");
    let ignored = kept.iter().filter(|d| d.outcome == "ignored").count();
    assert_eq!(ignored, 4, "{kept:?}");
}

on_both_backends!(
    a_burst_of_labels_costs_one_read_and_shows_the_last,
    a_pull_request_changing_the_configuration_gets_a_red_check,
    a_pull_requests_check_follows_its_train_from_label_to_production,
    a_closed_pull_request_says_it_rides_nothing,
    two_hundred_check_updates_are_paced_under_githubs_limits,
);

//! Verification after a deployment, through the real path: a train is released, GitHub
//! reports staging's success by webhook, the bake's rounds read a fake Prometheus and health
//! URL over HTTP, and the assertions are on GitHub's deployments, the thread's events, the
//! audit log and the rows in the store.

mod harness;

use harness::TestDb;
use harness::bot::TestBot;
use harness::fake_prometheus::{FakePrometheus, Value};
use trainyard::jobs::BackgroundJob as _;
use trainyard::store::bakes;

const QUERY: &str = "sum(rate(http_errors_total{env=\"staging\"}[5m]))";

/// staging verifies for 20 s, checked every 5 s; production follows it and requires it.
fn config(prometheus: &FakePrometheus) -> String {
    format!(
        concat!(
            "trains:\n  lines:\n    - name: main\n      branch: master\n",
            "deploy:\n  environments:\n",
            "    - name: staging\n      auto: true\n",
            "      verify:\n        bake: 20s\n        every: 5s\n",
            "        prometheus: {{query: '{query}', max: 0.02}}\n",
            "        http: {{url: '{health}', expect: 200}}\n",
            "    - name: production\n      after: staging\n      requires: staging\n",
        ),
        query = QUERY,
        health = prometheus.health_url()
    )
}

/// #1 merged, cut by carol, approved by maya: v1.0.1 is released; staging deploys itself.
async fn released(bot: &TestBot) {
    bot.merge_and_cut().await;
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
}

/// The next train (#`pr`) released as the next patch version.
async fn released_next(bot: &TestBot, pr: u64) {
    bot.merge(pr, "Fix the clock", &["release"]).await;
    bot.run_jobs().await;
    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
}

/// GitHub reports `state` for deployment `id`.
async fn report(bot: &TestBot, id: u64, state: &str) {
    let payload = bot.github.deployment_status(id, state, None);
    bot.deliver("deployment_status", &payload).await;
    bot.run_jobs().await;
}

/// Five seconds on: the server's sweep finds the bakes due and their rounds run.
async fn next_round(bot: &TestBot) -> usize {
    bot.clock.advance(jiff::SignedDuration::from_secs(5));
    let due = trainyard::handlers::deploys::enqueue_due_bakes(
        &bot.app.db,
        &bot.app.queue,
        bot.clock_ms(),
    )
    .await
    .expect("sweep");
    // Drained without moving the clock (`run_jobs` would, past a retry, and end the bake).
    let drained = bot.app.runner().run_pending().await.expect("jobs run");
    assert_eq!(drained.dead, 0, "no job died: {drained:?}");
    let waiting = bot.app.queue.jobs().await.expect("jobs");
    assert!(waiting.is_empty(), "nothing waits: {waiting:?}");
    due
}

/// The thread's verification events: `(state, detail)`.
async fn told(bot: &TestBot) -> Vec<(String, String)> {
    bot.events_of("verification")
        .await
        .into_iter()
        .map(|e| {
            (
                e["state"].as_str().unwrap_or_default().to_owned(),
                e["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn maya_says(bot: &TestBot, command: &str) -> String {
    bot.comment("maya", 7, command).await;
    let drained = bot.app.runner().run_pending().await.expect("jobs run");
    assert_eq!(drained.dead, 0, "no job died: {drained:?}");
    let waiting = bot.app.queue.jobs().await.expect("jobs");
    assert!(
        waiting.is_empty(),
        "nothing waits after {command} (the bake's clock must not jump): {waiting:?}"
    );
    bot.run_jobs().await;
    bot.github.bot_comments_on(7).pop().unwrap_or_default()
}

fn environments(bot: &TestBot) -> Vec<(String, String)> {
    bot.github
        .deployments()
        .into_iter()
        .map(|d| (d.environment, d.git_ref))
        .collect()
}

fn pair(env: &str, tag: &str) -> (String, String) {
    (env.to_owned(), tag.to_owned())
}

async fn a_clean_bake_promotes_staging_to_production(test: TestDb) {
    let prometheus = FakePrometheus::start().await;
    let bot = TestBot::start_verified(&test, &config(&prometheus), &prometheus).await;
    released(&bot).await;
    let staging = bot.github.deployments()[0].clone();
    report(&bot, staging.id, "success").await;

    // Staging's success starts the bake; production waits for it.
    assert_eq!(environments(&bot), [pair("staging", "v1.0.1")]);
    let baking = told(&bot).await;
    assert_eq!(baking.len(), 1, "{baking:?}");
    assert_eq!(baking[0].0, "baking");
    assert!(
        baking[0]
            .1
            .starts_with("20s before what follows goes, checked every 5s: `sum("),
        "{baking:?}"
    );
    let refused = maya_says(&bot, "/release deploy 1.0.1 to production").await;
    assert!(
        refused.contains("staging has no successful deployment of v1.0.1"),
        "production requires staging's bake to pass: {refused}"
    );
    let shown = maya_says(&bot, "/release verify staging").await;
    assert!(shown.contains("`v1.0.1` bakes on **staging**"), "{shown}");

    // Four rounds; Prometheus is down at the second, which neither passes nor fails it.
    prometheus.script(&[
        Value::Sample(0.0),
        Value::Down,
        Value::Sample(0.01),
        Value::Sample(0.0),
    ]);
    for round in 1..=3 {
        assert_eq!(next_round(&bot).await, 1, "round {round} was due");
        assert_eq!(environments(&bot).len(), 1, "not before the bake ends");
    }
    let shown = maya_says(&bot, "/release verify staging").await;
    assert!(shown.contains("round 4 next in 5s"), "{shown}");
    assert!(
        shown.contains("≤ 0.02"),
        "the last reading is shown: {shown}"
    );
    assert_eq!(next_round(&bot).await, 1);
    assert_eq!(
        environments(&bot),
        [pair("staging", "v1.0.1"), pair("production", "v1.0.1")],
        "verified: production follows with the commit staging ran"
    );
    assert_eq!(bot.github.deployments()[1].sha, staging.sha);

    // Prometheus was asked four times, with the query as configured and the server's token.
    let queries = prometheus.queries();
    assert_eq!(queries.len(), 4, "{queries:?}");
    assert!(
        queries
            .iter()
            .all(|(q, auth)| q == QUERY && auth.as_deref() == Some("Bearer prom-token"))
    );
    let states: Vec<String> = told(&bot).await.into_iter().map(|(s, _)| s).collect();
    assert_eq!(states, ["baking", "verified"]);

    // Nothing more happens: no round is due, a redelivered success starts no second bake.
    assert_eq!(next_round(&bot).await, 0);
    report(&bot, staging.id, "success").await;
    assert_eq!(environments(&bot).len(), 2);
    assert_eq!(told(&bot).await.len(), 2);
    let row = bakes::latest(&bot.app.db, &bot.repo, "staging")
        .await
        .expect("bake")
        .expect("one");
    assert_eq!((row.state.as_str(), row.rounds), ("verified", 4));
    assert_eq!(bot.audited("deploy.verify").await.len(), 1);
}

/// v1.0.1 verified on staging and deployed to production; v1.0.2 breaches on staging.
async fn breached(bot: &TestBot, prometheus: &FakePrometheus) {
    released(bot).await;
    let first = bot.github.deployments()[0].id;
    report(bot, first, "success").await;
    prometheus.script(&[Value::Sample(0.0)]);
    for _ in 0..4 {
        next_round(bot).await;
    }
    let production = bot.github.deployments()[1].id;
    report(bot, production, "success").await;

    released_next(bot, 2).await;
    let second = bot.github.deployments()[2].clone();
    assert_eq!(
        pair(&second.environment, &second.git_ref),
        pair("staging", "v1.0.2")
    );
    report(bot, second.id, "success").await;
    next_round(bot).await;
    prometheus.script(&[Value::Sample(0.5)]);
}

async fn a_breach_rolls_staging_back_and_holds_production(test: TestDb) {
    let prometheus = FakePrometheus::start().await;
    let bot = TestBot::start_verified(&test, &config(&prometheus), &prometheus).await;
    breached(&bot, &prometheus).await;
    // The second round reads 0.5 errors a second: over the ceiling.
    next_round(&bot).await;

    let created = bot.github.deployments();
    assert_eq!(created.len(), 4, "{:?}", environments(&bot));
    let rollback = &created[3];
    assert_eq!(
        pair(&rollback.environment, &rollback.git_ref),
        pair("staging", "v1.0.1")
    );
    assert_eq!(rollback.request["payload"]["rollback"], true);
    assert_eq!(rollback.request["payload"]["requested_by"], "trainyard");
    let (state, detail) = told(&bot).await.pop().expect("told");
    assert_eq!(state, "breached");
    assert_eq!(
        detail,
        format!("`{QUERY}` = 0.5 > max 0.02. Rolling back to v1.0.1. Holding production.")
    );
    // Production is held: not followed, and refused by hand.
    let refused = maya_says(&bot, "/release deploy 1.0.2 to production").await;
    assert!(
        refused.contains("staging has no successful deployment of v1.0.2"),
        "{refused}"
    );

    // Seen again (another sweep, the breach still on): one rollback.
    assert_eq!(next_round(&bot).await, 0);
    assert_eq!(bot.github.deployments().len(), 4);

    // The rollback succeeds 40 s after the breach: the restore is measured and told.
    bot.clock.advance(jiff::SignedDuration::from_secs(35));
    report(&bot, rollback.id, "success").await;
    report(&bot, rollback.id, "success").await;
    let (state, detail) = told(&bot).await.pop().expect("told");
    assert_eq!(state, "restored");
    assert_eq!(detail, "40s after v1.0.2 failed verification");
    let row = bakes::latest(&bot.app.db, &bot.repo, "staging")
        .await
        .expect("bake")
        .expect("one");
    assert_eq!(row.state, "breached");
    assert_eq!(
        row.restored_at.zip(row.finished_at).map(|(r, f)| r - f),
        Some(40_000)
    );
    let shown = maya_says(&bot, "/release verify staging").await;
    assert!(
        shown.contains("failed verification on **staging**"),
        "{shown}"
    );
    assert!(shown.contains("restored in 40s"), "{shown}");
    let stats = maya_says(&bot, "/release stats").await;
    assert!(
        stats.contains("Verification: 1 of 2 bakes failed; their restore: median 40s"),
        "the figures count it: {stats}"
    );
    // The audit log has the breach, once, with the reason.
    let audited = bot.audited("deploy.verify").await;
    let breaches: Vec<_> = audited.iter().filter(|r| r.outcome == "breached").collect();
    assert_eq!(breaches.len(), 1, "{audited:?}");
    assert!(breaches[0].detail.contains("0.5 > max 0.02"));
}

async fn a_restart_mid_bake_resumes_it(test: TestDb) {
    let prometheus = FakePrometheus::start().await;
    let bot = TestBot::start_verified(&test, &config(&prometheus), &prometheus).await;
    released(&bot).await;
    let staging = bot.github.deployments()[0].id;
    report(&bot, staging, "success").await;
    prometheus.script(&[Value::Sample(0.0)]);
    next_round(&bot).await;
    next_round(&bot).await;

    // The process stops; a new one starts on the same store and carries the bake on.
    let restarted = bot.replica(&test).await;
    for _ in 0..2 {
        bot.clock.advance(jiff::SignedDuration::from_secs(5));
        let now = bot.clock_ms();
        trainyard::handlers::deploys::enqueue_due_bakes(&restarted.db, &restarted.queue, now)
            .await
            .expect("sweep");
        let drained = restarted.runner().run_pending().await.expect("jobs");
        assert_eq!(drained.dead, 0);
    }
    bot.run_jobs().await;
    assert_eq!(
        environments(&bot),
        [pair("staging", "v1.0.1"), pair("production", "v1.0.1")]
    );
    let row = bakes::latest(&bot.app.db, &bot.repo, "staging")
        .await
        .expect("bake")
        .expect("one");
    assert_eq!((row.state.as_str(), row.rounds), ("verified", 4));
}

async fn two_replicas_seeing_a_breach_make_one_rollback(test: TestDb) {
    let prometheus = FakePrometheus::start().await;
    let bot = TestBot::start_verified(&test, &config(&prometheus), &prometheus).await;
    breached(&bot, &prometheus).await;
    bot.clock.advance(jiff::SignedDuration::from_secs(5));
    let bake = bakes::latest(&bot.app.db, &bot.repo, "staging")
        .await
        .expect("bake")
        .expect("one");
    let other = bot.replica(&test).await;
    let job = || trainyard::handlers::deploys::CheckBake {
        repository: trainyard::domain::ids::RepoFullName::parse(&bot.repo).expect("repo"),
        bake_id: bake.id,
    };
    let (a, b) = tokio::join!(
        job().run(bot.app.train_context()),
        job().run(other.train_context())
    );
    a.expect("replica a");
    b.expect("replica b");
    bot.run_jobs().await;
    let rollbacks: Vec<_> = bot
        .github
        .deployments()
        .into_iter()
        .filter(|d| d.request["payload"]["rollback"] == true)
        .collect();
    assert_eq!(rollbacks.len(), 1, "{:?}", environments(&bot));
    let breaches = told(&bot)
        .await
        .into_iter()
        .filter(|(s, _)| s == "breached")
        .count();
    assert_eq!(breaches, 1);
}

async fn an_admin_skips_a_bake_with_a_reason(test: TestDb) {
    let prometheus = FakePrometheus::start().await;
    let bot = TestBot::start_verified(&test, &config(&prometheus), &prometheus).await;
    released(&bot).await;
    let staging = bot.github.deployments()[0].id;
    report(&bot, staging, "success").await;

    bot.comment(
        "carol",
        7,
        "/release verify staging skip hotfix for the outage",
    )
    .await;
    bot.run_jobs().await;
    let refused = bot.github.bot_comments_on(7).pop().unwrap_or_default();
    assert!(refused.contains("needs the admin role"), "{refused}");
    assert_eq!(environments(&bot).len(), 1);

    bot.github.set_collaborator("olga", "admin", "admin");
    bot.comment(
        "olga",
        7,
        "/release verify staging skip hotfix for the outage",
    )
    .await;
    bot.run_jobs().await;
    let skipped = bot.github.bot_comments_on(7).pop().unwrap_or_default();
    assert!(skipped.contains("skipped"), "{skipped}");
    assert_eq!(
        environments(&bot),
        [pair("staging", "v1.0.1"), pair("production", "v1.0.1")]
    );
    let (state, detail) = told(&bot).await.pop().expect("told");
    assert_eq!(state, "skipped");
    assert_eq!(detail, "by olga: hotfix for the outage");
    assert_eq!(next_round(&bot).await, 0, "a skipped bake has no rounds");
    bot.comment("olga", 7, "/release verify staging skip again")
        .await;
    bot.run_jobs().await;
    let again = bot.github.bot_comments_on(7).pop().unwrap_or_default();
    assert!(again.contains("nothing is baking on staging"), "{again}");
}

/// production is deployed by a workflow behind trainyard's protection rule and requires
/// staging: the workflow's job waits through staging's bake and is approved when it passes.
async fn a_protection_rule_waits_for_the_bake(test: TestDb) {
    let prometheus = FakePrometheus::start().await;
    let config = config(&prometheus).replace("after: staging\n      ", "");
    let bot = TestBot::start_verified(&test, &config, &prometheus).await;
    released(&bot).await;
    let staging = bot.github.deployments()[0].id;
    report(&bot, staging, "success").await;

    let waits = bot
        .github
        .workflow_waits(901, "v1.0.1", "production", "maya");
    assert_eq!(
        bot.deliver("deployment_protection_rule", &waits).await,
        http::StatusCode::ACCEPTED
    );
    bot.run_jobs().await;
    let answers = |bot: &TestBot| {
        bot.github
            .protection_reviews()
            .into_iter()
            .filter(|r| r.run_id == 901)
            .map(|r| r.state)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        answers(&bot),
        Vec::<String>::new(),
        "waits while staging bakes"
    );
    prometheus.script(&[Value::Sample(0.0)]);
    for _ in 0..3 {
        next_round(&bot).await;
        assert_eq!(answers(&bot), Vec::<String>::new());
    }
    next_round(&bot).await;
    assert_eq!(answers(&bot), ["approved"], "approved once the bake passed");
    assert_eq!(
        environments(&bot).len(),
        1,
        "the workflow deploys, not trainyard"
    );
}

/// The dashboard shows each environment's latest bake and a chart of its readings against
/// the ceiling, in a real browser.
async fn the_dashboard_shows_the_bake_and_its_chart(test: TestDb) {
    let Some(chromium) = harness::browser::chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI needs chromium");
        eprintln!("SKIPPED the bake in a browser: no chromium");
        return;
    };
    let Some(driver) = harness::browser::Driver::start(&chromium).await else {
        assert!(std::env::var_os("CI").is_none(), "CI needs chromedriver");
        eprintln!("SKIPPED the bake in a browser: no chromedriver");
        return;
    };
    let prometheus = FakePrometheus::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let bot =
        TestBot::start_verified_web(&test, &config(&prometheus), &prometheus, Some(&base)).await;
    let app = trainyard::app::router(bot.app.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    breached(&bot, &prometheus).await;
    prometheus.script(&[Value::Sample(0.5)]);
    next_round(&bot).await;

    bot.github.sign_in_as(8, "maya");
    driver.open(&format!("{base}/")).await;
    driver.click("form[action='/signin'] button").await;
    for _ in 0..150 {
        if driver.text().await.contains("signed in as maya") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    driver
        .open(&format!("{base}/repos/{}#verification", bot.repo))
        .await;
    let page = driver.text().await;
    assert!(page.contains("Verification"), "{page}");
    assert!(page.contains("staging: v1.0.2 failed:"), "{page}");
    assert!(page.contains("0.5 > max 0.02"), "{page}");
    assert!(page.contains("Failed bakes"), "{page}");
    let source = driver.source().await;
    assert!(
        source.contains("readings by round: 0, 0.5"),
        "the chart holds each round: {source}"
    );
    assert!(source.contains(">max 0.02<"), "the ceiling is drawn");
    driver
        .screenshot(&harness::browser::screenshots().join("verify-1-breached-bake.png"))
        .await;
    let errors = driver.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

/// Prometheus is down for the whole bake: nothing passes, nothing is rolled back; the bake
/// waits, says why, and a day after its end expires with what follows still held.
async fn an_unreadable_check_holds_the_bake_until_it_expires(test: TestDb) {
    let prometheus = FakePrometheus::start().await;
    let bot = TestBot::start_verified(&test, &config(&prometheus), &prometheus).await;
    released(&bot).await;
    let staging = bot.github.deployments()[0].id;
    report(&bot, staging, "success").await;
    prometheus.script(&[Value::Down]);
    for _ in 0..6 {
        next_round(&bot).await;
    }
    assert_eq!(
        environments(&bot).len(),
        1,
        "nothing follows, nothing rolls back"
    );
    let shown = maya_says(&bot, "/release verify staging").await;
    assert!(shown.contains("Prometheus answered 503"), "{shown}");
    assert!(shown.contains("0s left"), "{shown}");

    bot.clock.advance(jiff::SignedDuration::from_hours(24));
    next_round(&bot).await;
    let (state, detail) = told(&bot).await.pop().expect("told");
    assert_eq!(state, "expired");
    assert!(detail.contains("what follows stays held"), "{detail}");
    assert_eq!(next_round(&bot).await, 0, "its rounds stop");
    assert_eq!(environments(&bot).len(), 1);
    let refused = maya_says(&bot, "/release deploy 1.0.1 to production").await;
    assert!(
        refused.contains("staging has no successful deployment"),
        "{refused}"
    );
}

/// v1.0.2 reaches staging while v1.0.1 still bakes there: v1.0.1's bake stops (its readings
/// are v1.0.2's now) and only v1.0.2, once verified, goes on to production.
async fn a_newer_release_on_staging_supersedes_the_bake(test: TestDb) {
    let prometheus = FakePrometheus::start().await;
    let bot = TestBot::start_verified(&test, &config(&prometheus), &prometheus).await;
    released(&bot).await;
    let first = bot.github.deployments()[0].id;
    report(&bot, first, "success").await;
    prometheus.script(&[Value::Sample(0.0)]);
    next_round(&bot).await;

    released_next(&bot, 2).await;
    let second = bot.github.deployments()[1].clone();
    assert_eq!(
        pair(&second.environment, &second.git_ref),
        pair("staging", "v1.0.2")
    );
    report(&bot, second.id, "success").await;
    let states: Vec<(String, String)> = told(&bot).await;
    assert_eq!(
        states.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        ["baking", "superseded", "baking"],
        "{states:?}"
    );
    assert!(
        states[1].1.starts_with("v1.0.2 now runs there"),
        "{states:?}"
    );
    for _ in 0..4 {
        next_round(&bot).await;
    }
    assert_eq!(
        environments(&bot),
        [
            pair("staging", "v1.0.1"),
            pair("staging", "v1.0.2"),
            pair("production", "v1.0.2")
        ],
        "v1.0.1 never reaches production"
    );
}

on_both_backends!(
    a_newer_release_on_staging_supersedes_the_bake,
    an_unreadable_check_holds_the_bake_until_it_expires,
    the_dashboard_shows_the_bake_and_its_chart,
    a_protection_rule_waits_for_the_bake,
    a_clean_bake_promotes_staging_to_production,
    a_breach_rolls_staging_back_and_holds_production,
    a_restart_mid_bake_resumes_it,
    two_replicas_seeing_a_breach_make_one_rollback,
    an_admin_skips_a_bake_with_a_reason,
);

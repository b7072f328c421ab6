//! Deployment stories on the stateful fake GitHub, through the real HTTP entry: a train is
//! released, deployments are asked for by comment (the grammar is the same in Slack and
//! Discord) or automatically, GitHub answers and reports statuses by webhook, and the
//! assertions are on GitHub's deployments, the bot's replies and the rows in the store.

mod harness;

use trainyard::store::deployments;

use harness::TestDb;
use harness::bot::TestBot;

/// staging deploys itself on publishing; production needs staging's success first.
const CONFIG: &str = concat!(
    "trains:\n  lines:\n    - name: main\n      branch: master\n",
    "deploy:\n  environments:\n",
    "    - name: staging\n      auto: true\n      transient: true\n",
    "    - name: production\n      requires: staging\n",
);

const REPO: &str = "Codertocat/Hello-World";

/// #1 merged, cut by carol, approved by maya: v1.0.1 is released.
async fn released(bot: &TestBot) {
    bot.merge_and_cut().await;
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
}

/// The bot's replies on issue 7, newest last.
fn replies(bot: &TestBot) -> Vec<String> {
    bot.github.bot_comments_on(7)
}

fn last_reply(bot: &TestBot) -> String {
    replies(bot).pop().unwrap_or_default()
}

/// Maya's `command` on issue 7, run through; the bot's last reply.
async fn maya_says(bot: &TestBot, command: &str) -> String {
    bot.comment("maya", 7, command).await;
    bot.run_jobs().await;
    last_reply(bot)
}

/// GitHub reports `state` for deployment `id`.
async fn report(bot: &TestBot, id: u64, state: &str) {
    let payload = bot.github.deployment_status(id, state, None);
    bot.deliver("deployment_status", &payload).await;
    bot.run_jobs().await;
}

async fn the_train_goes_from_label_to_production(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    released(&bot).await;

    // Publishing asked for staging: one deployment of the tag, never merged into, with the
    // train's facts in its payload.
    let created = bot.github.deployments();
    assert_eq!(created.len(), 1, "{created:?}");
    let staging = &created[0];
    assert_eq!(staging.environment, "staging");
    assert_eq!(staging.git_ref, "v1.0.1");
    let request = &staging.request;
    assert_eq!(request["auto_merge"], false);
    assert_eq!(request["transient_environment"], true);
    assert_eq!(request["production_environment"], false);
    assert!(request.get("required_contexts").is_none());
    let payload = &request["payload"];
    assert_eq!(payload["version"], "1.0.1");
    assert_eq!(payload["pull_requests"], serde_json::json!([1]));
    assert_eq!(payload["requested_by"], "trainyard");
    assert!(
        payload["request_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("auto:"))
    );

    // Production before staging has succeeded: refused with the reason, nothing created.
    bot.comment("maya", 7, "/release deploy 1.0.1 to production")
        .await;
    bot.run_jobs().await;
    let reply = last_reply(&bot);
    assert!(
        reply.contains("staging has no successful deployment of v1.0.1"),
        "{reply}"
    );
    assert_eq!(bot.github.deployments().len(), 1);

    // Staging reports in_progress then success; production is then allowed.
    report(&bot, staging.id, "in_progress").await;
    report(&bot, staging.id, "success").await;
    bot.comment("maya", 7, "/release deploy latest to production")
        .await;
    bot.run_jobs().await;
    let created = bot.github.deployments();
    assert_eq!(created.len(), 2, "{created:?}");
    let production = &created[1];
    assert_eq!(production.environment, "production");
    assert_eq!(production.git_ref, "v1.0.1");
    assert_eq!(production.request["production_environment"], true);
    assert_eq!(production.request["payload"]["requested_by"], "maya");
    report(&bot, production.id, "success").await;
    // Production's success is told on the release's pull request, once (staging's is not).
    report(&bot, production.id, "success").await;
    let on_pr: Vec<String> = bot
        .github
        .bot_comments_on(1)
        .into_iter()
        .filter(|c| c.contains("Deployed to"))
        .collect();
    assert_eq!(on_pr.len(), 1, "{on_pr:?}");
    assert!(
        on_pr[0].starts_with("Deployed to production in [v1.0.1]("),
        "{on_pr:?}"
    );

    // The store tells the whole story; so does `/release deploys`.
    let rows = deployments::history(&bot.app.db, REPO, "production", 10)
        .await
        .expect("history");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, "success");
    assert_eq!(rows[0].github_id, Some(production.id as i64));
    let kinds = bot.event_kinds().await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "deployment").count(),
        6,
        "staging: requested, in_progress, success; production: requested, success (twice, \
         as GitHub reported it); nothing for the refusal: {kinds:?}"
    );
    bot.comment("rick", 7, "/release deploys").await;
    bot.run_jobs().await;
    let deploys = last_reply(&bot);
    assert!(deploys.contains("**production**: `v1.0.1`"), "{deploys}");
    assert!(deploys.contains("**staging**: `v1.0.1`"), "{deploys}");
}

async fn a_lock_holds_an_environment_until_it_is_unlocked(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    released(&bot).await;
    let staging = bot.github.deployments()[0].id;
    report(&bot, staging, "success").await;

    // dave locks production; maya may not deploy there.
    bot.comment("dave", 7, "/release lock production database migration")
        .await;
    bot.run_jobs().await;
    assert!(
        last_reply(&bot).contains("production is locked"),
        "{}",
        last_reply(&bot)
    );
    bot.comment("maya", 7, "/release deploy 1.0.1 to production")
        .await;
    bot.run_jobs().await;
    let reply = last_reply(&bot);
    assert!(
        reply.contains("production is locked by dave: database migration"),
        "{reply}"
    );
    assert_eq!(bot.github.deployments().len(), 1);

    // dave's own deployment fails; the lock stays.
    bot.comment("dave", 7, "/release deploy 1.0.1 to production")
        .await;
    bot.run_jobs().await;
    let production = bot.github.deployments()[1].id;
    report(&bot, production, "failure").await;
    let lock = deployments::lock_of(&bot.app.db, REPO, "production")
        .await
        .expect("lock")
        .expect("still locked after a failed deployment");
    assert_eq!(lock.owner, "dave");

    // A second lock is refused; unlock frees it for maya.
    bot.comment("maya", 7, "/release lock production mine now")
        .await;
    bot.run_jobs().await;
    assert!(
        last_reply(&bot).contains("already locked by dave"),
        "{}",
        last_reply(&bot)
    );
    bot.comment("dave", 7, "/release unlock production").await;
    bot.run_jobs().await;
    assert!(last_reply(&bot).contains("production is unlocked"));
    bot.comment("maya", 7, "/release deploy 1.0.1 to production")
        .await;
    bot.run_jobs().await;
    assert_eq!(bot.github.deployments().len(), 3);

    // Writers may not deploy to production (maintain by default), nor to a typo.
    bot.comment("carol", 7, "/release deploy 1.0.1 to production")
        .await;
    bot.run_jobs().await;
    assert!(
        last_reply(&bot)
            .contains("deploying to production needs the maintain role; carol has write"),
        "{}",
        last_reply(&bot)
    );
    bot.comment("maya", 7, "/release deploy 1.0.1 to prodution")
        .await;
    bot.run_jobs().await;
    assert!(
        last_reply(&bot).contains("did you mean `production`?"),
        "{}",
        last_reply(&bot)
    );
    assert_eq!(bot.github.deployments().len(), 3);
}

async fn githubs_refusals_are_answered_with_the_reason(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    // Publishing's automatic deployment meets failing required checks (409).
    bot.github.answer_next_deployment(
        409,
        serde_json::json!({
            "message": "Conflict: Commit status checks failed for v1.0.1.",
            "errors": [{"contexts": [{"context": "ci/build", "state": "failure"},
                                     {"context": "lint", "state": "pending"}],
                        "resource": "Deployment", "field": "required_contexts", "code": "invalid"}],
        }),
    );
    released(&bot).await;
    assert!(bot.github.deployments().is_empty());
    let rows = deployments::history(&bot.app.db, REPO, "staging", 10)
        .await
        .expect("history");
    assert_eq!(rows[0].state, "refused");
    let reason = rows[0].reason.clone().unwrap_or_default();
    assert!(
        reason.contains("failing checks: ci/build (failure), lint (pending)"),
        "{reason}"
    );

    // A 422 is answered too, and a new request is a new deployment once GitHub allows it.
    bot.github.answer_next_deployment(
        422,
        serde_json::json!({"message": "Validation Failed", "errors": [{"code": "custom", "message": "No ref found for: v9"}]}),
    );
    bot.comment("maya", 7, "/release deploy 1.0.1 to staging")
        .await;
    bot.run_jobs().await;
    let rows = deployments::history(&bot.app.db, REPO, "staging", 10)
        .await
        .expect("history");
    assert_eq!(rows[0].state, "refused");
    assert!(
        rows[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("GitHub refused (422)")),
        "{rows:?}"
    );
    bot.comment("maya", 7, "/release deploy 1.0.1 to staging")
        .await;
    bot.run_jobs().await;
    assert_eq!(bot.github.deployments().len(), 1);
}

async fn a_lost_answer_does_not_make_a_second_deployment(test: TestDb) {
    use harness::fake_github::Strike;
    let bot = TestBot::start(&test, CONFIG).await;
    // GitHub creates the deployment but the answer is lost; the retry finds it.
    bot.github
        .fail_next("POST", "/deployments", Strike::After, 1);
    released(&bot).await;
    bot.run_jobs().await;
    let created = bot.github.deployments();
    assert_eq!(created.len(), 1, "{created:?}");
    let rows = deployments::history(&bot.app.db, REPO, "staging", 10)
        .await
        .expect("history");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].github_id, Some(created[0].id as i64));
    // One deployment, audited once, found again or not.
    let query = trainyard::store::audit::Query {
        repository: Some(REPO.into()),
        since: None,
        limit: 100,
    };
    let audited: Vec<String> = trainyard::store::audit::recent(&bot.app.db, &query)
        .await
        .expect("audit")
        .into_iter()
        .filter(|r| r.action == "github.deployment")
        .map(|r| r.detail)
        .collect();
    assert_eq!(
        audited,
        [format!(
            "deploy {} to staging (deployment {}), asked by trainyard",
            rows[0].ref_name, created[0].id
        )]
    );
}

async fn rollback_deploys_the_previous_release_and_ci_deployments_count(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    released(&bot).await;
    let first = bot.github.deployments()[0].id;
    report(&bot, first, "success").await;

    // v1.0.2: #2 merged, cut and approved; staging deploys it automatically.
    bot.merge(2, "Fix the clock", &["release"]).await;
    bot.run_jobs().await;
    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    let second = bot.github.deployments()[1].clone();
    assert_eq!(second.git_ref, "v1.0.2");
    report(&bot, second.id, "success").await;

    bot.comment("carol", 7, "/release rollback staging").await;
    bot.run_jobs().await;
    let rollback = bot.github.deployments()[2].clone();
    assert_eq!(rollback.git_ref, "v1.0.1");
    assert_eq!(rollback.request["payload"]["rollback"], true);
    assert!(last_reply(&bot).contains("rolling back v1.0.1 to staging"));

    // CI deploys to a preview environment by itself: it shows in `/release deploys`.
    let by_ci = bot.github.deploy_by_ci("v1.0.2", "preview");
    bot.deliver("deployment", &by_ci).await;
    bot.run_jobs().await;
    let id = by_ci["deployment"]["id"].as_u64().expect("id");
    report(&bot, id, "success").await;
    bot.comment("rick", 7, "/release deploys").await;
    bot.run_jobs().await;
    let deploys = last_reply(&bot);
    assert!(deploys.contains("**preview**: `v1.0.2`"), "{deploys}");
    assert!(deploys.contains("github-actions"), "{deploys}");
}

async fn a_freeze_window_holds_production_unless_an_admin_forces_it(test: TestDb) {
    let config = concat!(
        "trains:\n  lines:\n    - name: main\n      branch: master\n",
        "deploy:\n  timezone: Europe/Berlin\n  environments:\n",
        "    - name: production\n      freeze: ['Fri 16:00-Mon 08:00', '2026-12-24..2027-01-01']\n",
    );
    let bot = TestBot::start(&test, config).await;
    bot.github.set_collaborator("olga", "admin", "admin");
    released(&bot).await;
    // Friday 09:00 UTC is 10:00 in Berlin: not frozen yet.
    bot.comment("maya", 7, "/release deploy 1.0.1 to production")
        .await;
    bot.run_jobs().await;
    assert_eq!(bot.github.deployments().len(), 1);

    // Friday 15:30 UTC is 16:30 in Berlin: frozen.
    bot.clock
        .advance(jiff::SignedDuration::from_mins(6 * 60 + 30));
    let reply = maya_says(&bot, "/release deploy 1.0.1 to production").await;
    assert!(
        reply.contains("production is frozen (Fri 16:00-Mon 08:00); an admin may deploy anyway"),
        "{reply}"
    );
    bot.comment(
        "maya",
        7,
        "/release deploy 1.0.1 to production force urgent",
    )
    .await;
    bot.run_jobs().await;
    assert!(
        last_reply(&bot).contains("forcing a deployment needs the admin role; maya has maintain"),
        "{}",
        last_reply(&bot)
    );
    assert_eq!(bot.github.deployments().len(), 1);

    // An admin forces it, saying why: allowed, and the reason travels with it.
    bot.comment(
        "olga",
        7,
        "/release deploy 1.0.1 to production force fix for the outage",
    )
    .await;
    bot.run_jobs().await;
    let created = bot.github.deployments();
    assert_eq!(created.len(), 2, "{}", last_reply(&bot));
    assert_eq!(
        created[1].request["payload"]["forced_reason"],
        "fix for the outage"
    );
    let rows = deployments::history(&bot.app.db, REPO, "production", 10)
        .await
        .expect("history");
    assert_eq!(rows[0].forced_reason.as_deref(), Some("fix for the outage"));
    assert_eq!(rows[0].requested_by, "olga");
}

async fn a_fortnightly_freeze_holds_production_on_its_weeks_only(test: TestDb) {
    let config = concat!(
        "trains:\n  lines:\n    - name: main\n      branch: master\n",
        "deploy:\n  timezone: Europe/Berlin\n  environments:\n",
        "    - name: production\n",
        "      freeze: ['every 2 weeks on Fri 16:00 for 64h from 2026-11-13']\n",
    );
    let bot = TestBot::start(&test, config).await;
    released(&bot).await;
    // Friday 2026-11-27 15:30 UTC is 16:30 in Berlin, two weeks after the first window.
    bot.clock
        .advance(jiff::SignedDuration::from_mins(6 * 60 + 30));
    let reply = maya_says(&bot, "/release deploy 1.0.1 to production").await;
    assert!(
        reply.contains("production is frozen (every 2 weeks on Fri 16:00 for 64h from 2026-11-13)"),
        "{reply}"
    );
    assert!(bot.github.deployments().is_empty());
    let deploys = maya_says(&bot, "/release deploys").await;
    assert!(
        deploys.contains(
            "❄️ frozen until Mon 2026-11-30 08:00 Europe/Berlin (every 2 weeks on Fri 16:00 \
             for 64h from 2026-11-13)"
        ),
        "{deploys}"
    );
    // The Friday after is an off week.
    bot.clock.advance(jiff::SignedDuration::from_hours(7 * 24));
    let reply = maya_says(&bot, "/release deploy 1.0.1 to production").await;
    assert_eq!(bot.github.deployments().len(), 1, "{reply}");
    let deploys = maya_says(&bot, "/release deploys").await;
    assert!(
        deploys.contains("next freeze Fri 2026-12-11 16:00 – Mon 2026-12-14 08:00 Europe/Berlin"),
        "{deploys}"
    );
}

async fn github_calls_per_deployment(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    released(&bot).await;
    let staging = bot.github.deployments()[0].id;

    // A relayed status costs no GitHub call but its passengers' check runs (one update each:
    // "deployed: staging ✓").
    let before = bot.github.log().len();
    report(&bot, staging, "success").await;
    let check = bot.github.check_of(1).expect("the check of #1");
    assert_eq!(
        bot.github.log()[before..],
        [(
            "PATCH".to_owned(),
            format!("/repos/{REPO}/check-runs/{}", check.id)
        )]
    );
    assert_eq!(check.title, "deployed: staging ✓");

    // A commanded deployment: the tag checked against the released commit, then the
    // deployment (maya's role is still known from her approval; it is read at most once a
    // minute).
    let before = bot.github.log().len();
    bot.comment("maya", 7, "/release deploy 1.0.1 to production")
        .await;
    bot.run_jobs().await;
    let calls: Vec<String> = bot.github.log()[before..]
        .iter()
        .map(|(method, path)| format!("{method} {path}"))
        .filter(|call| {
            !call.contains("/issues/")
                && !call.contains("/comments")
                && !call.contains("/check-runs")
        })
        .collect();
    assert_eq!(
        calls,
        [
            "GET /repos/Codertocat/Hello-World/git/ref/tags/v1.0.1",
            "POST /repos/Codertocat/Hello-World/deployments"
        ],
        "besides the 👀 reaction, the reply comment and the check runs"
    );
}

/// staging deploys itself on publishing; production follows staging's success, except in its
/// freeze window (Berlin time).
const FOLLOWING: &str = concat!(
    "trains:\n  lines:\n    - name: main\n      branch: master\n",
    "deploy:\n  timezone: Europe/Berlin\n  environments:\n",
    "    - name: staging\n      auto: true\n",
    "    - name: production\n      after: staging\n      freeze: ['Fri 16:00-Mon 08:00']\n",
);

/// The reasons given for automatic deployments that were held, in order.
async fn held(bot: &TestBot) -> Vec<String> {
    bot.events_of("deployment_held")
        .await
        .into_iter()
        .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn a_follow_up_is_held_by_a_lock_and_a_freeze_like_a_command(test: TestDb) {
    let bot = TestBot::start(&test, FOLLOWING).await;
    bot.comment("dave", 7, "/release lock production database migration")
        .await;
    bot.run_jobs().await;
    released(&bot).await;
    let staging = bot.github.deployments()[0].clone();
    assert_eq!(staging.environment, "staging");

    // Staging's success would start production, but dave holds it: nothing is created, and
    // the train's thread says why and which command starts it.
    report(&bot, staging.id, "success").await;
    assert_eq!(bot.github.deployments().len(), 1, "production is locked");
    assert_eq!(
        held(&bot).await,
        [
            "production is locked by dave: database migration; once it is unlocked, \
          `/release deploy v1.0.1 to production` starts it"
        ]
    );
    // Both automatic decisions are audited as trainyard's: staging's on publishing, and
    // production's refusal on behalf of whoever reported staging's success.
    let audited = bot.audited("deploy.automatic").await;
    let outcomes: Vec<(&str, &str)> = audited
        .iter()
        .map(|r| (r.outcome.as_str(), r.surface.as_str()))
        .collect();
    assert_eq!(outcomes, [("accepted", "trainyard"), ("refused", "github")]);
    assert!(audited.iter().all(|r| r.actor_login == "trainyard"));
    assert!(
        audited[1]
            .detail
            .contains("to production after staging's success reported by deploy-bot"),
        "{audited:?}"
    );
    // GitHub reports the same success again: still one refusal, told once.
    report(&bot, staging.id, "success").await;
    assert_eq!(held(&bot).await.len(), 1);

    // Unlocked, the command it named deploys exactly that release.
    bot.comment("dave", 7, "/release unlock production").await;
    bot.comment("maya", 7, "/release deploy v1.0.1 to production")
        .await;
    bot.run_jobs().await;
    let created = bot.github.deployments();
    assert_eq!(created.len(), 2, "{}", last_reply(&bot));
    assert_eq!(created[1].environment, "production");
    assert_eq!(created[1].git_ref, "v1.0.1");

    // Friday 16:30 in Berlin: v1.0.2 goes to staging by itself, but its success does not
    // carry it into production's freeze window.
    bot.clock
        .advance(jiff::SignedDuration::from_mins(6 * 60 + 30));
    bot.merge(2, "Fix the clock", &["release"]).await;
    bot.run_jobs().await;
    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    let second = bot.github.deployments()[2].clone();
    assert_eq!(
        (second.environment.as_str(), second.git_ref.as_str()),
        ("staging", "v1.0.2")
    );
    report(&bot, second.id, "success").await;
    assert_eq!(bot.github.deployments().len(), 3, "production is frozen");
    let reasons = held(&bot).await;
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[1].starts_with("production is frozen (Fri 16:00-Mon 08:00); an admin may deploy"),
        "{reasons:?}"
    );
}

async fn an_auto_environment_held_by_a_lock_is_not_deployed_on_release(test: TestDb) {
    let bot = TestBot::start(&test, FOLLOWING).await;
    bot.comment("carol", 7, "/release lock staging load test")
        .await;
    bot.run_jobs().await;
    released(&bot).await;
    assert!(bot.github.deployments().is_empty(), "staging is locked");
    assert_eq!(
        held(&bot).await,
        [
            "staging is locked by carol: load test; once it is unlocked, \
          `/release deploy v1.0.1 to staging` starts it"
        ]
    );
    assert!(
        deployments::history(&bot.app.db, REPO, "staging", 10)
            .await
            .expect("history")
            .is_empty()
    );
}

async fn a_follow_up_deploys_the_released_commit_or_nothing(test: TestDb) {
    let bot = TestBot::start(&test, FOLLOWING).await;
    released(&bot).await;
    let staging = bot.github.deployments()[0].clone();
    let released_sha = staging.sha.clone();

    // Someone with write access moves the tag to a commit of their own.
    let planted = bot.github.push("master");
    bot.github.add_tag("v1.0.1", &planted);
    report(&bot, staging.id, "success").await;

    // Production was decided for v1.0.1 at the released commit; the tag no longer names it,
    // so nothing is deployed and the reason is kept.
    assert_eq!(bot.github.deployments().len(), 1, "nothing deployed");
    let rows = deployments::history(&bot.app.db, REPO, "production", 10)
        .await
        .expect("history");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].state, "refused");
    assert_eq!(rows[0].sha.as_deref(), Some(released_sha.as_str()));
    let reason = rows[0].reason.clone().unwrap_or_default();
    assert!(
        reason.contains(&format!(
            "v1.0.1 now names {}, not the released commit {}",
            &planted[..7],
            &released_sha[..7]
        )),
        "{reason}"
    );
}

/// `after: staging`: staging's success promotes exactly what it deployed — the released tag
/// at the released commit — to production, once, whoever reported it and however often
/// GitHub delivers the status; a failure promotes nothing.
async fn staging_success_promotes_the_release_to_production_once(test: TestDb) {
    // Friday 10:00 in Berlin: before production's freeze window.
    let bot = TestBot::start(&test, FOLLOWING).await;
    released(&bot).await;
    let created = bot.github.deployments();
    assert_eq!(created.len(), 1, "staging deploys itself on publishing");
    let staging = created[0].clone();
    assert_eq!(
        (staging.environment.as_str(), staging.git_ref.as_str()),
        ("staging", "v1.0.1")
    );

    report(&bot, staging.id, "in_progress").await;
    assert_eq!(bot.github.deployments().len(), 1, "not before it succeeds");
    report(&bot, staging.id, "failure").await;
    assert_eq!(
        bot.github.deployments().len(),
        1,
        "a failure promotes nothing"
    );

    // The retried staging deployment succeeds; GitHub delivers the status twice.
    let success = bot.github.deployment_status(staging.id, "success", None);
    bot.deliver("deployment_status", &success).await;
    bot.deliver("deployment_status", &success).await;
    bot.run_jobs().await;
    let created = bot.github.deployments();
    assert_eq!(created.len(), 2, "one production deployment: {created:?}");
    let production = &created[1];
    assert_eq!(production.environment, "production");
    assert_eq!(production.git_ref, "v1.0.1");
    assert_eq!(production.sha, staging.sha, "the commit staging ran");
    assert_eq!(production.creator, "trainyard[bot]");

    let decided = bot.audited("deploy.automatic").await;
    let to_production: Vec<_> = decided
        .iter()
        .filter(|r| r.detail.contains("to production"))
        .collect();
    assert_eq!(to_production.len(), 1, "decided once: {decided:?}");
    assert_eq!(to_production[0].outcome, "accepted");
    assert_eq!(to_production[0].actor_login, "trainyard");
    assert!(held(&bot).await.is_empty());
}

on_both_backends!(
    staging_success_promotes_the_release_to_production_once,
    github_calls_per_deployment,
    a_freeze_window_holds_production_unless_an_admin_forces_it,
    a_fortnightly_freeze_holds_production_on_its_weeks_only,
    the_train_goes_from_label_to_production,
    a_lock_holds_an_environment_until_it_is_unlocked,
    githubs_refusals_are_answered_with_the_reason,
    a_lost_answer_does_not_make_a_second_deployment,
    rollback_deploys_the_previous_release_and_ci_deployments_count,
    a_follow_up_is_held_by_a_lock_and_a_freeze_like_a_command,
    an_auto_environment_held_by_a_lock_is_not_deployed_on_release,
    a_follow_up_deploys_the_released_commit_or_nothing,
);

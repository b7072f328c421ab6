//! The release gate stories on the stateful fake GitHub, through the real HTTP entry: a
//! GitHub Actions job deploying to an environment with trainyard as its deployment
//! protection rule waits for trainyard's answer, which GitHub receives once, decided by the
//! rules a `/release deploy` follows. Assertions are on the answers GitHub received, the
//! thread's events, the audit log and the rows left in the store.

mod harness;

use trainyard::clock::Clock as _;
use trainyard::domain::train::TrainState;
use trainyard::store::{api_tokens, gate_reviews};

use harness::TestDb;
use harness::bot::TestBot;
use harness::fake_github::{ProtectionReview, Strike};

const REPO: &str = "Codertocat/Hello-World";

/// production alone, deployed by a workflow.
const PRODUCTION: &str = concat!(
    "trains:\n  lines:\n    - name: main\n      branch: master\n",
    "deploy:\n  environments:\n    - name: production\n",
);

/// #1 merged, cut by carol, approved by maya: v1.0.1 is released.
async fn released(bot: &TestBot) {
    bot.merge_and_cut().await;
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
}

/// GitHub's run `run_id` deploys `git_ref` to `environment`, started by `sender`.
async fn workflow_waits(
    bot: &TestBot,
    run_id: u64,
    git_ref: &str,
    environment: &str,
    sender: &str,
) {
    let payload = bot
        .github
        .workflow_waits(run_id, git_ref, environment, sender);
    assert_eq!(
        bot.deliver("deployment_protection_rule", &payload).await,
        http::StatusCode::ACCEPTED
    );
    bot.run_jobs().await;
}

fn answers_for(bot: &TestBot, run_id: u64) -> Vec<ProtectionReview> {
    bot.github
        .protection_reviews()
        .into_iter()
        .filter(|r| r.run_id == run_id)
        .collect()
}

async fn review_of(bot: &TestBot, run_id: u64) -> gate_reviews::GateReview {
    gate_reviews::recent(&bot.app.db, REPO, 50)
        .await
        .expect("reviews")
        .into_iter()
        .find(|r| r.run_id == run_id as i64)
        .expect("the request is recorded")
}

fn short(sha: &str) -> &str {
    &sha[..7]
}

async fn a_workflow_deploying_the_cut_commit_is_approved_once_the_train_is_released(test: TestDb) {
    let bot = TestBot::start(&test, PRODUCTION).await;
    bot.merge_and_cut().await;
    let frozen = bot.trains(&[TrainState::Frozen]).await;
    let cut = frozen[0].target_sha.clone().expect("the cut commit");

    // The workflow reaches its production job before the train is approved: no answer yet,
    // the train's thread is told why once.
    workflow_waits(&bot, 501, &cut, "production", "maya").await;
    assert_eq!(answers_for(&bot, 501), []);
    let waiting = review_of(&bot, 501).await;
    assert_eq!(waiting.state, "waiting");
    assert_eq!(waiting.wait_for.as_deref(), Some("approval"));
    let told = bot.events_of("gate").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["state"], "waiting");
    assert!(
        told[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("v1.0.1 (commit") && r.contains("is cut but not released")),
        "{told:?}"
    );

    // maya approves: the release is published, and GitHub receives the approval, once.
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    let answers = answers_for(&bot, 501);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].environment, "production");
    assert_eq!(answers[0].state, "approved");
    assert_eq!(
        answers[0].comment,
        format!("v1.0.1 (commit {}) is released", short(&cut))
    );
    let approved = review_of(&bot, 501).await;
    assert_eq!(approved.state, "approved");
    assert!(approved.answered_at.is_some());
    assert_eq!(approved.train_id, Some(frozen[0].id));

    // Another commit is rejected with both commits named.
    let other = bot.github.push("master");
    workflow_waits(&bot, 502, &other, "production", "maya").await;
    let answers = answers_for(&bot, 502);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].state, "rejected");
    assert_eq!(
        answers[0].comment,
        format!(
            "commit {} is not a release; the latest release, v1.0.1, is commit {}",
            short(&other),
            short(&cut)
        )
    );

    // Audited: who started each run, and what the gate said.
    let audited = bot.audited("deploy.gate").await;
    let outcomes: Vec<&str> = audited.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(outcomes.len(), 3, "{audited:?}");
    assert!(outcomes.contains(&"waiting") && outcomes.contains(&"accepted"));
    assert!(outcomes.contains(&"refused"));
    assert!(audited.iter().all(|r| r.actor_login == "maya"));
}

async fn a_redelivered_request_is_answered_once_and_a_lost_answer_is_found_again(test: TestDb) {
    let bot = TestBot::start(&test, PRODUCTION).await;
    released(&bot).await;
    let tag = bot.github.tags();
    let released_sha = tag
        .iter()
        .find(|(name, _, _)| name == "v1.0.1")
        .map(|(_, sha, _)| sha.clone())
        .expect("the tag");

    // GitHub takes the answer but the reply is lost: the retry finds the job no longer
    // pending and sends nothing more.
    bot.github
        .fail_next("POST", "/deployment_protection_rule", Strike::After, 1);
    workflow_waits(&bot, 601, "v1.0.1", "production", "github-actions[bot]").await;
    let answers = answers_for(&bot, 601);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].state, "approved");

    // GitHub delivers the same request again: no second answer, no second record.
    let again = bot
        .github
        .workflow_waits(601, "v1.0.1", "production", "github-actions[bot]");
    bot.deliver("deployment_protection_rule", &again).await;
    bot.run_jobs().await;
    assert_eq!(answers_for(&bot, 601).len(), 1);
    let posts = bot
        .github
        .log()
        .iter()
        .filter(|(method, path)| {
            method == "POST" && path.ends_with("/runs/601/deployment_protection_rule")
        })
        .count();
    assert_eq!(posts, 1, "the answer was sent once");
    let rows = gate_reviews::recent(&bot.app.db, REPO, 10)
        .await
        .expect("reviews");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].sha, released_sha);
    assert_eq!(bot.audited("deploy.gate").await.len(), 1);
    assert_eq!(bot.audited("github.gate_review").await.len(), 1);
}

async fn a_locked_environment_is_answered_when_it_is_unlocked(test: TestDb) {
    let bot = TestBot::start(&test, PRODUCTION).await;
    released(&bot).await;
    bot.comment("dave", 7, "/release lock production database migration")
        .await;
    bot.run_jobs().await;

    workflow_waits(&bot, 701, "v1.0.1", "production", "maya").await;
    assert_eq!(answers_for(&bot, 701), []);
    let waiting = review_of(&bot, 701).await;
    assert_eq!(
        waiting.reason.as_deref(),
        Some("production is locked by dave: database migration")
    );
    bot.comment("rick", 7, "/release deploys").await;
    bot.run_jobs().await;
    let deploys = bot.github.bot_comments_on(7).pop().unwrap_or_default();
    assert!(
        deploys.contains(
            "• workflow run 701 → **production**: `{}` waits: production is locked by dave: \
             database migration"
                .replace("{}", short(&waiting.sha))
                .as_str()
        ),
        "{deploys}"
    );
    // dave's own run passes his lock.
    workflow_waits(&bot, 702, "v1.0.1", "production", "dave").await;
    assert_eq!(answers_for(&bot, 702)[0].state, "approved");

    bot.comment("dave", 7, "/release unlock production").await;
    bot.run_jobs().await;
    let answers = answers_for(&bot, 701);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].state, "approved");
}

async fn a_freeze_is_answered_when_its_window_ends(test: TestDb) {
    let config = concat!(
        "trains:\n  lines:\n    - name: main\n      branch: master\n",
        "deploy:\n  timezone: Europe/Berlin\n  environments:\n",
        "    - name: production\n      freeze: ['Fri 16:00-Mon 08:00']\n",
    );
    let bot = TestBot::start(&test, config).await;
    released(&bot).await;
    // Friday 15:30 UTC is 16:30 in Berlin: frozen until Monday 08:00 Berlin, 07:00 UTC.
    bot.clock
        .advance(jiff::SignedDuration::from_mins(6 * 60 + 30));
    workflow_waits(&bot, 801, "v1.0.1", "production", "maya").await;
    let waiting = review_of(&bot, 801).await;
    assert_eq!(waiting.wait_for.as_deref(), Some("window_end"));
    let monday: jiff::Timestamp = "2026-11-30T07:00:00Z".parse().expect("time");
    assert_eq!(waiting.recheck_at, Some(monday.as_millisecond()));

    let sweep = |at: jiff::Timestamp| {
        let (db, queue) = (bot.app.db.clone(), bot.app.queue.clone());
        async move {
            trainyard::handlers::deploys::gate::enqueue_thawed(&db, &queue, at.as_millisecond())
                .await
                .expect("sweep")
        }
    };
    let before = monday - jiff::SignedDuration::from_secs(1);
    assert_eq!(
        sweep(before).await,
        0,
        "nothing is due before the window ends"
    );
    bot.clock.advance(jiff::SignedDuration::from_secs(
        (monday.as_second() - bot.clock.now().as_second()) + 1,
    ));
    assert_eq!(sweep(bot.clock.now()).await, 1);
    bot.run_jobs().await;
    let answers = answers_for(&bot, 801);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].state, "approved");
}

async fn the_gate_follows_the_environments_rules(test: TestDb) {
    let config = concat!(
        "trains:\n  lines:\n    - name: main\n      branch: master\n",
        "deploy:\n  environments:\n",
        "    - name: staging\n      auto: true\n",
        "    - name: production\n      requires: staging\n",
    );
    let bot = TestBot::start(&test, config).await;
    released(&bot).await;

    // A writer may not start production's deployment; an unknown environment is refused.
    workflow_waits(&bot, 901, "v1.0.1", "production", "carol").await;
    assert_eq!(answers_for(&bot, 901)[0].state, "rejected");
    assert!(
        answers_for(&bot, 901)[0]
            .comment
            .contains("deploying to production needs the maintain role; carol has write")
    );
    workflow_waits(&bot, 902, "v1.0.1", "qa", "maya").await;
    assert!(
        answers_for(&bot, 902)[0]
            .comment
            .starts_with("there is no environment `qa`")
    );

    // Production waits for staging's success, then goes.
    workflow_waits(&bot, 903, "v1.0.1", "production", "maya").await;
    assert_eq!(answers_for(&bot, 903), []);
    assert_eq!(
        review_of(&bot, 903).await.reason.as_deref(),
        Some("staging has no successful deployment of v1.0.1; deploy it there first")
    );
    let staging = bot.github.deployments()[0].id;
    let status = bot.github.deployment_status(staging, "success", None);
    bot.deliver("deployment_status", &status).await;
    bot.run_jobs().await;
    let answers = answers_for(&bot, 903);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].state, "approved");
}

/// Asks the gate API as a deploy tool would.
async fn ask_api(
    bot: &TestBot,
    token: Option<&str>,
    query: &str,
) -> (http::StatusCode, serde_json::Value, harness::http::Answer) {
    let mut request = http::Request::get(format!("/api/v1/repos/{REPO}/gate?{query}"));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let answer = harness::http::send(
        &bot.app,
        request.body(axum::body::Body::empty()).expect("request"),
    )
    .await;
    let json = serde_json::from_str(&answer.body).unwrap_or(serde_json::Value::Null);
    (answer.status, json, answer)
}

async fn the_gate_api_answers_other_tools_from_the_same_decision(test: TestDb) {
    let bot = TestBot::start(&test, PRODUCTION).await;
    released(&bot).await;
    let (released_sha, _) = bot
        .github
        .tags()
        .into_iter()
        .find(|(name, _, _)| name == "v1.0.1")
        .map(|(_, sha, annotated)| (sha, annotated))
        .expect("the tag");
    let (_, token) = api_tokens::issue(&bot.app.db, REPO, "argo-cd", 0)
        .await
        .expect("token");
    let (_, elsewhere) = api_tokens::issue(&bot.app.db, "acme/other", "argo-cd", 0)
        .await
        .expect("token");
    let query = format!("environment=production&sha={released_sha}");

    // No token, another repository's token, a revoked one: 401, and nothing decided.
    let (status, body, answer) = ask_api(&bot, None, &query).await;
    assert_eq!(status, http::StatusCode::UNAUTHORIZED);
    assert_eq!(body["allowed"], false);
    assert_eq!(
        answer.all("www-authenticate"),
        ["Bearer realm=\"trainyard gate\""]
    );
    let (status, _, _) = ask_api(&bot, Some(&elsewhere), &query).await;
    assert_eq!(status, http::StatusCode::UNAUTHORIZED);
    let (status, body, _) = ask_api(&bot, Some(&token), "environment=production&sha=abc").await;
    assert_eq!(status, http::StatusCode::BAD_REQUEST, "{body}");
    assert!(bot.audited("deploy.gate").await.is_empty());

    // Locked: refused with the reason and what it waits for; unlocked: allowed.
    bot.comment("dave", 7, "/release lock production database migration")
        .await;
    bot.run_jobs().await;
    let (status, body, _) = ask_api(&bot, Some(&token), &query).await;
    assert_eq!(status, http::StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["allowed"], false);
    assert_eq!(
        body["reason"],
        "production is locked by dave: database migration"
    );
    assert_eq!(body["waiting_for"], "unlock");
    bot.comment("dave", 7, "/release unlock production").await;
    bot.run_jobs().await;
    let (status, body, _) = ask_api(&bot, Some(&token), &query).await;
    assert_eq!(status, http::StatusCode::OK, "{body}");
    assert_eq!(body["allowed"], true);
    assert_eq!(body["release"], "v1.0.1");

    // Any other commit: refused, both commits named.
    let other = bot.github.push("master");
    let (status, body, _) = ask_api(
        &bot,
        Some(&token),
        &format!("environment=production&sha={other}"),
    )
    .await;
    assert_eq!(status, http::StatusCode::FORBIDDEN);
    assert_eq!(
        body["reason"],
        format!(
            "commit {} is not a release; the latest release, v1.0.1, is commit {}",
            short(&other),
            short(&released_sha)
        )
    );

    // Every answered call is audited, as the token's holder, through the API.
    let audited = bot.audited("deploy.gate").await;
    let outcomes: Vec<&str> = audited.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(outcomes, ["refused", "accepted", "refused"]);
    assert!(
        audited
            .iter()
            .all(|r| r.actor_login == "token:argo-cd" && r.surface == "api")
    );

    // A revoked token no longer opens anything.
    let tokens = api_tokens::list(&bot.app.db, Some(REPO))
        .await
        .expect("list");
    api_tokens::revoke(&bot.app.db, tokens[0].id, 1)
        .await
        .expect("revoke");
    let (status, _, _) = ask_api(&bot, Some(&token), &query).await;
    assert_eq!(status, http::StatusCode::UNAUTHORIZED);
}

on_both_backends!(
    the_gate_api_answers_other_tools_from_the_same_decision,
    a_workflow_deploying_the_cut_commit_is_approved_once_the_train_is_released,
    a_redelivered_request_is_answered_once_and_a_lost_answer_is_found_again,
    a_locked_environment_is_answered_when_it_is_unlocked,
    a_freeze_is_answered_when_its_window_ends,
    the_gate_follows_the_environments_rules,
);

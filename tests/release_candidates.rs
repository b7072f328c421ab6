//! Release candidates inside a train, end to end on the stateful fake GitHub through the
//! real HTTP entry: `rc` tags the frozen commit `v1.0.1-rc.N` and publishes a pre-release
//! (never the latest) with what changed since the previous candidate; including a later fix
//! moves the frozen commit; approval waits for a candidate at it and releases that commit
//! with cumulative notes; a retried candidate job tags once; a line with `candidates: true`
//! makes rc.1 with the cut, and candidates deploy to staging but not to production.

mod harness;

use trainyard::domain::train::TrainState;

use harness::TestDb;
use harness::bot::TestBot;
use harness::fake_github::{REPO, Strike};

const CONFIG: &str = "trains:\n  lines:\n    - name: main\n      branch: master\n";

/// The bot's answers on issue 7, where the stories' commands are written.
fn answers(bot: &TestBot) -> Vec<String> {
    bot.github.bot_comments_on(7)
}

fn last_answer(bot: &TestBot) -> String {
    answers(bot).pop().unwrap_or_default()
}

/// The release GitHub holds for `tag`.
fn release(bot: &TestBot, tag: &str) -> serde_json::Value {
    bot.github
        .releases()
        .into_iter()
        .find(|r| r["tag_name"] == tag)
        .unwrap_or_else(|| panic!("no release {tag}: {:?}", bot.github.releases()))
}

fn short(sha: &str) -> &str {
    &sha[..7]
}

async fn candidates_then_a_fix_then_the_final_release(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    bot.merge_and_cut().await;
    let first = bot.github.head("master");

    // A reader may not cut a candidate.
    bot.comment("rick", 7, "/release rc").await;
    bot.run_jobs().await;
    assert_eq!(
        last_answer(&bot),
        format!(
            "**{REPO} rc** refused: `rc` needs write permission on the repository; rick has read"
        )
    );

    // rc.1 at the frozen commit: tagged, published as a pre-release, never the latest.
    bot.comment("carol", 7, "/release rc").await;
    bot.run_jobs().await;
    assert_eq!(
        last_answer(&bot),
        format!(
            "**{REPO} rc**: release candidate v1.0.1-rc.1 at {}: tagging and publishing a \
             pre-release",
            short(&first)
        )
    );
    let rc1 = release(&bot, "v1.0.1-rc.1");
    assert_eq!(rc1["prerelease"], true);
    assert_eq!(rc1["draft"], false);
    assert_eq!(rc1["make_latest"], "false");
    assert_eq!(rc1["target_commitish"], first.as_str());
    let body = rc1["body"].as_str().expect("body");
    assert!(body.contains("Add the departure board (#1)"), "{body}");

    // Nothing moved: a second rc is refused with the reason.
    bot.comment("carol", 7, "/release rc").await;
    bot.run_jobs().await;
    assert!(
        last_answer(&bot).contains("rc.1 is already at the frozen commit"),
        "{}",
        last_answer(&bot)
    );

    // A fix merged after the cut rides the open train until it is included: then the frozen
    // commit moves to it, and approval waits for a candidate there.
    bot.merge(2, "Fix the clock", &["release"]).await;
    bot.run_jobs().await;
    let fixed = bot.github.head("master");
    bot.comment("carol", 7, "/release include #2").await;
    bot.run_jobs().await;
    assert!(
        last_answer(&bot).contains(&format!(
            "#2 is on the train; its frozen commit moved to {}",
            short(&fixed)
        )),
        "{}",
        last_answer(&bot)
    );
    let frozen = bot.trains(&[TrainState::Frozen]).await;
    assert_eq!(frozen[0].target_sha.as_deref(), Some(fixed.as_str()));
    let open = bot.trains(&[TrainState::Open]).await;
    let open_passengers = trainyard::store::trains::passengers(&bot.app.db, open[0].id)
        .await
        .expect("passengers");
    assert!(open_passengers.is_empty(), "#2 left the open train");
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    assert!(
        last_answer(&bot).contains(&format!(
            "the frozen commit moved to {} after rc.1 ({})",
            short(&fixed),
            short(&first)
        )),
        "{}",
        last_answer(&bot)
    );

    // rc.2 lists only what changed since rc.1.
    bot.comment("carol", 7, "/release rc").await;
    bot.run_jobs().await;
    let rc2 = release(&bot, "v1.0.1-rc.2");
    assert_eq!(rc2["prerelease"], true);
    assert_eq!(rc2["make_latest"], "false");
    let body = rc2["body"].as_str().expect("body");
    assert!(body.contains("Fix the clock (#2)"), "{body}");
    assert!(!body.contains("(#1)"), "rc.1 had it: {body}");
    assert_eq!(rc2["target_commitish"], fixed.as_str());

    // The status card shows the candidates.
    bot.comment("rick", 7, "/release status").await;
    bot.run_jobs().await;
    let status = last_answer(&bot);
    assert!(status.contains("Release candidates:"), "{status}");
    assert!(
        status.contains(&format!("`v1.0.1-rc.1` at `{}`", short(&first))),
        "{status}"
    );
    assert!(
        status.contains(&format!("`v1.0.1-rc.2` at `{}`", short(&fixed))),
        "{status}"
    );

    // The final release: the last candidate's commit, notes cumulative since v1.0.0.
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    assert_eq!(
        last_answer(&bot),
        format!("**{REPO} approve**: approved; releasing v1.0.1")
    );
    assert_eq!(bot.trains(&[TrainState::Released]).await.len(), 1);
    let tags = bot.github.tags();
    for (tag, at) in [
        ("v1.0.1-rc.1", &first),
        ("v1.0.1-rc.2", &fixed),
        ("v1.0.1", &fixed),
    ] {
        assert!(
            tags.contains(&(tag.to_owned(), at.clone(), false)),
            "{tag} at {at}: {tags:?}"
        );
    }
    let last = release(&bot, "v1.0.1");
    assert_eq!(last["prerelease"], false);
    let body = last["body"].as_str().expect("body");
    assert!(
        body.contains("(#1)") && body.contains("(#2)"),
        "cumulative: {body}"
    );
    assert!(
        bot.github
            .releases()
            .iter()
            .filter(|r| r["make_latest"] == "true" && r["draft"] == false)
            .all(|r| r["tag_name"] == "v1.0.1"),
        "only the final release is the latest: {:?}",
        bot.github.releases()
    );
}

async fn a_retried_candidate_job_tags_and_publishes_once(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    bot.merge_and_cut().await;
    // GitHub creates the tag, then the answer is lost; then it creates the pre-release, and
    // that answer is lost too.
    bot.github.fail_next("POST", "/git/refs", Strike::After, 1);
    bot.github.fail_next("POST", "/releases", Strike::After, 1);
    bot.comment("carol", 7, "/release rc").await;
    bot.run_jobs().await;
    let tags: Vec<String> = bot
        .github
        .tags()
        .into_iter()
        .map(|(tag, _, _)| tag)
        .filter(|t| t.contains("-rc."))
        .collect();
    assert_eq!(tags, ["v1.0.1-rc.1"]);
    let published: Vec<serde_json::Value> = bot
        .github
        .releases()
        .into_iter()
        .filter(|r| r["tag_name"] == "v1.0.1-rc.1")
        .collect();
    assert_eq!(published.len(), 1, "{published:?}");
    let kinds = bot.event_kinds().await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "candidate_published").count(),
        1,
        "{kinds:?}"
    );
}

const DEPLOYING: &str = concat!(
    "trains:\n  lines:\n    - name: main\n      branch: master\n      candidates: true\n",
    "deploy:\n  environments:\n",
    "    - name: staging\n      auto: true\n",
    "    - name: production\n",
);

async fn a_candidate_line_cuts_rc1_and_deploys_it_to_staging_only(test: TestDb) {
    let bot = TestBot::start(&test, DEPLOYING).await;
    bot.merge_and_cut().await;
    let head = bot.github.head("master");
    assert!(
        last_answer(&bot).contains("release candidate v1.0.1-rc.1 is being tagged and published"),
        "{}",
        last_answer(&bot)
    );
    assert_eq!(release(&bot, "v1.0.1-rc.1")["prerelease"], true);
    // staging is `auto`: the candidate went there; production is not asked.
    let created = bot.github.deployments();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0].environment, "staging");
    assert_eq!(created[0].git_ref, "v1.0.1-rc.1");

    bot.comment("maya", 7, "/release deploy v1.0.1-rc.1 to production")
        .await;
    bot.run_jobs().await;
    assert!(
        last_answer(&bot)
            .contains("v1.0.1-rc.1 is a release candidate; production is a production environment"),
        "{}",
        last_answer(&bot)
    );
    assert_eq!(bot.github.deployments().len(), 1, "nothing more created");

    // Approval releases the candidate's commit.
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    assert!(
        bot.github
            .tags()
            .contains(&("v1.0.1".to_owned(), head.clone(), false))
    );
}

/// `final-requires-rc: false`: a line may release without a candidate at the frozen commit.
async fn a_line_may_release_without_a_current_candidate(test: TestDb) {
    let config = "trains:\n  lines:\n    - name: main\n      branch: master\n      \
                  final-requires-rc: false\n";
    let bot = TestBot::start(&test, config).await;
    bot.merge_and_cut().await;
    bot.comment("carol", 7, "/release rc").await;
    bot.run_jobs().await;
    bot.merge(2, "Fix the clock", &["release"]).await;
    bot.run_jobs().await;
    bot.comment("carol", 7, "/release include #2").await;
    bot.comment("carol", 7, "/release exclude #2").await;
    bot.run_jobs().await;
    assert!(
        last_answer(&bot).contains(
            "#2 left the train's notes; its code stays in the frozen commit until a revert is \
             merged and included"
        ),
        "{}",
        last_answer(&bot)
    );
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    assert_eq!(bot.trains(&[TrainState::Released]).await.len(), 1);
}

/// Candidates go to staging by themselves; production follows staging's success.
const FOLLOWING: &str = concat!(
    "trains:\n  lines:\n    - name: main\n      branch: master\n      candidates: true\n",
    "deploy:\n  environments:\n",
    "    - name: staging\n      auto: true\n",
    "    - name: production\n      after: staging\n",
);

async fn a_candidates_success_on_staging_sends_nothing_to_production(test: TestDb) {
    let bot = TestBot::start(&test, FOLLOWING).await;
    bot.merge_and_cut().await;
    let created = bot.github.deployments();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0].git_ref, "v1.0.1-rc.1");

    // A writer plants the final tag on a commit of their choosing, then staging reports the
    // candidate's success.
    let planted = bot.github.push("master");
    bot.github.add_tag("v1.0.1", &planted);
    let status = bot.github.deployment_status(created[0].id, "success", None);
    bot.deliver("deployment_status", &status).await;
    bot.run_jobs().await;

    // The train is frozen and unapproved: production gets nothing, and the thread says why.
    assert_eq!(bot.github.deployments().len(), 1, "nothing for production");
    let held: Vec<String> = bot
        .events_of("deployment_held")
        .await
        .into_iter()
        .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        held,
        [
            "v1.0.1-rc.1 is a release candidate; production is a production environment and \
          takes final releases"
        ]
    );
    assert_eq!(bot.trains(&[TrainState::Frozen]).await.len(), 1);
}

on_both_backends!(
    candidates_then_a_fix_then_the_final_release,
    a_retried_candidate_job_tags_and_publishes_once,
    a_candidate_line_cuts_rc1_and_deploys_it_to_staging_only,
    a_line_may_release_without_a_current_candidate,
    a_candidates_success_on_staging_sends_nothing_to_production,
);

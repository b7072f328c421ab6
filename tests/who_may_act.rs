//! Who may act, tried as an attacker would, through the real HTTP entry on the stateful fake
//! GitHub (issue #12): a writer editing a maintainer's comment, a replayed comment, and an
//! outsider on a public repository. Each attack is refused and changes nothing.

mod harness;

use trainyard::clock::Clock as _;
use trainyard::domain::train::TrainState;
use trainyard::store::trains as train_store;

use harness::TestDb;
use harness::bot::TestBot;

const CONFIG: &str = "trains:\n  lines:\n    - name: main\n      branch: master\n";

/// A frozen train, cut by carol, waiting for a maintainer's approval.
async fn frozen_train(test: &TestDb) -> TestBot {
    frozen_train_with(test, CONFIG).await
}

/// The same under the configuration `config`.
async fn frozen_train_with(test: &TestDb, config: &str) -> TestBot {
    let bot = TestBot::start(test, config).await;
    bot.merge_and_cut().await;
    assert_eq!(bot.trains(&[TrainState::Frozen]).await.len(), 1);
    bot
}

async fn approvals(bot: &TestBot) -> usize {
    let frozen = bot.trains(&[TrainState::Frozen]).await;
    train_store::approvals(&bot.app.db, frozen[0].id)
        .await
        .expect("approvals")
        .len()
}

async fn a_writer_editing_a_maintainers_comment_does_not_approve_as_them(test: TestDb) {
    let bot = frozen_train(&test).await;
    // maya, a maintainer, writes an old, harmless comment.
    bot.github.set_now(bot.clock.now());
    let comment = bot.github.comment("maya", 7, "Looks good to me.");
    bot.deliver("issue_comment", &comment).await;
    bot.run_jobs().await;
    // carol (write) edits it to add an approval: GitHub sends it with carol as the sender.
    let id = comment["comment"]["id"].as_u64().expect("id");
    let edited = bot
        .github
        .edit_comment("carol", id, "Looks good to me.\n/release approve");
    bot.deliver("issue_comment", &edited).await;
    bot.run_jobs().await;
    assert_eq!(approvals(&bot).await, 0, "no approval recorded for maya");
    assert!(bot.trains(&[TrainState::Released]).await.is_empty());
    let said = bot.github.bot_comments_on(7);
    assert_eq!(
        said.last().map(String::as_str),
        Some(
            "> /release approve\n\nnot carried out: carol edited a comment by maya; commands \
             count only in one's own comments"
        ),
        "{said:?}"
    );
    // maya's own command approves.
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    assert_eq!(bot.trains(&[TrainState::Released]).await.len(), 1);
}

async fn a_comment_delivered_long_after_it_was_written_is_not_acted_on(test: TestDb) {
    let bot = frozen_train(&test).await;
    // Written at 09:00, delivered eleven minutes later (a captured body sent again).
    bot.github.set_now(bot.clock.now());
    let comment = bot.github.comment("maya", 7, "/release approve");
    bot.clock.advance(jiff::SignedDuration::from_mins(11));
    bot.deliver("issue_comment", &comment).await;
    bot.run_jobs().await;
    assert_eq!(approvals(&bot).await, 0);
    let said = bot.github.bot_comments_on(7);
    assert!(
        said.last()
            .is_some_and(|s| s.contains("more than 10 minutes before it was delivered")),
        "{said:?}"
    );
    // Delivered in time, and then the same delivery body again: one approval, one release.
    bot.github.set_now(bot.clock.now());
    let comment = bot.github.comment("maya", 7, "/release approve");
    bot.deliver("issue_comment", &comment).await;
    bot.deliver("issue_comment", &comment).await;
    bot.run_jobs().await;
    assert_eq!(bot.trains(&[TrainState::Released]).await.len(), 1);
    let tags: Vec<_> = bot
        .github
        .tags()
        .into_iter()
        .filter(|(t, _, _)| t == "v1.0.1")
        .collect();
    assert_eq!(tags.len(), 1);
}

async fn an_outsider_gets_one_reaction_and_nothing_else(test: TestDb) {
    let bot = frozen_train(&test).await;
    let before = bot.github.bot_comments_on(7).len();
    bot.comment(
        "mallory",
        7,
        "/release status\n/release help\n/release approve\n/release include #999999",
    )
    .await;
    bot.run_jobs().await;
    assert_eq!(
        bot.github.bot_comments_on(7).len(),
        before,
        "the bot wrote nothing for an outsider"
    );
    let confused: Vec<_> = bot
        .github
        .reactions()
        .into_iter()
        .filter(|(_, content)| content == "confused")
        .collect();
    assert_eq!(confused.len(), 1);
    assert!(
        !bot.github
            .log()
            .iter()
            .any(|(_, path)| path.ends_with("/pulls/999999") || path.contains("/mallory/")),
        "nothing looked up on an outsider's behalf"
    );
    assert_eq!(approvals(&bot).await, 0);
}

/// The draft's id and whether it is a draft on GitHub now.
fn draft_state(bot: &TestBot, id: u64) -> bool {
    bot.github
        .releases()
        .iter()
        .find(|r| r["id"] == serde_json::json!(id))
        .map(|r| r["draft"] == true)
        .expect("the release")
}

async fn publishing_a_draft_by_hand_follows_the_approval_rules(test: TestDb) {
    // carol cut the train and only writes: her publishing is put back to draft.
    let bot = frozen_train(&test).await;
    let draft = bot.frozen_draft().await;
    let published = bot.github.publish_by_hand("carol", draft, None);
    bot.deliver("release", &published).await;
    bot.run_jobs().await;
    assert!(draft_state(&bot, draft), "a draft again");
    assert_eq!(bot.trains(&[TrainState::Frozen]).await.len(), 1);
    assert_eq!(approvals(&bot).await, 0);
    let events = bot.event_kinds().await;
    assert_eq!(events.last().map(String::as_str), Some("publish_undone"));

    // The open train's draft (never cut) published by a maintainer: a draft again too.
    bot.merge(2, "Fix the clock", &["release"]).await;
    bot.run_jobs().await;
    let open = bot.trains(&[TrainState::Open]).await;
    let open_draft = open[0].draft_release_id.expect("draft") as u64;
    let published = bot.github.publish_by_hand("maya", open_draft, None);
    bot.deliver("release", &published).await;
    bot.run_jobs().await;
    assert!(draft_state(&bot, open_draft));
    assert!(bot.trains(&[TrainState::Released]).await.is_empty());

    // A maintainer publishing the cut train's draft approves and releases it.
    let published = bot.github.publish_by_hand("maya", draft, None);
    bot.deliver("release", &published).await;
    bot.run_jobs().await;
    assert!(!draft_state(&bot, draft));
    assert_eq!(bot.trains(&[TrainState::Released]).await.len(), 1);
}

async fn publishing_counts_as_one_approval_of_several(test: TestDb) {
    let config = format!("{CONFIG}approvals:\n  required: 2\n");
    let bot = frozen_train_with(&test, &config).await;
    let draft = bot.frozen_draft().await;
    let published = bot.github.publish_by_hand("maya", draft, None);
    bot.deliver("release", &published).await;
    bot.run_jobs().await;
    assert!(
        draft_state(&bot, draft),
        "one approval of two: a draft again"
    );
    assert_eq!(approvals(&bot).await, 1);
    bot.comment("dave", 7, "/release approve").await;
    bot.run_jobs().await;
    assert_eq!(bot.trains(&[TrainState::Released]).await.len(), 1);
    assert!(!draft_state(&bot, draft));
}

async fn publishing_approves_nothing_where_the_repository_says_so(test: TestDb) {
    let config = format!("{CONFIG}approvals:\n  publishing-approves: false\n");
    let bot = frozen_train_with(&test, &config).await;
    let draft = bot.frozen_draft().await;
    let published = bot.github.publish_by_hand("maya", draft, None);
    bot.deliver("release", &published).await;
    bot.run_jobs().await;
    assert!(draft_state(&bot, draft));
    assert_eq!(approvals(&bot).await, 0);
    assert_eq!(bot.trains(&[TrainState::Frozen]).await.len(), 1);
}

/// The audit log as `action outcome actor (surface): detail`, oldest first.
async fn audit_log(bot: &TestBot) -> Vec<String> {
    let query = trainyard::store::audit::Query {
        repository: Some("Codertocat/Hello-World".into()),
        since: None,
        limit: 1000,
    };
    let mut records = trainyard::store::audit::recent(&bot.app.db, &query)
        .await
        .expect("audit");
    records.reverse();
    records
        .iter()
        .filter(|r| r.action.starts_with("command."))
        .map(|r| {
            format!(
                "{} {} {} ({}): {}",
                r.action, r.outcome, r.actor_login, r.surface, r.detail
            )
        })
        .collect()
}

async fn every_refusal_is_audited_once_with_its_reason(test: TestDb) {
    let bot = frozen_train(&test).await;
    bot.github.set_now(bot.clock.now());
    // A writer putting an approval into a maintainer's comment.
    let comment = bot.github.comment("maya", 7, "Looks good to me.");
    bot.deliver("issue_comment", &comment).await;
    let id = comment["comment"]["id"].as_u64().expect("id");
    let edited = bot
        .github
        .edit_comment("carol", id, "Looks good to me.\n/release approve");
    bot.deliver("issue_comment", &edited).await;
    // An outsider; and a reader, who may not approve.
    bot.comment("mallory", 7, "/release approve").await;
    bot.comment("rick", 7, "/release approve").await;
    bot.run_jobs().await;
    // The same deliveries again (GitHub redelivers): nothing is recorded twice.
    bot.deliver("issue_comment", &edited).await;
    bot.run_jobs().await;

    let log = audit_log(&bot).await;
    let expected_prefixes = [
        "command.cut accepted carol (comment): ",
        "command.approve refused carol (comment): not carried out: carol edited a comment by \
         maya",
        "command.approve refused mallory (comment): not one of the repository's people",
        "command.approve refused rick (comment): ",
    ];
    assert_eq!(log.len(), expected_prefixes.len(), "{log:#?}");
    for (record, prefix) in log.iter().zip(expected_prefixes) {
        assert!(
            record.starts_with(prefix),
            "{record:?} starts with {prefix:?}"
        );
    }
    assert!(log[3].contains("permission"), "the reason: {:?}", log[3]);

    // A maintainer reads the trail in a comment: newest first.
    bot.comment("maya", 7, "/release audit").await;
    bot.run_jobs().await;
    let said = bot.github.bot_comments_on(7);
    let trail = said.last().expect("an answer");
    assert!(trail.contains("audit, newest first"), "{trail}");
    let rick = trail.find("rick (comment)").expect("rick's refusal");
    let carol = trail
        .find("carol (comment)  command.cut accepted")
        .expect("the cut");
    assert!(rick < carol, "{trail}");
}

on_both_backends!(
    every_refusal_is_audited_once_with_its_reason,
    publishing_a_draft_by_hand_follows_the_approval_rules,
    publishing_counts_as_one_approval_of_several,
    publishing_approves_nothing_where_the_repository_says_so,
    a_writer_editing_a_maintainers_comment_does_not_approve_as_them,
    a_comment_delivered_long_after_it_was_written_is_not_acted_on,
    an_outsider_gets_one_reaction_and_nothing_else,
);

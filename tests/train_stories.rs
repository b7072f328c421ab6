//! Trains end to end on the stateful fake GitHub, through the real HTTP entry: merges,
//! labels, comments and releases published by hand as GitHub sends them, the bot's jobs,
//! and assertions on GitHub's resulting state and the store. Stories: the draft follows its
//! passengers (maintainers' highlights kept); fifty merges make one draft; cut, approve and
//! release with permissions, a moved head and a late label; tags that already exist; a draft
//! published by hand; reject, include and exclude against the frozen range; monorepo lines;
//! scheduled cuts, reminders and missed slots; the GitHub calls of a whole train.

mod harness;

use http::StatusCode;
use trainyard::domain::ids::RepoFullName;
use trainyard::domain::train::{GENERATED_MARKER, TrainState};
use trainyard::domain::train_event::TrainEvent;
use trainyard::handlers::trains::ScheduledCuts;
use trainyard::jobs::BackgroundJob as _;
use trainyard::store::trains as train_store;

use harness::TestDb;
use harness::bot::TestBot;
use harness::fake_github::REPO;

const CONFIG: &str = "trains:\n  lines:\n    - name: main\n      branch: master\n";

fn repo() -> RepoFullName {
    RepoFullName::parse(REPO).expect("repo")
}

/// The bodies of the bot's answers on issue 7, where the stories' commands are written.
fn answers(bot: &TestBot) -> Vec<String> {
    bot.github.bot_comments_on(7)
}

/// Who is aboard each train in `states`, as (line, number), sorted.
async fn aboard(bot: &TestBot, states: &[TrainState]) -> Vec<(String, i64)> {
    let mut all = Vec::new();
    for train in bot.trains(states).await {
        for p in train_store::passengers(&bot.app.db, train.id)
            .await
            .expect("passengers")
        {
            all.push((train.line.clone(), p.number));
        }
    }
    all.sort();
    all
}

async fn the_draft_follows_its_passengers_and_keeps_the_highlights(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    bot.merge(7, "Add the departure board", &["release"]).await;
    // Merged without the label: stays off until labelled.
    bot.merge(8, "Fix the clock", &[]).await;
    bot.run_jobs().await;
    let drafts = bot.github.drafts();
    assert_eq!(drafts.len(), 1, "one draft for the train");
    let body = drafts[0]["body"].as_str().expect("body").to_owned();
    assert!(body.starts_with(GENERATED_MARKER), "{body}");
    assert!(body.contains("Add the departure board (#7)"), "{body}");
    assert!(!body.contains("#8"), "{body}");
    assert_eq!(drafts[0]["tag_name"], "", "no tag template configured");
    assert_eq!(drafts[0]["target_commitish"], "master");

    // A maintainer writes highlights above the marker on GitHub; #8 is labelled late.
    let id = drafts[0]["id"].as_u64().expect("id");
    let edited =
        bot.github
            .edit_release("maya", id, &format!("Highlights: faster builds.\n\n{body}"));
    assert_eq!(bot.deliver("release", &edited).await, StatusCode::ACCEPTED);
    let labeled = bot.github.label(8, "release", true);
    assert_eq!(
        bot.deliver("pull_request", &labeled).await,
        StatusCode::ACCEPTED
    );
    bot.run_jobs().await;
    let drafts = bot.github.drafts();
    assert_eq!(drafts.len(), 1);
    let body = drafts[0]["body"].as_str().expect("body");
    assert!(body.starts_with("Highlights: faster builds.\n\n"), "{body}");
    assert!(body.contains("(#8)") && body.contains("(#7)"), "{body}");

    // Unlabelled: #7 leaves the train.
    let unlabeled = bot.github.label(7, "release", false);
    bot.deliver("pull_request", &unlabeled).await;
    bot.run_jobs().await;
    let body = bot.github.drafts()[0]["body"]
        .as_str()
        .expect("body")
        .to_owned();
    assert!(!body.contains("(#7)") && body.contains("(#8)"), "{body}");
    assert!(body.starts_with("Highlights: faster builds."), "{body}");
}

async fn fifty_merges_at_once_make_one_draft(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    let payloads: Vec<_> = (1..=50u64)
        .map(|n| {
            bot.github
                .merge_pr(n, &format!("Change {n}"), &["release"], "master")
        })
        .collect();
    let statuses =
        futures::future::join_all(payloads.iter().map(|p| bot.deliver("pull_request", p))).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::ACCEPTED));
    bot.run_jobs().await;
    let drafts = bot.github.drafts();
    assert_eq!(drafts.len(), 1, "never two drafts for one train");
    let body = drafts[0]["body"].as_str().expect("body");
    assert_eq!(body.matches("* Change ").count(), 50, "{body}");
}

async fn cut_and_approve_follow_permissions_and_tag_the_frozen_commit(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.merge(2, "Fix the clock", &["release"]).await;
    bot.run_jobs().await;
    bot.comment("rick", 7, "/release cut").await;
    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    let frozen_head = bot.github.head("master");
    // The branch moves on: a PR merged after the cut rides the next train; one merged
    // before it and labelled late boards the frozen one.
    bot.merge(3, "Merged after the cut", &["release"]).await;
    bot.run_jobs().await;
    bot.comment("rick", 7, "/release approve").await;
    bot.comment("carol", 7, "/release approve").await;
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    assert_eq!(
        answers(&bot),
        [
            "**Codertocat/Hello-World cut** refused: `cut` needs write permission on the \
             repository; rick has read"
                .to_owned(),
            format!(
                "**Codertocat/Hello-World cut**: cut v1.0.1 at {} with 2 pull requests; the \
                 next train is open",
                &frozen_head[..7]
            ),
            "**Codertocat/Hello-World approve** refused: `approve` needs maintain permission \
             on the repository; rick has read"
                .to_owned(),
            "**Codertocat/Hello-World approve** refused: `approve` needs maintain permission \
             on the repository; carol has write"
                .to_owned(),
            "**Codertocat/Hello-World approve**: approved; releasing v1.0.1".to_owned(),
        ]
    );
    let tags = bot.github.tags();
    assert!(
        tags.contains(&("v1.0.1".to_owned(), frozen_head.clone(), false)),
        "at the frozen commit, not the moved head: {tags:?}"
    );
    assert_eq!(tags.len(), 2, "v1.0.0 and v1.0.1 only");
    assert_eq!(
        aboard(&bot, &[TrainState::Open]).await,
        [("main".into(), 3)]
    );
    let url = format!("{}/{REPO}/releases/tag/v1.0.1", bot.github.uri());
    for number in [1, 2] {
        assert_eq!(
            bot.github.bot_comments_on(number),
            [format!("Released in [v1.0.1]({url}).")]
        );
    }
    assert!(bot.github.bot_comments_on(3).is_empty());
}

async fn a_late_label_inside_the_frozen_range_boards_the_frozen_train(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.merge(4, "Merged before the cut, labelled after", &[])
        .await;
    bot.run_jobs().await;
    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    bot.merge(3, "Merged after the cut", &[]).await;
    bot.run_jobs().await;
    for number in [4, 3] {
        let labeled = bot.github.label(number, "release", true);
        bot.deliver("pull_request", &labeled).await;
    }
    bot.run_jobs().await;
    assert_eq!(
        aboard(&bot, &[TrainState::Frozen]).await,
        [("main".into(), 1), ("main".into(), 4)]
    );
    assert_eq!(
        aboard(&bot, &[TrainState::Open]).await,
        [("main".into(), 3)]
    );
    let frozen_draft = bot
        .github
        .drafts()
        .into_iter()
        .find(|d| d["tag_name"] == "v1.0.1")
        .expect("the frozen train's draft");
    let body = frozen_draft["body"].as_str().expect("body");
    assert!(body.contains("(#4)") && !body.contains("(#3)"), "{body}");
}

async fn a_tag_already_at_another_commit_blocks_the_release_with_the_reason(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    let elsewhere = bot.github.head("master");
    bot.github.add_tag("v1.0.1", &elsewhere);
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    bot.comment("carol", 7, "/release cut").await;
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    let blocked = bot.trains(&[TrainState::Blocked]).await;
    assert_eq!(blocked.len(), 1);
    let frozen = bot.github.head("master");
    assert_eq!(
        blocked[0].blocked_reason.as_deref(),
        Some(
            format!("tag v1.0.1 already exists at {elsewhere}, not at the frozen commit {frozen}")
                .as_str()
        )
    );
    assert!(bot.github.bot_comments_on(1).is_empty(), "nothing released");
    assert!(
        bot.github
            .releases()
            .iter()
            .all(|r| r["draft"] == true || r["tag_name"] == "v1.0.0"),
        "nothing published"
    );
}

async fn a_tag_already_at_the_frozen_commit_counts_as_done(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    bot.github.add_tag("v1.0.1", &bot.github.head("master"));
    bot.comment("carol", 7, "/release cut").await;
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    assert_eq!(bot.trains(&[TrainState::Released]).await.len(), 1);
    assert_eq!(bot.github.tags().len(), 2, "no second tag");
}

async fn a_draft_published_by_hand_releases_the_train_or_blocks_it(test: TestDb) {
    // Published after the branch moved, its target set to the branch on GitHub's form:
    // GitHub tags the new head; the train is blocked.
    let bot = TestBot::start(&test, CONFIG).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    let frozen = bot.github.head("master");
    let draft = bot.github.drafts()[0]["id"].as_u64().expect("id");
    bot.github.push("master");
    let moved = bot.github.head("master");
    let published = bot.github.publish_by_hand("maya", draft, Some("master"));
    assert_eq!(
        bot.deliver("release", &published).await,
        StatusCode::ACCEPTED
    );
    bot.run_jobs().await;
    let blocked = bot.trains(&[TrainState::Blocked]).await;
    assert_eq!(blocked.len(), 1);
    let reason = blocked[0].blocked_reason.clone().unwrap_or_default();
    assert!(
        reason.contains("published the draft by hand")
            && reason.contains(&moved)
            && reason.contains(&frozen),
        "{reason}"
    );

    // The same before the branch moved: released, one comment per pull request.
    let other = if test.db.backend() == trainyard::store::Backend::Sqlite {
        TestDb::sqlite().await
    } else {
        match TestDb::postgres("published_by_hand_released").await {
            Some(db) => db,
            None => return,
        }
    };
    let bot = TestBot::start(&other, CONFIG).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    let draft = bot.github.drafts()[0]["id"].as_u64().expect("id");
    // The draft points at the frozen commit: GitHub tags it there.
    let published = bot.github.publish_by_hand("maya", draft, None);
    bot.deliver("release", &published).await;
    bot.run_jobs().await;
    let released = bot.trains(&[TrainState::Released]).await;
    assert_eq!(
        released.len(),
        1,
        "publishing by hand releases: {:?} {:?}",
        bot.trains(&[TrainState::Frozen, TrainState::Blocked, TrainState::Open])
            .await,
        bot.github.tags()
    );
    assert_eq!(bot.github.bot_comments_on(1).len(), 1);
}

async fn reject_reopens_and_include_exclude_respect_the_frozen_range(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    // #1 and #2 merged before the cut; #3 after it.
    bot.merge(1, "Change 1", &["release"]).await;
    bot.merge(2, "Change 2", &[]).await;
    bot.run_jobs().await;
    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    bot.merge(3, "Change 3", &[]).await;
    bot.run_jobs().await;
    bot.comment("carol", 7, "/release include #3").await;
    bot.comment("carol", 7, "/release include #2").await;
    bot.comment("carol", 7, "/release include #2").await;
    bot.comment("carol", 7, "/release exclude #1").await;
    // The cut opened the next train, so a reject folds the passengers into it.
    bot.comment("maya", 7, "/release reject needs the migration")
        .await;
    bot.run_jobs().await;
    bot.comment("maya", 7, "/release approve").await;
    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    let said = answers(&bot);
    assert_eq!(
        said[1..7],
        [
            "**Codertocat/Hello-World include** refused: #3 was not merged inside the frozen \
             range; it rides the next train"
                .to_owned(),
            "**Codertocat/Hello-World include**: #2 is on the train".to_owned(),
            "**Codertocat/Hello-World include** refused: #2 is already on this train".to_owned(),
            "**Codertocat/Hello-World exclude**: #1 left the train".to_owned(),
            "**Codertocat/Hello-World reject**: rejected (needs the migration); its pull \
             requests joined the open train"
                .to_owned(),
            "**Codertocat/Hello-World approve** refused: `approve` is not possible: the train \
             is open; cut it first"
                .to_owned(),
        ]
    );
    assert!(said[7].contains("cut v1.0.1"), "re-cut: {}", said[7]);
    assert_eq!(
        aboard(&bot, &[TrainState::Frozen]).await,
        [("main".into(), 2)],
        "the rejected train's passengers ride on"
    );
    assert_eq!(bot.trains(&[TrainState::Abandoned]).await.len(), 1);
    let drafts = bot.github.drafts();
    assert_eq!(
        drafts.len(),
        1,
        "the abandoned train's draft is gone: {drafts:?}"
    );
    assert_eq!(drafts[0]["tag_name"], "v1.0.1", "the re-cut train's");
}

async fn monorepo_lines_board_by_paths_and_include_all(test: TestDb) {
    let config = "trains:\n  lines:\n    - name: api\n      include: all\n      paths: ['services/api/**']\n      tag-prefix: api-v\n    - name: web\n      paths: ['web/**']\n      tag-prefix: web-v\n";
    let bot = TestBot::start(&test, config).await;
    // #1 api, unlabelled (include: all); #2 web, labelled; #3 web, unlabelled; #4 api with
    // the skip label; #6 touches neither.
    let merges: [(u64, &[&str], &str); 5] = [
        (1, &[], "services/api/src/main.rs"),
        (2, &["release"], "web/app.ts"),
        (3, &[], "web/app.ts"),
        (4, &["no-release"], "services/api/src/main.rs"),
        (6, &["release"], "README.md"),
    ];
    for (number, labels, file) in merges {
        let payload = bot
            .github
            .merge_pr(number, &format!("Change {number}"), labels, "master");
        bot.github.set_files(number, &[file]);
        bot.deliver("pull_request", &payload).await;
    }
    // #5 api, labelled but closed without merging.
    let mut unmerged = bot.github.merge_pr(5, "Change 5", &["release"], "master");
    unmerged["pull_request"]["merged"] = serde_json::json!(false);
    unmerged["pull_request"]["merged_at"] = serde_json::Value::Null;
    bot.github.set_files(5, &["services/api/src/main.rs"]);
    bot.deliver("pull_request", &unmerged).await;
    bot.run_jobs().await;
    assert_eq!(
        aboard(&bot, &[TrainState::Open]).await,
        [("api".into(), 1), ("web".into(), 2)]
    );
    let mut tags: Vec<String> = bot
        .github
        .drafts()
        .iter()
        .filter_map(|d| d["tag_name"].as_str().map(str::to_owned))
        .collect();
    tags.sort_unstable();
    assert_eq!(
        tags,
        ["api-v0.0.1", "web-v0.0.1"],
        "one draft per line, own prefix"
    );
}

async fn a_full_train_of_twenty_costs_a_bounded_number_of_calls(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    for n in 1..=20u64 {
        bot.merge(n, &format!("Change {n}"), &["release"]).await;
    }
    bot.run_jobs().await;
    let boarding = bot.github.log().len();
    bot.comment("carol", 100, "/release cut").await;
    bot.run_jobs().await;
    bot.comment("maya", 100, "/release approve").await;
    bot.run_jobs().await;
    let mut by_kind = std::collections::BTreeMap::<&str, usize>::new();
    for (method, path) in bot.github.log() {
        let kind = if path.contains("/check-runs") {
            "check run"
        } else if path.contains("/access_tokens") {
            "token"
        } else if path.contains("/contents/") {
            "config"
        } else if path.ends_with("/releases") && method == "GET" {
            "list releases"
        } else if path.contains("/releases") {
            "write release"
        } else if path.contains("/permission") {
            "permission"
        } else if path.contains("/branches/") {
            "branch head"
        } else if path.contains("/git/") {
            "tag"
        } else if path.contains("/reactions") {
            "reaction"
        } else if path.ends_with("/issues/100/comments") {
            "command answer"
        } else if path.contains("/comments") {
            "release comment"
        } else {
            "other"
        };
        *by_kind.entry(kind).or_default() += 1;
    }
    let total: usize = by_kind.values().sum();
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "full train of 20 PRs: {total} GitHub calls ({boarding} while boarding): {by_kind:?}"
    );
    // Twenty merges cost one draft write (refreshes are deduplicated) after the first sight
    // of the repository (token, its configuration, the releases). The cut costs a
    // permission, the head and the frozen draft; the approval a permission; the release the
    // tag, the publication and a comment per pull request. Commands from comments add a 👀
    // and an answer each. The releases are listed once: our own writes keep the kept list.
    // Each pull request's check run is created when it boards and updated when the train is
    // cut and when it is released: paced writes of their own, three per pull request.
    assert_eq!(boarding, 4 + 20, "{by_kind:?}");
    assert_eq!(by_kind.get("check run"), Some(&60), "{by_kind:?}");
    assert_eq!(by_kind.get("release comment"), Some(&20));
    assert_eq!(by_kind.get("list releases"), Some(&1), "{by_kind:?}");
    assert_eq!(by_kind.get("tag"), Some(&1));
    assert_eq!(total, 34 + 60, "{by_kind:?}");
}

/// A second replica's train context over the same store.
async fn replica(bot: &TestBot, test: &TestDb) -> trainyard::handlers::kit::TrainContext {
    let mut context = bot.app.train_context();
    context.db = test.reopen().await;
    context
}

async fn a_scheduled_cut_fires_once_across_two_replicas(test: TestDb) {
    let config = "trains:\n  lines:\n    - name: main\n      branch: master\n      \
                  schedule: '0 9 * * *'\n      timezone: UTC\n";
    let bot = TestBot::start(&test, config).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    // It is 09:00 UTC: the slot is due. Two replicas check at the same moment.
    bot.clock.advance(jiff::SignedDuration::from_secs(30));
    let (a, b) = tokio::join!(
        ScheduledCuts.run(bot.app.train_context()),
        ScheduledCuts.run(replica(&bot, &test).await)
    );
    a.expect("replica a");
    b.expect("replica b");
    let commands = bot
        .app
        .queue
        .jobs()
        .await
        .expect("jobs")
        .into_iter()
        .filter(|j| j.kind == "train.command")
        .count();
    assert_eq!(commands, 1, "the slot was claimed by one replica only");
    bot.run_jobs().await;
    let frozen = bot.trains(&[TrainState::Frozen]).await;
    assert_eq!(frozen.len(), 1, "one cut");
    assert_eq!(frozen[0].cut_by.as_deref(), Some("trainyard-schedule"));
    assert_eq!(frozen[0].tag_name.as_deref(), Some("v1.0.1"));
    // The next minute the same slot does not fire again.
    bot.clock.advance(jiff::SignedDuration::from_mins(1));
    ScheduledCuts
        .run(bot.app.train_context())
        .await
        .expect("check");
    assert!(
        bot.app.queue.jobs().await.expect("jobs").is_empty(),
        "no second cut is even asked for"
    );
}

async fn a_reminder_comes_once_before_the_scheduled_cut(test: TestDb) {
    let config = "trains:\n  lines:\n    - name: main\n      branch: master\n      \
                  schedule: '45 9 * * *'\n      reminder: 30m\n";
    let bot = TestBot::start(&test, config).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    let reminders = || async {
        train_store::events_since(&bot.app.db, &repo(), 0)
            .await
            .expect("events")
            .into_iter()
            .filter(|e| e.kind == "cut_reminder")
            .collect::<Vec<_>>()
    };
    // 09:00: the 09:45 cut is 45 minutes away, beyond the 30-minute lead.
    ScheduledCuts
        .run(bot.app.train_context())
        .await
        .expect("check");
    assert!(reminders().await.is_empty());
    // 09:15: two replicas check at once; one reminder.
    bot.clock.advance(jiff::SignedDuration::from_mins(15));
    let (a, b) = tokio::join!(
        ScheduledCuts.run(bot.app.train_context()),
        ScheduledCuts.run(replica(&bot, &test).await)
    );
    a.expect("replica a");
    b.expect("replica b");
    bot.clock.advance(jiff::SignedDuration::from_mins(1));
    ScheduledCuts
        .run(bot.app.train_context())
        .await
        .expect("check");
    let sent = reminders().await;
    assert_eq!(sent.len(), 1, "one reminder per slot: {sent:?}");
    let cut_at: jiff::Timestamp = "2026-11-27T09:45:00Z".parse().expect("time");
    assert_eq!(
        sent[0].event(),
        Some(TrainEvent::CutReminder {
            cut_at: cut_at.as_millisecond(),
            passengers: 1
        })
    );
    assert!(sent[0].train_id.is_some(), "about the open train");
    assert!(
        !bot.app
            .queue
            .jobs()
            .await
            .expect("jobs")
            .iter()
            .any(|j| j.kind == "train.command"),
        "a reminder is not a cut"
    );
    // 09:45: the cut itself.
    bot.clock.advance(jiff::SignedDuration::from_mins(29));
    ScheduledCuts
        .run(bot.app.train_context())
        .await
        .expect("check");
    bot.run_jobs().await;
    assert_eq!(
        bot.trains(&[TrainState::Frozen]).await.len(),
        1,
        "cut at the slot"
    );
    assert_eq!(reminders().await.len(), 1, "no second reminder");
}

async fn a_slot_missed_while_down_fires_at_start_up_but_a_new_schedule_waits(test: TestDb) {
    // Daily at 08:00: at 09:00 today's slot is one hour old, but the schedule is new.
    let config = "trains:\n  lines:\n    - name: main\n      branch: master\n      \
                  schedule: '0 8 * * *'\n";
    let bot = TestBot::start(&test, config).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    let cuts = || async {
        ScheduledCuts
            .run(bot.app.train_context())
            .await
            .expect("check");
        bot.run_jobs().await;
        bot.trains(&[TrainState::Frozen]).await.len()
    };
    assert_eq!(
        cuts().await,
        0,
        "a schedule first seen now does not fire past slots"
    );
    // Down from 09:00 until 08:30 the next day, over that day's 08:00 slot: it fires once at
    // start-up, half an hour late.
    bot.clock
        .advance(jiff::SignedDuration::from_mins(23 * 60 + 30));
    assert_eq!(cuts().await, 1, "the missed slot fires at start-up");
    bot.clock.advance(jiff::SignedDuration::from_mins(1));
    assert_eq!(cuts().await, 1, "and only once");
}

on_both_backends!(
    the_draft_follows_its_passengers_and_keeps_the_highlights,
    fifty_merges_at_once_make_one_draft,
    cut_and_approve_follow_permissions_and_tag_the_frozen_commit,
    a_late_label_inside_the_frozen_range_boards_the_frozen_train,
    a_tag_already_at_another_commit_blocks_the_release_with_the_reason,
    a_tag_already_at_the_frozen_commit_counts_as_done,
    a_draft_published_by_hand_releases_the_train_or_blocks_it,
    reject_reopens_and_include_exclude_respect_the_frozen_range,
    monorepo_lines_board_by_paths_and_include_all,
    a_full_train_of_twenty_costs_a_bounded_number_of_calls,
    a_scheduled_cut_fires_once_across_two_replicas,
    a_reminder_comes_once_before_the_scheduled_cut,
    a_slot_missed_while_down_fires_at_start_up_but_a_new_schedule_waits,
);

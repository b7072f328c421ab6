//! `/release preview` on the stateful fake GitHub, through the real HTTP entry: the body a
//! cut would publish now, byte for byte the one the release then gets, and what changed
//! since the last preview in the same place.

mod harness;

use harness::TestDb;
use harness::bot::TestBot;

const CONFIG: &str = "trains:\n  lines:\n    - name: main\n      branch: master\n";

/// The body a preview reply shows (between its fences).
fn previewed(reply: &str) -> String {
    let start = reply.find("````markdown\n").expect("an opening fence") + "````markdown\n".len();
    let end = reply.rfind("\n````").expect("a closing fence");
    reply[start..end].to_owned()
}

async fn preview(bot: &TestBot, login: &str) -> String {
    bot.comment(login, 7, "/release preview").await;
    bot.run_jobs().await;
    // As written, hidden lines and all: the body is compared byte for byte.
    bot.github
        .comments()
        .into_iter()
        .filter(|c| {
            c.issue == 7 && c.body.contains("Preview of") || c.body.contains("nothing to release")
        })
        .map(|c| c.body)
        .next_back()
        .unwrap_or_default()
}

async fn the_preview_is_the_body_the_cut_publishes(test: TestDb) {
    let bot = TestBot::start(&test, CONFIG).await;
    bot.merge(1, "Add the departure board", &["release", "feature"])
        .await;
    bot.merge(2, "Fix the clock", &["release", "bug"]).await;
    bot.run_jobs().await;

    // Anyone who may read asks; the first preview here says so.
    let first = preview(&bot, "rick").await;
    assert!(first.contains("**Preview of v1.0.1**"), "{first}");
    assert!(
        first.contains("(2 pull requests). The first preview here."),
        "{first}"
    );
    assert!(
        previewed(&first).contains("Add the departure board"),
        "{first}"
    );

    // #3 boards, #2 leaves: the next preview in the same place says so.
    bot.merge(3, "Tidy the timetable", &["release"]).await;
    let unlabelled = bot.github.label(2, "release", false);
    bot.deliver("pull_request", &unlabelled).await;
    bot.run_jobs().await;
    let second = preview(&bot, "rick").await;
    assert!(
        second.contains("Since the last preview here: added #3; dropped #2."),
        "{second}"
    );
    let body = previewed(&second);
    assert!(!body.contains("Fix the clock"), "{body}");

    // The cut and the release publish exactly what the preview showed.
    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    let published = bot
        .github
        .releases()
        .into_iter()
        .find(|r| r["tag_name"] == "v1.0.1" && r["draft"] == false)
        .expect("v1.0.1 is published");
    assert_eq!(published["body"].as_str(), Some(body.as_str()));

    // Nothing on board now: the preview says a cut would release nothing.
    let empty = preview(&bot, "rick").await;
    assert!(
        empty.contains("a cut now would have nothing to release"),
        "{empty}"
    );
}

on_both_backends!(the_preview_is_the_body_the_cut_publishes);

//! The release calendar through the real router: a signed-in person makes a feed on the
//! dashboard, a calendar app fetches `GET /calendar.ics?feed=…` without signing in, and a
//! real iCalendar parser (the `icalendar` crate) reads what it gets: the scheduled cuts, the
//! freeze windows at their local times, the releases, with the same UIDs on every fetch. A
//! revoked feed shows nothing.

mod harness;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use icalendar::{Calendar, CalendarComponent, Component as _};

use harness::TestDb;
use harness::bot::TestBot;

const PUBLIC: &str = "https://trainyard.example";

/// Cuts every Monday 09:00 London; production frozen every other Friday 16:00 New York for
/// 64 hours and over Christmas; staging on the first of each month, 09:00 for two hours.
const CONFIG: &str = concat!(
    "trains:\n  lines:\n    - name: main\n      branch: master\n",
    "      schedule: '0 9 * * MON'\n      timezone: Europe/London\n",
    "deploy:\n  timezone: America/New_York\n  environments:\n",
    "    - name: staging\n      freeze: ['cron 0 9 1 * * for 2h']\n",
    "    - name: production\n",
    "      freeze: ['every 2 weeks on Fri 16:00 for 64h from 2026-12-04', '2026-12-24..2026-12-26']\n",
);

async fn post(bot: &TestBot, path: &str, cookie: &str, form: &str) -> harness::http::Answer {
    let request = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("__Host-trainyard_session={cookie}"))
        .header("origin", PUBLIC)
        .body(Body::from(form.to_owned()))
        .expect("request");
    harness::http::send(&bot.app, request).await
}

async fn get(bot: &TestBot, path: &str, cookie: Option<&str>) -> harness::http::Answer {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("__Host-trainyard_session={cookie}"));
    }
    harness::http::send(&bot.app, request.body(Body::empty()).expect("request")).await
}

/// The events of a feed, parsed: UID → (summary, DTSTART as written).
fn events(text: &str) -> BTreeMap<String, (String, String)> {
    let calendar: Calendar = text.parse().expect("valid iCalendar");
    calendar
        .components
        .iter()
        .filter_map(|c| match c {
            CalendarComponent::Event(e) => Some(e),
            _ => None,
        })
        .map(|e| {
            let start = e
                .properties()
                .get("DTSTART")
                .map(|p| p.value().to_owned())
                .unwrap_or_default();
            (
                e.get_uid().expect("a UID").to_owned(),
                (e.get_summary().unwrap_or_default().to_owned(), start),
            )
        })
        .collect()
}

async fn a_feed_shows_cuts_freezes_and_releases_with_stable_uids(test: TestDb) {
    let bot = TestBot::start_web(&test, CONFIG, PUBLIC).await;
    bot.merge_and_cut().await;
    bot.comment("maya", 7, "/release approve").await;
    bot.run_jobs().await;
    bot.merge(2, "Fix the clock", &["release"]).await;
    bot.run_jobs().await;
    let (cookie, csrf) = bot.session_for(8, "maya").await;

    // Made on the dashboard; its address is shown once.
    let made = post(&bot, "/calendar/feeds", &cookie, &format!("csrf={csrf}")).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let start = made
        .body
        .find("/calendar.ics?feed=")
        .expect("the feed's address");
    let path: String = made.body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/.?=_".contains(*c))
        .collect();
    assert!(path.starts_with("/calendar.ics?feed=tyc_"), "{path}");
    let home = get(&bot, "/", Some(&cookie)).await;
    assert!(home.body.contains("Revoke"), "listed on the home page");

    // A calendar app fetches it without a session.
    let first = get(&bot, &path, None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(
        first.headers["content-type"],
        "text/calendar; charset=utf-8"
    );
    assert!(first.body.contains("\r\n"), "CRLF line ends");
    assert!(
        first
            .body
            .lines()
            .all(|l| l.trim_end_matches('\r').len() <= 75),
        "folded at 75 octets"
    );
    let seen = events(&first.body);
    let starts = |summary: &str| -> Vec<String> {
        seen.values()
            .filter(|(s, _)| s == summary)
            .map(|(_, start)| start.clone())
            .collect()
    };
    let repo = bot.repo.clone();
    // Mondays 09:00 in London (GMT in winter), from Monday 30 November.
    let cuts = starts(&format!("Cut ({repo} main)"));
    assert_eq!(
        cuts.first().map(String::as_str),
        Some("20261130T090000Z"),
        "{cuts:?}"
    );
    assert_eq!(cuts.len(), 9, "the 60 days ahead: {cuts:?}");
    // Every other Friday 16:00 in New York (21:00 UTC in winter), and the holidays.
    let freezes = starts(&format!("Freeze: production ({repo})"));
    assert!(
        freezes.contains(&"20261204T210000Z".to_owned()),
        "{freezes:?}"
    );
    assert!(
        freezes.contains(&"20261218T210000Z".to_owned()),
        "{freezes:?}"
    );
    assert!(
        !freezes.contains(&"20261211T210000Z".to_owned()),
        "the off week"
    );
    assert!(
        freezes.contains(&"20261224T050000Z".to_owned()),
        "{freezes:?}"
    );
    let monthly = starts(&format!("Freeze: staging ({repo})"));
    assert_eq!(
        monthly,
        ["20261201T140000Z", "20270101T140000Z"],
        "cron and a length"
    );
    assert!(
        seen.values()
            .any(|(s, _)| s == &format!("Released v1.0.1 ({repo})")),
        "{seen:?}"
    );

    // Fetched again an hour later: the same events under the same UIDs.
    bot.clock.advance(jiff::SignedDuration::from_hours(1));
    let again = events(&get(&bot, &path, None).await.body);
    assert_eq!(again, seen);

    // Revoked: nothing more; nobody else may revoke it; no token, no calendar.
    let feed_id: i64 = {
        let feeds = trainyard::store::calendar_feeds::of(&bot.app.db, 8)
            .await
            .expect("feeds");
        feeds[0].id
    };
    let (other, other_csrf) = bot.session_for(9, "rick").await;
    let refused = post(
        &bot,
        &format!("/calendar/feeds/{feed_id}/revoke"),
        &other,
        &format!("csrf={other_csrf}"),
    )
    .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&bot, &path, None).await.status, StatusCode::OK);
    let revoked = post(
        &bot,
        &format!("/calendar/feeds/{feed_id}/revoke"),
        &cookie,
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
    assert_eq!(get(&bot, &path, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&bot, "/calendar.ics?feed=tyc_guess", None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&bot, "/calendar.ics", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Signed in, the calendar needs no feed.
    let own = get(&bot, &format!("/calendar.ics?repo={repo}"), Some(&cookie)).await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(events(&own.body).len(), again.len());
}

async fn a_feed_form_from_elsewhere_makes_nothing(test: TestDb) {
    let bot = TestBot::start_web(&test, CONFIG, PUBLIC).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    let (cookie, _) = bot.session_for(8, "maya").await;
    let forged = post(&bot, "/calendar/feeds", &cookie, "csrf=guessed").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let feeds = trainyard::store::calendar_feeds::of(&bot.app.db, 8)
        .await
        .expect("feeds");
    assert!(feeds.is_empty());
}

on_both_backends!(
    a_feed_shows_cuts_freezes_and_releases_with_stable_uids,
    a_feed_form_from_elsewhere_makes_nothing,
);

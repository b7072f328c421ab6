//! The dashboard as a team uses it, in a real headless browser (Debian's chromium through
//! chromedriver) against the real router on a local port and the stateful fake GitHub:
//! sign-in through GitHub's OAuth, the repository page with its train and pull requests, a
//! cut from the page by a maintainer, and what a reader may not do. Screenshots are written
//! to `target/screenshots/dashboard-*.png`.

mod harness;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;
use trainyard::app::router;
use trainyard::domain::train::TrainState;
use trainyard::store::web_sessions::{self, Session};

use harness::TestDb;
use harness::bot::TestBot;
use harness::browser::{Driver, chromium, screenshots};

const CONFIG: &str = "trains:\n  lines:\n    - name: main\n      branch: master\n";
const REPO: &str = "Codertocat/Hello-World";

/// A bot serving the real router on a free local port, its public URL that port.
async fn served(test: &TestDb) -> (TestBot, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let bot = TestBot::start_web(test, CONFIG, &base).await;
    let app = router(bot.app.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (bot, base)
}

/// A signed-in session for `login` written straight to the store (the HTTP-level checks
/// below need one without a browser); returns its cookie value and CSRF token.
async fn session_for(bot: &TestBot, id: i64, login: &str) -> (String, String) {
    bot.github.set_user(id, login);
    let token = format!("{id:0>64}");
    let csrf = format!("csrf-{login}");
    let session = Session {
        github_id: id,
        login: login.into(),
        csrf: csrf.clone(),
    };
    let now = jiff::Timestamp::now().as_millisecond();
    web_sessions::create(&bot.app.db, &token, &session, 0, now + 3_600_000)
        .await
        .expect("session");
    (token, csrf)
}

async fn post_command(
    bot: &TestBot,
    cookie: &str,
    origin: Option<&str>,
    form: &str,
) -> (StatusCode, String) {
    let mut request = Request::post(format!("/repos/{REPO}/commands"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("trainyard_session={cookie}"));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let response = router(bot.app.clone())
        .oneshot(request.body(Body::from(form.to_owned())).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn until(driver: &Driver, what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = driver.text().await;
        if check(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{what}: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_maintainer_signs_in_sees_the_train_and_cuts_it_from_the_page(test: TestDb) {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs chromium: apt-get install chromium"
        );
        eprintln!("SKIPPED the dashboard in a browser: no chromium");
        return;
    };
    let (bot, base) = served(&test).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.merge(2, "Fix the clock", &["release"]).await;
    bot.run_jobs().await;
    let Some(driver) = Driver::start(&browser).await else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs chromedriver: apt-get install chromium-driver"
        );
        eprintln!("SKIPPED the dashboard in a browser: no chromedriver");
        return;
    };
    let shots = screenshots();

    // Signed out: one button, to GitHub and back.
    driver.open(&format!("{base}/")).await;
    driver
        .screenshot(&shots.join("dashboard-1-sign-in.png"))
        .await;
    bot.github.sign_in_as(8, "maya");
    driver.click("form[action='/signin'] button").await;
    let home = until(&driver, "signed in", |t| t.contains("signed in as maya")).await;
    assert!(home.contains(REPO), "{home}");
    driver
        .screenshot(&shots.join("dashboard-2-repositories.png"))
        .await;

    // The repository: its open train with both pull requests, and Cut for a maintainer.
    driver.open(&format!("{base}/repos/{REPO}")).await;
    let page = driver.text().await;
    for text in [
        "#1 Add the departure board",
        "#2 Fix the clock",
        "Health, last 30 days",
        "Audit trail",
    ] {
        assert!(page.contains(text), "{text:?} in {page}");
    }
    driver
        .screenshot(&shots.join("dashboard-3-open-train.png"))
        .await;
    driver
        .click("form[action$='/commands'] button.primary")
        .await;
    until(&driver, "the command was taken", |t| {
        t.contains("cut asked for")
    })
    .await;
    bot.run_jobs().await;
    driver.open(&format!("{base}/repos/{REPO}")).await;
    let page = driver.text().await;
    assert!(page.contains("frozen"), "{page}");
    assert!(page.contains("cut by maya"), "{page}");
    assert!(page.contains("command.cut"), "audited: {page}");
    assert!(page.contains("maya (web)"), "{page}");
    driver
        .screenshot(&shots.join("dashboard-4-frozen.png"))
        .await;
    driver.open(&format!("{base}/repos/{REPO}#health")).await;
    driver
        .screenshot(&shots.join("dashboard-5-health.png"))
        .await;
    assert_eq!(bot.trains(&[TrainState::Frozen]).await.len(), 1);
    let errors = driver.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");

    // A reader sees the train but no buttons.
    bot.github.sign_in_as(9, "rick");
    driver.click("form[action='/signout'] button").await;
    until(&driver, "signed out", |t| t.contains("Sign in with GitHub")).await;
    driver.click("form[action='/signin'] button").await;
    until(&driver, "signed in", |t| t.contains("signed in as rick")).await;
    driver.open(&format!("{base}/repos/{REPO}")).await;
    let page = driver.source().await;
    assert!(page.contains("Add the departure board"), "{page}");
    assert!(
        !page.contains("name=\"command\""),
        "no action for a reader: {page}"
    );
    driver
        .screenshot(&shots.join("dashboard-6-reader.png"))
        .await;
    let errors = driver.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

async fn forms_need_the_sessions_token_and_this_sites_origin_and_readers_are_refused(test: TestDb) {
    let (bot, base) = served(&test).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    let open = bot.trains(&[TrainState::Open]).await;
    let form = |csrf: &str| format!("csrf={csrf}&command=cut&train={}&line=main", open[0].id);
    let (maya, maya_csrf) = session_for(&bot, 8, "maya").await;
    // Another site's form, or a form without the token: refused, nothing queued.
    let (status, _) =
        post_command(&bot, &maya, Some("https://evil.example"), &form(&maya_csrf)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post_command(&bot, &maya, Some(&base), &form("guess")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post_command(&bot, &maya, None, &form(&maya_csrf)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    bot.run_jobs().await;
    assert!(bot.trains(&[TrainState::Frozen]).await.is_empty());

    // A reader's genuine form goes through the command path, which refuses it.
    let (rick, rick_csrf) = session_for(&bot, 9, "rick").await;
    let (status, _) = post_command(&bot, &rick, Some(&base), &form(&rick_csrf)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    bot.run_jobs().await;
    assert!(bot.trains(&[TrainState::Frozen]).await.is_empty());
    let trail = trainyard::store::audit::recent(
        &bot.app.db,
        &trainyard::store::audit::Query {
            repository: Some(REPO.into()),
            since: None,
            limit: 10,
        },
    )
    .await
    .expect("audit");
    let refused: Vec<_> = trail
        .iter()
        .filter(|r| r.action == "command.cut" && r.outcome == "refused")
        .collect();
    assert_eq!(refused.len(), 1, "{trail:#?}");
    assert_eq!(
        (refused[0].actor_login.as_str(), refused[0].surface.as_str()),
        ("rick", "web")
    );
    assert!(refused[0].detail.contains("permission"), "{:?}", refused[0]);

    // Signed out, the pages and the API send you to sign in; nobody reads a repository they
    // cannot read.
    let get = |path: String, cookie: Option<String>| {
        let app = router(bot.app.clone());
        async move {
            let mut request = Request::get(path);
            if let Some(cookie) = cookie {
                request = request.header("cookie", format!("trainyard_session={cookie}"));
            }
            let response = app
                .oneshot(request.body(Body::empty()).expect("request"))
                .await
                .expect("response");
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let (status, _) = get(format!("/api/v1/repos/{REPO}/metrics"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = get(format!("/repos/{REPO}"), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (mallory, _) = session_for(&bot, 66, "mallory").await;
    let (status, _) = get(format!("/repos/{REPO}"), Some(mallory.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(format!("/api/v1/repos/{REPO}/metrics"), Some(mallory)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = get(format!("/api/v1/repos/{REPO}/metrics?days=7"), Some(rick)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["repository"], REPO);
    assert_eq!(json["metrics"]["days"], 7);
    assert_eq!(json["metrics"]["basis"], "releases");
    assert!(json["definitions"]["change failure rate"].is_string());
}

on_both_backends!(
    a_maintainer_signs_in_sees_the_train_and_cuts_it_from_the_page,
    forms_need_the_sessions_token_and_this_sites_origin_and_readers_are_refused,
);

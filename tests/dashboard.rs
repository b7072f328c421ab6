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
    bot.session_for(id, login).await
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
    let answer = harness::http::send(
        &bot.app,
        request.body(Body::from(form.to_owned())).expect("request"),
    )
    .await;
    (answer.status, answer.body)
}

/// A headless chromium through chromedriver; `None` (said on the terminal) where they are not
/// installed, which CI does not allow.
async fn browser() -> Option<Driver> {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs chromium: apt-get install chromium"
        );
        eprintln!("SKIPPED the dashboard in a browser: no chromium");
        return None;
    };
    let driver = Driver::start(&chromium).await;
    if driver.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs chromedriver: apt-get install chromium-driver"
        );
        eprintln!("SKIPPED the dashboard in a browser: no chromedriver");
    }
    driver
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
    let (bot, base) = served(&test).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.merge(2, "Fix the clock", &["release"]).await;
    bot.run_jobs().await;
    let Some(driver) = browser().await else {
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

/// A GET through the router with a session cookie; returns the status, the `location` and
/// `set-cookie` headers, and the body.
async fn get_page(bot: &TestBot, path: &str, cookie: Option<&str>) -> (StatusCode, String, String) {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let answer = harness::http::send(&bot.app, request.body(Body::empty()).expect("request")).await;
    let location = answer.all("location").join("\n");
    let cookies = answer.all("set-cookie").join("\n");
    (answer.status, format!("{location}\n{cookies}"), answer.body)
}

async fn a_foreign_train_id_names_nothing_and_outcomes_are_not_taken_from_links(test: TestDb) {
    let (bot, base) = served(&test).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    let ours = bot.trains(&[TrainState::Open]).await[0].id;
    // A frozen train of another installed repository, with its own tag.
    let other = trainyard::domain::ids::RepoFullName::parse("globex/secret-plans").expect("repo");
    let mut conn = bot.app.db.conn().await.expect("connection");
    let foreign = trainyard::store::trains::open_train(&mut conn, &other, "main", "main", 1)
        .await
        .expect("train");
    let cut = trainyard::store::trains::Cut {
        version: "9.9.9",
        tag_name: "v9.9.9-classified",
        target_sha: "abc",
        baseline_tag: None,
        cut_by: "globex-admin",
    };
    trainyard::store::trains::freeze(&mut conn, foreign.id, &cut, 2)
        .await
        .expect("frozen");
    drop(conn);

    // maya, a maintainer here, names the foreign train on her repository's form.
    let (maya, csrf) = session_for(&bot, 8, "maya").await;
    let (status, body) = post_command(
        &bot,
        &maya,
        Some(&base),
        &format!("csrf={csrf}&command=approve&train={}&line=main", foreign.id),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("No such train in this repository"), "{body}");
    assert!(
        !body.contains("9.9.9") && !body.contains("classified"),
        "{body}"
    );
    assert!(
        bot.app.queue.jobs().await.expect("jobs").is_empty(),
        "nothing queued"
    );
    let foreign_now = trainyard::store::trains::get(&bot.app.db, foreign.id)
        .await
        .expect("train")
        .expect("there");
    assert_eq!(foreign_now.state, "frozen");

    // Her genuine cut: the outcome is shown once on the page, from the server, not the link.
    let (status, _) = post_command(
        &bot,
        &maya,
        Some(&base),
        &format!("csrf={csrf}&command=cut&train={ours}&line=main"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = format!("trainyard_session={maya}");
    let (_, _, page) = get_page(&bot, &format!("/repos/{REPO}"), Some(&cookie)).await;
    assert!(page.contains("cut asked for the main train"), "{page}");
    let (_, _, again) = get_page(&bot, &format!("/repos/{REPO}"), Some(&cookie)).await;
    assert!(!again.contains("cut asked for"), "shown once");
    let (_, _, forged) = get_page(
        &bot,
        &format!("/repos/{REPO}?done=%3Cb%3EYour%20account%20is%20suspended%3C%2Fb%3E"),
        Some(&cookie),
    )
    .await;
    assert!(!forged.contains("suspended"), "{forged}");

    // Ten commands a minute from one sign-in (the refused foreign one and the cut among
    // them); the eleventh waits.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let (status, _) = post_command(
            &bot,
            &maya,
            Some(&base),
            &format!("csrf={csrf}&command=cut&train={ours}&line=main"),
        )
        .await;
        statuses.push(status);
    }
    assert_eq!(
        statuses[8..],
        [StatusCode::TOO_MANY_REQUESTS, StatusCode::TOO_MANY_REQUESTS],
        "{statuses:?}"
    );
    assert!(
        statuses[..8].iter().all(|s| *s == StatusCode::SEE_OTHER),
        "{statuses:?}"
    );
}

async fn signing_in_asks_github_a_few_times_and_strangers_get_no_session(test: TestDb) {
    // Its own HTTP client needs the TLS provider whether or not a browser test ran first.
    trainyard::chat::install_tls_provider();
    let (bot, _) = served(&test).await;
    // The App is installed on the repository (its first delivery says so).
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    // GitHub's sign-in, through the real routes: /signin → GitHub → the callback.
    let sign_in = |id: i64, login: &'static str| {
        let bot = &bot;
        async move {
            bot.github.sign_in_as(id, login);
            let (status, headers, _) = get_page(bot, "/signin", None).await;
            assert_eq!(status, StatusCode::SEE_OTHER);
            let location = headers.lines().next().expect("location").to_owned();
            let signin_cookie = headers
                .lines()
                .find(|l| l.starts_with("trainyard_signin="))
                .and_then(|l| l.split(';').next())
                .expect("sign-in cookie")
                .to_owned();
            let answer = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client")
                .get(&location)
                .send()
                .await
                .expect("GitHub");
            let back = answer.headers()["location"]
                .to_str()
                .expect("location")
                .to_owned();
            let path = back
                .split_once("/oauth/")
                .map(|(_, p)| format!("/oauth/{p}"))
                .expect("callback");
            get_page(bot, &path, Some(&signin_cookie)).await
        }
    };
    let before = bot.github.log().len();
    let (status, headers, _) = sign_in(8, "maya").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers.contains("trainyard_session="), "{headers}");
    let asked: Vec<String> = bot.github.log()[before..]
        .iter()
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    // The browser's visit to GitHub, then trainyard's four calls: the code, who it is, and
    // what they may read.
    assert_eq!(
        asked,
        [
            "GET /login/oauth/authorize",
            "POST /login/oauth/access_token",
            "GET /user",
            "GET /user/installations",
            "GET /user/installations/1/repositories"
        ]
    );
    // Her home page lists the repository without asking GitHub about it.
    let session = headers
        .lines()
        .find(|l| l.starts_with("trainyard_session="))
        .and_then(|l| l.split(';').next())
        .expect("session")
        .to_owned();
    let before = bot.github.log().len();
    let (_, _, home) = get_page(&bot, "/", Some(&session)).await;
    assert!(home.contains(REPO), "{home}");
    assert_eq!(bot.github.log()[before..], [], "the list is the session's");

    // Someone with a GitHub account who reads nothing trainyard serves: no session.
    let (status, headers, body) = sign_in(77, "stranger").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(!headers.contains("trainyard_session="), "{headers}");
    assert!(body.contains("cannot read any"), "{body}");
}

/// A maintainer rejects a cut train with a reason and approves the next cut, pressing the
/// page's buttons in the browser; each goes through the command path (audited as web
/// commands) and the page shows the outcome.
async fn reject_and_approve_are_pressed_in_the_browser(test: TestDb) {
    let (bot, base) = served(&test).await;
    bot.merge(1, "Add the departure board", &["release"]).await;
    bot.run_jobs().await;
    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    let Some(driver) = browser().await else {
        return;
    };
    let shots = screenshots();
    bot.github.sign_in_as(8, "maya");
    driver.open(&format!("{base}/")).await;
    driver.click("form[action='/signin'] button").await;
    until(&driver, "signed in", |t| t.contains("signed in as maya")).await;

    // Reject, with the reason the form asks for.
    driver.open(&format!("{base}/repos/{REPO}")).await;
    driver
        .type_into(
            "form:has(input[name='command'][value='reject']) input[name='reason']",
            "the clock drifts on staging",
        )
        .await;
    driver
        .screenshot(&shots.join("dashboard-7-reject.png"))
        .await;
    driver
        .click("form:has(input[name='command'][value='reject']) button")
        .await;
    until(&driver, "the reject was taken", |t| {
        t.contains("reject asked for")
    })
    .await;
    bot.run_jobs().await;
    assert!(
        bot.trains(&[TrainState::Frozen]).await.is_empty(),
        "reopened"
    );
    let rejected = bot.audited("command.reject").await;
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].actor_login, "maya");
    assert_eq!(rejected[0].surface, "web");
    assert!(
        rejected[0].detail.contains("the clock drifts on staging")
            || bot
                .trains(&[TrainState::Open])
                .await
                .iter()
                .any(|t| t.rejected_reason.as_deref() == Some("the clock drifts on staging")),
        "the reason is kept: {rejected:?}"
    );

    // carol cuts again; maya approves from the page and the release is made.
    bot.comment("carol", 7, "/release cut").await;
    bot.run_jobs().await;
    driver.open(&format!("{base}/repos/{REPO}")).await;
    driver
        .click("form:has(input[name='command'][value='approve']) button")
        .await;
    until(&driver, "the approve was taken", |t| {
        t.contains("approve asked for")
    })
    .await;
    bot.run_jobs().await;
    assert_eq!(bot.trains(&[TrainState::Released]).await.len(), 1);
    assert!(
        bot.github.tags().iter().any(|(t, _, _)| t == "v1.0.1"),
        "{:?}",
        bot.github.tags()
    );
    driver.open(&format!("{base}/repos/{REPO}")).await;
    let page = driver.text().await;
    assert!(page.contains("command.approve"), "audited: {page}");
    let source = driver.source().await;
    assert!(
        !source.contains("value=\"cut\""),
        "the next train is empty: nothing to cut yet"
    );
    driver
        .screenshot(&shots.join("dashboard-8-released.png"))
        .await;
    let errors = driver.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

/// The repository page as a release desk: trains that need someone first, everything linked
/// to GitHub, and the release gate's answers on the train and in their own table.
async fn the_desk_puts_what_needs_someone_first_and_links_everything(test: TestDb) {
    let config = format!("{CONFIG}deploy:\n  environments:\n    - name: production\n");
    let bot = TestBot::start_web(&test, &config, "http://127.0.0.1:9").await;
    bot.merge_and_cut().await;
    let frozen = bot.trains(&[TrainState::Frozen]).await[0].clone();
    let cut = frozen.target_sha.clone().expect("cut commit");
    bot.merge(2, "Fix the clock", &["release"]).await;
    bot.run_jobs().await;
    // A workflow reaches production with the cut commit: the gate holds it for the approval.
    let waits = bot.github.workflow_waits(31, &cut, "production", "maya");
    bot.deliver("deployment_protection_rule", &waits).await;
    bot.run_jobs().await;

    let (maya, _) = session_for(&bot, 7, "maya").await;
    let cookie = format!("trainyard_session={maya}");
    let (status, _, page) = get_page(&bot, &format!("/repos/{REPO}"), Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let web = bot
        .app
        .settings
        .github_web_url
        .trim_end_matches('/')
        .to_owned();
    // The frozen train (held at the gate too) comes before the open one.
    let frozen_at = page
        .find(r#"data-needs="true""#)
        .expect("a train needing someone");
    let open_at = page.find(r#"data-needs="false""#).expect("the open train");
    assert!(frozen_at < open_at, "{page}");
    for link in [
        format!(r#"href="{web}/{REPO}/pull/1""#),
        format!(r#"href="{web}/{REPO}/pull/2""#),
        format!(r#"href="{web}/{REPO}/commit/{cut}""#),
        format!(r#"href="{web}/{REPO}/releases""#),
        format!(r#"href="{web}/{REPO}/actions/runs/31""#),
    ] {
        assert!(page.contains(&link), "{link} in {page}");
    }
    assert!(page.contains("<strong>waits</strong>"), "{page}");
    assert!(page.contains("is cut but not released"), "{page}");
    assert!(page.contains("<h2>Release gate</h2>"), "{page}");
}

on_both_backends!(
    the_desk_puts_what_needs_someone_first_and_links_everything,
    reject_and_approve_are_pressed_in_the_browser,
    a_maintainer_signs_in_sees_the_train_and_cuts_it_from_the_page,
    forms_need_the_sessions_token_and_this_sites_origin_and_readers_are_refused,
    a_foreign_train_id_names_nothing_and_outcomes_are_not_taken_from_links,
    signing_in_asks_github_a_few_times_and_strangers_get_no_session,
);

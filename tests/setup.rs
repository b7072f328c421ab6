//! Registering the GitHub App from the browser, as an operator does on a fresh machine: the
//! real binary with no App, `GET /`, GitHub's manifest flow (faked at the HTTP level), and
//! the server working with the new App's credentials without a restart.

mod harness;

use std::time::{Duration, Instant};

use trainyard::inbound::github::signature;
use trainyard::settings::Secret;
use wiremock::MockServer;

use harness::process::Server;
use trainyard::registration::SETUP_CODE_FILE;

fn unescape(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_is_registered_through_the_manifest_flow_and_used_at_once() {
    let github = MockServer::start().await;
    harness::github::manifest_conversion(&github, 4242).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        dir.path(),
        &[
            ("TRAINYARD_PUBLIC_URL", "https://trainyard.example"),
            ("TRAINYARD_GITHUB_API_URL", &github.uri()),
            ("TRAINYARD_GITHUB_WEB_URL", &github.uri()),
        ],
    )
    .await;

    // The setup page asks for the code printed at start; it is also in a 0600 file.
    let (status, home) = server.get("/").await;
    assert_eq!(status, 200);
    assert!(home.contains("setup code"), "{home}");
    assert!(
        !home.contains("state="),
        "no registration without the code: {home}"
    );
    let code = setup_code(dir.path());

    // With the code, the registration form posts the manifest to GitHub, pointed at this
    // server, its state bound to this browser.
    let started = start(&server, &code, "").await;
    assert_eq!(started.status, 200, "{}", started.html);
    let html = unescape(&started.html);
    let action = form_action(&html);
    assert!(
        action.starts_with(&format!("{}/settings/apps/new?state=", github.uri())),
        "{action}"
    );
    let state = action.rsplit('=').next().expect("state").to_owned();
    assert!(
        html.contains("\"url\":\"https://trainyard.example/webhooks/github\""),
        "{html}"
    );
    assert!(html.contains("\"redirect_url\":\"https://trainyard.example/setup/callback\""));
    assert!(html.contains("\"deployments\":\"write\""));
    let for_org = start(&server, &code, "acme-inc").await;
    assert!(
        unescape(&for_org.html).contains(&format!(
            "{}/organizations/acme-inc/settings/apps/new",
            github.uri()
        )),
        "{}",
        for_org.html
    );

    // A state this server did not issue is refused; the real one works once, in the browser
    // that started it.
    let (status, _) = callback(&server, "c0de", "forged", Some(&started.cookie)).await;
    assert_eq!(status, 400);
    let (status, done) = callback(&server, "c0de", &state, Some(&started.cookie)).await;
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("trainyard-acme"), "{done}");
    assert!(
        unescape(&done).contains(&format!(
            "{}/apps/trainyard-acme/installations/new",
            github.uri()
        )),
        "{done}"
    );
    assert!(
        !dir.path().join(SETUP_CODE_FILE).exists(),
        "the code is spent on success"
    );

    // The credentials are in the settings file, readable by this user only.
    let file = dir.path().join("trainyard.toml");
    let written = std::fs::read_to_string(&file).expect("settings file");
    assert!(written.contains("github_app_id = 4242"), "{written}");
    assert!(written.contains("github_webhook_secret = \"registered-secret\""));
    assert!(written.contains("BEGIN"), "the private key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Without a restart, deliveries signed with the new App's secret are accepted.
    let body = br#"{"zen":"Design for failure.","hook_id":7}"#.to_vec();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = reqwest::Client::new()
            .post(format!("{}/webhooks/github", server.base))
            .header("content-type", "application/json")
            .header("x-github-event", "ping")
            .header("x-github-delivery", "setup-1")
            .header(
                "x-hub-signature-256",
                signature::sign(&Secret::new("registered-secret"), &body),
            )
            .body(body.clone())
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new App was never used ({status})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The App came with its OAuth: `/` is the dashboard's sign-in now, with the install step.
    let (_, home) = server.get("/").await;
    assert!(home.contains("Sign in with GitHub"), "{home}");
    assert!(
        home.contains("not installed on any repository yet"),
        "{home}"
    );
    let (status, _) = callback(&server, "c0de", &state, Some(&started.cookie)).await;
    assert_eq!(status, 409);
    let (exit, out) = server.terminate();
    assert!(exit.success(), "{out}");
    assert!(
        !out.contains("registered-secret"),
        "the secret is never logged"
    );
    assert!(out.contains(&code), "the setup code is in the log");
}

/// The setup code in the data folder (the settings file's), as the operator reads it.
fn setup_code(dir: &std::path::Path) -> String {
    let file = dir.join(SETUP_CODE_FILE);
    let code = std::fs::read_to_string(&file).expect("the setup code's file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    code.trim().to_owned()
}

/// What `POST /setup` answered.
struct Started {
    status: u16,
    html: String,
    /// The browser cookie it set (`name=value`), empty when none.
    cookie: String,
}

/// Gives the setup code on the setup page (for organisation `org`, empty for none).
async fn start(server: &Server, code: &str, org: &str) -> Started {
    let response = reqwest::Client::new()
        .post(format!("{}/setup", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("code", code), ("org", org)]).expect("form"))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .to_owned();
    Started {
        status,
        html: response.text().await.expect("body"),
        cookie,
    }
}

/// GitHub sends the browser back with `code` and `state`, holding `cookie` (if any).
async fn callback(server: &Server, code: &str, state: &str, cookie: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(format!(
        "{}/setup/callback?code={code}&state={state}",
        server.base
    ));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.expect("request");
    (
        response.status().as_u16(),
        response.text().await.expect("body"),
    )
}

fn form_action(html: &str) -> String {
    let start = html
        .find("action=\"https://")
        .or_else(|| html.find("action=\"http://"))
        .expect("a form")
        + 8;
    html[start..start + html[start..].find('"').expect("end")].to_owned()
}

/// A stranger who opens `/` on a server waiting for its App cannot make it theirs: not
/// without the code, not with a state from another browser, not with a code spent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_belongs_to_whoever_holds_the_setup_code() {
    let github = MockServer::start().await;
    harness::github::manifest_conversion(&github, 4242).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        dir.path(),
        &[
            ("TRAINYARD_PUBLIC_URL", "https://trainyard.example"),
            ("TRAINYARD_GITHUB_API_URL", &github.uri()),
            ("TRAINYARD_GITHUB_WEB_URL", &github.uri()),
        ],
    )
    .await;
    let code = setup_code(dir.path());

    // Without the code: no registration, no state.
    let guessed = start(&server, "AAAA-BBBB-CCCC-DDDD-EEEE", "").await;
    assert_eq!(guessed.status, 403);
    assert!(
        guessed.html.contains("That is not the setup code"),
        "{}",
        guessed.html
    );
    assert!(guessed.cookie.is_empty());
    assert!(!guessed.html.contains("state="));

    // The operator starts; a second browser (another cookie, or none) comes back with the
    // operator's state: refused, and the state is gone.
    let operator = start(&server, &code.to_lowercase(), "").await;
    assert_eq!(operator.status, 200, "{}", operator.html);
    assert!(
        operator.cookie.starts_with("__Host-trainyard_setup="),
        "{}",
        operator.cookie
    );
    let state = form_action(&unescape(&operator.html))
        .rsplit('=')
        .next()
        .expect("state")
        .to_owned();
    let stranger = start(&server, &code, "").await;
    let (status, page) = callback(&server, "c0de", &state, Some(&stranger.cookie)).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("started in another browser"), "{page}");
    let (status, _) = callback(&server, "c0de", &state, None).await;
    assert_eq!(status, 400, "a refused state is spent");
    assert!(
        !dir.path().join("trainyard.toml").exists(),
        "nothing written"
    );

    // The stranger's own state is good until the code is spent by the operator's
    // registration; then it is stale.
    let stranger_state = form_action(&unescape(&stranger.html))
        .rsplit('=')
        .next()
        .expect("state")
        .to_owned();
    let again = start(&server, &code, "").await;
    let again_state = form_action(&unescape(&again.html))
        .rsplit('=')
        .next()
        .expect("state")
        .to_owned();
    let (status, done) = callback(&server, "c0de", &again_state, Some(&again.cookie)).await;
    assert_eq!(status, 200, "{done}");
    let (status, page) = callback(&server, "c0de", &stranger_state, Some(&stranger.cookie)).await;
    assert!(status == 403 || status == 409, "{status}: {page}");
    let (exit, out) = server.terminate();
    assert!(exit.success(), "{out}");
}

/// `TRAINYARD_SETUP=off`: no setup code, no registration from the browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_page_can_be_turned_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        dir.path(),
        &[
            ("TRAINYARD_PUBLIC_URL", "https://trainyard.example"),
            ("TRAINYARD_SETUP", "off"),
        ],
    )
    .await;
    let (status, home) = server.get("/").await;
    assert_eq!(status, 200);
    assert!(home.contains("TRAINYARD_SETUP=off"), "{home}");
    assert!(!dir.path().join(SETUP_CODE_FILE).exists());
    let (status, _) = callback(&server, "c0de", "anything", None).await;
    assert_eq!(status, 404);
    let (exit, out) = server.terminate();
    assert!(exit.success(), "{out}");
    assert!(!out.contains("setup code"), "{out}");
}

//! The server's pages in a real headless browser (Debian's `chromium`): the DOM the browser
//! built, and a screenshot under `target/screenshots/` to look at. Without chromium the
//! tests say they were skipped; under `CI` they fail instead (`.ci/run` installs it).

mod harness;

use std::path::Path;
use std::process::Command;

use harness::browser::{Driver, chromium, screenshots};
use harness::process::Server;
use trainyard::registration::SETUP_CODE_FILE;

/// The DOM chromium renders for `url`, and a screenshot of it at `shot`.
fn render(browser: &Path, url: &str, shot: &Path) -> String {
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--window-size=1000,760",
    ];
    let dom = Command::new(browser)
        .args(common)
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let shot_run = Command::new(browser)
        .args(common)
        .arg(format!("--screenshot={}", shot.display()))
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(
        shot_run.status.success(),
        "{}",
        String::from_utf8_lossy(&shot_run.stderr)
    );
    assert!(
        std::fs::metadata(shot)
            .map(|m| m.len() > 1000)
            .unwrap_or(false),
        "a screenshot"
    );
    String::from_utf8_lossy(&dom.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_page_renders_in_a_browser() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs chromium: apt-get install chromium"
        );
        eprintln!("SKIPPED the_setup_page_renders_in_a_browser: no chromium");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        dir.path(),
        &[
            ("TRAINYARD_PUBLIC_URL", "https://trainyard.example"),
            ("TRAINYARD_GITHUB_WEB_URL", "https://github.example"),
        ],
    )
    .await;
    let shots = screenshots();
    let base = server.base.clone();
    let (setup, org) = tokio::task::spawn_blocking(move || {
        (
            render(&browser, &format!("{base}/"), &shots.join("setup.png")),
            render(
                &browser,
                &format!("{base}/?org=acme-inc"),
                &shots.join("setup-org.png"),
            ),
        )
    })
    .await
    .expect("browser");
    assert!(setup.contains("<h1>Set up trainyard</h1>"), "{setup}");
    // Only the operator goes further: the page asks for the code printed at start.
    assert!(setup.contains("name=\"code\""), "{setup}");
    assert!(setup.contains("Continue</button>"), "{setup}");
    assert!(
        !setup.contains("state="),
        "no registration without the code: {setup}"
    );
    assert!(org.contains("value=\"acme-inc\""), "{org}");
    let (status, out) = server.terminate();
    assert!(status.success(), "{out}");
}

/// GitHub's side of the manifest flow: the form post answered as GitHub answers it once the
/// operator confirmed, a redirect to the manifest's `redirect_url` with a code and the state.
struct ManifestAccepted {
    /// Where this test's server answers (the operator's public URL points there).
    server: String,
}

impl wiremock::Respond for ManifestAccepted {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let state = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let form: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&request.body).unwrap_or_default();
        let manifest: serde_json::Value = form
            .iter()
            .find(|(k, _)| k == "manifest")
            .and_then(|(_, v)| serde_json::from_str(v).ok())
            .unwrap_or_default();
        let redirect = manifest["redirect_url"].as_str().unwrap_or_default();
        let path = redirect
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("/missing-redirect-url");
        wiremock::ResponseTemplate::new(302).insert_header(
            "location",
            format!("{}{path}?code=c0de&state={state}", self.server),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_registers_the_app_in_the_browser_and_sees_the_install_step() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer};
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs chromium: apt-get install chromium"
        );
        eprintln!("SKIPPED an_operator_registers_the_app_in_the_browser: no chromium");
        return;
    };
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
    Mock::given(method("POST"))
        .and(path("/settings/apps/new"))
        .respond_with(ManifestAccepted {
            server: server.base.clone(),
        })
        .expect(1)
        .mount(&github)
        .await;
    let Some(driver) = Driver::start(&browser).await else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs chromedriver: apt-get install chromium-driver"
        );
        eprintln!("SKIPPED an_operator_registers_the_app_in_the_browser: no chromedriver");
        return;
    };
    let shots = screenshots();

    // The operator reads the setup code from the log (or its file) and gives it.
    let code = std::fs::read_to_string(dir.path().join(SETUP_CODE_FILE)).expect("setup code");
    driver.open(&format!("{}/", server.base)).await;
    driver.type_into("input[name=code]", code.trim()).await;
    driver.screenshot(&shots.join("flow-1-setup.png")).await;
    driver
        .click("form[action='/setup'] button[type=submit]")
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !driver.text().await.contains("Register the GitHub App") {
        assert!(
            std::time::Instant::now() < deadline,
            "the code was not taken"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    driver.screenshot(&shots.join("flow-1b-register.png")).await;
    driver.click("form[method=post] button[type=submit]").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !driver.url().await.contains("/setup/callback") {
        assert!(
            std::time::Instant::now() < deadline,
            "never came back from GitHub"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let page = driver.text().await;
    driver
        .screenshot(&shots.join("flow-2-registered.png"))
        .await;
    assert!(page.contains("trainyard-acme"), "{page}");
    assert!(
        page.contains("Next: install the App on your repositories"),
        "{page}"
    );
    let written = std::fs::read_to_string(dir.path().join("trainyard.toml")).expect("settings");
    assert!(written.contains("github_app_id = 4242"), "{written}");

    // The home page has moved on: the App is configured (with its OAuth, so the dashboard's
    // sign-in), and until it is installed somewhere it says how.
    // The new settings take over in the background: the page changes once they have.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let home = loop {
        driver.open(&format!("{}/", server.base)).await;
        let home = driver.text().await;
        if home.contains("Sign in with GitHub") {
            break home;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never moved on: {home}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    driver.screenshot(&shots.join("flow-3-home.png")).await;
    assert!(
        home.contains("not installed on any repository yet"),
        "{home}"
    );
    assert!(home.contains("Sign in with GitHub"), "{home}");
    assert!(!home.contains("Register the GitHub App"), "{home}");
    drop(driver);
    let (status, out) = server.terminate();
    assert!(status.success(), "{out}");
}

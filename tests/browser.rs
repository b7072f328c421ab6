//! The server's pages in a real headless browser (Debian's `chromium`): the DOM the browser
//! built, and a screenshot under `target/screenshots/` to look at. Without chromium the
//! tests say they were skipped; under `CI` they fail instead (`.ci/run` installs it).

mod harness;

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::process::Server;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .map(|name| PathBuf::from("/usr/bin").join(name))
        .find(|path| path.exists())
}

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

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
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
    assert!(
        setup.contains("Register the GitHub App</button>"),
        "{setup}"
    );
    assert!(
        setup.contains("action=\"https://github.example/settings/apps/new?state="),
        "{setup}"
    );
    assert!(setup.contains("https://trainyard.example/webhooks/github"));
    assert!(
        org.contains(
            "action=\"https://github.example/organizations/acme-inc/settings/apps/new?state="
        ),
        "{org}"
    );
    let (status, out) = server.terminate();
    assert!(status.success(), "{out}");
}

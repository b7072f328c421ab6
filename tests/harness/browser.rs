//! A real headless browser for the web pages' tests: Debian's chromium, driven through
//! chromedriver with the W3C WebDriver protocol over HTTP.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's chromium, when installed.
pub fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .map(|name| PathBuf::from("/usr/bin").join(name))
        .find(|path| path.exists())
}

/// Where screenshots go (`target/screenshots/`), to be looked at.
pub fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

/// A chromedriver session: the W3C WebDriver protocol over HTTP, enough to open a page,
/// press a button and read what the browser shows.
pub struct Driver {
    process: std::process::Child,
    session: String,
    base: String,
    http: reqwest::Client,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Driver {
    pub async fn start(browser: &Path) -> Option<Driver> {
        let driver = PathBuf::from("/usr/bin/chromedriver");
        if !driver.exists() {
            return None;
        }
        trainyard::chat::install_tls_provider();
        let port = super::process::free_port();
        let process = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver runs");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let capabilities = serde_json::json!({"capabilities": {"alwaysMatch": {
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": browser,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                         "--window-size=1000,760"]
            }
        }}});
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let session = loop {
            let answer = http
                .post(format!("{base}/session"))
                .json(&capabilities)
                .send()
                .await;
            if let Ok(answer) = answer {
                let value: serde_json::Value = answer.json().await.expect("session");
                break value["value"]["sessionId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no session: {value}"))
                    .to_owned();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "chromedriver did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        Some(Driver {
            process,
            session,
            base,
            http,
        })
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        match self.try_call(method, path, body).await {
            Ok(value) => value,
            Err(error) => panic!("{method} {path}: {error}"),
        }
    }

    /// A WebDriver call, its error as the driver gave it.
    pub async fn try_call(
        &self,
        method: &str,
        path: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let request = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url).json(&body),
        };
        let value: serde_json::Value = request
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("json");
        if value["value"]["error"].is_null() {
            Ok(value["value"].clone())
        } else {
            Err(value)
        }
    }

    pub async fn open(&self, url: &str) {
        self.call("POST", "/url", serde_json::json!({ "url": url }))
            .await;
    }

    /// The id of the element `css` finds.
    async fn element(&self, css: &str) -> String {
        let element = self
            .call(
                "POST",
                "/element",
                serde_json::json!({"using": "css selector", "value": css}),
            )
            .await;
        element[ELEMENT].as_str().expect("an element").to_owned()
    }

    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(
            "POST",
            &format!("/element/{id}/click"),
            serde_json::json!({}),
        )
        .await;
    }

    /// Types `text` into the field `css` finds.
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            serde_json::json!({ "text": text }),
        )
        .await;
    }

    pub async fn url(&self) -> String {
        self.call("GET", "/url", serde_json::Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The page's visible text. A page still loading, or replaced between finding its body
    /// and reading it (a redirect landing), is read again.
    pub async fn text(&self) -> String {
        for _ in 0..40 {
            // Mid-navigation there may be no body yet.
            let Ok(body) = self
                .try_call(
                    "POST",
                    "/element",
                    serde_json::json!({"using": "css selector", "value": "body"}),
                )
                .await
            else {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            let id = body[ELEMENT].as_str().expect("body").to_owned();
            match self
                .try_call(
                    "GET",
                    &format!("/element/{id}/text"),
                    serde_json::Value::Null,
                )
                .await
            {
                Ok(text) => return text.as_str().unwrap_or_default().to_owned(),
                // The document was replaced under the read: stale, or (chromedriver's words
                // for the same race) a node that "does not belong to the document".
                Err(error)
                    if error["value"]["error"] == "stale element reference"
                        || error["value"]["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("does not belong to the document")) =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(error) => panic!("reading the page: {error}"),
            }
        }
        panic!("the page never held still long enough to be read")
    }

    /// What the page wrote to the console at SEVERE level (errors) since the last call.
    pub async fn console_errors(&self) -> Vec<String> {
        let url = format!("{}/session/{}/se/log", self.base, self.session);
        let value: serde_json::Value = self
            .http
            .post(url)
            .json(&serde_json::json!({"type": "browser"}))
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("json");
        value["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The page's HTML as the browser holds it.
    pub async fn source(&self) -> String {
        self.call("GET", "/source", serde_json::Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn screenshot(&self, shot: &Path) {
        use base64::Engine as _;
        let png = self
            .call("GET", "/screenshot", serde_json::Value::Null)
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("png"))
            .expect("base64");
        assert!(bytes.len() > 1000, "a screenshot");
        std::fs::write(shot, bytes).expect("write screenshot");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

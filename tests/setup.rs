//! Registering the GitHub App from the browser, as an operator does on a fresh machine: the
//! real binary with no App, `GET /`, GitHub's manifest flow (faked at the HTTP level), and
//! the server working with the new App's credentials without a restart.

mod harness;

use std::time::{Duration, Instant};

use serde_json::json;
use trainyard::inbound::github::signature;
use trainyard::settings::Secret;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use harness::process::Server;

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
    let pem = std::fs::read_to_string(format!(
        "{}/fixtures/keys/test-app.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("key");
    Mock::given(method("POST"))
        .and(path("/app-manifests/c0de/conversions"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": 4242, "slug": "trainyard-acme", "name": "trainyard",
            "html_url": format!("{}/apps/trainyard-acme", github.uri()),
            "client_id": "Iv1.acme", "client_secret": "client-secret",
            "webhook_secret": "registered-secret", "pem": pem,
        })))
        .expect(1)
        .mount(&github)
        .await;
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

    // The setup page posts the manifest to GitHub, pointed at this server.
    let (status, home) = server.get("/").await;
    assert_eq!(status, 200);
    let html = unescape(&home);
    let action_start = html.find("action=\"").expect("a form") + 8;
    let action = &html[action_start..html[action_start..].find('"').expect("end") + action_start];
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
    let (_, for_org) = server.get("/?org=acme-inc").await;
    assert!(
        unescape(&for_org).contains(&format!(
            "{}/organizations/acme-inc/settings/apps/new",
            github.uri()
        )),
        "{for_org}"
    );

    // A state this server did not issue is refused; the real one works once.
    let (status, _) = server.get("/setup/callback?code=c0de&state=forged").await;
    assert_eq!(status, 400);
    let (status, done) = server
        .get(&format!("/setup/callback?code=c0de&state={state}"))
        .await;
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("trainyard-acme"), "{done}");
    assert!(
        unescape(&done).contains(&format!(
            "{}/apps/trainyard-acme/installations/new",
            github.uri()
        )),
        "{done}"
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
    let (status, _) = server
        .get(&format!("/setup/callback?code=c0de&state={state}"))
        .await;
    assert_eq!(status, 409);
    let (exit, out) = server.terminate();
    assert!(exit.success(), "{out}");
    assert!(
        !out.contains("registered-secret"),
        "the secret is never logged"
    );
}

//! The real GitHub client pointed at a wiremock GitHub, with a plain token; and GitHub's side
//! of the App manifest flow.

use std::sync::Arc;

use trainyard::clock::SystemClock;
use trainyard::github::{ContentLimits, GitHubClient};
use trainyard::settings::Secret;

/// A client sending `token` to the fake at `base_url`.
pub fn token_client(base_url: &str, token: &str) -> GitHubClient {
    GitHubClient::with_token(
        Secret::new(token),
        base_url,
        Arc::new(SystemClock),
        ContentLimits::default(),
    )
    .expect("client")
}

/// GitHub converts the manifest code `c0de` once, answering with the App `id`
/// (`trainyard-acme`, webhook secret `registered-secret`).
pub async fn manifest_conversion(github: &wiremock::MockServer, id: u64) {
    use wiremock::matchers::{method, path};
    let pem = std::fs::read_to_string(format!(
        "{}/fixtures/keys/test-app.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("key");
    wiremock::Mock::given(method("POST"))
        .and(path("/app-manifests/c0de/conversions"))
        .respond_with(
            wiremock::ResponseTemplate::new(201).set_body_json(serde_json::json!({
                "id": id, "slug": "trainyard-acme", "name": "trainyard",
                "html_url": format!("{}/apps/trainyard-acme", github.uri()),
                "client_id": "Iv1.acme", "client_secret": "client-secret",
                "webhook_secret": "registered-secret", "pem": pem,
            })),
        )
        .expect(1)
        .mount(github)
        .await;
}

/// GitHub answers `GET /repos/{repo}` with the repository and its default branch.
pub async fn repository(github: &wiremock::MockServer, repo: &str, default_branch: &str) {
    use wiremock::matchers::{method, path};
    wiremock::Mock::given(method("GET"))
        .and(path(format!("/repos/{repo}")))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"full_name": repo, "default_branch": default_branch}),
        ))
        .mount(github)
        .await;
}

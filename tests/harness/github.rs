//! The real GitHub client pointed at a wiremock GitHub, with a plain token.

use std::sync::Arc;

use trainyard::clock::SystemClock;
use trainyard::github::{ContentPacing, GitHubClient};
use trainyard::settings::Secret;

/// A client sending `token` to the fake at `base_url`.
pub fn token_client(base_url: &str, token: &str) -> GitHubClient {
    GitHubClient::with_token(
        Secret::new(token),
        base_url,
        Arc::new(SystemClock),
        ContentPacing::default(),
    )
    .expect("client")
}

/// What the train stories' fake GitHub always answers for `repo`: installation tokens for the
/// App, and the crew's permissions — maya maintains, carol writes, rick reads.
pub async fn mount_app_and_crew(server: &wiremock::MockServer, repo: &str) {
    use serde_json::json;
    use wiremock::matchers::{method, path, path_regex};
    use wiremock::{Mock, ResponseTemplate};
    Mock::given(method("POST"))
        .and(path_regex("^/app/installations/[0-9]+/access_tokens$"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"token": "ghs_test", "expires_at": "2099-01-01T00:00:00Z"})),
        )
        .mount(server)
        .await;
    for (login, permission, role) in [
        ("maya", "admin", "maintain"),
        ("carol", "write", "write"),
        ("rick", "read", "read"),
    ] {
        Mock::given(method("GET"))
            .and(path(format!(
                "/repos/{repo}/collaborators/{login}/permission"
            )))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"permission": permission, "role_name": role})),
            )
            .mount(server)
            .await;
    }
}

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

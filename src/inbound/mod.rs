//! Inbound adapters: verify → parse → persist and enqueue → acknowledge. Route handlers only
//! ever see verified input; a route whose secret is not configured answers 503 and reads
//! nothing.

pub mod discord;
pub mod github;
pub mod intake;
pub mod oauth;
pub mod slack;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::app::AppState;

/// The inbound routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/webhooks/github",
            post(github::receive).layer(DefaultBodyLimit::max(github::MAX_BODY_BYTES)),
        )
        .route(
            "/slack/commands",
            post(slack::command).layer(DefaultBodyLimit::max(slack::MAX_BODY_BYTES)),
        )
        .route(
            "/slack/interactions",
            post(slack::interaction).layer(DefaultBodyLimit::max(slack::MAX_BODY_BYTES)),
        )
        .route(
            "/discord/interactions",
            post(discord::interaction).layer(DefaultBodyLimit::max(discord::MAX_BODY_BYTES)),
        )
        .route("/oauth/github/callback", get(oauth::callback))
}

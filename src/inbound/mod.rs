//! Inbound adapters: verify → parse → persist and enqueue → acknowledge. Route handlers only
//! ever see verified input; a route whose secret is not configured answers 503 and reads
//! nothing.

pub mod chat;
pub mod github;
pub mod intake;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::post;

use crate::app::AppState;

/// The inbound routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/webhooks/github",
            post(github::receive).layer(DefaultBodyLimit::max(github::MAX_BODY_BYTES)),
        )
        .route("/slack/commands", post(chat::slack))
        .route("/slack/interactions", post(chat::slack))
        .route("/discord/interactions", post(chat::discord))
}

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

/// Signed chat requests older (or newer) than this are replays (Slack's documented window;
/// Discord documents none, and gets the same).
pub const REPLAY_WINDOW_SECS: i64 = 300;

/// Whether a signed request's Unix-seconds `timestamp` is within the replay window of now.
pub(crate) fn is_fresh(timestamp: &str, now_secs: i64) -> bool {
    timestamp
        .trim()
        .parse::<i64>()
        .is_ok_and(|sent| (now_secs - sent).abs() <= REPLAY_WINDOW_SECS)
}

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

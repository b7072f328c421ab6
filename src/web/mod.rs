//! The browser's side and the server's own pages: the dashboard (its pages, sign-in, the
//! command form, the JSON API), account linking and the OAuth sign-ins it uses, first-run
//! setup, health and readiness, metrics.

pub mod browser;
pub mod dashboard;
pub mod gate_api;
pub mod health;
pub mod linking;
pub mod metrics;
pub mod oauth;
pub mod setup;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// Every page and browser endpoint (the machine endpoints are `inbound::routes`).
pub fn routes() -> Router<AppState> {
    use dashboard::{api, calendar, command, sign_in};
    Router::new()
        .route("/", get(dashboard::home))
        .route("/signin", get(sign_in::sign_in))
        .route("/oauth/github/signin", get(sign_in::signed_in))
        .route("/signout", post(sign_in::sign_out))
        .route("/repos/{owner}/{name}", get(dashboard::repository))
        .route("/repos/{owner}/{name}/commands", post(command::command))
        .route("/calendar.ics", get(calendar::feed))
        .route("/calendar/feeds", post(calendar::create))
        .route("/calendar/feeds/{id}/revoke", post(calendar::revoke))
        .route(
            "/api/v1/repos/{owner}/{name}/metrics",
            get(api::metrics_api),
        )
        .route("/api/v1/repos/{owner}/{name}/gate", get(gate_api::gate))
        .route("/setup", post(setup::start))
        .route("/setup/callback", get(setup::callback))
        .route("/link/{token}", get(linking::start))
        .route("/oauth/slack/callback", get(linking::slack_callback))
        .route("/oauth/discord/callback", get(linking::discord_callback))
        .route("/oauth/github/callback", get(linking::github_callback))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
}

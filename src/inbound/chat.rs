//! `POST /slack/commands`, `POST /slack/interactions` and `POST /discord/interactions`.
//! Until the chat surfaces are built these routes accept nothing: 503 when the integration
//! is not configured, 501 when it is.

use axum::extract::State;
use axum::http::StatusCode;

use crate::app::AppState;
use crate::error::HttpError;

/// Slack slash commands and interactions.
pub async fn slack(State(state): State<AppState>) -> Result<(), HttpError> {
    if state.settings.slack.is_none() {
        return Err(HttpError::not_configured(
            "Slack",
            "TRAINYARD_SLACK_SIGNING_SECRET and TRAINYARD_SLACK_BOT_TOKEN",
        ));
    }
    Err(HttpError::new(
        StatusCode::NOT_IMPLEMENTED,
        "Slack commands are not implemented in this build",
    ))
}

/// Discord interactions.
pub async fn discord(State(state): State<AppState>) -> Result<(), HttpError> {
    if state.settings.discord.is_none() {
        return Err(HttpError::not_configured(
            "Discord",
            "TRAINYARD_DISCORD_PUBLIC_KEY, TRAINYARD_DISCORD_APPLICATION_ID and TRAINYARD_DISCORD_BOT_TOKEN",
        ));
    }
    Err(HttpError::new(
        StatusCode::NOT_IMPLEMENTED,
        "Discord interactions are not implemented in this build",
    ))
}

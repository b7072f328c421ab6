//! `POST /webhooks/github`.

use axum::extract::State;

use crate::app::AppState;
use crate::error::HttpError;

/// Receives a webhook delivery.
pub async fn receive(State(state): State<AppState>) -> Result<(), HttpError> {
    if state.settings.github.is_none() {
        return Err(HttpError::not_configured(
            "the GitHub App",
            "TRAINYARD_GITHUB_APP_ID, TRAINYARD_GITHUB_PRIVATE_KEY and TRAINYARD_GITHUB_WEBHOOK_SECRET",
        ));
    }
    Err(HttpError::new(
        axum::http::StatusCode::NOT_IMPLEMENTED,
        "webhook intake is not implemented in this build",
    ))
}

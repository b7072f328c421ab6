//! Error policy.
//!
//! - Library modules (store, queue, settings, and later the GitHub client) return `thiserror`
//!   enums whose variants are what a caller branches on (`RateLimited`, `NotFound`, …).
//! - The domain returns typed refusals, which become replies to users, never 5xx.
//! - Handlers, jobs and the CLI use `anyhow` with `.context(…)` saying what was being done.
//! - At the HTTP edge every failure becomes an [`HttpError`]: a status and a short reason in
//!   JSON. Reasons never contain request bodies, secrets or tokens.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A failure answered to an HTTP caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// Status code.
    pub status: StatusCode,
    /// Short reason for the caller.
    pub reason: String,
}

impl HttpError {
    /// An error with `status` and `reason`.
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        HttpError {
            status,
            reason: reason.into(),
        }
    }

    /// 503: the integration behind this route is not configured on this server.
    pub fn not_configured(integration: &str, settings: &str) -> Self {
        HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{integration} is not configured on this server (set {settings})"),
        )
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: &self.reason,
            }),
        )
            .into_response()
    }
}

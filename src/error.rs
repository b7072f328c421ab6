//! Error policy, as the code follows it (docs/architecture.md has the floors).
//!
//! - Library rooms (store, queue, GitHub and chat clients, settings) return `thiserror` enums
//!   whose variants are what a caller branches on (`StoreError`, `GitHubError::RateLimited`,
//!   `NotFound`, `ChatError`, …).
//! - The domain returns typed refusals and errors (`Refusal`, `ParseError`, `ConfigError`),
//!   which become answers to the person who asked, never 5xx; configuration errors name the
//!   file, line and key in the author's words.
//! - Jobs return a [`crate::jobs::JobError`] saying what the queue should do: `Failed`
//!   (retried with backoff, counted), `Transient` (a dependency is down: retried, not
//!   counted), `RetryAt` (a rate limit: wait until then), `Permanent` (dead at once, the
//!   reason kept and, for a command, answered). Library errors convert with `From`.
//! - Only the edges use `anyhow` with `.context(…)` saying what was being done: the command
//!   line (`cli/`) and start-up (`state.rs`, `app.rs`).
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

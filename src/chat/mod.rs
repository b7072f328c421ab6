//! Outbound chat: the Slack Web API and `response_url`s, Discord's REST API and interaction
//! webhooks. Both clients are plain HTTP (reqwest) against configurable base URLs, so tests
//! run them for real against wiremock.

pub mod cards;
pub mod discord;
pub mod slack;

use std::time::Duration;

use crate::jobs::JobError;

/// Why a chat API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The service is down or slow (5xx, timeout, connection): try again later.
    #[error("{service} is unavailable: {reason}")]
    Transient {
        /// Slack or Discord.
        service: &'static str,
        /// What happened.
        reason: String,
    },
    /// Rate limited: try again after the wait.
    #[error("{service} asks to wait {wait:?}")]
    RateLimited {
        /// Slack or Discord.
        service: &'static str,
        /// How long.
        wait: Duration,
    },
    /// The target is gone or expired (a spent `response_url`, an expired interaction token).
    #[error("{service}: {reason}")]
    Gone {
        /// Slack or Discord.
        service: &'static str,
        /// What the service said.
        reason: String,
    },
    /// Refused for good (bad token, missing channel, bad request).
    #[error("{service} refused: {reason}")]
    Refused {
        /// Slack or Discord.
        service: &'static str,
        /// What the service said (never a token).
        reason: String,
    },
}

impl From<ChatError> for JobError {
    fn from(error: ChatError) -> JobError {
        match error {
            ChatError::Transient { .. } => JobError::Transient(error.to_string()),
            ChatError::RateLimited { wait, .. } => JobError::RetryAt {
                until: jiff::Timestamp::now()
                    .checked_add(jiff::SignedDuration::try_from(wait).unwrap_or_default())
                    .unwrap_or_else(|_| jiff::Timestamp::now()),
                reason: error.to_string(),
            },
            ChatError::Gone { .. } | ChatError::Refused { .. } => {
                JobError::Failed(error.to_string())
            }
        }
    }
}

/// One HTTP client for both services: short timeouts, no redirects to follow blindly.
pub(crate) fn http_client() -> reqwest::Client {
    install_tls_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// HTTPS for reqwest through rustls with *ring* (the provider octocrab already uses, so no C
/// toolchain is needed), verified against the system's roots. Installed once per process;
/// later calls find it installed.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Classifies an HTTP failure. The message never holds the URL: response URLs and
/// interaction webhooks carry tokens in their paths.
pub(crate) fn from_reqwest(service: &'static str, error: &reqwest::Error) -> ChatError {
    let reason = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else if error.is_decode() {
        "unreadable answer"
    } else {
        "request failed"
    };
    ChatError::Transient {
        service,
        reason: reason.to_owned(),
    }
}

/// Classifies a non-success status.
pub(crate) fn from_status(
    service: &'static str,
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
    body: &str,
) -> ChatError {
    let reason = format!("{status}: {}", body.chars().take(200).collect::<String>());
    match status.as_u16() {
        429 => ChatError::RateLimited {
            service,
            wait: retry_after.unwrap_or(Duration::from_secs(1)),
        },
        404 | 410 => ChatError::Gone { service, reason },
        500..=599 => ChatError::Transient { service, reason },
        _ => ChatError::Refused { service, reason },
    }
}

#[cfg(test)]
mod tls_tests {
    /// Slack, Discord and GitHub's sign-in are HTTPS: a client without TLS fails before it
    /// connects (`is_builder`); ours gets as far as the connection.
    #[tokio::test]
    async fn the_chat_client_speaks_https() {
        let error = super::http_client()
            .get("https://127.0.0.1:9/")
            .send()
            .await
            .expect_err("nothing listens there");
        assert!(!error.is_builder(), "{error:?}");
        assert!(error.is_connect(), "{error:?}");
    }
}

//! What can go wrong talking to GitHub, sorted by what the caller does about it.

use std::time::Duration;

use http::{HeaderMap, StatusCode};
use jiff::Timestamp;

use crate::jobs::JobError;

/// How long to wait after a secondary rate limit that names no time (GitHub: at least 60 s).
pub const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// A failed GitHub call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitHubError {
    /// Rate limited: nothing may be sent before `until`.
    #[error("GitHub rate limit; retry at {until}")]
    RateLimited {
        /// When to try again.
        until: Timestamp,
    },
    /// Held back by our own budget of GitHub calls (the write pace, a pause after the
    /// secondary limit, the primary budget's reserve): nothing was sent; try at `until`.
    #[error("held back until {until}: {reason}")]
    Paced {
        /// When the budget allows the call.
        until: Timestamp,
        /// Which budget: `pace`, `pause` or `reserve` (see `budget::Hold`).
        budget: &'static str,
        /// Why, for people.
        reason: String,
    },
    /// A server error, timeout or connection failure; worth retrying later.
    #[error("GitHub unavailable: {0}")]
    Transient(String),
    /// The thing does not exist (or the App cannot see it).
    #[error("not found on GitHub: {0}")]
    NotFound(String),
    /// 409: conflicts with the current state.
    #[error("GitHub reports a conflict: {0}")]
    Conflict(String),
    /// 422: GitHub refused the request; its message is kept.
    #[error("GitHub refused the request: {0}")]
    Validation(String),
    /// Authentication failed even with a fresh token.
    #[error("GitHub authentication failed: {0}")]
    Unauthorized(String),
    /// Any other refusal (403 for missing permissions, …).
    #[error("GitHub answered {status}: {message}")]
    Other {
        /// HTTP status.
        status: u16,
        /// GitHub's message.
        message: String,
    },
    /// The answer was not what GitHub documents.
    #[error("unexpected answer from GitHub: {0}")]
    Decode(String),
}

impl GitHubError {
    /// Classifies a non-success response.
    pub fn from_response(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: Timestamp,
    ) -> GitHubError {
        let message = github_message(body, status);
        match status.as_u16() {
            401 => GitHubError::Unauthorized(message),
            403 | 429 => {
                if let Some(until) = rate_limit_until(headers, now) {
                    GitHubError::RateLimited { until }
                } else if status == StatusCode::TOO_MANY_REQUESTS
                    || message.to_ascii_lowercase().contains("rate limit")
                {
                    GitHubError::RateLimited {
                        until: now + SECONDARY_LIMIT_WAIT,
                    }
                } else {
                    GitHubError::Other {
                        status: status.as_u16(),
                        message,
                    }
                }
            }
            404 => GitHubError::NotFound(message),
            409 => GitHubError::Conflict(message),
            422 => GitHubError::Validation(message),
            500..=599 => GitHubError::Transient(format!("{status}: {message}")),
            other => GitHubError::Other {
                status: other,
                message,
            },
        }
    }
}

/// `retry-after` (seconds), else an exhausted primary limit's `x-ratelimit-reset`.
fn rate_limit_until(headers: &HeaderMap, now: Timestamp) -> Option<Timestamp> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(wait) = header("retry-after").and_then(crate::jobs::backoff::retry_hint) {
        return Some(now.saturating_add(wait).unwrap_or(now));
    }
    let exhausted = header("x-ratelimit-remaining").is_some_and(|v| v.trim() == "0");
    let reset = header("x-ratelimit-reset")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .and_then(|secs| Timestamp::from_second(secs).ok());
    match (exhausted, reset) {
        // A reset already past (clock skew) still waits a little rather than hot-looping.
        // One from the far future waits no longer than any other hint.
        (true, Some(reset)) => Some(
            reset.clamp(
                now.saturating_add(Duration::from_secs(1)).unwrap_or(now),
                now.saturating_add(crate::jobs::queue::MAX_WAIT)
                    .unwrap_or(now),
            ),
        ),
        _ => None,
    }
}

/// GitHub's `message` field, or the status text.
fn github_message(body: &[u8], status: StatusCode) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        message: Option<String>,
        #[serde(default)]
        errors: Vec<serde_json::Value>,
    }
    match serde_json::from_slice::<Body>(body) {
        Ok(Body {
            message: Some(message),
            errors,
        }) if errors.is_empty() => message,
        Ok(Body {
            message: Some(message),
            errors,
        }) => {
            let details: Vec<String> = errors
                .iter()
                .map(|e| {
                    // Deployments refused for their required status checks name them.
                    if let Some(contexts) = e.get("contexts").and_then(|c| c.as_array()) {
                        let named: Vec<String> = contexts
                            .iter()
                            .filter_map(|c| {
                                let name = c.get("context")?.as_str()?;
                                let state = c.get("state").and_then(|s| s.as_str());
                                Some(match state {
                                    Some(state) => format!("{name} ({state})"),
                                    None => name.to_owned(),
                                })
                            })
                            .collect();
                        return format!("failing checks: {}", named.join(", "));
                    }
                    e.get("message")
                        .and_then(|m| m.as_str())
                        .map(str::to_owned)
                        .or_else(|| e.get("code").and_then(|c| c.as_str()).map(str::to_owned))
                        .unwrap_or_else(|| e.to_string())
                })
                .collect();
            format!("{message} ({})", details.join("; "))
        }
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    }
}

impl From<GitHubError> for JobError {
    fn from(error: GitHubError) -> JobError {
        match error {
            GitHubError::RateLimited { until } => JobError::RetryAt {
                until,
                reason: "GitHub rate limit".to_owned(),
            },
            GitHubError::Paced {
                until,
                budget,
                reason,
            } => JobError::Paced {
                until,
                reason,
                step_aside: budget == "reserve",
            },
            GitHubError::Transient(reason) => JobError::Transient(reason),
            other => JobError::Failed(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-27T10:00:00Z".parse().expect("time")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().expect("header value"));
        }
        map
    }

    fn classify(status: u16, pairs: &[(&'static str, &str)], body: &str) -> GitHubError {
        let status = StatusCode::from_u16(status).expect("status");
        GitHubError::from_response(status, &headers(pairs), body.as_bytes(), now())
    }

    #[test]
    fn retry_after_wins() {
        assert_eq!(
            classify(403, &[("retry-after", "30")], r#"{"message":"slow down"}"#),
            GitHubError::RateLimited {
                until: now() + Duration::from_secs(30)
            }
        );
        assert_eq!(
            classify(429, &[("retry-after", "5")], ""),
            GitHubError::RateLimited {
                until: now() + Duration::from_secs(5)
            }
        );
    }

    #[test]
    fn an_exhausted_primary_limit_waits_for_its_reset() {
        let reset = now() + Duration::from_secs(600);
        let reset_secs = reset.as_second().to_string();
        assert_eq!(
            classify(
                403,
                &[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", &reset_secs)
                ],
                "{}"
            ),
            GitHubError::RateLimited { until: reset }
        );
    }

    #[test]
    fn a_secondary_limit_without_headers_waits_a_minute() {
        let body = r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#;
        assert_eq!(
            classify(403, &[], body),
            GitHubError::RateLimited {
                until: now() + Duration::from_secs(60)
            }
        );
    }

    #[test]
    fn a_permission_403_is_not_a_rate_limit() {
        assert_eq!(
            classify(
                403,
                &[("x-ratelimit-remaining", "4000")],
                r#"{"message":"Resource not accessible by integration"}"#
            ),
            GitHubError::Other {
                status: 403,
                message: "Resource not accessible by integration".into()
            }
        );
    }

    #[test]
    fn other_statuses() {
        assert_eq!(
            classify(404, &[], r#"{"message":"Not Found"}"#),
            GitHubError::NotFound("Not Found".into())
        );
        assert_eq!(
            classify(
                422,
                &[],
                r#"{"message":"Validation Failed","errors":[{"resource":"Release","code":"already_exists","field":"tag_name"}]}"#
            ),
            GitHubError::Validation("Validation Failed (already_exists)".into())
        );
        assert_eq!(
            classify(422, &[], r#"{"message":"Reference already exists"}"#),
            GitHubError::Validation("Reference already exists".into())
        );
        assert_eq!(
            classify(409, &[], r#"{"message":"Merge conflict"}"#),
            GitHubError::Conflict("Merge conflict".into())
        );
        assert_eq!(
            classify(401, &[], r#"{"message":"Bad credentials"}"#),
            GitHubError::Unauthorized("Bad credentials".into())
        );
        assert_eq!(
            classify(502, &[], "<html>"),
            GitHubError::Transient("502 Bad Gateway: Bad Gateway".into())
        );
    }

    #[test]
    fn the_queue_waits_on_rate_limits_and_outages() {
        let until = now() + Duration::from_secs(30);
        assert!(
            matches!(JobError::from(GitHubError::RateLimited { until }), JobError::RetryAt { until: u, .. } if u == until)
        );
        assert!(matches!(
            JobError::from(GitHubError::Transient("x".into())),
            JobError::Transient(_)
        ));
        assert!(matches!(
            JobError::from(GitHubError::NotFound("x".into())),
            JobError::Failed(_)
        ));
    }
}

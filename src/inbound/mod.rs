//! Inbound adapters: verify → parse → persist and enqueue → acknowledge. Route handlers only
//! ever see verified input; a route whose secret is not configured answers 503 and reads
//! nothing.

pub mod discord;
pub mod github;
pub mod intake;
pub mod slack;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::post;

use crate::server::body_gate::{self, BodyBudget, Gate};
use crate::settings::Settings;
use crate::state::AppState;

/// The request's headers and its body, read within the route's body limit (a refusal keeps
/// the limit's own status: 413 for a body too large). Headers are taken, not copied.
pub(crate) async fn headers_and_body(
    request: axum::extract::Request,
    state: &AppState,
) -> Result<(axum::http::HeaderMap, axum::body::Bytes), crate::error::HttpError> {
    use axum::extract::FromRequest as _;
    let (mut parts, body) = request.into_parts();
    let headers = std::mem::take(&mut parts.headers);
    let request = axum::extract::Request::from_parts(parts, body);
    let body = axum::body::Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            crate::error::HttpError::new(rejection.status(), rejection.body_text())
        })?;
    Ok((headers, body))
}

/// Signed chat requests older (or newer) than this are replays (Slack's documented window;
/// Discord documents none, and gets the same).
pub const REPLAY_WINDOW_SECS: i64 = 300;

/// Whether a signed request's Unix-seconds `timestamp` is within the replay window of now.
pub(crate) fn is_fresh(timestamp: &str, now_secs: i64) -> bool {
    // Checked: a signed timestamp 2^63 s away must not wrap around into the window.
    timestamp
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|sent| now_secs.checked_sub(sent))
        .and_then(i64::checked_abs)
        .is_some_and(|age| age <= REPLAY_WINDOW_SECS)
}

/// The inbound routes. Each reads its body through the shared [`BodyBudget`], up to its own
/// limit, before its handler verifies who sent it.
const SLACK: u8 = 0;
const DISCORD: u8 = 1;

/// Times a chat request from its arrival (body included) to trainyard's answer: Slack and
/// Discord give up after 3 seconds.
async fn timed_ack<const SURFACE: u8>(
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let surface = if SURFACE == SLACK { "slack" } else { "discord" };
    crate::metrics::metrics().chat_ack(surface, started.elapsed());
    response
}

pub fn routes(budget: &BodyBudget, settings: &Settings) -> Router<AppState> {
    // A route whose integration is not configured answers before reading a byte.
    let gated = |max_bytes: usize, missing: Option<(&'static str, &'static str)>| {
        let gate = Gate::new(budget.clone(), max_bytes);
        let gate = match missing {
            Some((integration, needed)) => gate.unconfigured(integration, needed),
            None => gate,
        };
        (
            middleware::from_fn_with_state(gate, body_gate::admit),
            DefaultBodyLimit::max(max_bytes),
        )
    };
    let github = settings.github.is_none().then_some(github::NOT_CONFIGURED);
    let slack = settings.slack.is_none().then_some(slack::NOT_CONFIGURED);
    let discord = settings
        .discord
        .is_none()
        .then_some(discord::NOT_CONFIGURED);
    Router::new()
        .route(
            "/webhooks/github",
            post(github::receive).layer(gated(github::MAX_BODY_BYTES, github)),
        )
        .route(
            "/slack/commands",
            post(slack::command)
                .layer(gated(slack::MAX_BODY_BYTES, slack))
                .layer(middleware::from_fn(timed_ack::<SLACK>)),
        )
        .route(
            "/slack/interactions",
            post(slack::interaction)
                .layer(gated(slack::MAX_BODY_BYTES, slack))
                .layer(middleware::from_fn(timed_ack::<SLACK>)),
        )
        .route(
            "/discord/interactions",
            post(discord::interaction)
                .layer(gated(discord::MAX_BODY_BYTES, discord))
                .layer(middleware::from_fn(timed_ack::<DISCORD>)),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_795_000_000;

    #[test]
    fn the_window_is_five_minutes_either_way() {
        for (offset, fresh) in [
            (0, true),
            (300, true),
            (-300, true),
            (301, false),
            (-301, false),
        ] {
            assert_eq!(
                is_fresh(&(NOW + offset).to_string(), NOW),
                fresh,
                "{offset}"
            );
        }
    }

    #[test]
    fn timestamps_at_the_ends_of_the_range_do_not_wrap_into_the_window() {
        let far = NOW.wrapping_sub(i64::MIN.wrapping_neg()); // now - 2^63
        for sent in [far, i64::MIN, i64::MAX, NOW - i64::MAX] {
            assert!(!is_fresh(&sent.to_string(), NOW), "{sent}");
        }
        for junk in ["", "-", "1e9", "99999999999999999999", " 12 34", "\u{0}"] {
            assert!(!is_fresh(junk, NOW), "{junk:?}");
        }
    }

    proptest! {
        #[test]
        fn fresh_means_within_the_window(sent in any::<i64>(), now in any::<i64>()) {
            let fresh = is_fresh(&sent.to_string(), now);
            let within = (i128::from(now) - i128::from(sent)).abs() <= i128::from(REPLAY_WINDOW_SECS);
            prop_assert_eq!(fresh, within);
        }

        #[test]
        fn any_header_text_is_judged_without_panicking(text in ".{0,40}", now in any::<i64>()) {
            let _ = is_fresh(&text, now);
        }
    }
}

//! `POST /webhooks/github`: verify the signature over the raw body, parse, record the
//! delivery and enqueue its job in one transaction, answer. Nothing here calls GitHub.

pub mod payload;
pub mod signature;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use crate::error::HttpError;
use crate::handlers::events::{HandleWebhook, needs_a_job};
use crate::inbound::intake::{Accepted, Delivery};
use crate::state::AppState;
use payload::Parsed;

/// GitHub delivers at most 25 MB; anything larger is not a GitHub delivery.
pub const MAX_BODY_BYTES: usize = 25 * 1024 * 1024;

/// What this route answers while its integration is not configured: the integration, and
/// the settings it needs.
pub const NOT_CONFIGURED: (&str, &str) = (
    "the GitHub App",
    "TRAINYARD_GITHUB_APP_ID, TRAINYARD_GITHUB_PRIVATE_KEY and TRAINYARD_GITHUB_WEBHOOK_SECRET",
);
/// Delivery ids are GUIDs; this bounds what we store as a key.
const MAX_DELIVERY_ID_LEN: usize = 100;

/// A delivery GitHub signed (with the webhook secret, or the one it replaces while it
/// rotates): a route that takes one cannot run on a request whose signature did not check
/// out. A refused delivery is counted as `unverified`.
pub struct VerifiedGitHub {
    /// The delivery's headers.
    pub headers: HeaderMap,
    /// Its body, as signed.
    pub body: Bytes,
}

impl axum::extract::FromRequest<AppState> for VerifiedGitHub {
    type Rejection = HttpError;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, HttpError> {
        let (headers, body) = super::headers_and_body(request, state).await?;
        let refused = match &state.settings.github {
            None => {
                let (integration, needed) = NOT_CONFIGURED;
                HttpError::not_configured(integration, needed)
            }
            Some(app)
                if signature::is_valid(
                    &app.webhook_secrets,
                    header_str(&headers, "x-hub-signature-256"),
                    &body,
                ) =>
            {
                return Ok(VerifiedGitHub { headers, body });
            }
            Some(_) => HttpError::new(
                StatusCode::UNAUTHORIZED,
                "missing or invalid X-Hub-Signature-256",
            ),
        };
        crate::metrics::metrics().delivery("unverified", outcome_of(&refused));
        Err(refused)
    }
}

/// Receives one verified webhook delivery, and counts it by event and outcome.
pub async fn receive(
    state: State<AppState>,
    VerifiedGitHub { headers, body }: VerifiedGitHub,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let event = match header_str(&headers, "x-github-event") {
        Some("ping") => "ping",
        Some(event) => payload::HANDLED_EVENTS
            .into_iter()
            .find(|known| *known == event)
            .unwrap_or("other"),
        None => "none",
    };
    let answer = receive_delivery(state, headers, body).await;
    let outcome = match &answer {
        Ok((_, Json(body))) => match body["status"].as_str() {
            Some("queued") => "queued",
            Some("ignored") => "ignored",
            Some("duplicate") => "duplicate",
            Some("pong") => "pong",
            _ => "other",
        },
        Err(error) => outcome_of(error),
    };
    crate::metrics::metrics().delivery(event, outcome);
    answer
}

/// How a refused delivery is counted.
fn outcome_of(error: &HttpError) -> &'static str {
    match error.status {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        _ => "malformed",
    }
}

/// The delivery itself, its signature already checked.
async fn receive_delivery(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let event = header_str(&headers, "x-github-event")
        .filter(|e| !e.is_empty())
        .ok_or_else(|| HttpError::new(StatusCode::BAD_REQUEST, "missing X-GitHub-Event"))?;
    let delivery_id = header_str(&headers, "x-github-delivery")
        .filter(|d| is_delivery_id(d))
        .ok_or_else(|| {
            HttpError::new(
                StatusCode::BAD_REQUEST,
                "missing or malformed X-GitHub-Delivery",
            )
        })?;
    let is_json = header_str(&headers, header::CONTENT_TYPE.as_str())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "webhook content type must be application/json",
        ));
    }
    tracing::Span::current().record("delivery", delivery_id);

    if event == "ping" {
        return Ok((StatusCode::OK, Json(json!({ "status": "pong" }))));
    }
    let (action, parsed) = payload::parse(event, &body)
        .map_err(|e| HttpError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let received_at = state.queue.clock().now().as_millisecond();
    let (repository, installation_id, job) = match parsed {
        Parsed::Handled(event) => (
            event.repository().map(|r| r.to_string()),
            event.installation_id(),
            needs_a_job(
                &event,
                &state.noted_repositories,
                &state.check_windows,
                received_at,
            )
            .then(|| HandleWebhook {
                delivery_id: delivery_id.to_owned(),
                event: *event,
                received_at,
            }),
        ),
        Parsed::Ignored => (None, None, None),
    };
    let delivery = Delivery {
        source: "github",
        delivery_id: delivery_id.to_owned(),
        event: event.to_owned(),
        action,
        repository,
        installation_id,
        received_at,
        job,
    };
    match state.intake.submit(delivery).await {
        Ok(Accepted::Queued) => Ok((StatusCode::ACCEPTED, Json(json!({ "status": "queued" })))),
        Ok(Accepted::Ignored) => Ok((StatusCode::ACCEPTED, Json(json!({ "status": "ignored" })))),
        Ok(Accepted::Duplicate) => Ok((StatusCode::OK, Json(json!({ "status": "duplicate" })))),
        Err(error) => {
            tracing::error!(%error, "webhook delivery not recorded");
            Err(HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot record the delivery now; redeliver it later",
            ))
        }
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn is_delivery_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_DELIVERY_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

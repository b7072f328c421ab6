//! `POST /slack/commands` (slash commands) and `POST /slack/interactions` (buttons).
//! Verify Slack's `v0` signature over the raw body and a fresh timestamp, parse the form,
//! answer within Slack's 3 seconds: reading commands at once, changing ones acknowledged and
//! enqueued (their outcome goes to the `response_url`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Instrument as _;

use crate::chat::cards::Surface;
use crate::domain::command::{self};
use crate::error::HttpError;
use crate::handlers::chat::{Answer, Asker, Reply, ReplyTo, SendReply, answer, button_command};
use crate::settings::Secret;
use crate::state::AppState;

/// Slack's payloads are small; a message with blocks stays well below this.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What this route answers while its integration is not configured: the integration, and
/// the settings it needs.
pub const NOT_CONFIGURED: (&str, &str) = (
    "Slack",
    "TRAINYARD_SLACK_SIGNING_SECRET and TRAINYARD_SLACK_BOT_TOKEN",
);

/// Why a request is not Slack's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Missing headers.
    #[error("missing X-Slack-Signature or X-Slack-Request-Timestamp")]
    Missing,
    /// The timestamp is not within five minutes of now.
    #[error("stale or malformed X-Slack-Request-Timestamp")]
    Stale,
    /// The signature does not match.
    #[error("invalid X-Slack-Signature")]
    Invalid,
}

/// Checks `v0=hex(HMAC-SHA256(secret, "v0:{timestamp}:{body}"))`, in constant time.
pub fn verify(
    secret: &Secret,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    if !super::is_fresh(timestamp, now_secs) {
        return Err(SignatureError::Stale);
    }
    let expected = signature
        .strip_prefix("v0=")
        .and_then(|hex_mac| hex::decode(hex_mac).ok())
        .ok_or(SignatureError::Invalid)?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| SignatureError::Invalid)?;
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Invalid)
}

fn verified(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), HttpError> {
    let Some(slack) = state.settings.slack.as_ref() else {
        let (integration, needed) = NOT_CONFIGURED;
        return Err(HttpError::not_configured(integration, needed));
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = state.queue.clock().now().as_second();
    verify(
        &slack.signing_secret,
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        body,
        now,
    )
    .map_err(|e| HttpError::new(StatusCode::UNAUTHORIZED, e.to_string()))
}

/// A request Slack signed, its body read as `T`: a route that takes one cannot run on a
/// request whose signature did not check out.
pub struct VerifiedSlack<T>(pub T);

/// What a verified Slack body is read as.
pub trait SlackRequest: Sized {
    /// Reads the (verified) body; a malformed one is a 400.
    fn read(body: &[u8]) -> Result<Self, HttpError>;
}

impl<T: SlackRequest> axum::extract::FromRequest<AppState> for VerifiedSlack<T> {
    type Rejection = HttpError;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, HttpError> {
        let (headers, body) = super::headers_and_body(request, state).await?;
        verified(state, &headers, &body)?;
        T::read(&body).map(VerifiedSlack)
    }
}

/// A slash command, or Slack checking the certificate (`ssl_check`), which wants a 200.
pub enum SlashRequest {
    /// `ssl_check=1`.
    SslCheck,
    /// A command.
    Command(SlashCommand),
}

impl SlackRequest for SlashRequest {
    fn read(body: &[u8]) -> Result<Self, HttpError> {
        if serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .is_ok_and(|fields| fields.iter().any(|(k, _)| k == "ssl_check"))
        {
            return Ok(SlashRequest::SslCheck);
        }
        serde_urlencoded::from_bytes(body)
            .map(SlashRequest::Command)
            .map_err(|e| {
                HttpError::new(
                    StatusCode::BAD_REQUEST,
                    format!("not a Slack slash command: {e}"),
                )
            })
    }
}

/// A slash command's form.
#[derive(Deserialize)]
pub struct SlashCommand {
    #[serde(default)]
    text: String,
    response_url: String,
    user_id: String,
    team_id: String,
    channel_id: String,
    trigger_id: Option<String>,
}

/// A slash command.
pub async fn command(
    State(state): State<AppState>,
    VerifiedSlack(request): VerifiedSlack<SlashRequest>,
) -> Result<Response, HttpError> {
    let form = match request {
        SlashRequest::SslCheck => return Ok(StatusCode::OK.into_response()),
        SlashRequest::Command(form) => form,
    };
    let now = state.queue.clock().now().as_millisecond();
    let request_id = form
        .trigger_id
        .clone()
        .unwrap_or_else(|| format!("{}:{}", form.user_id, now));
    let span = tracing::info_span!("command", command_id = %format!("slack:{request_id}"));
    async move {
        // A command that changes something is accepted once (its job and the request id are
        // written together); a retried read is answered again, with no write on the hot path.
        let parsed = command::parse(&form.text);
        let asker = Asker {
            surface: Surface::Slack,
            workspace: form.team_id,
            channel: form.channel_id.clone(),
            user: form.user_id,
            comment_repository: None,
        };
        let reply_to = ReplyTo::Slack {
            response_url: form.response_url,
            channel: form.channel_id,
            issued_at: now,
        };
        let answered = answer(
            &state.train_context(),
            &asker,
            parsed,
            reply_to,
            &format!("slack:{request_id}"),
            None,
        )
        .await
        .map_err(unavailable)?;
        Ok(Json(match answered {
            Answer::Now(reply) => message(&reply),
            Answer::Later(ack) => json!({ "response_type": "in_channel", "text": ack.text }),
            Answer::AlreadyAccepted => return Ok(StatusCode::OK.into_response()),
        })
        .into_response())
    }
    .instrument(span)
    .await
}

fn unavailable(error: crate::handlers::chat::ChatFailure) -> HttpError {
    tracing::error!(%error, "chat command not answered");
    HttpError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "trainyard cannot answer right now; try again in a moment",
    )
}

/// A reply as a Slack message.
fn message(reply: &Reply) -> Value {
    let response_type = if reply.ephemeral {
        "ephemeral"
    } else {
        "in_channel"
    };
    match &reply.card {
        Some(card) => json!({
            "response_type": response_type,
            "text": card.text(Surface::Slack),
            "blocks": card.slack_blocks(),
        }),
        None => json!({ "response_type": response_type, "text": reply.text }),
    }
}

#[derive(Deserialize)]
struct InteractionForm {
    payload: String,
}

/// A `block_actions` interaction, as much of it as trainyard reads.
#[derive(Deserialize)]
pub struct BlockActions {
    #[serde(rename = "type")]
    kind: String,
    user: Option<IdOnly>,
    team: Option<IdOnly>,
    channel: Option<IdOnly>,
    response_url: Option<String>,
    trigger_id: Option<String>,
    #[serde(default)]
    actions: Vec<Action>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Deserialize)]
struct Action {
    action_id: String,
    #[serde(default)]
    value: String,
    action_ts: Option<String>,
}

impl SlackRequest for BlockActions {
    fn read(body: &[u8]) -> Result<Self, HttpError> {
        let form: InteractionForm = serde_urlencoded::from_bytes(body).map_err(|_| {
            HttpError::new(
                StatusCode::BAD_REQUEST,
                "not a Slack interaction: no payload field",
            )
        })?;
        let mut deserializer = serde_json::Deserializer::from_str(&form.payload);
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            HttpError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "malformed interaction payload at {}: {}",
                    e.path(),
                    e.inner()
                ),
            )
        })
    }
}

/// A button press: Approve and Reject are the same commands, given by whoever pressed.
pub async fn interaction(
    State(state): State<AppState>,
    VerifiedSlack(payload): VerifiedSlack<BlockActions>,
) -> Result<Response, HttpError> {
    let (Some(user), Some(team), Some(channel), Some(response_url)) = (
        payload.user,
        payload.team,
        payload.channel,
        payload.response_url,
    ) else {
        // Not a message button (a modal, a shortcut): nothing of ours.
        return Ok(StatusCode::OK.into_response());
    };
    let Some(action) = payload
        .actions
        .first()
        .filter(|_| payload.kind == "block_actions")
    else {
        return Ok(StatusCode::OK.into_response());
    };
    let request_id = format!(
        "{}:{}",
        payload.trigger_id.as_deref().unwrap_or(&user.id),
        action.action_ts.as_deref().unwrap_or("")
    );
    let span = tracing::info_span!("command", command_id = %format!("slack:{request_id}"));
    async move {
        let now = state.queue.clock().now().as_millisecond();
        let reply_to = ReplyTo::Slack {
            response_url,
            channel: channel.id.clone(),
            issued_at: now,
        };
        let asker = Asker {
            surface: Surface::Slack,
            workspace: team.id,
            channel: channel.id,
            user: user.id,
            comment_repository: None,
        };
        let ctx = state.train_context();
        let Some((command, pinned)) = button_command(&state.db, &action.action_id, &action.value)
            .await
            .map_err(unavailable)?
        else {
            return Ok(StatusCode::OK.into_response());
        };
        let answered = answer(
            &ctx,
            &asker,
            Ok(command),
            reply_to.clone(),
            &format!("slack:{request_id}"),
            Some(pinned),
        )
        .await
        .map_err(unavailable)?;
        // The HTTP answer to a button shows nothing: an immediate reply (a refusal) goes to the
        // response_url; an enqueued command's outcome follows there on its own.
        let reply = match answered {
            Answer::Now(reply) => reply,
            Answer::Later(_) | Answer::AlreadyAccepted => {
                return Ok(StatusCode::OK.into_response());
            }
        };
        let text = match &reply.card {
            Some(card) => card.text(Surface::Slack),
            None => reply.text.clone(),
        };
        state
            .queue
            .enqueue_now(&SendReply {
                reply_to,
                text,
                ephemeral: reply.ephemeral,
            })
            .await
            .map_err(|e| unavailable(e.into()))?;
        Ok(StatusCode::OK.into_response())
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's documented example ("Verifying requests from Slack").
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow\
        &channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner\
        &command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands\
        %2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN\
        &trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slacks_documented_example_verifies_at_its_time_only() {
        let secret = Secret::new(SECRET);
        let at = 1_531_420_618;
        let check = |body: &str, now: i64, sig: &str| {
            verify(&secret, Some(TIMESTAMP), Some(sig), body.as_bytes(), now)
        };
        assert_eq!(check(BODY, at, SIGNATURE), Ok(()));
        assert_eq!(check(BODY, at + 300, SIGNATURE), Ok(()));
        assert_eq!(check(BODY, at + 301, SIGNATURE), Err(SignatureError::Stale));
        assert_eq!(check(BODY, at - 301, SIGNATURE), Err(SignatureError::Stale));
        assert_eq!(
            check(&format!("{BODY}x"), at, SIGNATURE),
            Err(SignatureError::Invalid)
        );
        assert_eq!(check(BODY, at, "v1=00"), Err(SignatureError::Invalid));
        assert_eq!(
            verify(&secret, None, Some(SIGNATURE), BODY.as_bytes(), at),
            Err(SignatureError::Missing)
        );
    }
}

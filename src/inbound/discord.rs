//! `POST /discord/interactions`: Ed25519 over `timestamp ‖ raw body` with the application's
//! public key and a fresh timestamp, else 401. PING → PONG; `/release` slash commands and
//! Approve / Reject buttons go through the same grammar as everywhere else. Quick answers are
//! type 4; changes are deferred (type 5) and completed by editing `@original`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::chat::cards::Surface;
use crate::domain::command::{self, CommandName};
use crate::error::HttpError;
use crate::handlers::chat::{Answer, Asker, ChatFailure, Reply, ReplyTo, answer, button_command};

/// Interactions are small.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The `flags` bit of an ephemeral message.
const EPHEMERAL: u64 = 1 << 6;

/// Why a request is not Discord's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Missing headers.
    #[error("missing X-Signature-Ed25519 or X-Signature-Timestamp")]
    Missing,
    /// The timestamp is not within five minutes of now.
    #[error("stale or malformed X-Signature-Timestamp")]
    Stale,
    /// The signature does not verify.
    #[error("invalid request signature")]
    Invalid,
}

/// Verifies Discord's signature over `timestamp ‖ body`.
pub fn verify(
    public_key_hex: &str,
    timestamp: Option<&str>,
    signature_hex: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature_hex)) = (timestamp, signature_hex) else {
        return Err(SignatureError::Missing);
    };
    if !super::is_fresh(timestamp, now_secs) {
        return Err(SignatureError::Stale);
    }
    let key: [u8; 32] = hex::decode(public_key_hex)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or(SignatureError::Invalid)?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| SignatureError::Invalid)?;
    let signature: [u8; 64] = hex::decode(signature_hex)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or(SignatureError::Invalid)?;
    let signature = Signature::from_bytes(&signature);
    let mut message = Vec::with_capacity(timestamp.len() + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(body);
    key.verify_strict(&message, &signature)
        .map_err(|_| SignatureError::Invalid)
}

#[derive(Deserialize)]
struct Interaction {
    #[serde(rename = "type")]
    kind: u8,
    id: String,
    token: String,
    guild_id: Option<String>,
    channel_id: Option<String>,
    member: Option<Member>,
    user: Option<User>,
    data: Option<InteractionData>,
}

#[derive(Deserialize)]
struct Member {
    user: User,
}

#[derive(Deserialize)]
struct User {
    id: String,
}

#[derive(Deserialize)]
struct InteractionData {
    #[serde(default)]
    options: Vec<CommandOption>,
    custom_id: Option<String>,
}

#[derive(Deserialize)]
struct CommandOption {
    name: String,
    value: Option<Value>,
    #[serde(default)]
    options: Vec<CommandOption>,
}

/// One interaction.
pub async fn interaction(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let Some(discord) = state.settings.discord.as_ref() else {
        return Err(HttpError::not_configured(
            "Discord",
            "TRAINYARD_DISCORD_PUBLIC_KEY, TRAINYARD_DISCORD_APPLICATION_ID and TRAINYARD_DISCORD_BOT_TOKEN",
        ));
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    verify(
        &discord.public_key,
        header("x-signature-timestamp"),
        header("x-signature-ed25519"),
        &body,
        state.queue.clock().now().as_second(),
    )
    .map_err(|e| HttpError::new(StatusCode::UNAUTHORIZED, e.to_string()))?;
    let interaction: Interaction = {
        let mut deserializer = serde_json::Deserializer::from_slice(&body);
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            HttpError::new(
                StatusCode::BAD_REQUEST,
                format!("malformed interaction at {}: {}", e.path(), e.inner()),
            )
        })?
    };
    match interaction.kind {
        1 => return Ok(Json(json!({ "type": 1 }))),
        2 | 3 => {}
        _ => return Ok(Json(message(4, "trainyard has nothing for this.", true))),
    }
    let command_id = format!("discord:{}", interaction.id);
    let span = tracing::info_span!("command", %command_id);
    let _entered = span.enter();
    let now = state.queue.clock().now().as_millisecond();
    let parsed = interaction
        .data
        .as_ref()
        .filter(|_| interaction.kind == 2)
        .map(|data| command::parse(&command_text(data)));
    // Buttons and commands that change something are accepted once (their job and the
    // interaction id are written together); reads may be answered again.
    let user = interaction
        .member
        .map(|m| m.user)
        .or(interaction.user)
        .map(|u| u.id)
        .unwrap_or_default();
    let channel = interaction.channel_id.unwrap_or_default();
    let asker = Asker {
        surface: Surface::Discord,
        workspace: interaction.guild_id.unwrap_or_default(),
        channel: channel.clone(),
        user,
        comment_repository: None,
    };
    let reply_to = ReplyTo::Discord {
        token: interaction.token,
        channel,
        issued_at: now,
    };
    let Some(data) = interaction.data else {
        return Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            "interaction without data",
        ));
    };
    let ctx = state.train_context();
    let answered = if let Some(parsed) = parsed {
        answer(&ctx, &asker, parsed, reply_to, &command_id, None).await
    } else {
        let custom_id = data.custom_id.unwrap_or_default();
        let (action, value) = custom_id.split_once(':').unwrap_or(("", ""));
        match button_command(&state.db, action, value)
            .await
            .map_err(unavailable)?
        {
            Some((command, pinned)) => {
                answer(
                    &ctx,
                    &asker,
                    Ok(command),
                    reply_to,
                    &command_id,
                    Some(pinned),
                )
                .await
            }
            None => return Ok(Json(message(4, "This button no longer applies.", true))),
        }
    }
    .map_err(unavailable)?;
    Ok(Json(match answered {
        Answer::Now(reply) => reply_message(&reply),
        // "thinking…" until the job edits @original with the outcome.
        Answer::Later(_) => json!({ "type": 5 }),
        Answer::AlreadyAccepted => message(4, "Already answered.", true),
    }))
}

fn unavailable(error: ChatFailure) -> HttpError {
    tracing::error!(%error, "chat command not answered");
    HttpError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "trainyard cannot answer right now; try again in a moment",
    )
}

fn message(kind: u8, content: &str, ephemeral: bool) -> Value {
    json!({
        "type": kind,
        "data": {
            "content": content,
            "flags": if ephemeral { EPHEMERAL } else { 0 },
            "allowed_mentions": { "parse": [] },
        }
    })
}

fn reply_message(reply: &Reply) -> Value {
    match &reply.card {
        Some(card) => json!({
            "type": 4,
            "data": {
                "content": clip(&card.text(Surface::Discord)),
                "components": card.discord_components(),
                "allowed_mentions": { "parse": [] },
            }
        }),
        None => message(4, &clip(&reply.text), reply.ephemeral),
    }
}

/// Discord messages hold at most 2,000 characters.
fn clip(text: &str) -> String {
    if text.chars().count() <= 2000 {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(1990).collect();
    clipped.push_str("\n…");
    clipped
}

/// The `/release <sub-command> …` options as the text the grammar reads, so Discord takes
/// exactly what Slack and comments take.
fn command_text(data: &InteractionData) -> String {
    let Some(sub) = data.options.first() else {
        return String::new();
    };
    let value = |name: &str| {
        sub.options
            .iter()
            .find(|o| o.name == name)
            .and_then(|o| o.value.as_ref())
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
    };
    let mut words = vec![sub.name.clone()];
    for name in ["repo", "line", "version", "base", "login"] {
        if let Some(v) = value(name) {
            // As typed: the grammar refuses a value with spaces as extra arguments.
            words.push(v.trim().to_owned());
        }
    }
    if let Some(pr) = value("pr") {
        words.push(format!("#{}", pr.trim_start_matches('#')));
    }
    if let Some(environment) = value("environment") {
        if sub.name == "deploy" {
            words.push("to".to_owned());
        }
        words.push(environment.trim().to_owned());
    }
    if let Some(reason) = value("force") {
        words.push("force".to_owned());
        words.push(reason);
    }
    if let Some(reason) = value("reason") {
        words.push(reason);
    }
    words.join(" ")
}

/// The `/release` command with one sub-command per [`CommandName`], for registration.
pub fn release_command() -> Value {
    let string = |name: &str, description: &str, required: bool| json!({ "type": 3, "name": name, "description": description, "required": required });
    let repo = string(
        "repo",
        "owner/name (where the channel speaks for several)",
        false,
    );
    let line = string("line", "train line", false);
    let sub_commands: Vec<Value> = CommandName::ALL
        .into_iter()
        .map(|name| {
            let options: Vec<Value> = match name {
                CommandName::Help | CommandName::Unlink => vec![],
                CommandName::Status
                | CommandName::Notes
                | CommandName::Cut
                | CommandName::Abandon => vec![repo.clone(), line.clone()],
                CommandName::Approve => vec![
                    repo.clone(),
                    line.clone(),
                    string("version", "the version you approve", false),
                ],
                CommandName::Reject => vec![
                    string("reason", "why", true),
                    repo.clone(),
                    line.clone(),
                    string("version", "the version you reject", false),
                ],
                CommandName::Hotfix => vec![
                    string("base", "the released version to fix", true),
                    repo.clone(),
                ],
                CommandName::Include | CommandName::Exclude => vec![
                    json!({ "type": 4, "name": "pr", "description": "pull request number",
                            "required": true, "min_value": 1 }),
                    repo.clone(),
                    line.clone(),
                ],
                CommandName::Link => vec![string("login", "your GitHub login (a hint)", false)],
                CommandName::Deploy => vec![
                    string("version", "the version, or latest", true),
                    string("environment", "where to", true),
                    repo.clone(),
                    string(
                        "force",
                        "deploy through a freeze window (admins): why",
                        false,
                    ),
                ],
                CommandName::Rollback | CommandName::Unlock => {
                    vec![string("environment", "the environment", true), repo.clone()]
                }
                CommandName::Lock => vec![
                    string("environment", "the environment", true),
                    string("reason", "why", true),
                    repo.clone(),
                ],
                CommandName::Deploys => vec![repo.clone()],
            };
            let summary: String = name.summary().chars().take(100).collect();
            json!({ "type": 1, "name": name.as_str(), "description": summary, "options": options })
        })
        .collect();
    json!([{
        "name": "release",
        "type": 1,
        "description": "Release trains: status, cut, approve and more",
        "options": sub_commands,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_the_grammar_text() {
        let data: InteractionData = serde_json::from_value(json!({
            "name": "release",
            "options": [{ "name": "include", "type": 1, "options": [
                { "name": "pr", "type": 4, "value": 12 },
                { "name": "repo", "type": 3, "value": "acme/api" }
            ]}]
        }))
        .expect("data");
        assert_eq!(command_text(&data), "include acme/api #12");
        let data: InteractionData = serde_json::from_value(json!({
            "name": "release",
            "options": [{ "name": "cut", "type": 1, "options": [
                { "name": "line", "type": 3, "value": "main extra words" }
            ]}]
        }))
        .expect("data");
        let text = command_text(&data);
        assert_eq!(text, "cut main extra words");
        assert!(command::parse(&text).is_err());
    }

    #[test]
    fn registration_lists_every_command() {
        let command = release_command();
        let names: Vec<&str> = command[0]["options"]
            .as_array()
            .expect("options")
            .iter()
            .filter_map(|o| o["name"].as_str())
            .collect();
        assert_eq!(names.len(), CommandName::ALL.len());
        for o in command[0]["options"].as_array().expect("options") {
            let required_first = o["options"]
                .as_array()
                .expect("options")
                .iter()
                .map(|x| x["required"].as_bool().unwrap_or(false))
                .collect::<Vec<_>>();
            // Discord wants required options before optional ones.
            assert!(required_first.windows(2).all(|w| w[0] || !w[1]), "{o}");
        }
    }
}

#[cfg(test)]
mod signature_tests {
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn signatures_over_timestamp_and_body_verify() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = hex::encode(key.verifying_key().to_bytes());
        let body = br#"{"type":1}"#;
        let sign = |ts: &str, body: &[u8]| {
            let mut message = ts.as_bytes().to_vec();
            message.extend_from_slice(body);
            hex::encode(key.sign(&message).to_bytes())
        };
        let sig = sign("1700000000", body);
        let check = |ts: &str, sig: &str, body: &[u8], now: i64| {
            super::verify(&public, Some(ts), Some(sig), body, now)
        };
        assert_eq!(check("1700000000", &sig, body, 1_700_000_010), Ok(()));
        assert_eq!(
            check("1700000000", &sig, b"{\"type\":2}", 1_700_000_010),
            Err(super::SignatureError::Invalid)
        );
        assert_eq!(
            check("1700000000", &sig, body, 1_700_000_301),
            Err(super::SignatureError::Stale)
        );
        assert_eq!(
            check("1700000001", &sig, body, 1_700_000_010),
            Err(super::SignatureError::Invalid)
        );
        assert_eq!(
            super::verify(&public, None, Some(&sig), body, 1_700_000_000),
            Err(super::SignatureError::Missing)
        );
    }
}

//! `POST /discord/interactions`: Ed25519 over `timestamp ‖ raw body` with the application's
//! public key and a fresh timestamp, else 401. PING → PONG; `/release` slash commands and
//! Approve / Reject buttons go through the same grammar as everywhere else. Quick answers are
//! type 4; changes are deferred (type 5) and completed by editing `@original`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ed25519_dalek::{Signature, VerifyingKey};
use serenity::all::{
    ChannelId, CommandDataOption, CommandDataOptionValue, CommandOptionType, CommandType,
    CreateAllowedMentions, CreateAutocompleteResponse, CreateCommand, CreateCommandOption,
    CreateInteractionResponse, CreateInteractionResponseMessage, GuildId, Interaction,
    InteractionId, User,
};
use tracing::Instrument as _;

use crate::chat::cards::Surface;
use crate::chat::discord::clip;
use crate::domain::command::{self, CommandName};
use crate::error::HttpError;
use crate::handlers::chat::{Answer, Asker, ChatFailure, Reply, ReplyTo, answer, button_command};
use crate::state::AppState;

/// Interactions are small.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What this route answers while its integration is not configured: the integration, and
/// the settings it needs.
pub const NOT_CONFIGURED: (&str, &str) = (
    "Discord",
    "TRAINYARD_DISCORD_PUBLIC_KEY, TRAINYARD_DISCORD_APPLICATION_ID and TRAINYARD_DISCORD_BOT_TOKEN",
);

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

/// What an interaction says, whichever kind it is.
struct Asked {
    id: String,
    token: String,
    guild_id: Option<String>,
    channel_id: String,
    user: String,
    what: Asking,
}

enum Asking {
    Command(Vec<CommandDataOption>),
    Button(String),
    Nothing,
}

impl Asked {
    fn from(interaction: Interaction) -> Option<Asked> {
        let asked = |id: InteractionId,
                     token: String,
                     guild_id: Option<GuildId>,
                     channel_id: ChannelId,
                     user: &User,
                     what: Asking| Asked {
            id: id.to_string(),
            token,
            guild_id: guild_id.map(|g| g.to_string()),
            channel_id: channel_id.to_string(),
            // Serenity fills `user` from `member` in guilds.
            user: user.id.to_string(),
            what,
        };
        match interaction {
            Interaction::Command(c) => Some(asked(
                c.id,
                c.token,
                c.guild_id,
                c.channel_id,
                &c.user,
                Asking::Command(c.data.options),
            )),
            Interaction::Component(c) => Some(asked(
                c.id,
                c.token,
                c.guild_id,
                c.channel_id,
                &c.user,
                Asking::Button(c.data.custom_id),
            )),
            Interaction::Modal(m) => Some(asked(
                m.id,
                m.token,
                m.guild_id,
                m.channel_id,
                &m.user,
                Asking::Nothing,
            )),
            _ => None,
        }
    }
}

/// An interaction Discord signed, read: a route that takes one cannot run on a request whose
/// signature did not check out.
pub struct VerifiedDiscord(pub Interaction);

impl axum::extract::FromRequest<AppState> for VerifiedDiscord {
    type Rejection = HttpError;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, HttpError> {
        let (headers, body) = super::headers_and_body(request, state).await?;
        let Some(discord) = state.settings.discord.as_ref() else {
            let (integration, needed) = NOT_CONFIGURED;
            return Err(HttpError::not_configured(integration, needed));
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
        Ok(VerifiedDiscord(interaction))
    }
}

/// One interaction.
pub async fn interaction(
    State(state): State<AppState>,
    VerifiedDiscord(interaction): VerifiedDiscord,
) -> Result<Json<CreateInteractionResponse>, HttpError> {
    if matches!(interaction, Interaction::Ping(_)) {
        return Ok(Json(CreateInteractionResponse::Pong));
    }
    let Some(asked) = Asked::from(interaction) else {
        // Autocomplete and kinds Discord adds later: nothing to offer.
        return Ok(Json(CreateInteractionResponse::Autocomplete(
            CreateAutocompleteResponse::new(),
        )));
    };
    let command_id = format!("discord:{}", asked.id);
    let span = tracing::info_span!("command", %command_id);
    async move {
        let now = state.queue.clock().now().as_millisecond();
        let asker = Asker {
            surface: Surface::Discord,
            workspace: asked.guild_id.unwrap_or_default(),
            channel: asked.channel_id.clone(),
            user: asked.user,
            comment_repository: None,
        };
        let reply_to = ReplyTo::Discord {
            token: asked.token,
            channel: asked.channel_id,
            issued_at: now,
        };
        let ctx = state.train_context();
        // Buttons and commands that change something are accepted once (their job and the
        // interaction id are written together); reads may be answered again.
        let answered = match asked.what {
            Asking::Command(options) => {
                let parsed = command::parse(&command_text(&options));
                answer(&ctx, &asker, parsed, reply_to, &command_id, None).await
            }
            Asking::Button(custom_id) => {
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
                    None => return Ok(Json(message("This button no longer applies.", true))),
                }
            }
            Asking::Nothing => return Ok(Json(message("trainyard has nothing for this.", true))),
        }
        .map_err(unavailable)?;
        Ok(Json(match answered {
            Answer::Now(reply) => reply_message(&reply),
            // "thinking…" until the job edits @original with the outcome.
            Answer::Later(_) => {
                CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new())
            }
            Answer::AlreadyAccepted => message("Already answered.", true),
        }))
    }
    .instrument(span)
    .await
}

fn unavailable(error: ChatFailure) -> HttpError {
    tracing::error!(%error, "chat command not answered");
    HttpError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "trainyard cannot answer right now; try again in a moment",
    )
}

/// An answer in the response itself (type 4), with mentions off.
fn message(content: &str, ephemeral: bool) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(content)
            .ephemeral(ephemeral)
            .allowed_mentions(CreateAllowedMentions::new()),
    )
}

fn reply_message(reply: &Reply) -> CreateInteractionResponse {
    match &reply.card {
        Some(card) => CreateInteractionResponse::Message(
            CreateInteractionResponseMessage::new()
                .content(clip(&card.text(Surface::Discord)))
                .components(card.discord_components())
                .allowed_mentions(CreateAllowedMentions::new()),
        ),
        None => message(&clip(&reply.text), reply.ephemeral),
    }
}

/// The `/release <sub-command> …` options as the text the grammar reads, so Discord takes
/// exactly what Slack and comments take.
fn command_text(options: &[CommandDataOption]) -> String {
    let Some(sub) = options.first() else {
        return String::new();
    };
    let CommandDataOptionValue::SubCommand(sub_options) = &sub.value else {
        return String::new();
    };
    let value = |name: &str| {
        sub_options
            .iter()
            .find(|o| o.name == name)
            .and_then(|o| match &o.value {
                CommandDataOptionValue::String(s) => Some(s.clone()),
                CommandDataOptionValue::Integer(n) => Some(n.to_string()),
                CommandDataOptionValue::Number(n) => Some(n.to_string()),
                CommandDataOptionValue::Boolean(b) => Some(b.to_string()),
                _ => None,
            })
    };
    let mut words = vec![sub.name.clone()];
    for name in ["repo", "line", "version", "base", "login", "days"] {
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
    if let Some(reason) = value("skip") {
        words.push("skip".to_owned());
        words.push(reason);
    }
    if let Some(reason) = value("reason") {
        words.push(reason);
    }
    words.join(" ")
}

/// The `/release` command with one sub-command per [`CommandName`], for registration.
pub fn release_command() -> Vec<CreateCommand> {
    let string = |name: &str, description: &str, required: bool| {
        CreateCommandOption::new(CommandOptionType::String, name, description).required(required)
    };
    let repo = string(
        "repo",
        "owner/name (where the channel speaks for several)",
        false,
    );
    let line = string("line", "train line", false);
    let sub_commands = CommandName::ALL.into_iter().map(|name| {
        let options: Vec<CreateCommandOption> = match name {
            CommandName::Help | CommandName::Unlink => vec![],
            CommandName::Status
            | CommandName::Notes
            | CommandName::Preview
            | CommandName::Cut
            | CommandName::Candidate
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
                CreateCommandOption::new(CommandOptionType::Integer, "pr", "pull request number")
                    .required(true)
                    .min_int_value(1),
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
            CommandName::Deploys | CommandName::Audit => vec![repo.clone()],
            CommandName::Verify => vec![
                string("environment", "the environment", true),
                repo.clone(),
                string("skip", "end the bake now (admins): why", false),
            ],
            CommandName::Stats => vec![
                repo.clone(),
                CreateCommandOption::new(CommandOptionType::Integer, "days", "the window")
                    .min_int_value(1)
                    .max_int_value(365),
            ],
        };
        let summary: String = name.summary().chars().take(100).collect();
        options.into_iter().fold(
            CreateCommandOption::new(CommandOptionType::SubCommand, name.as_str(), summary),
            CreateCommandOption::add_sub_option,
        )
    });
    vec![
        sub_commands.fold(
            CreateCommand::new("release")
                .kind(CommandType::ChatInput)
                .description("Release trains: status, cut, approve and more"),
            CreateCommand::add_option,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn options_become_the_grammar_text() {
        let options: Vec<CommandDataOption> = serde_json::from_value(json!([
            { "name": "include", "type": 1, "options": [
                { "name": "pr", "type": 4, "value": 12 },
                { "name": "repo", "type": 3, "value": "acme/api" }
            ]}
        ]))
        .expect("options");
        assert_eq!(command_text(&options), "include acme/api #12");
        let options: Vec<CommandDataOption> = serde_json::from_value(json!([
            { "name": "cut", "type": 1, "options": [
                { "name": "line", "type": 3, "value": "main extra words" }
            ]}
        ]))
        .expect("options");
        let text = command_text(&options);
        assert_eq!(text, "cut main extra words");
        assert!(command::parse(&text).is_err());
    }

    #[test]
    fn registration_lists_every_command() {
        let command = serde_json::to_value(release_command()).expect("json");
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

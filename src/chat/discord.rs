//! Discord's REST API through serenity's client: its routes, its per-route rate-limit buckets
//! and its message builders. Deferred interactions are completed through their webhook (15
//! minutes), channel messages use the bot token after that, and commands are registered by
//! bulk overwrite. Every message goes out with mentions switched off, so no text can ping
//! anyone. Answers are read for the one field used (an id), so a richer answer from Discord
//! never breaks a delivery.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serenity::all::{
    ApplicationId, ChannelId, CreateActionRow, CreateAllowedMentions, CreateCommand,
    CreateInteractionResponseFollowup, CreateMessage, EditInteractionResponse, EditMessage,
    GuildId, MessageId, MessageReference, UserId,
};
use serenity::http::{Http, HttpBuilder, HttpError, LightMethod, Request, Route};

use super::{ChatError, from_status};
use crate::settings::Secret;

const SERVICE: &str = "Discord";
/// Discord's own API: the only base serenity's rate limiter sends to.
pub const DISCORD_API_URL: &str = crate::settings::DEFAULT_DISCORD_API_URL;
/// The API version every base URL must name; serenity's routes are built for it.
const API_PATH: &str = "/api/v10";

/// A message to post or put in place of another: text and optional buttons.
#[derive(Debug, Clone, Default)]
pub struct DiscordMessage {
    /// The text (Discord Markdown, at most 2,000 characters).
    pub content: String,
    /// Rows of buttons.
    pub components: Vec<CreateActionRow>,
}

impl DiscordMessage {
    /// A text-only message.
    pub fn text(content: impl Into<String>) -> DiscordMessage {
        DiscordMessage {
            content: content.into(),
            components: Vec::new(),
        }
    }
}

/// Discord messages hold at most 2,000 characters.
pub fn clip(text: &str) -> String {
    if text.chars().count() <= 2000 {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(1990).collect();
    clipped.push_str("\n…");
    clipped
}

/// Why a Discord base URL cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "TRAINYARD_DISCORD_API_URL must be Discord's versioned API, ending in {API_PATH} (got {0})"
)]
pub struct ApiUrlError(String);

/// Where requests go: Discord itself, behind serenity's rate limiter, or another origin
/// serving the same API (a rate-limiting proxy such as twilight-http-proxy, or a fake in
/// tests). Serenity sends to another origin only with its own limiter off (its limiter
/// always addresses discord.com), which is what such a proxy is for.
pub fn api_origin(api_url: &str) -> Result<Option<String>, ApiUrlError> {
    let trimmed = api_url.trim_end_matches('/');
    if trimmed == DISCORD_API_URL {
        return Ok(None);
    }
    match trimmed.strip_suffix(API_PATH) {
        Some(origin) if origin.starts_with("http://") || origin.starts_with("https://") => {
            Ok(Some(origin.to_owned()))
        }
        _ => Err(ApiUrlError(api_url.to_owned())),
    }
}

/// Talks to Discord.
#[derive(Clone)]
pub struct DiscordClient {
    http: Arc<Http>,
    application_id: ApplicationId,
}

impl std::fmt::Debug for DiscordClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordClient")
            .field("proxy", &self.http.proxy)
            .field("application_id", &self.application_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

/// What `GET /channels/{id}` tells about a channel.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct DiscordChannel {
    /// The guild it belongs to (none for direct messages).
    #[serde(default)]
    pub guild_id: Option<String>,
    /// Channel type: 0 text, 5 announcement, 10–12 threads; others take no messages.
    #[serde(rename = "type")]
    pub kind: u8,
    /// The channel's name, for messages to people.
    #[serde(default)]
    pub name: Option<String>,
}

impl DiscordChannel {
    /// Whether messages can be posted in a channel of this type.
    pub fn takes_messages(&self) -> bool {
        matches!(self.kind, 0 | 5 | 10 | 11 | 12)
    }
}

/// Mentions switched off: no user, role or @everyone ping (replies ping nobody by default).
fn quiet() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
}

/// A Discord id from text; anything else cannot name a Discord object.
fn snowflake(what: &str, value: &str) -> Result<u64, ChatError> {
    value
        .parse::<u64>()
        .ok()
        .filter(|id| *id != 0)
        .ok_or_else(|| ChatError::Refused {
            service: SERVICE,
            reason: format!("{value:?} is not a Discord {what} id"),
        })
}

fn json_body(body: &impl serde::Serialize) -> Result<Option<Vec<u8>>, ChatError> {
    serde_json::to_vec(body)
        .map(Some)
        .map_err(|e| ChatError::Refused {
            service: SERVICE,
            reason: format!("message not encodable: {e}"),
        })
}

/// Serenity's errors in our terms: statuses as everywhere else, transport failures as
/// transient. An expired interaction token answers 401 (code 50027): like a 404, gone.
fn from_serenity(error: serenity::Error) -> ChatError {
    match error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            let body = format!("{} (code {})", response.error.message, response.error.code);
            match from_status(SERVICE, response.status_code, None, &body) {
                ChatError::Refused { reason, .. } if response.status_code.as_u16() == 401 => {
                    ChatError::Gone {
                        service: SERVICE,
                        reason,
                    }
                }
                other => other,
            }
        }
        serenity::Error::Http(HttpError::Request(e)) => ChatError::Transient {
            service: SERVICE,
            reason: if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "request failed"
            }
            .to_owned(),
        },
        other => ChatError::Transient {
            service: SERVICE,
            reason: other.to_string().chars().take(200).collect(),
        },
    }
}

impl DiscordClient {
    /// A client for `api_url` (`https://discord.com/api/v10`, or another origin serving it).
    pub fn new(
        api_url: &str,
        application_id: u64,
        bot_token: &Secret,
    ) -> Result<DiscordClient, ApiUrlError> {
        let origin = api_origin(api_url)?;
        super::install_tls_provider();
        let client = serenity_reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap_or_default();
        let application_id = ApplicationId::new(application_id.max(1));
        let mut builder = HttpBuilder::new(bot_token.expose())
            .client(client)
            .application_id(application_id);
        if let Some(origin) = origin {
            builder = builder.proxy(origin).ratelimiter_disabled(true);
        }
        Ok(DiscordClient {
            http: Arc::new(builder.build()),
            application_id,
        })
    }

    async fn send(&self, request: Request<'_>) -> Result<(), ChatError> {
        self.http
            .request(request)
            .await
            .map(drop)
            .map_err(from_serenity)
    }

    async fn read<T: DeserializeOwned>(&self, request: Request<'_>) -> Result<T, ChatError> {
        let response = self.http.request(request).await.map_err(from_serenity)?;
        let text = response.text().await.map_err(|_| ChatError::Transient {
            service: SERVICE,
            reason: "unreadable answer".into(),
        })?;
        serde_json::from_str(&text).map_err(|_| ChatError::Refused {
            service: SERVICE,
            reason: "answered in an unknown shape".into(),
        })
    }

    /// Replaces the deferred answer of an interaction (`@original`).
    pub async fn edit_original(
        &self,
        token: &str,
        message: &DiscordMessage,
    ) -> Result<(), ChatError> {
        let body = EditInteractionResponse::new()
            .content(&message.content)
            .components(message.components.clone())
            .allowed_mentions(quiet());
        let route = Route::WebhookOriginalInteractionResponse {
            application_id: self.application_id,
            token,
        };
        self.send(Request::new(route, LightMethod::Patch).body(json_body(&body)?))
            .await
    }

    /// Replaces a deferred answer with a message only the asker sees: Discord cannot make
    /// `@original` ephemeral afterwards, so it is deleted and an ephemeral follow-up sent.
    pub async fn answer_privately(
        &self,
        token: &str,
        message: &DiscordMessage,
    ) -> Result<(), ChatError> {
        let original = Route::WebhookOriginalInteractionResponse {
            application_id: self.application_id,
            token,
        };
        match self.send(Request::new(original, LightMethod::Delete)).await {
            // Already gone is as good as deleted; an expired token is the caller's to handle.
            Ok(()) => {}
            Err(ChatError::Gone { reason, .. }) if reason.starts_with("404") => {}
            Err(other) => return Err(other),
        }
        let body = CreateInteractionResponseFollowup::new()
            .content(&message.content)
            .components(message.components.clone())
            .ephemeral(true)
            .allowed_mentions(quiet());
        let followups = Route::WebhookFollowupMessages {
            application_id: self.application_id,
            token,
        };
        self.send(Request::new(followups, LightMethod::Post).body(json_body(&body)?))
            .await
    }

    /// Posts a channel message, as a reply to `reply_to` when given; returns its id.
    pub async fn create_message(
        &self,
        channel: &str,
        reply_to: Option<&str>,
        message: &DiscordMessage,
    ) -> Result<String, ChatError> {
        let channel_id = ChannelId::new(snowflake("channel", channel)?);
        let mut body = CreateMessage::new()
            .content(&message.content)
            .components(message.components.clone())
            .allowed_mentions(quiet());
        if let Some(id) = reply_to {
            let mut reference =
                MessageReference::from((channel_id, MessageId::new(snowflake("message", id)?)));
            // A reply to a deleted message is still posted, as a plain message.
            reference.fail_if_not_exists = Some(false);
            body = body.reference_message(reference);
        }
        let route = Route::ChannelMessages { channel_id };
        let created: Created = self
            .read(Request::new(route, LightMethod::Post).body(json_body(&body)?))
            .await?;
        Ok(created.id)
    }

    /// Replaces a channel message's content.
    pub async fn edit_message(
        &self,
        channel: &str,
        message_id: &str,
        message: &DiscordMessage,
    ) -> Result<(), ChatError> {
        let body = EditMessage::new()
            .content(&message.content)
            .components(message.components.clone())
            .allowed_mentions(quiet());
        let route = Route::ChannelMessage {
            channel_id: ChannelId::new(snowflake("channel", channel)?),
            message_id: MessageId::new(snowflake("message", message_id)?),
        };
        self.send(Request::new(route, LightMethod::Patch).body(json_body(&body)?))
            .await
    }

    /// A channel as the bot sees it: `Gone` when it does not exist, `Refused` (403) when the
    /// bot may not see it.
    pub async fn channel(&self, channel: &str) -> Result<DiscordChannel, ChatError> {
        let Ok(id) = snowflake("channel", channel) else {
            return Err(ChatError::Gone {
                service: SERVICE,
                reason: format!("{channel:?} is not a Discord channel id"),
            });
        };
        let route = Route::Channel {
            channel_id: ChannelId::new(id),
        };
        self.read(Request::new(route, LightMethod::Get)).await
    }

    /// The bot's direct-message channel with `user` (opened if need be); returns its id.
    pub async fn open_direct_messages(&self, user: &str) -> Result<String, ChatError> {
        let recipient = UserId::new(snowflake("user", user)?);
        let body = json_body(&serde_json::json!({ "recipient_id": recipient }))?;
        let channel: Created = self
            .read(Request::new(Route::UserMeDmChannels, LightMethod::Post).body(body))
            .await?;
        Ok(channel.id)
    }

    /// The application the bot token belongs to (its id), for `trainyard doctor`.
    pub async fn application_id_of_token(&self) -> Result<String, ChatError> {
        let application: Created = self
            .read(Request::new(
                Route::Oauth2ApplicationCurrent,
                LightMethod::Get,
            ))
            .await?;
        Ok(application.id)
    }

    /// Replaces the application's commands, in a guild (instant) or globally; returns how
    /// many Discord now holds.
    pub async fn register_commands(
        &self,
        guild: Option<&str>,
        commands: &[CreateCommand],
    ) -> Result<usize, ChatError> {
        let route = match guild {
            Some(guild) => Route::GuildCommands {
                application_id: self.application_id,
                guild_id: GuildId::new(snowflake("guild", guild)?),
            },
            None => Route::Commands {
                application_id: self.application_id,
            },
        };
        let registered: Vec<Created> = self
            .read(Request::new(route, LightMethod::Put).body(json_body(&commands)?))
            .await?;
        Ok(registered.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_url_names_discord_or_another_origin_serving_v10() {
        assert_eq!(api_origin("https://discord.com/api/v10").ok(), Some(None));
        assert_eq!(api_origin("https://discord.com/api/v10/").ok(), Some(None));
        assert_eq!(
            api_origin("http://127.0.0.1:3000/api/v10").ok(),
            Some(Some("http://127.0.0.1:3000".to_owned()))
        );
        assert!(api_origin("http://127.0.0.1:3000").is_err());
        assert!(api_origin("https://discord.com/api/v9").is_err());
        assert!(api_origin("/api/v10").is_err());
    }

    #[test]
    fn messages_switch_every_mention_off() {
        let body = serde_json::to_value(
            CreateMessage::new()
                .content("@everyone <@1>")
                .allowed_mentions(quiet()),
        )
        .expect("json");
        assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
        assert_eq!(body["allowed_mentions"]["users"], serde_json::json!([]));
        assert_eq!(body["allowed_mentions"]["roles"], serde_json::json!([]));
    }
}

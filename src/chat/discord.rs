//! Discord's REST API: completing deferred interactions through their webhook (15 minutes),
//! channel messages with the bot token after that, and command registration. Every message
//! goes out with `allowed_mentions` empty, so no text can ping anyone.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ChatError, from_reqwest, from_status};
use crate::settings::Secret;

const SERVICE: &str = "Discord";

/// Talks to Discord.
#[derive(Clone)]
pub struct DiscordClient {
    http: reqwest::Client,
    api_url: String,
    application_id: u64,
    bot_token: Secret,
}

impl std::fmt::Debug for DiscordClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordClient")
            .field("api_url", &self.api_url)
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

/// An expired interaction token answers 401 (code 50027): like a 404, the target is gone.
fn expired_token_is_gone(result: Result<String, ChatError>) -> Result<String, ChatError> {
    match result {
        Err(ChatError::Refused { reason, .. }) if reason.starts_with("401") => {
            Err(ChatError::Gone {
                service: SERVICE,
                reason,
            })
        }
        other => other,
    }
}

/// A message body with mentions switched off.
fn quiet(message: &Value) -> Value {
    let mut body = message.clone();
    body["allowed_mentions"] = json!({ "parse": [] });
    body
}

impl DiscordClient {
    /// A client for `api_url` (`https://discord.com/api/v10`).
    pub fn new(api_url: &str, application_id: u64, bot_token: Secret) -> DiscordClient {
        DiscordClient {
            http: super::http_client(),
            api_url: api_url.trim_end_matches('/').to_owned(),
            application_id,
            bot_token,
        }
    }

    /// Replaces the deferred answer of an interaction (`@original`).
    pub async fn edit_original(&self, token: &str, message: &Value) -> Result<(), ChatError> {
        let url = format!(
            "{}/webhooks/{}/{token}/messages/@original",
            self.api_url, self.application_id
        );
        let response = self.http.patch(url).json(&quiet(message)).send().await;
        expired_token_is_gone(self.check(response).await).map(|_| ())
    }

    /// Replaces a deferred answer with a message only the asker sees: Discord cannot make
    /// `@original` ephemeral afterwards, so it is deleted and an ephemeral follow-up sent.
    pub async fn answer_privately(&self, token: &str, message: &Value) -> Result<(), ChatError> {
        let base = format!("{}/webhooks/{}/{token}", self.api_url, self.application_id);
        let deleted = self
            .http
            .delete(format!("{base}/messages/@original"))
            .send()
            .await;
        match expired_token_is_gone(self.check(deleted).await) {
            // Already gone is as good as deleted; an expired token is the caller's to handle.
            Ok(_) => {}
            Err(ChatError::Gone { reason, .. }) if reason.starts_with("404") => {}
            Err(other) => return Err(other),
        }
        let mut body = quiet(message);
        body["flags"] = json!(64);
        let response = self.http.post(base).json(&body).send().await;
        expired_token_is_gone(self.check(response).await).map(|_| ())
    }

    /// Posts a channel message, as a reply to `reply_to` when given; returns its id.
    pub async fn create_message(
        &self,
        channel: &str,
        reply_to: Option<&str>,
        message: &Value,
    ) -> Result<String, ChatError> {
        let mut body = quiet(message);
        if let Some(id) = reply_to {
            body["message_reference"] = json!({ "message_id": id, "fail_if_not_exists": false });
        }
        let response = self
            .http
            .post(format!("{}/channels/{channel}/messages", self.api_url))
            .header("Authorization", format!("Bot {}", self.bot_token.expose()))
            .json(&body)
            .send()
            .await;
        let text = self.check(response).await?;
        let created: Created = serde_json::from_str(&text).map_err(|_| ChatError::Refused {
            service: SERVICE,
            reason: "message created without an id".into(),
        })?;
        Ok(created.id)
    }

    /// Replaces a channel message's content.
    pub async fn edit_message(
        &self,
        channel: &str,
        message_id: &str,
        message: &Value,
    ) -> Result<(), ChatError> {
        let response = self
            .http
            .patch(format!(
                "{}/channels/{channel}/messages/{message_id}",
                self.api_url
            ))
            .header("Authorization", format!("Bot {}", self.bot_token.expose()))
            .json(&quiet(message))
            .send()
            .await;
        self.check(response).await.map(|_| ())
    }

    /// A channel as the bot sees it: `Gone` when it does not exist, `Refused` (403) when the
    /// bot may not see it.
    pub async fn channel(&self, channel: &str) -> Result<DiscordChannel, ChatError> {
        let response = self
            .http
            .get(format!("{}/channels/{channel}", self.api_url))
            .header("Authorization", format!("Bot {}", self.bot_token.expose()))
            .send()
            .await;
        let text = self.check(response).await?;
        serde_json::from_str(&text).map_err(|_| ChatError::Refused {
            service: SERVICE,
            reason: "the channel was answered in an unknown shape".into(),
        })
    }

    /// The bot's direct-message channel with `user` (opened if need be); returns its id.
    pub async fn open_direct_messages(&self, user: &str) -> Result<String, ChatError> {
        let response = self
            .http
            .post(format!("{}/users/@me/channels", self.api_url))
            .header("Authorization", format!("Bot {}", self.bot_token.expose()))
            .json(&json!({ "recipient_id": user }))
            .send()
            .await;
        let text = self.check(response).await?;
        let channel: Created = serde_json::from_str(&text).map_err(|_| ChatError::Refused {
            service: SERVICE,
            reason: "direct-message channel without an id".into(),
        })?;
        Ok(channel.id)
    }

    /// Replaces the application's commands, in a guild (instant) or globally.
    pub async fn register_commands(
        &self,
        guild: Option<&str>,
        commands: &Value,
    ) -> Result<Value, ChatError> {
        let url = match guild {
            Some(guild) => format!(
                "{}/applications/{}/guilds/{guild}/commands",
                self.api_url, self.application_id
            ),
            None => format!(
                "{}/applications/{}/commands",
                self.api_url, self.application_id
            ),
        };
        let response = self
            .http
            .put(url)
            .header("Authorization", format!("Bot {}", self.bot_token.expose()))
            .json(commands)
            .send()
            .await;
        let text = self.check(response).await?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn check(
        &self,
        response: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<String, ChatError> {
        let response = response.map_err(|e| from_reqwest(SERVICE, &e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::jobs::backoff::retry_hint);
        let text = response
            .text()
            .await
            .map_err(|e| from_reqwest(SERVICE, &e))?;
        if status.is_success() {
            Ok(text)
        } else {
            Err(from_status(SERVICE, status, retry_after, &text))
        }
    }
}

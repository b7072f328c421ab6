//! The Slack Web API (`chat.postMessage`, `chat.update`) with the bot token, and
//! `response_url` posts for slash commands and buttons.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::{ChatError, from_reqwest, from_status};
use crate::settings::Secret;

const SERVICE: &str = "Slack";

/// Talks to Slack.
#[derive(Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    api_url: String,
    bot_token: Secret,
}

impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ApiAnswer {
    ok: bool,
    error: Option<String>,
    ts: Option<String>,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    channel: Option<SlackChannel>,
}

/// What `conversations.info` tells about a channel.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SlackChannel {
    /// The channel's name, for messages to people.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether the bot is a member (and so may post).
    #[serde(default)]
    pub is_member: bool,
    /// Whether it is archived (nobody may post).
    #[serde(default)]
    pub is_archived: bool,
    /// The workspace the channel belongs to, where Slack says (Enterprise Grid, shared).
    #[serde(default)]
    pub context_team_id: Option<String>,
}

impl SlackClient {
    /// A client for the Web API at `api_url` (`https://slack.com/api`).
    pub fn new(api_url: &str, bot_token: Secret) -> SlackClient {
        SlackClient {
            http: super::http_client(),
            api_url: api_url.trim_end_matches('/').to_owned(),
            bot_token,
        }
    }

    /// Posts a message (in a thread when `thread_ts` is given); returns its `ts`.
    pub async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        message: &Value,
    ) -> Result<String, ChatError> {
        let mut body = message.clone();
        body["channel"] = Value::from(channel);
        body["unfurl_links"] = Value::from(false);
        if let Some(ts) = thread_ts {
            body["thread_ts"] = Value::from(ts);
        }
        let answer = self.call("chat.postMessage", &body).await?;
        answer.ts.ok_or_else(|| ChatError::Refused {
            service: SERVICE,
            reason: "chat.postMessage answered without a ts".into(),
        })
    }

    /// Replaces a message's content.
    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        message: &Value,
    ) -> Result<(), ChatError> {
        let mut body = message.clone();
        body["channel"] = Value::from(channel);
        body["ts"] = Value::from(ts);
        self.call("chat.update", &body).await.map(|_| ())
    }

    /// The workspace the bot token belongs to (`auth.test`).
    pub async fn bot_team(&self) -> Result<String, ChatError> {
        let request = self.http.post(format!("{}/auth.test", self.api_url));
        let answer = self.send("auth.test", request).await?;
        answer.team_id.ok_or_else(|| ChatError::Refused {
            service: SERVICE,
            reason: "auth.test answered without a team_id".into(),
        })
    }

    /// A channel as the bot sees it (`conversations.info`); `channel_not_found` when the
    /// bot cannot see it.
    pub async fn channel_info(&self, channel: &str) -> Result<SlackChannel, ChatError> {
        // A read method: Slack takes its arguments as a form, not JSON.
        let form = serde_urlencoded::to_string([("channel", channel)]).unwrap_or_default();
        let request = self
            .http
            .post(format!("{}/conversations.info", self.api_url))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form);
        let answer = self.send("conversations.info", request).await?;
        answer.channel.ok_or_else(|| ChatError::Refused {
            service: SERVICE,
            reason: "conversations.info answered without a channel".into(),
        })
    }

    async fn call(&self, method: &str, body: &Value) -> Result<ApiAnswer, ChatError> {
        let request = self
            .http
            .post(format!("{}/{method}", self.api_url))
            .json(body);
        self.send(method, request).await
    }

    async fn send(
        &self,
        method: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<ApiAnswer, ChatError> {
        let response = request
            .bearer_auth(self.bot_token.expose())
            .send()
            .await
            .map_err(|e| from_reqwest(SERVICE, &e))?;
        let status = response.status();
        let retry_after = retry_after(&response);
        let text = response
            .text()
            .await
            .map_err(|e| from_reqwest(SERVICE, &e))?;
        if !status.is_success() {
            return Err(from_status(SERVICE, status, retry_after, &text));
        }
        let answer: ApiAnswer = serde_json::from_str(&text).map_err(|_| ChatError::Transient {
            service: SERVICE,
            reason: format!("{method} answered something that is not Slack's JSON"),
        })?;
        if answer.ok {
            return Ok(answer);
        }
        let error = answer.error.unwrap_or_else(|| "unknown_error".into());
        Err(match error.as_str() {
            "ratelimited" => ChatError::RateLimited {
                service: SERVICE,
                wait: retry_after.unwrap_or(Duration::from_secs(1)),
            },
            "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
                ChatError::Transient {
                    service: SERVICE,
                    reason: format!("{method}: {error}"),
                }
            }
            _ => ChatError::Refused {
                service: SERVICE,
                reason: format!("{method}: {error}"),
            },
        })
    }

    /// Posts to a slash command's or button's `response_url` (valid 30 minutes, 5 posts).
    pub async fn respond(&self, response_url: &str, message: &Value) -> Result<(), ChatError> {
        let response = self
            .http
            .post(response_url)
            .json(message)
            .send()
            .await
            .map_err(|e| from_reqwest(SERVICE, &e))?;
        let status = response.status();
        let retry_after = retry_after(&response);
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        // Slack answers 404 `expired_url` / `used_url` once a response_url is spent.
        Err(match from_status(SERVICE, status, retry_after, &text) {
            ChatError::Refused { reason, .. } if text.contains("_url") => ChatError::Gone {
                service: SERVICE,
                reason,
            },
            other => other,
        })
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::jobs::backoff::retry_hint)
}

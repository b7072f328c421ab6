//! Relaying an answer to where the command came from: Slack's `response_url` or the channel,
//! Discord's interaction (or the channel once its token expired), a GitHub reply comment.

use serde::{Deserialize, Serialize};

use super::ReplyTo;
use crate::chat::ChatError;
use crate::chat::discord::{DiscordMessage, clip};
use crate::domain::ids::RepoFullName;
use crate::handlers::kit::TrainContext;

/// Relays a command's outcome to where it came from.
pub async fn relay(
    ctx: &TrainContext,
    github_target: Option<(u64, &RepoFullName)>,
    reply_to: &ReplyTo,
    text: &str,
    refused: bool,
) -> Result<(), crate::jobs::JobError> {
    let now = ctx.now();
    match reply_to {
        ReplyTo::Slack {
            response_url,
            channel,
            issued_at,
        } => {
            let Some(slack) = &ctx.chat.slack else {
                return Ok(());
            };
            let message = serde_json::json!({
                "response_type": if refused { "ephemeral" } else { "in_channel" },
                "text": text,
            });
            // A response_url takes 5 posts in 30 minutes; after that, the bot posts.
            if !response_url.is_empty() && now - issued_at < 29 * 60 * 1000 {
                match slack.respond(response_url, &message).await {
                    Ok(()) => return Ok(()),
                    Err(ChatError::Gone { .. }) => {}
                    Err(other) => return Err(other.into()),
                }
            }
            slack.post_message(channel, None, &message).await?;
        }
        ReplyTo::Discord {
            token,
            channel,
            issued_at,
        } => {
            let Some(discord) = &ctx.chat.discord else {
                return Ok(());
            };
            let message = DiscordMessage::text(clip(text));
            if !token.is_empty() && now - issued_at < 14 * 60 * 1000 {
                // Refusals are for the asker's eyes only; outcomes for the channel.
                let answered = if refused {
                    discord.answer_privately(token, &message).await
                } else {
                    discord.edit_original(token, &message).await
                };
                match answered {
                    Ok(()) => return Ok(()),
                    Err(ChatError::Gone { .. }) => {}
                    Err(other) => return Err(other.into()),
                }
            }
            discord.create_message(channel, None, &message).await?;
        }
        ReplyTo::GitHub { issue_number } => {
            let Some((installation, repo)) = github_target else {
                return Ok(());
            };
            ctx.github()?
                .create_comment(installation, repo, *issue_number, text)
                .await?;
        }
    }
    Ok(())
}

/// Posts an immediate answer that the HTTP response cannot carry (Slack buttons).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendReply {
    /// Where.
    pub reply_to: ReplyTo,
    /// What (escaped for the surface).
    pub text: String,
    /// Only the asker sees it.
    pub ephemeral: bool,
}

impl crate::jobs::BackgroundJob for SendReply {
    const KIND: &'static str = "chat.reply";
    const PRIORITY: crate::jobs::Priority = crate::jobs::Priority::Urgent;
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        "chat.reply".to_owned()
    }

    fn erase_secrets(&mut self) {
        self.reply_to.erase();
    }

    async fn run(self, ctx: TrainContext) -> Result<(), crate::jobs::JobError> {
        relay(&ctx, None, &self.reply_to, &self.text, self.ephemeral).await
    }
}

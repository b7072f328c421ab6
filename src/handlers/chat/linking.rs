//! Linking a chat user to a GitHub account, proven on both sides in one browser.
//!
//! `/release link` records a request under a random token (only its hash is stored) and
//! answers, privately, with `/link/<token>`. The browser that opens it is bound to it by a
//! cookie, signs in to the chat service (Sign in with Slack; Discord OAuth2 `identify`) and
//! must be the chat user who asked; only then does it sign in to GitHub, whose answer spends
//! the request. Whoever forwards their link to someone else links nobody: the other person's
//! chat sign-in is not theirs. The chat user is then told, in a direct message, which GitHub
//! account now acts for them.

use serde::{Deserialize, Serialize};

use super::Asker;
use super::chat_surface;
use crate::chat::cards::Surface;
use crate::chat::discord::DiscordMessage;
use crate::handlers::kit::TrainContext;
use crate::jobs::{BackgroundJob, JobError};
use crate::store::chat::ChatSurface;
use crate::store::link_requests;

/// How long a link works, from `/release link` to GitHub's answer.
pub const LINK_TTL_MS: i64 = 10 * 60 * 1000;

/// A new link token: 256 random bits, hex.
fn new_token() -> String {
    format!(
        "{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    )
}

pub(super) async fn link_answer(
    ctx: &TrainContext,
    asker: &Asker,
    login: Option<&str>,
) -> Result<String, crate::store::StoreError> {
    let Some(surface) = chat_surface(asker.surface) else {
        return Ok("GitHub comments need no link: you are your GitHub account.".to_owned());
    };
    let settings = &ctx.settings;
    let (Some(_), Some(public_url)) = (&settings.github_oauth, &settings.public_url) else {
        return Ok(
            "Linking is not set up on this trainyard (it needs TRAINYARD_GITHUB_CLIENT_ID, \
             TRAINYARD_GITHUB_CLIENT_SECRET and TRAINYARD_PUBLIC_URL)."
                .to_owned(),
        );
    };
    let chat_sign_in = match surface {
        ChatSurface::Slack => settings.slack.as_ref().and_then(|s| s.oauth.as_ref()),
        ChatSurface::Discord => settings.discord.as_ref().and_then(|d| d.oauth.as_ref()),
    };
    if chat_sign_in.is_none() {
        return Ok(match surface {
            ChatSurface::Slack => {
                "Linking is not set up on this trainyard: proving who you are \
                                   needs Sign in with Slack (TRAINYARD_SLACK_CLIENT_ID and \
                                   TRAINYARD_SLACK_CLIENT_SECRET)."
            }
            ChatSurface::Discord => {
                "Linking is not set up on this trainyard: proving who you \
                                     are needs Discord sign-in (TRAINYARD_DISCORD_CLIENT_SECRET)."
            }
        }
        .to_owned());
    }
    let token = new_token();
    let now = ctx.now();
    link_requests::create(
        &ctx.db,
        &token,
        link_requests::Asker {
            surface,
            workspace: &asker.workspace,
            user: &asker.user,
            login_hint: login,
        },
        now,
        now + LINK_TTL_MS,
    )
    .await?;
    let url = format!("{}/link/{token}", public_url.trim_end_matches('/'));
    let service = match surface {
        ChatSurface::Slack => "Slack",
        ChatSurface::Discord => "Discord",
    };
    let how = format!(
        "to link your GitHub account: sign in to {service}, then to GitHub, in the same \
         browser. The link is yours alone and works once, for 10 minutes."
    );
    Ok(match asker.surface {
        Surface::Slack => format!("<{url}|Open this link> {how}"),
        _ => format!("[Open this link](<{url}>) {how}"),
    })
}

/// Tells a chat user, in a direct message, which GitHub account now acts for them: whoever
/// linked, the owner of the chat account hears of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TellLinked {
    /// `slack` or `discord`.
    pub surface: String,
    /// The chat user.
    pub user: String,
    /// The GitHub login now linked.
    pub github_login: String,
}

impl BackgroundJob for TellLinked {
    const KIND: &'static str = "chat.linked";
    const PRIORITY: crate::jobs::Priority = crate::jobs::Priority::Urgent;
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        format!("linked:{}:{}", self.surface, self.user)
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let surface = ChatSurface::parse(&self.surface)
            .ok_or_else(|| JobError::Permanent(format!("unknown surface {}", self.surface)))?;
        let chat_surface = match surface {
            ChatSurface::Slack => Surface::Slack,
            ChatSurface::Discord => Surface::Discord,
        };
        let text = format!(
            "Your {} account is now linked to GitHub user {}: your `/release` commands act as \
             them. If that was not you, run `/release unlink` and tell an administrator.",
            match surface {
                ChatSurface::Slack => "Slack",
                ChatSurface::Discord => "Discord",
            },
            chat_surface.bold(&self.github_login),
        );
        match surface {
            ChatSurface::Slack => {
                let slack = ctx.chat.slack.as_ref().ok_or_else(|| {
                    JobError::Permanent("Slack is not configured; cannot tell the user".into())
                })?;
                // A user id as the channel: the bot's direct messages with that user.
                let message = serde_json::json!({ "text": text });
                slack.post_message(&self.user, None, &message).await?;
            }
            ChatSurface::Discord => {
                let discord = ctx.chat.discord.as_ref().ok_or_else(|| {
                    JobError::Permanent("Discord is not configured; cannot tell the user".into())
                })?;
                let channel = discord.open_direct_messages(&self.user).await?;
                discord
                    .create_message(&channel, None, &DiscordMessage::text(text))
                    .await?;
            }
        }
        Ok(())
    }
}

/// Where `service` (`github`, `slack`, `discord`) sends the browser back after sign-in.
pub fn redirect_uri(public_url: &str, service: &str) -> String {
    format!(
        "{}/oauth/{service}/callback",
        public_url.trim_end_matches('/')
    )
}

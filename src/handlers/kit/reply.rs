//! Where the outcome of a command goes: the chat or comment that asked.

use serde::{Deserialize, Serialize};

use crate::chat::cards::Surface;

/// Where the outcome of an enqueued command goes. Its URL and token are credentials: they
/// are kept out of `Debug` output, and so out of logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "surface", rename_all = "snake_case")]
pub enum ReplyTo {
    /// A slash command's or button's `response_url` (30 minutes), else the channel.
    Slack {
        /// The response URL.
        response_url: String,
        /// The channel, for `chat.postMessage` when the URL is spent.
        channel: String,
        /// When the command came (epoch ms).
        issued_at: i64,
    },
    /// A deferred interaction's `@original` (15 minutes), else the channel.
    Discord {
        /// The interaction token.
        token: String,
        /// The channel, for a bot message after the token expired.
        channel: String,
        /// When the command came (epoch ms).
        issued_at: i64,
    },
    /// A reply comment on the issue or pull request.
    GitHub {
        /// Issue or pull request number.
        issue_number: u64,
    },
}

impl std::fmt::Debug for ReplyTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyTo::Slack { channel, .. } => {
                write!(f, "Slack({channel}, response_url: [redacted])")
            }
            ReplyTo::Discord { channel, .. } => write!(f, "Discord({channel}, token: [redacted])"),
            ReplyTo::GitHub { issue_number } => write!(f, "GitHub(#{issue_number})"),
        }
    }
}

impl ReplyTo {
    /// Forgets the credential (response URL, interaction token); the channel stays, so a
    /// reply could still be posted there.
    pub fn erase(&mut self) {
        match self {
            ReplyTo::Slack { response_url, .. } => response_url.clear(),
            ReplyTo::Discord { token, .. } => token.clear(),
            ReplyTo::GitHub { .. } => {}
        }
    }

    /// The surface this goes to.
    pub fn surface(&self) -> Surface {
        match self {
            ReplyTo::Slack { .. } => Surface::Slack,
            ReplyTo::Discord { .. } => Surface::Discord,
            ReplyTo::GitHub { .. } => Surface::GitHub,
        }
    }
}

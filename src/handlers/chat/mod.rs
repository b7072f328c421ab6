//! `/release …` from Slack, Discord and GitHub comments, after the surface has verified the
//! request and found the text. Reading commands (`help`, `status`, `notes`) and the user's
//! own (`link`, `unlink`) are answered at once from the store; commands that change a train
//! are acknowledged and enqueued as [`RunTrainCommand`], whose outcome is relayed to where the
//! command came from ([`ReplyTo`]).

//! Where each part lives: the command service (permissions of the surface, routing, accepting
//! a change) in [`service`], status cards and notes in [`status`], account linking in
//! [`linking`], relaying answers in [`replies`].

mod linking;
mod replies;
mod service;
mod status;

pub use linking::{LINK_TTL_MS, TellLinked, redirect_uri};
pub use replies::{SendReply, relay};
pub use service::{answer, button_command};
pub use status::{release_history, status_card, train_card};

use serde::{Deserialize, Serialize};

use crate::chat::cards::{StatusCard, Surface};
use crate::domain::ids::RepoFullName;
use crate::jobs::QueueError;
use crate::store::StoreError;

/// Who asked, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asker {
    /// Slack, Discord or a GitHub comment.
    pub surface: Surface,
    /// Slack team id or Discord guild id (empty for GitHub).
    pub workspace: String,
    /// Channel id (empty for GitHub).
    pub channel: String,
    /// Chat user id, or the commenter's GitHub login.
    pub user: String,
    /// The repository a GitHub comment was written in.
    pub comment_repository: Option<RepoFullName>,
}

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

/// What to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The text, already escaped for its surface.
    pub text: String,
    /// Only the asker sees it (refusals, help, link URLs).
    pub ephemeral: bool,
    /// A status card to show with it.
    pub card: Option<StatusCard>,
}

impl Reply {
    pub(crate) fn private(text: String) -> Reply {
        Reply {
            text,
            ephemeral: true,
            card: None,
        }
    }
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Complete.
    Now(Reply),
    /// Acknowledged; the outcome follows through the [`ReplyTo`].
    Later(Reply),
    /// The same request was accepted before (a retry): nothing more is done.
    AlreadyAccepted,
}

/// A command could not be answered (the store or queue failed): the surface says so.
#[derive(Debug, thiserror::Error)]
pub enum ChatFailure {
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The queue.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl From<ChatFailure> for crate::jobs::JobError {
    fn from(error: ChatFailure) -> Self {
        crate::jobs::JobError::Failed(error.to_string())
    }
}

/// A button press or a command pinned to one train: the train and the tag it showed.
pub type Pinned = (i64, Option<String>);

/// The store's name for a chat surface; `None` for GitHub, which has no chat identities.
fn chat_surface(surface: Surface) -> Option<crate::store::chat::ChatSurface> {
    use crate::store::chat::ChatSurface;
    match surface {
        Surface::Slack => Some(ChatSurface::Slack),
        Surface::Discord => Some(ChatSurface::Discord),
        Surface::GitHub => None,
    }
}

//! `/release …` from Slack, Discord and GitHub comments, after the surface has verified the
//! request and found the text. Reading commands (`help`, `status`, `notes`) and the user's
//! own (`link`, `unlink`) are answered at once from the store; commands that change a train
//! are acknowledged and enqueued as [`RunTrainCommand`], whose outcome is relayed to where the
//! command came from ([`ReplyTo`]).

//! Where each part lives: the command service (permissions of the surface, routing, accepting
//! a change) in [`service`], status cards and notes in [`status`], account linking in
//! [`linking`], relaying answers in [`replies`].

pub mod comments;
mod linking;
mod preview;
mod replies;
mod service;
mod status;

pub use crate::handlers::kit::reply::ReplyTo;
pub use linking::{LINK_TTL_MS, TellLinked, redirect_uri};
pub use replies::{SendReply, relay};
pub use service::{answer, button_command};
pub use status::{release_history, status_card, train_card};

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
    /// The command intake.
    #[error(transparent)]
    Intake(#[from] crate::handlers::commands::intake::IntakeError),
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

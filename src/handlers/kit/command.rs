//! The envelope of a command on a train: what was asked, by whom, where the answer goes
//! ([`RunTrainCommand`]), and what deciding it yields ([`Decided`]). Every surface builds one;
//! `handlers::commands` runs it.

use serde::{Deserialize, Serialize};

use crate::domain::ids::RepoFullName;
use crate::domain::train::TrainCommand;
use crate::handlers::kit::reply::ReplyTo;
use crate::handlers::kit::unit::UnitOfWork;
use crate::jobs::JobError;
use crate::store::commands::OutcomeRow;

/// A command on a line's train.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunTrainCommand {
    /// The repository.
    pub repository: RepoFullName,
    /// Its installation.
    pub installation: u64,
    /// The line (default: the first configured line).
    pub line: Option<String>,
    /// Who gave it (GitHub login, as known when it was given).
    pub actor: String,
    /// The actor's GitHub user id, for a linked chat user: their login is read again by id
    /// when the command runs, so a renamed (or re-registered) login cannot act for them.
    #[serde(default)]
    pub actor_id: Option<i64>,
    /// What.
    pub command: TrainCommand,
    /// Its id, unique per request (`slack:…`, `discord:…`, `comment:…`, `schedule:…`): the
    /// outcome is recorded under it, so it is carried out once.
    pub command_id: String,
    /// Given by the line's schedule, not a person: no permission to check.
    #[serde(default)]
    pub by_schedule: bool,
    /// Where the outcome is told (the chat or comment that asked).
    #[serde(default)]
    pub reply_to: Option<ReplyTo>,
    /// A button press acts on the train it was shown with, and on no other.
    #[serde(default)]
    pub train_id: Option<i64>,
    /// The version (or tag) the person named: the train must have it.
    #[serde(default)]
    pub expect_version: Option<String>,
}

/// What the command did, to tell whoever gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandReply {
    /// Done; what happened.
    Done(String),
    /// Refused; why (nothing changed).
    Refused(String),
}

impl CommandReply {
    pub(crate) fn text(&self) -> &str {
        match self {
            CommandReply::Done(text) | CommandReply::Refused(text) => text,
        }
    }

    pub(crate) fn is_refusal(&self) -> bool {
        matches!(self, CommandReply::Refused(_))
    }

    pub(crate) fn from_row(row: &OutcomeRow) -> CommandReply {
        if row.refused != 0 {
            CommandReply::Refused(row.answer.clone())
        } else {
            CommandReply::Done(row.answer.clone())
        }
    }
}

/// A decided command: its answer, and the writes that go with it (none for a refusal).
pub(crate) type Decided = (CommandReply, Option<UnitOfWork>);

pub(crate) fn refused(reason: impl ToString) -> Result<Decided, JobError> {
    Ok((CommandReply::Refused(reason.to_string()), None))
}

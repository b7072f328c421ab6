//! `/release …` lines in issue and pull request comments. The actor is the event's `sender`,
//! the GitHub account that wrote this version of the comment (no linking); answers are reply
//! comments, refusals too. Only the repository's own people are heard: a comment by anyone
//! else gets one 😕 and nothing more. A comment edited by someone other than its author, or
//! delivered long after it was written (a replay), is refused with the reason.

use serde::{Deserialize, Serialize};
use tracing::Instrument as _;

use crate::chat::cards::Surface;
use crate::domain::command;
use crate::domain::event::{CommentAction, IssueCommentEvent};
use crate::handlers::chat::{Answer, Asker, Reply, ReplyTo, answer};
use crate::handlers::commands::SendCommandReply;
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::unit::UnitOfWork;
use crate::jobs::{BackgroundJob, JobError};
use crate::store::audit;
use crate::store::chat as chat_store;

/// At most this many commands are taken from one comment.
pub const MAX_COMMANDS_PER_COMMENT: usize = 10;

/// The commands of one created or edited comment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommentCommands {
    /// The installation.
    pub installation: u64,
    /// The comment.
    pub event: IssueCommentEvent,
    /// When its delivery was received (epoch ms; 0 when unknown).
    #[serde(default)]
    pub received_at: i64,
}

/// A comment written (or last edited) longer than this before its delivery is not acted on:
/// GitHub delivers within seconds, a replayed capture arrives later.
pub const MAX_COMMENT_AGE: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

impl CommentCommands {
    /// The command lines to act on: all of a new comment's, only the new ones of an edit.
    pub fn lines(event: &IssueCommentEvent) -> Vec<String> {
        if event.author.is_bot {
            return Vec::new();
        }
        let lines = match &event.action {
            CommentAction::Created => command::command_lines(&event.body),
            CommentAction::Edited { previous_body } => {
                command::new_command_lines(&event.body, previous_body.as_deref())
            }
        };
        lines.into_iter().take(MAX_COMMANDS_PER_COMMENT).collect()
    }
}

impl BackgroundJob for CommentCommands {
    const KIND: &'static str = "github.comment_commands";
    const PRIORITY: crate::jobs::Priority = crate::jobs::Priority::Urgent;
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        self.event.repository.to_string()
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let event = &self.event;
        let github = ctx.github()?;
        if !event.by_collaborator() {
            // Audited, unanswered: each command line is refused once.
            for line in Self::lines(event) {
                let command_id = format!("comment:{}:{}", event.comment_id, short_hash(&line));
                let entry = self.refused_entry(
                    &command_id,
                    &line,
                    "not one of the repository's people (owner, member, collaborator)",
                );
                audit::record_alone(&ctx.db, &entry, ctx.now()).await?;
            }
            // Outsiders do not make the bot talk: one reaction, whatever the comment holds.
            let confused = github
                .react_to_comment(
                    self.installation,
                    &event.repository,
                    event.comment_id,
                    "confused",
                )
                .await;
            if let Err(error) = confused {
                tracing::debug!(%error, "could not react to the comment");
            }
            return Ok(());
        }
        if let Some(reason) = self.refusal() {
            for line in Self::lines(event) {
                let command_id = format!("comment:{}:{}", event.comment_id, short_hash(&line));
                let reply = Reply::private(Surface::GitHub.user(&reason));
                let entry = self.refused_entry(&command_id, &line, &reason);
                self.reply(&ctx, &command_id, &line, reply, Some(entry))
                    .await?;
            }
            return Ok(());
        }
        let asker = Asker {
            surface: Surface::GitHub,
            workspace: String::new(),
            channel: String::new(),
            user: event.sender.login.clone(),
            comment_repository: Some(event.repository.clone()),
        };
        for line in Self::lines(event) {
            let command_id = format!("comment:{}:{}", event.comment_id, short_hash(&line));
            let span = tracing::info_span!("command", %command_id, repo = %event.repository);
            async {
                let reply_to = ReplyTo::GitHub {
                    issue_number: event.issue_number,
                };
                let parsed = command::parse(&line);
                match answer(&ctx, &asker, parsed, reply_to, &command_id, None).await? {
                    Answer::Now(reply) => {
                        self.reply(&ctx, &command_id, &line, reply, None).await?;
                    }
                    Answer::Later(_) => {
                        // Seen: the outcome follows as a reply comment. Reacting again on a
                        // retry is the same one reaction on GitHub.
                        let reaction = github
                            .react_to_comment(
                                self.installation,
                                &event.repository,
                                event.comment_id,
                                "eyes",
                            )
                            .await;
                        if let Err(error) = reaction {
                            tracing::debug!(%error, "could not react to the comment");
                        }
                    }
                    Answer::AlreadyAccepted => {}
                }
                Ok::<(), JobError>(())
            }
            .instrument(span)
            .await?;
        }
        Ok(())
    }
}

impl CommentCommands {
    /// The audit record of a command line refused as a whole.
    fn refused_entry(&self, command_id: &str, line: &str, reason: &str) -> audit::Entry {
        let name = match command::parse(line) {
            Ok(command) => command.name().as_str().to_owned(),
            Err(_) => line.split_whitespace().next().unwrap_or("").to_owned(),
        };
        audit::Entry {
            repository: self.event.repository.to_string(),
            actor_login: self.event.sender.login.clone(),
            surface: "comment".into(),
            action: format!("command.{name}"),
            outcome: "refused".into(),
            detail: reason.to_owned(),
            key: Some(format!("command:{command_id}")),
            ..audit::Entry::default()
        }
    }

    /// Why this comment's commands are not carried out at all, if they are not.
    fn refusal(&self) -> Option<String> {
        let event = &self.event;
        if event.edited_by_another() {
            return Some(format!(
                "not carried out: {} edited a comment by {}; commands count only in one's own \
                 comments",
                event.sender.login, event.author.login
            ));
        }
        let written = event
            .written_at
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let received = jiff::Timestamp::from_millisecond(self.received_at).ok();
        if let (Some(written), Some(received)) = (written, received)
            && self.received_at > 0
            && received.duration_since(written) > MAX_COMMENT_AGE
        {
            return Some(format!(
                "not carried out: the comment was written at {written}, more than 10 minutes \
                 before it was delivered at {received}; write the command again"
            ));
        }
        None
    }

    /// Answers a line with a reply comment, once: the line is recorded as answered and the
    /// comment enqueued in one transaction, so a retried job neither loses nor repeats it.
    async fn reply(
        &self,
        ctx: &TrainContext,
        command_id: &str,
        line: &str,
        reply: Reply,
        refusal: Option<audit::Entry>,
    ) -> Result<(), JobError> {
        let text = match &reply.card {
            Some(card) => card.text(Surface::GitHub),
            None => reply.text,
        };
        let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, ctx.now()).await?;
        let now = unit.now();
        if !chat_store::claim_request(unit.conn(), "github", command_id, now).await? {
            return Ok(());
        }
        if let Some(entry) = &refusal {
            audit::record(unit.conn(), entry, now).await?;
        }
        unit.enqueue(&SendCommandReply {
            repository: self.event.repository.clone(),
            installation: self.installation,
            reply_to: ReplyTo::GitHub {
                issue_number: self.event.issue_number,
            },
            text: format!("> {}\n\n{text}", Surface::GitHub.user(line)),
            refused: false,
            step_key: format!("reply:{command_id}"),
        })
        .await?;
        unit.commit().await
    }
}

fn short_hash(text: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(text.as_bytes())[..8])
}

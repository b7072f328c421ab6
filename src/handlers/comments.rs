//! `/release …` lines in issue and pull request comments. The commenter's GitHub login is the
//! actor (no linking); answers are reply comments, refusals too.

use serde::{Deserialize, Serialize};

use crate::chat::cards::Surface;
use crate::domain::command;
use crate::domain::event::{CommentAction, IssueCommentEvent};
use crate::handlers::chat::{Answer, Asker, ReplyTo, answer};
use crate::handlers::trains::TrainContext;
use crate::jobs::{BackgroundJob, JobError};
use crate::ports::GitHubPort;
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
}

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
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        self.event.repository.to_string()
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let event = &self.event;
        let repo = &event.repository;
        let github = ctx.github()?;
        let asker = Asker {
            surface: Surface::GitHub,
            workspace: String::new(),
            channel: String::new(),
            user: event.author.login.clone(),
            comment_repository: Some(repo.clone()),
        };
        for line in Self::lines(event) {
            let command_id = format!("comment:{}:{}", event.comment_id, short_hash(&line));
            // A retried job does not answer a line twice.
            if !chat_store::claim_request(&ctx.db, "github", &command_id, ctx.now()).await? {
                continue;
            }
            let span = tracing::info_span!("command", %command_id, repo = %repo);
            let _entered = span.enter();
            let parsed = command::parse(&line);
            let reply_to = ReplyTo::GitHub {
                issue_number: event.issue_number,
            };
            let answered = answer(&ctx, &asker, parsed, reply_to, &command_id, None).await?;
            match answered {
                Answer::Now(reply) => {
                    let text = match &reply.card {
                        Some(card) => card.text(Surface::GitHub),
                        None => reply.text,
                    };
                    let body = format!("> {}\n\n{text}", Surface::GitHub.user(&line));
                    github
                        .create_comment(self.installation, repo, event.issue_number, &body)
                        .await?;
                }
                Answer::Later(_) => {
                    // Seen: the outcome follows as a reply comment.
                    let reaction = github
                        .request::<serde_json::Value>(
                            self.installation,
                            http::Method::POST,
                            &format!(
                                "/repos/{repo}/issues/comments/{}/reactions",
                                event.comment_id
                            ),
                            Some(&serde_json::json!({ "content": "eyes" })),
                        )
                        .await;
                    if let Err(error) = reaction {
                        tracing::debug!(%error, "could not react to the comment");
                    }
                }
            }
        }
        Ok(())
    }
}

fn short_hash(text: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(text.as_bytes())[..8])
}

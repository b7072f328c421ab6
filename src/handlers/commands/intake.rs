//! The one door for a command on a train. Slack, Discord, a GitHub comment, the dashboard and
//! the schedule each verify their asker and build a [`RunTrainCommand`]; here it is recorded
//! as accepted and enqueued in one transaction, so a retried request finds it accepted and an
//! accepted one always has its job. The runner (`handlers::commands`) then decides it with
//! the same facts whoever asked.

use crate::handlers::kit::TrainContext;
use crate::handlers::kit::command::RunTrainCommand;
use crate::jobs::QueueError;
use crate::store::StoreError;
use crate::store::chat as requests;

/// Where a command came from, as its acceptance is recorded (one request id per surface).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// A Slack slash command or button.
    Slack,
    /// A Discord interaction.
    Discord,
    /// A GitHub comment.
    Comment,
    /// The dashboard's form.
    Web,
    /// A line's schedule.
    Schedule,
}

impl Door {
    fn as_str(self) -> &'static str {
        match self {
            Door::Slack => "slack",
            Door::Discord => "discord",
            Door::Comment => "github",
            Door::Web => "web",
            Door::Schedule => "schedule",
        }
    }
}

/// The command could not be taken (the store or the queue failed); nothing was recorded.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The queue.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl From<IntakeError> for crate::jobs::JobError {
    fn from(error: IntakeError) -> Self {
        crate::jobs::JobError::Failed(error.to_string())
    }
}

/// Records `job` as accepted through `door` and enqueues it, in one transaction. `false`
/// when the same request (its `command_id`) was accepted before: nothing more is done.
pub async fn submit(
    ctx: &TrainContext,
    door: Door,
    job: &RunTrainCommand,
) -> Result<bool, IntakeError> {
    let mut tx = ctx.db.begin_write().await?;
    let now = ctx.now();
    if !requests::claim_request(&mut tx, door.as_str(), &job.command_id, now).await? {
        return Ok(false);
    }
    let (_, runnable) = ctx.queue.enqueue_with_hint(&mut tx, job).await?;
    tx.commit().await.map_err(StoreError::from)?;
    if runnable {
        ctx.queue.wake();
    }
    Ok(true)
}

//! Commands on trains (`cut`, `rc`, `approve`, `reject`, `include`, `exclude`, `abandon`,
//! `hotfix`) and the release that follows the last approval.
//!
//! A command runs exactly once: [`execute`] first looks for its recorded outcome (a retried
//! job finds it and stops), then gathers the facts (store, GitHub, the actor's permission
//! read from GitHub when the job runs), lets [`crate::domain::train::decide`] choose, and
//! applies the decision — the train's state, its events, the command's outcome and every
//! follow-up job (draft refresh, release, draft deletion, the answer) — in one transaction.
//! The answer is its own job ([`SendCommandReply`]) on its own queue key, so a chat outage
//! neither repeats the command nor holds up the repository's trains.
//!
//! Every surface enters through [`intake::submit`] (Slack, Discord, comments, the dashboard,
//! the schedule); facts and train selection are in `trains::gather`, the per-command writes
//! in `trains::apply`, hotfix trains in `trains::hotfix`, deployments in `deploys::command`.

pub mod intake;

use serde::{Deserialize, Serialize};
use tracing::Instrument as _;

use crate::domain::ids::RepoFullName;
use crate::domain::train::{self, TrainCommand, Transition};
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::effects::comment_once;
use crate::handlers::kit::reply::ReplyTo;
use crate::handlers::kit::unit::UnitOfWork;
use crate::jobs::{BackgroundJob, JobError};
use crate::store::audit;
use crate::store::commands::{self, Outcome};

use crate::handlers::deploys::command as deploy;
pub use crate::handlers::kit::command::{CommandReply, RunTrainCommand};
use crate::handlers::kit::command::{Decided, refused};
use crate::handlers::trains::{apply, gather, hotfix};

impl BackgroundJob for RunTrainCommand {
    const KIND: &'static str = "train.command";
    const PRIORITY: crate::jobs::Priority = crate::jobs::Priority::Urgent;
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        self.repository.to_string()
    }

    fn erase_secrets(&mut self) {
        if let Some(reply_to) = &mut self.reply_to {
            reply_to.erase();
        }
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let span = tracing::info_span!("command", command_id = %self.command_id, command = self.command.name());
        async move {
            match execute(&ctx, &self).await {
                Ok(_) => Ok(()),
                // A command that can never be carried out is answered with the reason; the job
                // is still buried, for the operator.
                Err(JobError::Permanent(reason)) => {
                    let reply =
                        CommandReply::Refused(format!("it could not be carried out: {reason}"));
                    let unit = UnitOfWork::begin(&ctx.db, &ctx.queue, ctx.now()).await?;
                    finish(&ctx, &self, unit, &reply).await?;
                    Err(JobError::Permanent(reason))
                }
                Err(other) => Err(other),
            }
        }
        .instrument(span)
        .await
    }
}

/// Carries out a command once and says what happened; a command already decided (a retry)
/// is answered with its recorded outcome and changes nothing.
pub async fn execute(
    ctx: &TrainContext,
    request: &RunTrainCommand,
) -> Result<CommandReply, JobError> {
    if let Some(done) = commands::outcome(&ctx.db, &request.command_id).await? {
        tracing::info!("command already decided; not carried out again");
        return Ok(CommandReply::from_row(&done));
    }
    let resolved;
    let request = match request.actor_id {
        Some(id) => {
            let login = ctx.github()?.user_login(request.installation, id).await?;
            let Some(login) = login else {
                let reply = CommandReply::Refused(
                    "The GitHub account linked to you no longer exists; link again with \
                     `/release link`."
                        .to_owned(),
                );
                let unit = UnitOfWork::begin(&ctx.db, &ctx.queue, ctx.now()).await?;
                return finish(ctx, request, unit, &reply).await;
            };
            resolved = RunTrainCommand {
                actor: login,
                ..request.clone()
            };
            &resolved
        }
        None => request,
    };
    let (reply, unit) = decide_and_prepare(ctx, request).await?;
    let unit = match unit {
        Some(unit) => unit,
        None => UnitOfWork::begin(&ctx.db, &ctx.queue, ctx.now()).await?,
    };
    finish(ctx, request, unit, &reply).await
}

/// Records the outcome and enqueues the answer in the decision's transaction, and commits.
async fn finish(
    ctx: &TrainContext,
    request: &RunTrainCommand,
    mut unit: UnitOfWork,
    reply: &CommandReply,
) -> Result<CommandReply, JobError> {
    let outcome = Outcome {
        command_id: &request.command_id,
        repository: request.repository.as_ref(),
        command: request.command.name(),
        actor: &request.actor,
        refused: reply.is_refusal(),
        answer: reply.text(),
    };
    let now = unit.now();
    if !commands::record_outcome(unit.conn(), &outcome, now).await? {
        // Decided by someone else meanwhile: theirs stands, ours is rolled back.
        drop(unit);
        return match commands::outcome(&ctx.db, &request.command_id).await? {
            Some(done) => Ok(CommandReply::from_row(&done)),
            None => Err(JobError::Failed("command outcome vanished".into())),
        };
    }
    let entry = audit::Entry {
        repository: request.repository.to_string(),
        line: request.line.clone().unwrap_or_default(),
        train_id: request.train_id,
        actor_id: request.actor_id,
        actor_login: request.actor.clone(),
        surface: audit::surface_of(&request.command_id).to_owned(),
        action: format!("command.{}", request.command.name()),
        outcome: if reply.is_refusal() {
            "refused"
        } else {
            "accepted"
        }
        .to_owned(),
        detail: reply.text().to_owned(),
        key: Some(format!("command:{}", request.command_id)),
    };
    audit::record(unit.conn(), &entry, now).await?;
    if let Some(reply_to) = &request.reply_to {
        unit.enqueue(&SendCommandReply::new(request, reply_to.clone(), reply))
            .await?;
    }
    unit.commit().await?;
    tracing::info!(repo = %request.repository, actor = %request.actor, ?reply, "command decided");
    Ok(reply.clone())
}

/// Gathers the facts, lets the domain decide, and prepares the writes (not committed).
async fn decide_and_prepare(
    ctx: &TrainContext,
    request: &RunTrainCommand,
) -> Result<Decided, JobError> {
    let github = ctx.github()?;
    let _now = ctx.now();
    let config = ctx
        .config(request.installation, &request.repository)
        .await?;
    let config = &config.effective.config;
    if let TrainCommand::Hotfix { base } = &request.command {
        return hotfix::open(ctx, github, request, base, config).await;
    }
    if let TrainCommand::Deploy(command) = &request.command {
        return deploy::decide_and_prepare(ctx, github, request, command, config).await;
    }
    let facts = match gather::facts(ctx, github, request, config).await? {
        Ok(facts) => facts,
        Err(refusal) => return refused(refusal),
    };
    let transition = match train::decide(
        &facts.view(),
        &request.command,
        &request.actor,
        &facts.command_facts,
        &facts.rules,
    ) {
        Ok(transition) => transition,
        Err(refusal) => return refused(refusal),
    };
    match transition {
        Transition::Freeze => apply::cut(ctx, github, request, &facts, config).await,
        Transition::Approved { complete } => apply::approve(ctx, request, &facts, complete).await,
        Transition::Reopen => apply::reject(ctx, request, &facts).await,
        Transition::Board(number) => apply::include(ctx, request, &facts, number).await,
        Transition::BoardMovingTarget(number) => {
            apply::include_moving_target(ctx, request, &facts, number).await
        }
        Transition::Candidate => apply::candidate(ctx, request, &facts, config).await,
        Transition::Leave(number) => apply::exclude(ctx, request, &facts, number).await,
        Transition::Abandon => apply::abandon(ctx, request, &facts).await,
    }
}

/// Tells the asker what their command did. Its own job, on its own queue key: a failing
/// chat service retries only the answer, never the command, and holds up no train.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendCommandReply {
    /// The repository.
    pub repository: RepoFullName,
    /// Its installation (reply comments are written as the App).
    pub installation: u64,
    /// Where.
    pub reply_to: ReplyTo,
    /// What, escaped for the surface.
    pub text: String,
    /// A refusal (shown to the asker only, where the surface can).
    pub refused: bool,
    /// The step a reply comment is recorded under, so a retry never writes it twice.
    pub step_key: String,
}

impl SendCommandReply {
    fn new(request: &RunTrainCommand, reply_to: ReplyTo, reply: &CommandReply) -> Self {
        let surface = reply_to.surface();
        let what = surface.bold(&format!(
            "{} {}",
            request.repository,
            request.command.name()
        ));
        let text = match reply {
            CommandReply::Done(text) => format!("{what}: {}", surface.user(text)),
            CommandReply::Refused(text) => format!("{what} refused: {}", surface.user(text)),
        };
        SendCommandReply {
            repository: request.repository.clone(),
            installation: request.installation,
            reply_to,
            text,
            refused: reply.is_refusal(),
            step_key: format!("reply:{}", request.command_id),
        }
    }
}

impl BackgroundJob for SendCommandReply {
    const KIND: &'static str = "train.command_reply";
    const PRIORITY: crate::jobs::Priority = crate::jobs::Priority::Urgent;
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        format!("reply:{}", self.repository)
    }

    fn erase_secrets(&mut self) {
        self.reply_to.erase();
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        if let ReplyTo::GitHub { issue_number } = &self.reply_to {
            comment_once(
                &ctx.db,
                ctx.github()?,
                self.installation,
                &self.repository,
                *issue_number,
                &self.step_key,
                &self.text,
                ctx.now(),
            )
            .await?;
            return Ok(());
        }
        crate::handlers::chat::relay(
            &ctx,
            Some((self.installation, &self.repository)),
            &self.reply_to,
            &self.text,
            self.refused,
        )
        .await
    }
}

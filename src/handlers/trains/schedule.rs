//! Scheduled cuts and their reminders: every configured schedule is checked once a minute,
//! and each due slot (claimed first, so it fires once across replicas) enqueues a `cut` as
//! the schedule.

use serde::{Deserialize, Serialize};

use crate::domain::ids::RepoFullName;
use crate::domain::train::{TrainCommand, TrainState};
use crate::domain::train_event::TrainEvent;
use crate::handlers::kit::TrainContext;
use crate::jobs::{BackgroundJob, JobError};
use crate::store::trains;

use crate::handlers::commands::intake::{self, Door};
use crate::handlers::kit::command::RunTrainCommand;

/// Checks every configured schedule and cuts the lines whose slot is due; each slot fires
/// once across replicas (the slot row is claimed first).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScheduledCuts;

impl BackgroundJob for ScheduledCuts {
    const KIND: &'static str = "train.scheduled_cuts";
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        "schedule".to_owned()
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(Self::KIND.to_owned())
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let now = ctx.clock.now();
        let now_ms = now.as_millisecond();
        for (repository, path, text) in crate::store::repo_configs::all_with_text(&ctx.db).await? {
            let Ok(repo) = RepoFullName::parse(&repository) else {
                continue;
            };
            let Ok(config) = crate::domain::repo_config::RepoConfig::from_file(&path, &text) else {
                continue;
            };
            for line in config.lines() {
                let Some(expression) = &line.schedule else {
                    continue;
                };
                let Ok(cron) = crate::domain::schedule::Cron::parse(expression) else {
                    continue;
                };
                let zone = line.time_zone();
                if let Some(lead) = line
                    .reminder
                    .as_deref()
                    .and_then(|l| crate::domain::schedule::parse_lead(l).ok())
                    && let Some(slot) =
                        crate::domain::schedule::due_reminder(&cron, &zone, now, lead)
                {
                    remind(&ctx, &repo, &line.name, slot).await?;
                }
                // The expression with its zone: a changed zone is a changed schedule.
                let watched = format!("{expression} {}", zone.iana_name().unwrap_or("UTC"));
                // Seen from the start of this minute: the scheduler ticks once a minute, so a
                // slot of this minute still belongs to a schedule first seen during it.
                let minute = now_ms - now_ms.rem_euclid(60_000);
                let since =
                    trains::schedule_seen_since(&ctx.db, &repo, &line.name, &watched, minute)
                        .await?;
                let Some(slot) = crate::domain::schedule::due_slot(&cron, &zone, now)
                    .filter(|slot| slot.as_millisecond() >= since)
                else {
                    continue;
                };
                if !trains::claim_slot(
                    &ctx.db,
                    &repo,
                    &line.name,
                    slot.as_millisecond(),
                    now.as_millisecond(),
                )
                .await?
                {
                    continue;
                }
                let Some(installation) =
                    crate::store::installations::for_repository(&ctx.db, &repo).await?
                else {
                    tracing::warn!(%repo, line = %line.name, "scheduled cut skipped: no installation known");
                    continue;
                };
                tracing::info!(%repo, line = %line.name, %slot, "scheduled cut");
                let cut = RunTrainCommand {
                    repository: repo.clone(),
                    installation,
                    line: Some(line.name.clone()),
                    actor: SCHEDULE_ACTOR.to_owned(),
                    command: TrainCommand::Cut,
                    command_id: format!("schedule:{}:{}", line.name, slot.as_millisecond()),
                    by_schedule: true,
                    reply_to: None,
                    train_id: None,
                    expect_version: None,
                    actor_id: None,
                };
                intake::submit(&ctx, Door::Schedule, &cut).await?;
            }
        }
        Ok(())
    }
}

/// Tells the line's channels that a scheduled cut is coming, once per slot across replicas.
/// A line with nothing on board yet is reminded too: the reminder is the moment to label.
async fn remind(
    ctx: &TrainContext,
    repo: &RepoFullName,
    line: &str,
    slot: jiff::Timestamp,
) -> Result<(), JobError> {
    let now = ctx.now();
    if !trains::claim_reminder(&ctx.db, repo, line, slot.as_millisecond(), now).await? {
        return Ok(());
    }
    let open = trains::in_states(&ctx.db, repo, &[TrainState::Open])
        .await?
        .into_iter()
        .find(|t| t.line == line);
    let passengers = match &open {
        Some(train) => trains::passengers(&ctx.db, train.id).await?.len(),
        None => 0,
    };
    let event = TrainEvent::CutReminder {
        cut_at: slot.as_millisecond(),
        passengers,
    };
    let train_id = open.map(|t| t.id);
    crate::handlers::kit::unit::announce(&ctx.db, &ctx.queue, repo, line, train_id, &event, now)
        .await?;
    tracing::info!(%repo, line, %slot, "scheduled cut reminder");
    Ok(())
}

/// Who a scheduled cut is recorded as.
pub const SCHEDULE_ACTOR: &str = "trainyard-schedule";

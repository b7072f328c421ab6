//! GitHub's word on deployments: `deployment` and `deployment_status` webhooks recorded,
//! relayed to the channels, and the environments configured to follow started.

use serde::{Deserialize, Serialize};

use crate::domain::deploy::DeploymentState;
use crate::domain::deploy::Release;
use crate::domain::event::{DeploymentEvent, DeploymentStatusEvent};
use crate::domain::train_event::TrainEvent;
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::unit::UnitOfWork;
use crate::jobs::{BackgroundJob, JobError};
use crate::store::deployments::{self, SeenDeployment};

use super::automatic::{Followers, apply_automatic, decide_followers};
use super::jobs::{CommentDeployed, is_plain_url, stored_environment};

/// A `deployment` webhook: recorded, so deployments made by others (CI) are known too.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeeDeployment {
    /// The event.
    pub event: DeploymentEvent,
}

impl BackgroundJob for SeeDeployment {
    const KIND: &'static str = "deploy.seen";
    const PRIORITY: crate::jobs::Priority = crate::jobs::Priority::Urgent;
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        format!("deploy:{}", self.event.repository)
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let e = &self.event;
        let creator = e.creator.as_ref().map_or("someone", |c| c.login.as_str());
        let id = i64::try_from(e.deployment_id)
            .map_err(|_| JobError::Permanent("deployment id out of range".into()))?;
        deployments::seen(
            &ctx.db,
            &SeenDeployment {
                repository: e.repository.as_ref(),
                github_id: id,
                environment: &e.environment,
                ref_name: &e.git_ref,
                sha: &e.sha,
                creator,
                request_id: e.request_id.as_deref(),
            },
            ctx.now(),
        )
        .await?;
        Ok(())
    }
}

/// A `deployment_status` webhook: the deployment's state recorded and relayed to the
/// channels; a success starts the environments configured to follow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeeDeploymentStatus {
    /// The event.
    pub event: DeploymentStatusEvent,
}

impl BackgroundJob for SeeDeploymentStatus {
    const KIND: &'static str = "deploy.status";
    const PRIORITY: crate::jobs::Priority = crate::jobs::Priority::Urgent;
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        format!("deploy:{}", self.event.repository)
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let e = &self.event;
        let now = ctx.now();
        let id = i64::try_from(e.deployment_id)
            .map_err(|_| JobError::Permanent("deployment id out of range".into()))?;
        let creator = e.creator.as_ref().map_or("someone", |c| c.login.as_str());
        let row = deployments::seen(
            &ctx.db,
            &SeenDeployment {
                repository: e.repository.as_ref(),
                github_id: id,
                environment: &e.environment,
                ref_name: &e.git_ref,
                sha: &e.sha,
                creator,
                request_id: e.request_id.as_deref(),
            },
            now,
        )
        .await?;
        let url = e.url.as_deref().filter(|u| is_plain_url(u));
        let description = e
            .description
            .as_deref()
            .map(|d| d.chars().take(140).collect::<String>());
        // Read before the transaction: a bake to start, or what follows this environment.
        let after = self.after_success(&ctx, &row, now).await?;
        // Read before the transaction (the store may have a single connection).
        let production = stored_environment(&ctx.db, &e.repository, &row.environment)
            .await?
            .map_or_else(
                || row.environment.eq_ignore_ascii_case("production"),
                |env| env.is_production(),
            );
        let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, now).await?;
        if !deployments::set_status(unit.conn(), id, &e.state, description.as_deref(), url, now)
            .await?
        {
            return Ok(());
        }
        let event = TrainEvent::Deployment {
            deployment: row.id,
            production,
            environment: row.environment.clone(),
            reference: row.ref_name.clone(),
            state: e.state.clone(),
            by: row.requested_by.clone(),
            detail: description,
            url: url.map(str::to_owned),
            rollback: row.rollback != 0,
        };
        unit.announce_for(&e.repository, "", row.train_id, &event)
            .await?;
        // Another release runs there now: a bake of the one before speaks for it no more.
        let superseded = if DeploymentState::named(&e.state) == DeploymentState::Success {
            super::verify::supersede(&mut unit, &e.repository, &row).await?
        } else {
            0
        };
        match after {
            // Verified first: what follows waits for the bake.
            AfterSuccess::Bake(start) => {
                super::verify::start_bake(&mut unit, &e.repository, &start).await?;
            }
            // Environments that follow this one get the same release, once, as decided.
            AfterSuccess::Follow((installation, occasion, decisions)) => {
                apply_automatic(&mut unit, &e.repository, installation, &occasion, decisions)
                    .await?;
            }
            AfterSuccess::Nothing => {}
        }
        // A breach's rollback succeeded: the environment is restored; the time is measured.
        if DeploymentState::named(&e.state) == DeploymentState::Success
            && row.rollback != 0
            && let Some(request_id) = row.request_id.as_deref()
        {
            super::verify::restored(&mut unit, &e.repository, request_id, &row).await?;
        }
        // A production success is told on the release's pull requests.
        if DeploymentState::named(&e.state) == DeploymentState::Success
            && production
            && let (Some(train_id), Some(installation)) = (row.train_id, e.installation_id)
        {
            unit.enqueue(&CommentDeployed {
                repository: e.repository.clone(),
                installation,
                train_id,
                environment: row.environment.clone(),
                tag: row.ref_name.clone(),
            })
            .await?;
        }
        unit.commit().await?;
        for _ in 0..superseded {
            crate::metrics::metrics().bake_ended("superseded");
        }
        Ok(())
    }
}

/// What a success of a release trainyard asked for means here: nothing more (a rollback, a
/// deployment someone else made), a bake to start, or the environments that follow.
enum AfterSuccess {
    Nothing,
    Bake(super::verify::BakeStart),
    Follow(Followers),
}

impl SeeDeploymentStatus {
    /// For a success of a release trainyard asked for (a rollback is nobody's cue to move
    /// on): the bake its environment's `verify` asks for, else the environments configured
    /// to follow it, decided. Read before the transaction.
    async fn after_success(
        &self,
        ctx: &TrainContext,
        row: &deployments::DeploymentRow,
        now: i64,
    ) -> Result<AfterSuccess, JobError> {
        let e = &self.event;
        let (Some(train_id), Some(installation), Some(_github), Some(sha)) = (
            row.train_id,
            e.installation_id,
            ctx.github.as_ref(),
            row.sha.clone(),
        ) else {
            return Ok(AfterSuccess::Nothing);
        };
        if DeploymentState::named(&e.state) != DeploymentState::Success || row.rollback != 0 {
            return Ok(AfterSuccess::Nothing);
        }
        let config = ctx.config(installation, &e.repository).await?;
        let config = &config.effective.config;
        // Exactly what succeeded here: its tag and its commit.
        let release = Release {
            train_id: Some(train_id),
            version: row.version.clone().unwrap_or_else(|| row.ref_name.clone()),
            tag: row.ref_name.clone(),
            sha,
        };
        if let Some(plan) = config
            .environment(&row.environment)
            .and_then(|env| env.verify.as_ref())
            .and_then(|keys| keys.plan().ok())
        {
            return Ok(AfterSuccess::Bake(super::verify::BakeStart {
                installation,
                deployment_id: row.id,
                environment: row.environment.clone(),
                release,
                plan,
            }));
        }
        let by = e
            .reported_by
            .as_ref()
            .map_or("someone", |a| a.login.as_str());
        let why = format!("after {}'s success reported by {by}", row.environment);
        Ok(decide_followers(
            ctx,
            config,
            &e.repository,
            installation,
            &row.environment,
            &release,
            why,
            None,
            now,
        )
        .await?
        .map_or(AfterSuccess::Nothing, AfterSuccess::Follow))
    }
}

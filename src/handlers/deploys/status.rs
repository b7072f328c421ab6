//! GitHub's word on deployments: `deployment` and `deployment_status` webhooks recorded,
//! relayed to the channels, and the environments configured to follow started.

use serde::{Deserialize, Serialize};

use crate::domain::deploy::DeploymentState;
use crate::domain::deploy::Release;
use crate::domain::event::{DeploymentEvent, DeploymentStatusEvent};
use crate::domain::repo_config::EnvironmentKeys;
use crate::domain::train_event::TrainEvent;
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::unit::UnitOfWork;
use crate::jobs::{BackgroundJob, JobError};
use crate::store::deployments::{self, SeenDeployment};

use super::automatic::{
    AutomaticDecision, Occasion, apply_automatic, decide_automatic, standing_of,
};
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
        // Read before the transaction: what follows this environment.
        let followers = self.followers(&ctx, &row, now).await?;
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
        // Environments that follow this one get the same release, once, as decided.
        if let Some((installation, occasion, decisions)) = followers {
            apply_automatic(&mut unit, &e.repository, installation, &occasion, decisions).await?;
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
        unit.commit().await
    }
}

/// Environments to deploy next, decided: `(installation, why, decisions)`.
type Followers = (u64, Occasion, Vec<AutomaticDecision>);

impl SeeDeploymentStatus {
    /// For a success of a release trainyard asked for (a rollback is nobody's cue to move
    /// on), the environments configured to follow this one, decided.
    async fn followers(
        &self,
        ctx: &TrainContext,
        row: &deployments::DeploymentRow,
        now: i64,
    ) -> Result<Option<Followers>, JobError> {
        let e = &self.event;
        // Read before the transaction: what follows this environment, for a success of a
        // release trainyard asked for (a rollback is nobody's cue to move on).
        if DeploymentState::named(&e.state) == DeploymentState::Success
            && row.rollback == 0
            && let (Some(train_id), Some(installation), Some(_github), Some(sha)) = (
                row.train_id,
                e.installation_id,
                ctx.github.as_ref(),
                row.sha.clone(),
            )
        {
            let config = ctx.config(installation, &e.repository).await?;
            let config = &config.effective.config;
            let following: Vec<&EnvironmentKeys> = config
                .environments()
                .iter()
                .filter(|env| {
                    env.after
                        .as_deref()
                        .is_some_and(|after| after.eq_ignore_ascii_case(&row.environment))
                })
                .collect();
            if !following.is_empty() {
                // Exactly what succeeded here: its tag and its commit.
                let release = Release {
                    train_id: Some(train_id),
                    version: row.version.clone().unwrap_or_else(|| row.ref_name.clone()),
                    tag: row.ref_name.clone(),
                    sha,
                };
                let standing = standing_of(&ctx.db, &release).await?;
                let by = e
                    .reported_by
                    .as_ref()
                    .map_or("someone", |a| a.login.as_str());
                let occasion = Occasion {
                    key: format!("{train_id}:{}:{}", release.tag, row.environment),
                    why: format!("after {}'s success reported by {by}", row.environment),
                    surface: "github",
                };
                let decisions = decide_automatic(
                    &ctx.db,
                    now,
                    config,
                    &e.repository,
                    &release,
                    standing,
                    &following,
                )
                .await?;
                return Ok(Some((installation, occasion, decisions)));
            }
        }
        Ok(None)
    }
}

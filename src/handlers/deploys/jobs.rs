//! Deployments on GitHub: creating the ones trainyard requested (exactly once, found again
//! by the request id in their payload), and telling a production release's pull requests
//! where it went. What GitHub reports back is in `status.rs`.

use serde::{Deserialize, Serialize};

use crate::domain::deploy::DeploymentState;

use crate::domain::ids::RepoFullName;
use crate::domain::train_event::TrainEvent;
use crate::github::GitHubClient;
use crate::github::deployments::{DeploymentCreated, DeploymentPayload, DeploymentRequest};
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::unit::UnitOfWork;
use crate::jobs::{BackgroundJob, JobError};
use crate::store::audit::Entry;
use crate::store::deployments;
use crate::store::steps::{self, StepState};
use crate::store::trains;

/// Who requests automatic deployments.
pub const AUTOMATIC: &str = "trainyard";

/// Creates a requested deployment on GitHub.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateDeployment {
    /// The repository.
    pub repository: RepoFullName,
    /// Its installation.
    pub installation: u64,
    /// Our deployment id.
    pub deployment_id: i64,
}

impl BackgroundJob for CreateDeployment {
    const KIND: &'static str = "deploy.create";
    const PRIORITY: crate::jobs::Priority = crate::jobs::Priority::Urgent;
    type Context = TrainContext;

    /// Deployments of a repository are created in the order they were asked for.
    fn queue_key(&self) -> String {
        format!("deploy:{}", self.repository)
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let github = ctx.github()?;
        let Some(row) = deployments::get(&ctx.db, self.deployment_id).await? else {
            return Err(JobError::Permanent("the deployment request is gone".into()));
        };
        if row.github_id.is_some() || row.state == DeploymentState::Refused {
            return Ok(());
        }
        let (Some(request_id), Some(sha)) = (row.request_id.clone(), row.sha.clone()) else {
            return Err(JobError::Permanent(
                "not a deployment trainyard asked for".into(),
            ));
        };
        let repo = &self.repository;
        let step = format!("deployment:{request_id}");
        let now = ctx.now();
        let found = match steps::start(&ctx.db, &step, now).await? {
            StepState::Done(id) => id.parse::<i64>().ok(),
            // Asked before, answer lost: GitHub may have it; look before asking again.
            StepState::Uncertain => {
                github
                    .find_deployment(self.installation, repo, &row.environment, &sha, &request_id)
                    .await?
            }
            StepState::New => None,
        };
        if let Some(github_id) = found {
            let entry = requested(&row, github_id);
            steps::finish_audited(&ctx.db, &step, &github_id.to_string(), entry, now).await?;
            deployments::created(&ctx.db, row.id, github_id, now).await?;
            return Ok(());
        }

        let config = ctx.config(self.installation, repo).await?;
        let env = config
            .effective
            .config
            .environment(&row.environment)
            .cloned();
        let pull_requests = match row.train_id {
            Some(train) => trains::passengers(&ctx.db, train)
                .await?
                .iter()
                .map(|p| p.number)
                .collect(),
            None => Vec::new(),
        };
        let (payload, description) = payload(&row, &request_id, &sha, pull_requests);
        // A train's deployment names its tag, which GitHub resolves when it deploys: ask
        // first that the tag still names the commit decided on, so whoever can push tags does
        // not choose what ships. A deployment of someone else's names the commit itself.
        let reference = match row.train_id {
            Some(_) => row.ref_name.clone(),
            None => sha.clone(),
        };
        let moved = tag_moved(github, self.installation, repo, &row, &sha).await?;
        let asked = DeploymentRequest {
            tag: &reference,
            environment: &row.environment,
            production: env.as_ref().is_some_and(|e| e.is_production()),
            transient: env.as_ref().and_then(|e| e.transient).unwrap_or(false),
            required_contexts: env.as_ref().and_then(|e| e.required_contexts.as_deref()),
            description,
            payload,
        };
        let answer = match moved {
            Some(refusal) => Err(refusal),
            None => Ok(github
                .create_deployment(self.installation, repo, &asked)
                .await?),
        };
        let refusal = match answer {
            Err(refusal) => refusal,
            Ok(answer) => match answer {
                DeploymentCreated::Created(github_id) => {
                    let entry = requested(&row, github_id);
                    steps::finish_audited(&ctx.db, &step, &github_id.to_string(), entry, ctx.now())
                        .await?;
                    deployments::created(&ctx.db, row.id, github_id, ctx.now()).await?;
                    tracing::info!(%repo, environment = %row.environment, github_id, "deployment created");
                    return Ok(());
                }
                // GitHub merged into the ref instead of deploying; asked again, it deploys.
                DeploymentCreated::MergedInstead(message) => {
                    return Err(JobError::Transient(format!(
                        "GitHub merged instead of deploying: {message}"
                    )));
                }
                DeploymentCreated::Conflict(message) => format!("GitHub refused (409): {message}"),
                DeploymentCreated::Invalid(message) => format!("GitHub refused (422): {message}"),
            },
        };
        steps::finish(&ctx.db, &step, "refused", ctx.now()).await?;
        refuse(&ctx, repo, &row, refusal, asked.production).await
    }
}

/// Records GitHub's (or the tag's) refusal of a requested deployment and tells the train's
/// thread.
async fn refuse(
    ctx: &TrainContext,
    repo: &RepoFullName,
    row: &deployments::DeploymentRow,
    refusal: String,
    production: bool,
) -> Result<(), JobError> {
    let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, ctx.now()).await?;
    let at = unit.now();
    deployments::refused_on(unit.conn(), row.id, &refusal, at).await?;
    let event = TrainEvent::Deployment {
        deployment: row.id,
        production,
        environment: row.environment.clone(),
        reference: row.ref_name.clone(),
        state: "refused".into(),
        by: row.requested_by.clone(),
        detail: Some(refusal),
        url: None,
        rollback: row.rollback != 0,
    };
    unit.announce_for(repo, "", row.train_id, &event).await?;
    unit.commit().await
}

/// The payload a deployment carries (what was decided, for whoever deploys) and its
/// description.
fn payload(
    row: &deployments::DeploymentRow,
    request_id: &str,
    sha: &str,
    pull_requests: Vec<i64>,
) -> (DeploymentPayload, String) {
    let rollback = row.rollback != 0;
    let payload = DeploymentPayload {
        request_id: request_id.to_owned(),
        train_id: row.train_id,
        version: row.version.clone(),
        tag: row.ref_name.clone(),
        sha: sha.to_owned(),
        pull_requests,
        requested_by: row.requested_by.clone(),
        rollback,
        forced_reason: row.forced_reason.clone(),
    };
    let description = format!(
        "{} {} by {} via trainyard",
        if rollback { "Rollback to" } else { "Deploy" },
        row.ref_name,
        row.requested_by
    );
    (payload, description)
}

/// Why a train's deployment may not go ahead: its tag no longer names the commit decided on
/// (or is gone). Someone else's deployment names its commit, so it cannot move.
async fn tag_moved(
    github: &GitHubClient,
    installation: u64,
    repo: &RepoFullName,
    row: &deployments::DeploymentRow,
    sha: &str,
) -> Result<Option<String>, JobError> {
    if row.train_id.is_none() {
        return Ok(None);
    }
    let at = github
        .ref_commit(installation, repo, &format!("tags/{}", row.ref_name))
        .await?;
    Ok(match at {
        Some(at) if at == sha => None,
        Some(at) => Some(format!(
            "{} now names {}, not the released commit {}; not deployed",
            row.ref_name,
            short(&at),
            short(sha)
        )),
        None => Some(format!(
            "the tag {} does not exist; not deployed",
            row.ref_name
        )),
    })
}

/// Writes "Deployed to production in v1.4.0" on each of a train's pull requests, once each.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommentDeployed {
    /// The repository.
    pub repository: RepoFullName,
    /// Its installation.
    pub installation: u64,
    /// The train.
    pub train_id: i64,
    /// The production environment.
    pub environment: String,
    /// The tag deployed.
    pub tag: String,
}

impl BackgroundJob for CommentDeployed {
    const KIND: &'static str = "deploy.comment";
    const PRIORITY: crate::jobs::Priority = crate::jobs::Priority::Urgent;
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        format!("deploy:{}", self.repository)
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let github = ctx.github()?;
        let text = format!(
            "Deployed to {} in [{}]({}).",
            self.environment,
            self.tag,
            crate::handlers::kit::links::release_page(&ctx.server_url, &self.repository, &self.tag)
        );
        for passenger in trains::passengers(&ctx.db, self.train_id).await? {
            let number = u64::try_from(passenger.number).unwrap_or_default();
            let key = format!(
                "deployed:{}:{}:{}",
                self.train_id,
                number,
                self.environment.to_ascii_lowercase()
            );
            crate::handlers::kit::effects::comment_once(
                &ctx.db,
                github,
                self.installation,
                &self.repository,
                number,
                &key,
                &text,
                ctx.now(),
            )
            .await?;
        }
        Ok(())
    }
}

/// The audit record of a deployment created on GitHub.
pub(super) fn requested(row: &deployments::DeploymentRow, github_id: i64) -> Entry {
    let what = if row.rollback != 0 {
        "rollback to"
    } else {
        "deploy"
    };
    let entry = Entry::effect(
        &row.repository,
        "github.deployment",
        format!(
            "{what} {} to {} (deployment {github_id}), asked by {}",
            row.ref_name, row.environment, row.requested_by
        ),
    );
    match row.train_id {
        Some(train) => Entry {
            train_id: Some(train),
            ..entry
        },
        None => entry,
    }
}

/// A commit's short form.
pub(super) fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// URLs shown as links: http(s), nothing that could break out of a chat link's markup.
pub(super) fn is_plain_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 500
        && !url.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '|' | '(' | ')')
        })
}

/// The repository's configuration as stored (the last good one), without asking GitHub.
pub(super) async fn stored_config(
    db: &crate::store::Db,
    repo: &RepoFullName,
) -> Result<Option<crate::domain::repo_config::RepoConfig>, crate::store::StoreError> {
    Ok(match crate::store::repo_configs::get(db, repo).await? {
        Some(crate::store::repo_configs::RepoConfigRow {
            source_path: Some(path),
            config_text: Some(text),
            ..
        }) => crate::domain::repo_config::RepoConfig::from_file(&path, &text).ok(),
        _ => None,
    })
}

/// An environment's configuration as stored.
pub(super) async fn stored_environment(
    db: &crate::store::Db,
    repo: &RepoFullName,
    name: &str,
) -> Result<Option<crate::domain::repo_config::EnvironmentKeys>, crate::store::StoreError> {
    Ok(stored_config(db, repo)
        .await?
        .and_then(|config| config.environment(name).cloned()))
}

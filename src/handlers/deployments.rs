//! Deployments on GitHub: creating the ones trainyard requested (exactly once, found again
//! by the request id in their payload), recording the ones GitHub reports (trainyard's and
//! CI's), relaying their statuses to the repository's channels, and requesting the next
//! environment when one that others follow succeeds.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::event::{DeploymentEvent, DeploymentStatusEvent};
use crate::domain::ids::RepoFullName;
use crate::domain::train_event::TrainEvent;
use crate::github::deployments::{DeploymentCreated, DeploymentRequest};
use crate::handlers::repo_config;
use crate::handlers::train_commands::deploy::{DeploymentAsk, request_deployment_for};
use crate::handlers::trains::TrainContext;
use crate::handlers::unit::UnitOfWork;
use crate::jobs::{BackgroundJob, JobError};
use crate::store::audit::Entry;
use crate::store::deployments::{self, SeenDeployment};
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
        if row.github_id.is_some() || row.state == "refused" {
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

        let config = repo_config::current(
            &ctx.db,
            github,
            &ctx.route_check(),
            self.installation,
            repo,
            now,
        )
        .await?;
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
        let rollback = row.rollback != 0;
        let payload = json!({
            "request_id": request_id,
            "train_id": row.train_id,
            "version": row.version,
            "tag": row.ref_name,
            "sha": sha,
            "pull_requests": pull_requests,
            "requested_by": row.requested_by,
            "rollback": rollback,
            "forced_reason": row.forced_reason,
        });
        let description = format!(
            "{} {} by {} via trainyard",
            if rollback { "Rollback to" } else { "Deploy" },
            row.ref_name,
            row.requested_by
        );
        let asked = DeploymentRequest {
            tag: &row.ref_name,
            environment: &row.environment,
            production: env.as_ref().is_some_and(|e| e.is_production()),
            transient: env.as_ref().and_then(|e| e.transient).unwrap_or(false),
            required_contexts: env.as_ref().and_then(|e| e.required_contexts.as_deref()),
            description,
            payload,
        };
        let refusal = match github
            .create_deployment(self.installation, repo, &asked)
            .await?
        {
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
        };
        steps::finish(&ctx.db, &step, "refused", ctx.now()).await?;
        let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, ctx.now()).await?;
        let at = unit.now();
        deployments::refused_on(unit.conn(), row.id, &refusal, at).await?;
        let event = TrainEvent::Deployment {
            deployment: row.id,
            production: asked.production,
            environment: row.environment.clone(),
            reference: row.ref_name.clone(),
            state: "refused".into(),
            by: row.requested_by.clone(),
            detail: Some(refusal),
            url: None,
            rollback,
        };
        unit.announce_for(repo, "", row.train_id, &event).await?;
        unit.commit().await
    }
}

/// A `deployment` webhook: recorded, so deployments made by others (CI) are known too.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeeDeployment {
    /// The event.
    pub event: DeploymentEvent,
}

impl BackgroundJob for SeeDeployment {
    const KIND: &'static str = "deploy.seen";
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
        // Read before the transaction: what follows this environment, for a success.
        let mut followers = Vec::new();
        if e.state == "success"
            && let (Some(train_id), Some(installation), Some(github)) =
                (row.train_id, e.installation_id, ctx.github.as_ref())
            && let Some(train) = trains::get(&ctx.db, train_id).await?
        {
            let config = repo_config::current(
                &ctx.db,
                github,
                &ctx.route_check(),
                installation,
                &e.repository,
                now,
            )
            .await?;
            let environments: Vec<(String, bool)> = config
                .effective
                .config
                .environments()
                .iter()
                .filter(|env| {
                    env.after
                        .as_deref()
                        .is_some_and(|after| after.eq_ignore_ascii_case(&row.environment))
                })
                .map(|env| (env.name.clone(), env.is_production()))
                .collect();
            followers.push((train, installation, environments));
        }
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
        // Environments that follow this one get the same release, once.
        for (train, installation, environments) in followers {
            request_automatic(&mut unit, &train, installation, &environments).await?;
        }
        // A production success is told on the release's pull requests.
        if e.state == "success"
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
            crate::handlers::train_commands::release_page(
                &ctx.server_url,
                &self.repository,
                &self.tag
            )
        );
        for passenger in trains::passengers(&ctx.db, self.train_id).await? {
            let number = u64::try_from(passenger.number).unwrap_or_default();
            let key = format!(
                "deployed:{}:{}:{}",
                self.train_id,
                number,
                self.environment.to_ascii_lowercase()
            );
            crate::handlers::effects::comment_once(
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

/// Requests deployments of a train just released to `environments`, in `unit`.
pub async fn request_automatic(
    unit: &mut UnitOfWork,
    train: &trains::TrainRow,
    installation: u64,
    environments: &[(String, bool)],
) -> Result<(), JobError> {
    let Some(release) = crate::handlers::train_commands::deploy::release_of(train) else {
        return Ok(());
    };
    let repo =
        RepoFullName::parse(&train.repository).map_err(|e| JobError::Permanent(e.to_string()))?;
    let key = train.id.to_string();
    request_automatic_of(unit, &repo, installation, &release, &key, environments).await
}

/// Asks for `release`'s deployments to the `auto` environments, each found again by
/// `auto:{key}:{environment}`.
pub async fn request_automatic_of(
    unit: &mut UnitOfWork,
    repo: &RepoFullName,
    installation: u64,
    release: &crate::domain::deploy::Release,
    key: &str,
    environments: &[(String, bool)],
) -> Result<(), JobError> {
    for (environment, production) in environments {
        let request_id = format!("auto:{key}:{environment}");
        request_deployment_for(
            unit,
            repo,
            installation,
            &DeploymentAsk {
                environment,
                production: *production,
                release,
                request_id: &request_id,
                requested_by: AUTOMATIC,
                rollback: false,
                forced: None,
            },
        )
        .await?;
    }
    Ok(())
}

/// URLs shown as links: http(s), nothing that could break out of a chat link's markup.
/// The audit record of a deployment created on GitHub.
fn requested(row: &deployments::DeploymentRow, github_id: i64) -> Entry {
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

fn is_plain_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 500
        && !url.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '|' | '(' | ')')
        })
}

/// The repository's configuration as stored (the last good one), without asking GitHub.
async fn stored_config(
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
async fn stored_environment(
    db: &crate::store::Db,
    repo: &RepoFullName,
    name: &str,
) -> Result<Option<crate::domain::repo_config::EnvironmentKeys>, crate::store::StoreError> {
    Ok(stored_config(db, repo)
        .await?
        .and_then(|config| config.environment(name).cloned()))
}

/// `/release deploys`: per environment (configured ones first, then any GitHub reported),
/// what runs there, what was asked last, and who holds it.
pub async fn deploys_text(
    db: &crate::store::Db,
    repo: &RepoFullName,
    s: crate::chat::cards::Surface,
) -> Result<String, crate::store::StoreError> {
    let mut environments: Vec<String> = match crate::store::repo_configs::get(db, repo).await? {
        Some(crate::store::repo_configs::RepoConfigRow {
            source_path: Some(path),
            config_text: Some(text),
            ..
        }) => crate::domain::repo_config::RepoConfig::from_file(&path, &text)
            .map(|config| {
                config
                    .environments()
                    .iter()
                    .map(|e| e.name.clone())
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    for seen in deployments::environments(db, repo.as_ref()).await? {
        if !environments.iter().any(|e| e.eq_ignore_ascii_case(&seen)) {
            environments.push(seen);
        }
    }
    if environments.is_empty() {
        return Ok(format!(
            "{}: no deployment environments are configured or known yet",
            s.bold(repo.as_ref())
        ));
    }
    let locks = deployments::locks(db, repo.as_ref()).await?;
    let mut text = format!("{} deployments:", s.bold(repo.as_ref()));
    for environment in &environments {
        let history = deployments::history(db, repo.as_ref(), environment, 50).await?;
        let running = history.iter().find(|d| d.state == "success");
        let latest = history.first();
        let when = |ms: i64| {
            jiff::Timestamp::from_millisecond(ms)
                .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default()
        };
        let mut line = format!("\n• {}: ", s.bold(&s.user(environment)));
        match running {
            Some(d) => line.push_str(&format!(
                "{} ({}) since {}, by {}",
                s.code(&d.ref_name),
                s.code(d.sha.as_deref().map_or("", |sha| &sha[..sha.len().min(7)])),
                when(d.updated_at),
                s.user(&d.requested_by)
            )),
            None => line.push_str("nothing deployed successfully yet"),
        }
        if let Some(d) = latest.filter(|d| Some(*d) != running) {
            line.push_str(&format!(
                "; last asked: {} {}",
                s.code(&d.ref_name),
                s.user(&d.state.replace('_', " "))
            ));
        }
        if let Some(lock) = locks
            .iter()
            .find(|l| l.environment.eq_ignore_ascii_case(environment))
        {
            line.push_str(&format!(
                "; 🔒 locked by {}: {}",
                s.user(&lock.owner),
                s.user(&lock.reason)
            ));
        }
        text.push_str(&line);
    }
    Ok(text)
}

//! Deployments on GitHub: creating the ones trainyard requested (exactly once, found again
//! by the request id in their payload), recording the ones GitHub reports (trainyard's and
//! CI's), relaying their statuses to the repository's channels, and requesting the next
//! environment when one that others follow succeeds.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::deploy::DeploymentState;
use crate::domain::deploy::{self, DeployFacts, Holder, Release};
use crate::domain::event::{DeploymentEvent, DeploymentStatusEvent};
use crate::domain::ids::RepoFullName;
use crate::domain::repo_config::{EnvironmentKeys, RepoConfig};
use crate::domain::train_event::TrainEvent;
use crate::github::deployments::{DeploymentCreated, DeploymentRequest};
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::unit::UnitOfWork;
use crate::handlers::repo_config;
use crate::jobs::{BackgroundJob, JobError};
use crate::store::Db;
use crate::store::audit::{self, Entry};
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

        let config = repo_config::current(
            &ctx.db,
            github,
            &ctx.config_reach(),
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
        // A train's deployment names its tag, which GitHub resolves when it deploys: ask
        // first that the tag still names the commit decided on, so whoever can push tags does
        // not choose what ships. A deployment of someone else's names the commit itself.
        let reference = match row.train_id {
            Some(_) => row.ref_name.clone(),
            None => sha.clone(),
        };
        let moved = match row.train_id {
            Some(_) => match github
                .ref_commit(self.installation, repo, &format!("tags/{}", row.ref_name))
                .await?
            {
                Some(at) if at == sha => None,
                Some(at) => Some(format!(
                    "{} now names {}, not the released commit {}; not deployed",
                    row.ref_name,
                    short(&at),
                    short(&sha)
                )),
                None => Some(format!(
                    "the tag {} does not exist; not deployed",
                    row.ref_name
                )),
            },
            None => None,
        };
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
        // Read before the transaction: what follows this environment, for a success of a
        // release trainyard asked for (a rollback is nobody's cue to move on).
        let mut followers = None;
        if DeploymentState::named(&e.state) == DeploymentState::Success
            && row.rollback == 0
            && let (Some(train_id), Some(installation), Some(github), Some(sha)) = (
                row.train_id,
                e.installation_id,
                ctx.github.as_ref(),
                row.sha.clone(),
            )
        {
            let config = repo_config::current(
                &ctx.db,
                github,
                &ctx.config_reach(),
                installation,
                &e.repository,
                now,
            )
            .await?;
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
                followers = Some((installation, occasion, decisions));
            }
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

/// Where the release an automatic deployment names stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// A train's published final release.
    Released,
    /// A train's published release candidate.
    Candidate,
    /// Neither: a final tag before approval, or a tag trainyard did not make.
    Unreleased,
}

/// Why trainyard deploys by itself, and on whose behalf.
pub(crate) struct Occasion {
    /// Finds each environment's request again: `auto:{key}:{environment}`.
    pub key: String,
    /// What started it, for the audit log ("on publishing", "after staging's success …").
    pub why: String,
    /// Where it came from (`trainyard` for its own steps, `github` for a webhook).
    pub surface: &'static str,
}

/// An automatic deployment, decided before its transaction.
pub(crate) struct AutomaticDecision {
    environment: String,
    production: bool,
    release: Release,
    /// `Err`: held, with the reason and the command that starts it.
    outcome: Result<(), String>,
}

/// Decides `release`'s deployments to `environments` as [`deploy::decide_automatic`] does:
/// locks, freeze windows, `requires`, and no candidate or unreleased version where final
/// releases go. Reads the store only; nothing is written.
pub(crate) async fn decide_automatic(
    db: &Db,
    now: i64,
    config: &RepoConfig,
    repo: &RepoFullName,
    release: &Release,
    standing: Standing,
    environments: &[&EnvironmentKeys],
) -> Result<Vec<AutomaticDecision>, JobError> {
    let configured: Vec<&str> = config
        .environments()
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    let local = config
        .deploy_time_zone()
        .to_datetime(jiff::Timestamp::from_millisecond(now).unwrap_or_default());
    let mut decisions = Vec::with_capacity(environments.len());
    for env in environments {
        let lock = deployments::lock_of(db, repo.as_ref(), &env.name)
            .await?
            .map(|lock| Holder {
                owner: lock.owner,
                reason: lock.reason,
            });
        let required_deployed = match &env.requires {
            Some(required) => {
                Some(deployments::succeeded_with(db, repo.as_ref(), required, &release.sha).await?)
            }
            None => None,
        };
        let facts = DeployFacts {
            environment: Some(env),
            configured: configured.clone(),
            permission: env.deploy_permission(),
            actor: AUTOMATIC,
            lock,
            release: Some(release.clone()),
            required_deployed,
            frozen: env
                .freeze
                .as_ref()
                .and_then(|windows| crate::domain::freeze::frozen(windows, local))
                .map(str::to_owned),
            candidate: standing == Standing::Candidate,
            unreleased: standing == Standing::Unreleased,
        };
        decisions.push(AutomaticDecision {
            environment: env.name.clone(),
            production: env.is_production(),
            release: release.clone(),
            outcome: deploy::decide_automatic(&facts).map(|_| ()),
        });
    }
    Ok(decisions)
}

/// Writes decided automatic deployments in `unit`: each request with its job, or the reason
/// it is held told in the train's thread; each audited once under its request id, so a
/// redelivered status or a retried step repeats nothing.
pub(crate) async fn apply_automatic(
    unit: &mut UnitOfWork,
    repo: &RepoFullName,
    installation: u64,
    occasion: &Occasion,
    decisions: Vec<AutomaticDecision>,
) -> Result<(), JobError> {
    for decision in decisions {
        let request_id = format!("auto:{}:{}", occasion.key, decision.environment);
        let release = &decision.release;
        let entry = Entry {
            repository: repo.to_string(),
            train_id: release.train_id,
            actor_login: AUTOMATIC.into(),
            surface: occasion.surface.into(),
            action: "deploy.automatic".into(),
            outcome: if decision.outcome.is_ok() {
                "accepted"
            } else {
                "refused"
            }
            .into(),
            detail: match &decision.outcome {
                Ok(()) => format!(
                    "{} ({}) to {} {}",
                    release.tag, release.sha, decision.environment, occasion.why
                ),
                Err(reason) => format!(
                    "{} ({}) to {} {}: {reason}",
                    release.tag, release.sha, decision.environment, occasion.why
                ),
            },
            key: Some(request_id.clone()),
            ..Entry::default()
        };
        let at = unit.now();
        let first_time = audit::record(unit.conn(), &entry, at).await?;
        match decision.outcome {
            Ok(()) => {
                request_deployment_for(
                    unit,
                    repo,
                    installation,
                    &DeploymentAsk {
                        environment: &decision.environment,
                        production: decision.production,
                        release,
                        request_id: &request_id,
                        requested_by: AUTOMATIC,
                        rollback: false,
                        forced: None,
                    },
                )
                .await?;
            }
            Err(reason) if first_time => {
                let event = TrainEvent::DeploymentHeld {
                    environment: decision.environment.clone(),
                    reference: release.tag.clone(),
                    reason,
                };
                unit.announce_for(repo, "", release.train_id, &event)
                    .await?;
            }
            Err(_) => {}
        }
    }
    Ok(())
}

/// Where `release` stands: the final release of its train, one of its published candidates,
/// or neither (the tag and commit must both match what trainyard published).
async fn standing_of(db: &Db, release: &Release) -> Result<Standing, JobError> {
    let Some(train) = (match release.train_id {
        Some(id) => trains::get(db, id).await?,
        None => None,
    }) else {
        return Ok(Standing::Unreleased);
    };
    let same_release = train.tag_name.as_deref() == Some(release.tag.as_str())
        && train.target_sha.as_deref() == Some(release.sha.as_str());
    if same_release && train.state == crate::domain::train::TrainState::Released.as_str() {
        return Ok(Standing::Released);
    }
    let candidate =
        crate::store::candidates::published_named(db, &train.repository, &release.tag).await?;
    Ok(match candidate {
        Some(c) if c.train_id == train.id && c.target_sha == release.sha => Standing::Candidate,
        _ => Standing::Unreleased,
    })
}

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

/// A commit's short form.
fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// URLs shown as links: http(s), nothing that could break out of a chat link's markup.
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
        let running = history.iter().find(|d| d.state == DeploymentState::Success);
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
                s.user(&d.state.as_str().replace('_', " "))
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

/// A deployment to ask for.
pub(crate) struct DeploymentAsk<'a> {
    pub environment: &'a str,
    pub production: bool,
    pub release: &'a Release,
    pub request_id: &'a str,
    pub requested_by: &'a str,
    pub rollback: bool,
    /// Why a freeze window was overridden.
    pub forced: Option<&'a str>,
}

/// Records a deployment request and its job in `unit`, and announces it; nothing when a
/// request with this id exists already. Commands and automatic deployments both come here.
pub(crate) async fn request_deployment_for(
    unit: &mut UnitOfWork,
    repository: &crate::domain::ids::RepoFullName,
    installation: u64,
    ask: &DeploymentAsk<'_>,
) -> Result<(), JobError> {
    let now = unit.now();
    let new = crate::store::deployments::NewDeployment {
        repository: repository.as_ref(),
        environment: ask.environment,
        request_id: ask.request_id,
        train_id: ask.release.train_id,
        version: &ask.release.version,
        tag: &ask.release.tag,
        sha: &ask.release.sha,
        requested_by: ask.requested_by,
        rollback: ask.rollback,
        forced_reason: ask.forced,
    };
    let Some(deployment_id) = deployments::request(unit.conn(), &new, now).await? else {
        return Ok(());
    };
    unit.enqueue(&CreateDeployment {
        repository: repository.clone(),
        installation,
        deployment_id,
    })
    .await?;
    let event = TrainEvent::Deployment {
        deployment: deployment_id,
        production: ask.production,
        environment: ask.environment.to_owned(),
        reference: ask.release.tag.clone(),
        state: "requested".into(),
        by: ask.requested_by.to_owned(),
        detail: ask
            .forced
            .map(|reason| format!("forced through a freeze window: {reason}")),
        url: None,
        rollback: ask.rollback,
    };
    unit.announce_for(repository, "", ask.release.train_id, &event)
        .await
}

/// A released train as a deployment names it.
pub(crate) fn release_of(train: &trains::TrainRow) -> Option<Release> {
    Some(Release {
        train_id: Some(train.id),
        version: train.version.clone()?,
        tag: train.tag_name.clone()?,
        sha: train.target_sha.clone()?,
    })
}

//! Deployments trainyard starts by itself (`auto:` and `after:`), decided as a command
//! would be, with the configuration's authority.

use crate::domain::deploy::{self, DeployFacts, Release};
use crate::domain::ids::RepoFullName;
use crate::domain::repo_config::{EnvironmentKeys, RepoConfig};
use crate::domain::train_event::TrainEvent;
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::unit::UnitOfWork;
use crate::jobs::JobError;
use crate::store::Db;
use crate::store::audit::{self, Entry};
use crate::store::trains;

use super::facts::environment_now;
use super::jobs::AUTOMATIC;
use super::requests::{DeploymentAsk, request_deployment_for};

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
/// releases go. `verified` names an environment whose bake of the release passed in the
/// transaction these decisions are written in (not yet in the store). Reads the store only;
/// nothing is written.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn decide_automatic(
    db: &Db,
    now: i64,
    config: &RepoConfig,
    repo: &RepoFullName,
    release: &Release,
    standing: Standing,
    environments: &[&EnvironmentKeys],
    verified: Option<&str>,
) -> Result<Vec<AutomaticDecision>, JobError> {
    let configured: Vec<&str> = config
        .environments()
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    let mut decisions = Vec::with_capacity(environments.len());
    for env in environments {
        let state =
            environment_now(db, repo.as_ref(), config, env, Some(&release.sha), now).await?;
        let facts = DeployFacts {
            environment: Some(env),
            configured: configured.clone(),
            permission: env.deploy_permission(),
            actor: AUTOMATIC,
            lock: state.lock,
            release: Some(release.clone()),
            required_deployed: match (&env.requires, verified) {
                (Some(required), Some(v)) if required.eq_ignore_ascii_case(v) => Some(true),
                _ => state.required_deployed,
            },
            frozen: state.frozen,
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

/// Environments to deploy next, decided: `(installation, why, decisions)`.
pub(crate) type Followers = (u64, Occasion, Vec<AutomaticDecision>);

/// The environments configured to follow `environment` (`after:`), decided for `release`
/// (`verified`: `environment`'s bake of it passes in the transaction they are written in);
/// `None` when none follows it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn decide_followers(
    ctx: &TrainContext,
    config: &crate::domain::repo_config::RepoConfig,
    repo: &crate::domain::ids::RepoFullName,
    installation: u64,
    environment: &str,
    release: &Release,
    why: String,
    verified: Option<&str>,
    now: i64,
) -> Result<Option<Followers>, JobError> {
    let following: Vec<&EnvironmentKeys> = config
        .environments()
        .iter()
        .filter(|env| {
            env.after
                .as_deref()
                .is_some_and(|after| after.eq_ignore_ascii_case(environment))
        })
        .collect();
    if following.is_empty() {
        return Ok(None);
    }
    let standing = standing_of(&ctx.db, release).await?;
    let occasion = Occasion {
        key: format!(
            "{}:{}:{environment}",
            release.train_id.unwrap_or_default(),
            release.tag
        ),
        why,
        surface: "github",
    };
    let decisions = decide_automatic(
        &ctx.db, now, config, repo, release, standing, &following, verified,
    )
    .await?;
    Ok(Some((installation, occasion, decisions)))
}

/// Where `release` stands: the final release of its train, one of its published candidates,
/// or neither (the tag and commit must both match what trainyard published).
pub(super) async fn standing_of(db: &Db, release: &Release) -> Result<Standing, JobError> {
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

//! Deployment commands (`deploy`, `rollback`, `lock`, `unlock`) on the command path: gather
//! the facts, let [`crate::domain::deploy::decide`] decide, and write the decision — the
//! deployment requested with its job, or the lock — in the command's one transaction. The
//! deployment itself is created on GitHub by [`CreateDeployment`].

use crate::domain::deploy::DeploymentState;
use crate::domain::deploy::{self, DeployCommand, DeployDecision, DeployFacts, Release};
use crate::domain::permission::Permission;
use crate::domain::repo_config::{EnvironmentKeys, RepoConfig};
use crate::domain::train::TrainState;
use crate::domain::train_event::TrainEvent;
use crate::github::GitHubClient;
use crate::handlers::deploys::facts::environment_now;
use crate::handlers::deploys::{DeploymentAsk, release_of, request_deployment_for};
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::unit::UnitOfWork;
use crate::jobs::JobError;
use crate::store::candidates;
use crate::store::deployments;
use crate::store::trains;

use crate::handlers::kit::command::{CommandReply, Decided, RunTrainCommand, refused};

/// Decides a deployment command and prepares its writes.
pub(crate) async fn decide_and_prepare(
    ctx: &TrainContext,
    github: &GitHubClient,
    request: &RunTrainCommand,
    command: &DeployCommand,
    config: &RepoConfig,
) -> Result<Decided, JobError> {
    let environment = config.environment(command.environment());
    let permission = if request.by_schedule {
        Permission::Admin
    } else {
        github
            .collaborator_permission(request.installation, &request.repository, &request.actor)
            .await?
    };
    // Nothing more is looked up for someone who may not deploy there.
    let allowed = environment.is_some_and(|env| permission >= env.deploy_permission());
    let mut facts = DeployFacts {
        environment,
        configured: config
            .environments()
            .iter()
            .map(|e| e.name.as_str())
            .collect(),
        permission,
        actor: &request.actor,
        lock: None,
        release: None,
        required_deployed: None,
        frozen: None,
        candidate: false,
        unreleased: false,
    };
    if let (true, Some(env)) = (allowed, environment) {
        environment_facts(ctx, request, command, config, env, &mut facts).await?;
    }
    let decision = match deploy::decide(command, &facts) {
        Ok(decision) => decision,
        Err(refusal) => return refused(refusal),
    };
    let Some(env) = environment else {
        return refused("no such environment");
    };
    if decision == DeployDecision::SkipBake {
        // The bake ends, and what follows starts, in the bake's own transaction.
        return skip_bake(ctx, request, command, config, &env.name).await;
    }
    let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, ctx.now()).await?;
    let reply = match decision {
        DeployDecision::Request {
            release,
            rollback,
            forced,
        } => {
            request_deployment(
                &mut unit,
                request,
                &DeploymentAsk {
                    environment: &env.name,
                    production: env.is_production(),
                    release: &release,
                    request_id: &request.command_id,
                    requested_by: &request.actor,
                    rollback,
                    forced: forced.as_deref(),
                },
            )
            .await?;
            format!(
                "{} {} to {}; GitHub's answer follows in the channel",
                if rollback {
                    "rolling back"
                } else {
                    "deploying"
                },
                release.tag,
                env.name
            )
        }
        DeployDecision::SkipBake => return refused("not a deployment"),
        DeployDecision::Lock | DeployDecision::Unlock => {
            match lock_or_unlock(&mut unit, request, command, &env.name).await? {
                Ok(reply) => reply,
                Err(refusal) => return refused(refusal),
            }
        }
    };
    Ok((CommandReply::Done(reply), Some(unit)))
}

/// An admin's skip of `environment`'s bake: done, or why not (nothing is baking).
async fn skip_bake(
    ctx: &TrainContext,
    request: &RunTrainCommand,
    command: &DeployCommand,
    config: &RepoConfig,
    environment: &str,
) -> Result<Decided, JobError> {
    let DeployCommand::SkipBake { reason, .. } = command else {
        return refused("not a skip");
    };
    let skipped = super::verify::skip(
        ctx,
        config,
        &request.repository,
        environment,
        &request.actor,
        reason,
    )
    .await?;
    match skipped {
        Ok(bake) => Ok((
            CommandReply::Done(format!(
                "{environment}'s bake of {} skipped: what follows {environment} goes now",
                bake.tag
            )),
            None,
        )),
        Err(why) => refused(why),
    }
}

/// Locks or unlocks `environment` in `unit` and tells the channels; or why not (someone
/// else locked it meanwhile, or it is not locked).
async fn lock_or_unlock(
    unit: &mut UnitOfWork,
    request: &RunTrainCommand,
    command: &DeployCommand,
    environment: &str,
) -> Result<Result<String, String>, JobError> {
    let repo = request.repository.as_ref();
    let reason = match command {
        DeployCommand::Lock { reason, .. } => {
            let lock = deployments::Lock {
                environment: environment.to_owned(),
                owner: request.actor.clone(),
                reason: reason.clone(),
                locked_at: unit.now(),
            };
            if !deployments::lock(unit.conn(), repo, &lock).await? {
                return Ok(Err(format!("{environment} was locked meanwhile")));
            }
            Some(reason.clone())
        }
        _ => {
            if !deployments::unlock(unit.conn(), repo, environment).await? {
                return Ok(Err(format!("{environment} is not locked")));
            }
            None
        }
    };
    let locked = reason.is_some();
    let event = TrainEvent::EnvironmentLock {
        environment: environment.to_owned(),
        by: request.actor.clone(),
        reason,
    };
    unit.announce_for(&request.repository, "", None, &event)
        .await?;
    Ok(Ok(if locked {
        format!(
            "{environment} is locked: only you deploy there until `/release unlock {environment}`"
        )
    } else {
        format!("{environment} is unlocked")
    }))
}

/// What the decision needs to know of an environment the actor may deploy to: its lock, the
/// release named (or rolled back to), a freeze in force, and whether what it requires ran.
async fn environment_facts<'c>(
    ctx: &TrainContext,
    request: &RunTrainCommand,
    command: &DeployCommand,
    config: &RepoConfig,
    env: &EnvironmentKeys,
    facts: &mut DeployFacts<'c>,
) -> Result<(), JobError> {
    let repo = request.repository.as_ref();
    facts.release = match command {
        DeployCommand::Deploy { version, .. } => {
            match released(ctx, request, version.as_deref()).await? {
                Some(release) => Some(release),
                // A train's published release candidate, by its tag or version.
                None => match version.as_deref() {
                    Some(name) => {
                        let found = candidate(ctx, repo, name).await?;
                        facts.candidate = found.is_some();
                        found
                    }
                    None => None,
                },
            }
        }
        DeployCommand::Rollback { .. } => previous_release(ctx, repo, &env.name).await?,
        _ => None,
    };
    let sha = facts.release.as_ref().map(|r| r.sha.as_str());
    let now = environment_now(&ctx.db, repo, config, env, sha, ctx.now()).await?;
    facts.lock = now.lock;
    facts.frozen = now.frozen;
    facts.required_deployed = now.required_deployed;
    Ok(())
}

/// Records the deployment request and its job in `unit`, and announces it; nothing when a
/// request with this id exists already.
pub(crate) async fn request_deployment(
    unit: &mut UnitOfWork,
    request: &RunTrainCommand,
    ask: &DeploymentAsk<'_>,
) -> Result<(), JobError> {
    request_deployment_for(unit, &request.repository, request.installation, ask).await
}

/// The released train with `version` (or tag), or the latest release.
async fn released(
    ctx: &TrainContext,
    request: &RunTrainCommand,
    version: Option<&str>,
) -> Result<Option<Release>, JobError> {
    let released = trains::in_states(&ctx.db, &request.repository, &[TrainState::Released]).await?;
    let wanted = |train: &&trains::TrainRow| match version {
        None => true,
        Some(v) => {
            let bare = v.trim_start_matches(['v', 'V']);
            train.version.as_deref() == Some(bare) || train.tag_name.as_deref() == Some(v)
        }
    };
    let train = released
        .iter()
        .filter(wanted)
        .max_by_key(|t| (t.published_at.unwrap_or_default(), t.id));
    Ok(train.and_then(release_of))
}

/// A published release candidate named `name` (its tag or version), as a deployment names it.
async fn candidate(
    ctx: &TrainContext,
    repo: &str,
    name: &str,
) -> Result<Option<Release>, JobError> {
    let mut found = candidates::published_named(&ctx.db, repo, name).await?;
    if found.is_none()
        && let Some(bare) = name.strip_prefix(['v', 'V'])
    {
        found = candidates::published_named(&ctx.db, repo, bare).await?;
    }
    Ok(found.map(|c| Release {
        train_id: Some(c.train_id),
        version: c.version,
        tag: c.tag_name,
        sha: c.target_sha,
    }))
}

/// What `environment` ran successfully before its current successful deployment.
async fn previous_release(
    ctx: &TrainContext,
    repo: &str,
    environment: &str,
) -> Result<Option<Release>, JobError> {
    let history = deployments::history(&ctx.db, repo, environment, 200).await?;
    let mut successes = history
        .iter()
        .filter(|d| d.state == DeploymentState::Success);
    let Some(current) = successes.next() else {
        return Ok(None);
    };
    let previous = successes.find(|d| d.sha.is_some() && d.sha != current.sha);
    Ok(previous.map(|d| Release {
        train_id: d.train_id,
        version: d.version.clone().unwrap_or_else(|| d.ref_name.clone()),
        tag: d.ref_name.clone(),
        sha: d.sha.clone().unwrap_or_default(),
    }))
}

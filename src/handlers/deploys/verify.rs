//! Verification after a deployment: a success of a release in an environment with `verify`
//! starts a bake instead of the environments that follow; [`CheckBake`] reads the checks at
//! each round; a clean bake lets what follows go (and opens the release gate), a breach rolls
//! the environment back to its last verified release at once, holds what follows and counts
//! as a change failure, and the rollback's success is the restore. The bake row is the truth:
//! a restart resumes it, each round and each ending is a conditional update, so two replicas
//! make one round and one rollback.

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::chat::cards::Surface;
use crate::domain::deploy::{self, DeployCommand, DeployDecision, DeployFacts, Release};
use crate::domain::ids::RepoFullName;
use crate::domain::repo_config::RepoConfig;
use crate::domain::train_event::TrainEvent;
use crate::domain::verify::{self, Outcome, Plan, Step};
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::unit::UnitOfWork;
use crate::jobs::{BackgroundJob, JobError, Queue};
use crate::store::audit::{self, Entry};
use crate::store::bakes::{self, BakeRow, Ending, NewBake};
use crate::store::{Db, deployments};

use super::automatic::{apply_automatic, decide_followers};
use super::facts::environment_now;
use super::jobs::AUTOMATIC;
use super::requests::{DeploymentAsk, request_deployment_for};

/// A bake still unread this long after its end (its checks unreadable, its repository
/// gone) ends as expired: what follows stays held, and its rounds stop.
pub const EXPIRES_AFTER_END: SignedDuration = SignedDuration::from_hours(24);

/// How often the server looks for bakes whose next round is due.
pub const BAKE_SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// A bake to start, decided before the transaction.
pub(super) struct BakeStart {
    pub installation: u64,
    /// Our deployments row that succeeded.
    pub deployment_id: i64,
    pub environment: String,
    pub release: Release,
    pub plan: Plan,
}

/// Starts the bake in `unit` and says so in the train's thread; nothing when this deployment
/// has one (a redelivered success).
pub(super) async fn start_bake(
    unit: &mut UnitOfWork,
    repo: &RepoFullName,
    start: &BakeStart,
) -> Result<(), JobError> {
    let now = unit.now();
    let bake_ms = millis(start.plan.bake);
    let every_ms = millis(start.plan.every);
    let release = &start.release;
    let new = NewBake {
        repository: repo.as_ref(),
        installation_id: i64::try_from(start.installation)
            .map_err(|_| JobError::Permanent("installation id out of range".into()))?,
        environment: &start.environment,
        deployment_id: start.deployment_id,
        train_id: release.train_id,
        version: &release.version,
        tag: &release.tag,
        sha: &release.sha,
        ends_at: now.saturating_add(bake_ms),
        every_ms,
        first_check_at: now.saturating_add(every_ms.min(bake_ms)),
    };
    if bakes::start(unit.conn(), &new, now).await?.is_none() {
        return Ok(());
    }
    let mut checks = Vec::new();
    if let Some(p) = &start.plan.prometheus {
        checks.push(format!("`{}` ≤ {}", p.query, p.max));
    }
    if let Some(h) = &start.plan.http {
        checks.push(format!("GET {} → {}", h.url, h.expected()));
    }
    let detail = format!(
        "{} before what follows goes, checked every {}{}",
        human(bake_ms),
        human(every_ms),
        if checks.is_empty() {
            String::new()
        } else {
            format!(": {}", checks.join(", "))
        }
    );
    let event = TrainEvent::Verification {
        environment: start.environment.clone(),
        reference: release.tag.clone(),
        state: "baking".into(),
        detail,
    };
    unit.announce_for(repo, "", release.train_id, &event).await
}

/// One round of a bake's checks, when it is due.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckBake {
    /// The repository.
    pub repository: RepoFullName,
    /// The bake's row.
    pub bake_id: i64,
}

impl BackgroundJob for CheckBake {
    const KIND: &'static str = "deploy.verify";
    const PRIORITY: crate::jobs::Priority = crate::jobs::Priority::Urgent;
    type Context = TrainContext;

    /// Beside the repository's deployment statuses, not behind them: a round waits on
    /// Prometheus and the health URL for up to seconds.
    fn queue_key(&self) -> String {
        format!("verify:{}", self.repository)
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("bake:{}", self.bake_id))
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let span = tracing::info_span!("bake", bake = self.bake_id, repo = %self.repository);
        async move {
            match bakes::get(&ctx.db, self.bake_id).await? {
                Some(bake) if bake.baking() && bake.next_check_at <= ctx.now() => {
                    round(&ctx, &self.repository, &bake).await
                }
                _ => Ok(()),
            }
        }
        .instrument(span)
        .await
    }
}

/// Enqueues a round for every bake due by `now` (the server calls it every
/// [`BAKE_SWEEP_INTERVAL`]; the jobs' dedupe keys make replicas doing the same add nothing).
/// Returns how many bakes were due.
pub async fn enqueue_due_bakes(db: &Db, queue: &Queue, now: i64) -> Result<usize, JobError> {
    let due = bakes::due(db, now, 500).await?;
    for (bake_id, repository) in &due {
        let Ok(repository) = RepoFullName::parse(repository) else {
            continue;
        };
        queue
            .enqueue_now(&CheckBake {
                repository,
                bake_id: *bake_id,
            })
            .await?;
    }
    Ok(due.len())
}

/// Reads the checks and moves the bake on: the next round, verified, or breached.
async fn round(ctx: &TrainContext, repo: &RepoFullName, bake: &BakeRow) -> Result<(), JobError> {
    let now = ctx.now();
    if now > bake.ends_at.saturating_add(millis(EXPIRES_AFTER_END)) {
        return expire(ctx, repo, bake).await;
    }
    let installation = installation_of(bake)?;
    let config = ctx.config(installation, repo).await?;
    let config = &config.effective.config;
    // The checks as configured now: a `verify` removed meanwhile leaves the bake a wait.
    let plan = config
        .environment(&bake.environment)
        .and_then(|env| env.verify.as_ref())
        .and_then(|keys| keys.plan().ok());
    let (outcomes, value) = read_checks(ctx, plan.as_ref()).await;
    let reading = if outcomes.is_empty() {
        "no checks configured: the bake is a wait".to_owned()
    } else {
        outcomes
            .iter()
            .map(Outcome::text)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let every = SignedDuration::from_millis(bake.every_ms);
    let measured = bakes::Reading {
        round: bake.rounds + 1,
        at: now,
        value,
        healthy: i64::from(outcomes.iter().all(|o| matches!(o, Outcome::Healthy(_)))),
    };
    let read = if outcomes.iter().any(|o| matches!(o, Outcome::Breach(_))) {
        "breach"
    } else if outcomes.iter().any(|o| matches!(o, Outcome::Unknown(_))) {
        "unknown"
    } else {
        "healthy"
    };
    match verify::step(&outcomes, now, bake.ends_at, every) {
        Step::Wait { next } => {
            let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, now).await?;
            if bakes::claim_round(unit.conn(), bake.id, bake.next_check_at, next, &reading).await? {
                bakes::record_reading(unit.conn(), bake.id, &measured).await?;
                unit.commit().await?;
                crate::metrics::metrics().bake_round(read);
            }
            Ok(())
        }
        Step::Verified => {
            let ending = Ending {
                state: "verified",
                reason: None,
                reading: Some(&reading),
                by: AUTOMATIC,
                rollback_request: None,
            };
            pass(
                ctx,
                config,
                repo,
                bake,
                Some((bake.next_check_at, &measured)),
                &ending,
            )
            .await
        }
        Step::Breach(reason) => {
            crate::metrics::metrics().bake_round(read);
            breach(ctx, config, repo, bake, &reason, &reading, &measured).await
        }
    }
}

/// Ends a bake nothing could verify for a day after its end: told, audited, what follows
/// held (an admin may still deploy it by hand).
async fn expire(ctx: &TrainContext, repo: &RepoFullName, bake: &BakeRow) -> Result<(), JobError> {
    let now = ctx.now();
    let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, now).await?;
    let ending = Ending {
        state: "expired",
        reason: Some("no reading passed within a day of the bake's end"),
        reading: None,
        by: AUTOMATIC,
        rollback_request: None,
    };
    if !bakes::finish(unit.conn(), bake.id, Some(bake.next_check_at), &ending, now).await? {
        return Ok(());
    }
    let detail = format!(
        "no reading passed within a day of its end (last: {}); what follows stays held",
        bake.last_reading.as_deref().unwrap_or("none")
    );
    audit_bake(&mut unit, repo, bake, &ending, &detail).await?;
    let event = TrainEvent::Verification {
        environment: bake.environment.clone(),
        reference: bake.tag.clone(),
        state: "expired".into(),
        detail,
    };
    unit.announce_for(repo, "", bake.train_id, &event).await?;
    unit.commit().await?;
    crate::metrics::metrics().bake_ended("expired");
    Ok(())
}

/// The configured checks' outcomes, read at once, and Prometheus's value (for the chart).
async fn read_checks(ctx: &TrainContext, plan: Option<&Plan>) -> (Vec<Outcome>, Option<f64>) {
    let Some(plan) = plan else {
        return (Vec::new(), None);
    };
    let prometheus = async {
        match &plan.prometheus {
            Some(check) => {
                let read = ctx.probe.prometheus(&check.query).await;
                let value = read.as_ref().ok().copied().flatten();
                Some((verify::judge_prometheus(check, read), value))
            }
            None => None,
        }
    };
    let http = async {
        match &plan.http {
            Some(check) => Some(verify::judge_http(check, ctx.probe.http(&check.url).await)),
            None => None,
        }
    };
    let (prometheus, http) = tokio::join!(prometheus, http);
    let value = prometheus.as_ref().and_then(|(_, v)| *v);
    let outcomes = prometheus.map(|(o, _)| o).into_iter().chain(http).collect();
    (outcomes, value)
}

/// Ends the bake as `ending` says (verified, or skipped by an admin) and lets what follows
/// go, once: `round` is the round that verified it, due at its time (`None` for a skip).
async fn pass(
    ctx: &TrainContext,
    config: &RepoConfig,
    repo: &RepoFullName,
    bake: &BakeRow,
    round: Option<(i64, &bakes::Reading)>,
    ending: &Ending<'_>,
) -> Result<(), JobError> {
    let now = ctx.now();
    let release = release_of(bake);
    let why = format!(
        "after {}'s bake {} it",
        bake.environment,
        if ending.state == "skipped" {
            "was skipped for"
        } else {
            "verified"
        }
    );
    // Read before the transaction: what follows, decided.
    let followers = decide_followers(
        ctx,
        config,
        repo,
        installation_of(bake)?,
        &bake.environment,
        &release,
        why,
        Some(&bake.environment),
        now,
    )
    .await?;
    let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, now).await?;
    if !bakes::finish(unit.conn(), bake.id, round.map(|(due, _)| due), ending, now).await? {
        return Ok(());
    }
    if let Some((_, reading)) = round {
        bakes::record_reading(unit.conn(), bake.id, reading).await?;
    }
    let detail = match ending.state {
        "skipped" => format!(
            "by {}: {}",
            ending.by,
            ending.reason.unwrap_or("no reason given")
        ),
        _ => format!(
            "healthy for {}: {}",
            human(now - bake.started_at),
            ending.reading.unwrap_or("")
        ),
    };
    audit_bake(&mut unit, repo, bake, ending, &detail).await?;
    let event = TrainEvent::Verification {
        environment: bake.environment.clone(),
        reference: bake.tag.clone(),
        state: ending.state.into(),
        detail,
    };
    unit.announce_for(repo, "", bake.train_id, &event).await?;
    if let Some((installation, occasion, decisions)) = followers {
        apply_automatic(&mut unit, repo, installation, &occasion, decisions).await?;
    }
    unit.commit().await?;
    crate::metrics::metrics().bake_ended(if ending.state == "skipped" {
        "skipped"
    } else {
        "verified"
    });
    Ok(())
}

/// A breach: the bake ends, the environment is rolled back to its last verified release as
/// the rules allow (a lock held by someone holds it too; a freeze does not), what follows is
/// held, and the thread is told why, with the readings. Once, however often it is seen.
async fn breach(
    ctx: &TrainContext,
    config: &RepoConfig,
    repo: &RepoFullName,
    bake: &BakeRow,
    reason: &str,
    reading: &str,
    measured: &bakes::Reading,
) -> Result<(), JobError> {
    let now = ctx.now();
    // Read before the transaction: where to go back to, and whether the rules let it.
    let target = rollback_target(&ctx.db, bake).await?;
    let decided = decide_rollback(&ctx.db, config, repo, bake, target, now).await?;
    let held: Vec<&str> = config
        .environments()
        .iter()
        .filter(|env| {
            env.after
                .as_deref()
                .is_some_and(|after| after.eq_ignore_ascii_case(&bake.environment))
        })
        .map(|env| env.name.as_str())
        .collect();
    let request_id = format!("verify:{}:rollback", bake.id);
    let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, now).await?;
    let ending = Ending {
        state: "breached",
        reason: Some(reason),
        reading: Some(reading),
        by: AUTOMATIC,
        rollback_request: decided.as_ref().ok().map(|_| request_id.as_str()),
    };
    if !bakes::finish(unit.conn(), bake.id, Some(bake.next_check_at), &ending, now).await? {
        return Ok(());
    }
    bakes::record_reading(unit.conn(), bake.id, measured).await?;
    let mut detail = format!("{reason}.");
    match &decided {
        Ok((release, production)) => {
            detail.push_str(&format!(" Rolling back to {}.", release.tag));
            request_deployment_for(
                &mut unit,
                repo,
                installation_of(bake)?,
                &DeploymentAsk {
                    environment: &bake.environment,
                    production: *production,
                    release,
                    request_id: &request_id,
                    requested_by: AUTOMATIC,
                    rollback: true,
                    forced: None,
                },
            )
            .await?;
        }
        Err(why) => detail.push_str(&format!(" Not rolled back: {why}.")),
    }
    if !held.is_empty() {
        detail.push_str(&format!(" Holding {}.", held.join(", ")));
    }
    audit_bake(&mut unit, repo, bake, &ending, &detail).await?;
    let event = TrainEvent::Verification {
        environment: bake.environment.clone(),
        reference: bake.tag.clone(),
        state: "breached".into(),
        detail,
    };
    unit.announce_for(repo, "", bake.train_id, &event).await?;
    unit.commit().await?;
    crate::metrics::metrics().bake_ended("breached");
    Ok(())
}

/// The rollback a breach makes, decided as `/release rollback` is (with the configuration's
/// authority): `Ok((release, production))`, or why not.
async fn decide_rollback(
    db: &Db,
    config: &RepoConfig,
    repo: &RepoFullName,
    bake: &BakeRow,
    target: Option<Release>,
    now: i64,
) -> Result<Result<(Release, bool), String>, JobError> {
    let Some(env) = config.environment(&bake.environment) else {
        return Ok(Err(format!("{} is no longer configured", bake.environment)));
    };
    let sha = target.as_ref().map(|r| r.sha.as_str());
    let state = environment_now(db, repo.as_ref(), config, env, sha, now).await?;
    let facts = DeployFacts {
        environment: Some(env),
        configured: config
            .environments()
            .iter()
            .map(|e| e.name.as_str())
            .collect(),
        permission: env.deploy_permission(),
        actor: AUTOMATIC,
        lock: state.lock,
        release: target,
        // A rollback returns to a release this environment ran and verified.
        required_deployed: None,
        frozen: state.frozen,
        candidate: false,
        unreleased: false,
    };
    let command = DeployCommand::Rollback {
        environment: env.name.clone(),
    };
    Ok(match deploy::decide(&command, &facts) {
        Ok(DeployDecision::Request { release, .. }) => Ok((release, env.is_production())),
        Ok(_) => Err("not a deployment".into()),
        Err(why) => Err(why),
    })
}

/// Where a breach rolls back to: the newest release the environment verified, else (a
/// `verify` added since) the newest other release it ran successfully.
async fn rollback_target(db: &Db, bake: &BakeRow) -> Result<Option<Release>, JobError> {
    if let Some(verified) =
        bakes::last_verified(db, &bake.repository, &bake.environment, &bake.sha).await?
    {
        return Ok(Some(release_of(&verified)));
    }
    let history = deployments::history(db, &bake.repository, &bake.environment, 200).await?;
    Ok(history
        .into_iter()
        .filter(|d| d.state == crate::domain::deploy::DeploymentState::Success)
        .find(|d| d.sha.as_deref().is_some_and(|sha| sha != bake.sha))
        .map(|d| Release {
            train_id: d.train_id,
            version: d.version.clone().unwrap_or_else(|| d.ref_name.clone()),
            tag: d.ref_name.clone(),
            sha: d.sha.clone().unwrap_or_default(),
        }))
}

/// Another deployment (`now_running`) succeeded on an environment with a bake in progress:
/// that bake ends as superseded, told once, and what followed it stays held. Returns how
/// many ended.
pub(super) async fn supersede(
    unit: &mut UnitOfWork,
    repo: &RepoFullName,
    now_running: &deployments::DeploymentRow,
) -> Result<usize, JobError> {
    let now = unit.now();
    let ended = bakes::supersede(
        unit.conn(),
        repo.as_ref(),
        &now_running.environment,
        now_running.id,
        now,
    )
    .await?;
    let count = ended.len();
    for bake in ended {
        let event = TrainEvent::Verification {
            environment: bake.environment.clone(),
            reference: bake.tag.clone(),
            state: "superseded".into(),
            detail: format!(
                "{} now runs there (deployed by {}); the bake stopped and what follows stays held",
                now_running.ref_name, now_running.requested_by
            ),
        };
        unit.announce_for(repo, "", bake.train_id, &event).await?;
    }
    Ok(count)
}

/// A breach's rollback succeeded (`request_id` is the deployment's): the restore is
/// recorded and told with the time it took, once.
pub(super) async fn restored(
    unit: &mut UnitOfWork,
    repo: &RepoFullName,
    request_id: &str,
    rollback: &deployments::DeploymentRow,
) -> Result<(), JobError> {
    if !request_id.starts_with("verify:") {
        return Ok(());
    }
    let now = unit.now();
    let Some(bake) = bakes::restored(unit.conn(), request_id, now).await? else {
        return Ok(());
    };
    let took = now - bake.finished_at.unwrap_or(now);
    let event = TrainEvent::Verification {
        environment: rollback.environment.clone(),
        reference: rollback.ref_name.clone(),
        state: "restored".into(),
        detail: format!("{} after {} failed verification", human(took), bake.tag),
    };
    unit.announce_for(repo, "", bake.train_id, &event).await
}

/// An admin's `/release verify <env> skip <reason>`: the bake in progress ends as skipped and
/// what follows goes. `Err` says why not (nothing baking).
pub(crate) async fn skip(
    ctx: &TrainContext,
    config: &RepoConfig,
    repo: &RepoFullName,
    environment: &str,
    by: &str,
    reason: &str,
) -> Result<Result<BakeRow, String>, JobError> {
    let bake = bakes::latest(&ctx.db, repo.as_ref(), environment).await?;
    let Some(bake) = bake.filter(BakeRow::baking) else {
        return Ok(Err(format!("nothing is baking on {environment}")));
    };
    let ending = Ending {
        state: "skipped",
        reason: Some(reason),
        reading: None,
        by,
        rollback_request: None,
    };
    pass(ctx, config, repo, &bake, None, &ending).await?;
    Ok(Ok(bake))
}

/// What `/release verify <env>` says: the bake in progress (or the last one) and its readings.
pub async fn status_text(
    db: &Db,
    repo: &RepoFullName,
    environment: &str,
    s: Surface,
    now: i64,
) -> Result<String, crate::store::StoreError> {
    let Some(bake) = bakes::latest(db, repo.as_ref(), environment).await? else {
        return Ok(format!("{} has no bake yet", s.bold(&s.user(environment))));
    };
    let (tag, env) = (s.code(&bake.tag), s.bold(&s.user(&bake.environment)));
    let said = |text: Option<&str>| s.user(text.unwrap_or(""));
    let reading = bake
        .last_reading
        .as_deref()
        .map(|r| format!("\nlast reading: {}", s.user(r)))
        .unwrap_or_default();
    Ok(match bake.state.as_str() {
        "baking" => format!(
            "🍞 {tag} bakes on {env}: {} of {} done, {} left; round {} next in {}{reading}",
            human((now - bake.started_at).max(0)),
            human(bake.ends_at - bake.started_at),
            human((bake.ends_at - now).max(0)),
            bake.rounds + 1,
            human((bake.next_check_at - now).max(0)),
        ),
        "breached" => format!(
            "🚨 {tag} failed verification on {env}: {}{}",
            said(bake.reason.as_deref()),
            match bake.restored_at.zip(bake.finished_at) {
                Some((restored, breached)) => {
                    format!("; restored in {}", human(restored - breached))
                }
                None if bake.rollback_request.is_some() => "; rolling back".to_owned(),
                None => "; not rolled back".to_owned(),
            }
        ),
        "skipped" => format!(
            "⏭️ {tag}'s bake on {env} was skipped by {}: {}",
            said(bake.decided_by.as_deref()),
            said(bake.reason.as_deref())
        ),
        "expired" | "superseded" => format!(
            "⌛ {tag}'s bake on {env} {}: {}{reading}",
            bake.state,
            said(bake.reason.as_deref())
        ),
        _ => format!(
            "✅ {tag} verified on {env} after {}{reading}",
            human(bake.finished_at.unwrap_or(bake.ends_at) - bake.started_at)
        ),
    })
}

async fn audit_bake(
    unit: &mut UnitOfWork,
    repo: &RepoFullName,
    bake: &BakeRow,
    ending: &Ending<'_>,
    detail: &str,
) -> Result<(), JobError> {
    let entry = Entry {
        repository: repo.to_string(),
        train_id: bake.train_id,
        actor_login: ending.by.into(),
        surface: "trainyard".into(),
        action: "deploy.verify".into(),
        outcome: ending.state.into(),
        detail: format!("{} on {}: {detail}", bake.tag, bake.environment),
        key: Some(format!("bake:{}:end", bake.id)),
        ..Entry::default()
    };
    let at = unit.now();
    audit::record(unit.conn(), &entry, at).await?;
    Ok(())
}

fn release_of(bake: &BakeRow) -> Release {
    Release {
        train_id: bake.train_id,
        version: bake.version.clone(),
        tag: bake.tag.clone(),
        sha: bake.sha.clone(),
    }
}

fn installation_of(bake: &BakeRow) -> Result<u64, JobError> {
    u64::try_from(bake.installation_id)
        .map_err(|_| JobError::Permanent("installation id out of range".into()))
}

fn millis(d: SignedDuration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `ms` as people write it: `20s`, `15m`, `1h 30m`, `2h`.
pub(crate) fn human(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let parts: Vec<String> = [(h, "h"), (m, "m"), (s, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() {
        "0s".to_owned()
    } else {
        parts.join(" ")
    }
}

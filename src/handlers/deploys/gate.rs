//! trainyard as GitHub's custom deployment protection rule. A workflow job that deploys to
//! an environment with the rule enabled waits for trainyard's answer: the request is
//! recorded once (a redelivery finds it), decided by [`gate::decide`] with the facts a
//! `/release deploy` of that commit would be decided with, and answered on GitHub as an
//! effect step (a lost answer is looked for before it is sent again). A request the rules
//! hold for now waits, told once in the train's thread, and is decided again with every event
//! that may let it through (see [`TrainEvent::may_open_the_gate`]) and when its freeze ends.

use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::domain::deploy::{DeployFacts, Release};
use crate::domain::gate::{self, Forced, GateAnswer, GateFacts, Standing, WaitFor};
use crate::domain::ids::RepoFullName;
use crate::domain::repo_config::RepoConfig;
use crate::domain::train::TrainState;
use crate::domain::train_event::TrainEvent;
use crate::github::gate::Reviewed;
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::unit::{ReviewWaitingGates, UnitOfWork};
use crate::jobs::{BackgroundJob, JobError, Queue};
use crate::store::Db;
use crate::store::audit::{self, Entry};
use crate::store::gate_reviews::{self, Decision, GateReview};
use crate::store::steps::{self, StepState};
use crate::store::{candidates, deployments, trains};

use super::facts::{environment_now, local_time};
use super::requests::release_of;

/// An admin's forced deployment lets a freeze by for this long.
const FORCE_LASTS: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// Decides one protection rule request (just arrived, or redelivered).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewGate {
    /// The repository.
    pub repository: RepoFullName,
    /// The request's row.
    pub review_id: i64,
}

impl BackgroundJob for ReviewGate {
    const KIND: &'static str = "deploy.gate";
    const PRIORITY: crate::jobs::Priority = crate::jobs::Priority::Urgent;
    type Context = TrainContext;

    /// With the repository's deployment statuses, in delivery order.
    fn queue_key(&self) -> String {
        format!("deploy:{}", self.repository)
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let span = tracing::info_span!("gate", review = self.review_id, repo = %self.repository);
        async move {
            match gate_reviews::get(&ctx.db, self.review_id).await? {
                Some(review) => review_one(&ctx, review).await,
                None => Ok(()),
            }
        }
        .instrument(span)
        .await
    }
}

impl BackgroundJob for ReviewWaitingGates {
    const KIND: &'static str = "deploy.gate_waiting";
    const PRIORITY: crate::jobs::Priority = crate::jobs::Priority::Urgent;
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        format!("deploy:{}", self.repository)
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("gate-waiting:{}", self.repository))
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        for review in gate_reviews::waiting(&ctx.db, self.repository.as_ref()).await? {
            review_one(&ctx, review).await?;
        }
        Ok(())
    }
}

/// Has every repository with a request held by a freeze that ended by `now` decided again;
/// the server calls it every [`THAW_CHECK_INTERVAL`]. Returns how many were enqueued.
pub async fn enqueue_thawed(db: &Db, queue: &Queue, now: i64) -> Result<usize, JobError> {
    let repositories = gate_reviews::thawed_repositories(db, now).await?;
    for repository in &repositories {
        let Ok(repository) = RepoFullName::parse(repository) else {
            continue;
        };
        queue
            .enqueue_now(&ReviewWaitingGates { repository })
            .await?;
    }
    Ok(repositories.len())
}

/// How often freeze-held requests are looked at: well within the 5 s a held run waits after
/// its window ends.
pub const THAW_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Decides `review` (unless it was answered) and answers GitHub when the answer is final.
async fn review_one(ctx: &TrainContext, review: GateReview) -> Result<(), JobError> {
    if review.answered() {
        return send_answer(ctx, &review).await;
    }
    let repo =
        RepoFullName::parse(&review.repository).map_err(|e| JobError::Permanent(e.to_string()))?;
    let installation = u64::try_from(review.installation_id)
        .map_err(|_| JobError::Permanent("installation id out of range".into()))?;
    let ask = GateAsk {
        environment: &review.environment,
        sha: &review.sha,
        actor: &review.requested_by,
        // A bot (a push by an App, a deployment event) runs with the configuration's
        // authority; a person answers for the runs they start.
        by_person: !review.requested_by.ends_with("[bot]"),
    };
    let decided = ask_gate(ctx, &repo, installation, &ask).await?;
    if record(ctx, &repo, &review, &decided).await?
        && decided.is_final()
        && let Some(review) = gate_reviews::get(&ctx.db, review.id).await?
    {
        send_answer(ctx, &review).await?;
    }
    Ok(())
}

/// Who asks the gate about which deployment.
pub(crate) struct GateAsk<'a> {
    /// The environment.
    pub environment: &'a str,
    /// The commit.
    pub sha: &'a str,
    /// Who asks (a lock's owner passes their own lock).
    pub actor: &'a str,
    /// A person, whose role is checked; otherwise the configuration's authority.
    pub by_person: bool,
}

/// The gate's answer, and what it was about.
pub(crate) struct Decided {
    /// The answer.
    pub answer: GateAnswer,
    /// The release the commit is, when it is one.
    pub release: Option<Release>,
    /// When the freeze holding it ends (epoch ms).
    thaws_at: Option<i64>,
}

/// Decides `ask` in `repo` with the configuration in force and the facts of this moment;
/// nothing is written.
pub(crate) async fn ask_gate(
    ctx: &TrainContext,
    repo: &RepoFullName,
    installation: u64,
    ask: &GateAsk<'_>,
) -> Result<Decided, JobError> {
    let current = ctx.config(installation, repo).await?;
    let config = &current.effective.config;
    let standing = standing_of_commit(&ctx.db, repo, ask.sha).await?;
    decide(ctx, repo, installation, config, ask, standing).await
}

impl Decided {
    fn is_final(&self) -> bool {
        !matches!(self.answer, GateAnswer::NotYet { .. })
    }

    fn state(&self) -> &'static str {
        match self.answer {
            GateAnswer::Approved(_) => "approved",
            GateAnswer::Rejected(_) => "rejected",
            GateAnswer::NotYet { .. } => "waiting",
        }
    }
}

/// Gathers the facts a `/release deploy` of the commit would be decided with and decides.
async fn decide(
    ctx: &TrainContext,
    repo: &RepoFullName,
    installation: u64,
    config: &RepoConfig,
    ask: &GateAsk<'_>,
    standing: Standing,
) -> Result<Decided, JobError> {
    let environment = config.environment(ask.environment);
    let release = match &standing {
        Standing::Released(r) | Standing::Candidate(r) | Standing::AwaitingApproval(r) => {
            Some(r.clone())
        }
        Standing::Unknown { .. } => None,
    };
    let permission = match environment {
        Some(env) if !ask.by_person => env.deploy_permission(),
        Some(_) => {
            ctx.github()?
                .collaborator_permission(installation, repo, ask.actor)
                .await?
        }
        None => crate::domain::permission::Permission::None,
    };
    let mut facts = GateFacts {
        deploy: DeployFacts {
            environment,
            configured: config
                .environments()
                .iter()
                .map(|e| e.name.as_str())
                .collect(),
            permission,
            actor: ask.actor,
            lock: None,
            release: None,
            required_deployed: None,
            frozen: None,
            candidate: false,
            unreleased: false,
        },
        environment: ask.environment,
        sha: ask.sha,
        standing,
        forced: None,
    };
    let mut thaws_at = None;
    if let Some(env) = environment {
        let name = repo.as_ref();
        let now = environment_now(&ctx.db, name, config, env, Some(ask.sha), ctx.now()).await?;
        facts.deploy.lock = now.lock;
        facts.deploy.required_deployed = now.required_deployed;
        facts.deploy.frozen = now.frozen;
        if let Some(windows) = &env.freeze {
            let zone = config.deploy_time_zone();
            thaws_at = crate::domain::freeze::thaws_at(windows, local_time(config, ctx.now()))
                .and_then(|end| zone.to_ambiguous_timestamp(end).compatible().ok())
                .map(|end| end.as_millisecond());
        }
        if facts.deploy.frozen.is_some() {
            let since = ctx.now() - FORCE_LASTS.as_millis() as i64;
            facts.forced = deployments::forced_since(&ctx.db, name, &env.name, ask.sha, since)
                .await?
                .map(|(by, reason)| Forced { by, reason });
        }
    }
    Ok(Decided {
        answer: gate::decide(&facts),
        release,
        thaws_at,
    })
}

/// Where commit `sha` stands: a train's release, a published candidate, a cut train waiting
/// for approval, or none of those (with the latest release, for the refusal).
pub(crate) async fn standing_of_commit(
    db: &Db,
    repo: &RepoFullName,
    sha: &str,
) -> Result<Standing, JobError> {
    let newest = |t: &&trains::TrainRow| (t.published_at.unwrap_or_default(), t.id);
    let released = trains::in_states(db, repo, &[TrainState::Released]).await?;
    let at_commit = released
        .iter()
        .filter(|t| t.target_sha.as_deref() == Some(sha))
        .max_by_key(newest);
    if let Some(release) = at_commit.and_then(release_of) {
        return Ok(Standing::Released(release));
    }
    if let Some(c) = candidates::published_at_commit(db, repo.as_ref(), sha).await? {
        return Ok(Standing::Candidate(Release {
            train_id: Some(c.train_id),
            version: c.version,
            tag: c.tag_name,
            sha: c.target_sha,
        }));
    }
    let cut = trains::in_states(db, repo, &[TrainState::Frozen, TrainState::Approved]).await?;
    if let Some(release) = cut
        .iter()
        .find(|t| t.target_sha.as_deref() == Some(sha))
        .and_then(release_of)
    {
        return Ok(Standing::AwaitingApproval(release));
    }
    Ok(Standing::Unknown {
        latest: released.iter().max_by_key(newest).and_then(release_of),
    })
}

/// Records the decision (unless the request was answered meanwhile), audits it and tells the
/// train's thread, once per answer and once per thing it waits for. Returns whether it was
/// recorded.
async fn record(
    ctx: &TrainContext,
    repo: &RepoFullName,
    review: &GateReview,
    decided: &Decided,
) -> Result<bool, JobError> {
    let train_id = decided.release.as_ref().and_then(|r| r.train_id);
    let train = match train_id {
        Some(id) => trains::get(&ctx.db, id).await?,
        None => None,
    };
    let (wait_for, recheck_at) = match &decided.answer {
        GateAnswer::NotYet { until, .. } => (
            Some(until.as_str()),
            decided.thaws_at.filter(|_| *until == WaitFor::WindowEnd),
        ),
        _ => (None, None),
    };
    let state = decided.state();
    let reason = decided.answer.reason();
    let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, ctx.now()).await?;
    let decision = Decision {
        state,
        reason,
        wait_for,
        recheck_at,
        train_id,
    };
    if !gate_reviews::decide(unit.conn(), review.id, &decision).await? {
        return Ok(false);
    }
    let reference = decided
        .release
        .as_ref()
        .map_or_else(|| gate::short(&review.sha).to_owned(), |r| r.tag.clone());
    let entry = Entry {
        repository: repo.to_string(),
        line: train.as_ref().map(|t| t.line.clone()).unwrap_or_default(),
        train_id,
        actor_login: review.requested_by.clone(),
        surface: "github".into(),
        action: "deploy.gate".into(),
        outcome: match state {
            "approved" => "accepted",
            "rejected" => "refused",
            _ => "waiting",
        }
        .into(),
        detail: format!(
            "workflow run {} deploying {reference} (commit {}) to {}: {reason}",
            review.run_id,
            gate::short(&review.sha),
            review.environment
        ),
        key: Some(format!("gate:{}:{}", review.id, wait_for.unwrap_or(state))),
        ..Entry::default()
    };
    let at = unit.now();
    if audit::record(unit.conn(), &entry, at).await? {
        let event = TrainEvent::Gate {
            environment: review.environment.clone(),
            reference,
            run_id: u64::try_from(review.run_id).unwrap_or_default(),
            state: state.to_owned(),
            reason: reason.to_owned(),
        };
        match &train {
            Some(train) => unit.announce(train, &event).await?,
            None => unit.announce_for(repo, "", None, &event).await?,
        }
    }
    unit.commit().await?;
    Ok(true)
}

/// Gives GitHub the recorded answer, once: a step found started but not done is an answer
/// whose reply was lost, looked for among the run's pending environments before it is sent
/// again.
async fn send_answer(ctx: &TrainContext, review: &GateReview) -> Result<(), JobError> {
    let repo =
        RepoFullName::parse(&review.repository).map_err(|e| JobError::Permanent(e.to_string()))?;
    let installation = u64::try_from(review.installation_id)
        .map_err(|_| JobError::Permanent("installation id out of range".into()))?;
    let run_id = u64::try_from(review.run_id)
        .map_err(|_| JobError::Permanent("run id out of range".into()))?;
    let github = ctx.github()?;
    let key = review.answer_step();
    let approved = review.state == "approved";
    let reason = review.reason.clone().unwrap_or_default();
    let mut landed = None;
    match steps::start(&ctx.db, &key, ctx.now()).await? {
        StepState::Done(_) => return Ok(()),
        StepState::Uncertain => {
            let pending = github
                .pending_environments(installation, &repo, run_id)
                .await?;
            if !pending
                .iter()
                .any(|e| e.eq_ignore_ascii_case(&review.environment))
            {
                landed = Some("no longer pending: the answer had landed".to_owned());
            }
        }
        StepState::New => {}
    }
    let result = match landed {
        Some(found) => found,
        None => match github
            .review_protection_rule(
                installation,
                &repo,
                run_id,
                &review.environment,
                approved,
                &reason,
            )
            .await?
        {
            Reviewed::Accepted => review.state.clone(),
            Reviewed::NothingWaiting(message) => format!("nothing waiting: {message}"),
        },
    };
    let entry = Entry::effect(
        repo.as_ref(),
        "github.gate_review",
        format!(
            "{} workflow run {run_id} for {}: {reason}",
            review.state, review.environment
        ),
    );
    steps::finish_audited(&ctx.db, &key, &result, entry, ctx.now()).await?;
    gate_reviews::answered(&ctx.db, review.id, ctx.now()).await?;
    tracing::info!(run_id, environment = %review.environment, state = %review.state, "gate answered");
    Ok(())
}

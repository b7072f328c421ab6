//! Jobs made from GitHub webhook deliveries, and the housekeeping of delivery records.

use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::clock::SharedClock;
use crate::domain::event::{Event, InstallationAction, PushedRef, ReleaseAction};
use crate::handlers::chat::comments::CommentCommands;
use crate::handlers::config_reload::{ReloadRepoConfig, touches_config};
use crate::handlers::trains::BoardPullRequest;
use crate::handlers::trains::DraftPublishedByHand;
use crate::jobs::{BackgroundJob, JobError};
use crate::store::{Db, deliveries, installations};

/// Delivery records are kept this long: past GitHub's redelivery window (at most 7 days).
pub const DELIVERY_RETENTION: jiff::SignedDuration = jiff::SignedDuration::from_hours(8 * 24);

/// What event jobs need.
#[derive(Clone, Debug)]
pub struct EventContext {
    /// The store.
    pub db: Db,
    /// The clock.
    pub clock: SharedClock,
    /// The job queue.
    pub queue: crate::jobs::Queue,
    /// (installation, repository) pairs already written, so a busy repository's deliveries
    /// do not rewrite them every time.
    pub noted_repositories: NotedRepositories,
}

/// (installation, repository) pairs this process has recorded, shared by the intake and the
/// event jobs.
pub type NotedRepositories =
    std::sync::Arc<std::sync::Mutex<std::collections::HashSet<(u64, String)>>>;

/// Label events on one open pull request within this long of the first ask for one refresh
/// of its check, which reads the pull request once the window has passed.
pub const CHECK_WINDOW_MS: i64 = 2_000;

/// Open pull requests whose check refresh this process asked for, and when (epoch ms).
pub type CheckWindows =
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<(String, u64), i64>>>;

/// Whether a label event on an open pull request at `now` opens a new window (and records it):
/// the window's refresh, read after it closes, covers every event inside it, on any replica.
fn opens_a_window(
    windows: &CheckWindows,
    e: &crate::domain::event::PullRequestEvent,
    now: i64,
) -> bool {
    let mut windows = windows
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let key = (e.repository.to_string(), e.pull_request.number);
    if windows
        .get(&key)
        .is_some_and(|opened| now - opened < CHECK_WINDOW_MS)
    {
        return false;
    }
    if windows.len() >= 4_096 {
        windows.retain(|_, opened| now - *opened < CHECK_WINDOW_MS);
    }
    windows.insert(key, now);
    true
}

/// Whether an event has anything for a job to do. Most of a busy repository's pull request
/// traffic (labels, pushes, reviews on open pull requests) and comments without a command
/// change no train: once the repository is known to this process, they are recorded as
/// ignored and cost the workers nothing; a burst of labels on an open pull request costs one
/// job per [`CHECK_WINDOW_MS`] (its check's refresh).
pub fn needs_a_job(
    event: &Event,
    noted: &NotedRepositories,
    windows: &CheckWindows,
    now: i64,
) -> bool {
    let known = |installation: Option<u64>, repo: &crate::domain::ids::RepoFullName| {
        installation.is_some_and(|i| {
            noted
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .contains(&(i, repo.to_string()))
        })
    };
    match event {
        Event::PullRequest(e) if only_its_check(e) => {
            !known(e.installation_id, &e.repository) || opens_a_window(windows, e, now)
        }
        Event::PullRequest(e) => {
            BoardPullRequest::concerns(e)
                || crate::handlers::autolabel::AutolabelPullRequest::concerns(e)
                || crate::handlers::checks::concerns(e)
                || !known(e.installation_id, &e.repository)
        }
        Event::IssueComment(c) => {
            !CommentCommands::lines(c).is_empty() || !known(c.installation_id, &c.repository)
        }
        _ => true,
    }
}

/// A pull request event only its `trainyard` check cares about: a label put on or taken off
/// an open pull request (no train boards, no rule labels). They come in bursts.
fn only_its_check(e: &crate::domain::event::PullRequestEvent) -> bool {
    use crate::domain::event::PullRequestAction as A;
    matches!(e.action, A::Labeled { .. } | A::Unlabeled { .. })
        && crate::handlers::checks::concerns(e)
        && !BoardPullRequest::concerns(e)
}

/// Acts on one verified webhook delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandleWebhook {
    /// `X-GitHub-Delivery`, for logs.
    pub delivery_id: String,
    /// The parsed event.
    pub event: Event,
    /// When the delivery was received (epoch ms): commands in comments older than the
    /// delivery by more than a few minutes are replays.
    #[serde(default)]
    pub received_at: i64,
}

impl BackgroundJob for HandleWebhook {
    const KIND: &'static str = "github.webhook";
    type Context = EventContext;

    /// Events of one repository run in delivery order; installation events per installation.
    fn queue_key(&self) -> String {
        match (self.event.repository(), self.event.installation_id()) {
            (Some(repo), _) => repo.to_string(),
            (None, Some(installation)) => format!("installation:{installation}"),
            (None, None) => "github".to_owned(),
        }
    }

    async fn run(self, ctx: EventContext) -> Result<(), JobError> {
        let span = tracing::info_span!("webhook", delivery_id = %self.delivery_id);
        handle_event(self.event, self.received_at, ctx)
            .instrument(span)
            .await
    }
}

fn noted(
    ctx: &EventContext,
) -> std::sync::MutexGuard<'_, std::collections::HashSet<(u64, String)>> {
    ctx.noted_repositories
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn handle_event(event: Event, received_at: i64, ctx: EventContext) -> Result<(), JobError> {
    let now = ctx.clock.now().as_millisecond();
    match event {
        Event::Installation(e) => installation_event(&ctx, &e, now).await?,
        Event::InstallationRepositories(e) => {
            installations::upsert(&ctx.db, e.installation_id, &e.account, now).await?;
            installations::add_repositories(&ctx.db, e.installation_id, &e.added, now).await?;
            installations::remove_repositories(&ctx.db, e.installation_id, &e.removed).await?;
            noted(&ctx).retain(|(installation, repo)| {
                *installation != e.installation_id || !e.removed.iter().any(|r| r.as_ref() == repo)
            });
        }
        Event::PullRequest(e) => {
            if let Some(installation) = e.installation_id {
                note_repository(&ctx, installation, &e.repository, now).await?;
                if only_its_check(&e) {
                    // Read after the window the intake opened: every label in it is seen.
                    ctx.queue
                        .enqueue_now(&crate::handlers::checks::RefreshPullRequestCheck {
                            installation,
                            repository: e.repository.clone(),
                            number: e.pull_request.number,
                            not_before: received_at + CHECK_WINDOW_MS,
                        })
                        .await?;
                } else if crate::handlers::checks::concerns(&e) {
                    crate::handlers::checks::note_pull_request(
                        &ctx.db,
                        &ctx.queue,
                        installation,
                        &e,
                        received_at,
                        now,
                    )
                    .await?;
                }
                if crate::handlers::autolabel::AutolabelPullRequest::concerns(&e) {
                    ctx.queue
                        .enqueue_now(&crate::handlers::autolabel::AutolabelPullRequest {
                            installation,
                            event: e.clone(),
                        })
                        .await?;
                }
                if BoardPullRequest::concerns(&e) {
                    ctx.queue
                        .enqueue_now(&BoardPullRequest {
                            installation,
                            event: e,
                        })
                        .await?;
                }
            }
        }
        Event::Release(e) => release_event(&ctx, &e, now).await?,
        Event::IssueComment(comment) => {
            if let Some(installation) = comment.installation_id {
                note_repository(&ctx, installation, &comment.repository, now).await?;
                if !CommentCommands::lines(&comment).is_empty() {
                    ctx.queue
                        .enqueue_now(&CommentCommands {
                            installation,
                            event: comment,
                            received_at,
                        })
                        .await?;
                }
            }
        }
        Event::Push(push) => push_event(&ctx, &push, now).await?,
        Event::Deployment(e) => {
            if let Some(installation) = e.installation_id {
                note_repository(&ctx, installation, &e.repository, now).await?;
            }
            ctx.queue
                .enqueue_now(&crate::handlers::deploys::SeeDeployment { event: e })
                .await?;
        }
        Event::DeploymentStatus(e) => {
            if let Some(installation) = e.installation_id {
                note_repository(&ctx, installation, &e.repository, now).await?;
            }
            ctx.queue
                .enqueue_now(&crate::handlers::deploys::SeeDeploymentStatus { event: e })
                .await?;
        }
        Event::ProtectionRule(e) => protection_rule_event(&ctx, &e, now).await?,
        #[allow(unreachable_patterns)]
        other => {
            // Repositories reached through a delivery are covered by its installation.
            if let (Some(repo), Some(installation)) = (other.repository(), other.installation_id())
            {
                note_repository(&ctx, installation, repo, now).await?;
            }
            tracing::info!("event recorded");
        }
    }
    Ok(())
}

/// An installation was created, removed, suspended or resumed.
async fn installation_event(
    ctx: &EventContext,
    e: &crate::domain::event::InstallationEvent,
    now: i64,
) -> Result<(), JobError> {
    match e.action {
        InstallationAction::Created | InstallationAction::NewPermissionsAccepted => {
            installations::upsert(&ctx.db, e.installation_id, &e.account, now).await?;
            installations::add_repositories(&ctx.db, e.installation_id, &e.repositories, now)
                .await?;
            tracing::info!(installation = e.installation_id, account = %e.account, "installation recorded");
        }
        InstallationAction::Deleted => {
            installations::delete(&ctx.db, e.installation_id).await?;
            noted(ctx).retain(|(installation, _)| *installation != e.installation_id);
            tracing::info!(installation = e.installation_id, "installation removed");
        }
        InstallationAction::Suspend => {
            installations::upsert(&ctx.db, e.installation_id, &e.account, now).await?;
            installations::set_suspended(&ctx.db, e.installation_id, Some(now), now).await?;
        }
        InstallationAction::Unsuspend => {
            installations::upsert(&ctx.db, e.installation_id, &e.account, now).await?;
            installations::set_suspended(&ctx.db, e.installation_id, None, now).await?;
        }
    }
    Ok(())
}

/// A release changed: the kept list of releases is dropped, and a train's draft published by
/// hand releases the train.
async fn release_event(
    ctx: &EventContext,
    e: &crate::domain::event::ReleaseEvent,
    now: i64,
) -> Result<(), JobError> {
    // Releases changed by anyone but the bot editing its own drafts: list them afresh.
    if !(e.sender.is_bot && e.release.draft) {
        crate::store::release_snapshots::invalidate(&ctx.db, &e.repository).await?;
    }
    if let Some(installation) = e.installation_id {
        note_repository(ctx, installation, &e.repository, now).await?;
        let published = matches!(e.action, ReleaseAction::Published | ReleaseAction::Released);
        if published && !e.release.draft && !e.sender.is_bot {
            ctx.queue
                .enqueue_now(&DraftPublishedByHand {
                    repository: e.repository.clone(),
                    installation,
                    release_id: e.release.id,
                    tag_name: e.release.tag_name.clone(),
                    url: e.release.url.clone(),
                    publisher: e.sender.login.clone(),
                })
                .await?;
        }
    }
    Ok(())
}

/// A workflow job waits for trainyard's deployment protection rule: the request is recorded
/// once (a redelivery finds it) and decided by the gate.
async fn protection_rule_event(
    ctx: &EventContext,
    e: &crate::domain::event::ProtectionRuleEvent,
    now: i64,
) -> Result<(), JobError> {
    let Some(installation) = e.installation_id else {
        tracing::warn!(repo = %e.repository, "protection rule request without an installation; ignored");
        return Ok(());
    };
    note_repository(ctx, installation, &e.repository, now).await?;
    let review = crate::store::gate_reviews::NewGateReview {
        repository: e.repository.as_ref(),
        installation_id: installation,
        run_id: e.run_id,
        environment: &e.environment,
        sha: &e.sha,
        ref_name: e.git_ref.as_deref(),
        requested_by: &e.sender.login,
        run_event: e.run_event.as_deref(),
    };
    let review_id = crate::store::gate_reviews::receive(&ctx.db, &review, now).await?;
    ctx.queue
        .enqueue_now(&crate::handlers::deploys::gate::ReviewGate {
            repository: e.repository.clone(),
            review_id,
        })
        .await?;
    Ok(())
}

/// A push: a changed configuration on the default branch is read again.
async fn push_event(
    ctx: &EventContext,
    push: &crate::domain::event::PushEvent,
    now: i64,
) -> Result<(), JobError> {
    let on_default_branch = matches!(
        (&push.pushed_ref, &push.default_branch),
        (PushedRef::Branch(branch), Some(default)) if branch == default
    );
    if let Some(installation) = push.installation_id {
        note_repository(ctx, installation, &push.repository, now).await?;
        if on_default_branch && touches_config(&push.changed_paths) {
            ctx.queue
                .enqueue_now(&ReloadRepoConfig {
                    repository: push.repository.clone(),
                    installation,
                    commit: Some(push.after.clone()),
                })
                .await?;
            tracing::info!(repo = %push.repository, "configuration changed; reload queued");
        }
        if on_default_branch {
            reload_extending(ctx, push).await?;
        }
    }
    Ok(())
}

/// A push touching a file other configurations extend (an organisation's shared
/// `.github/release-drafter.yml`): each of them is read again.
async fn reload_extending(
    ctx: &EventContext,
    push: &crate::domain::event::PushEvent,
) -> Result<(), JobError> {
    for path in &push.changed_paths {
        let source = format!("{}:{path}", push.repository);
        for repository in crate::store::repo_configs::extending(&ctx.db, &source).await? {
            let Ok(repository) = crate::domain::ids::RepoFullName::parse(&repository) else {
                continue;
            };
            let Some(installation) =
                crate::store::installations::for_repository(&ctx.db, &repository).await?
            else {
                continue;
            };
            ctx.queue
                .enqueue_now(&ReloadRepoConfig {
                    repository: repository.clone(),
                    installation,
                    commit: None,
                })
                .await?;
            tracing::info!(repo = %repository, %source, "an extended configuration changed; reload queued");
        }
    }
    Ok(())
}

/// Records that `installation` covers `repo`, once per process.
async fn note_repository(
    ctx: &EventContext,
    installation: u64,
    repo: &crate::domain::ids::RepoFullName,
    now: i64,
) -> Result<(), JobError> {
    let key = (installation, repo.to_string());
    if !noted(ctx).contains(&key) {
        installations::note_repository(&ctx.db, installation, repo, now).await?;
        noted(ctx).insert(key);
    }
    Ok(())
}

/// Answered chat requests are remembered this long: Slack and Discord retry within minutes.
pub const CHAT_REQUEST_RETENTION: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// Queue keys idle this long, with no unfinished job, are forgotten.
pub const QUEUE_KEY_RETENTION: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// Hourly housekeeping: deletes delivery records older than [`DELIVERY_RETENTION`] and
/// answered chat requests older than [`CHAT_REQUEST_RETENTION`], and forgets idle queue keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Housekeeping;

impl BackgroundJob for Housekeeping {
    const KIND: &'static str = "housekeeping";
    type Context = EventContext;

    fn queue_key(&self) -> String {
        "housekeeping".to_owned()
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(Self::KIND.to_owned())
    }

    async fn run(self, ctx: EventContext) -> Result<(), JobError> {
        let now = ctx.clock.now();
        let pruned =
            deliveries::prune(&ctx.db, (now - DELIVERY_RETENTION).as_millisecond()).await?;
        let forgotten = ctx
            .queue
            .forget_idle_keys(now - QUEUE_KEY_RETENTION)
            .await?;
        let chat_requests = crate::store::chat::prune_requests(
            &ctx.db,
            (now - CHAT_REQUEST_RETENTION).as_millisecond(),
        )
        .await?;
        // Expired link requests are worthless: only their hashes were kept.
        let link_requests =
            crate::store::link_requests::prune(&ctx.db, now.as_millisecond()).await?;
        // Audit records are kept 400 days, then go.
        let audit_records = crate::store::audit::prune(&ctx.db, now.as_millisecond()).await?;
        let sessions = crate::store::web_sessions::prune(&ctx.db, now.as_millisecond()).await?;
        tracing::info!(
            pruned,
            forgotten,
            chat_requests,
            link_requests,
            audit_records,
            sessions,
            "housekeeping done"
        );
        Ok(())
    }
}

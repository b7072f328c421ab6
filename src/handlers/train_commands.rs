//! Commands on trains (`cut`, `approve`, `reject`, `include`, `exclude`, `abandon`) and the
//! release that follows the last approval. Commands enter as values with a GitHub login as
//! actor — the chat and comment surfaces build them — and every permission is checked
//! against GitHub when the job runs. Release steps are recorded one by one, so a retry after
//! a crash never makes a second tag, release or comment.

use http::Method;
use serde::{Deserialize, Serialize};

use crate::domain::ids::RepoFullName;
use crate::domain::train::{
    self, ApprovalRules, CommandFacts, TrainCommand, TrainState, TrainView, Transition,
};
use crate::domain::train_event::TrainEvent;
use crate::github::GitHubError;
use crate::handlers::repo_config;
use crate::handlers::trains::{RefreshDraft, TrainContext, draft_for};
use crate::jobs::{BackgroundJob, JobError};
use crate::ports::GitHubPort;
use crate::store::trains::{self, Cut, Step, TrainRow};

/// A command on a line's train.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunTrainCommand {
    /// The repository.
    pub repository: RepoFullName,
    /// Its installation.
    pub installation: u64,
    /// The line (default: the first configured line).
    pub line: Option<String>,
    /// Who gave it (GitHub login).
    pub actor: String,
    /// What.
    pub command: TrainCommand,
    /// Where it came from, for logs (chat message or comment id).
    pub command_id: String,
    /// Given by the line's schedule, not a person: no permission to check.
    #[serde(default)]
    pub by_schedule: bool,
    /// Where the outcome is told (the chat or comment that asked).
    #[serde(default)]
    pub reply_to: Option<crate::handlers::chat::ReplyTo>,
    /// A button press acts on the train it was shown with, and on no other.
    #[serde(default)]
    pub train_id: Option<i64>,
    /// The version (or tag) the person named: the train must have it.
    #[serde(default)]
    pub expect_version: Option<String>,
}

/// What the command did, to tell whoever gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandReply {
    /// Done; what happened.
    Done(String),
    /// Refused; why (nothing changed).
    Refused(String),
}

impl BackgroundJob for RunTrainCommand {
    const KIND: &'static str = "train.command";
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        self.repository.to_string()
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let span = tracing::info_span!("command", command_id = %self.command_id, command = self.command.name());
        let _entered = span.enter();
        let mut dead = None;
        let reply = match execute(&ctx, &self).await {
            Ok(reply) => reply,
            // A command that can never be carried out is not left unanswered; the job is
            // still buried, for the operator.
            Err(JobError::Permanent(reason)) => {
                let reply = CommandReply::Refused(format!("it could not be carried out: {reason}"));
                dead = Some(reason);
                reply
            }
            Err(other) => return Err(other),
        };
        tracing::info!(repo = %self.repository, actor = %self.actor, ?reply, "command answered");
        if let Some(reply_to) = &self.reply_to {
            let surface = reply_to.surface();
            let (text, refused) = match &reply {
                CommandReply::Done(text) => (text.as_str(), false),
                CommandReply::Refused(text) => (text.as_str(), true),
            };
            let what = surface.bold(&format!("{} {}", self.repository, self.command.name()));
            let text = if refused {
                format!("{what} refused: {}", surface.user(text))
            } else {
                format!("{what}: {}", surface.user(text))
            };
            crate::handlers::chat::relay(
                &ctx,
                Some((self.installation, &self.repository)),
                reply_to,
                &text,
                refused,
            )
            .await?;
        }
        match dead {
            Some(reason) => Err(JobError::Permanent(reason)),
            None => Ok(()),
        }
    }
}

fn refused(reason: impl ToString) -> Result<CommandReply, JobError> {
    Ok(CommandReply::Refused(reason.to_string()))
}

/// Carries out a command and says what happened.
pub async fn execute(
    ctx: &TrainContext,
    request: &RunTrainCommand,
) -> Result<CommandReply, JobError> {
    let github = ctx.github()?;
    let repo = &request.repository;
    let installation = request.installation;
    let now = ctx.clock.now().as_millisecond();
    let config = repo_config::current(&ctx.db, github, installation, repo, now).await?;
    let config = &config.effective.config;
    if let TrainCommand::Hotfix { base } = &request.command {
        return open_hotfix(ctx, github, request, base, config, now).await;
    }
    let lines = config.lines();
    let line = match &request.line {
        Some(name) => match lines.iter().find(|l| &l.name == name) {
            Some(line) => line.clone(),
            // Hotfix lines live as long as their trains, outside the configuration.
            None => match trains::in_states(&ctx.db, repo, &[TrainState::Open, TrainState::Frozen])
                .await?
                .into_iter()
                .find(|t| &t.line == name && t.kind == "hotfix")
            {
                Some(train) => crate::domain::repo_config::LineKeys {
                    name: train.line.clone(),
                    branch: Some(train.branch.clone()),
                    ..Default::default()
                },
                None => {
                    let hint = crate::domain::command::closest(
                        name,
                        lines.iter().map(|l| l.name.as_str()),
                    )
                    .map(|l| format!(" (did you mean `{l}`?)"))
                    .unwrap_or_default();
                    return refused(format!("{repo} has no train line `{name}`{hint}"));
                }
            },
        },
        None => lines[0].clone(),
    };
    let live = trains::in_states(&ctx.db, repo, &[TrainState::Open, TrainState::Frozen])
        .await?
        .into_iter()
        .filter(|t| t.line == line.name)
        .collect::<Vec<_>>();
    // The oldest frozen train goes first (trains are listed newest first).
    let frozen = live.iter().rev().find(|t| t.state() == TrainState::Frozen);
    let open = live.iter().find(|t| t.state() == TrainState::Open);
    let train = match &request.command {
        TrainCommand::Cut => open,
        TrainCommand::Approve | TrainCommand::Reject { .. } | TrainCommand::Abandon => {
            frozen.or(open)
        }
        TrainCommand::Include { .. } | TrainCommand::Exclude { .. } => frozen.or(open),
        TrainCommand::Hotfix { .. } => None,
    };
    let Some(train) = train.cloned() else {
        if let Some(id) = request.train_id {
            return refused(no_longer(ctx, id).await?);
        }
        return refused(format!(
            "line `{}` has no train yet: nothing has boarded",
            line.name
        ));
    };
    if let Some(id) = request.train_id
        && id != train.id
    {
        return refused(no_longer(ctx, id).await?);
    }
    if let Some(expected) = &request.expect_version {
        let matches = |v: &Option<String>| {
            v.as_deref()
                .is_some_and(|v| version_core(v) == version_core(expected))
        };
        match (&train.tag_name, train.state()) {
            (_, TrainState::Open) => {
                return refused(format!(
                    "the `{}` train has not been cut yet; there is no {expected} to act on",
                    line.name
                ));
            }
            (tag, _) if !matches(tag) && !matches(&train.version) => {
                return refused(format!(
                    "the `{}` train waiting for approval is {}, not {expected}",
                    line.name,
                    tag.as_deref().unwrap_or("unversioned")
                ));
            }
            _ => {}
        }
    }
    let approvals = config.approvals.clone().unwrap_or_default();
    let rules = ApprovalRules {
        required: approvals.required.unwrap_or(1),
        permission: approvals
            .permission
            .unwrap_or(crate::domain::permission::Permission::Maintain),
        allow_self_approval: approvals.allow_self_approval.unwrap_or(false),
    };
    let permission = if request.by_schedule {
        crate::domain::permission::Permission::Admin
    } else {
        github
            .collaborator_permission(installation, repo, &request.actor)
            .await?
    };
    let passengers = trains::passengers(&ctx.db, train.id).await?;
    let boarded: Vec<u64> = passengers.iter().map(|p| p.number as u64).collect();
    let approvals = trains::approvals(&ctx.db, train.id).await?;
    let mut facts = CommandFacts {
        permission: Some(permission),
        ..CommandFacts::default()
    };
    if let TrainCommand::Include { number } = &request.command {
        let pr = pull_request(github, installation, repo, *number).await?;
        facts.merged_into_line = pr.merged && pr.base.r#ref == train.branch;
        if let (Some(sha), Some(target)) = (&pr.merge_commit_sha, &train.target_sha) {
            facts.in_frozen_range = contains(github, installation, repo, target, sha).await?;
        }
    }
    let view = TrainView {
        state: train.state(),
        boarded: &boarded,
        cut_by: train.cut_by.as_deref(),
        approvals: &approvals,
    };
    let transition = match train::decide(&view, &request.command, &request.actor, &facts, &rules) {
        Ok(t) => t,
        Err(refusal) => return refused(refusal),
    };
    let refresh = |train_id: i64| RefreshDraft {
        repository: repo.clone(),
        installation,
        train_id,
    };
    match transition {
        Transition::Freeze => {
            let head = branch_head(github, installation, repo, &train.branch).await?;
            let (draft, _) = draft_for(ctx, github, installation, repo, &train, config).await?;
            let version = draft.resolved_version.clone();
            let tag = if draft.tag_name.is_empty() {
                format!("v{version}")
            } else {
                draft.tag_name.clone()
            };
            let cut = Cut {
                version: &version,
                tag_name: &tag,
                target_sha: &head,
                baseline_tag: None,
                cut_by: &request.actor,
            };
            if !trains::freeze(&ctx.db, train.id, &cut, now).await? {
                return refused("the train was cut meanwhile");
            }
            ctx.record(
                &train,
                TrainEvent::Cut {
                    version: version.clone(),
                    tag: tag.clone(),
                    target_sha: head.clone(),
                    by: request.actor.clone(),
                    passengers: boarded.len(),
                    approvals_required: rules.required,
                },
            )
            .await?;
            // The next train opens at once: PRs merged after the cut ride it.
            trains::open_train(&ctx.db, repo, &line.name, &train.branch, now).await?;
            ctx.queue.enqueue_now(&refresh(train.id)).await?;
            Ok(CommandReply::Done(format!(
                "cut {tag} at {} with {} pull request{}; the next train is open",
                &head[..head.len().min(7)],
                boarded.len(),
                if boarded.len() == 1 { "" } else { "s" }
            )))
        }
        Transition::Approved { complete } => {
            trains::approve(&ctx.db, train.id, &request.actor, now).await?;
            let have = approvals.len() + 1;
            ctx.record(
                &train,
                TrainEvent::Approved {
                    by: request.actor.clone(),
                    have,
                    required: rules.required,
                },
            )
            .await?;
            if !complete {
                return Ok(CommandReply::Done(format!(
                    "approval {have} of {} recorded",
                    rules.required
                )));
            }
            trains::transition(
                &ctx.db,
                train.id,
                TrainState::Frozen,
                TrainState::Approved,
                now,
            )
            .await?;
            ctx.queue
                .enqueue_now(&ReleaseTrain {
                    repository: repo.clone(),
                    installation,
                    train_id: train.id,
                })
                .await?;
            Ok(CommandReply::Done(format!(
                "approved; releasing {}",
                train.tag_name.as_deref().unwrap_or("the train")
            )))
        }
        Transition::Reopen => {
            let reason = match &request.command {
                TrainCommand::Reject { reason } => reason.as_str(),
                _ => "",
            };
            ctx.record(
                &train,
                TrainEvent::Rejected {
                    by: request.actor.clone(),
                    reason: reason.to_owned(),
                },
            )
            .await?;
            if trains::reopen(&ctx.db, train.id, reason, now).await? {
                ctx.queue.enqueue_now(&refresh(train.id)).await?;
                return Ok(CommandReply::Done(format!(
                    "rejected ({reason}); the train is open again for a re-cut"
                )));
            }
            // The line already has a newer open train: the passengers join it.
            let next = trains::open_train(&ctx.db, repo, &line.name, &train.branch, now).await?;
            for p in &passengers {
                let labels: Vec<String> = serde_json::from_str(&p.labels).unwrap_or_default();
                trains::board(
                    &ctx.db,
                    next.id,
                    &trains::Boarding {
                        number: p.number as u64,
                        title: &p.title,
                        author: p.author.as_deref(),
                        merge_sha: p.merge_sha.as_deref(),
                        merged_at: p.merged_at.as_deref(),
                        labels: &labels,
                    },
                    now,
                )
                .await?;
            }
            trains::transition(
                &ctx.db,
                train.id,
                TrainState::Frozen,
                TrainState::Abandoned,
                now,
            )
            .await?;
            delete_draft(github, installation, repo, &train).await?;
            ctx.queue.enqueue_now(&refresh(next.id)).await?;
            Ok(CommandReply::Done(format!(
                "rejected ({reason}); its pull requests joined the open train"
            )))
        }
        Transition::Board(number) => {
            let pr = pull_request(github, installation, repo, number).await?;
            let labels: Vec<String> = pr.labels.iter().map(|l| l.name.clone()).collect();
            let new = trains::board(
                &ctx.db,
                train.id,
                &trains::Boarding {
                    number,
                    title: &pr.title,
                    author: Some(&pr.user.login),
                    merge_sha: pr.merge_commit_sha.as_deref(),
                    merged_at: pr.merged_at.as_deref(),
                    labels: &labels,
                },
                now,
            )
            .await?;
            if new {
                let title = pr.title.clone();
                ctx.record(&train, TrainEvent::Boarded { number, title })
                    .await?;
            }
            ctx.queue.enqueue_now(&refresh(train.id)).await?;
            Ok(CommandReply::Done(format!("#{number} is on the train")))
        }
        Transition::Leave(number) => {
            if trains::leave(&ctx.db, train.id, number, now).await? {
                ctx.record(&train, TrainEvent::Left { number }).await?;
            }
            ctx.queue.enqueue_now(&refresh(train.id)).await?;
            Ok(CommandReply::Done(format!("#{number} left the train")))
        }
        Transition::Abandon => {
            trains::transition(&ctx.db, train.id, train.state(), TrainState::Abandoned, now)
                .await?;
            delete_draft(github, installation, repo, &train).await?;
            let by = request.actor.clone();
            ctx.record(&train, TrainEvent::Abandoned { by }).await?;
            Ok(CommandReply::Done("the train was abandoned".into()))
        }
    }
}

/// `v1.2.0`, `api-v1.2.0` and `1.2.0` name the same version.
fn version_core(text: &str) -> &str {
    text.trim_start_matches(|c: char| !c.is_ascii_digit())
}

/// Why a button's train can no longer be acted on.
async fn no_longer(ctx: &TrainContext, train_id: i64) -> Result<String, JobError> {
    Ok(match trains::get(&ctx.db, train_id).await? {
        Some(train) => format!(
            "that train ({}) is {} now; this button no longer applies",
            train.tag_name.as_deref().unwrap_or(&train.line),
            train.state
        ),
        None => "that train no longer exists".to_owned(),
    })
}

/// Opens a hotfix train for the next patch of `base` on `release/<major>.<minor>`, creating
/// that branch from the base tag when it does not exist.
async fn open_hotfix(
    ctx: &TrainContext,
    github: &crate::github::GitHubClient,
    request: &RunTrainCommand,
    base: &str,
    config: &crate::domain::repo_config::RepoConfig,
    now: i64,
) -> Result<CommandReply, JobError> {
    use crate::domain::permission::Permission;
    use crate::domain::version::Version;
    let repo = &request.repository;
    let installation = request.installation;
    let permission = github
        .collaborator_permission(installation, repo, &request.actor)
        .await?;
    if permission < Permission::Write {
        return refused(format!(
            "`hotfix` needs write permission on the repository; {} has {permission}",
            request.actor
        ));
    }
    let prefix = config
        .notes_keys()
        .ok()
        .and_then(|k| k.tag_prefix)
        .unwrap_or_default();
    let Some(version) = Version::from_tag(base, &prefix) else {
        return refused(format!("`{base}` is not a version"));
    };
    let releases = github.list_releases(installation, repo).await?;
    let Some(release) = releases.iter().find(|r| {
        !r.draft
            && Version::from_tag(&r.tag_name, &prefix)
                .is_some_and(|v| v.cmp_precedence(&version).is_eq())
    }) else {
        return refused(format!("{repo} has no published release {base} to fix"));
    };
    let branch = train::hotfix_branch(&version);
    let exists = match github
        .request::<serde_json::Value>(
            installation,
            Method::GET,
            &format!("/repos/{repo}/branches/{branch}"),
            None,
        )
        .await
    {
        Ok(_) => true,
        Err(GitHubError::NotFound(_)) => false,
        Err(e) => return Err(e.into()),
    };
    if !exists {
        let sha = tag_commit(github, installation, repo, &release.tag_name).await?;
        github
            .request::<serde_json::Value>(
                installation,
                Method::POST,
                &format!("/repos/{repo}/git/refs"),
                Some(&serde_json::json!({ "ref": format!("refs/heads/{branch}"), "sha": sha })),
            )
            .await?;
    }
    let train =
        trains::open_hotfix_train(&ctx.db, repo, &branch, &branch, &release.tag_name, now).await?;
    let next = version.increment(crate::domain::version::Increment::Patch, None);
    Ok(CommandReply::Done(format!(
        "hotfix train {} open on {branch} for {next}{}; pull requests merged into {branch} with \
         the `{}` label board it",
        train.id,
        if exists {
            ""
        } else {
            " (branch created from the release tag)"
        },
        train::HOTFIX_LABEL
    )))
}

#[derive(Deserialize)]
struct PullRequestWire {
    title: String,
    #[serde(default)]
    merged: bool,
    merge_commit_sha: Option<String>,
    merged_at: Option<String>,
    base: BaseWire,
    user: UserWire,
    #[serde(default)]
    labels: Vec<LabelWire>,
}

#[derive(Deserialize)]
struct BaseWire {
    r#ref: String,
}

#[derive(Deserialize)]
struct UserWire {
    login: String,
}

#[derive(Deserialize)]
struct LabelWire {
    name: String,
}

async fn pull_request(
    github: &crate::github::GitHubClient,
    installation: u64,
    repo: &RepoFullName,
    number: u64,
) -> Result<PullRequestWire, JobError> {
    Ok(github
        .request(
            installation,
            Method::GET,
            &format!("/repos/{repo}/pulls/{number}"),
            None,
        )
        .await?)
}

/// The commit a branch points to now.
async fn branch_head(
    github: &crate::github::GitHubClient,
    installation: u64,
    repo: &RepoFullName,
    branch: &str,
) -> Result<String, JobError> {
    #[derive(Deserialize)]
    struct Branch {
        commit: Sha,
    }
    #[derive(Deserialize)]
    struct Sha {
        sha: String,
    }
    let found: Branch = github
        .request(
            installation,
            Method::GET,
            &format!("/repos/{repo}/branches/{branch}"),
            None,
        )
        .await?;
    Ok(found.commit.sha)
}

/// Whether `commit` is `target` or one of its ancestors.
pub async fn contains(
    github: &crate::github::GitHubClient,
    installation: u64,
    repo: &RepoFullName,
    target: &str,
    commit: &str,
) -> Result<bool, JobError> {
    #[derive(Deserialize)]
    struct Comparison {
        status: String,
    }
    let comparison: Comparison = github
        .request(
            installation,
            Method::GET,
            &format!("/repos/{repo}/compare/{commit}...{target}?per_page=1"),
            None,
        )
        .await?;
    Ok(matches!(comparison.status.as_str(), "ahead" | "identical"))
}

async fn delete_draft(
    github: &crate::github::GitHubClient,
    installation: u64,
    repo: &RepoFullName,
    train: &TrainRow,
) -> Result<(), JobError> {
    if let Some(id) = train.draft_release_id {
        match github
            .request_raw(
                installation,
                Method::DELETE,
                &format!("/repos/{repo}/releases/{id}"),
                None,
            )
            .await
        {
            Ok(_) | Err(GitHubError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Tags the frozen commit, publishes the draft and comments on the boarded pull requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseTrain {
    /// The repository.
    pub repository: RepoFullName,
    /// Its installation.
    pub installation: u64,
    /// The approved train.
    pub train_id: i64,
}

impl BackgroundJob for ReleaseTrain {
    const KIND: &'static str = "train.release";
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        self.repository.to_string()
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("release:{}", self.train_id))
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let github = ctx.github()?;
        let repo = &self.repository;
        let installation = self.installation;
        let now = ctx.clock.now().as_millisecond();
        let Some(train) = trains::get(&ctx.db, self.train_id).await? else {
            return Ok(());
        };
        if train.state() != TrainState::Approved {
            return Ok(());
        }
        let (Some(tag), Some(target)) = (train.tag_name.clone(), train.target_sha.clone()) else {
            let reason = "approved without a frozen tag and commit".to_owned();
            block(&ctx, &train, reason).await?;
            return Ok(());
        };
        let config = repo_config::current(&ctx.db, github, installation, repo, now).await?;
        let config = &config.effective.config;
        if train.tag_created_at.is_none() {
            // An annotated tag points the ref at a tag object carrying the notes.
            let points_to = match config.tag_kind() {
                crate::domain::repo_config::TagKind::Lightweight => target.clone(),
                crate::domain::repo_config::TagKind::Annotated => {
                    let (draft, _) = crate::handlers::trains::draft_for(
                        &ctx,
                        github,
                        installation,
                        repo,
                        &train,
                        config,
                    )
                    .await?;
                    let object: serde_json::Value = github
                        .request(
                            installation,
                            Method::POST,
                            &format!("/repos/{repo}/git/tags"),
                            Some(&serde_json::json!({
                                "tag": tag, "message": draft.body, "object": target, "type": "commit",
                            })),
                        )
                        .await?;
                    object["sha"].as_str().unwrap_or_default().to_owned()
                }
            };
            let body = serde_json::json!({ "ref": format!("refs/tags/{tag}"), "sha": points_to });
            match github
                .request::<serde_json::Value>(
                    installation,
                    Method::POST,
                    &format!("/repos/{repo}/git/refs"),
                    Some(&body),
                )
                .await
            {
                Ok(_) => {}
                // GitHub answers 422 when the ref exists: fine if it is at our commit.
                Err(GitHubError::Validation(_)) => {
                    let at = tag_commit(github, installation, repo, &tag).await?;
                    if at != target {
                        let reason = format!(
                            "tag {tag} already exists at {at}, not at the frozen commit {target}"
                        );
                        tracing::warn!(%repo, train = train.id, %reason, "release blocked");
                        block(&ctx, &train, reason).await?;
                        return Ok(());
                    }
                }
                Err(e) => return Err(e.into()),
            }
            trains::mark_step(&ctx.db, train.id, Step::TagCreated, now).await?;
        }
        let mut release_url = String::new();
        if train.published_at.is_none() {
            let Some(release_id) = train.draft_release_id else {
                return Err(JobError::Failed(
                    "the train has no draft release yet; retrying after it is written".into(),
                ));
            };
            let body = serde_json::json!({
                "draft": false,
                "tag_name": tag,
                "target_commitish": target,
                "make_latest": "true",
            });
            let published: serde_json::Value = github
                .request(
                    installation,
                    Method::PATCH,
                    &format!("/repos/{repo}/releases/{release_id}"),
                    Some(&body),
                )
                .await?;
            release_url = published["html_url"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            trains::mark_step(&ctx.db, train.id, Step::Published, now).await?;
        }
        if train.commented_at.is_none() && !config.release_comments() {
            trains::mark_step(&ctx.db, train.id, Step::Commented, now).await?;
        } else if train.commented_at.is_none() {
            let text = if release_url.is_empty() {
                format!("Released in {tag}.")
            } else {
                format!("Released in [{tag}]({release_url}).")
            };
            comment_released(&ctx, github, installation, repo, train.id, &text).await?;
        }
        if trains::transition(
            &ctx.db,
            train.id,
            TrainState::Approved,
            TrainState::Released,
            now,
        )
        .await?
        {
            let url = (!release_url.is_empty()).then_some(release_url);
            ctx.record(
                &train,
                TrainEvent::Released {
                    tag: tag.clone(),
                    url,
                },
            )
            .await?;
        }
        tracing::info!(%repo, train = train.id, %tag, "released");
        Ok(())
    }
}

/// Stops a train with a reason a person has to act on, and tells the channels.
async fn block(ctx: &TrainContext, train: &TrainRow, reason: String) -> Result<(), JobError> {
    trains::block(&ctx.db, train.id, &reason, ctx.now()).await?;
    ctx.record(train, TrainEvent::Blocked { reason }).await
}

/// The commit tag `tag` names (an annotated tag's object is peeled to its commit).
async fn tag_commit(
    github: &crate::github::GitHubClient,
    installation: u64,
    repo: &RepoFullName,
    tag: &str,
) -> Result<String, GitHubError> {
    let found: serde_json::Value = github
        .request(
            installation,
            Method::GET,
            &format!("/repos/{repo}/git/ref/tags/{tag}"),
            None,
        )
        .await?;
    let sha = found["object"]["sha"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if found["object"]["type"] != "tag" {
        return Ok(sha);
    }
    let object: serde_json::Value = github
        .request(
            installation,
            Method::GET,
            &format!("/repos/{repo}/git/tags/{sha}"),
            None,
        )
        .await?;
    Ok(object["object"]["sha"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// Writes `text` on every boarded pull request that has no release comment yet, recording
/// each, then records the step: a retry comments only where it had not.
async fn comment_released(
    ctx: &TrainContext,
    github: &crate::github::GitHubClient,
    installation: u64,
    repo: &RepoFullName,
    train_id: i64,
    text: &str,
) -> Result<(), JobError> {
    let done = trains::commented(&ctx.db, train_id).await?;
    for p in trains::passengers(&ctx.db, train_id).await? {
        let number = p.number as u64;
        if done.contains(&number) {
            continue;
        }
        let id = github
            .create_comment(installation, repo, number, text)
            .await?;
        trains::record_release_comment(&ctx.db, train_id, number, id).await?;
    }
    let now = ctx.clock.now().as_millisecond();
    trains::mark_step(&ctx.db, train_id, Step::Commented, now).await?;
    Ok(())
}

/// A maintainer published a train's draft on GitHub: that approves and releases the train,
/// provided GitHub tagged the frozen commit (it tags the target branch's head when the draft
/// names a branch, which may have moved since the cut).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DraftPublishedByHand {
    /// The repository.
    pub repository: RepoFullName,
    /// Its installation.
    pub installation: u64,
    /// The published release.
    pub release_id: u64,
    /// Its tag.
    pub tag_name: String,
    /// Its web page.
    pub url: String,
    /// Who published it.
    pub publisher: String,
}

impl BackgroundJob for DraftPublishedByHand {
    const KIND: &'static str = "train.published_by_hand";
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        self.repository.to_string()
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let github = ctx.github()?;
        let repo = &self.repository;
        let now = ctx.clock.now().as_millisecond();
        let candidates = trains::in_states(
            &ctx.db,
            repo,
            &[TrainState::Open, TrainState::Frozen, TrainState::Approved],
        )
        .await?;
        let Some(train) = candidates
            .into_iter()
            .find(|t| t.draft_release_id == Some(self.release_id as i64))
        else {
            // Not a train's draft: somebody else's release.
            return Ok(());
        };
        let at = tag_commit(github, self.installation, repo, &self.tag_name).await?;
        if let Some(target) = &train.target_sha
            && &at != target
        {
            let reason = format!(
                "{} published the draft by hand and GitHub tagged {} at {at}, the moved \
                     branch head, not the frozen commit {target}",
                self.publisher, self.tag_name
            );
            tracing::warn!(%repo, train = train.id, %reason, "train blocked");
            block(&ctx, &train, reason).await?;
            return Ok(());
        }
        trains::mark_step(&ctx.db, train.id, Step::TagCreated, now).await?;
        trains::mark_step(&ctx.db, train.id, Step::Published, now).await?;
        let config = repo_config::current(&ctx.db, github, self.installation, repo, now).await?;
        if config.effective.config.release_comments() {
            let text = format!("Released in [{}]({}).", self.tag_name, self.url);
            comment_released(&ctx, github, self.installation, repo, train.id, &text).await?;
        } else {
            trains::mark_step(&ctx.db, train.id, Step::Commented, now).await?;
        }
        if trains::transition(&ctx.db, train.id, train.state(), TrainState::Released, now).await? {
            let released = TrainEvent::Released {
                tag: self.tag_name.clone(),
                url: Some(self.url.clone()),
            };
            ctx.record(&train, released).await?;
        }
        tracing::info!(%repo, train = train.id, tag = %self.tag_name, publisher = %self.publisher, "released by publishing the draft");
        Ok(())
    }
}

/// Checks every configured schedule and cuts the lines whose slot is due; each slot fires
/// once across replicas (the slot row is claimed first).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScheduledCuts;

impl BackgroundJob for ScheduledCuts {
    const KIND: &'static str = "train.scheduled_cuts";
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        "schedule".to_owned()
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(Self::KIND.to_owned())
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let now = ctx.clock.now();
        let now_ms = now.as_millisecond();
        for (repository, path, text) in crate::store::repo_configs::all_with_text(&ctx.db).await? {
            let Ok(repo) = RepoFullName::parse(&repository) else {
                continue;
            };
            let Ok(config) = crate::domain::repo_config::RepoConfig::from_file(&path, &text) else {
                continue;
            };
            for line in config.lines() {
                let Some(expression) = &line.schedule else {
                    continue;
                };
                let Ok(cron) = crate::domain::schedule::Cron::parse(expression) else {
                    continue;
                };
                let zone = line
                    .timezone
                    .as_deref()
                    .and_then(|z| jiff::tz::TimeZone::get(z).ok())
                    .unwrap_or(jiff::tz::TimeZone::UTC);
                if let Some(lead) = line
                    .reminder
                    .as_deref()
                    .and_then(|l| crate::domain::schedule::parse_lead(l).ok())
                    && let Some(slot) =
                        crate::domain::schedule::due_reminder(&cron, &zone, now, lead)
                {
                    remind(&ctx, &repo, &line.name, slot).await?;
                }
                // The expression with its zone: a changed zone is a changed schedule.
                let watched = format!("{expression} {}", zone.iana_name().unwrap_or("UTC"));
                // Seen from the start of this minute: the scheduler ticks once a minute, so a
                // slot of this minute still belongs to a schedule first seen during it.
                let minute = now_ms - now_ms.rem_euclid(60_000);
                let since =
                    trains::schedule_seen_since(&ctx.db, &repo, &line.name, &watched, minute)
                        .await?;
                let Some(slot) = crate::domain::schedule::due_slot(&cron, &zone, now)
                    .filter(|slot| slot.as_millisecond() >= since)
                else {
                    continue;
                };
                if !trains::claim_slot(
                    &ctx.db,
                    &repo,
                    &line.name,
                    slot.as_millisecond(),
                    now.as_millisecond(),
                )
                .await?
                {
                    continue;
                }
                let Some(installation) =
                    crate::store::installations::for_repository(&ctx.db, &repo).await?
                else {
                    tracing::warn!(%repo, line = %line.name, "scheduled cut skipped: no installation known");
                    continue;
                };
                tracing::info!(%repo, line = %line.name, %slot, "scheduled cut");
                ctx.queue
                    .enqueue_now(&RunTrainCommand {
                        repository: repo.clone(),
                        installation,
                        line: Some(line.name.clone()),
                        actor: SCHEDULE_ACTOR.to_owned(),
                        command: TrainCommand::Cut,
                        command_id: format!("schedule:{}:{}", line.name, slot.as_millisecond()),
                        by_schedule: true,
                        reply_to: None,
                        train_id: None,
                        expect_version: None,
                    })
                    .await?;
            }
        }
        Ok(())
    }
}

/// Tells the line's channels that a scheduled cut is coming, once per slot across replicas.
/// A line with nothing on board yet is reminded too: the reminder is the moment to label.
async fn remind(
    ctx: &TrainContext,
    repo: &RepoFullName,
    line: &str,
    slot: jiff::Timestamp,
) -> Result<(), JobError> {
    let now = ctx.now();
    if !trains::claim_reminder(&ctx.db, repo, line, slot.as_millisecond(), now).await? {
        return Ok(());
    }
    let open = trains::in_states(&ctx.db, repo, &[TrainState::Open])
        .await?
        .into_iter()
        .find(|t| t.line == line);
    let passengers = match &open {
        Some(train) => trains::passengers(&ctx.db, train.id).await?.len(),
        None => 0,
    };
    let event = TrainEvent::CutReminder {
        cut_at: slot.as_millisecond(),
        passengers,
    };
    let train_id = open.map(|t| t.id);
    crate::handlers::notifications::announce(
        &ctx.db, &ctx.queue, repo, line, train_id, &event, now,
    )
    .await?;
    tracing::info!(%repo, line, %slot, "scheduled cut reminder");
    Ok(())
}

/// Who a scheduled cut is recorded as.
pub const SCHEDULE_ACTOR: &str = "trainyard-schedule";

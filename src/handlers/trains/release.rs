//! The release of an approved train, as recorded steps: the tag at the frozen commit, the
//! draft published, a "Released in" comment on each pull request, then the train released.
//! Each step is recorded when done and found again on GitHub after a crash (the tag by its
//! ref, the comments by their rows), so a retry never repeats one.

use serde::{Deserialize, Serialize};

use crate::domain::ids::RepoFullName;
use crate::domain::repo_config::TagKind;
use crate::domain::train::{CommandFacts, TrainCommand, TrainState, TrainView, Transition, decide};
use crate::domain::train_event::TrainEvent;
use crate::github::GitHubClient;
use crate::github::git::RefCreated;
use crate::handlers::deploys as deployments;
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::effects::comment_once;
use crate::handlers::kit::links::release_page;
use crate::handlers::kit::unit::UnitOfWork;
use crate::handlers::trains::draft_for;
use crate::jobs::{BackgroundJob, JobError};
use crate::store::audit::{self, Entry};
use crate::store::release_snapshots;
use crate::store::trains::{self, Step, TrainRow};

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
    const PRIORITY: crate::jobs::Priority = crate::jobs::Priority::Urgent;
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        self.repository.to_string()
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("release:{}", self.train_id))
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let github = ctx.github()?;
        let Some(train) = trains::get(&ctx.db, self.train_id).await? else {
            return Ok(());
        };
        if train.state() != TrainState::Approved {
            return Ok(());
        }
        let (Some(tag), Some(target)) = (train.tag_name.clone(), train.target_sha.clone()) else {
            return block(
                &ctx,
                &train,
                "approved without a frozen tag and commit".into(),
            )
            .await;
        };
        if train.tag_created_at.is_none() && !self.tag(&ctx, github, &train, &tag, &target).await? {
            return Ok(());
        }
        if train.published_at.is_none() {
            let Some(release_id) = train.draft_release_id else {
                return Err(JobError::Failed(
                    "the train has no draft release yet; retrying after it is written".into(),
                ));
            };
            github
                .publish_release(
                    self.installation,
                    &self.repository,
                    release_id as u64,
                    &tag,
                    &target,
                )
                .await?;
            // The kept list of releases still shows this one as a draft: the next train's
            // version must count it as released, without waiting for GitHub's webhook.
            release_snapshots::invalidate(&ctx.db, &self.repository).await?;
            let entry = Entry::effect(
                self.repository.as_ref(),
                "github.release",
                format!("published release {release_id} as {tag}"),
            );
            step(&ctx, &train, Step::Published, entry).await?;
        }
        // The release's page by its tag: the same on every attempt, whichever step a retry
        // starts from.
        let url = release_page(&ctx.server_url, &self.repository, &tag);
        if train.commented_at.is_none() {
            let text = format!("Released in [{tag}]({url}).");
            comment_released(
                &ctx,
                github,
                self.installation,
                &self.repository,
                &train,
                &text,
            )
            .await?;
        }
        let event = TrainEvent::Released {
            tag: tag.clone(),
            url: Some(url),
        };
        released(&ctx, &train, self.installation, TrainState::Approved, event).await?;
        tracing::info!(repo = %self.repository, train = train.id, %tag, "released");
        Ok(())
    }
}

impl ReleaseTrain {
    /// Creates the tag at the frozen commit and records the step; `false` when the train is
    /// blocked instead (the tag exists at another commit).
    async fn tag(
        &self,
        ctx: &TrainContext,
        github: &GitHubClient,
        train: &TrainRow,
        tag: &str,
        target: &str,
    ) -> Result<bool, JobError> {
        let (repo, installation) = (&self.repository, self.installation);
        let config = ctx.config(installation, repo).await?;
        let config = &config.effective.config;
        // An annotated tag points the ref at a tag object carrying the notes.
        let points_to = match config.tag_kind() {
            TagKind::Lightweight => target.to_owned(),
            TagKind::Annotated => {
                let (draft, _) = draft_for(ctx, github, installation, repo, train, config).await?;
                github
                    .create_tag_object(installation, repo, tag, &draft.body, target)
                    .await?
            }
        };
        match github
            .create_ref(installation, repo, &format!("tags/{tag}"), &points_to)
            .await?
        {
            RefCreated::Created => {}
            RefCreated::Exists { commit } if commit == target => {}
            RefCreated::Exists { commit } => {
                let reason = format!(
                    "tag {tag} already exists at {commit}, not at the frozen commit {target}"
                );
                tracing::warn!(%repo, train = train.id, %reason, "release blocked");
                block(ctx, train, reason).await?;
                return Ok(false);
            }
        }
        let entry = Entry::effect(
            repo.as_ref(),
            "github.tag",
            format!("tag {tag} at {target}"),
        );
        step(ctx, train, Step::TagCreated, entry).await?;
        Ok(true)
    }
}

/// Records a finished release step.
/// Records a release step done and audits the effect on GitHub, together.
async fn step(
    ctx: &TrainContext,
    train: &TrainRow,
    step: Step,
    entry: Entry,
) -> Result<(), JobError> {
    let now = ctx.now();
    let mut tx = ctx.db.begin_write().await?;
    trains::mark_step(&mut tx, train.id, step, now).await?;
    let key = format!("effect:train:{}:{step:?}", train.id);
    audit::record(
        &mut tx,
        &entry.on_train(&train.line, train.id).once(key),
        now,
    )
    .await?;
    tx.commit()
        .await
        .map_err(|e| JobError::Failed(format!("cannot record the release step: {e}")))?;
    Ok(())
}

/// Moves the train from `from` to released and announces it, together.
async fn released(
    ctx: &TrainContext,
    train: &TrainRow,
    installation: u64,
    from: TrainState,
    event: TrainEvent,
) -> Result<(), JobError> {
    let repo =
        RepoFullName::parse(&train.repository).map_err(|e| JobError::Permanent(e.to_string()))?;
    // What follows a release, read before its transaction (the store may have a single
    // connection): the `auto` environments' deployments and the changelog.
    let config = match ctx.github.as_ref() {
        Some(_github) => Some(ctx.config(installation, &repo).await?),
        None => None,
    };
    let config = config.as_ref().map(|c| &c.effective.config);
    let changelog = config.is_some_and(|c| c.changelog().is_some());
    // The `auto` environments, decided by the same rules as a command.
    let mut automatic = Vec::new();
    if let (Some(config), Some(release)) = (config, crate::handlers::deploys::release_of(train)) {
        let environments = config.automatic_environments();
        automatic = deployments::decide_automatic(
            &ctx.db,
            ctx.now(),
            config,
            &repo,
            &release,
            deployments::Standing::Released,
            &environments,
            None,
        )
        .await?;
    }
    let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, ctx.now()).await?;
    let now = unit.now();
    if trains::transition(unit.conn(), train.id, from, TrainState::Released, now).await? {
        unit.announce(train, &event).await?;
        if changelog {
            unit.enqueue(&crate::handlers::changelog::UpdateChangelog {
                repository: repo.clone(),
                installation,
                train_id: train.id,
            })
            .await?;
        }
        // The `auto` environments' deployments are asked for in the same step.
        let occasion = deployments::Occasion {
            key: train.id.to_string(),
            why: "on publishing".into(),
            surface: "trainyard",
        };
        deployments::apply_automatic(&mut unit, &repo, installation, &occasion, automatic).await?;
    }
    unit.commit().await
}

/// Stops a train with a reason a person has to act on, and tells the channels.
pub(crate) async fn block(
    ctx: &TrainContext,
    train: &TrainRow,
    reason: String,
) -> Result<(), JobError> {
    let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, ctx.now()).await?;
    let now = unit.now();
    trains::block(unit.conn(), train.id, &reason, now).await?;
    unit.announce(train, &TrainEvent::Blocked { reason })
        .await?;
    unit.commit().await
}

/// Writes `text` on every boarded pull request that has no release comment yet, recording
/// each, then records the step: a retry comments only where it had not. Repositories that
/// turned the comments off only record the step.
async fn comment_released(
    ctx: &TrainContext,
    github: &GitHubClient,
    installation: u64,
    repo: &RepoFullName,
    train: &TrainRow,
    text: &str,
) -> Result<(), JobError> {
    let config = ctx.config(installation, repo).await?;
    if config.effective.config.release_comments() {
        let done = trains::commented(&ctx.db, train.id).await?;
        for p in trains::passengers(&ctx.db, train.id).await? {
            let number = p.number as u64;
            if done.contains(&number) {
                continue;
            }
            let key = format!("release-comment:{}:{number}", train.id);
            let id = comment_once(
                &ctx.db,
                github,
                installation,
                repo,
                number,
                &key,
                text,
                ctx.now(),
            )
            .await?;
            let mut conn = ctx.db.conn().await?;
            trains::record_release_comment(&mut conn, train.id, number, id).await?;
        }
    }
    // Each comment was audited as it was written.
    let mut conn = ctx.db.conn().await?;
    trains::mark_step(&mut conn, train.id, Step::Commented, ctx.now()).await?;
    Ok(())
}

/// Deletes an ended train's draft release; one already gone counts as deleted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteDraft {
    /// The repository.
    pub repository: RepoFullName,
    /// Its installation.
    pub installation: u64,
    /// The draft.
    pub release_id: u64,
}

impl BackgroundJob for DeleteDraft {
    const KIND: &'static str = "train.delete_draft";
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        self.repository.to_string()
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("delete-release:{}", self.release_id))
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let deleted = ctx
            .github()?
            .delete_release(self.installation, &self.repository, self.release_id)
            .await;
        release_snapshots::invalidate(&ctx.db, &self.repository).await?;
        deleted?;
        let entry = Entry::effect(
            self.repository.as_ref(),
            "github.draft_deleted",
            format!("deleted draft release {}", self.release_id),
        )
        .once(format!("effect:delete-release:{}", self.release_id));
        audit::record_alone(&ctx.db, &entry, ctx.now()).await?;
        Ok(())
    }
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
    const PRIORITY: crate::jobs::Priority = crate::jobs::Priority::Urgent;
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        self.repository.to_string()
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let github = ctx.github()?;
        let repo = &self.repository;
        let live = [TrainState::Open, TrainState::Frozen, TrainState::Approved];
        let Some(train) = trains::in_states(&ctx.db, repo, &live)
            .await?
            .into_iter()
            .find(|t| t.draft_release_id == Some(self.release_id as i64))
        else {
            // Not a train's draft: somebody else's release.
            return Ok(());
        };
        // Publishing counts as the publisher's approval, under the rules of any approval;
        // when it does not release the train, the release is put back to draft.
        if train.state() != TrainState::Approved && !self.approves(&ctx, github, &train).await? {
            return Ok(());
        }
        let tag_ref = format!("tags/{}", self.tag_name);
        let at = github
            .ref_commit(self.installation, repo, &tag_ref)
            .await?
            .unwrap_or_default();
        if let Some(target) = &train.target_sha
            && &at != target
        {
            let reason = format!(
                "{} published the draft by hand and GitHub tagged {} at {at}, the moved \
                 branch head, not the frozen commit {target}",
                self.publisher, self.tag_name
            );
            tracing::warn!(%repo, train = train.id, %reason, "train blocked");
            return block(&ctx, &train, reason).await;
        }
        // GitHub made the tag and the release, for the publisher.
        let by_hand = |action: &str, detail: String| Entry {
            actor_login: self.publisher.clone(),
            surface: "github".into(),
            ..Entry::effect(repo.as_ref(), action, detail)
        };
        let tag_entry = by_hand("github.tag", format!("tag {} at {at}", self.tag_name));
        step(&ctx, &train, Step::TagCreated, tag_entry).await?;
        let detail = format!(
            "release {} published by hand as {}",
            self.release_id, self.tag_name
        );
        step(
            &ctx,
            &train,
            Step::Published,
            by_hand("github.release", detail),
        )
        .await?;
        let text = format!("Released in [{}]({}).", self.tag_name, self.url);
        comment_released(&ctx, github, self.installation, repo, &train, &text).await?;
        let event = TrainEvent::Released {
            tag: self.tag_name.clone(),
            url: Some(self.url.clone()),
        };
        released(&ctx, &train, self.installation, TrainState::Approved, event).await?;
        tracing::info!(%repo, train = train.id, tag = %self.tag_name, publisher = %self.publisher, "released by publishing the draft");
        Ok(())
    }
}

impl DraftPublishedByHand {
    /// Takes the publication as the publisher's approval of a cut train; `true` when that
    /// approved the train (it is `approved` now). Otherwise the release is put back to draft
    /// and the channels are told why.
    async fn approves(
        &self,
        ctx: &TrainContext,
        github: &GitHubClient,
        train: &TrainRow,
    ) -> Result<bool, JobError> {
        let (repo, installation) = (&self.repository, self.installation);
        let config = ctx.config(installation, repo).await?;
        let config = &config.effective.config;
        if !config.publishing_approves() {
            let reason = "publishing the draft does not approve on this repository \
                          (approvals.publishing-approves: false); approve with `/release approve`";
            return self.undo(ctx, github, train, reason.into()).await;
        }
        let rules = config.approval_rules();
        let permission = github
            .collaborator_permission(installation, repo, &self.publisher)
            .await?;
        let passengers = trains::passengers(&ctx.db, train.id).await?;
        let boarded: Vec<u64> = passengers.iter().map(|p| p.number as u64).collect();
        let approvals = trains::approvals(&ctx.db, train.id).await?;
        // A line with candidates releases the last candidate's commit, by hand too.
        let candidates = crate::store::candidates::of_train(&ctx.db, train.id).await?;
        let line = config.lines().into_iter().find(|l| l.name == train.line);
        let view = TrainView {
            state: train.state(),
            boarded: &boarded,
            cut_by: train.cut_by.as_deref(),
            approvals: &approvals,
            candidates: super::gather::candidates_of(train, line.as_ref(), &candidates),
        };
        let facts = CommandFacts {
            permission: Some(permission),
            ..CommandFacts::default()
        };
        let complete = match decide(
            &view,
            &TrainCommand::Approve,
            &self.publisher,
            &facts,
            &rules,
        ) {
            Ok(Transition::Approved { complete }) => complete,
            Ok(_) => false,
            Err(refusal) => return self.undo(ctx, github, train, refusal.to_string()).await,
        };
        let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, ctx.now()).await?;
        let now = unit.now();
        trains::approve(unit.conn(), train.id, &self.publisher, now).await?;
        let (have, required) = (approvals.len() + 1, rules.required);
        let event = TrainEvent::Approved {
            by: self.publisher.clone(),
            have,
            required,
        };
        unit.announce(train, &event).await?;
        if complete {
            let (from, to) = (TrainState::Frozen, TrainState::Approved);
            trains::transition(unit.conn(), train.id, from, to, now).await?;
        }
        unit.commit().await?;
        if complete {
            return Ok(true);
        }
        let reason = format!(
            "approval {have} of {required} recorded; the train is released after the last one"
        );
        self.undo(ctx, github, train, reason).await
    }

    /// Puts the release back to draft and tells the channels why; always `false`.
    async fn undo(
        &self,
        ctx: &TrainContext,
        github: &GitHubClient,
        train: &TrainRow,
        reason: String,
    ) -> Result<bool, JobError> {
        github
            .unpublish_release(self.installation, &self.repository, self.release_id)
            .await?;
        release_snapshots::invalidate(&ctx.db, &self.repository).await?;
        tracing::info!(repo = %self.repository, train = train.id, publisher = %self.publisher, %reason, "publication by hand undone");
        let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, ctx.now()).await?;
        let event = TrainEvent::PublishUndone {
            by: self.publisher.clone(),
            reason,
        };
        unit.announce(train, &event).await?;
        unit.commit().await?;
        Ok(false)
    }
}

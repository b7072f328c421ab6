//! Each permitted command's writes, prepared in one [`UnitOfWork`] that the caller commits
//! together with the command's outcome: the train's state, its events and its follow-up
//! jobs appear at once or not at all. What GitHub must tell first (the branch head, the
//! notes) is asked before the transaction begins.

use crate::domain::candidate;
use crate::domain::repo_config::RepoConfig;
use crate::domain::train::TrainState;
use crate::domain::train_event::TrainEvent;
use crate::github::GitHubClient;
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::unit::UnitOfWork;
use crate::handlers::trains::{RefreshDraft, draft_for};
use crate::jobs::JobError;
use crate::store::candidates::{self, NewCandidate};
use crate::store::trains::{self, Boarding, Cut, TrainRow};

use super::candidate::PublishCandidate;
use super::gather::Facts;
use super::release::{DeleteDraft, ReleaseTrain};
use crate::handlers::kit::command::{CommandReply, Decided, RunTrainCommand, refused};

fn refresh(request: &RunTrainCommand, train_id: i64) -> RefreshDraft {
    RefreshDraft {
        repository: request.repository.clone(),
        installation: request.installation,
        train_id,
    }
}

async fn begin(ctx: &TrainContext) -> Result<UnitOfWork, JobError> {
    UnitOfWork::begin(&ctx.db, &ctx.queue, ctx.now()).await
}

fn done(text: String, unit: UnitOfWork) -> Result<Decided, JobError> {
    Ok((CommandReply::Done(text), Some(unit)))
}

/// Freezes the version and the line's head, and opens the line's next train.
pub(crate) async fn cut(
    ctx: &TrainContext,
    github: &GitHubClient,
    request: &RunTrainCommand,
    facts: &Facts,
    config: &RepoConfig,
) -> Result<Decided, JobError> {
    let (repo, installation, train) = (&request.repository, request.installation, &facts.train);
    let Some(head) = github
        .branch_head(installation, repo, &train.branch)
        .await?
    else {
        return refused(format!("the branch `{}` does not exist", train.branch));
    };
    let (draft, _) = draft_for(ctx, github, installation, repo, train, config).await?;
    let version = draft.resolved_version.clone();
    let tag = crate::domain::train::release_tag(&draft.tag_name, &version);
    let mut unit = begin(ctx).await?;
    let now = unit.now();
    let frozen = Cut {
        version: &version,
        tag_name: &tag,
        target_sha: &head,
        baseline_tag: None,
        cut_by: &request.actor,
    };
    if !trains::freeze(unit.conn(), train.id, &frozen, now).await? {
        return refused("the train was cut meanwhile");
    }
    let event = TrainEvent::Cut {
        version: version.clone(),
        tag: tag.clone(),
        target_sha: head.clone(),
        by: request.actor.clone(),
        passengers: facts.boarded.len(),
        approvals_required: facts.rules.required,
    };
    unit.announce(train, &event).await?;
    // The next train opens at once: PRs merged after the cut ride it.
    trains::open_train(unit.conn(), repo, &facts.line.name, &train.branch, now).await?;
    unit.enqueue(&refresh(request, train.id)).await?;
    // A line that releases candidates makes its first one with the cut.
    let first_candidate = if facts.line.candidates.unwrap_or(false) {
        let frozen = FrozenAt {
            version: &version,
            tag: &tag,
            target_sha: &head,
        };
        let number = candidate::next_number(None, config.prerelease_start());
        Some(add_candidate(&mut unit, request, facts, &frozen, number).await?)
    } else {
        None
    };
    let n = facts.boarded.len();
    let mut text = format!(
        "cut {tag} at {} with {n} pull request{}; the next train is open",
        head.get(..7).unwrap_or(&head),
        if n == 1 { "" } else { "s" }
    );
    if let Some(candidate_tag) = first_candidate {
        text.push_str(&format!(
            "; release candidate {candidate_tag} is being tagged and published"
        ));
    }
    done(text, unit)
}

/// What a candidate is cut from: the frozen version, tag and commit.
struct FrozenAt<'a> {
    version: &'a str,
    tag: &'a str,
    target_sha: &'a str,
}

/// Adds candidate `number` of the frozen train in `unit`, announces it and enqueues its tag
/// and pre-release; returns its tag.
async fn add_candidate(
    unit: &mut UnitOfWork,
    request: &RunTrainCommand,
    facts: &Facts,
    frozen: &FrozenAt<'_>,
    number: u64,
) -> Result<String, JobError> {
    let train = &facts.train;
    let version = candidate::version(frozen.version, number);
    let tag = candidate::tag(frozen.tag, frozen.version, number);
    let now = unit.now();
    let added = candidates::add(
        unit.conn(),
        &NewCandidate {
            train_id: train.id,
            number,
            version: &version,
            tag_name: &tag,
            target_sha: frozen.target_sha,
            passengers: &facts.boarded,
            created_by: &request.actor,
        },
        now,
    )
    .await?;
    if !added {
        return Err(JobError::Failed(format!(
            "release candidate {tag} was cut meanwhile"
        )));
    }
    let event = TrainEvent::Candidate {
        tag: tag.clone(),
        target_sha: frozen.target_sha.to_owned(),
        by: request.actor.clone(),
    };
    unit.announce(train, &event).await?;
    unit.enqueue(&PublishCandidate {
        repository: request.repository.clone(),
        installation: request.installation,
        train_id: train.id,
        number,
    })
    .await?;
    Ok(tag)
}

/// Tags and publishes the frozen commit as the train's next release candidate; the train
/// stays frozen.
pub(crate) async fn candidate(
    ctx: &TrainContext,
    request: &RunTrainCommand,
    facts: &Facts,
    config: &RepoConfig,
) -> Result<Decided, JobError> {
    let train = &facts.train;
    let (Some(version), Some(tag), Some(target_sha)) =
        (&train.version, &train.tag_name, &train.target_sha)
    else {
        return refused("the train has no frozen version and commit");
    };
    let last = facts.candidates.last().map(|c| c.number as u64);
    let number = candidate::next_number(last, config.prerelease_start());
    let mut unit = begin(ctx).await?;
    let frozen = FrozenAt {
        version,
        tag,
        target_sha,
    };
    let candidate_tag = add_candidate(&mut unit, request, facts, &frozen, number).await?;
    done(
        format!(
            "release candidate {candidate_tag} at {}: tagging and publishing a pre-release",
            target_sha.get(..7).unwrap_or(target_sha)
        ),
        unit,
    )
}

/// Puts a fix merged after the frozen commit on a train with candidates: the frozen commit
/// moves to its merge commit, and it leaves the line's open train if it had boarded that.
pub(crate) async fn include_moving_target(
    ctx: &TrainContext,
    request: &RunTrainCommand,
    facts: &Facts,
    number: u64,
) -> Result<Decided, JobError> {
    let Some(pr) = &facts.pull_request else {
        return refused(format!("#{number} could not be read from GitHub"));
    };
    let Some(merge_sha) = pr.merge_commit_sha.as_deref() else {
        return refused(format!("#{number} has no merge commit"));
    };
    let train = &facts.train;
    let mut unit = begin(ctx).await?;
    let now = unit.now();
    if !trains::move_target(unit.conn(), train.id, merge_sha, now).await? {
        return refused("the train changed meanwhile; look at its status and try again");
    }
    if let Some(open) = &facts.other_open
        && trains::leave(unit.conn(), open.id, number, now).await?
    {
        unit.announce(open, &TrainEvent::Left { number }).await?;
        unit.enqueue(&refresh(request, open.id)).await?;
    }
    let boarding = Boarding {
        number,
        title: &pr.title,
        author: Some(&pr.author),
        merge_sha: Some(merge_sha),
        merged_at: pr.merged_at.as_deref(),
        labels: &pr.labels,
        body: pr.body.as_deref().unwrap_or_default(),
        changed_files: None,
    };
    trains::board(unit.conn(), train.id, &boarding, now).await?;
    let event = TrainEvent::TargetMoved {
        number,
        target_sha: merge_sha.to_owned(),
    };
    unit.announce(train, &event).await?;
    unit.enqueue(&refresh(request, train.id)).await?;
    done(
        format!(
            "#{number} is on the train; its frozen commit moved to {}: `rc` tags the next \
             release candidate there",
            merge_sha.get(..7).unwrap_or(merge_sha)
        ),
        unit,
    )
}

/// Records an approval; the last one needed approves the train and starts its release.
pub(crate) async fn approve(
    ctx: &TrainContext,
    request: &RunTrainCommand,
    facts: &Facts,
    complete: bool,
) -> Result<Decided, JobError> {
    let train = &facts.train;
    let mut unit = begin(ctx).await?;
    let now = unit.now();
    if !trains::approve(unit.conn(), train.id, &request.actor, now).await? {
        return refused(format!("{} has approved already", request.actor));
    }
    let have = facts.approvals.len() + 1;
    let required = facts.rules.required;
    let event = TrainEvent::Approved {
        by: request.actor.clone(),
        have,
        required,
    };
    unit.announce(train, &event).await?;
    if !complete {
        return done(format!("approval {have} of {required} recorded"), unit);
    }
    let (from, to) = (TrainState::Frozen, TrainState::Approved);
    if !trains::transition(unit.conn(), train.id, from, to, now).await? {
        return refused("the train changed meanwhile; look at its status and try again");
    }
    unit.enqueue(&ReleaseTrain {
        repository: request.repository.clone(),
        installation: request.installation,
        train_id: train.id,
    })
    .await?;
    let tag = train.tag_name.as_deref().unwrap_or("the train");
    done(format!("approved; releasing {tag}"), unit)
}

/// Sends a frozen train back to open; when the line has opened another train since, its
/// pull requests join that one and the rejected train (and its draft) is ended.
pub(crate) async fn reject(
    ctx: &TrainContext,
    request: &RunTrainCommand,
    facts: &Facts,
) -> Result<Decided, JobError> {
    let train = &facts.train;
    let reason = match &request.command {
        crate::domain::train::TrainCommand::Reject { reason } => reason.as_str(),
        _ => "",
    };
    let mut unit = begin(ctx).await?;
    let now = unit.now();
    let event = TrainEvent::Rejected {
        by: request.actor.clone(),
        reason: reason.to_owned(),
    };
    unit.announce(train, &event).await?;
    if facts.other_open.is_none() && trains::reopen(unit.conn(), train.id, reason, now).await? {
        unit.enqueue(&refresh(request, train.id)).await?;
        return done(
            format!("rejected ({reason}); the train is open again for a re-cut"),
            unit,
        );
    }
    let next = trains::open_train(
        unit.conn(),
        &request.repository,
        &facts.line.name,
        &train.branch,
        now,
    )
    .await?;
    for p in &facts.passengers {
        let labels: Vec<String> = p.labels.to_vec();
        let files = p.changed_files.as_ref().map(|_| p.files());
        let boarding = Boarding {
            number: p.number as u64,
            title: &p.title,
            author: p.author.as_deref(),
            merge_sha: p.merge_sha.as_deref(),
            merged_at: p.merged_at.as_deref(),
            labels: &labels,
            body: &p.body,
            changed_files: files.as_deref(),
        };
        trains::board(unit.conn(), next.id, &boarding, now).await?;
    }
    let (from, to) = (TrainState::Frozen, TrainState::Abandoned);
    if !trains::transition(unit.conn(), train.id, from, to, now).await? {
        return refused("the train changed meanwhile; look at its status and try again");
    }
    delete_draft(&mut unit, request, train).await?;
    unit.enqueue(&refresh(request, next.id)).await?;
    done(
        format!("rejected ({reason}); its pull requests joined the open train"),
        unit,
    )
}

/// Puts a merged pull request on the train.
pub(crate) async fn include(
    ctx: &TrainContext,
    request: &RunTrainCommand,
    facts: &Facts,
    number: u64,
) -> Result<Decided, JobError> {
    let Some(pr) = &facts.pull_request else {
        return refused(format!("#{number} could not be read from GitHub"));
    };
    let train = &facts.train;
    let mut unit = begin(ctx).await?;
    let now = unit.now();
    let boarding = Boarding {
        number,
        title: &pr.title,
        author: Some(&pr.author),
        merge_sha: pr.merge_commit_sha.as_deref(),
        merged_at: pr.merged_at.as_deref(),
        labels: &pr.labels,
        body: pr.body.as_deref().unwrap_or_default(),
        changed_files: None,
    };
    if trains::board(unit.conn(), train.id, &boarding, now).await? {
        let title = pr.title.clone();
        unit.announce(train, &TrainEvent::Boarded { number, title })
            .await?;
    }
    unit.enqueue(&refresh(request, train.id)).await?;
    done(format!("#{number} is on the train"), unit)
}

/// Takes a pull request off the train.
pub(crate) async fn exclude(
    ctx: &TrainContext,
    request: &RunTrainCommand,
    facts: &Facts,
    number: u64,
) -> Result<Decided, JobError> {
    let train = &facts.train;
    let mut unit = begin(ctx).await?;
    let now = unit.now();
    if trains::leave(unit.conn(), train.id, number, now).await? {
        unit.announce(train, &TrainEvent::Left { number }).await?;
    }
    unit.enqueue(&refresh(request, train.id)).await?;
    // Leaving the notes does not take the code out of a frozen commit.
    let text = if facts.uses_candidates && train.state() == TrainState::Frozen {
        format!(
            "#{number} left the train's notes; its code stays in the frozen commit until a \
             revert is merged and included"
        )
    } else {
        format!("#{number} left the train")
    };
    done(text, unit)
}

/// Ends the train without a release; its draft is deleted after the commit.
pub(crate) async fn abandon(
    ctx: &TrainContext,
    request: &RunTrainCommand,
    facts: &Facts,
) -> Result<Decided, JobError> {
    let train = &facts.train;
    let mut unit = begin(ctx).await?;
    let now = unit.now();
    let (from, to) = (train.state(), TrainState::Abandoned);
    if !trains::transition(unit.conn(), train.id, from, to, now).await? {
        return refused("the train changed meanwhile; look at its status and try again");
    }
    delete_draft(&mut unit, request, train).await?;
    let by = request.actor.clone();
    unit.announce(train, &TrainEvent::Abandoned { by }).await?;
    done("the train was abandoned".into(), unit)
}

/// Deletes an ended train's draft release (a step of its own, found again by its id).
async fn delete_draft(
    unit: &mut UnitOfWork,
    request: &RunTrainCommand,
    train: &TrainRow,
) -> Result<(), JobError> {
    let Some(release_id) = train.draft_release_id else {
        return Ok(());
    };
    unit.enqueue(&DeleteDraft {
        repository: request.repository.clone(),
        installation: request.installation,
        release_id: release_id as u64,
    })
    .await
}

//! Trains behind the queue: merged and (un)labelled pull requests board or leave their line's
//! train, and each live train keeps exactly one draft release whose generated part follows
//! its passengers (maintainers' highlights above the marker are kept).

use serde::{Deserialize, Serialize};

use crate::domain::event::{PullRequestAction, PullRequestEvent};
use crate::domain::ids::RepoFullName;
use crate::domain::notes::categorize::Categorizer;
use crate::domain::notes::releases::{self};
use crate::domain::train::{self, Boarding, BoardingFacts, BoardingRules, TrainState};
use crate::domain::train_event::TrainEvent;
use crate::github::GitHubClient;
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::unit::UnitOfWork;
use crate::handlers::trains::RefreshDraft;
use crate::jobs::{BackgroundJob, JobError};
use crate::store::trains;

/// A pull request event, seen by the trains: it may board, or leave, a line's train.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BoardPullRequest {
    /// Its installation.
    pub installation: u64,
    /// The event.
    pub event: PullRequestEvent,
}

impl BoardPullRequest {
    /// Whether an event can change boarding at all.
    pub fn concerns(event: &PullRequestEvent) -> bool {
        event.pull_request.merged
            && matches!(
                event.action,
                PullRequestAction::Merged
                    | PullRequestAction::Labeled { .. }
                    | PullRequestAction::Unlabeled { .. }
                    | PullRequestAction::Edited
            )
    }
}

impl BackgroundJob for BoardPullRequest {
    const KIND: &'static str = "train.board";
    type Context = TrainContext;

    /// A repository's boarding runs in event order with its other events.
    fn queue_key(&self) -> String {
        self.event.repository.to_string()
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let github = ctx.github()?;
        let (mut plans, files) = self.plan_lines(&ctx, github).await?;
        plans.extend(self.plan_hotfixes(&ctx).await?);
        if plans.is_empty() {
            return Ok(());
        }
        self.apply(&ctx, plans, files.as_deref()).await
    }
}

/// What one event does to one train.
#[derive(Debug)]
enum BoardingPlan {
    /// Board (or refresh the details of) a train that exists.
    Board(trains::TrainRow),
    /// Board the line's open train, opened if there is none.
    BoardOpen {
        /// The line.
        line: String,
        /// Its branch.
        branch: String,
    },
    /// Take the pull request off the train.
    Leave(trains::TrainRow),
}

impl BoardPullRequest {
    /// Decides, for each configured line, whether the pull request boards or leaves: reads
    /// only (the store, and GitHub for path-scoped lines and frozen ranges). Also returns the
    /// pull request's changed files when a line or the notes use them: read once, at most,
    /// for all lines and kept with the passenger.
    async fn plan_lines(
        &self,
        ctx: &TrainContext,
        github: &GitHubClient,
    ) -> Result<(Vec<BoardingPlan>, Option<Vec<String>>), JobError> {
        let (event, repo, pr) = (
            &self.event,
            &self.event.repository,
            &self.event.pull_request,
        );
        let config = ctx.config(self.installation, repo).await?;
        let default_branch = event.default_branch.as_deref().unwrap_or("main");
        let mut plans = Vec::new();
        let mut read_files: Option<Vec<String>> = None;
        for line in config.effective.config.lines() {
            let rules = BoardingRules::of(&line, default_branch);
            let on_line = pr.merged && pr.base_ref == rules.branch;
            let notes_read_files = config
                .effective
                .config
                .line_notes(&line.name)
                .is_ok_and(|notes| Categorizer::new(&notes.categories).needs_changed_files());
            if read_files.is_none() && on_line && (!rules.paths.is_empty() || notes_read_files) {
                read_files = Some(
                    github
                        .pull_request_files(self.installation, repo, pr.number)
                        .await?,
                );
            }
            let files = if rules.paths.is_empty() {
                Vec::new()
            } else {
                read_files.clone().unwrap_or_default()
            };
            let decision = train::boarding(
                &rules,
                &BoardingFacts {
                    merged: pr.merged,
                    base_ref: &pr.base_ref,
                    labels: &pr.labels,
                    changed_files: &files,
                },
            );
            let aboard = trains::live_train_of(&ctx.db, repo, pr.number)
                .await?
                .filter(|t| t.line == line.name);
            match (decision, aboard) {
                // Already on board: keep its details (title, labels) current.
                (Boarding::Boards, Some(train)) => plans.push(BoardingPlan::Board(train)),
                (Boarding::Boards, None) => {
                    plans.push(match self.frozen_home(ctx, github, &line.name).await? {
                        Some(train) => BoardingPlan::Board(train),
                        None => BoardingPlan::BoardOpen {
                            line: line.name.clone(),
                            branch: rules.branch.clone(),
                        },
                    });
                }
                (Boarding::Stays(why), Some(train)) => {
                    tracing::info!(%repo, number = pr.number, train = train.id, why, "pull request leaves the train");
                    plans.push(BoardingPlan::Leave(train));
                }
                (Boarding::Stays(_), None) => {}
            }
        }
        Ok((plans, read_files))
    }

    /// A late label on a PR merged before the cut boards the line's frozen train when its
    /// merge commit is inside the frozen range.
    async fn frozen_home(
        &self,
        ctx: &TrainContext,
        github: &GitHubClient,
        line: &str,
    ) -> Result<Option<trains::TrainRow>, JobError> {
        let (repo, pr) = (&self.event.repository, &self.event.pull_request);
        let Some(sha) = &pr.merge_commit_sha else {
            return Ok(None);
        };
        if matches!(self.event.action, PullRequestAction::Merged) {
            return Ok(None);
        }
        let mut home = None;
        for candidate in trains::in_states(&ctx.db, repo, &[TrainState::Frozen]).await? {
            let Some(target) = candidate.target_sha.clone() else {
                continue;
            };
            if candidate.line == line
                && in_frozen_range(
                    ctx,
                    github,
                    self.installation,
                    repo,
                    &candidate,
                    &target,
                    sha,
                )
                .await?
            {
                home = Some(candidate);
            }
        }
        Ok(home)
    }

    /// Hotfix trains board PRs merged into their release branch with the hotfix label.
    async fn plan_hotfixes(&self, ctx: &TrainContext) -> Result<Vec<BoardingPlan>, JobError> {
        let (repo, pr) = (&self.event.repository, &self.event.pull_request);
        let mut plans = Vec::new();
        for hotfix in trains::in_states(&ctx.db, repo, &[TrainState::Open])
            .await?
            .into_iter()
            .filter(|t| t.is_hotfix() && t.branch == pr.base_ref)
        {
            let rules = BoardingRules {
                branch: hotfix.branch.clone(),
                boarding_label: train::HOTFIX_LABEL.to_owned(),
                include: crate::domain::repo_config::Include::Label,
                skip_label: train::DEFAULT_SKIP_LABEL.to_owned(),
                paths: Vec::new(),
            };
            let facts = BoardingFacts {
                merged: pr.merged,
                base_ref: &pr.base_ref,
                labels: &pr.labels,
                changed_files: &[],
            };
            plans.push(match train::boarding(&rules, &facts) {
                Boarding::Boards => BoardingPlan::Board(hotfix),
                Boarding::Stays(_) => BoardingPlan::Leave(hotfix),
            });
        }
        Ok(plans)
    }

    /// Boards and leaves, records the events and enqueues the draft refreshes, together.
    async fn apply(
        &self,
        ctx: &TrainContext,
        plans: Vec<BoardingPlan>,
        files: Option<&[String]>,
    ) -> Result<(), JobError> {
        let (event, repo) = (&self.event, &self.event.repository);
        let row = boarding_row(event, files);
        let number = event.pull_request.number;
        let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, ctx.now()).await?;
        let now = unit.now();
        for plan in plans {
            let train = match plan {
                BoardingPlan::Leave(train) => {
                    if !trains::leave(unit.conn(), train.id, number, now).await? {
                        continue;
                    }
                    unit.announce(&train, &TrainEvent::Left { number }).await?;
                    train
                }
                BoardingPlan::Board(train) => {
                    if trains::board(unit.conn(), train.id, &row, now).await? {
                        unit.announce(&train, &boarded(event)).await?;
                    }
                    train
                }
                BoardingPlan::BoardOpen { line, branch } => {
                    let train = trains::open_train(unit.conn(), repo, &line, &branch, now).await?;
                    if trains::board(unit.conn(), train.id, &row, now).await? {
                        unit.announce(&train, &boarded(event)).await?;
                        tracing::info!(%repo, number, %line, train = train.id, "pull request boarded");
                    }
                    train
                }
            };
            unit.enqueue(&RefreshDraft {
                repository: repo.clone(),
                installation: self.installation,
                train_id: train.id,
            })
            .await?;
        }
        unit.commit().await
    }
}

/// Whether `sha` lies in a frozen train's range: reachable from its target commit, and not
/// already part of the latest published release of the line.
async fn in_frozen_range(
    ctx: &TrainContext,
    github: &GitHubClient,
    installation: u64,
    repo: &RepoFullName,
    train: &trains::TrainRow,
    target: &str,
    sha: &str,
) -> Result<bool, JobError> {
    if !github
        .compare_contains(installation, repo, target, sha)
        .await?
    {
        return Ok(false);
    }
    let config = ctx.config(installation, repo).await?;
    let notes = config
        .effective
        .config
        .line_notes(&train.line)
        .map_err(|e| JobError::Permanent(e.to_string()))?;
    let all = github.list_releases(installation, repo).await?;
    match releases::find_previous(&all, &notes, &train.branch).last {
        Some(previous) => Ok(!github
            .compare_contains(installation, repo, &previous.tag_name, sha)
            .await?),
        None => Ok(true),
    }
}

fn boarded(event: &PullRequestEvent) -> TrainEvent {
    TrainEvent::Boarded {
        number: event.pull_request.number,
        title: event.pull_request.title.clone(),
    }
}

fn boarding_row<'a>(
    event: &'a PullRequestEvent,
    changed_files: Option<&'a [String]>,
) -> trains::Boarding<'a> {
    let pr = &event.pull_request;
    trains::Boarding {
        number: pr.number,
        title: &pr.title,
        author: Some(&pr.author.login),
        merge_sha: pr.merge_commit_sha.as_deref(),
        merged_at: pr.merged_at.as_deref(),
        labels: &pr.labels,
        body: pr.body.as_deref().unwrap_or_default(),
        changed_files,
    }
}

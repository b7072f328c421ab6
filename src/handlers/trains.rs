//! Trains behind the queue: merged and (un)labelled pull requests board or leave their line's
//! train, and each live train keeps exactly one draft release whose generated part follows
//! its passengers (maintainers' highlights above the marker are kept).

use serde::{Deserialize, Serialize};

use crate::domain::event::{PullRequestAction, PullRequestEvent};
use crate::domain::ids::RepoFullName;
use crate::domain::notes::categorize::Categorizer;
use crate::domain::notes::changes::{Author, PullRequest};
use crate::domain::notes::releases::{self, ReleaseSummary};
use crate::domain::notes::render::{self, CalendarVersioning};
use crate::domain::train::{self, Boarding, BoardingFacts, BoardingRules, TrainState};
use crate::domain::train_event::TrainEvent;
use crate::domain::version::PreviousRelease;
use crate::github::GitHubClient;
use crate::github::notes::ReleaseWrite;
use crate::handlers::drafting::{LineFacts, VersionRules, line_draft};
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::unit::UnitOfWork;
use crate::handlers::repo_config;
use crate::jobs::{BackgroundJob, JobError};
use crate::store::{release_snapshots, trains};

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
        let config = repo_config::current(
            &ctx.db,
            github,
            &ctx.config_reach(),
            self.installation,
            repo,
            ctx.now(),
        )
        .await?;
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
    let config = repo_config::current(
        &ctx.db,
        github,
        &ctx.config_reach(),
        installation,
        repo,
        ctx.now(),
    )
    .await?;
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

/// A train's passengers as the notes engine sees pull requests.
pub fn passenger_pull_requests(
    passengers: &[trains::PassengerRow],
    repo: &RepoFullName,
    branch: &str,
    server_url: &str,
) -> Vec<PullRequest> {
    passengers
        .iter()
        .map(|p| PullRequest {
            number: p.number as u64,
            title: p.title.clone(),
            body: p.body.clone(),
            url: format!("{server_url}/{repo}/pull/{}", p.number),
            author: p.author.as_ref().map(|login| Author {
                login: login.clone(),
                is_bot: false,
                url: format!("{}/{login}", server_url.trim_end_matches('/')),
            }),
            merged_at: p.merged_at.clone().unwrap_or_default(),
            labels: p.labels.to_vec(),
            base_ref_name: branch.to_owned(),
            head_ref_name: String::new(),
            base_repository: repo.to_string(),
            merge_commit: p.merge_sha.clone(),
            changed_files: p.files(),
        })
        .collect()
}

/// A train's draft, through the whole notes engine: its passengers (a cut train keeps its
/// frozen version, a hotfix is the next patch of its base), calendar versions on `calver`
/// lines (today in the line's time zone), the compare link, and — only when the config asks
/// for `include-commits-without-pr` — the commits of the range without a pull request.
pub async fn draft_for(
    ctx: &TrainContext,
    github: &GitHubClient,
    installation: u64,
    repo: &RepoFullName,
    train: &trains::TrainRow,
    config: &crate::domain::repo_config::RepoConfig,
) -> Result<(render::Draft, Vec<ReleaseSummary>), JobError> {
    let notes = config
        .line_notes(&train.line)
        .map_err(|e| JobError::Permanent(e.to_string()))?;
    let all = releases_of(ctx, github, installation, repo).await?;
    let passengers = trains::passengers(&ctx.db, train.id).await?;
    let pull_requests = passenger_pull_requests(&passengers, repo, &train.branch, &ctx.server_url);
    let frozen = train.state() != TrainState::Open;
    let (hotfix_base, hotfix_version) = hotfix_of(train, &notes.tag_prefix);
    let last_release = notes_baseline(&all, &notes, train, hotfix_base.as_deref());
    let baseline = last_release.map(|r| r.tag_name);
    let head = train.target_sha.as_deref().unwrap_or(&train.branch);
    let commits = match baseline {
        Some(base) if notes.include_commits_without_pr => {
            commits_of(github, installation, repo, &notes, base, head).await?
        }
        _ => Vec::new(),
    };
    let calendar = calendar_versioning(ctx, config, &train.line, &notes.tag_prefix, &all);
    let build = |first_contributors: &[String]| {
        line_draft(
            &notes,
            VersionRules::of(config),
            (repo, &ctx.server_url),
            LineFacts {
                pull_requests: &pull_requests,
                commits: &commits,
                baseline: last_release,
                head,
                first_contributors,
                calendar: calendar.clone(),
                // A cut train's version was fixed at the cut; a hotfix's by its base.
                version: if frozen {
                    train.version.as_deref()
                } else {
                    hotfix_version.as_deref()
                },
                ..LineFacts::default()
            },
        )
    };
    let wants_new_contributors = render::wants_new_contributors(&notes);
    if config.notes_engine() == crate::domain::notes::config::NotesEngine::Github {
        // GitHub's exact text, from one call, when it lists exactly the train's pull
        // requests; trainyard's marker and highlights go around it. GitHub needs a tag name
        // (it need not exist yet): the train's, the draft's, or the resolved version's.
        let mut draft = build(&[]);
        let tag = train
            .tag_name
            .clone()
            .filter(|t| !t.is_empty())
            .or_else(|| Some(draft.tag_name.clone()).filter(|t| !t.is_empty()))
            .unwrap_or_else(|| format!("v{}", draft.resolved_version));
        let body = github
            .generate_notes(installation, repo, &tag, head, baseline)
            .await?;
        let listed = render::pull_requests_listed_in(&body, repo.as_ref());
        if listed == draft.listed_numbers {
            let (body, shortened) = render::fit_body(&body);
            draft.body = body;
            draft.shortened = shortened;
            return Ok((draft, all));
        }
        // The train is not the commit range (a pull request excluded, one without the
        // boarding label, a path-scoped line): GitHub's list would be wrong, so trainyard
        // writes the train's own, in the same format when the file is GitHub's release.yml.
        tracing::info!(
            train = train.id,
            github = ?listed,
            train_lists = ?draft.listed_numbers,
            "GitHub's generated notes list other pull requests than the train carries; \
             writing the train's own"
        );
    }
    let first_contributors = if wants_new_contributors {
        github
            .first_contributors(installation, repo, &pull_requests)
            .await?
    } else {
        Vec::new()
    };
    let draft = build(&first_contributors);
    Ok((draft, all))
}

/// What a release candidate's notes cover.
#[derive(Debug, Clone, Copy)]
pub struct CandidateNotes<'a> {
    /// The previous candidate's tag and the pull requests it carried (`None` for the first:
    /// everything since the last final release).
    pub since: Option<(&'a str, &'a [u64])>,
    /// The candidate's version (`2.0.0-rc.2`).
    pub version: &'a str,
    /// The commit it tags.
    pub target: &'a str,
}

/// A release candidate's notes: the train's pull requests that were not on the previous
/// candidate, compared with it (the first candidate: all of them, since the last release).
pub async fn candidate_draft(
    ctx: &TrainContext,
    github: &GitHubClient,
    (installation, repo): (u64, &RepoFullName),
    train: &trains::TrainRow,
    config: &crate::domain::repo_config::RepoConfig,
    candidate: &CandidateNotes<'_>,
) -> Result<render::Draft, JobError> {
    let notes = config
        .line_notes(&train.line)
        .map_err(|e| JobError::Permanent(e.to_string()))?;
    let passengers = trains::passengers(&ctx.db, train.id).await?;
    let mut pull_requests =
        passenger_pull_requests(&passengers, repo, &train.branch, &ctx.server_url);
    let baseline = match candidate.since {
        Some((tag, carried)) => {
            pull_requests.retain(|pr| !carried.contains(&pr.number));
            Some(tag.to_owned())
        }
        None => {
            let all = releases_of(ctx, github, installation, repo).await?;
            let (hotfix_base, _) = hotfix_of(train, &notes.tag_prefix);
            notes_baseline(&all, &notes, train, hotfix_base.as_deref())
                .map(|r| r.tag_name.to_owned())
        }
    };
    let first_contributors = if render::wants_new_contributors(&notes) {
        github
            .first_contributors(installation, repo, &pull_requests)
            .await?
    } else {
        Vec::new()
    };
    Ok(line_draft(
        &notes,
        VersionRules::of(config),
        (repo, &ctx.server_url),
        LineFacts {
            pull_requests: &pull_requests,
            baseline: baseline.as_deref().map(|tag_name| PreviousRelease {
                tag_name,
                name: None,
            }),
            head: candidate.target,
            first_contributors: &first_contributors,
            version: Some(candidate.version),
            ..LineFacts::default()
        },
    ))
}

/// Where a train's notes start: a hotfix's base release, else the line's previous release.
fn notes_baseline<'a>(
    all: &'a [ReleaseSummary],
    notes: &crate::domain::notes::config::NotesConfig,
    train: &trains::TrainRow,
    hotfix_base: Option<&'a str>,
) -> Option<PreviousRelease<'a>> {
    match hotfix_base {
        Some(base) => Some(PreviousRelease {
            tag_name: base,
            name: None,
        }),
        None => releases::find_previous(all, notes, &train.branch)
            .last
            .map(|r| PreviousRelease {
                tag_name: &r.tag_name,
                name: r.name.as_deref(),
            }),
    }
}

/// The repository's releases: the snapshot when one is kept, else listed from GitHub (and
/// kept). Release webhooks, failed writes and publishing drop the snapshot.
pub async fn releases_of(
    ctx: &TrainContext,
    github: &GitHubClient,
    installation: u64,
    repo: &RepoFullName,
) -> Result<Vec<ReleaseSummary>, JobError> {
    if let Some(kept) = release_snapshots::get(&ctx.db, repo).await? {
        return Ok(kept);
    }
    let listed = github.list_releases(installation, repo).await?;
    release_snapshots::put(&ctx.db, repo, &listed, ctx.now()).await?;
    Ok(listed)
}

/// A hotfix train's base release and version: the next patch of the base, whatever its pull
/// requests say. `(None, None)` for other trains.
fn hotfix_of(train: &trains::TrainRow, tag_prefix: &str) -> (Option<String>, Option<String>) {
    let base = train
        .is_hotfix()
        .then(|| train.baseline_tag.clone())
        .flatten();
    let version = base.as_deref().and_then(|base| {
        crate::domain::version::Version::from_tag(base, tag_prefix).map(|v| {
            v.increment(crate::domain::version::Increment::Patch, None)
                .to_string()
        })
    });
    (base, version)
}

/// The commits from `base` to `head` (for lines that list commits without a pull request).
async fn commits_of(
    github: &GitHubClient,
    installation: u64,
    repo: &RepoFullName,
    notes: &crate::domain::notes::config::NotesConfig,
    base: &str,
    head: &str,
) -> Result<Vec<crate::domain::notes::changes::Commit>, JobError> {
    Ok(github
        .comparison(
            installation,
            repo,
            &format!("refs/tags/{base}"),
            head,
            notes.history_limit,
            notes.pull_request_limit,
            |_| {},
        )
        .await?
        .commits)
}

/// Calendar versioning on `calver` lines: today in the line's zone, and the versions
/// already released.
fn calendar_versioning<'a>(
    ctx: &TrainContext,
    config: &crate::domain::repo_config::RepoConfig,
    line: &str,
    tag_prefix: &str,
    all: &'a [ReleaseSummary],
) -> Option<CalendarVersioning<'a>> {
    let scheme = config.calendar()?;
    let today = line_zone(config, line).to_datetime(ctx.clock.now()).date();
    let released = all
        .iter()
        .filter(|r| !r.draft)
        .filter_map(|r| r.tag_name.strip_prefix(tag_prefix))
        .collect();
    Some(CalendarVersioning {
        scheme,
        today,
        released,
    })
}

/// The time zone of a line (UTC unless configured), for its "today".
fn line_zone(config: &crate::domain::repo_config::RepoConfig, line: &str) -> jiff::tz::TimeZone {
    config
        .lines()
        .into_iter()
        .find(|l| l.name == line)
        .and_then(|l| l.timezone)
        .and_then(|z| jiff::tz::TimeZone::get(&z).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC)
}

/// The hidden line that ties a draft release to its train, so a retry after a crash finds
/// the draft it already made instead of making a second one.
pub fn train_marker(train_id: i64) -> String {
    format!("{TRAIN_MARKER_PREFIX}{train_id} -->")
}

/// How every train's marker starts.
const TRAIN_MARKER_PREFIX: &str = "<!-- trainyard:train:";

/// Regenerates a live train's draft release from its passengers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshDraft {
    /// The repository.
    pub repository: RepoFullName,
    /// Its installation.
    pub installation: u64,
    /// The train.
    pub train_id: i64,
}

impl BackgroundJob for RefreshDraft {
    const KIND: &'static str = "train.refresh_draft";
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        self.repository.to_string()
    }

    /// Fifty merges at once need one refresh, not fifty.
    fn dedupe_key(&self) -> Option<String> {
        Some(format!("draft:{}", self.train_id))
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let github = ctx.github()?;
        let repo = &self.repository;
        let now = ctx.now();
        let Some(train) = trains::get(&ctx.db, self.train_id).await? else {
            return Ok(());
        };
        if !train.state().is_live() {
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
        // Only a repository configured by release-drafter's file is moving over from it.
        let moving_over = config
            .effective
            .source
            .as_deref()
            .is_some_and(|path| path.contains("release-drafter.y"));
        let config = &config.effective.config;
        let (draft, all) = draft_for(&ctx, github, self.installation, repo, &train, config).await?;
        let marker = train_marker(train.id);
        let own: Option<&ReleaseSummary> = all.iter().find(|r| {
            r.draft
                && (train.draft_release_id == Some(r.id as i64)
                    || r.body.as_deref().is_some_and(|b| b.contains(&marker)))
        });
        // A team moving over from release-drafter has its last draft on the releases page:
        // the line's first train takes it over, as release-drafter would have updated it,
        // instead of leaving two drafts. Never another train's, never for a hotfix, and never
        // in a repository trainyard.yml configures (a draft there is someone's own).
        let existing = own.or_else(|| {
            if !moving_over || train.is_hotfix() || train.draft_release_id.is_some() {
                return None;
            }
            let notes = config.line_notes(&train.line).ok()?;
            let left = releases::find_previous(&all, &notes, &train.branch).draft?;
            let untracked = !left
                .body
                .as_deref()
                .is_some_and(|b| b.contains(TRAIN_MARKER_PREFIX));
            untracked.then_some(left)
        });
        let passengers = trains::passengers(&ctx.db, train.id).await?;
        let body = train::merge_draft_body(
            existing.and_then(|r| r.body.as_deref()),
            draft.body.trim_end(),
            &format!("\n\n{marker}\n"),
        );
        let write = ReleaseWrite {
            body,
            draft: true,
            make_latest: draft.make_latest.to_owned(),
            // Without templates the draft keeps the name and tag it has, as release-drafter
            // keeps them.
            // and a cut train's release is named by its tag when no template names it.
            name: Some(draft.name.clone())
                .filter(|n| !n.is_empty())
                .or_else(|| {
                    existing
                        .and_then(|r| r.name.clone())
                        .filter(|n| !n.is_empty())
                })
                .or_else(|| train.tag_name.clone())
                .unwrap_or_default(),
            prerelease: draft.prerelease,
            tag_name: train
                .tag_name
                .clone()
                .or_else(|| Some(draft.tag_name.clone()).filter(|t| !t.is_empty()))
                .or_else(|| existing.map(|r| r.tag_name.clone()))
                .unwrap_or_default(),
            target_commitish: train
                .target_sha
                .clone()
                .unwrap_or_else(|| train.branch.clone()),
        };
        let written = match existing {
            Some(release) => {
                github
                    .update_release(self.installation, repo, release.id, &write)
                    .await
            }
            None => github.create_release(self.installation, repo, &write).await,
        };
        let written = match written {
            Ok(written) => written,
            Err(error) => {
                // The write may have happened with its answer lost: list afresh next time.
                release_snapshots::invalidate(&ctx.db, repo).await?;
                return Err(error.into());
            }
        };
        // Our own write changes what we know: the snapshot follows it.
        let created_at = existing
            .map(|r| r.created_at.clone())
            .unwrap_or_else(|| ctx.clock.now().to_string());
        let mut kept: Vec<ReleaseSummary> =
            all.iter().filter(|r| r.id != written.id).cloned().collect();
        kept.insert(
            0,
            ReleaseSummary {
                id: written.id,
                tag_name: write.tag_name.clone(),
                name: Some(write.name.clone()),
                draft: true,
                prerelease: write.prerelease,
                created_at,
                target_commitish: write.target_commitish.clone(),
                body: Some(write.body.clone()),
            },
        );
        release_snapshots::put(&ctx.db, repo, &kept, now).await?;
        let mut conn = ctx.db.conn().await?;
        trains::set_draft_release(&mut conn, train.id, written.id, now).await?;
        tracing::info!(%repo, train = train.id, release = written.id, passengers = passengers.len(), "draft release refreshed");
        Ok(())
    }
}

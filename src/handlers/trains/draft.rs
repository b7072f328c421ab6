//! Each live train keeps exactly one draft release whose generated part follows its
//! passengers (maintainers' highlights above the marker are kept): [`draft_for`] writes it
//! through the notes engine, [`RefreshDraft`] keeps it current.

use crate::domain::ids::RepoFullName;
use crate::domain::notes::changes::{Author, PullRequest};
use crate::domain::notes::releases::{self, ReleaseSummary};
use crate::domain::notes::render::{self, CalendarVersioning};
use crate::domain::train::{self, TrainState};
use crate::domain::version::PreviousRelease;
use crate::github::GitHubClient;
use crate::github::notes::ReleaseWrite;
use crate::handlers::kit::TrainContext;
use crate::handlers::trains::drafting::{LineFacts, VersionRules, line_draft};
use crate::jobs::{BackgroundJob, JobError};
use crate::store::{release_snapshots, trains};
use serde::{Deserialize, Serialize};

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

/// The train's own draft release among `all`: the one it wrote, or one carrying its marker.
pub fn own_draft<'a>(
    train: &trains::TrainRow,
    all: &'a [ReleaseSummary],
) -> Option<&'a ReleaseSummary> {
    let marker = train_marker(train.id);
    all.iter().find(|r| {
        r.draft
            && (train.draft_release_id == Some(r.id as i64)
                || r.body.as_deref().is_some_and(|b| b.contains(&marker)))
    })
}

/// The body a train's release gets: the maintainers' text above the marker in `existing`
/// kept, the generated `notes`, the train's hidden marker (what the draft holds, and what
/// publishing it publishes).
pub fn train_body(
    train: &trains::TrainRow,
    notes: &str,
    existing: Option<&ReleaseSummary>,
) -> String {
    train::merge_draft_body(
        existing.and_then(|r| r.body.as_deref()),
        notes.trim_end(),
        &format!("\n\n{}\n", train_marker(train.id)),
    )
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
        let config = ctx.config(self.installation, repo).await?;
        // Only a repository configured by release-drafter's file is moving over from it.
        let moving_over = config
            .effective
            .source
            .as_deref()
            .is_some_and(|path| path.contains("release-drafter.y"));
        let config = &config.effective.config;
        let (draft, all) = draft_for(&ctx, github, self.installation, repo, &train, config).await?;
        let own = own_draft(&train, &all);
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
        let body = train_body(&train, &draft.body, existing);
        let write = draft_write(&train, &draft, existing, body);
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
        remember_write(&ctx, repo, &all, existing, written.id, &write).await?;
        let mut conn = ctx.db.conn().await?;
        trains::set_draft_release(&mut conn, train.id, written.id, now).await?;
        tracing::info!(%repo, train = train.id, release = written.id, passengers = passengers.len(), "draft release refreshed");
        Ok(())
    }
}

/// What a train's draft release says: the generated body under the maintainers' part, and
/// the name and tag it keeps (a cut train's tag, else the template's, else the draft's own).
fn draft_write(
    train: &trains::TrainRow,
    draft: &render::Draft,
    existing: Option<&ReleaseSummary>,
    body: String,
) -> ReleaseWrite {
    ReleaseWrite {
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
    }
}

/// Our own write changes what we know of the releases: the stored snapshot follows it.
async fn remember_write(
    ctx: &TrainContext,
    repo: &RepoFullName,
    all: &[ReleaseSummary],
    existing: Option<&ReleaseSummary>,
    written_id: u64,
    write: &ReleaseWrite,
) -> Result<(), JobError> {
    // Our own write changes what we know: the snapshot follows it.
    let created_at = existing
        .map(|r| r.created_at.clone())
        .unwrap_or_else(|| ctx.clock.now().to_string());
    let mut kept: Vec<ReleaseSummary> =
        all.iter().filter(|r| r.id != written_id).cloned().collect();
    kept.insert(
        0,
        ReleaseSummary {
            id: written_id,
            tag_name: write.tag_name.clone(),
            name: Some(write.name.clone()),
            draft: true,
            prerelease: write.prerelease,
            created_at,
            target_commitish: write.target_commitish.clone(),
            body: Some(write.body.clone()),
        },
    );
    release_snapshots::put(&ctx.db, repo, &kept, ctx.now()).await?;
    Ok(())
}

//! Drafting release notes for a range: find the baseline release and the draft to update,
//! fetch the comparison's pull requests (plus the recovery query and changed files when
//! needed), let the domain build the draft, then create or update the release. Used by the
//! trains and by `trainyard notes`.

use std::collections::HashSet;

use crate::domain::calver::CalendarScheme;
use crate::domain::ids::RepoFullName;
use crate::domain::notes::categorize::Categorizer;
use crate::domain::notes::changes::{Commit, PullRequest};
use crate::domain::notes::config::{NotesConfigError, NotesKeys};
use crate::domain::notes::releases::{self, ReleaseSummary};
use crate::domain::notes::render::{self, CalendarVersioning, Draft, DraftInputs};
use crate::domain::version::PreviousRelease;
use crate::github::GitHubClient;
use crate::github::error::GitHubError;
use crate::github::notes::{ReleaseWrite, WrittenRelease};

/// What to draft.
#[derive(Debug, Clone)]
pub struct DraftRequest {
    /// The repository.
    pub repo: RepoFullName,
    /// The installation to act as (ignored with a plain token).
    pub installation: u64,
    /// The notes and version keys (file and overrides merged).
    pub keys: NotesKeys,
    /// The line's branch or the ref to draft up to (`refs/heads/…`, `refs/tags/…`, a sha).
    pub head: String,
    /// Compare from this tag instead of the baseline release.
    pub from: Option<String>,
    /// Explicit tag, name and version (may use version variables).
    pub tag: Option<String>,
    /// Explicit name.
    pub name: Option<String>,
    /// Explicit version.
    pub version: Option<String>,
    /// Publish instead of keeping a draft.
    pub publish: bool,
    /// Compute only; write nothing.
    pub dry_run: bool,
    /// Conventional Commits titles call for increments too.
    pub conventional_titles: bool,
    /// First number of a pre-release series.
    pub prerelease_start: u64,
    /// GitHub's web URL.
    pub server_url: String,
    /// Calendar versioning scheme and today's date, when the repository uses calver.
    pub calendar: Option<(CalendarScheme, jiff::civil::Date)>,
}

/// A draft ready to write.
#[derive(Debug, Clone)]
pub struct PreparedDraft {
    /// The draft.
    pub draft: Draft,
    /// The release write.
    pub write: ReleaseWrite,
    /// The draft release to update, if one exists.
    pub existing_draft: Option<ReleaseSummary>,
    /// The baseline's tag.
    pub baseline: Option<String>,
    /// Pull requests found in the range.
    pub pull_requests: usize,
    /// Nothing is to be written (asked, or the target is a pull request's merge ref).
    pub dry_run: bool,
    /// GitHub calls made so far.
    pub calls: u32,
}

/// Why no draft could be made.
#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(#[from] NotesConfigError),
    /// GitHub failed or refused.
    #[error(transparent)]
    GitHub(#[from] GitHubError),
}

fn branch_name(reference: &str) -> &str {
    reference.strip_prefix("refs/heads/").unwrap_or(reference)
}

fn pull_request_merge_ref(reference: &str) -> Option<u64> {
    reference
        .strip_prefix("refs/pull/")?
        .strip_suffix("/merge")?
        .parse()
        .ok()
}

/// Gathers everything and builds the draft; writes nothing. `progress` hears how many
/// commits have been read.
pub async fn prepare_draft(
    github: &GitHubClient,
    request: &DraftRequest,
    progress: impl FnMut(usize),
) -> Result<PreparedDraft, DraftError> {
    let config = request.keys.resolve()?;
    let installation = request.installation;
    let repo = &request.repo;
    let mut calls = 0;
    let mut dry_run = request.dry_run;

    let (commitish, target_calls, ephemeral) = release_target(github, request, &config).await?;
    calls += target_calls;
    dry_run |= ephemeral;

    calls += 1;
    let all_releases = github.list_releases(installation, repo).await?;
    let previous = releases::find_previous(&all_releases, &config, &commitish);
    let explicit_baseline = request
        .from
        .as_ref()
        .map(|tag| named_baseline(&all_releases, tag));
    let last: Option<&ReleaseSummary> = explicit_baseline.as_ref().or(previous.last);

    let (commits, pull_requests) = match last {
        Some(last) => {
            let (commits, pull_requests, range_calls) = range_changes(
                github,
                request,
                &config,
                &last.tag_name,
                &commitish,
                progress,
            )
            .await?;
            calls += range_calls;
            (commits, pull_requests)
        }
        None => (Vec::new(), Vec::new()),
    };

    let compare_url = last.map(|l| {
        format!(
            "{}/{repo}/compare/{}...{commitish}",
            request.server_url.trim_end_matches('/'),
            l.tag_name
        )
    });
    // GitHub's own notes (engine `github`) name the new contributors themselves.
    let github_writes_notes =
        request.keys.engine == Some(crate::domain::notes::config::NotesEngine::Github);
    let first_contributors = if render::wants_new_contributors(&config) && !github_writes_notes {
        calls += 1;
        github
            .first_contributors(installation, repo, &pull_requests)
            .await?
    } else {
        Vec::new()
    };
    let draft = render::build_draft(
        &config,
        &DraftInputs {
            owner: repo.owner(),
            repository: repo.name(),
            first_contributors: &first_contributors,
            last_release: last.map(|r| PreviousRelease {
                tag_name: &r.tag_name,
                name: r.name.as_deref(),
            }),
            pull_requests: &pull_requests,
            commits: &commits,
            tag: request.tag.as_deref(),
            name: request.name.as_deref(),
            version: request.version.as_deref(),
            conventional_titles: request.conventional_titles,
            prerelease_start: request.prerelease_start,
            server_url: &request.server_url,
            compare_url: compare_url.as_deref(),
            calendar: request.calendar.map(|(scheme, today)| CalendarVersioning {
                scheme,
                today,
                released: all_releases
                    .iter()
                    .filter(|r| !r.draft)
                    .filter_map(|r| r.tag_name.strip_prefix(config.tag_prefix.as_str()))
                    .collect(),
            }),
        },
    );
    let write = ReleaseWrite {
        body: draft.body.clone(),
        draft: !request.publish || dry_run,
        make_latest: draft.make_latest.to_owned(),
        name: draft.name.clone(),
        prerelease: draft.prerelease,
        tag_name: draft.tag_name.clone(),
        target_commitish: commitish,
    };
    Ok(PreparedDraft {
        draft,
        write,
        existing_draft: previous.draft.cloned(),
        baseline: last.map(|l| l.tag_name.clone()),
        pull_requests: pull_requests.len(),
        dry_run,
        calls,
    })
}

/// Where the release points: a branch as it is, a tag or a pull request's merge ref
/// resolved to its commit (GitHub takes branches and commits as release targets, not tags
/// or pull request refs). Returns the target, the calls made, and whether the target is
/// ephemeral (a pull request's merge ref: only a dry run makes sense).
async fn release_target(
    github: &GitHubClient,
    request: &DraftRequest,
    config: &crate::domain::notes::config::NotesConfig,
) -> Result<(String, u32, bool), DraftError> {
    let (installation, repo) = (request.installation, &request.repo);
    let wanted = config
        .commitish
        .clone()
        .unwrap_or_else(|| request.head.clone());
    if wanted.starts_with("refs/tags/") {
        let commit = github
            .resolve_commit(installation, repo, &format!("{wanted}^{{commit}}"))
            .await?;
        return Ok((commit, 1, false));
    }
    if let Some(number) = pull_request_merge_ref(&wanted) {
        if !request.dry_run {
            tracing::warn!(%repo, reference = %wanted, "a pull request merge ref is ephemeral; drafting in dry-run mode");
        }
        let commit = github
            .pull_request_merge_commit(installation, repo, number)
            .await?;
        return Ok((commit, 1, true));
    }
    Ok((branch_name(&wanted).to_owned(), 0, false))
}

/// The release `--from` names, or a stand-in with just its tag when it is not a release.
fn named_baseline(all: &[ReleaseSummary], tag: &str) -> ReleaseSummary {
    all.iter()
        .find(|r| r.tag_name == tag)
        .cloned()
        .unwrap_or_else(|| ReleaseSummary {
            id: 0,
            tag_name: tag.to_owned(),
            name: None,
            draft: false,
            prerelease: false,
            created_at: String::new(),
            target_commitish: String::new(),
            body: None,
        })
}

/// The commits and merged pull requests (this repository's, deduplicated) from `base` to
/// `commitish`, with pull requests GitHub has not linked to their commit yet recovered, and
/// changed files read when a category needs them. Returns them and the calls made.
async fn range_changes(
    github: &GitHubClient,
    request: &DraftRequest,
    config: &crate::domain::notes::config::NotesConfig,
    base: &str,
    commitish: &str,
    progress: impl FnMut(usize),
) -> Result<(Vec<Commit>, Vec<PullRequest>, u32), DraftError> {
    let (installation, repo) = (request.installation, &request.repo);
    let comparison = github
        .comparison(
            installation,
            repo,
            &format!("refs/tags/{base}"),
            commitish,
            config.history_limit,
            config.pull_request_limit,
            progress,
        )
        .await?;
    let mut calls = comparison.calls;
    let commits = comparison.commits;
    let mut seen = HashSet::new();
    let repo_name = repo.to_string();
    // Pull requests of forks' own repositories share numbers with ours: only ours count.
    let mut pull_requests: Vec<PullRequest> = comparison
        .pull_requests
        .into_iter()
        .filter(|pr| pr.base_repository == repo_name && seen.insert(pr.number))
        .collect();
    // Commits GitHub has not linked to a pull request yet: look among the recently merged
    // ones for a pull request merged as one of them.
    let unlinked: HashSet<&str> = commits
        .iter()
        .filter(|c| c.pull_requests.is_empty())
        .filter_map(|c| c.oid.as_deref())
        .collect();
    if !unlinked.is_empty() {
        calls += 1;
        let recent = github
            .recent_merged_pull_requests(installation, repo, branch_name(&request.head))
            .await?;
        for pr in recent {
            let merged_here = pr
                .merge_commit
                .as_deref()
                .is_some_and(|oid| unlinked.contains(oid));
            if merged_here && pr.base_repository == repo_name && seen.insert(pr.number) {
                tracing::info!(%repo, number = pr.number, "recovered a pull request GitHub has not linked to its commit yet");
                pull_requests.push(pr);
            }
        }
    }
    if Categorizer::new(&config.categories).needs_changed_files() {
        for pr in &mut pull_requests {
            calls += 1;
            pr.changed_files = github
                .pull_request_files(installation, repo, pr.number)
                .await?;
        }
    }
    Ok((commits, pull_requests, calls))
}

/// Creates the draft release, or updates the existing one.
pub async fn write_draft(
    github: &GitHubClient,
    request: &DraftRequest,
    prepared: &PreparedDraft,
) -> Result<Option<WrittenRelease>, GitHubError> {
    if prepared.dry_run {
        tracing::info!(repo = %request.repo, "[dry-run] release not written");
        return Ok(None);
    }
    let written = match &prepared.existing_draft {
        Some(existing) => {
            // The draft keeps its name and tag unless the new ones say something.
            let mut write = prepared.write.clone();
            if write.name.is_empty() {
                write.name = existing.name.clone().unwrap_or_default();
            }
            if write.tag_name.is_empty() {
                write.tag_name = existing.tag_name.clone();
            }
            github
                .update_release(request.installation, &request.repo, existing.id, &write)
                .await?
        }
        None => {
            github
                .create_release(request.installation, &request.repo, &prepared.write)
                .await?
        }
    };
    Ok(Some(written))
}

//! Drafts: [`line_draft`], the one way a line's facts become its draft (trains, candidates,
//! hotfixes, chat's notes and `trainyard notes`), and [`prepare_draft`], which gathers those
//! facts for a range between two refs (`trainyard notes`): the baseline release and the
//! draft it would update, the comparison's pull requests (plus the recovery query and changed
//! files when needed). It writes nothing.

use std::collections::HashSet;

use crate::domain::calver::CalendarScheme;
use crate::domain::ids::RepoFullName;
use crate::domain::notes::categorize::Categorizer;
use crate::domain::notes::changes::{Commit, PullRequest};
use crate::domain::notes::config::{NotesConfig, NotesConfigError, NotesKeys};
use crate::domain::notes::releases::{self, ReleaseSummary};
use crate::domain::notes::render::{self, CalendarVersioning, Draft, DraftInputs};
use crate::domain::train::{self, Boarding, BoardingFacts, BoardingRules};
use crate::domain::version::PreviousRelease;
use crate::github::GitHubClient;
use crate::github::error::GitHubError;
use crate::github::notes::ReleaseWrite;

/// The version rules a repository's configuration sets for every draft of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct VersionRules {
    /// Conventional Commits titles (and `BREAKING CHANGE:` footers) call for increments too.
    pub conventional_titles: bool,
    /// First number of a pre-release series.
    pub prerelease_start: u64,
}

impl VersionRules {
    /// The rules of `config`.
    pub fn of(config: &crate::domain::repo_config::RepoConfig) -> VersionRules {
        VersionRules {
            conventional_titles: config.conventional_commits(),
            prerelease_start: config.prerelease_start(),
        }
    }
}

/// What a line's draft is made of, gathered by its caller: a train from its passengers, a
/// candidate from those new since the previous candidate, `trainyard notes` from a range.
#[derive(Debug, Clone, Default)]
pub struct LineFacts<'a> {
    /// The pull requests the draft lists (with body and changed files where a key uses them).
    pub pull_requests: &'a [PullRequest],
    /// Commits without a pull request, when the configuration lists them.
    pub commits: &'a [Commit],
    /// The release the draft follows.
    pub baseline: Option<PreviousRelease<'a>>,
    /// Where the draft's changes end (a branch or commit), for the compare link.
    pub head: &'a str,
    /// Authors whose first merged pull request is among these.
    pub first_contributors: &'a [String],
    /// Calendar versioning, on `calver` lines.
    pub calendar: Option<CalendarVersioning<'a>>,
    /// A version fixed already (a cut train's, a hotfix's, a candidate's, or asked for).
    pub version: Option<&'a str>,
    /// An explicit tag.
    pub tag: Option<&'a str>,
    /// An explicit name.
    pub name: Option<&'a str>,
}

/// The one way a line's facts become its draft: trains, candidates, hotfixes, chat's
/// `/release notes` and `trainyard notes` all come here, so the same facts give the same
/// name, tag, version and body wherever they are read.
pub fn line_draft(
    notes: &NotesConfig,
    rules: VersionRules,
    (repo, server_url): (&RepoFullName, &str),
    facts: LineFacts<'_>,
) -> Draft {
    let compare_url = facts.baseline.map(|base| {
        format!(
            "{}/{repo}/compare/{}...{}",
            server_url.trim_end_matches('/'),
            base.tag_name,
            facts.head
        )
    });
    render::build_draft(
        notes,
        &DraftInputs {
            owner: repo.owner(),
            repository: repo.name(),
            first_contributors: facts.first_contributors,
            last_release: facts.baseline,
            pull_requests: facts.pull_requests,
            commits: facts.commits,
            tag: facts.tag,
            name: facts.name,
            version: facts.version,
            conventional_titles: rules.conventional_titles,
            prerelease_start: rules.prerelease_start,
            server_url,
            compare_url: compare_url.as_deref().filter(|_| !facts.head.is_empty()),
            calendar: facts.calendar,
        },
    )
}

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
    /// The repository's version rules.
    pub rules: VersionRules,
    /// GitHub's web URL.
    pub server_url: String,
    /// Calendar versioning scheme and today's date, when the repository uses calver.
    pub calendar: Option<(CalendarScheme, jiff::civil::Date)>,
    /// Only the pull requests these rules board (what the line's next train would carry);
    /// `None`: the whole range.
    pub boarding: Option<BoardingRules>,
}

/// A draft ready to write.
#[derive(Debug, Clone)]
pub struct PreparedDraft {
    /// The draft.
    pub draft: Draft,
    /// The release GitHub would be sent: created, or the existing draft updated.
    pub write: ReleaseWrite,
    /// The draft release to update, if one exists.
    pub existing_draft: Option<ReleaseSummary>,
    /// The baseline's tag.
    pub baseline: Option<String>,
    /// Pull requests merged in the range.
    pub merged: usize,
    /// Pull requests the draft is made of (those that board, when asked).
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

    let (commits, mut pull_requests) = match last {
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

    let merged = pull_requests.len();
    if let Some(rules) = &request.boarding {
        pull_requests.retain(|pr| boards(rules, pr));
    }
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
    let draft = line_draft(
        &config,
        request.rules,
        (repo, &request.server_url),
        LineFacts {
            pull_requests: &pull_requests,
            commits: &commits,
            baseline: last.map(|r| PreviousRelease {
                tag_name: &r.tag_name,
                name: r.name.as_deref(),
            }),
            head: &commitish,
            first_contributors: &first_contributors,
            calendar: request.calendar.map(|(scheme, today)| CalendarVersioning {
                scheme,
                today,
                released: all_releases
                    .iter()
                    .filter(|r| !r.draft)
                    .filter_map(|r| r.tag_name.strip_prefix(config.tag_prefix.as_str()))
                    .collect(),
            }),
            version: request.version.as_deref(),
            tag: request.tag.as_deref(),
            name: request.name.as_deref(),
        },
    );
    let write = release_write(
        &draft,
        previous.draft,
        commitish,
        !request.publish || dry_run,
    );
    Ok(PreparedDraft {
        draft,
        write,
        existing_draft: previous.draft.cloned(),
        baseline: last.map(|l| l.tag_name.clone()),
        merged,
        pull_requests: pull_requests.len(),
        dry_run,
        calls,
    })
}

/// Whether a merged pull request boards the line's next train.
fn boards(rules: &BoardingRules, pr: &PullRequest) -> bool {
    let facts = BoardingFacts {
        merged: true,
        base_ref: &pr.base_ref_name,
        labels: &pr.labels,
        changed_files: &pr.changed_files,
    };
    train::boarding(rules, &facts) == Boarding::Boards
}

/// The release to write. The draft it updates keeps its name and tag unless the new ones
/// say something.
fn release_write(
    draft: &Draft,
    existing: Option<&ReleaseSummary>,
    commitish: String,
    as_draft: bool,
) -> ReleaseWrite {
    ReleaseWrite {
        body: draft.body.clone(),
        draft: as_draft,
        make_latest: draft.make_latest.to_owned(),
        name: Some(draft.name.clone())
            .filter(|n| !n.is_empty())
            .or_else(|| existing.and_then(|r| r.name.clone()))
            .unwrap_or_default(),
        prerelease: draft.prerelease,
        tag_name: Some(draft.tag_name.clone())
            .filter(|t| !t.is_empty())
            .or_else(|| existing.map(|r| r.tag_name.clone()))
            .unwrap_or_default(),
        target_commitish: commitish,
    }
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
    let path_scoped = request
        .boarding
        .as_ref()
        .is_some_and(|rules| !rules.paths.is_empty());
    if path_scoped || Categorizer::new(&config.categories).needs_changed_files() {
        for pr in &mut pull_requests {
            calls += 1;
            pr.changed_files = github
                .pull_request_files(installation, repo, pr.number)
                .await?;
        }
    }
    Ok((commits, pull_requests, calls))
}

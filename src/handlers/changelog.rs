//! `notes.changelog`: when a train is released, its notes go into the repository's
//! changelog file (Keep a Changelog style), as one commit by the App on the line's branch or
//! as a pull request labelled with the line's skip label, so it never boards a train. A
//! branch that refuses the commit (protection, rulesets) gets the pull request instead, and
//! the train's thread is told why. Idempotent: a file that already has the version is left
//! alone, the pull request is found by its branch, and the step is recorded once done.

use serde::{Deserialize, Serialize};
use tracing::Instrument as _;

use crate::domain::changelog;
use crate::domain::ids::RepoFullName;
use crate::domain::notes::config::{ChangelogKeys, ChangelogMode};
use crate::domain::train::{BoardingRules, TrainState};
use crate::domain::train_event::TrainEvent;
use crate::github::contents::FileWrite;
use crate::github::git::RefCreated;
use crate::github::{GitHubClient, GitHubError};
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::unit::UnitOfWork;
use crate::handlers::trains::draft_for;
use crate::jobs::{BackgroundJob, JobError};
use crate::store::audit::Entry;
use crate::store::steps::{self, StepState};
use crate::store::trains::{self, TrainRow};

/// Adds a released train's notes to the changelog.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpdateChangelog {
    /// The repository.
    pub repository: RepoFullName,
    /// Its installation.
    pub installation: u64,
    /// The released train.
    pub train_id: i64,
}

/// Where a release's section went.
enum Written {
    /// The branch already had it (a retry, or written by hand).
    Already,
    /// A commit on the branch.
    Commit(String),
}

/// Why the branch took no commit.
enum WriteError {
    /// Protected: changes must come through a pull request. GitHub's message.
    Protected(String),
    /// Anything else (retried).
    GitHub(GitHubError),
}

impl From<GitHubError> for WriteError {
    fn from(error: GitHubError) -> Self {
        match &error {
            GitHubError::Conflict(message)
            | GitHubError::Validation(message)
            | GitHubError::Other {
                status: 403,
                message,
            } if changelog::is_protection_refusal(message) => {
                WriteError::Protected(message.clone())
            }
            _ => WriteError::GitHub(error),
        }
    }
}

impl BackgroundJob for UpdateChangelog {
    const KIND: &'static str = "train.changelog";
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        self.repository.to_string()
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("changelog:{}", self.train_id))
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let span = tracing::info_span!("changelog", train = self.train_id);
        async move {
            let github = ctx.github()?;
            let (repo, installation) = (&self.repository, self.installation);
            let Some(train) = trains::get(&ctx.db, self.train_id).await? else {
                return Ok(());
            };
            let (Some(version), Some(tag)) = (train.version.clone(), train.tag_name.clone()) else {
                return Ok(());
            };
            if train.state() != TrainState::Released {
                return Ok(());
            }
            let key = format!("changelog:{}", train.id);
            if let StepState::Done(_) = steps::start(&ctx.db, &key, ctx.now()).await? {
                return Ok(());
            }
            let config = ctx.config(installation, repo).await?;
            let config = &config.effective.config;
            let Some(keys) = config.changelog().cloned() else {
                return Ok(());
            };
            // The notes as published (a maintainer's highlights included), else as drafted.
            let published = github
                .list_releases(installation, repo)
                .await?
                .into_iter()
                .find(|r| r.tag_name == tag && !r.draft);
            let notes = match published.and_then(|r| r.body) {
                Some(body) => body,
                None => {
                    draft_for(&ctx, github, installation, repo, &train, config)
                        .await?
                        .0
                        .body
                }
            };
            let date = jiff::Timestamp::from_millisecond(train.published_at.unwrap_or(ctx.now()))
                .map(|t| t.strftime("%Y-%m-%d").to_string())
                .unwrap_or_default();
            let section = changelog::entry(&version, &date, &notes);
            let change = Change {
                keys: &keys,
                version: &version,
                tag: &tag,
                section: &section,
            };
            let line = config.lines().into_iter().find(|l| l.name == train.line);
            let skip_label = line
                .map(|l| BoardingRules::of(&l, &train.branch).skip_label)
                .unwrap_or_else(|| crate::domain::train::DEFAULT_SKIP_LABEL.to_owned());
            let result = match keys.mode.unwrap_or_default() {
                ChangelogMode::Commit => {
                    match write(github, installation, repo, &train.branch, &change).await {
                        Ok(Written::Commit(sha)) => format!("commit {sha}"),
                        Ok(Written::Already) => "already there".to_owned(),
                        Err(WriteError::GitHub(error)) => return Err(error.into()),
                        Err(WriteError::Protected(reason)) => {
                            let number =
                                propose(github, (installation, repo), &train, &change, &skip_label)
                                    .await?;
                            tell(&ctx, &train, number, Some(reason)).await?;
                            format!("pull request #{number}")
                        }
                    }
                }
                ChangelogMode::PullRequest => {
                    let number =
                        propose(github, (installation, repo), &train, &change, &skip_label).await?;
                    tell(&ctx, &train, number, None).await?;
                    format!("pull request #{number}")
                }
            };
            let entry = Entry::effect(
                repo.as_ref(),
                "github.changelog",
                format!("{} for {tag}: {result}", keys.path()),
            )
            .on_train(&train.line, train.id);
            steps::finish_audited(&ctx.db, &key, &result, entry, ctx.now()).await?;
            tracing::info!(%repo, %tag, %result, "changelog updated");
            Ok(())
        }
        .instrument(span)
        .await
    }
}

/// The change to make.
struct Change<'a> {
    keys: &'a ChangelogKeys,
    version: &'a str,
    tag: &'a str,
    section: &'a str,
}

/// Adds the section to the file on `branch`, unless it is there already.
async fn write(
    github: &GitHubClient,
    installation: u64,
    repo: &RepoFullName,
    branch: &str,
    change: &Change<'_>,
) -> Result<Written, WriteError> {
    let path = change.keys.path();
    let current = github
        .file_contents(installation, repo, path, Some(branch))
        .await?;
    let Some(text) = changelog::prepend(
        current.as_ref().map(|f| f.text.as_str()),
        change.version,
        change.section,
    ) else {
        return Ok(Written::Already);
    };
    let message = format!("docs(changelog): {}", change.tag);
    let sha = github
        .put_file(
            installation,
            repo,
            &FileWrite {
                path,
                branch,
                message: &message,
                text: &text,
                replaces: current.as_ref().map(|f| f.sha.as_str()),
            },
        )
        .await?;
    Ok(Written::Commit(sha))
}

/// The changelog's pull request: its branch from the line's head, the section committed
/// there, the pull request opened (or found) and labelled with the skip label.
async fn propose(
    github: &GitHubClient,
    (installation, repo): (u64, &RepoFullName),
    train: &TrainRow,
    change: &Change<'_>,
    skip_label: &str,
) -> Result<u64, JobError> {
    let branch = format!("trainyard/changelog-{}", change.tag);
    let Some(head) = github
        .branch_head(installation, repo, &train.branch)
        .await?
    else {
        return Err(JobError::Permanent(format!(
            "the branch `{}` does not exist",
            train.branch
        )));
    };
    // A branch left by an earlier attempt is used as it is.
    let _: RefCreated = github
        .create_ref(installation, repo, &format!("heads/{branch}"), &head)
        .await?;
    match write(github, installation, repo, &branch, change).await {
        Ok(_) => {}
        Err(WriteError::GitHub(error)) => return Err(error.into()),
        Err(WriteError::Protected(reason)) => {
            return Err(JobError::Permanent(format!(
                "the changelog branch `{branch}` refused the commit too: {reason}"
            )));
        }
    }
    let pull = match github
        .pull_request_from(installation, repo, &branch)
        .await?
    {
        Some(found) => found,
        None => {
            let body = format!(
                "Adds the notes of {} to `{}`. Opened by trainyard; it carries the \
                 `{skip_label}` label, so it never boards a release train.",
                change.tag,
                change.keys.path()
            );
            github
                .open_pull_request(
                    installation,
                    repo,
                    (&branch, &train.branch),
                    &format!("docs(changelog): {}", change.tag),
                    &body,
                )
                .await?
        }
    };
    github
        .add_labels(installation, repo, pull.number, &[skip_label.to_owned()])
        .await?;
    Ok(pull.number)
}

/// Tells the train's thread about the changelog's pull request (and why, when the branch
/// refused the commit).
async fn tell(
    ctx: &TrainContext,
    train: &TrainRow,
    number: u64,
    refused: Option<String>,
) -> Result<(), JobError> {
    let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, ctx.now()).await?;
    let event = TrainEvent::ChangelogProposed { number, refused };
    unit.announce(train, &event).await?;
    unit.commit().await
}

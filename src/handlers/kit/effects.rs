//! Effects on GitHub that a retry must not repeat, each recorded as a step under a key that
//! finds it again: the comment carries the key in a hidden marker, so a comment GitHub wrote
//! while its answer was lost (a 502 after the fact, a crash) is found instead of written twice.

use crate::domain::ids::RepoFullName;
use crate::github::GitHubClient;
use crate::jobs::JobError;
use crate::store::Db;
use crate::store::audit::Entry;
use crate::store::steps::{self, StepState};

/// The hidden marker a comment written under `key` carries.
pub fn marker(key: &str) -> String {
    format!("<!-- trainyard:{key} -->")
}

/// Comments `body` on issue or pull request `number` once under `key`; returns the id.
#[expect(
    clippy::too_many_arguments,
    reason = "one effect: where (installation, repository, issue), what, and its step key"
)]
pub async fn comment_once(
    db: &Db,
    github: &GitHubClient,
    installation: u64,
    repo: &RepoFullName,
    number: u64,
    key: &str,
    body: &str,
    now: i64,
) -> Result<u64, JobError> {
    let marker = marker(key);
    match steps::start(db, key, now).await? {
        StepState::Done(id) => return Ok(id.parse().unwrap_or_default()),
        StepState::Uncertain => {
            if let Some(id) = github
                .find_comment(installation, repo, number, &marker)
                .await?
            {
                tracing::info!(%repo, number, key, "comment found written; not writing it again");
                steps::finish_audited(db, key, &id.to_string(), commented(repo, number, id), now)
                    .await?;
                return Ok(id);
            }
        }
        StepState::New => {}
    }
    let id = github
        .create_comment(installation, repo, number, &format!("{body}\n\n{marker}"))
        .await?;
    steps::finish_audited(db, key, &id.to_string(), commented(repo, number, id), now).await?;
    Ok(id)
}

fn commented(repo: &RepoFullName, number: u64, id: u64) -> Entry {
    Entry::effect(
        repo.as_ref(),
        "github.comment",
        format!("comment {id} on #{number}"),
    )
}

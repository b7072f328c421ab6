//! Finding the installation that can act on a repository.

use crate::domain::ids::RepoFullName;
use crate::github::{GitHubClient, GitHubError};
use crate::jobs::JobError;
use crate::store::{Db, installations};

/// The installation covering `repo`: from the store when a webhook has told us, else asked of
/// GitHub as the App (a job started from chat) and remembered.
pub async fn installation_for(
    db: &Db,
    github: &GitHubClient,
    repo: &RepoFullName,
    now_millis: i64,
) -> Result<u64, JobError> {
    if let Some(installation) = installations::for_repository(db, repo).await? {
        return Ok(installation);
    }
    match github.repository_installation(repo).await {
        Ok(installation) => {
            installations::note_repository(db, installation, repo, now_millis).await?;
            Ok(installation)
        }
        Err(GitHubError::NotFound(_)) => Err(JobError::Permanent(format!(
            "the trainyard GitHub App is not installed on {repo}"
        ))),
        Err(other) => Err(other.into()),
    }
}

//! A repository's past, written once by `trainyard metrics backfill`: past releases as
//! released trains with their pull requests, past deployments with their last state. What
//! the store knows already (tags, pull requests, deployment ids) is read first, so a second
//! run adds only what is new.

use std::collections::HashSet;

use sqlx::AnyConnection;

use super::{Db, StoreError};

/// What the store already holds of a repository's past.
#[derive(Debug, Default)]
pub struct Known {
    /// Tags of trains.
    pub tags: HashSet<String>,
    /// Pull requests on any train.
    pub pulls: HashSet<i64>,
    /// GitHub ids of deployments.
    pub deployments: HashSet<i64>,
}

/// What the store already holds of `repo`'s past.
pub async fn known(db: &Db, repo: &str) -> Result<Known, StoreError> {
    let tags = sqlx::query_as::<_, (String,)>(
        "SELECT tag_name FROM trains WHERE repository = $1 AND tag_name IS NOT NULL",
    )
    .bind(repo)
    .fetch_all(db.pool())
    .await?;
    let pulls = sqlx::query_as::<_, (i64,)>(
        "SELECT p.number FROM train_pull_requests p JOIN trains t ON t.id = p.train_id \
         WHERE t.repository = $1",
    )
    .bind(repo)
    .fetch_all(db.pool())
    .await?;
    let deployments = sqlx::query_as::<_, (i64,)>(
        "SELECT github_id FROM deployments WHERE repository = $1 AND github_id IS NOT NULL",
    )
    .bind(repo)
    .fetch_all(db.pool())
    .await?;
    Ok(Known {
        tags: tags.into_iter().map(|(t,)| t).collect(),
        pulls: pulls.into_iter().map(|(n,)| n).collect(),
        deployments: deployments.into_iter().map(|(id,)| id).collect(),
    })
}

/// A past release, as a released train of `line`.
#[derive(Debug, Clone, Copy)]
pub struct PastRelease<'a> {
    /// The repository.
    pub repo: &'a str,
    /// The line it is recorded on.
    pub line: &'a str,
    /// The line's branch.
    pub branch: &'a str,
    /// Its tag (and version).
    pub tag: &'a str,
    /// When it was published (epoch ms).
    pub published: i64,
}

/// Records a past release; its train's id.
pub async fn insert_release(
    conn: &mut AnyConnection,
    release: PastRelease<'_>,
    now: i64,
) -> Result<i64, StoreError> {
    let (train_id,): (i64,) = sqlx::query_as(
        "INSERT INTO trains (repository, line, kind, state, branch, version, tag_name, \
         tag_created_at, published_at, created_at, updated_at) \
         VALUES ($1, $2, 'regular', 'released', $3, $4, $4, $5, $5, $5, $6) RETURNING id",
    )
    .bind(release.repo)
    .bind(release.line)
    .bind(release.branch)
    .bind(release.tag)
    .bind(release.published)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(train_id)
}

/// A pull request a past release carried.
#[derive(Debug, Clone, Copy)]
pub struct PastPull<'a> {
    /// Its number.
    pub number: i64,
    /// Its title.
    pub title: &'a str,
    /// Its author's login.
    pub author: Option<&'a str>,
    /// When it was merged (RFC 3339, as GitHub said).
    pub merged_at: &'a str,
    /// The same, in epoch ms.
    pub merged_ms: i64,
}

/// Puts a past pull request on a past release's train.
pub async fn insert_pull(
    conn: &mut AnyConnection,
    train_id: i64,
    pull: PastPull<'_>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO train_pull_requests (train_id, number, title, author, merged_at, \
         boarded_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(train_id)
    .bind(pull.number)
    .bind(pull.title)
    .bind(pull.author)
    .bind(pull.merged_at)
    .bind(pull.merged_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A past deployment with its last state.
#[derive(Debug, Clone, Copy)]
pub struct PastDeployment<'a> {
    /// The repository.
    pub repo: &'a str,
    /// The environment.
    pub environment: &'a str,
    /// GitHub's id.
    pub github_id: i64,
    /// The ref deployed (a tag, usually).
    pub git_ref: &'a str,
    /// The commit.
    pub sha: &'a str,
    /// Who created it.
    pub creator: &'a str,
    /// Its last state.
    pub state: &'a str,
    /// When it was created, and last reported on (epoch ms).
    pub created: i64,
    /// When its last state was reported (epoch ms).
    pub updated: i64,
}

/// Records a past deployment, tied to the train released under its ref when there is one.
pub async fn insert_deployment(
    conn: &mut AnyConnection,
    deployment: PastDeployment<'_>,
) -> Result<(), StoreError> {
    let train: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM trains WHERE repository = $1 AND tag_name = $2 ORDER BY id DESC",
    )
    .bind(deployment.repo)
    .bind(deployment.git_ref)
    .fetch_optional(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO deployments (repository, environment, github_id, train_id, version, \
         ref_name, sha, requested_by, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (github_id) DO NOTHING",
    )
    .bind(deployment.repo)
    .bind(deployment.environment)
    .bind(deployment.github_id)
    .bind(train.map(|(id,)| id))
    .bind(deployment.git_ref)
    .bind(deployment.sha)
    .bind(deployment.creator)
    .bind(deployment.state)
    .bind(deployment.created)
    .bind(deployment.updated)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

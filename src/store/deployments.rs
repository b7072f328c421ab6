//! Deployments and environment locks (see `migrations/*/0013_deployments.sql`).

use sqlx::{AnyConnection, FromRow};

use super::{Db, StoreError};
use crate::domain::deploy::DeploymentState;

/// A deployment as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DeploymentRow {
    /// Our id.
    pub id: i64,
    /// `owner/name`.
    pub repository: String,
    /// The environment.
    pub environment: String,
    /// Our request id (the command's id), for ours.
    pub request_id: Option<String>,
    /// GitHub's deployment id, once created.
    pub github_id: Option<i64>,
    /// The train released, for ours.
    pub train_id: Option<i64>,
    /// The version, for ours.
    pub version: Option<String>,
    /// What was deployed: the tag (ours) or the ref GitHub names.
    pub ref_name: String,
    /// The commit.
    pub sha: Option<String>,
    /// Who asked (GitHub login, or `trainyard` for automatic ones).
    pub requested_by: String,
    /// A rollback (1) or not (0).
    pub rollback: i64,
    /// Why a freeze or order rule was overridden.
    pub forced_reason: Option<String>,
    /// `requested`, `created`, `refused`, or GitHub's last status; decoded here.
    #[sqlx(try_from = "String")]
    pub state: DeploymentState,
    /// Why it was refused, or the last status's description.
    pub reason: Option<String>,
    /// The environment's URL or the log, from the last status.
    pub url: Option<String>,
    /// Requested (epoch ms).
    pub created_at: i64,
    /// Last change (epoch ms).
    pub updated_at: i64,
}

/// A deployment to request.
#[derive(Debug, Clone)]
pub struct NewDeployment<'a> {
    /// `owner/name`.
    pub repository: &'a str,
    /// Environment.
    pub environment: &'a str,
    /// The request id (a command id, or `auto:<train>:<env>`).
    pub request_id: &'a str,
    /// The train (none for a rollback to someone else's deployment).
    pub train_id: Option<i64>,
    /// Its version.
    pub version: &'a str,
    /// Its tag.
    pub tag: &'a str,
    /// Its commit.
    pub sha: &'a str,
    /// Who asked.
    pub requested_by: &'a str,
    /// A rollback.
    pub rollback: bool,
    /// Why a freeze window was overridden.
    pub forced_reason: Option<&'a str>,
}

/// The columns of [`DeploymentRow`], for `concat!`.
macro_rules! columns {
    () => {
        "id, repository, environment, request_id, github_id, train_id, version, ref_name, sha, \
         requested_by, rollback, forced_reason, state, reason, url, created_at, updated_at"
    };
}

/// Records a requested deployment; `None` when one with this request id exists already.
pub async fn request(
    conn: &mut AnyConnection,
    new: &NewDeployment<'_>,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO deployments (repository, environment, request_id, train_id, version, \
         ref_name, sha, requested_by, rollback, forced_reason, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'requested', $11, $11) \
         ON CONFLICT (request_id) DO NOTHING RETURNING id",
    )
    .bind(new.repository)
    .bind(new.environment)
    .bind(new.request_id)
    .bind(new.train_id)
    .bind(new.version)
    .bind(new.tag)
    .bind(new.sha)
    .bind(new.requested_by)
    .bind(i64::from(new.rollback))
    .bind(new.forced_reason)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(id)
}

/// The deployment with our id.
pub async fn get(db: &Db, id: i64) -> Result<Option<DeploymentRow>, StoreError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM deployments WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?)
}

/// The deployment GitHub knows as `github_id`.
pub async fn by_github_id(db: &Db, github_id: i64) -> Result<Option<DeploymentRow>, StoreError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM deployments WHERE github_id = $1"
    ))
    .bind(github_id)
    .fetch_optional(db.pool())
    .await?)
}

/// Records GitHub's id for our deployment.
pub async fn created(db: &Db, id: i64, github_id: i64, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deployments SET github_id = $2, state = CASE WHEN state = 'requested' \
         THEN 'created' ELSE state END, updated_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(github_id)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Records that GitHub refused our deployment, and why.
pub async fn refused_on(
    conn: &mut AnyConnection,
    id: i64,
    reason: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deployments SET state = 'refused', reason = $2, updated_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// A deployment GitHub told us of (ours or someone else's): recorded once by its id.
#[derive(Debug, Clone)]
pub struct SeenDeployment<'a> {
    /// `owner/name`.
    pub repository: &'a str,
    /// GitHub's id.
    pub github_id: i64,
    /// Environment.
    pub environment: &'a str,
    /// The ref deployed.
    pub ref_name: &'a str,
    /// The commit.
    pub sha: &'a str,
    /// Who created it.
    pub creator: &'a str,
    /// Our request id, when the payload carries one.
    pub request_id: Option<&'a str>,
}

/// Records a deployment seen in a webhook unless it is known (ours are known by request id
/// or GitHub id); returns its row.
pub async fn seen(
    db: &Db,
    seen: &SeenDeployment<'_>,
    now: i64,
) -> Result<DeploymentRow, StoreError> {
    if let Some(request_id) = seen.request_id {
        sqlx::query(
            "UPDATE deployments SET github_id = $2, updated_at = $3 \
             WHERE request_id = $1 AND github_id IS NULL",
        )
        .bind(request_id)
        .bind(seen.github_id)
        .bind(now)
        .execute(db.pool())
        .await?;
    }
    sqlx::query(
        "INSERT INTO deployments (repository, environment, github_id, ref_name, sha, \
         requested_by, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'created', $7, $7) ON CONFLICT (github_id) DO NOTHING",
    )
    .bind(seen.repository)
    .bind(seen.environment)
    .bind(seen.github_id)
    .bind(seen.ref_name)
    .bind(seen.sha)
    .bind(seen.creator)
    .bind(now)
    .execute(db.pool())
    .await?;
    by_github_id(db, seen.github_id)
        .await?
        .ok_or(StoreError::Query(sqlx::Error::RowNotFound))
}

/// Records a status; `false` when the deployment already had a later one (statuses can
/// arrive out of order: the newest by GitHub's time wins).
pub async fn set_status(
    conn: &mut AnyConnection,
    github_id: i64,
    state: &str,
    reason: Option<&str>,
    url: Option<&str>,
    at: i64,
) -> Result<bool, StoreError> {
    let updated = sqlx::query(
        "UPDATE deployments SET state = $2, reason = $3, url = COALESCE($4, url), \
         updated_at = $5 WHERE github_id = $1 AND updated_at <= $5",
    )
    .bind(github_id)
    .bind(state)
    .bind(reason)
    .bind(url)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// The repository's deployments to `environment`, newest first.
pub async fn history(
    db: &Db,
    repository: &str,
    environment: &str,
    limit: i64,
) -> Result<Vec<DeploymentRow>, StoreError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM deployments WHERE repository = $1 AND lower(environment) = lower($2) \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    ))
    .bind(repository)
    .bind(environment)
    .bind(limit)
    .fetch_all(db.pool())
    .await?)
}

/// The environments the repository has deployments to.
pub async fn environments(db: &Db, repository: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT environment FROM deployments WHERE repository = $1 ORDER BY environment",
    )
    .bind(repository)
    .fetch_all(db.pool())
    .await?)
}

/// Whether `environment` has a successful deployment of `sha`.
pub async fn succeeded_with(
    db: &Db,
    repository: &str,
    environment: &str,
    sha: &str,
) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM deployments WHERE repository = $1 AND lower(environment) = lower($2) \
         AND sha = $3 AND state = 'success'",
    )
    .bind(repository)
    .bind(environment)
    .bind(sha)
    .fetch_one(db.pool())
    .await?;
    Ok(n > 0)
}

/// The latest forced request of `sha` to `environment` made since `since` (epoch ms): who
/// forced it (an admin, checked when the command was decided) and why.
pub async fn forced_since(
    db: &Db,
    repository: &str,
    environment: &str,
    sha: &str,
    since: i64,
) -> Result<Option<(String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT requested_by, forced_reason FROM deployments WHERE repository = $1 \
         AND lower(environment) = lower($2) AND sha = $3 AND forced_reason IS NOT NULL \
         AND created_at >= $4 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(repository)
    .bind(environment)
    .bind(sha)
    .bind(since)
    .fetch_optional(db.pool())
    .await?)
}

/// The environments where `ref_name` (a tag) was deployed successfully, by name.
pub async fn succeeded_environments(
    db: &Db,
    repository: &str,
    ref_name: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT environment FROM deployments WHERE repository = $1 AND ref_name = $2 \
         AND state = 'success' ORDER BY environment",
    )
    .bind(repository)
    .bind(ref_name)
    .fetch_all(db.pool())
    .await?)
}

/// An environment's lock.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Lock {
    /// The environment.
    pub environment: String,
    /// Who holds it.
    pub owner: String,
    /// Why.
    pub reason: String,
    /// Since (epoch ms).
    pub locked_at: i64,
}

/// The lock on `environment`, if any.
pub async fn lock_of(
    db: &Db,
    repository: &str,
    environment: &str,
) -> Result<Option<Lock>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT environment, owner, reason, locked_at FROM environment_locks \
         WHERE repository = $1 AND lower(environment) = lower($2)",
    )
    .bind(repository)
    .bind(environment)
    .fetch_optional(db.pool())
    .await?)
}

/// The repository's locks.
pub async fn locks(db: &Db, repository: &str) -> Result<Vec<Lock>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT environment, owner, reason, locked_at FROM environment_locks \
         WHERE repository = $1 ORDER BY environment",
    )
    .bind(repository)
    .fetch_all(db.pool())
    .await?)
}

/// Locks `environment`; `false` when it is locked already.
pub async fn lock(
    conn: &mut AnyConnection,
    repository: &str,
    lock: &Lock,
) -> Result<bool, StoreError> {
    let locked = sqlx::query(
        "INSERT INTO environment_locks (repository, environment, owner, reason, locked_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (repository, environment) DO NOTHING",
    )
    .bind(repository)
    .bind(&lock.environment)
    .bind(&lock.owner)
    .bind(&lock.reason)
    .bind(lock.locked_at)
    .execute(conn)
    .await?;
    Ok(locked.rows_affected() == 1)
}

/// Unlocks `environment`; `false` when it was not locked.
pub async fn unlock(
    conn: &mut AnyConnection,
    repository: &str,
    environment: &str,
) -> Result<bool, StoreError> {
    let unlocked = sqlx::query(
        "DELETE FROM environment_locks WHERE repository = $1 AND lower(environment) = lower($2)",
    )
    .bind(repository)
    .bind(environment)
    .execute(conn)
    .await?;
    Ok(unlocked.rows_affected() == 1)
}

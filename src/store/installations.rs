//! Where the App is installed and which repositories each installation covers, kept from
//! `installation` and `installation_repositories` events. Used to find the installation of a
//! repository when a job starts from chat rather than from a webhook.

use sqlx::{AnyConnection, FromRow};

use super::{Db, StoreError};
use crate::domain::ids::RepoFullName;

/// A stored installation.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct InstallationRow {
    /// Installation id.
    pub id: i64,
    /// Account login.
    pub account: String,
    /// When suspended (epoch ms), if it is.
    pub suspended_at: Option<i64>,
}

fn id(installation: u64) -> i64 {
    i64::try_from(installation).unwrap_or(i64::MAX)
}

/// Records an installation (again); clears a suspension.
pub async fn upsert(db: &Db, installation: u64, account: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO installations (id, account, suspended_at, created_at, updated_at) \
         VALUES ($1, $2, NULL, $3, $3) \
         ON CONFLICT (id) DO UPDATE SET account = excluded.account, updated_at = excluded.updated_at",
    )
    .bind(id(installation))
    .bind(account)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Marks an installation suspended (`Some(time)`) or active (`None`).
pub async fn set_suspended(
    db: &Db,
    installation: u64,
    suspended_at: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE installations SET suspended_at = $2, updated_at = $3 WHERE id = $1")
        .bind(id(installation))
        .bind(suspended_at)
        .bind(now)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Forgets an installation and its repositories.
pub async fn delete(db: &Db, installation: u64) -> Result<(), StoreError> {
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM installation_repositories WHERE installation_id = $1")
        .bind(id(installation))
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM installations WHERE id = $1")
        .bind(id(installation))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Adds repositories to an installation (already present ones are kept).
pub async fn add_repositories(
    db: &Db,
    installation: u64,
    repositories: &[RepoFullName],
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = db.pool().begin().await?;
    insert_repositories(&mut tx, installation, repositories, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Notes that a delivery for `repo` came through `installation`, creating the installation
/// (owned by the repository's owner) if it was installed before trainyard knew of it.
pub async fn note_repository(
    db: &Db,
    installation: u64,
    repo: &RepoFullName,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "INSERT INTO installations (id, account, suspended_at, created_at, updated_at) \
         VALUES ($1, $2, NULL, $3, $3) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id(installation))
    .bind(repo.owner())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    insert_repositories(&mut tx, installation, std::slice::from_ref(repo), now).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_repositories(
    conn: &mut AnyConnection,
    installation: u64,
    repositories: &[RepoFullName],
    now: i64,
) -> Result<(), StoreError> {
    for repo in repositories {
        sqlx::query(
            "INSERT INTO installation_repositories (installation_id, repository, added_at) \
             VALUES ($1, $2, $3) ON CONFLICT (installation_id, repository) DO NOTHING",
        )
        .bind(id(installation))
        .bind(repo.as_ref())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Removes repositories from an installation.
pub async fn remove_repositories(
    db: &Db,
    installation: u64,
    repositories: &[RepoFullName],
) -> Result<(), StoreError> {
    let mut tx = db.pool().begin().await?;
    for repo in repositories {
        sqlx::query(
            "DELETE FROM installation_repositories \
             WHERE installation_id = $1 AND LOWER(repository) = LOWER($2)",
        )
        .bind(id(installation))
        .bind(repo.as_ref())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The installation covering `repo` (names compare case-insensitively, as on GitHub).
pub async fn for_repository(db: &Db, repo: &RepoFullName) -> Result<Option<u64>, StoreError> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT r.installation_id FROM installation_repositories r \
         JOIN installations i ON i.id = r.installation_id \
         WHERE LOWER(r.repository) = LOWER($1) AND i.suspended_at IS NULL \
         ORDER BY r.added_at DESC LIMIT 1",
    )
    .bind(repo.as_ref())
    .fetch_optional(db.pool())
    .await?;
    Ok(found.and_then(|id| u64::try_from(id).ok()))
}

/// All installations.
pub async fn list(db: &Db) -> Result<Vec<InstallationRow>, StoreError> {
    Ok(sqlx::query_as::<_, InstallationRow>(
        "SELECT id, account, suspended_at FROM installations ORDER BY id",
    )
    .fetch_all(db.pool())
    .await?)
}

/// The repositories of an installation, sorted.
pub async fn repositories(db: &Db, installation: u64) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT repository FROM installation_repositories WHERE installation_id = $1 \
         ORDER BY repository",
    )
    .bind(id(installation))
    .fetch_all(db.pool())
    .await?)
}

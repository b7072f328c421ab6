//! A repository's releases as last listed (see `migrations/*/0011_release_snapshots.sql`).

use crate::domain::ids::RepoFullName;
use crate::domain::notes::releases::ReleaseSummary;

use super::{Db, StoreError};

/// The snapshot, if there is one.
pub async fn get(db: &Db, repo: &RepoFullName) -> Result<Option<Vec<ReleaseSummary>>, StoreError> {
    let text: Option<String> =
        sqlx::query_scalar("SELECT releases FROM release_snapshots WHERE repository = $1")
            .bind(repo.as_ref())
            .fetch_optional(db.pool())
            .await?;
    // An unreadable snapshot is no snapshot: the caller lists again.
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Stores the releases as listed now.
pub async fn put(
    db: &Db,
    repo: &RepoFullName,
    releases: &[ReleaseSummary],
    now: i64,
) -> Result<(), StoreError> {
    let text = serde_json::to_string(releases).unwrap_or_else(|_| "[]".to_owned());
    sqlx::query(
        "INSERT INTO release_snapshots (repository, releases, taken_at) VALUES ($1, $2, $3) \
         ON CONFLICT (repository) DO UPDATE SET releases = excluded.releases, \
         taken_at = excluded.taken_at",
    )
    .bind(repo.as_ref())
    .bind(text)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Forgets the snapshot: the next reader lists the releases again.
pub async fn invalidate(db: &Db, repo: &RepoFullName) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM release_snapshots WHERE repository = $1")
        .bind(repo.as_ref())
        .execute(db.pool())
        .await?;
    Ok(())
}

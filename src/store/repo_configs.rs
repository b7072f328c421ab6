//! Repository configurations as last read from GitHub (see `migrations/*/0005`).

use sqlx::FromRow;

use super::audit::{self, Entry};
use super::{Db, StoreError};
use crate::domain::ids::RepoFullName;

/// A stored configuration.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RepoConfigRow {
    /// `owner/name`.
    pub repository: String,
    /// File of the last good configuration (`None`: the repository has none; defaults).
    pub source_path: Option<String>,
    /// Blob sha of that file.
    pub blob_sha: Option<String>,
    /// Its text.
    pub config_text: Option<String>,
    /// Why the newest version was refused, if it was.
    pub error: Option<String>,
    /// Blob sha of the refused version.
    pub error_sha: Option<String>,
    /// Last checked (epoch ms).
    pub checked_at: i64,
}

/// The stored configuration of `repo`.
pub async fn get(db: &Db, repo: &RepoFullName) -> Result<Option<RepoConfigRow>, StoreError> {
    Ok(sqlx::query_as::<_, RepoConfigRow>(
        "SELECT repository, source_path, blob_sha, config_text, error, error_sha, checked_at \
         FROM repo_configs WHERE repository = $1",
    )
    .bind(repo.as_ref())
    .fetch_optional(db.pool())
    .await?)
}

/// Stores a good configuration (or none: `source_path` `None`), clearing any error.
pub async fn save_good(
    db: &Db,
    repo: &RepoFullName,
    source_path: Option<&str>,
    blob_sha: Option<&str>,
    text: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = db.begin_write().await?;
    let before: Option<(Option<String>,)> =
        sqlx::query_as("SELECT blob_sha FROM repo_configs WHERE repository = $1")
            .bind(repo.as_ref())
            .fetch_optional(&mut *tx)
            .await?;
    let before = before.and_then(|(sha,)| sha);
    if before.as_deref() != blob_sha {
        let detail = match (source_path, blob_sha) {
            (Some(path), Some(sha)) => format!("{path} at blob {sha}"),
            _ => "no configuration file: defaults apply".to_owned(),
        };
        let entry = Entry {
            repository: repo.to_string(),
            actor_login: "trainyard".into(),
            surface: "github".into(),
            action: "config.changed".into(),
            outcome: "accepted".into(),
            detail,
            ..Entry::default()
        };
        audit::record(&mut tx, &entry, now).await?;
    }
    sqlx::query(
        "INSERT INTO repo_configs \
         (repository, source_path, blob_sha, config_text, error, error_sha, checked_at) \
         VALUES ($1, $2, $3, $4, NULL, NULL, $5) \
         ON CONFLICT (repository) DO UPDATE SET source_path = excluded.source_path, \
         blob_sha = excluded.blob_sha, config_text = excluded.config_text, error = NULL, \
         error_sha = NULL, checked_at = excluded.checked_at",
    )
    .bind(repo.as_ref())
    .bind(source_path)
    .bind(blob_sha)
    .bind(text)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Records that the version with `blob_sha` was refused; the last good one stays.
pub async fn save_error(
    db: &Db,
    repo: &RepoFullName,
    blob_sha: &str,
    error: &str,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = db.begin_write().await?;
    // Each refused version once, however often it is read again.
    let entry = Entry {
        repository: repo.to_string(),
        actor_login: "trainyard".into(),
        surface: "github".into(),
        action: "config.refused".into(),
        outcome: "refused".into(),
        detail: format!("blob {blob_sha}: {error}"),
        key: Some(format!("config-refused:{repo}:{blob_sha}")),
        ..Entry::default()
    };
    audit::record(&mut tx, &entry, now).await?;
    sqlx::query(
        "INSERT INTO repo_configs \
         (repository, source_path, blob_sha, config_text, error, error_sha, checked_at) \
         VALUES ($1, NULL, NULL, NULL, $2, $3, $4) \
         ON CONFLICT (repository) DO UPDATE SET error = excluded.error, \
         error_sha = excluded.error_sha, checked_at = excluded.checked_at",
    )
    .bind(repo.as_ref())
    .bind(error)
    .bind(blob_sha)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Every repository with a stored configuration file: `(repository, path, text)`.
pub async fn all_with_text(db: &Db) -> Result<Vec<(String, String, String)>, StoreError> {
    Ok(sqlx::query_as::<_, (String, String, String)>(
        "SELECT repository, source_path, config_text FROM repo_configs \
         WHERE source_path IS NOT NULL AND config_text IS NOT NULL",
    )
    .fetch_all(db.pool())
    .await?)
}

/// Records the files `repo`'s configuration extends (`owner/repo:path` each).
pub async fn set_sources(
    db: &Db,
    repo: &RepoFullName,
    sources: &[String],
) -> Result<(), StoreError> {
    let joined = (!sources.is_empty()).then(|| sources.join("\n"));
    sqlx::query("UPDATE repo_configs SET extends_sources = $2 WHERE repository = $1")
        .bind(repo.as_ref())
        .bind(joined)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The repositories whose configuration extends the file `source` (`owner/repo:path`).
pub async fn extending(db: &Db, source: &str) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT repository, extends_sources FROM repo_configs WHERE extends_sources IS NOT NULL",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, sources)| sources.lines().any(|line| line == source))
        .map(|(repository, _)| repository)
        .collect())
}

//! Bearer tokens for the gate API, one repository each (see
//! `migrations/*/0020_release_gate.sql`). A token is shown once when issued; only its SHA-256
//! is kept, so the store never holds what would let someone call the API.

use sqlx::FromRow;

use super::{Db, StoreError};

/// Tokens start with this, so a leaked one is recognisable (secret scanners, logs).
pub const PREFIX: &str = "tyg_";

/// A token as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ApiToken {
    /// Its id.
    pub id: i64,
    /// The repository it may ask about.
    pub repository: String,
    /// What it is for (`argo-cd`), shown in the audit log.
    pub label: String,
    /// Issued (epoch ms).
    pub created_at: i64,
    /// Revoked (epoch ms).
    pub revoked_at: Option<i64>,
}

fn hash(token: &str) -> String {
    super::token_hash(token)
}

/// Issues a token for `repository`; returns its id and the token, which is not kept.
pub async fn issue(
    db: &Db,
    repository: &str,
    label: &str,
    now: i64,
) -> Result<(i64, String), StoreError> {
    let token = super::new_token(PREFIX);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_tokens (repository, token_hash, label, created_at) \
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(repository)
    .bind(hash(&token))
    .bind(label)
    .bind(now)
    .fetch_one(db.pool())
    .await?;
    Ok((id, token))
}

/// The live token `token` is, if it is one.
pub async fn find(db: &Db, token: &str) -> Result<Option<ApiToken>, StoreError> {
    if !token.starts_with(PREFIX) || token.len() > 100 {
        return Ok(None);
    }
    Ok(sqlx::query_as(
        "SELECT id, repository, label, created_at, revoked_at FROM api_tokens \
         WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(hash(token))
    .fetch_optional(db.pool())
    .await?)
}

/// Every token, or a repository's, newest first.
pub async fn list(db: &Db, repository: Option<&str>) -> Result<Vec<ApiToken>, StoreError> {
    let query = match repository {
        Some(repository) => sqlx::query_as(
            "SELECT id, repository, label, created_at, revoked_at FROM api_tokens \
             WHERE repository = $1 ORDER BY id DESC",
        )
        .bind(repository),
        None => sqlx::query_as(
            "SELECT id, repository, label, created_at, revoked_at FROM api_tokens \
             ORDER BY id DESC",
        ),
    };
    Ok(query.fetch_all(db.pool()).await?)
}

/// Revokes token `id`; returns whether a live token was revoked.
pub async fn revoke(db: &Db, id: i64, now: i64) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(db.pool())
            .await?;
    Ok(done.rows_affected() == 1)
}

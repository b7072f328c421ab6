//! Calendar feed tokens (see `migrations/*/0025_calendar_feeds.sql`). A token is shown once
//! when made; only its SHA-256 is kept.

use sqlx::FromRow;

use super::{Db, StoreError};

/// Feed tokens start with this, so a leaked one is recognisable.
pub const PREFIX: &str = "tyc_";

/// A feed as stored (never its token).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Feed {
    /// Its id.
    pub id: i64,
    /// Who made it (GitHub user id).
    pub github_id: i64,
    /// Their login.
    pub login: String,
    /// The repositories it shows, one per line.
    pub repositories: String,
    /// What it is, as shown.
    pub label: String,
    /// Made (epoch ms).
    pub created_at: i64,
    /// Revoked (epoch ms).
    pub revoked_at: Option<i64>,
}

impl Feed {
    /// The repositories it shows.
    pub fn repositories(&self) -> impl Iterator<Item = &str> {
        self.repositories.lines().filter(|l| !l.is_empty())
    }
}

fn hash(token: &str) -> String {
    super::token_hash(token)
}

/// Makes a feed of `repositories` for `github_id`; returns its id and its token, not kept.
pub async fn create(
    db: &Db,
    github_id: i64,
    login: &str,
    repositories: &[String],
    label: &str,
    now: i64,
) -> Result<(i64, String), StoreError> {
    let token = super::new_token(PREFIX);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO calendar_feeds (token_hash, github_id, login, repositories, label, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(hash(&token))
    .bind(github_id)
    .bind(login)
    .bind(repositories.join("\n"))
    .bind(label)
    .bind(now)
    .fetch_one(db.pool())
    .await?;
    Ok((id, token))
}

/// The live feed `token` opens, if any.
pub async fn find(db: &Db, token: &str) -> Result<Option<Feed>, StoreError> {
    if !token.starts_with(PREFIX) || token.len() > 100 {
        return Ok(None);
    }
    Ok(sqlx::query_as(
        "SELECT id, github_id, login, repositories, label, created_at, revoked_at \
         FROM calendar_feeds WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(hash(token))
    .fetch_optional(db.pool())
    .await?)
}

/// `github_id`'s live feeds, newest first.
pub async fn of(db: &Db, github_id: i64) -> Result<Vec<Feed>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, github_id, login, repositories, label, created_at, revoked_at \
         FROM calendar_feeds WHERE github_id = $1 AND revoked_at IS NULL ORDER BY id DESC",
    )
    .bind(github_id)
    .fetch_all(db.pool())
    .await?)
}

/// Revokes feed `id` if `github_id` made it; `false` otherwise.
pub async fn revoke(db: &Db, id: i64, github_id: i64, now: i64) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE calendar_feeds SET revoked_at = $3 \
         WHERE id = $1 AND github_id = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(github_id)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

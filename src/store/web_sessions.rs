//! Dashboard sessions (see `migrations/*/0015_web_sessions.sql`): the cookie's SHA-256 maps
//! to the signed-in GitHub user and the session's CSRF token, until it expires.

use sha2::{Digest, Sha256};

use super::{Db, StoreError};

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Session {
    /// The GitHub account's id.
    pub github_id: i64,
    /// Its login when it signed in.
    pub login: String,
    /// What every form of this session carries back.
    pub csrf: String,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Stores a session for the cookie value `token`, valid until `expires_at`.
pub async fn create(
    db: &Db,
    token: &str,
    session: &Session,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO web_sessions (token_hash, github_id, login, csrf, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(hash(token))
    .bind(session.github_id)
    .bind(&session.login)
    .bind(&session.csrf)
    .bind(now)
    .bind(expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The live session of cookie value `token`.
pub async fn get(db: &Db, token: &str, now: i64) -> Result<Option<Session>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT github_id, login, csrf FROM web_sessions WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(hash(token))
    .bind(now)
    .fetch_optional(db.pool())
    .await?)
}

/// Ends a session.
pub async fn delete(db: &Db, token: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1")
        .bind(hash(token))
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Forgets expired sessions; returns how many.
pub async fn prune(db: &Db, now: i64) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}

//! `/release link` requests (see `migrations/*/0012_link_requests.sql`), kept by the hash of
//! their token: a request is opened by one browser, proven on the chat side, then spent by
//! GitHub's answer, each step at most once and only within its ten minutes.

use sha2::{Digest, Sha256};
use sqlx::FromRow;

use super::{Db, StoreError};
use crate::store::chat::ChatSurface;

/// A link request as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct LinkRequest {
    /// `slack` or `discord`.
    pub surface: String,
    /// Team or guild id.
    pub workspace: String,
    /// The chat user who asked.
    pub chat_user: String,
    /// The GitHub login they named (`/release link <login>`), offered at GitHub's sign-in.
    pub login_hint: Option<String>,
    /// Expiry (epoch ms).
    pub expires_at: i64,
    /// SHA-256 of the cookie of the browser that opened it.
    pub browser_hash: Option<String>,
    /// When the browser signed in to the chat service as `chat_user`.
    pub chat_verified_at: Option<i64>,
    /// When GitHub's answer used it.
    pub spent_at: Option<i64>,
}

impl LinkRequest {
    /// The chat surface.
    pub fn chat_surface(&self) -> Option<ChatSurface> {
        ChatSurface::parse(&self.surface)
    }
}

/// SHA-256, hex: tokens and cookies are stored only so.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Who asked for a link.
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    /// Slack or Discord.
    pub surface: ChatSurface,
    /// Team or guild id.
    pub workspace: &'a str,
    /// Chat user id.
    pub user: &'a str,
    /// The GitHub login they named, if any.
    pub login_hint: Option<&'a str>,
}

/// Records a new request for `token`.
pub async fn create(
    db: &Db,
    token: &str,
    asker: Asker<'_>,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO link_requests (token_hash, surface, workspace, chat_user, login_hint, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(digest(token))
    .bind(asker.surface.as_str())
    .bind(asker.workspace)
    .bind(asker.user)
    .bind(asker.login_hint)
    .bind(now)
    .bind(expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The request for `token`, if there is one.
pub async fn find(db: &Db, token: &str) -> Result<Option<LinkRequest>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT surface, workspace, chat_user, login_hint, expires_at, browser_hash, chat_verified_at, \
         spent_at FROM link_requests WHERE token_hash = $1",
    )
    .bind(digest(token))
    .fetch_optional(db.pool())
    .await?)
}

/// Binds the request to the browser holding `cookie`: only the first browser, before the
/// chat sign-in. `false` when another browser holds it or it is past that step.
pub async fn bind_browser(db: &Db, token: &str, cookie: &str) -> Result<bool, StoreError> {
    let bound = sqlx::query(
        "UPDATE link_requests SET browser_hash = $2 WHERE token_hash = $1 \
         AND browser_hash IS NULL AND chat_verified_at IS NULL AND spent_at IS NULL",
    )
    .bind(digest(token))
    .bind(digest(cookie))
    .execute(db.pool())
    .await?;
    Ok(bound.rows_affected() == 1)
}

/// Records that the bound browser signed in to the chat service as the user who asked.
pub async fn mark_chat_verified(db: &Db, token: &str, now: i64) -> Result<bool, StoreError> {
    let marked = sqlx::query(
        "UPDATE link_requests SET chat_verified_at = $2 WHERE token_hash = $1 \
         AND chat_verified_at IS NULL AND spent_at IS NULL",
    )
    .bind(digest(token))
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(marked.rows_affected() == 1)
}

/// Spends the request (GitHub answered, or the proof failed): `true` only for the first.
pub async fn spend(db: &Db, token: &str, now: i64) -> Result<bool, StoreError> {
    let spent = sqlx::query(
        "UPDATE link_requests SET spent_at = $2 WHERE token_hash = $1 AND spent_at IS NULL",
    )
    .bind(digest(token))
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(spent.rows_affected() == 1)
}

/// Deletes requests that expired before `before`.
pub async fn prune(db: &Db, before: i64) -> Result<u64, StoreError> {
    let pruned = sqlx::query("DELETE FROM link_requests WHERE expires_at < $1")
        .bind(before)
        .execute(db.pool())
        .await?;
    Ok(pruned.rows_affected())
}

//! Dashboard sessions (see `migrations/*/0015_web_sessions.sql` and `0018`): the cookie's
//! SHA-256 maps to the signed-in GitHub user, the session's CSRF token and the repositories
//! the user could read when signing in, until it expires; with the outcome of its last form
//! (shown once) and its commands in the current minute.

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
    /// The installed repositories the user could read at sign-in (`owner/name`, JSON).
    #[sqlx(default)]
    pub repositories: String,
}

impl Session {
    /// The repositories the user could read at sign-in.
    pub fn readable(&self) -> Vec<String> {
        serde_json::from_str(&self.repositories).unwrap_or_default()
    }

    /// Whether the user could read `repo` at sign-in.
    pub fn can_read(&self, repo: &str) -> bool {
        self.readable().iter().any(|r| r.eq_ignore_ascii_case(repo))
    }
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
        "INSERT INTO web_sessions (token_hash, github_id, login, csrf, repositories, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(hash(token))
    .bind(session.github_id)
    .bind(&session.login)
    .bind(&session.csrf)
    .bind(&session.repositories)
    .bind(now)
    .bind(expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The live session of cookie value `token`.
pub async fn get(db: &Db, token: &str, now: i64) -> Result<Option<Session>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT github_id, login, csrf, repositories FROM web_sessions \
         WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(hash(token))
    .bind(now)
    .fetch_optional(db.pool())
    .await?)
}

/// Keeps `text` to show once on the session's next page.
pub async fn set_flash(db: &Db, token: &str, text: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE web_sessions SET flash = $2 WHERE token_hash = $1")
        .bind(hash(token))
        .bind(text)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The session's flash, taken: shown once.
pub async fn take_flash(db: &Db, token: &str) -> Result<Option<String>, StoreError> {
    let flash: Option<String> =
        sqlx::query_scalar("SELECT flash FROM web_sessions WHERE token_hash = $1")
            .bind(hash(token))
            .fetch_optional(db.pool())
            .await?
            .flatten();
    if let Some(text) = &flash {
        sqlx::query("UPDATE web_sessions SET flash = NULL WHERE token_hash = $1 AND flash = $2")
            .bind(hash(token))
            .bind(text)
            .execute(db.pool())
            .await?;
    }
    Ok(flash)
}

/// Counts a command of the session; false past `most` in the minute since the window began.
pub async fn count_command(db: &Db, token: &str, most: i64, now: i64) -> Result<bool, StoreError> {
    let in_window: Option<i64> = sqlx::query_scalar(
        "UPDATE web_sessions SET \
         commands_in_window = CASE WHEN command_window_at <= $2 - 60000 THEN 1 \
                                   ELSE commands_in_window + 1 END, \
         command_window_at = CASE WHEN command_window_at <= $2 - 60000 THEN $2 \
                                  ELSE command_window_at END \
         WHERE token_hash = $1 RETURNING commands_in_window",
    )
    .bind(hash(token))
    .bind(now)
    .fetch_optional(db.pool())
    .await?;
    Ok(in_window.is_some_and(|n| n <= most))
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

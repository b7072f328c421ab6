//! Commands on trains, once decided (see `migrations/*/0009_parked_jobs_and_commands.sql`):
//! the outcome is written in the transaction that applies the command, so a retried job
//! finds it and never acts twice.

use sqlx::{AnyConnection, FromRow};

use super::{Db, StoreError};

/// A decided command.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct OutcomeRow {
    /// The command's id (`slack:…`, `discord:…`, `comment:…`, `schedule:…`).
    pub command_id: String,
    /// `owner/name`.
    pub repository: String,
    /// The command's name.
    pub command: String,
    /// Who gave it (GitHub login).
    pub actor: String,
    /// 1 when it was refused (nothing changed).
    pub refused: i64,
    /// What the asker was told.
    pub answer: String,
    /// When (epoch ms).
    pub decided_at: i64,
}

/// What to record of a decided command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome<'a> {
    /// The command's id.
    pub command_id: &'a str,
    /// `owner/name`.
    pub repository: &'a str,
    /// The command's name.
    pub command: &'a str,
    /// Who gave it.
    pub actor: &'a str,
    /// Refused.
    pub refused: bool,
    /// The answer.
    pub answer: &'a str,
}

/// The outcome of a command, if it was decided.
pub async fn outcome(db: &Db, command_id: &str) -> Result<Option<OutcomeRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT command_id, repository, command, actor, refused, answer, decided_at \
         FROM command_outcomes WHERE command_id = $1",
    )
    .bind(command_id)
    .fetch_optional(db.pool())
    .await?)
}

/// Records a command's outcome; false when one was recorded already (the caller must then
/// roll back whatever it was about to apply).
pub async fn record_outcome(
    conn: &mut AnyConnection,
    outcome: &Outcome<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO command_outcomes \
         (command_id, repository, command, actor, refused, answer, decided_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (command_id) DO NOTHING",
    )
    .bind(outcome.command_id)
    .bind(outcome.repository)
    .bind(outcome.command)
    .bind(outcome.actor)
    .bind(i64::from(outcome.refused))
    .bind(outcome.answer)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

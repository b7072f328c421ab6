//! Effects recorded as steps (see `migrations/*/0010_effect_steps.sql`): started before the
//! effect is sent, done with GitHub's answer. A step found started but not done is an effect
//! whose answer was lost: the caller looks for it on GitHub before sending it again.

use super::audit::{self, Entry};
use super::{Db, StoreError};

/// Where a step stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepState {
    /// Never started: send the effect.
    New,
    /// Started, answer unknown: it may have happened; look for it first.
    Uncertain,
    /// Done, with what was recorded (an id).
    Done(String),
}

/// Marks the step started (if it was not) and says where it stood before.
pub async fn start(db: &Db, key: &str, now: i64) -> Result<StepState, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO effect_steps (step_key, started_at) VALUES ($1, $2) \
         ON CONFLICT (step_key) DO NOTHING",
    )
    .bind(key)
    .bind(now)
    .execute(db.pool())
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(StepState::New);
    }
    let result: Option<String> =
        sqlx::query_scalar("SELECT result FROM effect_steps WHERE step_key = $1")
            .bind(key)
            .fetch_one(db.pool())
            .await?;
    Ok(match result {
        Some(result) => StepState::Done(result),
        None => StepState::Uncertain,
    })
}

/// Records the step done with `result`.
pub async fn finish(db: &Db, key: &str, result: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE effect_steps SET done_at = $2, result = $3 WHERE step_key = $1")
        .bind(key)
        .bind(now)
        .bind(result)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Records the step done and audits the effect, together: the record exists exactly when
/// the step is known done (once, under the step's key, however often it is finished).
pub async fn finish_audited(
    db: &Db,
    key: &str,
    result: &str,
    entry: Entry,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE effect_steps SET done_at = $2, result = $3 WHERE step_key = $1")
        .bind(key)
        .bind(now)
        .bind(result)
        .execute(&mut *tx)
        .await?;
    audit::record(&mut tx, &entry.once(format!("effect:{key}")), now).await?;
    tx.commit().await?;
    Ok(())
}

//! Each installation's budget of content-creating writes, counted per fixed window on the
//! store (see `migrations/*/0021_pull_request_checks.sql`): every replica takes from the same
//! budget, and a write that would overdraw it waits for its window to end.

use super::{Db, StoreError};

/// A window and how many writes it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Its name (`minute`, `hour`).
    pub name: &'static str,
    /// Its length (ms).
    pub millis: i64,
    /// Writes allowed in it.
    pub allows: i64,
}

/// Takes one write from every window of `installation`'s budget at `now`, or none: `Err` is
/// when the first exhausted window ends (epoch ms).
pub async fn take(
    db: &Db,
    installation: u64,
    windows: &[Window],
    now: i64,
) -> Result<Result<(), i64>, StoreError> {
    let mut tx = db.begin_write().await?;
    for window in windows {
        let start = now - now.rem_euclid(window.millis);
        // One statement, so concurrent takers on PostgreSQL serialise on the row: a new
        // window starts at 1, a running one counts up while it allows.
        let used: Option<i64> = sqlx::query_scalar(
            "INSERT INTO write_budgets (installation_id, window_name, window_start, used) \
             VALUES ($1, $2, $3, 1) \
             ON CONFLICT (installation_id, window_name) DO UPDATE SET \
             used = CASE WHEN write_budgets.window_start = excluded.window_start \
                 THEN write_budgets.used + 1 ELSE 1 END, \
             window_start = excluded.window_start \
             WHERE write_budgets.window_start <> excluded.window_start \
                 OR write_budgets.used < $4 \
             RETURNING used",
        )
        .bind(installation as i64)
        .bind(window.name)
        .bind(start)
        .bind(window.allows)
        .fetch_optional(&mut *tx)
        .await?;
        if used.is_none() {
            // Rolled back as the transaction drops: nothing was taken from any window.
            return Ok(Err(start + window.millis));
        }
    }
    tx.commit().await?;
    Ok(Ok(()))
}

//! The store's ledger of GitHub writes per installation (the rule is `domain::write_budget`):
//! every replica takes from the same budget. A taker serialises on the installation's
//! `installation_budgets` row (PostgreSQL: `FOR UPDATE`; SQLite: the writer lock), reads the
//! last hour's content writes, and records its own when the limits allow it.

use super::{Backend, Db, StoreError};
use crate::domain::write_budget::{ContentLimits, WriteVerdict, next_write_at};

const HOUR_MS: i64 = 3_600_000;

/// The ledger over the store.
#[derive(Debug, Clone)]
pub struct StoreLedger {
    db: Db,
}

impl StoreLedger {
    /// A ledger over `db`.
    pub fn new(db: Db) -> Self {
        StoreLedger { db }
    }

    /// Takes one write of `installation` at `now` (epoch ms): a content-creating one counts
    /// against `limits`; any write waits out a pause.
    pub async fn take_write(
        &self,
        installation: u64,
        content: bool,
        limits: ContentLimits,
        now: i64,
    ) -> Result<WriteVerdict, StoreError> {
        let id = installation as i64;
        if !content {
            // A plain write only waits out a pause: one read, no lock.
            return Ok(match self.paused_until(installation, now).await? {
                Some(until_ms) => WriteVerdict::Paused { until_ms },
                None => WriteVerdict::Allowed,
            });
        }
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO installation_budgets (installation_id, updated_at) VALUES ($1, $2) \
             ON CONFLICT (installation_id) DO NOTHING",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let lock = match self.db.backend() {
            Backend::Postgres => {
                "SELECT writes_paused_until FROM installation_budgets \
                 WHERE installation_id = $1 FOR UPDATE"
            }
            Backend::Sqlite => {
                "SELECT writes_paused_until FROM installation_budgets WHERE installation_id = $1"
            }
        };
        let paused: i64 = sqlx::query_scalar(lock)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        if paused > now {
            return Ok(WriteVerdict::Paused { until_ms: paused });
        }
        sqlx::query("DELETE FROM content_writes WHERE installation_id = $1 AND written_at <= $2")
            .bind(id)
            .bind(now - HOUR_MS)
            .execute(&mut *tx)
            .await?;
        let log: Vec<i64> = sqlx::query_scalar(
            "SELECT written_at FROM content_writes WHERE installation_id = $1 \
             ORDER BY written_at",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        if let Some((until_ms, window)) = next_write_at(&log, limits, now) {
            return Ok(WriteVerdict::Paced { until_ms, window });
        }
        sqlx::query("INSERT INTO content_writes (installation_id, written_at) VALUES ($1, $2)")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(WriteVerdict::Allowed)
    }

    /// Until when `installation`'s writes are paused (epoch ms), if they are.
    pub async fn paused_until(
        &self,
        installation: u64,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let paused: Option<i64> = sqlx::query_scalar(
            "SELECT writes_paused_until FROM installation_budgets WHERE installation_id = $1",
        )
        .bind(installation as i64)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(paused.filter(|p| *p > now))
    }

    /// Pauses `installation`'s writes until `until` (epoch ms); a longer pause stands.
    pub async fn pause_writes(
        &self,
        installation: u64,
        until: i64,
        reason: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO installation_budgets \
                 (installation_id, writes_paused_until, paused_reason, updated_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (installation_id) DO UPDATE SET \
                 writes_paused_until = excluded.writes_paused_until, \
                 paused_reason = excluded.paused_reason, updated_at = excluded.updated_at \
             WHERE installation_budgets.writes_paused_until < excluded.writes_paused_until",
        )
        .bind(installation as i64)
        .bind(until)
        .bind(reason)
        .bind(now)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }
}

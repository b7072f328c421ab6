//! Inbound delivery records: the dedupe key of every webhook (and later chat request).

use sqlx::{AnyConnection, FromRow};

use super::{Db, StoreError};

/// A delivery to record.
#[derive(Debug, Clone)]
pub struct DeliveryParams<'a> {
    /// `github`, later `slack`, `discord`.
    pub source: &'a str,
    /// The sender's delivery id (`X-GitHub-Delivery`).
    pub delivery_id: &'a str,
    /// Event name.
    pub event: &'a str,
    /// Action, if any.
    pub action: Option<&'a str>,
    /// `queued` or `ignored`.
    pub outcome: &'a str,
    /// Repository, if the event has one.
    pub repository: Option<&'a str>,
    /// Installation, if the event says.
    pub installation_id: Option<u64>,
    /// When received (epoch ms).
    pub received_at: i64,
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DeliveryRow {
    /// Source.
    pub source: String,
    /// Delivery id.
    pub delivery_id: String,
    /// Event name.
    pub event: String,
    /// Action.
    pub action: Option<String>,
    /// `queued` or `ignored`.
    pub outcome: String,
    /// Repository.
    pub repository: Option<String>,
    /// Installation.
    pub installation_id: Option<i64>,
    /// When received (epoch ms).
    pub received_at: i64,
}

/// Records many deliveries in one statement; returns the ids that were new (not recorded
/// before). Callers pass each id once.
pub async fn record_many(
    conn: &mut AnyConnection,
    deliveries: &[DeliveryParams<'_>],
) -> Result<std::collections::HashSet<String>, StoreError> {
    if deliveries.is_empty() {
        return Ok(Default::default());
    }
    let sql = format!(
        "INSERT INTO deliveries (source, delivery_id, event, action, outcome, repository, \
                                 installation_id, received_at) \
         VALUES {} ON CONFLICT (source, delivery_id) DO NOTHING RETURNING delivery_id",
        super::value_rows(deliveries.len(), 8)
    );
    let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
    for d in deliveries {
        query = query
            .bind(d.source)
            .bind(d.delivery_id)
            .bind(d.event)
            .bind(d.action)
            .bind(d.outcome)
            .bind(d.repository)
            .bind(d.installation_id.and_then(|id| i64::try_from(id).ok()))
            .bind(d.received_at);
    }
    Ok(query.fetch_all(&mut *conn).await?.into_iter().collect())
}

/// Deletes deliveries received before `before` (epoch ms); returns how many.
pub async fn prune(db: &Db, before: i64) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM deliveries WHERE received_at < $1")
        .bind(before)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}

/// All deliveries, oldest first (operators, tests).
pub async fn list(db: &Db) -> Result<Vec<DeliveryRow>, StoreError> {
    Ok(sqlx::query_as::<_, DeliveryRow>(
        "SELECT source, delivery_id, event, action, outcome, repository, installation_id, \
                received_at \
         FROM deliveries ORDER BY received_at, delivery_id",
    )
    .fetch_all(db.pool())
    .await?)
}

/// How many deliveries are stored.
pub async fn count(db: &Db) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries")
        .fetch_one(db.pool())
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

//! What each channel's last `/release preview` showed (see `migrations/*/0022_previews.sql`).

use super::{Db, StoreError};

/// Where a preview was asked for, and about what.
#[derive(Debug, Clone)]
pub struct PreviewPlace<'a> {
    /// `slack`, `discord` or `github`.
    pub surface: &'a str,
    /// Slack team or Discord guild (empty for GitHub).
    pub workspace: &'a str,
    /// The channel (the issue or pull request, for GitHub).
    pub channel: &'a str,
    /// `owner/name`.
    pub repository: &'a str,
    /// The train line.
    pub line: &'a str,
}

/// Records `numbers` as the place's latest preview; returns what the previous one showed.
pub async fn swap(
    db: &Db,
    place: &PreviewPlace<'_>,
    numbers: &[u64],
    now: i64,
) -> Result<Option<Vec<u64>>, StoreError> {
    let mut tx = db.begin_write().await?;
    let before: Option<String> = sqlx::query_scalar(
        "SELECT numbers FROM previews WHERE surface = $1 AND workspace = $2 AND channel = $3 \
         AND repository = $4 AND line = $5",
    )
    .bind(place.surface)
    .bind(place.workspace)
    .bind(place.channel)
    .bind(place.repository)
    .bind(place.line)
    .fetch_optional(&mut *tx)
    .await?;
    let shown = serde_json::to_string(numbers).unwrap_or_else(|_| "[]".to_owned());
    sqlx::query(
        "INSERT INTO previews (surface, workspace, channel, repository, line, numbers, shown_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (surface, workspace, channel, repository, line) \
         DO UPDATE SET numbers = excluded.numbers, shown_at = excluded.shown_at",
    )
    .bind(place.surface)
    .bind(place.workspace)
    .bind(place.channel)
    .bind(place.repository)
    .bind(place.line)
    .bind(shown)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(before.map(|text| serde_json::from_str(&text).unwrap_or_default()))
}

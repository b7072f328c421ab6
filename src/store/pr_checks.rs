//! Pull requests' `trainyard` check runs (see `migrations/*/0021_pull_request_checks.sql`).

use sqlx::{AnyConnection, FromRow};

use super::{Db, StoreError};

/// A pull request's check, as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct PrCheck {
    /// `owner/name`.
    pub repository: String,
    /// The pull request.
    pub number: i64,
    /// The installation that saw it.
    pub installation_id: i64,
    /// Its head commit, where the check run lives.
    pub head_sha: String,
    /// The branch it merges into.
    pub base_ref: String,
    /// The repository's default branch, when the webhook said.
    pub default_branch: Option<String>,
    /// Its labels (JSON array).
    pub labels: String,
    /// Merged (1) or not.
    pub merged: i64,
    /// Closed (1) or open.
    pub closed: i64,
    /// GitHub's check run, once created.
    pub check_run_id: Option<i64>,
    /// The title last sent.
    pub sent_title: Option<String>,
    /// The summary last sent.
    pub sent_summary: Option<String>,
    /// When it was last sent (epoch ms).
    pub sent_at: Option<i64>,
    /// Bumped when its standing may have changed; 0 once synced.
    pub dirty: i64,
}

impl PrCheck {
    /// Its labels.
    pub fn label_names(&self) -> Vec<String> {
        serde_json::from_str(&self.labels).unwrap_or_default()
    }

    /// The step that creates its check run (found again by its external id when the answer
    /// was lost).
    pub fn create_step(&self) -> String {
        format!(
            "check:{}:{}:{}",
            self.repository, self.number, self.head_sha
        )
    }
}

/// A pull request as its webhook showed it.
#[derive(Debug, Clone)]
pub struct SeenPull<'a> {
    /// `owner/name`.
    pub repository: &'a str,
    /// Number.
    pub number: u64,
    /// The installation.
    pub installation_id: u64,
    /// Head commit.
    pub head_sha: &'a str,
    /// Base branch.
    pub base_ref: &'a str,
    /// The repository's default branch.
    pub default_branch: Option<&'a str>,
    /// Labels.
    pub labels: &'a [String],
    /// Merged.
    pub merged: bool,
    /// Closed.
    pub closed: bool,
    /// When the webhook was received (epoch ms): an older one changes nothing.
    pub event_at: i64,
}

/// Records what a webhook showed of a pull request and marks its check for a sync, unless a
/// newer webhook told more already; a new head commit starts a new check run.
pub async fn seen(
    conn: &mut AnyConnection,
    pull: &SeenPull<'_>,
    now: i64,
) -> Result<(), StoreError> {
    let labels = serde_json::to_string(pull.labels).unwrap_or_else(|_| "[]".to_owned());
    sqlx::query(
        "INSERT INTO pr_checks (repository, number, installation_id, head_sha, base_ref, labels, \
         merged, closed, default_branch, event_at, dirty, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $10, $11, 1, $9) \
         ON CONFLICT (repository, number) DO UPDATE SET \
         installation_id = excluded.installation_id, \
         check_run_id = CASE WHEN pr_checks.head_sha = excluded.head_sha \
             THEN pr_checks.check_run_id ELSE NULL END, \
         sent_title = CASE WHEN pr_checks.head_sha = excluded.head_sha \
             THEN pr_checks.sent_title ELSE NULL END, \
         sent_summary = CASE WHEN pr_checks.head_sha = excluded.head_sha \
             THEN pr_checks.sent_summary ELSE NULL END, \
         head_sha = excluded.head_sha, base_ref = excluded.base_ref, labels = excluded.labels, \
         default_branch = COALESCE(excluded.default_branch, pr_checks.default_branch), \
         merged = excluded.merged, closed = excluded.closed, \
         event_at = excluded.event_at, \
         dirty = pr_checks.dirty + 1, updated_at = excluded.updated_at \
         WHERE excluded.event_at >= pr_checks.event_at",
    )
    .bind(pull.repository)
    .bind(pull.number as i64)
    .bind(pull.installation_id as i64)
    .bind(pull.head_sha)
    .bind(pull.base_ref)
    .bind(labels)
    .bind(i64::from(pull.merged))
    .bind(i64::from(pull.closed))
    .bind(now)
    .bind(pull.default_branch)
    .bind(pull.event_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks the checks of a train's pull requests for a sync; returns how many.
pub async fn mark_train(
    conn: &mut AnyConnection,
    repository: &str,
    train_id: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE pr_checks SET dirty = dirty + 1 WHERE repository = $1 AND number IN \
         (SELECT number FROM train_pull_requests WHERE train_id = $2)",
    )
    .bind(repository)
    .bind(train_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Marks the checks of a train's passengers that were sent with another title than `title`
/// (an open train whose projected tag moved); returns how many.
pub async fn mark_stale_passengers(
    db: &Db,
    repository: &str,
    train_id: i64,
    title: &str,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE pr_checks SET dirty = dirty + 1 WHERE repository = $1 AND dirty = 0 \
         AND sent_title IS NOT NULL AND sent_title <> $3 AND number IN \
         (SELECT number FROM train_pull_requests WHERE train_id = $2)",
    )
    .bind(repository)
    .bind(train_id)
    .bind(title)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected())
}

/// Marks one pull request's check for a sync; returns whether trainyard knows it.
pub async fn mark(
    conn: &mut AnyConnection,
    repository: &str,
    number: u64,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE pr_checks SET dirty = dirty + 1 WHERE repository = $1 AND number = $2")
            .bind(repository)
            .bind(number as i64)
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

const COLUMNS: &str = "repository, number, installation_id, head_sha, base_ref, default_branch, \
     labels, merged, closed, check_run_id, sent_title, sent_summary, sent_at, dirty";

/// A repository's checks marked for a sync, oldest pull requests first.
pub async fn dirty(db: &Db, repository: &str, limit: i64) -> Result<Vec<PrCheck>, StoreError> {
    // The columns are our own constant, never input.
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM pr_checks WHERE repository = $1 AND dirty > 0 \
         ORDER BY number LIMIT $2"
    )))
    .bind(repository)
    .bind(limit)
    .fetch_all(db.pool())
    .await?)
}

/// One pull request's check.
pub async fn get(db: &Db, repository: &str, number: u64) -> Result<Option<PrCheck>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM pr_checks WHERE repository = $1 AND number = $2"
    )))
    .bind(repository)
    .bind(number as i64)
    .fetch_optional(db.pool())
    .await?)
}

/// What GitHub now shows of the check.
#[derive(Debug, Clone)]
pub struct Sent<'a> {
    /// The check run.
    pub check_run_id: i64,
    /// Its title.
    pub title: &'a str,
    /// Its summary.
    pub summary: &'a str,
}

/// Records the check synced as of generation `seen` (sent, or found unchanged: `sent` is
/// then `None`); a bump since keeps it marked.
pub async fn synced(
    db: &Db,
    check: &PrCheck,
    sent: Option<&Sent<'_>>,
    now: i64,
) -> Result<(), StoreError> {
    let query = match sent {
        Some(sent) => sqlx::query(
            "UPDATE pr_checks SET check_run_id = $3, sent_title = $4, sent_summary = $5, \
             sent_at = $6, dirty = CASE WHEN dirty = $7 THEN 0 ELSE dirty END \
             WHERE repository = $1 AND number = $2 AND head_sha = $8",
        )
        .bind(&check.repository)
        .bind(check.number)
        .bind(sent.check_run_id)
        .bind(sent.title)
        .bind(sent.summary)
        .bind(now)
        .bind(check.dirty)
        .bind(&check.head_sha),
        None => sqlx::query(
            "UPDATE pr_checks SET dirty = CASE WHEN dirty = $3 THEN 0 ELSE dirty END \
             WHERE repository = $1 AND number = $2",
        )
        .bind(&check.repository)
        .bind(check.number)
        .bind(check.dirty),
    };
    query.execute(db.pool()).await?;
    Ok(())
}

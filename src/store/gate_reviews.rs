//! Requests of trainyard's deployment protection rule and the gate's answers (see
//! `migrations/*/0020_release_gate.sql`).

use sqlx::{AnyConnection, FromRow};

use super::{Db, StoreError};

/// A protection rule request as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct GateReview {
    /// Our id.
    pub id: i64,
    /// `owner/name`.
    pub repository: String,
    /// The installation that received it.
    pub installation_id: i64,
    /// The workflow run.
    pub run_id: i64,
    /// The environment.
    pub environment: String,
    /// The commit the run deploys.
    pub sha: String,
    /// The ref the run deploys, as GitHub names it.
    pub ref_name: Option<String>,
    /// Who started the run.
    pub requested_by: String,
    /// What started it (push, workflow_dispatch, …).
    pub run_event: Option<String>,
    /// The train whose release the commit is, once known.
    pub train_id: Option<i64>,
    /// `deciding`, `waiting`, `approved` or `rejected`.
    pub state: String,
    /// The last reason given.
    pub reason: Option<String>,
    /// What a waiting review waits for.
    pub wait_for: Option<String>,
    /// When a freeze ends, for a review waiting for it (epoch ms).
    pub recheck_at: Option<i64>,
    /// Received (epoch ms).
    pub requested_at: i64,
    /// Answered on GitHub (epoch ms).
    pub answered_at: Option<i64>,
}

impl GateReview {
    /// Whether the gate gave its final answer.
    pub fn answered(&self) -> bool {
        matches!(self.state.as_str(), "approved" | "rejected")
    }

    /// The effect step of its answer on GitHub.
    pub fn answer_step(&self) -> String {
        format!(
            "gate:{}:{}:{}",
            self.repository, self.run_id, self.environment
        )
    }
}

/// A request as it arrived.
#[derive(Debug, Clone)]
pub struct NewGateReview<'a> {
    /// `owner/name`.
    pub repository: &'a str,
    /// The installation.
    pub installation_id: u64,
    /// The workflow run.
    pub run_id: u64,
    /// The environment.
    pub environment: &'a str,
    /// The commit.
    pub sha: &'a str,
    /// The ref.
    pub ref_name: Option<&'a str>,
    /// Who started the run.
    pub requested_by: &'a str,
    /// What started it.
    pub run_event: Option<&'a str>,
}

const COLUMNS: &str = "id, repository, installation_id, run_id, environment, sha, ref_name, \
     requested_by, run_event, train_id, state, reason, wait_for, recheck_at, requested_at, \
     answered_at";

/// Records a request, once: a redelivery finds the first. Returns its id.
pub async fn receive(db: &Db, review: &NewGateReview<'_>, now: i64) -> Result<i64, StoreError> {
    sqlx::query(
        "INSERT INTO gate_reviews (repository, installation_id, run_id, environment, sha, \
         ref_name, requested_by, run_event, state, requested_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'deciding', $9) \
         ON CONFLICT (repository, run_id, environment) DO NOTHING",
    )
    .bind(review.repository)
    .bind(review.installation_id as i64)
    .bind(review.run_id as i64)
    .bind(review.environment)
    .bind(review.sha)
    .bind(review.ref_name)
    .bind(review.requested_by)
    .bind(review.run_event)
    .bind(now)
    .execute(db.pool())
    .await?;
    let id: i64 = sqlx::query_scalar(
        "SELECT id FROM gate_reviews WHERE repository = $1 AND run_id = $2 AND environment = $3",
    )
    .bind(review.repository)
    .bind(review.run_id as i64)
    .bind(review.environment)
    .fetch_one(db.pool())
    .await?;
    Ok(id)
}

/// One request.
pub async fn get(db: &Db, id: i64) -> Result<Option<GateReview>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM gate_reviews WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db.pool())
    .await?)
}

/// A repository's waiting requests, oldest first.
pub async fn waiting(db: &Db, repository: &str) -> Result<Vec<GateReview>, StoreError> {
    // The columns are our own constant, never input.
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM gate_reviews WHERE repository = $1 AND state = 'waiting' \
         ORDER BY id"
    )))
    .bind(repository)
    .fetch_all(db.pool())
    .await?)
}

/// Repositories with a request waiting for a freeze that has ended by `now`.
pub async fn thawed_repositories(db: &Db, now: i64) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT repository FROM gate_reviews \
         WHERE state = 'waiting' AND recheck_at IS NOT NULL AND recheck_at <= $1",
    )
    .bind(now)
    .fetch_all(db.pool())
    .await?)
}

/// A repository's latest requests, newest first (`/release deploys`, the dashboard).
pub async fn recent(db: &Db, repository: &str, limit: i64) -> Result<Vec<GateReview>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM gate_reviews WHERE repository = $1 ORDER BY id DESC LIMIT $2"
    )))
    .bind(repository)
    .bind(limit)
    .fetch_all(db.pool())
    .await?)
}

/// The requests whose commit is `train_id`'s release, newest first.
pub async fn of_train(
    db: &Db,
    repository: &str,
    train_id: i64,
) -> Result<Vec<GateReview>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM gate_reviews WHERE repository = $1 AND train_id = $2 \
         ORDER BY id DESC LIMIT 20"
    )))
    .bind(repository)
    .bind(train_id)
    .fetch_all(db.pool())
    .await?)
}

/// What the gate decided for a request.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    /// `waiting`, `approved` or `rejected`.
    pub state: &'a str,
    /// Why.
    pub reason: &'a str,
    /// What a waiting request waits for.
    pub wait_for: Option<&'a str>,
    /// When a freeze ends.
    pub recheck_at: Option<i64>,
    /// The train whose release the commit is.
    pub train_id: Option<i64>,
}

/// Records the gate's decision, unless the request was answered meanwhile. Returns whether
/// it was recorded.
pub async fn decide(
    conn: &mut AnyConnection,
    id: i64,
    decision: &Decision<'_>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE gate_reviews SET state = $2, reason = $3, wait_for = $4, recheck_at = $5, \
         train_id = COALESCE($6, train_id) \
         WHERE id = $1 AND state IN ('deciding', 'waiting')",
    )
    .bind(id)
    .bind(decision.state)
    .bind(decision.reason)
    .bind(decision.wait_for)
    .bind(decision.recheck_at)
    .bind(decision.train_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records that GitHub has the answer.
pub async fn answered(db: &Db, id: i64, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE gate_reviews SET answered_at = $2 WHERE id = $1 AND answered_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(db.pool())
        .await?;
    Ok(())
}

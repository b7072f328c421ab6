//! Bakes: verification after a successful deployment (see `migrations/*/0024_bakes.sql`).
//! Every change is conditional on the row's state, so a round or an ending happens once
//! however many workers or replicas try it.

use sqlx::{AnyConnection, FromRow};

use super::{Db, StoreError};

/// A bake as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct BakeRow {
    /// Our id.
    pub id: i64,
    /// `owner/name`.
    pub repository: String,
    /// The installation (for the deployments it may start).
    pub installation_id: i64,
    /// The environment.
    pub environment: String,
    /// Our deployments row that succeeded.
    pub deployment_id: i64,
    /// The train released.
    pub train_id: Option<i64>,
    /// Its version.
    pub version: String,
    /// Its tag.
    pub tag: String,
    /// Its commit.
    pub sha: String,
    /// `baking`, `verified`, `breached`, `skipped`, `expired` or `superseded`.
    pub state: String,
    /// Started (epoch ms): the deployment's success.
    pub started_at: i64,
    /// Ends (epoch ms).
    pub ends_at: i64,
    /// Between rounds (ms).
    pub every_ms: i64,
    /// When the next round is due (epoch ms).
    pub next_check_at: i64,
    /// Rounds made.
    pub rounds: i64,
    /// The last round's readings.
    pub last_reading: Option<String>,
    /// Why it breached or was skipped.
    pub reason: Option<String>,
    /// Who ended it.
    pub decided_by: Option<String>,
    /// Ended (epoch ms).
    pub finished_at: Option<i64>,
    /// A breach's rollback request id.
    pub rollback_request: Option<String>,
    /// When that rollback succeeded (epoch ms).
    pub restored_at: Option<i64>,
}

impl BakeRow {
    /// Still baking.
    pub fn baking(&self) -> bool {
        self.state == "baking"
    }

    /// Verified, or skipped by an admin: what follows may go.
    pub fn passed(&self) -> bool {
        matches!(self.state.as_str(), "verified" | "skipped")
    }
}

const COLUMNS: &str = "id, repository, installation_id, environment, deployment_id, train_id, \
    version, tag, sha, state, started_at, ends_at, every_ms, next_check_at, rounds, \
    last_reading, reason, decided_by, finished_at, rollback_request, restored_at";

/// A bake to start.
#[derive(Debug, Clone)]
pub struct NewBake<'a> {
    /// `owner/name`.
    pub repository: &'a str,
    /// The installation.
    pub installation_id: i64,
    /// The environment.
    pub environment: &'a str,
    /// Our deployments row.
    pub deployment_id: i64,
    /// The train.
    pub train_id: Option<i64>,
    /// The version.
    pub version: &'a str,
    /// The tag.
    pub tag: &'a str,
    /// The commit.
    pub sha: &'a str,
    /// Ends (epoch ms).
    pub ends_at: i64,
    /// Between rounds (ms).
    pub every_ms: i64,
    /// The first round (epoch ms).
    pub first_check_at: i64,
}

/// Starts a bake; `None` when the deployment has one already (a redelivered success).
pub async fn start(
    conn: &mut AnyConnection,
    new: &NewBake<'_>,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO bakes (repository, installation_id, environment, deployment_id, train_id, \
         version, tag, sha, state, started_at, ends_at, every_ms, next_check_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'baking', $9, $10, $11, $12) \
         ON CONFLICT (deployment_id) DO NOTHING RETURNING id",
    )
    .bind(new.repository)
    .bind(new.installation_id)
    .bind(new.environment)
    .bind(new.deployment_id)
    .bind(new.train_id)
    .bind(new.version)
    .bind(new.tag)
    .bind(new.sha)
    .bind(now)
    .bind(new.ends_at)
    .bind(new.every_ms)
    .bind(new.first_check_at)
    .fetch_optional(conn)
    .await?)
}

/// The bake with our id.
pub async fn get(db: &Db, id: i64) -> Result<Option<BakeRow>, StoreError> {
    // The columns are our own constant, never input.
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM bakes WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db.pool())
    .await?)
}

/// Bakes whose next round is due by `now`: `(id, repository)`, oldest due first.
pub async fn due(db: &Db, now: i64, limit: i64) -> Result<Vec<(i64, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, repository FROM bakes WHERE state = 'baking' AND next_check_at <= $1 \
         ORDER BY next_check_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db.pool())
    .await?)
}

/// Claims the round that was due at `due_at` and sets the next one; `false` when another
/// worker made it, or the bake ended.
pub async fn claim_round(
    conn: &mut AnyConnection,
    id: i64,
    due_at: i64,
    next: i64,
    reading: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE bakes SET next_check_at = $3, rounds = rounds + 1, last_reading = $4 \
         WHERE id = $1 AND state = 'baking' AND next_check_at = $2",
    )
    .bind(id)
    .bind(due_at)
    .bind(next)
    .bind(reading)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How a bake ended.
#[derive(Debug, Clone)]
pub struct Ending<'a> {
    /// `verified`, `breached`, `skipped` or `expired`.
    pub state: &'a str,
    /// Why (a breach's readings, a skip's reason).
    pub reason: Option<&'a str>,
    /// The readings that ended it.
    pub reading: Option<&'a str>,
    /// Who.
    pub by: &'a str,
    /// A breach's rollback request id.
    pub rollback_request: Option<&'a str>,
}

/// Ends a bake that is still baking (and, for a round, still due at `due_at`); `false` when
/// it had ended or another worker made the round.
pub async fn finish(
    conn: &mut AnyConnection,
    id: i64,
    due_at: Option<i64>,
    ending: &Ending<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE bakes SET state = $2, reason = $3, last_reading = COALESCE($4, last_reading), \
         decided_by = $5, rollback_request = $6, finished_at = $7, rounds = rounds + $9 \
         WHERE id = $1 AND state = 'baking' AND ($8 IS NULL OR next_check_at = $8)",
    )
    .bind(id)
    .bind(ending.state)
    .bind(ending.reason)
    .bind(ending.reading)
    .bind(ending.by)
    .bind(ending.rollback_request)
    .bind(now)
    .bind(due_at)
    .bind(i64::from(due_at.is_some()))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends the bakes still baking on `environment` of deployments older than `newer` (our
/// deployment ids grow with their creation): `newer` succeeded there, so their readings no
/// longer speak for their release. A late or repeated success of an older deployment ends
/// nothing. Returns the bakes ended.
pub async fn supersede(
    conn: &mut AnyConnection,
    repository: &str,
    environment: &str,
    newer: i64,
    now: i64,
) -> Result<Vec<BakeRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE bakes SET state = 'superseded', finished_at = $4, decided_by = 'trainyard', \
         reason = 'another deployment succeeded there' \
         WHERE repository = $1 AND lower(environment) = lower($2) AND state = 'baking' \
         AND deployment_id < $3 RETURNING {COLUMNS}"
    )))
    .bind(repository)
    .bind(environment)
    .bind(newer)
    .bind(now)
    .fetch_all(conn)
    .await?)
}

/// Records that a breach's rollback succeeded; the bake, the first time.
pub async fn restored(
    conn: &mut AnyConnection,
    rollback_request: &str,
    now: i64,
) -> Result<Option<BakeRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE bakes SET restored_at = $2 WHERE rollback_request = $1 AND restored_at IS NULL \
         RETURNING {COLUMNS}"
    )))
    .bind(rollback_request)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

/// The newest bake of `environment`, whatever its state.
pub async fn latest(
    db: &Db,
    repository: &str,
    environment: &str,
) -> Result<Option<BakeRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM bakes WHERE repository = $1 AND lower(environment) = lower($2) \
         ORDER BY started_at DESC, id DESC LIMIT 1"
    )))
    .bind(repository)
    .bind(environment)
    .fetch_optional(db.pool())
    .await?)
}

/// Whether `environment` verified `sha` (or an admin skipped its bake).
pub async fn passed_with(
    db: &Db,
    repository: &str,
    environment: &str,
    sha: &str,
) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM bakes WHERE repository = $1 AND lower(environment) = lower($2) \
         AND sha = $3 AND state IN ('verified', 'skipped')",
    )
    .bind(repository)
    .bind(environment)
    .bind(sha)
    .fetch_one(db.pool())
    .await?;
    Ok(n > 0)
}

/// The newest release `environment` verified other than `sha`: where a breach rolls back to.
pub async fn last_verified(
    db: &Db,
    repository: &str,
    environment: &str,
    other_than: &str,
) -> Result<Option<BakeRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM bakes WHERE repository = $1 AND lower(environment) = lower($2) \
         AND sha <> $3 AND state IN ('verified', 'skipped') \
         ORDER BY finished_at DESC, id DESC LIMIT 1"
    )))
    .bind(repository)
    .bind(environment)
    .bind(other_than)
    .fetch_optional(db.pool())
    .await?)
}

/// The repository's breached bakes that ended at or after `since` (epoch ms).
pub async fn breached_since(
    db: &Db,
    repository: &str,
    since: i64,
) -> Result<Vec<BakeRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM bakes WHERE repository = $1 AND state = 'breached' \
         AND finished_at >= $2 ORDER BY finished_at"
    )))
    .bind(repository)
    .bind(since)
    .fetch_all(db.pool())
    .await?)
}

/// One round's reading, for the chart.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct Reading {
    /// The round (1 for the first).
    pub round: i64,
    /// When (epoch ms).
    pub at: i64,
    /// Prometheus's value, when it gave a finite one.
    pub value: Option<f64>,
    /// Whether every check read healthy (1) or not (0).
    pub healthy: i64,
}

/// Records round `reading.round` of bake `bake_id` (once).
pub async fn record_reading(
    conn: &mut AnyConnection,
    bake_id: i64,
    reading: &Reading,
) -> Result<(), StoreError> {
    // No NULL float is ever bound: sqlx's Any driver binds a missing f64 as a float4, and a
    // statement a connection first prepared that way then refuses a real value ("incorrect
    // binary data format") on PostgreSQL. A round without a value says NULL in the SQL.
    let query = match reading.value.filter(|v| v.is_finite()) {
        Some(value) => sqlx::query(
            "INSERT INTO bake_readings (bake_id, round, at, value, healthy) \
             VALUES ($1, $2, $3, $5, $4) ON CONFLICT (bake_id, round) DO NOTHING",
        )
        .bind(bake_id)
        .bind(reading.round)
        .bind(reading.at)
        .bind(reading.healthy)
        .bind(value),
        None => sqlx::query(
            "INSERT INTO bake_readings (bake_id, round, at, value, healthy) \
             VALUES ($1, $2, $3, NULL, $4) ON CONFLICT (bake_id, round) DO NOTHING",
        )
        .bind(bake_id)
        .bind(reading.round)
        .bind(reading.at)
        .bind(reading.healthy),
    };
    query.execute(conn).await?;
    Ok(())
}

/// The last `limit` rounds of bake `bake_id`, oldest first.
pub async fn readings(db: &Db, bake_id: i64, limit: i64) -> Result<Vec<Reading>, StoreError> {
    let mut rows: Vec<Reading> = sqlx::query_as(
        "SELECT round, at, value, healthy FROM bake_readings WHERE bake_id = $1 \
         ORDER BY round DESC LIMIT $2",
    )
    .bind(bake_id)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.reverse();
    Ok(rows)
}

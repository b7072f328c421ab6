//! A train's release candidates (see `migrations/*/0017_train_candidates.sql`): added in the
//! `rc` command's transaction, then tagged and published as recorded steps, so a retried
//! job finds what it already did.

use sqlx::{AnyConnection, FromRow};

use super::{Db, StoreError};

/// A stored release candidate.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct CandidateRow {
    /// The train.
    pub train_id: i64,
    /// `N` of `rc.N`.
    pub number: i64,
    /// Its version (`2.0.0-rc.1`).
    pub version: String,
    /// Its tag (`v2.0.0-rc.1`).
    pub tag_name: String,
    /// The commit it tags.
    pub target_sha: String,
    /// Pull requests aboard when it was cut, JSON array of numbers.
    pub passengers: String,
    /// Who asked for it.
    pub created_by: String,
    /// When (epoch ms).
    pub created_at: i64,
    /// Tag created (epoch ms).
    pub tag_created_at: Option<i64>,
    /// Its GitHub pre-release.
    pub release_id: Option<i64>,
    /// Its page.
    pub release_url: Option<String>,
    /// Published (epoch ms).
    pub published_at: Option<i64>,
}

impl CandidateRow {
    /// The pull requests it carried.
    pub fn passenger_numbers(&self) -> Vec<u64> {
        serde_json::from_str(&self.passengers).unwrap_or_default()
    }
}

const COLUMNS: &str = "train_id, number, version, tag_name, target_sha, passengers, \
    created_by, created_at, tag_created_at, release_id, release_url, published_at";

/// A candidate to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCandidate<'a> {
    /// The train.
    pub train_id: i64,
    /// Its number.
    pub number: u64,
    /// Its version.
    pub version: &'a str,
    /// Its tag.
    pub tag_name: &'a str,
    /// The commit.
    pub target_sha: &'a str,
    /// Who is aboard.
    pub passengers: &'a [u64],
    /// Who asked.
    pub created_by: &'a str,
}

/// Adds a candidate; false when the train already has one with that number (someone else
/// cut it meanwhile).
pub async fn add(
    conn: &mut AnyConnection,
    candidate: &NewCandidate<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    let passengers = serde_json::to_string(candidate.passengers).unwrap_or_else(|_| "[]".into());
    let done = sqlx::query(
        "INSERT INTO train_candidates \
         (train_id, number, version, tag_name, target_sha, passengers, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (train_id, number) DO NOTHING",
    )
    .bind(candidate.train_id)
    .bind(candidate.number as i64)
    .bind(candidate.version)
    .bind(candidate.tag_name)
    .bind(candidate.target_sha)
    .bind(passengers)
    .bind(candidate.created_by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A train's candidates, oldest first.
pub async fn of_train(db: &Db, train_id: i64) -> Result<Vec<CandidateRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM train_candidates WHERE train_id = $1 ORDER BY number");
    Ok(sqlx::query_as::<_, CandidateRow>(sqlx::AssertSqlSafe(sql))
        .bind(train_id)
        .fetch_all(db.pool())
        .await?)
}

/// One candidate.
pub async fn get(db: &Db, train_id: i64, number: u64) -> Result<Option<CandidateRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM train_candidates WHERE train_id = $1 AND number = $2");
    Ok(sqlx::query_as::<_, CandidateRow>(sqlx::AssertSqlSafe(sql))
        .bind(train_id)
        .bind(number as i64)
        .fetch_optional(db.pool())
        .await?)
}

/// The published candidate of `repository` with tag or version `name`, and its train.
pub async fn published_named(
    db: &Db,
    repository: &str,
    name: &str,
) -> Result<Option<CandidateRow>, StoreError> {
    latest_published(db, repository, "(c.tag_name = $2 OR c.version = $2)", name).await
}

/// The latest published candidate of `repository` at commit `sha`.
pub async fn published_at_commit(
    db: &Db,
    repository: &str,
    sha: &str,
) -> Result<Option<CandidateRow>, StoreError> {
    latest_published(db, repository, "c.target_sha = $2", sha).await
}

/// The latest published candidate of `repository` meeting `condition` on `$2` (our own SQL,
/// never input).
async fn latest_published(
    db: &Db,
    repository: &str,
    condition: &'static str,
    value: &str,
) -> Result<Option<CandidateRow>, StoreError> {
    // `c.*`: the table's columns are the row's fields.
    let sql = format!(
        "SELECT c.* FROM train_candidates c JOIN trains t ON t.id = c.train_id \
         WHERE t.repository = $1 AND {condition} \
         AND c.published_at IS NOT NULL ORDER BY c.published_at DESC LIMIT 1"
    );
    Ok(sqlx::query_as::<_, CandidateRow>(sqlx::AssertSqlSafe(sql))
        .bind(repository)
        .bind(value)
        .fetch_optional(db.pool())
        .await?)
}

/// Records the candidate's tag as created (once).
pub async fn mark_tagged(
    conn: &mut AnyConnection,
    train_id: i64,
    number: u64,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE train_candidates SET tag_created_at = COALESCE(tag_created_at, $3) \
         WHERE train_id = $1 AND number = $2",
    )
    .bind(train_id)
    .bind(number as i64)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records the candidate's pre-release as published (once).
pub async fn mark_published(
    conn: &mut AnyConnection,
    train_id: i64,
    number: u64,
    release_id: u64,
    url: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE train_candidates SET release_id = $3, release_url = $4, \
         published_at = COALESCE(published_at, $5) WHERE train_id = $1 AND number = $2",
    )
    .bind(train_id)
    .bind(number as i64)
    .bind(release_id as i64)
    .bind(url)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

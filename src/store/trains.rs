//! Trains, their passengers, approvals, release steps and schedule slots
//! (see `migrations/*/0006_trains.sql`).

use sqlx::{AnyConnection, FromRow};

use super::{Db, StoreError};
use crate::domain::ids::RepoFullName;
use crate::domain::train::{Approval, TrainKind, TrainState};

/// A stored train.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct TrainRow {
    /// Id.
    pub id: i64,
    /// `owner/name`.
    pub repository: String,
    /// Line name.
    pub line: String,
    /// `regular` or `hotfix`, decoded here.
    #[sqlx(try_from = "String")]
    pub kind: TrainKind,
    /// Its state, decoded here.
    #[sqlx(try_from = "String")]
    pub state: TrainState,
    /// The line's branch.
    pub branch: String,
    /// Frozen version.
    pub version: Option<String>,
    /// Frozen tag.
    pub tag_name: Option<String>,
    /// Frozen target commit.
    pub target_sha: Option<String>,
    /// The release the notes start from.
    pub baseline_tag: Option<String>,
    /// Who cut it.
    pub cut_by: Option<String>,
    /// Its draft release.
    pub draft_release_id: Option<i64>,
    /// Tag created (epoch ms).
    pub tag_created_at: Option<i64>,
    /// Release published (epoch ms).
    pub published_at: Option<i64>,
    /// Release comments written (epoch ms).
    pub commented_at: Option<i64>,
    /// Why it is blocked.
    pub blocked_reason: Option<String>,
    /// Why it was last rejected.
    pub rejected_reason: Option<String>,
}

impl TrainRow {
    /// Its state.
    pub fn state(&self) -> TrainState {
        self.state
    }

    /// Whether it is a hotfix train.
    pub fn is_hotfix(&self) -> bool {
        self.kind == TrainKind::Hotfix
    }
}

/// A pull request on board.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct PassengerRow {
    /// Number.
    pub number: i64,
    /// Title.
    pub title: String,
    /// Author login.
    pub author: Option<String>,
    /// Merge commit.
    pub merge_sha: Option<String>,
    /// Merged at (RFC 3339).
    pub merged_at: Option<String>,
    /// Labels (stored as a JSON array, decoded here).
    #[sqlx(try_from = "String")]
    pub labels: Labels,
    /// Body (bounded), for `$BODY`.
    #[sqlx(default)]
    pub body: String,
    /// Changed files, JSON array; `None` when they were not read at boarding.
    #[sqlx(default)]
    pub changed_files: Option<String>,
}

/// A passenger's labels, decoded from their stored JSON array once, at the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels(pub Vec<String>);

impl TryFrom<String> for Labels {
    type Error = serde_json::Error;
    fn try_from(stored: String) -> Result<Self, serde_json::Error> {
        serde_json::from_str(&stored).map(Labels)
    }
}

impl std::ops::Deref for Labels {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl PassengerRow {
    /// The changed files read at boarding (empty when they were not read).
    pub fn files(&self) -> Vec<String> {
        self.changed_files
            .as_deref()
            .and_then(|files| serde_json::from_str(files).ok())
            .unwrap_or_default()
    }
}

const TRAIN_COLUMNS: &str = "id, repository, line, kind, state, branch, version, tag_name, \
    target_sha, baseline_tag, cut_by, draft_release_id, tag_created_at, published_at, \
    commented_at, blocked_reason, rejected_reason";

/// The line's open train, started if there is none. Safe against concurrent callers: the
/// partial unique index lets only one open train per line exist.
pub async fn open_train(
    conn: &mut AnyConnection,
    repo: &RepoFullName,
    line: &str,
    branch: &str,
    now: i64,
) -> Result<TrainRow, StoreError> {
    open_of_kind(conn, repo, line, branch, "regular", None, now).await
}

/// Opens a hotfix train on `branch` from `base_tag`; the existing one when the line already
/// has an open train.
pub async fn open_hotfix_train(
    conn: &mut AnyConnection,
    repo: &RepoFullName,
    line: &str,
    branch: &str,
    base_tag: &str,
    now: i64,
) -> Result<TrainRow, StoreError> {
    open_of_kind(conn, repo, line, branch, "hotfix", Some(base_tag), now).await
}

async fn open_of_kind(
    conn: &mut AnyConnection,
    repo: &RepoFullName,
    line: &str,
    branch: &str,
    kind: &str,
    baseline_tag: Option<&str>,
    now: i64,
) -> Result<TrainRow, StoreError> {
    sqlx::query(
        "INSERT INTO trains \
         (repository, line, kind, state, branch, baseline_tag, created_at, updated_at) \
         VALUES ($1, $2, $3, 'open', $4, $5, $6, $6) \
         ON CONFLICT (repository, line) WHERE state = 'open' DO NOTHING",
    )
    .bind(repo.as_ref())
    .bind(line)
    .bind(kind)
    .bind(branch)
    .bind(baseline_tag)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let sql = format!(
        "SELECT {TRAIN_COLUMNS} FROM trains WHERE repository = $1 AND line = $2 AND state = 'open'"
    );
    Ok(sqlx::query_as::<_, TrainRow>(sqlx::AssertSqlSafe(sql))
        .bind(repo.as_ref())
        .bind(line)
        .fetch_one(&mut *conn)
        .await?)
}

/// A train by id.
pub async fn get(db: &Db, id: i64) -> Result<Option<TrainRow>, StoreError> {
    let sql = format!("SELECT {TRAIN_COLUMNS} FROM trains WHERE id = $1");
    Ok(sqlx::query_as::<_, TrainRow>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db.pool())
        .await?)
}

/// The repository's trains in `states`, newest first.
pub async fn in_states(
    db: &Db,
    repo: &RepoFullName,
    states: &[TrainState],
) -> Result<Vec<TrainRow>, StoreError> {
    let names: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
    // The state names are our own constants, never input.
    let sql = format!(
        "SELECT {TRAIN_COLUMNS} FROM trains WHERE repository = $1 AND state IN ({}) \
         ORDER BY id DESC",
        names.join(", ")
    );
    Ok(sqlx::query_as::<_, TrainRow>(sqlx::AssertSqlSafe(sql))
        .bind(repo.as_ref())
        .fetch_all(db.pool())
        .await?)
}

/// The live (open or frozen) train `number` is on, if any.
pub async fn live_train_of(
    db: &Db,
    repo: &RepoFullName,
    number: u64,
) -> Result<Option<TrainRow>, StoreError> {
    newest_train_of(db, repo, number, "t.state IN ('open', 'frozen')").await
}

/// The newest train `number` rode or rides, whatever its state but abandoned.
pub async fn latest_train_of(
    db: &Db,
    repo: &RepoFullName,
    number: u64,
) -> Result<Option<TrainRow>, StoreError> {
    newest_train_of(db, repo, number, "t.state <> 'abandoned'").await
}

/// The newest train carrying `number` whose state meets `states` (our own SQL, never input).
async fn newest_train_of(
    db: &Db,
    repo: &RepoFullName,
    number: u64,
    states: &'static str,
) -> Result<Option<TrainRow>, StoreError> {
    let sql = format!(
        "SELECT {} FROM trains t JOIN train_pull_requests p ON p.train_id = t.id \
         WHERE t.repository = $1 AND p.number = $2 AND {states} \
         ORDER BY t.id DESC LIMIT 1",
        TRAIN_COLUMNS
            .split(", ")
            .map(|c| format!("t.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(sqlx::query_as::<_, TrainRow>(sqlx::AssertSqlSafe(sql))
        .bind(repo.as_ref())
        .bind(number as i64)
        .fetch_optional(db.pool())
        .await?)
}

/// What is stored of a boarding pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boarding<'a> {
    /// Number.
    pub number: u64,
    /// Title.
    pub title: &'a str,
    /// Author login.
    pub author: Option<&'a str>,
    /// Merge commit.
    pub merge_sha: Option<&'a str>,
    /// Merged at.
    pub merged_at: Option<&'a str>,
    /// Labels.
    pub labels: &'a [String],
    /// Body (cut to [`MAX_BODY_CHARS`] when stored).
    pub body: &'a str,
    /// Changed files, when they were read (`None` keeps what is stored).
    pub changed_files: Option<&'a [String]>,
}

/// How much of a pull request's body a passenger keeps (GitHub's own limit on a body).
pub const MAX_BODY_CHARS: usize = 65_536;

/// Puts a pull request on a train (again: its details are refreshed). True when it was not
/// on board before.
pub async fn board(
    conn: &mut AnyConnection,
    train_id: i64,
    pr: &Boarding<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    let labels = serde_json::to_string(pr.labels).unwrap_or_else(|_| "[]".to_owned());
    let existed: Option<i64> = sqlx::query_scalar(
        "SELECT number FROM train_pull_requests WHERE train_id = $1 AND number = $2",
    )
    .bind(train_id)
    .bind(pr.number as i64)
    .fetch_optional(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO train_pull_requests \
         (train_id, number, title, author, merge_sha, merged_at, labels, boarded_at, body, \
         changed_files) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (train_id, number) DO UPDATE SET title = excluded.title, \
         author = excluded.author, merge_sha = excluded.merge_sha, \
         merged_at = excluded.merged_at, labels = excluded.labels, body = excluded.body, \
         changed_files = COALESCE(excluded.changed_files, train_pull_requests.changed_files)",
    )
    .bind(train_id)
    .bind(pr.number as i64)
    .bind(pr.title)
    .bind(pr.author)
    .bind(pr.merge_sha)
    .bind(pr.merged_at)
    .bind(labels)
    .bind(now)
    .bind(pr.body.chars().take(MAX_BODY_CHARS).collect::<String>())
    .bind(
        pr.changed_files
            .map(|files| serde_json::to_string(files).unwrap_or_else(|_| "[]".to_owned())),
    )
    .execute(&mut *conn)
    .await?;
    touch(&mut *conn, train_id, now).await?;
    Ok(existed.is_none())
}

/// Takes a pull request off a train; true when it was on board.
pub async fn leave(
    conn: &mut AnyConnection,
    train_id: i64,
    number: u64,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM train_pull_requests WHERE train_id = $1 AND number = $2")
        .bind(train_id)
        .bind(number as i64)
        .execute(&mut *conn)
        .await?;
    touch(&mut *conn, train_id, now).await?;
    Ok(done.rows_affected() > 0)
}

async fn touch(conn: &mut AnyConnection, train_id: i64, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE trains SET updated_at = $2 WHERE id = $1")
        .bind(train_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The pull requests on a train, by number.
pub async fn passengers(db: &Db, train_id: i64) -> Result<Vec<PassengerRow>, StoreError> {
    Ok(sqlx::query_as::<_, PassengerRow>(
        "SELECT number, title, author, merge_sha, merged_at, labels, body, changed_files \
         FROM train_pull_requests WHERE train_id = $1 ORDER BY number",
    )
    .bind(train_id)
    .fetch_all(db.pool())
    .await?)
}

/// What a cut fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut<'a> {
    /// The version.
    pub version: &'a str,
    /// Its tag.
    pub tag_name: &'a str,
    /// The commit the tag goes to: the line's head at the cut.
    pub target_sha: &'a str,
    /// The release the notes start from.
    pub baseline_tag: Option<&'a str>,
    /// Who cut.
    pub cut_by: &'a str,
}

/// Freezes an open train; false when it was no longer open (someone else cut it first).
pub async fn freeze(
    conn: &mut AnyConnection,
    train_id: i64,
    cut: &Cut<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE trains SET state = 'frozen', version = $2, tag_name = $3, target_sha = $4, \
         baseline_tag = $5, cut_by = $6, cut_at = $7, updated_at = $7 \
         WHERE id = $1 AND state = 'open'",
    )
    .bind(train_id)
    .bind(cut.version)
    .bind(cut.tag_name)
    .bind(cut.target_sha)
    .bind(cut.baseline_tag)
    .bind(cut.cut_by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves a frozen train's commit to `sha` (a release candidate train taking a later fix);
/// false when the train is no longer frozen.
pub async fn move_target(
    conn: &mut AnyConnection,
    train_id: i64,
    sha: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE trains SET target_sha = $2, updated_at = $3 WHERE id = $1 AND state = 'frozen'",
    )
    .bind(train_id)
    .bind(sha)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records an approval; false when that person had already approved.
pub async fn approve(
    conn: &mut AnyConnection,
    train_id: i64,
    login: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO train_approvals (train_id, login, approved_at) VALUES ($1, $2, $3) \
         ON CONFLICT (train_id, login) DO NOTHING",
    )
    .bind(train_id)
    .bind(login)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A train's approvals, in order.
pub async fn approvals(db: &Db, train_id: i64) -> Result<Vec<Approval>, StoreError> {
    let logins: Vec<String> = sqlx::query_scalar(
        "SELECT login FROM train_approvals WHERE train_id = $1 ORDER BY approved_at, login",
    )
    .bind(train_id)
    .fetch_all(db.pool())
    .await?;
    Ok(logins.into_iter().map(|login| Approval { login }).collect())
}

/// Moves a train from `from` to `to`; false when it was not in `from` any more.
pub async fn transition(
    conn: &mut AnyConnection,
    train_id: i64,
    from: TrainState,
    to: TrainState,
    now: i64,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE trains SET state = $3, updated_at = $4 WHERE id = $1 AND state = $2")
            .bind(train_id)
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(now)
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Sends a frozen train back to open: approvals dropped, version and target released, the
/// reason kept. False when it was not frozen, or the line already has another open train
/// (then the caller folds the passengers into that one).
pub async fn reopen(
    conn: &mut AnyConnection,
    train_id: i64,
    reason: &str,
    now: i64,
) -> Result<bool, StoreError> {
    // A savepoint inside the caller's transaction, or a transaction of its own.
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let done = sqlx::query(
        "UPDATE trains SET state = 'open', version = NULL, tag_name = NULL, target_sha = NULL, \
         cut_by = NULL, cut_at = NULL, rejected_reason = $2, updated_at = $3 \
         WHERE id = $1 AND state = 'frozen' AND NOT EXISTS (SELECT 1 FROM trains o \
         WHERE o.repository = trains.repository AND o.line = trains.line AND o.state = 'open')",
    )
    .bind(train_id)
    .bind(reason)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 1 {
        sqlx::query("DELETE FROM train_approvals WHERE train_id = $1")
            .bind(train_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Blocks a train with a reason.
pub async fn block(
    conn: &mut AnyConnection,
    train_id: i64,
    reason: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE trains SET state = 'blocked', blocked_reason = $2, updated_at = $3 WHERE id = $1",
    )
    .bind(train_id)
    .bind(reason)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Remembers the train's draft release.
pub async fn set_draft_release(
    conn: &mut AnyConnection,
    train_id: i64,
    release_id: u64,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE trains SET draft_release_id = $2, updated_at = $3 WHERE id = $1")
        .bind(train_id)
        .bind(release_id as i64)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A release step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The tag ref exists at the frozen commit.
    TagCreated,
    /// The draft is published.
    Published,
    /// Every boarded pull request has its "Released in" comment.
    Commented,
}

/// Records a finished release step (once; a retry finds it done).
pub async fn mark_step(
    conn: &mut AnyConnection,
    train_id: i64,
    step: Step,
    now: i64,
) -> Result<(), StoreError> {
    let column = match step {
        Step::TagCreated => "tag_created_at",
        Step::Published => "published_at",
        Step::Commented => "commented_at",
    };
    let sql = format!(
        "UPDATE trains SET {column} = COALESCE({column}, $2), updated_at = $2 WHERE id = $1"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(train_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records a "Released in" comment; false when one was already recorded.
pub async fn record_release_comment(
    conn: &mut AnyConnection,
    train_id: i64,
    number: u64,
    comment_id: u64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO train_release_comments (train_id, number, comment_id) VALUES ($1, $2, $3) \
         ON CONFLICT (train_id, number) DO NOTHING",
    )
    .bind(train_id)
    .bind(number as i64)
    .bind(comment_id as i64)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Pull requests of a train that already have their "Released in" comment.
pub async fn commented(db: &Db, train_id: i64) -> Result<Vec<u64>, StoreError> {
    let numbers: Vec<i64> =
        sqlx::query_scalar("SELECT number FROM train_release_comments WHERE train_id = $1")
            .bind(train_id)
            .fetch_all(db.pool())
            .await?;
    Ok(numbers.into_iter().map(|n| n as u64).collect())
}

/// Claims a scheduled slot of a line; true for exactly one caller across all replicas.
pub async fn claim_slot(
    db: &Db,
    repo: &RepoFullName,
    line: &str,
    slot_at: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO schedule_slots (repository, line, slot_at, fired_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (repository, line, slot_at) DO NOTHING",
    )
    .bind(repo.as_ref())
    .bind(line)
    .bind(slot_at)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A recorded train event.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct TrainEventRow {
    /// Id (events of a train are in id order).
    pub id: i64,
    /// `owner/name`.
    pub repository: String,
    /// Line name.
    pub line: String,
    /// The train, when the event is about one.
    pub train_id: Option<i64>,
    /// Event name.
    pub kind: String,
    /// The event as JSON ([`crate::domain::train_event::TrainEvent`]).
    pub detail: String,
    /// When (epoch ms).
    pub created_at: i64,
}

impl TrainEventRow {
    /// The event.
    pub fn event(&self) -> Option<crate::domain::train_event::TrainEvent> {
        serde_json::from_str(&self.detail).ok()
    }
}

/// Records a train event for the notifications.
pub async fn record_event(
    conn: &mut AnyConnection,
    repo: &RepoFullName,
    line: &str,
    train_id: Option<i64>,
    event: &crate::domain::train_event::TrainEvent,
    now: i64,
) -> Result<i64, StoreError> {
    let detail = serde_json::to_string(event).unwrap_or_else(|_| "{}".to_owned());
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO train_events (repository, line, train_id, kind, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(repo.as_ref())
    .bind(line)
    .bind(train_id)
    .bind(event.kind())
    .bind(detail)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// Events of a repository after `after_id`, oldest first.
pub async fn events_since(
    db: &Db,
    repo: &RepoFullName,
    after_id: i64,
) -> Result<Vec<TrainEventRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, repository, line, train_id, kind, detail, created_at FROM train_events \
         WHERE repository = $1 AND id > $2 ORDER BY id",
    )
    .bind(repo.as_ref())
    .bind(after_id)
    .fetch_all(db.pool())
    .await?)
}

/// Claims the reminder before a line's scheduled slot; `true` for exactly one caller.
pub async fn claim_reminder(
    db: &Db,
    repo: &RepoFullName,
    line: &str,
    slot_at: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO schedule_reminders (repository, line, slot_at, fired_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (repository, line, slot_at) DO NOTHING",
    )
    .bind(repo.as_ref())
    .bind(line)
    .bind(slot_at)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// When a line's schedule `expression` was first seen (recorded now on first sight, and again
/// when the expression changed). Slots before it are not the schedule's to fire.
pub async fn schedule_seen_since(
    db: &Db,
    repo: &RepoFullName,
    line: &str,
    expression: &str,
    now: i64,
) -> Result<i64, StoreError> {
    sqlx::query(
        "INSERT INTO schedule_watch (repository, line, expression, since) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (repository, line) DO UPDATE SET expression = excluded.expression, \
         since = excluded.since WHERE schedule_watch.expression <> excluded.expression",
    )
    .bind(repo.as_ref())
    .bind(line)
    .bind(expression)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(
        sqlx::query_scalar("SELECT since FROM schedule_watch WHERE repository = $1 AND line = $2")
            .bind(repo.as_ref())
            .bind(line)
            .fetch_one(db.pool())
            .await?,
    )
}

/// A repository's events not yet delivered everywhere, oldest first.
pub async fn undelivered_events(
    db: &Db,
    repo: &RepoFullName,
) -> Result<Vec<TrainEventRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, repository, line, train_id, kind, detail, created_at FROM train_events \
         WHERE repository = $1 AND delivered_at IS NULL ORDER BY id",
    )
    .bind(repo.as_ref())
    .fetch_all(db.pool())
    .await?)
}

/// Marks an event delivered to every channel it was meant for.
pub async fn mark_event_done(db: &Db, event_id: i64, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE train_events SET delivered_at = $1 WHERE id = $2")
        .bind(now)
        .bind(event_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

//! The audit log (see `migrations/*/0014_audit_log.sql`): who did what to which train, from
//! where, and how it ended. Each record is written in the transaction of the change it
//! records, never changed (the store refuses updates), and removed after 400 days.

use serde::Serialize;
use sqlx::{AnyConnection, FromRow};

use super::{Db, StoreError};

/// How long records are kept (days).
pub const KEEP_DAYS: i64 = 400;

/// What to record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// `owner/name`.
    pub repository: String,
    /// The train line (`""` when none).
    pub line: String,
    /// The train, when one is concerned.
    pub train_id: Option<i64>,
    /// The GitHub user id of the actor, when known.
    pub actor_id: Option<i64>,
    /// The actor's GitHub login (or `trainyard` for its own work).
    pub actor_login: String,
    /// slack, discord, comment, web, schedule, github, trainyard.
    pub surface: String,
    /// `command.<name>`, `github.tag`, `github.release`, `github.draft_deleted`,
    /// `github.deployment`, `github.comment`, `config.changed`, `config.refused`.
    pub action: String,
    /// accepted, refused, done.
    pub outcome: String,
    /// The reason, the answer, or what was made.
    pub detail: String,
    /// What finds the record again: a retried effect with the same key is recorded once.
    pub key: Option<String>,
}

impl Entry {
    /// A record of trainyard's own work on `repository` (an effect on GitHub).
    pub fn effect(repository: &str, action: &str, detail: impl Into<String>) -> Entry {
        Entry {
            repository: repository.to_owned(),
            actor_login: "trainyard".into(),
            surface: "trainyard".into(),
            action: action.to_owned(),
            outcome: "done".into(),
            detail: detail.into(),
            ..Entry::default()
        }
    }

    /// The same entry about `train` of `line`.
    pub fn on_train(mut self, line: &str, train_id: i64) -> Entry {
        self.line = line.to_owned();
        self.train_id = Some(train_id);
        self
    }

    /// The same entry, recorded once under `key`.
    pub fn once(mut self, key: impl Into<String>) -> Entry {
        self.key = Some(key.into());
        self
    }
}

/// Where a command came from, by its id's prefix (`slack:…`, `discord:…`, `comment:…`,
/// `schedule:…`, `web:…`).
pub fn surface_of(command_id: &str) -> &'static str {
    match command_id.split(':').next() {
        Some("slack") => "slack",
        Some("discord") => "discord",
        Some("comment") => "comment",
        Some("schedule") => "schedule",
        Some("web") => "web",
        Some("publish") | Some("github") => "github",
        _ => "trainyard",
    }
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct Record {
    /// Row id (the order records were written in).
    pub id: i64,
    /// When (epoch ms).
    pub at: i64,
    /// `owner/name`.
    pub repository: String,
    /// The train line (`""` when none).
    pub line: String,
    /// The train.
    pub train_id: Option<i64>,
    /// The actor's GitHub user id.
    pub actor_id: Option<i64>,
    /// The actor's GitHub login.
    pub actor_login: String,
    /// Where it came from.
    pub surface: String,
    /// What.
    pub action: String,
    /// How it ended.
    pub outcome: String,
    /// The reason, the answer, or what was made.
    pub detail: String,
}

/// Writes one record in the caller's transaction; false when a record with its key exists.
pub async fn record(conn: &mut AnyConnection, entry: &Entry, at: i64) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO audit_log (at, repository, line, train_id, actor_id, actor_login, surface, \
         action, outcome, detail, record_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (record_key) DO NOTHING",
    )
    .bind(at)
    .bind(&entry.repository)
    .bind(&entry.line)
    .bind(entry.train_id)
    .bind(entry.actor_id)
    .bind(&entry.actor_login)
    .bind(&entry.surface)
    .bind(&entry.action)
    .bind(&entry.outcome)
    .bind(&entry.detail)
    .bind(entry.key.as_deref())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Writes one record on its own (when there is no other change to share a transaction with:
/// a refusal that changed nothing).
pub async fn record_alone(db: &Db, entry: &Entry, at: i64) -> Result<bool, StoreError> {
    let mut conn = db.conn().await?;
    record(&mut conn, entry, at).await
}

/// Which records to read.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only this repository's.
    pub repository: Option<String>,
    /// Only those written at or after (epoch ms).
    pub since: Option<i64>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// Records matching `query`, newest first.
pub async fn recent(db: &Db, query: &Query) -> Result<Vec<Record>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, at, repository, line, train_id, actor_id, actor_login, surface, action, \
         outcome, detail FROM audit_log \
         WHERE ($1 IS NULL OR repository = $1) AND at >= $2 \
         ORDER BY id DESC LIMIT $3",
    )
    .bind(query.repository.as_deref())
    .bind(query.since.unwrap_or(0))
    .bind(query.limit.max(0))
    .fetch_all(db.pool())
    .await?)
}

/// Removes records older than [`KEEP_DAYS`] before `now`; returns how many.
pub async fn prune(db: &Db, now: i64) -> Result<u64, StoreError> {
    let before = now.saturating_sub(KEEP_DAYS * 24 * 3600 * 1000);
    let done = sqlx::query("DELETE FROM audit_log WHERE at < $1")
        .bind(before)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}

/// A record as one line of text: when, where, who, what, how it ended, why.
pub fn line(record: &Record) -> String {
    let at = jiff::Timestamp::from_millisecond(record.at)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|_| record.at.to_string());
    let mut place = record.repository.clone();
    if !record.line.is_empty() {
        place.push(' ');
        place.push_str(&record.line);
    }
    if let Some(train) = record.train_id {
        place.push_str(&format!(" train {train}"));
    }
    let detail = if record.detail.is_empty() {
        String::new()
    } else {
        format!(": {}", record.detail.replace('\n', " "))
    };
    format!(
        "{at}  {place}  {} ({})  {} {}{detail}",
        record.actor_login, record.surface, record.action, record.outcome
    )
}

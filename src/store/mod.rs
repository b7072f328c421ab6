//! The store: one sqlx pool over SQLite (the default, one file, zero set-up) or PostgreSQL
//! (several replicas sharing one database), with the same logical schema and migrations per
//! backend embedded in the binary.
//!
//! Queries are runtime-checked (`query_as` + `FromRow`) and written once in SQL both backends
//! accept (`$1` placeholders, `RETURNING`, partial indexes); where the backends differ the
//! caller picks the statement by [`Backend`]. Times are stored as Unix epoch milliseconds.

pub mod api_tokens;
pub mod audit;
pub mod backfill;
pub mod bakes;
pub mod calendar_feeds;
pub mod candidates;
pub mod chat;
pub mod commands;
pub mod content_writes;
pub mod deliveries;
pub mod deployments;
pub mod gate_reviews;
pub mod history;
pub mod installations;
pub mod link_requests;
pub mod pr_checks;
pub mod previews;
pub mod release_snapshots;
pub mod repo_configs;
pub mod steps;
pub mod trains;
pub mod web_sessions;
pub mod write_budgets;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migrate, Migrator};
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};

/// Migrations for SQLite, embedded at build time.
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
/// Migrations for PostgreSQL, embedded at build time.
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Per-connection SQLite settings: WAL's usual durability level, a 5 s wait for the writer
/// lock before a write gives up, and foreign keys on.
const SQLITE_CONNECTION_PRAGMAS: &str =
    "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;";
/// PostgreSQL connections per process.
const POSTGRES_POOL_SIZE: u32 = 10;
/// SQLite connections per process: one. SQLite admits one writer at a time, and writers that
/// find the file locked wait in SQLite's busy handler, which sleeps in growing steps (up to
/// 100 ms) — under load that is most of the latency. Queuing on the pool instead hands the
/// connection over the moment it is free. Transactions must therefore never wait for a second
/// connection while holding one.
const SQLITE_POOL_SIZE: u32 = 1;
/// How long a caller waits for a free connection before the store reports itself unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors from opening, migrating or querying the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no backend we support.
    #[error("DATABASE_URL must start with sqlite: or postgres: (got scheme {scheme:?})")]
    UnsupportedUrl {
        /// The scheme found in the URL.
        scheme: String,
    },
    /// Connecting failed.
    #[error("cannot open the {backend} store: {source}")]
    Connect {
        /// Which backend.
        backend: Backend,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Applying migrations failed.
    #[error("cannot apply {backend} migrations: {source}")]
    Migrate {
        /// Which backend.
        backend: Backend,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// Which database engine the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, one file.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

impl Backend {
    /// The backend a database URL names.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            other => Err(StoreError::UnsupportedUrl {
                scheme: other.to_owned(),
            }),
        }
    }

    fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// Whether the store can serve requests, as `/readyz` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Reachable and every embedded migration is applied.
    Ready,
    /// Reachable, but these embedded migration versions are not applied yet.
    MigrationsPending(Vec<i64>),
}

/// A handle on the store; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// Decisions to let through, then decisions whose commit is to fail: the
    /// fault-injection hook of the story tests ([`Db::fail_decision_commit`]). Never armed
    /// in production.
    failing_commits: std::sync::Arc<std::sync::Mutex<Option<u32>>>,
}

impl Db {
    /// Opens the store named by `url`. A SQLite file is created if missing and put in WAL mode.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let connect_error = |source| StoreError::Connect { backend, source };
        let url = match backend {
            Backend::Sqlite => sqlite_url_creating_file(url),
            Backend::Postgres => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(connect_error)?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));

        if backend == Backend::Sqlite {
            // WAL is a property of the file; set it once on a lone connection, because
            // switching journal mode needs a lock that busy_timeout cannot wait for.
            let mut conn = options.connect().await.map_err(connect_error)?;
            conn.execute("PRAGMA journal_mode = WAL")
                .await
                .map_err(connect_error)?;
            conn.close().await.map_err(connect_error)?;
        }

        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => SQLITE_POOL_SIZE,
                Backend::Postgres => POSTGRES_POOL_SIZE,
            })
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(SQLITE_CONNECTION_PRAGMAS).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(connect_error)?;
        Ok(Db {
            pool,
            backend,
            failing_commits: Default::default(),
        })
    }

    /// The backend this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool, for queries and transactions.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Lets `skip` decisions commit, then makes the next one fail at its commit, as a crash
    /// between a handler's effects and its writes would: for tests that inject a fault
    /// between the steps of a command or a release (the `test-hooks` feature only).
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn fail_decision_commit(&self, skip: u32) {
        *self
            .failing_commits
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(skip);
    }

    /// Whether an armed commit fault has not struck yet (the `test-hooks` feature only).
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn commit_fault_pending(&self) -> bool {
        self.failing_commits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Whether this decision's commit is to fail (once, when the armed count runs out).
    pub(crate) fn take_commit_fault(&self) -> bool {
        let mut armed = self
            .failing_commits
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match *armed {
            Some(0) => {
                *armed = None;
                true
            }
            Some(n) => {
                *armed = Some(n - 1);
                false
            }
            None => false,
        }
    }

    /// A connection from the pool, for store functions that take one. On SQLite the pool
    /// has one connection: never ask for a second while holding it.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// A write transaction: SQLite takes the writer lock at once (`BEGIN IMMEDIATE`), so two
    /// writers never both read and then fail to upgrade.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Applies every embedded migration not yet applied. Safe to run at every start.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.backend
            .migrator()
            .run(&self.pool)
            .await
            .map_err(|source| StoreError::Migrate {
                backend: self.backend,
                source,
            })
    }

    /// Checks the store answers and all embedded migrations are applied.
    pub async fn readiness(&self) -> Result<Readiness, StoreError> {
        let mut conn = self.pool.acquire().await?;
        self.readiness_on(&mut conn).await
    }

    /// [`Db::readiness`] on an idle connection, without waiting for one: `None` when every
    /// connection is in use (then the store is answering someone).
    pub async fn readiness_if_idle(&self) -> Option<Result<Readiness, StoreError>> {
        if let Some(mut conn) = self.pool.try_acquire() {
            return Some(self.readiness_on(&mut conn).await);
        }
        let all_in_use = self.pool.size() >= self.pool.options().get_max_connections();
        if all_in_use {
            return None;
        }
        // Room for a new connection: opening one is the check (the pool closes idle ones).
        Some(self.readiness().await)
    }

    async fn readiness_on(&self, conn: &mut sqlx::AnyConnection) -> Result<Readiness, StoreError> {
        conn.ping().await?;
        let migrator = self.backend.migrator();
        // A store never migrated has no migrations table: everything is pending.
        let applied = conn
            .list_applied_migrations(&migrator.table_name)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|m| m.version)
            .collect::<std::collections::HashSet<_>>();
        let pending: Vec<i64> = migrator
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect();
        Ok(if pending.is_empty() {
            Readiness::Ready
        } else {
            Readiness::MigrationsPending(pending)
        })
    }

    /// Closes every connection; waits for checked-out ones to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `($1, $2, …), ($n+1, …)`: the placeholders of a multi-row `VALUES` list of `rows` rows of
/// `columns` values each (one statement for a whole batch).
pub(crate) fn value_rows(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let values: Vec<String> = (1..=columns)
                .map(|column| format!("${}", row * columns + column))
                .collect();
            format!("({})", values.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds `mode=rwc` so a missing SQLite file is created, unless the URL already sets a mode.
fn sqlite_url_creating_file(url: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// A new secret token: `prefix` and 256 random bits in hex (the prefix makes a leaked one
/// recognisable to secret scanners and in logs).
pub(crate) fn new_token(prefix: &str) -> String {
    format!(
        "{prefix}{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    )
}

/// What the store keeps of a token: its SHA-256, in hex.
pub(crate) fn token_hash(token: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_rows_number_their_placeholders_row_by_row() {
        assert_eq!(value_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(value_rows(1, 1), "($1)");
    }

    #[test]
    fn backend_is_chosen_by_url_scheme() {
        assert_eq!(
            Backend::from_url("sqlite://trainyard.db").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::from_url("postgres://u@h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("postgresql://u@h/db").ok(),
            Some(Backend::Postgres)
        );
        let err = Backend::from_url("mysql://u@h/db").unwrap_err();
        assert_eq!(
            err.to_string(),
            "DATABASE_URL must start with sqlite: or postgres: (got scheme \"mysql\")"
        );
    }

    #[test]
    fn sqlite_urls_create_the_file_unless_a_mode_is_given() {
        assert_eq!(
            sqlite_url_creating_file("sqlite://trainyard.db"),
            "sqlite://trainyard.db?mode=rwc"
        );
        assert_eq!(
            sqlite_url_creating_file("sqlite://x.db?cache=shared"),
            "sqlite://x.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            sqlite_url_creating_file("sqlite://x.db?mode=ro"),
            "sqlite://x.db?mode=ro"
        );
    }
}

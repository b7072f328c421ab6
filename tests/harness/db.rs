//! Test stores.

use std::io::Write;

use sqlx::Executor;
use trainyard::store::{Backend, Db};

/// The variable naming the PostgreSQL database tests may use.
pub const POSTGRES_URL_VAR: &str = "TRAINYARD_TEST_DATABASE_URL";

/// A migrated store that cleans up after itself.
pub struct TestDb {
    /// The store.
    pub db: Db,
    /// The URL it was opened with (open it again for a second "process").
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code, reason = "held for its Drop")] tempfile::TempDir),
    Postgres { admin_url: String, schema: String },
}

impl TestDb {
    /// A fresh SQLite file.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite://{}", dir.path().join("trainyard.db").display());
        let db = Db::connect(&url).await.expect("open SQLite");
        db.migrate().await.expect("migrate SQLite");
        TestDb {
            db,
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A fresh schema in the test PostgreSQL database, or `None` (with a notice) when no
    /// database is configured. Under `CI` a missing database fails the test.
    pub async fn postgres(test: &str) -> Option<TestDb> {
        let admin_url = match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.is_empty() => url,
            _ => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{POSTGRES_URL_VAR} must be set in CI: PostgreSQL tests may not be skipped"
                );
                // Written past the test harness's capture so the skip is visible.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED {test} on PostgreSQL: set {POSTGRES_URL_VAR}=postgres://…"
                );
                return None;
            }
        };
        let schema = format!("t_{:016x}", rand::random::<u64>());
        // A machine busy compiling can make the first connection slow: try a few times.
        let mut admin = Db::connect(&admin_url).await;
        for _ in 0..3 {
            if admin.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            admin = Db::connect(&admin_url).await;
        }
        let admin = admin.expect("connect to test PostgreSQL");
        admin
            .pool()
            .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .await
            .expect("create schema");
        admin.close().await;
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options[search_path]={schema}");
        let mut db = Db::connect(&url).await;
        for _ in 0..3 {
            if db.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            db = Db::connect(&url).await;
        }
        let db = db.expect("open PostgreSQL schema");
        assert_eq!(db.backend(), Backend::Postgres);
        db.migrate().await.expect("migrate PostgreSQL");
        Some(TestDb {
            db,
            url,
            cleanup: Cleanup::Postgres { admin_url, schema },
        })
    }

    /// Opens the same store again with a pool of its own, as another process would.
    pub async fn reopen(&self) -> Db {
        Db::connect(&self.url).await.expect("reopen store")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, schema } = &self.cleanup {
            let (admin_url, schema) = (admin_url.clone(), schema.clone());
            // Drop runs inside the test's runtime; the cleanup needs one of its own.
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async {
                    let admin = Db::connect(&admin_url).await.ok()?;
                    admin
                        .pool()
                        .execute(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                        .await
                        .ok()?;
                    admin.close().await;
                    Some(())
                })
            })
            .join();
            if !matches!(dropped, Ok(Some(()))) {
                let _ = writeln!(std::io::stderr(), "warning: could not drop test schema");
            }
        }
    }
}

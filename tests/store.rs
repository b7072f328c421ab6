//! The store on both backends: opening, migrating, readiness.

mod harness;

use sqlx::Executor;
use trainyard::store::{Backend, Db, Readiness};

use harness::TestDb;

async fn migrations_apply_once_and_readiness_reports_them(test: TestDb) {
    assert_eq!(
        test.db.readiness().await.expect("readiness"),
        Readiness::Ready
    );
    // Applying again at the next start changes nothing.
    test.db.migrate().await.expect("second migrate");
    assert_eq!(
        test.db.readiness().await.expect("readiness"),
        Readiness::Ready
    );
    let tables: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs")
        .fetch_one(test.db.pool())
        .await
        .expect("jobs table exists");
    assert_eq!(tables, 0);
}

async fn a_store_reopened_by_another_process_sees_the_same_rows(test: TestDb) {
    test.db
        .pool()
        .execute(
            "INSERT INTO jobs (kind, queue_key, payload, max_attempts, run_at, created_at, updated_at) \
             VALUES ('k', 'acme/api', '{}', 3, 0, 0, 0)",
        )
        .await
        .expect("insert");
    let other = test.reopen().await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs")
        .fetch_one(other.pool())
        .await
        .expect("count");
    assert_eq!(n, 1);
    other.close().await;
}

on_both_backends!(
    migrations_apply_once_and_readiness_reports_them,
    a_store_reopened_by_another_process_sees_the_same_rows,
);

#[tokio::test]
async fn a_new_sqlite_file_is_created_in_wal_mode_and_reports_pending_migrations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fresh.db");
    let db = Db::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("creates the file");
    assert!(path.exists());
    assert_eq!(db.backend(), Backend::Sqlite);
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(db.pool())
        .await
        .expect("journal mode");
    assert_eq!(mode, "wal");
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(db.pool())
        .await
        .expect("busy timeout");
    assert_eq!(busy, 5000);
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .expect("migrations")
        .count() as i64;
    assert_eq!(
        db.readiness().await.expect("readiness"),
        Readiness::MigrationsPending((1..=shipped).collect())
    );
    db.migrate().await.expect("migrate");
    assert_eq!(db.readiness().await.expect("readiness"), Readiness::Ready);
}

#[tokio::test]
async fn an_unreachable_postgres_is_reported_without_its_password() {
    let err = Db::connect("postgres://app:hunter2@127.0.0.1:1/trainyard")
        .await
        .expect_err("nothing listens on port 1");
    let message = format!("{err:#} {err:?}");
    assert!(
        message.starts_with("cannot open the PostgreSQL store"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn an_unsupported_database_url_is_refused() {
    let err = Db::connect("mysql://root@127.0.0.1/test")
        .await
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "DATABASE_URL must start with sqlite: or postgres: (got scheme \"mysql\")"
    );
}

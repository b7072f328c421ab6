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

/// Audit records are written once per key, never changed (the store itself refuses), and
/// removed after 400 days.
async fn audit_records_are_written_once_never_changed_and_kept_400_days(test: TestDb) {
    use trainyard::store::audit::{self, Entry, Query};
    let day = 24 * 3600 * 1000_i64;
    let now = 1_800_000_000_000_i64;
    let entry = Entry::effect("acme/api", "github.tag", "tag v1.0.0 at abc").once("effect:t1");
    let mut conn = test.db.conn().await.expect("conn");
    assert!(
        audit::record(&mut conn, &entry, now - 401 * day)
            .await
            .expect("write")
    );
    assert!(
        !audit::record(&mut conn, &entry, now).await.expect("again"),
        "a retried effect is recorded once"
    );
    let other = Entry::effect("acme/web", "github.comment", "comment 9 on #3");
    assert!(
        audit::record(&mut conn, &other, now - 399 * day)
            .await
            .expect("write")
    );
    let changed = sqlx::query("UPDATE audit_log SET outcome = 'refused'")
        .execute(&mut *conn)
        .await;
    assert!(changed.is_err(), "the store refuses to change a record");
    drop(conn);
    let all = Query {
        limit: 10,
        ..Query::default()
    };
    let records = audit::recent(&test.db, &all).await.expect("read");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].repository, "acme/web", "newest first");
    assert_eq!(records[1].outcome, "done");
    let api_only = Query {
        repository: Some("acme/api".into()),
        limit: 10,
        ..Query::default()
    };
    assert_eq!(
        audit::recent(&test.db, &api_only)
            .await
            .expect("read")
            .len(),
        1
    );
    assert_eq!(audit::prune(&test.db, now).await.expect("prune"), 1);
    let left = audit::recent(&test.db, &all).await.expect("read");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].repository, "acme/web", "399 days old: kept");
}

on_both_backends!(
    audit_records_are_written_once_never_changed_and_kept_400_days,
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

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

/// Release health from a fixture history written to the store (two releases, four
/// production deployments, one on staging, one rejected cut), against figures worked out by
/// hand in the comments.
async fn health_figures_from_a_stored_history_equal_the_hand_computed_ones(test: TestDb) {
    use trainyard::domain::health::{self, Basis, Rate, Spread};
    use trainyard::domain::ids::RepoFullName;
    let h = 3600 * 1000_i64;
    let now = 1_800_000_000_000_i64;
    let ago = |hours: i64| now - hours * h;
    let rfc = |hours: i64| {
        jiff::Timestamp::from_millisecond(ago(hours))
            .expect("time")
            .to_string()
    };
    let pool = test.db.pool();
    // (version, cut, published) in hours ago; the store numbers the trains.
    let mut ids = Vec::new();
    for (version, cut, published) in [("v1.1.0", 110, 100), ("v1.2.0", 45, 40)] {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO trains (repository, line, kind, state, branch, version, tag_name, \
             cut_at, published_at, created_at, updated_at) \
             VALUES ('acme/api', 'main', 'regular', 'released', 'main', $1, $1, $2, $3, $2, $3) \
             RETURNING id",
        )
        .bind(version)
        .bind(ago(cut))
        .bind(ago(published))
        .fetch_one(pool)
        .await
        .expect("train");
        ids.push(id);
    }
    let train = |n: usize| ids[n - 1];
    // Pull requests merged 120, 130 and 200 hours ago on train 1; 60 on train 2.
    for (n, number, merged) in [(1, 1, 120), (1, 2, 130), (1, 3, 200), (2, 4, 60)] {
        sqlx::query(
            "INSERT INTO train_pull_requests (train_id, number, title, merged_at, boarded_at) \
             VALUES ($1, $2, 'a change', $3, $4)",
        )
        .bind(train(n))
        .bind(number)
        .bind(rfc(merged))
        .bind(ago(merged))
        .execute(pool)
        .await
        .expect("pull request");
    }
    // Approvals: train 1's last 105 hours ago, train 2's 42.
    for (n, login, at) in [(1, "maya", 107), (1, "carol", 105), (2, "maya", 42)] {
        sqlx::query(
            "INSERT INTO train_approvals (train_id, login, approved_at) VALUES ($1, $2, $3)",
        )
        .bind(train(n))
        .bind(login)
        .bind(ago(at))
        .execute(pool)
        .await
        .expect("approval");
    }
    // (environment, train, state, created, finished) in hours ago.
    for (environment, n, state, created, finished) in [
        ("production", 1, "success", 99, 98),
        ("production", 2, "failure", 39, 39),
        ("production", 2, "success", 31, 30),
        ("staging", 2, "failure", 41, 41),
    ] {
        sqlx::query(
            "INSERT INTO deployments (repository, environment, train_id, version, ref_name, \
             requested_by, state, created_at, updated_at) \
             VALUES ('acme/api', $1, $2, 'v1.x', 'v1.x', 'carol', $3, $4, $5)",
        )
        .bind(environment)
        .bind(train(n))
        .bind(state)
        .bind(ago(created))
        .bind(ago(finished))
        .execute(pool)
        .await
        .expect("deployment");
    }
    sqlx::query(
        "INSERT INTO train_events (repository, line, train_id, kind, detail, created_at) \
         VALUES ('acme/api', 'main', $1, 'rejected', '{}', $2)",
    )
    .bind(train(2))
    .bind(ago(43))
    .execute(pool)
    .await
    .expect("event");

    let repo = RepoFullName::parse("acme/api").expect("repo");
    let history = trainyard::store::history::history(&test.db, &repo, |env| env == "production")
        .await
        .expect("history");
    let figures = health::compute(&history, now, 30);
    let hours = |n: i64| Some(n * 3600);
    // Merge → release: 20, 30, 100 (train 1) and 20 (train 2) hours.
    assert_eq!(
        figures.lead_time_to_release,
        Spread {
            count: 4,
            median_secs: hours(20),
            p90_secs: hours(100)
        }
    );
    // Merge → first production success of the release or a later one: 22, 32, 102; 30.
    assert_eq!(
        figures.lead_time_to_production,
        Spread {
            count: 4,
            median_secs: hours(30),
            p90_secs: hours(102)
        }
    );
    assert_eq!(figures.basis, Basis::Deployments);
    assert_eq!(figures.production_deployments, 2);
    assert!((figures.per_week - 2.0 * 7.0 / 30.0).abs() < 1e-9);
    // One failed of three finished production deployments; restored 9 hours later.
    assert_eq!(
        figures.change_failure_rate,
        Rate {
            failed: 1,
            total: 3
        }
    );
    assert_eq!(
        figures.time_to_restore,
        Spread {
            count: 1,
            median_secs: hours(9),
            p90_secs: hours(9)
        }
    );
    assert_eq!(figures.pull_requests_per_train, Some(2.0));
    // Cut → release: 10 and 5 hours; cut → last approval: 5 and 3.
    assert_eq!(
        figures.cut_to_release,
        Spread {
            count: 2,
            median_secs: hours(5),
            p90_secs: hours(10)
        }
    );
    assert_eq!(
        figures.approval_wait,
        Spread {
            count: 2,
            median_secs: hours(3),
            p90_secs: hours(5)
        }
    );
    assert_eq!(figures.rejected_cuts, 1);
    // A window of one day holds nothing; an empty repository, nothing either.
    assert_eq!(health::compute(&history, now, 1).releases, 0);
    let empty = trainyard::store::history::history(
        &test.db,
        &RepoFullName::parse("acme/empty").expect("repo"),
        |_| true,
    )
    .await
    .expect("history");
    assert_eq!(
        health::compute(&empty, now, 30).lead_time_to_release.count,
        0
    );
}

/// A bake's rounds with and without a value, in either order on one connection: the chart's
/// readings come back as written (a missing value first used to make PostgreSQL refuse the
/// next real one, sqlx binding a missing f64 as a float4).
async fn bake_readings_with_and_without_a_value_on_one_connection(test: TestDb) {
    use trainyard::store::bakes::{self, Reading};
    let reading = |round: i64, value: Option<f64>| Reading {
        round,
        at: round * 1_000,
        value,
        healthy: i64::from(value.is_some()),
    };
    let mut conn = test.db.pool().acquire().await.expect("connection");
    for (round, value) in [
        (1, None),
        (2, Some(0.01)),
        (3, None),
        (4, Some(f64::NAN)),
        (5, Some(2.5)),
    ] {
        bakes::record_reading(&mut conn, 7, &reading(round, value))
            .await
            .expect("recorded");
    }
    // A round is recorded once.
    bakes::record_reading(&mut conn, 7, &reading(2, Some(9.0)))
        .await
        .expect("again");
    drop(conn);
    let values: Vec<Option<f64>> = bakes::readings(&test.db, 7, 10)
        .await
        .expect("readings")
        .into_iter()
        .map(|r| r.value)
        .collect();
    assert_eq!(values, [None, Some(0.01), None, None, Some(2.5)]);
}

on_both_backends!(
    bake_readings_with_and_without_a_value_on_one_connection,
    health_figures_from_a_stored_history_equal_the_hand_computed_ones,
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

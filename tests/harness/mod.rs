//! Shared test harness: real stores on both backends, and the real GitHub client for a fake.
//!
//! SQLite tests get a fresh file in a temporary folder. PostgreSQL tests get a fresh schema
//! in the database named by `TRAINYARD_TEST_DATABASE_URL`, dropped afterwards; without that
//! variable they say on the terminal that they were skipped, and under `CI` they fail instead.

#![allow(
    dead_code,
    unused_imports,
    reason = "each test binary uses a different part of the harness"
)]

pub mod bot;
pub mod browser;
pub mod db;
pub mod drafter_cases;
pub mod fake_chat;
pub mod fake_github;
pub mod fake_prometheus;
pub mod github;
pub mod github_limits;
pub mod http;
pub mod process;

pub use db::TestDb;

/// Generates one `#[tokio::test]` per backend for each listed `async fn(TestDb)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case($crate::harness::TestDb::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    if let Some(db) = $crate::harness::TestDb::postgres(stringify!($case)).await {
                        super::$case(db).await;
                    }
                }
            )*
        }
    };
}

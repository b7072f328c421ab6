//! Completions in groups: each finished job waits its turn to be deleted, and whoever takes
//! the turn deletes every completion waiting by then in one statement, one commit. Under load
//! (many jobs finishing at once) this is one commit for many jobs; alone, it is one for one.
//! A completion's commit on PostgreSQL does not wait for the disk: losing one (only with
//! PostgreSQL's own crash) runs its job again, as a worker's crash would; work is at least
//! once and every effect a step.

use std::sync::Mutex;

use tokio::sync::oneshot;

use super::rows::ClaimedJob;
use super::sql::{QUICK_COMMIT_POSTGRES, placeholders};
use super::{JobId, QueueError};
use crate::store::{Backend, Db};

/// Completions not yet deleted, and the turn to delete them.
#[derive(Debug, Default)]
pub(super) struct Completions {
    waiting: Mutex<Vec<Waiting>>,
    turn: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct Waiting {
    id: JobId,
    lease_token: String,
    answer: oneshot::Sender<Result<bool, String>>,
}

/// Completions deleted in one statement at most (bound parameters: two each).
const MOST_AT_ONCE: usize = 256;

impl Completions {
    /// Deletes `job` (if this worker still holds its lease), with whatever else is waiting:
    /// `false` when the lease was lost.
    pub(super) async fn complete(&self, db: &Db, job: &ClaimedJob) -> Result<bool, QueueError> {
        let (answer, mut answered) = oneshot::channel();
        self.lock().push(Waiting {
            id: job.id,
            lease_token: job.lease_token.clone(),
            answer,
        });
        loop {
            let turn = self.turn.lock().await;
            if let Ok(result) = answered.try_recv() {
                return result.map_err(|e| QueueError::Store(sqlx::Error::Protocol(e)));
            }
            let group: Vec<Waiting> = {
                let mut waiting = self.lock();
                let keep = waiting.len().saturating_sub(MOST_AT_ONCE);
                waiting.split_off(keep)
            };
            let outcome = delete(db, &group).await;
            drop(turn);
            for waiting in group {
                let result = match &outcome {
                    Ok(deleted) => Ok(deleted.contains(&waiting.id)),
                    Err(error) => Err(error.to_string()),
                };
                let _ = waiting.answer.send(result);
            }
            if let Ok(result) = answered.try_recv() {
                return result.map_err(|e| QueueError::Store(sqlx::Error::Protocol(e)));
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Deletes the group's jobs whose lease still holds; returns their ids.
async fn delete(db: &Db, group: &[Waiting]) -> Result<Vec<JobId>, sqlx::Error> {
    if group.is_empty() {
        return Ok(Vec::new());
    }
    let pairs: Vec<String> = (0..group.len())
        .map(|i| format!("({})", placeholders(2 * i + 1, 2)))
        .collect();
    // On PostgreSQL the commit does not wait for the disk (`QUICK_COMMIT_POSTGRES`): a
    // completion lost with PostgreSQL's own crash runs its job again, as a lost lease would.
    let (quick, using) = match db.backend() {
        Backend::Postgres => (QUICK_COMMIT_POSTGRES, "USING quick "),
        Backend::Sqlite => ("", ""),
    };
    let sql = format!(
        "{quick}DELETE FROM jobs {using}WHERE (id, lease_token) IN ({}) RETURNING id",
        pairs.join(", ")
    );
    let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql));
    for waiting in group {
        query = query.bind(waiting.id).bind(waiting.lease_token.clone());
    }
    query.fetch_all(db.pool()).await
}

//! One decision, one transaction: a handler gathers its facts and calls GitHub for what it
//! needs to know, then writes the train's new state, the events to announce, the command's
//! outcome and every follow-up job through one [`UnitOfWork`] and commits once. A crash
//! before the commit leaves nothing half done; the retry decides again from the same facts.

use serde::{Deserialize, Serialize};
use sqlx::{Any, AnyConnection, Transaction};

use crate::domain::ids::RepoFullName;
use crate::domain::train_event::TrainEvent;
use crate::jobs::{BackgroundJob, JobError, Queue};
use crate::store::Db;
use crate::store::trains::{self, TrainRow};

/// Writes that commit together, and the jobs they set off (workers are woken after the
/// commit, never before).
pub struct UnitOfWork {
    db: Db,
    tx: Transaction<'static, Any>,
    queue: Queue,
    now: i64,
    wake: bool,
}

impl std::fmt::Debug for UnitOfWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnitOfWork")
            .field("now", &self.now)
            .finish()
    }
}

impl UnitOfWork {
    /// Starts a write transaction. On SQLite it holds the only connection until it ends:
    /// read everything the decision needs before beginning.
    pub async fn begin(db: &Db, queue: &Queue, now: i64) -> Result<UnitOfWork, JobError> {
        Ok(UnitOfWork {
            db: db.clone(),
            tx: db.begin_write().await?,
            queue: queue.clone(),
            now,
            wake: false,
        })
    }

    /// The transaction's connection, for store functions.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// The time the decision was made at (epoch ms).
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Records what happened to `train` and has it announced once the unit commits.
    pub async fn announce(&mut self, train: &TrainRow, event: &TrainEvent) -> Result<(), JobError> {
        let repo = RepoFullName::parse(&train.repository)
            .map_err(|e| JobError::Permanent(e.to_string()))?;
        self.announce_for(&repo, &train.line, Some(train.id), event)
            .await
    }

    /// Records an event of a repository's line (or of the repository, with `""` and no
    /// train) and has it announced once the unit commits.
    pub async fn announce_for(
        &mut self,
        repo: &RepoFullName,
        line: &str,
        train_id: Option<i64>,
        event: &TrainEvent,
    ) -> Result<(), JobError> {
        trains::record_event(&mut self.tx, repo, line, train_id, event, self.now).await?;
        if self.mark_checks(repo, train_id, event).await? {
            self.enqueue(&SyncPullRequestChecks {
                repository: repo.clone(),
            })
            .await?;
        }
        if event.may_open_the_gate() {
            self.enqueue(&ReviewWaitingGates {
                repository: repo.clone(),
            })
            .await?;
        }
        self.enqueue(&DeliverTrainEvents {
            repository: repo.clone(),
        })
        .await
    }

    /// Marks the pull request checks `event` may change: the one that boarded or left, or
    /// every passenger of the train that moved. Returns whether any was marked.
    async fn mark_checks(
        &mut self,
        repo: &RepoFullName,
        train_id: Option<i64>,
        event: &TrainEvent,
    ) -> Result<bool, JobError> {
        use crate::store::pr_checks;
        let marked = match (event, train_id) {
            (TrainEvent::Boarded { number, .. } | TrainEvent::Left { number }, _) => {
                pr_checks::mark(&mut self.tx, repo.as_ref(), *number).await?
            }
            (event, Some(train)) if event.moves_passengers() => {
                pr_checks::mark_train(&mut self.tx, repo.as_ref(), train).await? > 0
            }
            _ => false,
        };
        Ok(marked)
    }

    /// Adds a follow-up job, which exists exactly when the unit commits.
    pub async fn enqueue<J: BackgroundJob>(&mut self, job: &J) -> Result<(), JobError> {
        let (_, runnable) = self.queue.enqueue_with_hint(&mut self.tx, job).await?;
        self.wake |= runnable;
        Ok(())
    }

    /// Commits everything, then wakes a worker for the new jobs.
    pub async fn commit(self) -> Result<(), JobError> {
        if self.db.take_commit_fault() {
            // Rolled back as the transaction drops: nothing of the decision is written.
            return Err(JobError::Failed(
                "injected fault: the decision was not committed".into(),
            ));
        }
        self.tx
            .commit()
            .await
            .map_err(|e| JobError::Failed(format!("cannot commit the decision: {e}")))?;
        if self.wake {
            self.queue.wake();
        }
        Ok(())
    }
}

/// Records what happened (to a train, or to the repository when `train_id` is `None`) and
/// has it delivered to the repository's channels: both in one transaction of their own.
/// Handlers that change a train announce through their [`UnitOfWork`] instead.
pub async fn announce(
    db: &crate::store::Db,
    queue: &crate::jobs::Queue,
    repo: &RepoFullName,
    line: &str,
    train_id: Option<i64>,
    event: &TrainEvent,
    now: i64,
) -> Result<(), JobError> {
    let mut unit = UnitOfWork::begin(db, queue, now).await?;
    unit.announce_for(repo, line, train_id, event).await?;
    unit.commit().await
}

/// Decides again a repository's deployment protection requests that wait (run by
/// `handlers::deploys::gate`): enqueued with every event that may let one through.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewWaitingGates {
    /// The repository.
    pub repository: RepoFullName,
}

/// Brings a repository's marked pull request checks up to date (run by `handlers::checks`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncPullRequestChecks {
    /// The repository.
    pub repository: RepoFullName,
}

/// Delivers a repository's undelivered train events.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliverTrainEvents {
    /// The repository.
    pub repository: RepoFullName,
}

//! Claiming: leasing the next jobs that may start, several at a time, fairly across
//! installations and repositories.
//!
//! One claim is one transaction: find the candidates (see [`super::sql`]), start them, and
//! mark their keys served (the fairness order). On PostgreSQL that is one statement, which
//! locks the candidates' keys `SKIP LOCKED` (keys another claimer holds are passed over, so
//! claimers never wait on each other); SQLite's writers are serialised by `BEGIN IMMEDIATE`.

use super::rows::{Candidate, ClaimRow, ClaimedJob, Started};
use super::sql::{CANDIDATES_SQLITE, CLAIM_POSTGRES, placeholders, start_jobs};
use super::{LEASE_MARGIN, Queue, QueueError};
use crate::store::Backend;
use sqlx::{Any, Transaction};
use std::sync::atomic::{AtomicI64, Ordering};

/// How often one claim call tries again after losing every candidate to other claimers.
const CLAIM_ROUNDS: usize = 64;

/// Extra candidates read beyond those wanted, for the keys other claimers hold.
const SPARE_CANDIDATES: usize = 4;

enum Round {
    Claimed(Vec<ClaimedJob>),
    NothingDue,
    /// Lost every race, or buried a job whose worker died; look again.
    Again,
}

impl Queue {
    /// Leases the next job that may start, if any.
    pub async fn claim(&self) -> Result<Option<ClaimedJob>, QueueError> {
        Ok(self.claim_batch(1).await?.into_iter().next())
    }

    /// Leases up to `limit` jobs that may start now, of different keys, in fairness order:
    /// empty when none is due.
    pub async fn claim_batch(&self, limit: usize) -> Result<Vec<ClaimedJob>, QueueError> {
        let limit = limit.max(1);
        for _ in 0..CLAIM_ROUNDS {
            match self.claim_round(limit).await? {
                Round::Claimed(jobs) => return Ok(jobs),
                Round::NothingDue => return Ok(Vec::new()),
                Round::Again => continue,
            }
        }
        Ok(Vec::new())
    }

    async fn claim_round(&self, limit: usize) -> Result<Round, QueueError> {
        match self.db.backend() {
            Backend::Postgres => self.claim_round_postgres(limit).await,
            Backend::Sqlite => self.claim_round_sqlite(limit).await,
        }
    }

    async fn claim_round_postgres(&self, limit: usize) -> Result<Round, QueueError> {
        let now = self.now_millis();
        let (lease_token, locked_until) = self.lease(now);
        let rows: Vec<ClaimRow> = match sqlx::query_as(CLAIM_POSTGRES)
            .bind(now)
            .bind(i64::try_from(limit + SPARE_CANDIDATES).unwrap_or(i64::MAX))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(&lease_token)
            .bind(locked_until)
            .bind(serving_mark(now))
            .fetch_all(self.db.pool())
            .await
        {
            Ok(rows) => rows,
            // Another claimer started a job of one of these keys after this statement's
            // snapshot and released the key before we locked it: look again.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(Round::Again),
            Err(e) => return Err(e.into()),
        };
        let mut claimed = Vec::new();
        let mut seen = 0;
        for row in rows {
            match row.what {
                0 => claimed.push(row.job),
                1 => {
                    let candidate = row.into_candidate();
                    let mut tx = self.begin_write().await?;
                    self.bury_abandoned(&mut tx, &candidate, now).await?;
                    tx.commit().await?;
                }
                _ => seen = row.job.id,
            }
        }
        Ok(if !claimed.is_empty() {
            Round::Claimed(
                claimed
                    .into_iter()
                    .map(|s| s.into_claimed(&lease_token))
                    .collect(),
            )
        } else if seen == 0 {
            Round::NothingDue
        } else {
            Round::Again
        })
    }

    /// A fresh lease: its token and when it ends.
    fn lease(&self, now: i64) -> (String, i64) {
        let lease_token = format!("{:032x}", rand::random::<u128>());
        let lease = self.settings.job_timeout + LEASE_MARGIN;
        let locked_until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        (lease_token, locked_until)
    }

    async fn claim_round_sqlite(&self, limit: usize) -> Result<Round, QueueError> {
        let now = self.now_millis();
        let mut tx = self.begin_write().await?;
        let want = i64::try_from(limit + SPARE_CANDIDATES).unwrap_or(i64::MAX);
        let mut candidates: Vec<Candidate> = sqlx::query_as(CANDIDATES_SQLITE)
            .bind(now)
            .bind(want)
            .fetch_all(&mut *tx)
            .await?;
        if candidates.is_empty() {
            return Ok(Round::NothingDue);
        }
        candidates.truncate(limit);

        let (lease_token, locked_until) = self.lease(now);
        let mut claimed = Vec::with_capacity(candidates.len());
        let (due, abandoned): (Vec<Candidate>, Vec<Candidate>) =
            candidates.into_iter().partition(|c| c.state != "running");
        for job in abandoned {
            if job.attempts >= job.max_attempts {
                self.bury_abandoned(&mut tx, &job, now).await?;
            } else {
                claimed.extend(
                    self.take_over(&mut tx, &job, &lease_token, locked_until, now)
                        .await?,
                );
            }
        }
        if !due.is_empty() {
            let sql = start_jobs(due.len());
            let mut start = sqlx::query_as::<_, Started>(sqlx::AssertSqlSafe(sql))
                .bind(lease_token.clone())
                .bind(locked_until)
                .bind(now);
            for job in &due {
                start = start.bind(job.id);
            }
            match start.fetch_all(&mut *tx).await {
                Ok(started) => claimed.extend(started),
                // Another claimer started a job of one of these keys between our look and
                // our update (a key lock cannot be taken on SQLite's claim-less path).
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Ok(Round::Again);
                }
                Err(e) => return Err(e.into()),
            }
        }
        if claimed.is_empty() {
            tx.commit().await?;
            return Ok(Round::Again);
        }
        mark_served(&mut tx, &claimed, now).await?;
        tx.commit().await?;
        Ok(Round::Claimed(
            claimed
                .into_iter()
                .map(|s| s.into_claimed(&lease_token))
                .collect(),
        ))
    }

    /// A running job whose lease expired and whose attempts are spent: its worker died on
    /// the last one. Kept, dead, for operators.
    async fn bury_abandoned(
        &self,
        tx: &mut Transaction<'static, Any>,
        job: &Candidate,
        now: i64,
    ) -> Result<(), QueueError> {
        let error = format!(
            "the worker running attempt {} stopped without finishing (lease expired)",
            job.attempts
        );
        let stored: Option<(String, String)> =
            sqlx::query_as("SELECT kind, payload FROM jobs WHERE id = $1")
                .bind(job.id)
                .fetch_optional(&mut **tx)
                .await?;
        let Some((kind, payload)) = stored else {
            return Ok(());
        };
        let payload = self.erased(&kind, &payload).unwrap_or(payload);
        sqlx::query(
            "UPDATE jobs SET state = 'dead', last_error = $2, lease_token = NULL, \
                    locked_until = NULL, updated_at = $3, payload = $4 \
             WHERE id = $1 AND state = 'running' AND locked_until <= $3",
        )
        .bind(job.id)
        .bind(&error)
        .bind(now)
        .bind(payload)
        .execute(&mut **tx)
        .await?;
        tracing::error!(job_id = job.id, %kind, %error, "job is dead");
        Ok(())
    }

    /// Takes over a running job whose worker died (its lease expired).
    async fn take_over(
        &self,
        tx: &mut Transaction<'static, Any>,
        job: &Candidate,
        lease_token: &str,
        locked_until: i64,
        now: i64,
    ) -> Result<Option<Started>, QueueError> {
        Ok(sqlx::query_as(
            "UPDATE jobs SET attempts = attempts + 1, lease_token = $2, locked_until = $3, \
                    updated_at = $4 \
             WHERE id = $1 AND state = 'running' AND locked_until <= $4 \
             RETURNING id, kind, queue_key, payload, attempts, max_attempts, transient_retries",
        )
        .bind(job.id)
        .bind(lease_token)
        .bind(locked_until)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?)
    }
}

/// The mark of a claim, in microseconds since the epoch, made strictly later than this
/// process's previous one: claims within one millisecond (or under a clock that stands
/// still) still take turns in the order they were made.
fn serving_mark(now_ms: i64) -> i64 {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let wanted = now_ms.saturating_mul(1000);
    let previous = LAST
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some(wanted.max(last.saturating_add(1)))
        })
        .unwrap_or(wanted);
    wanted.max(previous.saturating_add(1))
}

/// Records when the claimed jobs' keys were served: the next claims take others first.
async fn mark_served(
    tx: &mut Transaction<'static, Any>,
    claimed: &[Started],
    now: i64,
) -> Result<(), QueueError> {
    let sql = format!(
        "UPDATE queue_keys SET served_at = $1 WHERE queue_key IN ({})",
        placeholders(2, claimed.len())
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(serving_mark(now));
    for job in claimed {
        query = query.bind(job.queue_key.clone());
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

//! A repository's release history as the health figures read it ([`crate::domain::health`]):
//! five queries whatever the number of releases (trains, merges, approvals, deployments,
//! rejections), no query per train.

use std::collections::HashMap;

use super::{Db, StoreError};
use crate::domain::health::{BakeFacts, DeploymentFacts, History, TrainFacts};
use crate::domain::ids::RepoFullName;

type TrainTuple = (
    i64,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
);
/// environment, train, version, state, rollback, created, updated, breached, restored.
type DeploymentTuple = (
    String,
    Option<i64>,
    Option<String>,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
);

/// Everything recorded of `repo`'s trains and deployments; `production` says which
/// environments are production ones.
pub async fn history(
    db: &Db,
    repo: &RepoFullName,
    production: impl Fn(&str) -> bool,
) -> Result<History, StoreError> {
    let trains: Vec<TrainTuple> = sqlx::query_as(
        "SELECT id, line, kind, version, cut_at, published_at FROM trains WHERE repository = $1 \
         ORDER BY id",
    )
    .bind(repo.as_ref())
    .fetch_all(db.pool())
    .await?;
    let merges: Vec<(i64, Option<String>, i64)> = sqlx::query_as(
        "SELECT p.train_id, p.merged_at, p.boarded_at FROM train_pull_requests p \
         JOIN trains t ON t.id = p.train_id \
         WHERE t.repository = $1 AND t.published_at IS NOT NULL",
    )
    .bind(repo.as_ref())
    .fetch_all(db.pool())
    .await?;
    let approvals: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT a.train_id, MAX(a.approved_at) FROM train_approvals a \
         JOIN trains t ON t.id = a.train_id WHERE t.repository = $1 GROUP BY a.train_id",
    )
    .bind(repo.as_ref())
    .fetch_all(db.pool())
    .await?;
    let deployments: Vec<DeploymentTuple> = sqlx::query_as(
        "SELECT d.environment, d.train_id, d.version, d.state, d.rollback, d.created_at, \
         d.updated_at, b.finished_at, b.restored_at FROM deployments d \
         LEFT JOIN bakes b ON b.deployment_id = d.id AND b.state = 'breached' \
         WHERE d.repository = $1",
    )
    .bind(repo.as_ref())
    .fetch_all(db.pool())
    .await?;
    let bakes = bake_facts(db, repo).await?;
    let rejections: Vec<(i64,)> = sqlx::query_as(
        "SELECT created_at FROM train_events WHERE repository = $1 AND kind = 'rejected'",
    )
    .bind(repo.as_ref())
    .fetch_all(db.pool())
    .await?;

    let mut merged: HashMap<i64, Vec<i64>> = HashMap::new();
    for (train, merged_at, boarded_at) in merges {
        // GitHub's merge time; a pull request without one counts from its boarding.
        let at = merged_at
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map_or(boarded_at, |t| t.as_millisecond());
        merged.entry(train).or_default().push(at);
    }
    let approved: HashMap<i64, i64> = approvals.into_iter().collect();
    Ok(History {
        trains: trains
            .into_iter()
            .map(
                |(id, line, kind, version, cut_at, published_at)| TrainFacts {
                    id,
                    line,
                    hotfix: kind == "hotfix",
                    version,
                    cut_at,
                    approved_at: approved.get(&id).copied(),
                    published_at,
                    merged_at: merged.remove(&id).unwrap_or_default(),
                },
            )
            .collect(),
        deployments: deployments
            .into_iter()
            .map(|d| DeploymentFacts {
                production: production(&d.0),
                environment: d.0,
                train_id: d.1,
                version: d.2,
                state: d.3,
                rollback: d.4 != 0,
                created_at: d.5,
                finished_at: d.6,
                breached_at: d.7,
                restored_at: d.8,
            })
            .collect(),
        rejections: rejections.into_iter().map(|(at,)| at).collect(),
        bakes,
    })
}

/// The repository's bakes that ended.
async fn bake_facts(db: &Db, repo: &RepoFullName) -> Result<Vec<BakeFacts>, StoreError> {
    let rows: Vec<(String, String, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT environment, state, finished_at, restored_at FROM bakes \
         WHERE repository = $1 AND state <> 'baking'",
    )
    .bind(repo.as_ref())
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(environment, state, finished_at, restored_at)| BakeFacts {
            environment,
            breached: state == "breached",
            finished_at: finished_at.unwrap_or_default(),
            restored_at,
        })
        .collect())
}

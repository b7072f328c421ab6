//! `trainyard metrics backfill --repo R`: reads a repository's past releases, merged pull
//! requests and deployments from GitHub once, so its release health has history from the
//! day trainyard is installed. Releases trainyard already knows (by tag) and deployments it
//! already has (by GitHub id) are left alone, so a second run adds only what is new.
//!
//! A past release becomes a released train of `line` carrying the pull requests merged into
//! the line's branch after the previous release was published and before it was: exact for
//! a branch released from its head, which is how trains release. Its cut and approvals are
//! unknown, so it counts for lead time, frequency and failures, not for train figures.

use std::collections::HashSet;

use serde::Serialize;

use crate::domain::ids::RepoFullName;
use crate::github::GitHubClient;
use crate::jobs::JobError;
use crate::store::Db;
use crate::store::audit::{self, Entry};

/// What a backfill added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Backfilled {
    /// Past releases, as released trains.
    pub releases: usize,
    /// Their pull requests.
    pub pull_requests: usize,
    /// Deployments, with their last status.
    pub deployments: usize,
    /// GitHub calls made.
    pub calls: usize,
}

fn millis(rfc3339: &str) -> Option<i64> {
    rfc3339
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// Backfills `repo` (installation `installation`) into train line `line` (branch `branch`).
pub async fn backfill(
    db: &Db,
    github: &GitHubClient,
    installation: u64,
    repo: &RepoFullName,
    line: &str,
    branch: &str,
    now: i64,
) -> Result<Backfilled, JobError> {
    let mut done = Backfilled::default();
    // Read everything first: the store's one SQLite writer is not held across GitHub calls.
    let mut releases: Vec<(String, i64)> = github
        .past_releases(installation, repo)
        .await?
        .into_iter()
        // Release candidates and other pre-releases are not releases of the line.
        .filter(|r| !r.draft && !r.prerelease)
        .filter_map(|r| Some((r.tag_name, millis(r.published_at.as_deref()?)?)))
        .collect();
    releases.sort_by_key(|(_, at)| *at);
    let pulls = github.merged_pulls(installation, repo).await?;
    let deployments = github.past_deployments(installation, repo).await?;
    done.calls += 3;

    let known_tags: HashSet<String> = sqlx::query_as::<_, (String,)>(
        "SELECT tag_name FROM trains WHERE repository = $1 AND tag_name IS NOT NULL",
    )
    .bind(repo.as_ref())
    .fetch_all(db.pool())
    .await
    .map_err(crate::store::StoreError::from)?
    .into_iter()
    .map(|(tag,)| tag)
    .collect();
    let known_pulls: HashSet<i64> = sqlx::query_as::<_, (i64,)>(
        "SELECT p.number FROM train_pull_requests p JOIN trains t ON t.id = p.train_id \
         WHERE t.repository = $1",
    )
    .bind(repo.as_ref())
    .fetch_all(db.pool())
    .await
    .map_err(crate::store::StoreError::from)?
    .into_iter()
    .map(|(n,)| n)
    .collect();
    let known_deployments: HashSet<i64> = sqlx::query_as::<_, (i64,)>(
        "SELECT github_id FROM deployments WHERE repository = $1 AND github_id IS NOT NULL",
    )
    .bind(repo.as_ref())
    .fetch_all(db.pool())
    .await
    .map_err(crate::store::StoreError::from)?
    .into_iter()
    .map(|(id,)| id)
    .collect();
    let mut statuses = Vec::new();
    for deployment in deployments
        .iter()
        .filter(|d| !known_deployments.contains(&d.id))
    {
        let status = github
            .latest_status(installation, repo, deployment.id)
            .await?;
        done.calls += 1;
        statuses.push((deployment, status));
    }

    let mut tx = db.begin_write().await?;
    let mut previous = i64::MIN;
    for (tag, published) in &releases {
        let since = previous;
        previous = *published;
        if known_tags.contains(tag) {
            continue;
        }
        let (train_id,): (i64,) = sqlx::query_as(
            "INSERT INTO trains (repository, line, kind, state, branch, version, tag_name, \
             tag_created_at, published_at, created_at, updated_at) \
             VALUES ($1, $2, 'regular', 'released', $3, $4, $4, $5, $5, $5, $6) RETURNING id",
        )
        .bind(repo.as_ref())
        .bind(line)
        .bind(branch)
        .bind(tag)
        .bind(*published)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(crate::store::StoreError::from)?;
        done.releases += 1;
        for pull in pulls.iter().filter(|p| p.base == branch) {
            let Some(merged) = millis(&pull.merged_at) else {
                continue;
            };
            let number = i64::try_from(pull.number).unwrap_or(i64::MAX);
            if merged <= since || merged > *published || known_pulls.contains(&number) {
                continue;
            }
            sqlx::query(
                "INSERT INTO train_pull_requests (train_id, number, title, author, merged_at, \
                 boarded_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(train_id)
            .bind(number)
            .bind(&pull.title)
            .bind(pull.author.as_deref())
            .bind(&pull.merged_at)
            .bind(merged)
            .execute(&mut *tx)
            .await
            .map_err(crate::store::StoreError::from)?;
            done.pull_requests += 1;
        }
    }
    for (deployment, status) in statuses {
        let Some(created) = millis(&deployment.created_at) else {
            continue;
        };
        let (state, updated) = match &status {
            Some(status) => (
                status.state.as_str(),
                millis(&status.created_at).unwrap_or(created),
            ),
            None => ("created", created),
        };
        let train: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM trains WHERE repository = $1 AND tag_name = $2 ORDER BY id DESC",
        )
        .bind(repo.as_ref())
        .bind(&deployment.git_ref)
        .fetch_optional(&mut *tx)
        .await
        .map_err(crate::store::StoreError::from)?;
        sqlx::query(
            "INSERT INTO deployments (repository, environment, github_id, train_id, version, \
             ref_name, sha, requested_by, state, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (github_id) DO NOTHING",
        )
        .bind(repo.as_ref())
        .bind(&deployment.environment)
        .bind(deployment.id)
        .bind(train.map(|(id,)| id))
        .bind(&deployment.git_ref)
        .bind(&deployment.sha)
        .bind(
            deployment
                .creator
                .as_ref()
                .map_or("unknown", |c| c.login.as_str()),
        )
        .bind(state)
        .bind(created)
        .bind(updated)
        .execute(&mut *tx)
        .await
        .map_err(crate::store::StoreError::from)?;
        done.deployments += 1;
    }
    let entry = Entry {
        repository: repo.to_string(),
        line: line.to_owned(),
        actor_login: "trainyard".into(),
        surface: "trainyard".into(),
        action: "metrics.backfill".into(),
        outcome: "done".into(),
        detail: format!(
            "{} releases, {} pull requests, {} deployments from GitHub",
            done.releases, done.pull_requests, done.deployments
        ),
        ..Entry::default()
    };
    audit::record(&mut tx, &entry, now).await?;
    tx.commit()
        .await
        .map_err(|e| JobError::Failed(format!("cannot store the backfill: {e}")))?;
    Ok(done)
}

/// `trainyard metrics backfill --repo owner/name [--line L]`, as the App, into the server's
/// store.
pub async fn run(
    settings: crate::settings::Settings,
    repo: &str,
    line: Option<&str>,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let repo = crate::domain::ids::RepoFullName::parse(repo)
        .with_context(|| format!("--repo {repo:?}: give owner/name"))?;
    if settings.github.is_none() {
        anyhow::bail!(
            "metrics backfill reads {repo}'s history as the GitHub App, which is not \
             configured here: set TRAINYARD_GITHUB_APP_ID and \
             TRAINYARD_GITHUB_PRIVATE_KEY_PATH (or run it where the server runs)"
        );
    }
    let state =
        crate::state::AppState::open(settings, std::sync::Arc::new(crate::clock::SystemClock))
            .await?;
    let installation = crate::store::installations::for_repository(&state.db, &repo)
        .await?
        .with_context(|| {
            format!(
                "this store knows no installation of the App on {repo}: install it \
                 there, or point DATABASE_URL at the server's store"
            )
        })?;
    let ctx = state.train_context();
    let github = ctx.github()?;
    let config = crate::handlers::kit::stored_config(&ctx, &repo).await?;
    let lines = config.lines();
    let chosen = match line {
        Some(name) => lines
            .iter()
            .find(|l| l.name == name)
            .with_context(|| format!("{repo} has no train line {name:?}"))?,
        None => lines.first().context("no train line")?,
    };
    let branch = match &chosen.branch {
        Some(branch) => branch.clone(),
        None => github.default_branch(installation, &repo).await?,
    };
    let done = backfill(
        &state.db,
        github,
        installation,
        &repo,
        &chosen.name,
        &branch,
        ctx.now(),
    )
    .await?;
    println!(
        "{repo}: added {} past releases with {} pull requests, and {} deployments \
         ({} GitHub calls)",
        done.releases, done.pull_requests, done.deployments, done.calls
    );
    Ok(())
}

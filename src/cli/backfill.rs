//! `trainyard metrics backfill --repo R`: reads a repository's past releases, merged pull
//! requests and deployments from GitHub once, so its release health has history from the
//! day trainyard is installed. Releases trainyard already knows (by tag) and deployments it
//! already has (by GitHub id) are left alone, so a second run adds only what is new.
//!
//! A past release becomes a released train of `line` carrying the pull requests merged into
//! the line's branch after the previous release was published and before it was: exact for
//! a branch released from its head, which is how trains release. Its cut and approvals are
//! unknown, so it counts for lead time, frequency and failures, not for train figures.

use serde::Serialize;

use crate::domain::ids::RepoFullName;
use crate::github::GitHubClient;
use crate::github::history::{MergedPull, PastDeployment, PastStatus};
use crate::jobs::JobError;
use crate::store::audit::{self, Entry};
use crate::store::{Db, backfill};

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

/// What GitHub says of a repository's past.
struct Past {
    /// Final releases, oldest first: (tag, published at).
    releases: Vec<(String, i64)>,
    pulls: Vec<MergedPull>,
    /// Deployments the store does not have yet, each with its last status.
    deployments: Vec<(PastDeployment, Option<PastStatus>)>,
}

/// Reads `repo`'s past from GitHub: everything before anything is written, so the store's
/// one SQLite writer is not held across GitHub calls.
async fn read_past(
    github: &GitHubClient,
    installation: u64,
    repo: &RepoFullName,
    known: &backfill::Known,
    done: &mut Backfilled,
) -> Result<Past, JobError> {
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
    let all_deployments = github.past_deployments(installation, repo).await?;
    done.calls += 3;
    let mut deployments = Vec::new();
    for deployment in all_deployments
        .into_iter()
        .filter(|d| !known.deployments.contains(&d.id))
    {
        let status = github
            .latest_status(installation, repo, deployment.id)
            .await?;
        done.calls += 1;
        deployments.push((deployment, status));
    }
    Ok(Past {
        releases,
        pulls,
        deployments,
    })
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
    let known = backfill::known(db, repo.as_ref()).await?;
    let past = read_past(github, installation, repo, &known, &mut done).await?;
    let mut tx = db.begin_write().await?;
    let mut previous = i64::MIN;
    for (tag, published) in &past.releases {
        let since = previous;
        previous = *published;
        if known.tags.contains(tag) {
            continue;
        }
        let release = backfill::PastRelease {
            repo: repo.as_ref(),
            line,
            branch,
            tag,
            published: *published,
        };
        let train_id = backfill::insert_release(&mut tx, release, now).await?;
        done.releases += 1;
        for pull in past.pulls.iter().filter(|p| p.base == branch) {
            let Some(merged) = millis(&pull.merged_at) else {
                continue;
            };
            let number = i64::try_from(pull.number).unwrap_or(i64::MAX);
            if merged <= since || merged > *published || known.pulls.contains(&number) {
                continue;
            }
            let pull = backfill::PastPull {
                number,
                title: &pull.title,
                author: pull.author.as_deref(),
                merged_at: &pull.merged_at,
                merged_ms: merged,
            };
            backfill::insert_pull(&mut tx, train_id, pull).await?;
            done.pull_requests += 1;
        }
    }
    for (deployment, status) in &past.deployments {
        let Some(created) = millis(&deployment.created_at) else {
            continue;
        };
        let (state, updated) = match status {
            Some(status) => (
                status.state.as_str(),
                millis(&status.created_at).unwrap_or(created),
            ),
            None => ("created", created),
        };
        let past = backfill::PastDeployment {
            repo: repo.as_ref(),
            environment: &deployment.environment,
            github_id: deployment.id,
            git_ref: &deployment.git_ref,
            sha: &deployment.sha,
            creator: deployment
                .creator
                .as_ref()
                .map_or("unknown", |c| c.login.as_str()),
            state,
            created,
            updated,
        };
        backfill::insert_deployment(&mut tx, past).await?;
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

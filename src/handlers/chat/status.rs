//! Status cards and notes, answered from the store within the surfaces' 3 seconds.

use crate::chat::cards::{CandidateStatus, StatusCard, Surface, TrainStatus};
use crate::domain::ids::RepoFullName;
use crate::domain::notes::categorize::Categorizer;
use crate::domain::repo_config::RepoConfig;
use crate::domain::train::TrainState;
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::stored_config;
use crate::handlers::trains::passenger_pull_requests;
use crate::store::{StoreError, candidates, deployments, installations, trains};

/// The repository's release history from the store, production environments as its stored
/// configuration names them: what every release-health figure is computed from.
pub async fn release_history(
    ctx: &TrainContext,
    repo: &RepoFullName,
) -> Result<crate::domain::health::History, StoreError> {
    let config = stored_config(ctx, repo).await?;
    let production = |environment: &str| config.is_production_environment(environment);
    crate::store::history::history(&ctx.db, repo, production).await
}

/// The live trains of a repository, from the store (no GitHub call: this answers within
/// Slack's and Discord's 3 seconds).
pub async fn status_card(
    ctx: &TrainContext,
    repo: &RepoFullName,
    line: Option<&str>,
) -> Result<StatusCard, StoreError> {
    let config = stored_config(ctx, repo).await?;
    let live = [
        TrainState::Open,
        TrainState::Frozen,
        TrainState::Approved,
        TrainState::Blocked,
    ];
    let mut rows = trains::in_states(&ctx.db, repo, &live).await?;
    rows.reverse();
    let mut statuses = Vec::new();
    for train in rows.iter().filter(|t| line.is_none_or(|l| t.line == l)) {
        statuses.push(train_status(ctx, repo, &config, train).await?);
    }
    Ok(StatusCard {
        repository: repo.to_string(),
        web_url: ctx.server_url.clone(),
        trains: statuses,
        github_holds: github_holds(ctx, repo).await?,
    })
}

/// What holds the repository's installation back at GitHub now, one line each: the primary
/// budget down to its reserve (routine work waits for the reset), or writes paused after
/// GitHub's secondary limit.
async fn github_holds(ctx: &TrainContext, repo: &RepoFullName) -> Result<Vec<String>, StoreError> {
    let Some(github) = ctx.github.as_ref() else {
        return Ok(Vec::new());
    };
    let Some(installation) = installations::for_repository(&ctx.db, repo).await? else {
        return Ok(Vec::new());
    };
    // A status answer does not fail for want of the budget's figures.
    let holds = github.holds(installation).await.unwrap_or_default();
    let now = ctx.now();
    Ok(holds
        .into_iter()
        .map(|hold| {
            let left_ms = hold.until.as_millisecond().saturating_sub(now).max(0);
            let minutes = (left_ms as u64).div_ceil(60_000);
            format!(
                "{}; until {} (in {minutes} min).",
                hold.reason,
                hold.until.strftime("%H:%M UTC")
            )
        })
        .collect())
}

/// One train's card, whatever its state (the root message of its chat threads).
pub async fn train_card(
    ctx: &TrainContext,
    repo: &RepoFullName,
    train_id: i64,
) -> Result<Option<StatusCard>, StoreError> {
    let Some(train) = trains::get(&ctx.db, train_id).await? else {
        return Ok(None);
    };
    let config = stored_config(ctx, repo).await?;
    Ok(Some(StatusCard {
        repository: repo.to_string(),
        web_url: ctx.server_url.clone(),
        trains: vec![train_status(ctx, repo, &config, &train).await?],
        github_holds: Vec::new(),
    }))
}

pub(super) async fn train_status(
    ctx: &TrainContext,
    repo: &RepoFullName,
    config: &RepoConfig,
    train: &trains::TrainRow,
) -> Result<TrainStatus, StoreError> {
    let required = config
        .approvals
        .as_ref()
        .and_then(|a| a.required)
        .unwrap_or(1);
    let passengers = trains::passengers(&ctx.db, train.id).await?;
    let pull_requests = passenger_pull_requests(&passengers, repo, &train.branch, &ctx.server_url);
    let mut categories: Vec<(String, Vec<(u64, String)>)> = Vec::new();
    let mut other = Vec::new();
    match config.line_notes(&train.line) {
        Ok(notes) => {
            let categorizer = Categorizer::new(&notes.categories);
            for pr in &pull_requests {
                let evaluation = categorizer.evaluate(pr);
                let title = evaluation
                    .changelog
                    .first()
                    .and_then(|i| notes.categories.get(*i))
                    .map(|c| c.title.clone())
                    .filter(|t| !t.is_empty());
                match title {
                    Some(title) => match categories.iter_mut().find(|(t, _)| *t == title) {
                        Some((_, prs)) => prs.push((pr.number, pr.title.clone())),
                        None => categories.push((title, vec![(pr.number, pr.title.clone())])),
                    },
                    None => other.push((pr.number, pr.title.clone())),
                }
            }
        }
        Err(_) => {
            other = pull_requests
                .iter()
                .map(|p| (p.number, p.title.clone()))
                .collect()
        }
    }
    if !other.is_empty() {
        categories.push(("Other changes".to_owned(), other));
    }
    // Approvals only exist after a cut: an open train needs no query for them.
    let approvals = if train.state() == TrainState::Open {
        Vec::new()
    } else {
        trains::approvals(&ctx.db, train.id).await?
    };
    let mut candidates = Vec::new();
    for c in candidates::of_train(&ctx.db, train.id).await? {
        candidates.push(CandidateStatus {
            deployed: deployments::succeeded_environments(&ctx.db, repo.as_ref(), &c.tag_name)
                .await?,
            tag: c.tag_name,
            target_sha: c.target_sha,
            when: jiff::Timestamp::from_millisecond(c.created_at)
                .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default(),
            published: c.published_at.is_some(),
        });
    }
    Ok(TrainStatus {
        id: train.id,
        line: train.line.clone(),
        state: train.state.as_str().to_owned(),
        version: train.version.clone(),
        tag: train.tag_name.clone(),
        categories,
        approvals: approvals.into_iter().map(|a| a.login).collect(),
        required,
        blocked_reason: train.blocked_reason.clone(),
        candidates,
    })
}

/// The notes the line's train would be released with, generated from its passengers in the
/// store (the version and compare link come with the draft on GitHub).
pub(super) async fn notes_text(
    ctx: &TrainContext,
    repo: &RepoFullName,
    line: Option<&str>,
    s: Surface,
) -> Result<String, StoreError> {
    use crate::domain::version::PreviousRelease;
    use crate::handlers::trains::drafting::{LineFacts, VersionRules, line_draft};
    let config = stored_config(ctx, repo).await?;
    let line = line
        .map(str::to_owned)
        .unwrap_or_else(|| config.lines()[0].name.clone());
    let mut live = trains::in_states(&ctx.db, repo, &[TrainState::Frozen, TrainState::Open])
        .await?
        .into_iter()
        .filter(|t| t.line == line)
        .collect::<Vec<_>>();
    // The oldest frozen train first: that is the one being released.
    live.sort_by_key(|t| (t.state() != TrainState::Frozen, t.id));
    let Some(train) = live.first() else {
        return Ok(format!(
            "The {} line of {} has no train: nothing has boarded.",
            s.code(&line),
            s.code(repo.as_ref())
        ));
    };
    let Ok(notes) = config.line_notes(&train.line) else {
        return Ok("The repository's notes configuration cannot be used.".to_owned());
    };
    let passengers = trains::passengers(&ctx.db, train.id).await?;
    let pull_requests = passenger_pull_requests(&passengers, repo, &train.branch, &ctx.server_url);
    let draft = line_draft(
        &notes,
        VersionRules::of(&config),
        (repo, &ctx.server_url),
        LineFacts {
            pull_requests: &pull_requests,
            baseline: train.baseline_tag.as_deref().map(|tag| PreviousRelease {
                tag_name: tag,
                name: None,
            }),
            head: train.target_sha.as_deref().unwrap_or(&train.branch),
            version: train.version.as_deref(),
            ..LineFacts::default()
        },
    );
    let heading = format!(
        "{} ({}):",
        s.bold(&format!("Notes of the {} {} train", repo, train.line)),
        train.tag_name.as_deref().unwrap_or(train.state.as_str())
    );
    // The notes are GitHub Markdown; chat shows them as written, in a code block (whose
    // content mentions nobody and renders no markup).
    let body: String = draft.body.chars().take(1800).collect();
    Ok(match s {
        Surface::GitHub => format!("{heading}\n\n{}", s.user(&draft.body)),
        Surface::Slack => format!(
            "{heading}\n```\n{}\n```",
            s.user(&body.replace("```", "`\u{200b}``"))
        ),
        Surface::Discord => format!(
            "{heading}\n```\n{}\n```",
            body.replace("```", "`\u{200b}``")
        ),
    })
}

//! Asking for a deployment (commands and automatic ones alike) and telling what runs where.

use crate::domain::deploy::DeploymentState;
use crate::domain::deploy::Release;
use crate::domain::ids::RepoFullName;
use crate::domain::train_event::TrainEvent;
use crate::handlers::kit::unit::UnitOfWork;
use crate::jobs::JobError;
use crate::store::deployments::{self};
use crate::store::trains;

use super::jobs::CreateDeployment;

/// `/release deploys`: per environment (configured ones first, then any GitHub reported),
/// what runs there, what was asked last, who holds it, and the freeze in force or next.
pub async fn deploys_text(
    db: &crate::store::Db,
    repo: &RepoFullName,
    s: crate::chat::cards::Surface,
    now: i64,
) -> Result<String, crate::store::StoreError> {
    let config = match crate::store::repo_configs::get(db, repo).await? {
        Some(crate::store::repo_configs::RepoConfigRow {
            source_path: Some(path),
            config_text: Some(text),
            ..
        }) => crate::domain::repo_config::RepoConfig::from_file(&path, &text).ok(),
        _ => None,
    };
    let mut environments: Vec<String> = config
        .iter()
        .flat_map(|config| config.environments().iter().map(|e| e.name.clone()))
        .collect();
    for seen in deployments::environments(db, repo.as_ref()).await? {
        if !environments.iter().any(|e| e.eq_ignore_ascii_case(&seen)) {
            environments.push(seen);
        }
    }
    if environments.is_empty() {
        return Ok(format!(
            "{}: no deployment environments are configured or known yet",
            s.bold(repo.as_ref())
        ));
    }
    let locks = deployments::locks(db, repo.as_ref()).await?;
    let mut text = format!("{} deployments:", s.bold(repo.as_ref()));
    for environment in &environments {
        let history = deployments::history(db, repo.as_ref(), environment, 50).await?;
        let running = history.iter().find(|d| d.state == DeploymentState::Success);
        let latest = history.first();
        let when = |ms: i64| {
            jiff::Timestamp::from_millisecond(ms)
                .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default()
        };
        let mut line = format!("\n• {}: ", s.bold(&s.user(environment)));
        match running {
            Some(d) => line.push_str(&format!(
                "{} ({}) since {}, by {}",
                s.code(&d.ref_name),
                s.code(d.sha.as_deref().map_or("", |sha| &sha[..sha.len().min(7)])),
                when(d.updated_at),
                s.user(&d.requested_by)
            )),
            None => line.push_str("nothing deployed successfully yet"),
        }
        if let Some(d) = latest.filter(|d| Some(*d) != running) {
            line.push_str(&format!(
                "; last asked: {} {}",
                s.code(&d.ref_name),
                s.user(&d.state.as_str().replace('_', " "))
            ));
        }
        if let Some(lock) = locks
            .iter()
            .find(|l| l.environment.eq_ignore_ascii_case(environment))
        {
            line.push_str(&format!(
                "; 🔒 locked by {}: {}",
                s.user(&lock.owner),
                s.user(&lock.reason)
            ));
        }
        if let Some(freeze) = config
            .as_ref()
            .and_then(|c| freeze_text(c, environment, now))
        {
            line.push_str(&format!("; {}", s.user(&freeze)));
        }
        text.push_str(&line);
    }
    text.push_str(&gate_text(db, repo, s).await?);
    Ok(text)
}

/// `environment`'s freeze in force (until when) or the next one, in the deployment time zone.
fn freeze_text(
    config: &crate::domain::repo_config::RepoConfig,
    environment: &str,
    now: i64,
) -> Option<String> {
    let windows = config.environment(environment)?.freeze.as_ref()?;
    let zone = config.deploy_time_zone();
    let local = super::facts::local_time(config, now);
    let freeze = crate::domain::freeze::current_or_next(windows, local)?;
    let when = |at: jiff::civil::DateTime| at.strftime("%a %Y-%m-%d %H:%M").to_string();
    let zone = zone.iana_name().unwrap_or("UTC");
    Some(if freeze.now {
        format!(
            "❄️ frozen until {} {zone} ({})",
            when(freeze.ends),
            freeze.window
        )
    } else {
        format!(
            "next freeze {} – {} {zone} ({})",
            when(freeze.starts),
            when(freeze.ends),
            freeze.window
        )
    })
}

/// The release gate's requests for `/release deploys`: those waiting, then the latest
/// answers.
async fn gate_text(
    db: &crate::store::Db,
    repo: &RepoFullName,
    s: crate::chat::cards::Surface,
) -> Result<String, crate::store::StoreError> {
    let recent = crate::store::gate_reviews::recent(db, repo.as_ref(), 50).await?;
    let waiting = recent.iter().filter(|r| r.state == "waiting");
    let answered = recent
        .iter()
        .filter(|r| r.state != "waiting" && r.state != "deciding")
        .take(5);
    let lines: Vec<String> = waiting
        .chain(answered)
        .map(|r| {
            format!(
                "\n• workflow run {} → {}: {} {}: {}",
                r.run_id,
                s.bold(&s.user(&r.environment)),
                s.code(crate::domain::gate::short(&r.sha)),
                if r.state == "waiting" {
                    "waits"
                } else {
                    &r.state
                },
                s.user(r.reason.as_deref().unwrap_or_default())
            )
        })
        .collect();
    if lines.is_empty() {
        return Ok(String::new());
    }
    Ok(format!("\nRelease gate:{}", lines.concat()))
}

/// A deployment to ask for.
pub(crate) struct DeploymentAsk<'a> {
    pub environment: &'a str,
    pub production: bool,
    pub release: &'a Release,
    pub request_id: &'a str,
    pub requested_by: &'a str,
    pub rollback: bool,
    /// Why a freeze window was overridden.
    pub forced: Option<&'a str>,
}

/// Records a deployment request and its job in `unit`, and announces it; nothing when a
/// request with this id exists already. Commands and automatic deployments both come here.
pub(crate) async fn request_deployment_for(
    unit: &mut UnitOfWork,
    repository: &crate::domain::ids::RepoFullName,
    installation: u64,
    ask: &DeploymentAsk<'_>,
) -> Result<(), JobError> {
    let now = unit.now();
    let new = crate::store::deployments::NewDeployment {
        repository: repository.as_ref(),
        environment: ask.environment,
        request_id: ask.request_id,
        train_id: ask.release.train_id,
        version: &ask.release.version,
        tag: &ask.release.tag,
        sha: &ask.release.sha,
        requested_by: ask.requested_by,
        rollback: ask.rollback,
        forced_reason: ask.forced,
    };
    let Some(deployment_id) = deployments::request(unit.conn(), &new, now).await? else {
        return Ok(());
    };
    unit.enqueue(&CreateDeployment {
        repository: repository.clone(),
        installation,
        deployment_id,
    })
    .await?;
    let event = TrainEvent::Deployment {
        deployment: deployment_id,
        production: ask.production,
        environment: ask.environment.to_owned(),
        reference: ask.release.tag.clone(),
        state: "requested".into(),
        by: ask.requested_by.to_owned(),
        detail: ask
            .forced
            .map(|reason| format!("forced through a freeze window: {reason}")),
        url: None,
        rollback: ask.rollback,
    };
    unit.announce_for(repository, "", ask.release.train_id, &event)
        .await
}

/// A released train as a deployment names it.
pub(crate) fn release_of(train: &trains::TrainRow) -> Option<Release> {
    Some(Release {
        train_id: Some(train.id),
        version: train.version.clone()?,
        tag: train.tag_name.clone()?,
        sha: train.target_sha.clone()?,
    })
}

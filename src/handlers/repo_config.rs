//! Keeping each repository's configuration: read through the contents API from the default
//! branch, stored with its blob sha (an unchanged sha is not parsed again), re-read when a push
//! to the default branch touches one of the configuration files. A broken version is refused:
//! the last good configuration stays in force and the error is kept for the bot to report.
//! So is a version whose chat channels the bot does not serve or cannot post in
//! ([`RouteCheck`]).

use serde::{Deserialize, Serialize};

use crate::clock::SharedClock;
use crate::domain::ids::RepoFullName;
use crate::domain::repo_config::{CONFIG_PATHS, EffectiveConfig, RepoConfig};
use crate::github::notes::RepositoryFile;
use crate::github::{GitHubClient, GitHubError};
use crate::handlers::chat_routes::RouteCheck;
use crate::jobs::{BackgroundJob, JobError};
use crate::store::{Db, repo_configs};

/// A repository's configuration as trainyard currently applies it.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentConfig {
    /// The configuration in force.
    pub effective: EffectiveConfig,
    /// Why the newest version on the default branch was refused, if it was.
    pub refused: Option<String>,
}

/// What a refresh found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// Same blob as before: nothing parsed.
    Unchanged,
    /// A new good version from this file.
    Loaded(String),
    /// No configuration file: defaults.
    Defaults,
    /// The new version was refused; the last good one stays.
    Refused(String),
}

/// Re-reads `repo`'s configuration from GitHub and stores it.
pub async fn refresh(
    db: &Db,
    github: &GitHubClient,
    routes: &RouteCheck,
    installation: u64,
    repo: &RepoFullName,
    now: i64,
) -> Result<Refresh, JobError> {
    let stored = repo_configs::get(db, repo).await?;
    if let Some((path, file)) = config_file(github, installation, repo).await? {
        if let Some(row) = &stored {
            let same_good = row.blob_sha.as_deref() == Some(file.sha.as_str())
                && row.source_path.as_deref() == Some(path);
            let same_refused = row.error_sha.as_deref() == Some(file.sha.as_str());
            if same_good || same_refused {
                return Ok(Refresh::Unchanged);
            }
        }
        // The channels it names are checked only once the text itself is good.
        let checked = match RepoConfig::from_file(path, &file.text) {
            Ok(config) => {
                let refusals = routes.refusals(&chat_routes(&config)).await?;
                if refusals.is_empty() {
                    Ok(config)
                } else {
                    Err(refusals.join("\n"))
                }
            }
            Err(error) => Err(error.to_string()),
        };
        return match checked {
            Ok(config) => {
                crate::store::chat::set_routes(db, repo, &chat_routes(&config)).await?;
                repo_configs::save_good(
                    db,
                    repo,
                    Some(path),
                    Some(&file.sha),
                    Some(&file.text),
                    now,
                )
                .await?;
                tracing::info!(%repo, path, sha = %file.sha, "configuration loaded");
                Ok(Refresh::Loaded(path.to_owned()))
            }
            Err(message) => {
                repo_configs::save_error(db, repo, &file.sha, &message, now).await?;
                tracing::warn!(%repo, path, error = %message, "configuration refused; keeping the last good one");
                Ok(Refresh::Refused(message))
            }
        };
    }
    repo_configs::save_good(db, repo, None, None, None, now).await?;
    crate::store::chat::set_routes(db, repo, &[]).await?;
    Ok(Refresh::Defaults)
}

/// The channels a configuration's `chat:` section routes to the repository.
fn chat_routes(config: &RepoConfig) -> Vec<crate::store::chat::Route> {
    use crate::store::chat::{ChatSurface, Route};
    let Some(chat) = &config.chat else {
        return Vec::new();
    };
    let announce = chat.announce.unwrap_or(true);
    let mut routes = Vec::new();
    for (surface, channel) in [
        (ChatSurface::Slack, &chat.slack_channel),
        (ChatSurface::Discord, &chat.discord_channel),
    ] {
        if let Some(channel) = channel.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            routes.push(Route {
                surface,
                channel: channel.to_owned(),
                announce,
            });
        }
    }
    routes
}

/// The first configuration file the repository's default branch has (see [`CONFIG_PATHS`]).
pub async fn config_file(
    github: &GitHubClient,
    installation: u64,
    repo: &RepoFullName,
) -> Result<Option<(&'static str, RepositoryFile)>, GitHubError> {
    for path in CONFIG_PATHS {
        if let Some(file) = github.file_contents(installation, repo, path, None).await? {
            return Ok(Some((path, file)));
        }
    }
    Ok(None)
}

/// The configuration in force for `repo`, read from GitHub the first time.
pub async fn current(
    db: &Db,
    github: &GitHubClient,
    routes: &RouteCheck,
    installation: u64,
    repo: &RepoFullName,
    now: i64,
) -> Result<CurrentConfig, JobError> {
    if repo_configs::get(db, repo).await?.is_none() {
        refresh(db, github, routes, installation, repo, now).await?;
    }
    let row = repo_configs::get(db, repo).await?;
    let refused = row.as_ref().and_then(|r| r.error.clone());
    let effective = match row {
        Some(repo_configs::RepoConfigRow {
            source_path: Some(path),
            config_text: Some(text),
            ..
        }) => EffectiveConfig {
            config: RepoConfig::from_file(&path, &text).map_err(|e| {
                // Stored text was valid when stored; a newer trainyard may read it differently.
                JobError::Permanent(format!("stored configuration no longer parses: {e}"))
            })?,
            source: Some(path),
        },
        _ => EffectiveConfig {
            source: None,
            config: RepoConfig::default(),
        },
    };
    Ok(CurrentConfig { effective, refused })
}

/// What the reload job needs.
#[derive(Clone, Debug)]
pub struct ConfigContext {
    /// The store.
    pub db: Db,
    /// The clock.
    pub clock: SharedClock,
    /// GitHub, when the App is configured.
    pub github: Option<GitHubClient>,
    /// The queue (a refused configuration is announced in the repository's channels).
    pub queue: crate::jobs::Queue,
    /// What the channels a configuration names are checked against.
    pub routes: RouteCheck,
}

/// Re-reads a repository's configuration (a push to its default branch touched it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReloadRepoConfig {
    /// The repository.
    pub repository: RepoFullName,
    /// Its installation.
    pub installation: u64,
    /// The pushed commit, where a refusal is reported.
    #[serde(default)]
    pub commit: Option<String>,
}

impl BackgroundJob for ReloadRepoConfig {
    const KIND: &'static str = "config.reload";
    type Context = ConfigContext;

    fn queue_key(&self) -> String {
        self.repository.to_string()
    }

    /// Several pushes before it runs need one reload.
    fn dedupe_key(&self) -> Option<String> {
        Some(format!("config:{}", self.repository))
    }

    async fn run(self, ctx: ConfigContext) -> Result<(), JobError> {
        let Some(github) = &ctx.github else {
            return Err(JobError::Permanent(
                "the GitHub App is not configured; cannot read repository configuration".into(),
            ));
        };
        let now = ctx.clock.now().as_millisecond();
        let repo = &self.repository;
        let Refresh::Refused(error) =
            refresh(&ctx.db, github, &ctx.routes, self.installation, repo, now).await?
        else {
            return Ok(());
        };
        // Told where the pusher looks (the commit) and where the team talks (the channels).
        if let Some(commit) = &self.commit {
            let body = format!(
                "trainyard cannot use this configuration; the last good one stays in force \
                 until it is fixed.\n\n```\n{}\n```",
                error.replace("```", "`\u{200b}``")
            );
            github
                .comment_on_commit(self.installation, repo, commit, &body)
                .await?;
        }
        let event = crate::domain::train_event::TrainEvent::ConfigRefused { error };
        crate::handlers::notifications::announce(&ctx.db, &ctx.queue, repo, "", None, &event, now)
            .await
    }
}

/// Whether a push's changed paths touch a configuration file.
pub fn touches_config(paths: &[String]) -> bool {
    paths.iter().any(|p| CONFIG_PATHS.contains(&p.as_str()))
}

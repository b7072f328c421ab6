//! Reloading a repository's configuration when a push to its default branch touches one of
//! its files, and telling a refusal (on the pushed commit and in the channels) or a
//! configuration taken with warnings, once each.

use serde::{Deserialize, Serialize};

use crate::clock::SharedClock;
use crate::domain::ids::RepoFullName;
use crate::domain::repo_config::CONFIG_PATHS;
use crate::github::GitHubClient;
use crate::handlers::kit::config::{Refresh, current, refresh};
use crate::handlers::kit::routes::ConfigReach;
use crate::jobs::{BackgroundJob, JobError};
use crate::store::Db;
use crate::store::repo_configs;
use crate::store::steps::{self, StepState};

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
    pub routes: ConfigReach,
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
        match refresh(&ctx.db, github, &ctx.routes, self.installation, repo, now).await? {
            Refresh::Loaded(_) => return self.tell_warnings(&ctx, github, now).await,
            Refresh::Defaults => return Ok(()),
            Refresh::Unchanged | Refresh::Refused(_) => {}
        }
        // Refused now, or by an attempt of this job whose telling failed: the refusal in force
        // is told once per refused version, each telling a recorded step, so a retry tells
        // what is missing and nothing twice.
        let Some(repo_configs::RepoConfigRow {
            error: Some(error),
            error_sha: Some(version),
            ..
        }) = repo_configs::get(&ctx.db, repo).await?
        else {
            return Ok(());
        };
        let told = format!("config-refused:{repo}:{version}");
        // Told where the pusher looks (the commit) and where the team talks (the channels).
        if let Some(commit) = &self.commit {
            let said = format!(
                "trainyard cannot use this configuration; the last good one stays in force \
                 until it is fixed.\n\n```\n{}\n```",
                error.replace("```", "`\u{200b}``")
            );
            let key = format!("{told}:commit:{commit}");
            self.comment_once(&ctx, github, &key, commit, &said, now)
                .await?;
        }
        let key = format!("{told}:channels");
        if let StepState::Done(_) = steps::start(&ctx.db, &key, now).await? {
            return Ok(());
        }
        let event = crate::domain::train_event::TrainEvent::ConfigRefused { error };
        crate::handlers::kit::unit::announce(&ctx.db, &ctx.queue, repo, "", None, &event, now)
            .await?;
        steps::finish(&ctx.db, &key, "announced", now).await?;
        Ok(())
    }
}

impl ReloadRepoConfig {
    /// A configuration taken with something ignored (a `release-drafter.yml`'s unknown
    /// keys) is said on the pushed commit, once: a recorded step keyed by the commit.
    async fn tell_warnings(
        &self,
        ctx: &ConfigContext,
        github: &GitHubClient,
        now: i64,
    ) -> Result<(), JobError> {
        let (repo, Some(commit)) = (&self.repository, &self.commit) else {
            return Ok(());
        };
        let current = current(&ctx.db, github, &ctx.routes, self.installation, repo, now).await?;
        let warnings = &current.effective.config.warnings;
        let (false, Some(source)) = (warnings.is_empty(), &current.effective.source) else {
            return Ok(());
        };
        let list: Vec<String> = warnings.iter().map(|w| format!("- {w}")).collect();
        let said = format!(
            "trainyard uses `{source}` from this commit, with warnings:\n\n{}",
            list.join("\n")
        );
        let key = format!("config-warnings:{repo}:commit:{commit}");
        self.comment_once(ctx, github, &key, commit, &said, now)
            .await
    }

    /// Says `said` on `commit` once: a recorded step under `key`, its comment found again by
    /// its hidden marker when an attempt's answer was lost, so a retry never says it twice.
    async fn comment_once(
        &self,
        ctx: &ConfigContext,
        github: &GitHubClient,
        key: &str,
        commit: &str,
        said: &str,
        now: i64,
    ) -> Result<(), JobError> {
        let marker = crate::handlers::kit::effects::marker(key);
        let written = match steps::start(&ctx.db, key, now).await? {
            StepState::Done(_) => return Ok(()),
            StepState::Uncertain => {
                github
                    .commit_comment_exists(self.installation, &self.repository, commit, &marker)
                    .await?
            }
            StepState::New => false,
        };
        if !written {
            github
                .comment_on_commit(
                    self.installation,
                    &self.repository,
                    commit,
                    &format!("{said}\n\n{marker}"),
                )
                .await?;
        }
        steps::finish(&ctx.db, key, "commented", now).await?;
        Ok(())
    }
}

/// Whether a push's changed paths touch a configuration file.
pub fn touches_config(paths: &[String]) -> bool {
    paths.iter().any(|p| CONFIG_PATHS.contains(&p.as_str()))
}

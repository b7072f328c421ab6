//! What every handler runs with: the store, the clock, the queue, GitHub, chat clients and
//! the configuration cache.

use crate::chat::discord::DiscordClient;
use crate::chat::slack::SlackClient;
use crate::clock::SharedClock;
use crate::github::GitHubClient;
use crate::jobs::{JobError, Queue};
use crate::settings::Settings;
use crate::store::Db;

use super::config::ConfigCache;
use super::config::CurrentConfig;
use super::routes::ConfigReach;

/// What train jobs need.
#[derive(Clone, Debug)]
pub struct TrainContext {
    /// The store.
    pub db: Db,
    /// The clock.
    pub clock: SharedClock,
    /// The queue (boarding enqueues draft refreshes).
    pub queue: Queue,
    /// GitHub, when the App is configured.
    pub github: Option<GitHubClient>,
    /// GitHub's web URL, for links in notes.
    pub server_url: String,
    /// Settings (chat allow-lists, linking).
    pub settings: std::sync::Arc<crate::settings::Settings>,
    /// Slack and Discord, where configured.
    pub chat: ChatClients,
    /// Parsed repository configurations, for quick chat answers.
    pub configs: ConfigCache,
    /// Deployment verification's checks.
    pub probe: crate::probe::Probe,
}

impl TrainContext {
    /// GitHub, or a permanent error when the App is not configured.
    pub(crate) fn github(&self) -> Result<&GitHubClient, JobError> {
        self.github.as_ref().ok_or_else(|| {
            JobError::Permanent("the GitHub App is not configured; trains need it".into())
        })
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now().as_millisecond()
    }

    /// What a newly read configuration's channels are checked against.
    pub(crate) fn config_reach(&self) -> ConfigReach {
        ConfigReach::new(&self.chat, &self.settings)
    }

    /// The configuration in force for `repo`, read from GitHub the first time.
    pub(crate) async fn config(
        &self,
        installation: u64,
        repo: &crate::domain::ids::RepoFullName,
    ) -> Result<CurrentConfig, JobError> {
        let github = self.github()?;
        let reach = self.config_reach();
        super::config::current(&self.db, github, &reach, installation, repo, self.now()).await
    }
}

/// The chat services' clients, where configured.
#[derive(Clone, Debug, Default)]
pub struct ChatClients {
    /// Slack.
    pub slack: Option<SlackClient>,
    /// Discord.
    pub discord: Option<DiscordClient>,
}

impl ChatClients {
    /// Clients for the configured services.
    pub fn from_settings(settings: &Settings) -> ChatClients {
        ChatClients {
            slack: settings
                .slack
                .as_ref()
                .map(|s| SlackClient::new(&settings.slack_api_url, s.bot_token.clone())),
            // The URL was checked when the settings were read.
            discord: settings.discord.as_ref().and_then(|d| {
                DiscordClient::new(&settings.discord_api_url, d.application_id, &d.bot_token)
                    .inspect_err(|error| tracing::error!(%error, "Discord is not reachable"))
                    .ok()
            }),
        }
    }
}

/// The repository's stored configuration (parsed once per version), or the defaults.
pub async fn stored_config(
    ctx: &TrainContext,
    repo: &crate::domain::ids::RepoFullName,
) -> Result<std::sync::Arc<crate::domain::repo_config::RepoConfig>, crate::store::StoreError> {
    ctx.configs.stored(&ctx.db, repo).await
}

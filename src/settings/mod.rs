//! Server settings: command-line flags, environment variables (the names in `design.md`
//! §Configuration) and an optional TOML file, in that order of precedence, resolved once at
//! start-up into [`Settings`]. Integrations are all-or-nothing groups: a half-configured
//! group is a start-up error naming what is missing. Secrets live in [`Secret`], which never
//! prints its value.

mod flags;
mod groups;
mod limits;
mod secret;
#[cfg(test)]
mod tests;

pub use flags::{LogFormat, SettingsArgs, SetupPage};
use flags::{extends_list, id_list};
pub use groups::{
    ChatOAuth, DiscordSettings, GitHubAppSettings, GitHubOAuthSettings, SlackSettings, redact_url,
    server_url,
};
use groups::{DiscordArgs, SlackArgs, discord, discord_api_url, github_oauth, slack};
use groups::{api_url, check_http_url, github_app};
pub use limits::{DEFAULT_JOB_TIMEOUT, DEFAULT_MAX_ATTEMPTS, HttpLimits, QueueSettings};
use limits::{at_least_one, http_limits};
pub use secret::{Secret, SecretList};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

/// Listen address when none is set.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 3000));

/// Store when none is set: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://trainyard.db";

/// GitHub's REST and GraphQL base.
pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com";

/// Slack's Web API base.
pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api";

/// Discord's REST base.
pub const DEFAULT_DISCORD_API_URL: &str = "https://discord.com/api/v10";

/// Worker tasks per process.
pub const DEFAULT_WORKERS: usize = 4;

/// How long shutdown waits for running jobs before leaving them to their leases.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Part of an all-or-nothing group is set and part is missing.
    #[error("{group} is partly configured: missing {missing}")]
    Incomplete {
        /// The integration.
        group: &'static str,
        /// The missing settings, by variable name.
        missing: String,
    },
    /// Two settings that exclude each other are both set.
    #[error("set only one of {0}")]
    Conflict(&'static str),
    /// A value is malformed.
    #[error("{name}: {reason}")]
    Invalid {
        /// Variable name.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A file named in the settings cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The settings file is not valid.
    #[error("invalid settings file {}: {message}", path.display())]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// The parser's message (key and line).
        message: String,
    },
}

/// Resolved, checked settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Store URL (may hold a password; see [`redact_url`]).
    pub database_url: Secret,
    /// Public URL, if known.
    pub public_url: Option<String>,
    /// Log format.
    pub log_format: LogFormat,
    /// Whether `/` offers to register the GitHub App.
    pub setup: SetupPage,
    /// Repositories `_extends` may read besides a repository's own and its owner's `.github`.
    pub extends_repositories: Vec<String>,
    /// The accounts whose people may sign in to the dashboard (empty: every installed one's).
    pub dashboard_orgs: Vec<String>,
    /// Channels several installations' repositories may route to (`*`: any).
    pub shared_channels: Vec<String>,
    /// GitHub API base.
    pub github_api_url: String,
    /// GitHub's web URL (sign-in, links).
    pub github_web_url: String,
    /// The GitHub App, if configured.
    pub github: Option<GitHubAppSettings>,
    /// OAuth for linking, if configured.
    pub github_oauth: Option<GitHubOAuthSettings>,
    /// Slack API base.
    pub slack_api_url: String,
    /// Slack, if configured.
    pub slack: Option<SlackSettings>,
    /// Discord API base.
    pub discord_api_url: String,
    /// Discord, if configured.
    pub discord: Option<DiscordSettings>,
    /// Job workers per process.
    pub workers: usize,
    /// Queue tunables.
    pub queue: QueueSettings,
    /// How long shutdown waits for running jobs.
    pub shutdown_grace: Duration,
    /// What one client may hold of the HTTP server.
    pub http: HttpLimits,
    /// The settings file the setup page writes the GitHub App's credentials to (set by the
    /// command line; none when settings come from elsewhere).
    pub settings_file: Option<PathBuf>,
    /// Deployment verification's reach.
    pub verify: VerifySettings,
}

/// What deployment verification may reach: Prometheus (the operator's, never a repository's
/// choice) and, for health URLs, whether private addresses are allowed.
#[derive(Debug, Clone, Default)]
pub struct VerifySettings {
    /// Prometheus's HTTP API base (`…/api/v1/query` is appended).
    pub prometheus_url: Option<String>,
    /// Its bearer token.
    pub prometheus_token: Option<Secret>,
    /// Health URLs may name loopback, private and link-local addresses.
    pub private_hosts: bool,
}

impl Settings {
    /// Applies defaults and checks every group.
    pub fn resolve(args: SettingsArgs) -> Result<Settings, SettingsError> {
        let listen = args.listen.unwrap_or(DEFAULT_LISTEN);
        let workers = at_least_one("TRAINYARD_WORKERS", args.workers)?.unwrap_or(DEFAULT_WORKERS);
        let max_attempts = at_least_one("TRAINYARD_JOB_MAX_ATTEMPTS", args.job_max_attempts)?
            .unwrap_or(DEFAULT_MAX_ATTEMPTS);
        let http = http_limits(&args)?;
        let job_timeout = at_least_one("TRAINYARD_JOB_TIMEOUT_SECS", args.job_timeout_secs)?
            .map_or(DEFAULT_JOB_TIMEOUT, Duration::from_secs);
        if let Some(url) = &args.public_url {
            check_http_url("TRAINYARD_PUBLIC_URL", url)?;
        }
        let github_api_url = api_url(
            "TRAINYARD_GITHUB_API_URL",
            args.github_api_url,
            DEFAULT_GITHUB_API_URL,
        )?;
        let slack_api_url = api_url(
            "TRAINYARD_SLACK_API_URL",
            args.slack_api_url,
            DEFAULT_SLACK_API_URL,
        )?;
        let discord_api_url = discord_api_url(args.discord_api_url)?;

        let github = github_app(
            args.github_app_id,
            args.github_client_id.clone(),
            args.github_private_key,
            args.github_private_key_path,
            args.github_webhook_secret,
            args.github_webhook_secret_previous,
        )?;
        let github_oauth = github_oauth(args.github_client_id, args.github_client_secret)?;
        let slack = slack(SlackArgs {
            signing_secret: args.slack_signing_secret,
            bot_token: args.slack_bot_token,
            workspaces: args.slack_workspaces,
            client_id: args.slack_client_id,
            client_secret: args.slack_client_secret,
        })?;
        let discord = discord(DiscordArgs {
            public_key: args.discord_public_key,
            application_id: args.discord_application_id,
            bot_token: args.discord_bot_token,
            guilds: args.discord_guilds,
            client_secret: args.discord_client_secret,
        })?;

        Ok(Settings {
            listen,
            database_url: args
                .database_url
                .unwrap_or_else(|| Secret::new(DEFAULT_DATABASE_URL)),
            public_url: args.public_url,
            log_format: args.log_format.unwrap_or_default(),
            setup: args.setup.unwrap_or_default(),
            extends_repositories: extends_list(args.extends_repositories.as_deref())?,
            dashboard_orgs: id_list(args.dashboard_orgs.as_deref()),
            shared_channels: id_list(args.shared_channels.as_deref()),
            github_web_url: match args.github_web_url {
                Some(url) => {
                    check_http_url("TRAINYARD_GITHUB_WEB_URL", &url)?;
                    url.trim_end_matches('/').to_owned()
                }
                None => server_url(&github_api_url),
            },
            github_api_url,
            github,
            github_oauth,
            slack_api_url,
            slack,
            discord_api_url,
            discord,
            workers,
            queue: QueueSettings {
                max_attempts,
                job_timeout,
            },
            shutdown_grace: args
                .shutdown_grace_secs
                .map_or(DEFAULT_SHUTDOWN_GRACE, Duration::from_secs),
            http,
            settings_file: None,
            verify: VerifySettings {
                prometheus_url: match args.prometheus_url {
                    Some(url) => {
                        check_http_url("TRAINYARD_PROMETHEUS_URL", &url)?;
                        Some(url.trim_end_matches('/').to_owned())
                    }
                    None => None,
                },
                prometheus_token: args.prometheus_token,
                private_hosts: args.verify_private_hosts.unwrap_or(false),
            },
        })
    }

    /// One line per integration that is not configured, saying what it would take.
    /// (Also: chat integrations whose allow-list is empty, which refuse everyone.)
    pub fn unconfigured_integrations(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.github.is_none() {
            lines.push(
                "GitHub App not configured: /webhooks/github answers 503 until \
                 TRAINYARD_GITHUB_APP_ID (or _CLIENT_ID), TRAINYARD_GITHUB_PRIVATE_KEY (or \
                 _PRIVATE_KEY_PATH) and TRAINYARD_GITHUB_WEBHOOK_SECRET are set"
                    .to_owned(),
            );
        }
        if let Some(slack) = &self.slack
            && slack.oauth.is_none()
        {
            lines.push(
                "Sign in with Slack not configured: Slack users cannot link their GitHub \
                 accounts until TRAINYARD_SLACK_CLIENT_ID and TRAINYARD_SLACK_CLIENT_SECRET are set"
                    .to_owned(),
            );
        }
        if let Some(discord) = &self.discord
            && discord.oauth.is_none()
        {
            lines.push(
                "Discord sign-in not configured: Discord users cannot link their GitHub \
                 accounts until TRAINYARD_DISCORD_CLIENT_SECRET is set"
                    .to_owned(),
            );
        }
        if self.github_oauth.is_none() {
            lines.push(
                "GitHub OAuth not configured: chat users cannot link their GitHub accounts \
                 until TRAINYARD_GITHUB_CLIENT_ID and TRAINYARD_GITHUB_CLIENT_SECRET are set"
                    .to_owned(),
            );
        }
        if self.slack.is_none() {
            lines.push(
                "Slack not configured: /slack/* answers 503 until \
                 TRAINYARD_SLACK_SIGNING_SECRET and TRAINYARD_SLACK_BOT_TOKEN are set"
                    .to_owned(),
            );
        }
        if self.slack.as_ref().is_some_and(|s| s.workspaces.is_empty()) {
            lines.push(
                "Slack: no workspace is allowed yet; every command is refused until \
                 TRAINYARD_SLACK_WORKSPACES lists your team ids"
                    .to_owned(),
            );
        }
        if self.discord.as_ref().is_some_and(|d| d.guilds.is_empty()) {
            lines.push(
                "Discord: no guild is allowed yet; every command is refused until \
                 TRAINYARD_DISCORD_GUILDS lists your guild ids"
                    .to_owned(),
            );
        }
        if self.discord.is_none() {
            lines.push(
                "Discord not configured: /discord/interactions answers 503 until \
                 TRAINYARD_DISCORD_PUBLIC_KEY, TRAINYARD_DISCORD_APPLICATION_ID and \
                 TRAINYARD_DISCORD_BOT_TOKEN are set"
                    .to_owned(),
            );
        }
        lines
    }
}

//! The settings as given: command-line flags and environment variables (clap), and the optional
//! TOML file under them (flags and environment win).

use super::SettingsError;
use super::secret::{Secret, SecretList};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

macro_rules! prefer_first {
    ($first:ident, $second:ident, $($field:ident),* $(,)?) => {
        SettingsArgs { $($field: $first.$field.or($second.$field)),* }
    };
}

/// Log output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Whether `/` offers to register the GitHub App while none is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SetupPage {
    /// Offered, to whoever has the setup code printed at start.
    #[default]
    On,
    /// Not offered: the App is configured by settings only.
    Off,
}

/// Settings as given, before defaults and checks: every field optional. The same struct is
/// read from flags/environment (clap) and from the TOML file (serde, same names in
/// snake_case), so the two can never drift.
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SettingsArgs {
    /// Address to listen on [default: 127.0.0.1:3000].
    #[arg(long, env = "TRAINYARD_LISTEN", global = true)]
    pub listen: Option<SocketAddr>,
    /// Store: sqlite://FILE or postgres://… [default: sqlite://trainyard.db].
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<Secret>,
    /// URL at which GitHub, Slack and Discord reach this server.
    #[arg(long, env = "TRAINYARD_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Log format: pretty or json [default: pretty].
    #[arg(long, env = "TRAINYARD_LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,
    /// Registering the GitHub App from `/` while none is configured: on or off [default: on].
    #[arg(long, env = "TRAINYARD_SETUP", global = true)]
    pub setup: Option<SetupPage>,

    /// The GitHub App's numeric id.
    #[arg(long, env = "TRAINYARD_GITHUB_APP_ID", global = true)]
    pub github_app_id: Option<u64>,
    /// The GitHub App's client id (also accepted as the JWT issuer; needed for linking).
    #[arg(long, env = "TRAINYARD_GITHUB_CLIENT_ID", global = true)]
    pub github_client_id: Option<String>,
    /// The GitHub App's private key, PEM text.
    #[arg(
        long,
        env = "TRAINYARD_GITHUB_PRIVATE_KEY",
        global = true,
        hide_env_values = true
    )]
    pub github_private_key: Option<Secret>,
    /// A file holding the GitHub App's private key (PEM).
    #[arg(long, env = "TRAINYARD_GITHUB_PRIVATE_KEY_PATH", global = true)]
    pub github_private_key_path: Option<PathBuf>,
    /// Webhook secret(s), comma-separated; several are accepted while rotating.
    #[arg(
        long,
        env = "TRAINYARD_GITHUB_WEBHOOK_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub github_webhook_secret: Option<SecretList>,
    /// The webhook secret being rotated out, still accepted until it is removed (one whole
    /// value; a list in the TOML file).
    #[arg(
        long,
        env = "TRAINYARD_GITHUB_WEBHOOK_SECRET_PREVIOUS",
        global = true,
        hide_env_values = true
    )]
    pub github_webhook_secret_previous: Option<SecretList>,
    /// The GitHub App's OAuth client secret (for linking chat users).
    #[arg(
        long,
        env = "TRAINYARD_GITHUB_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub github_client_secret: Option<Secret>,
    /// GitHub REST/GraphQL base URL [default: https://api.github.com].
    #[arg(long, env = "TRAINYARD_GITHUB_API_URL", global = true)]
    pub github_api_url: Option<String>,
    /// GitHub's web URL, for sign-in (linking) and links [default: from the API URL].
    #[arg(long, env = "TRAINYARD_GITHUB_WEB_URL", global = true)]
    pub github_web_url: Option<String>,

    /// The Slack app's signing secret.
    #[arg(
        long,
        env = "TRAINYARD_SLACK_SIGNING_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub slack_signing_secret: Option<Secret>,
    /// The Slack app's bot token (xoxb-…).
    #[arg(
        long,
        env = "TRAINYARD_SLACK_BOT_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub slack_bot_token: Option<Secret>,
    /// Slack Web API base URL [default: https://slack.com/api].
    #[arg(long, env = "TRAINYARD_SLACK_API_URL", global = true)]
    pub slack_api_url: Option<String>,
    /// The Slack app's OAuth client id (Sign in with Slack, to prove who links).
    #[arg(long, env = "TRAINYARD_SLACK_CLIENT_ID", global = true)]
    pub slack_client_id: Option<String>,
    /// The Slack app's OAuth client secret.
    #[arg(
        long,
        env = "TRAINYARD_SLACK_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub slack_client_secret: Option<Secret>,
    /// Slack workspaces (team ids, comma-separated) whose commands are accepted.
    #[arg(long, env = "TRAINYARD_SLACK_WORKSPACES", global = true)]
    pub slack_workspaces: Option<String>,

    /// The Discord application's public key (hex).
    #[arg(long, env = "TRAINYARD_DISCORD_PUBLIC_KEY", global = true)]
    pub discord_public_key: Option<String>,
    /// The Discord application's id.
    #[arg(long, env = "TRAINYARD_DISCORD_APPLICATION_ID", global = true)]
    pub discord_application_id: Option<u64>,
    /// The Discord bot token.
    #[arg(
        long,
        env = "TRAINYARD_DISCORD_BOT_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub discord_bot_token: Option<Secret>,
    /// The Discord application's OAuth2 client secret (to prove who links).
    #[arg(
        long,
        env = "TRAINYARD_DISCORD_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub discord_client_secret: Option<Secret>,
    /// Discord REST base URL [default: https://discord.com/api/v10].
    #[arg(long, env = "TRAINYARD_DISCORD_API_URL", global = true)]
    pub discord_api_url: Option<String>,
    /// Discord guilds (ids, comma-separated) whose commands are accepted.
    #[arg(long, env = "TRAINYARD_DISCORD_GUILDS", global = true)]
    pub discord_guilds: Option<String>,

    /// Job worker tasks in this process [default: 4].
    #[arg(long, env = "TRAINYARD_WORKERS", global = true)]
    pub workers: Option<usize>,
    /// Attempts before a failing job is marked dead [default: 10].
    #[arg(long, env = "TRAINYARD_JOB_MAX_ATTEMPTS", global = true)]
    pub job_max_attempts: Option<u32>,
    /// Seconds one job attempt may run [default: 300].
    #[arg(long, env = "TRAINYARD_JOB_TIMEOUT_SECS", global = true)]
    pub job_timeout_secs: Option<u64>,
    /// Seconds shutdown waits for running jobs [default: 30].
    #[arg(long, env = "TRAINYARD_SHUTDOWN_GRACE_SECS", global = true)]
    pub shutdown_grace_secs: Option<u64>,

    /// Open HTTP connections at most [default: the open-file limit less a reserve].
    #[arg(long, env = "TRAINYARD_MAX_CONNECTIONS", global = true)]
    pub max_connections: Option<usize>,
    /// Seconds a client has to send a request's headers [default: 5].
    #[arg(long, env = "TRAINYARD_HEADER_TIMEOUT_SECS", global = true)]
    pub header_timeout_secs: Option<u64>,
    /// Seconds a request may take, body and answer included [default: 10].
    #[arg(long, env = "TRAINYARD_REQUEST_TIMEOUT_SECS", global = true)]
    pub request_timeout_secs: Option<u64>,
    /// Request bodies read at once before their signature is checked [default: 256].
    #[arg(long, env = "TRAINYARD_BODIES_IN_FLIGHT", global = true)]
    pub bodies_in_flight: Option<usize>,
    /// MiB that large (over 256 KiB) unverified bodies may hold at once [default: 64].
    #[arg(long, env = "TRAINYARD_LARGE_BODY_BUDGET_MIB", global = true)]
    pub large_body_budget_mib: Option<usize>,
    /// The header a trusted proxy in front names the client's address in (Fly:
    /// `Fly-Client-IP`); unset, the connection's address is the client's.
    #[arg(long, env = "TRAINYARD_CLIENT_IP_HEADER", global = true)]
    pub client_ip_header: Option<String>,
    /// Repositories a configuration's `_extends` may read besides its own and its owner's
    /// `.github` (`owner/name` or `owner/*`, comma-separated).
    #[arg(long, env = "TRAINYARD_EXTENDS_REPOSITORIES", global = true)]
    pub extends_repositories: Option<String>,
    /// Only members of these accounts (organisation logins, comma-separated) may sign in to
    /// the dashboard [default: those of every account trainyard is installed on].
    #[arg(long, env = "TRAINYARD_DASHBOARD_ORGS", global = true)]
    pub dashboard_orgs: Option<String>,
    /// Chat channels (ids, comma-separated, or `*`) that repositories of several
    /// installations may route to [default: none: a channel belongs to one installation].
    #[arg(long, env = "TRAINYARD_SHARED_CHANNELS", global = true)]
    pub shared_channels: Option<String>,
    /// Prometheus's HTTP API base, for deployment verification queries (`verify.prometheus`).
    #[arg(long, env = "TRAINYARD_PROMETHEUS_URL", global = true)]
    pub prometheus_url: Option<String>,
    /// A bearer token sent to Prometheus, if it needs one.
    #[arg(
        long,
        env = "TRAINYARD_PROMETHEUS_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub prometheus_token: Option<Secret>,
    /// Let `verify.http` URLs name loopback and private addresses [default: false: a
    /// repository's configuration cannot make the server probe its own network].
    #[arg(long, env = "TRAINYARD_VERIFY_PRIVATE_HOSTS", global = true)]
    pub verify_private_hosts: Option<bool>,
}

impl SettingsArgs {
    /// Reads a TOML settings file.
    pub fn from_toml_file(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| SettingsError::ParseFile {
            path: path.to_owned(),
            message: source.to_string(),
        })
    }

    /// These settings, with gaps filled from `fallback` (flags and environment over the file).
    pub fn or(self, fallback: SettingsArgs) -> SettingsArgs {
        let (a, b) = (self, fallback);
        prefer_first!(
            a,
            b,
            listen,
            database_url,
            public_url,
            log_format,
            setup,
            github_app_id,
            github_client_id,
            github_private_key,
            github_private_key_path,
            github_webhook_secret,
            github_webhook_secret_previous,
            github_client_secret,
            github_api_url,
            github_web_url,
            slack_signing_secret,
            slack_bot_token,
            slack_api_url,
            slack_client_id,
            slack_client_secret,
            slack_workspaces,
            discord_public_key,
            discord_application_id,
            discord_bot_token,
            discord_client_secret,
            discord_api_url,
            discord_guilds,
            workers,
            job_max_attempts,
            job_timeout_secs,
            shutdown_grace_secs,
            max_connections,
            header_timeout_secs,
            request_timeout_secs,
            bodies_in_flight,
            large_body_budget_mib,
            client_ip_header,
            extends_repositories,
            dashboard_orgs,
            shared_channels,
            prometheus_url,
            prometheus_token,
            verify_private_hosts,
        )
    }
}

/// A comma-separated list of ids.
pub(super) fn id_list(text: Option<&str>) -> Vec<String> {
    text.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `TRAINYARD_EXTENDS_REPOSITORIES`: `owner/name` or `owner/*`, comma-separated.
pub(super) fn extends_list(text: Option<&str>) -> Result<Vec<String>, SettingsError> {
    let mut list = Vec::new();
    for item in text
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
    {
        // GitHub's names: letters, digits, `-`, `_` and `.`.
        let part = |p: &str| {
            !p.is_empty()
                && p.len() <= 100
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        let fine = match item.split_once('/') {
            Some((owner, name)) => part(owner) && (name == "*" || part(name)),
            None => false,
        };
        if !fine {
            return Err(SettingsError::Invalid {
                name: "TRAINYARD_EXTENDS_REPOSITORIES",
                reason: format!("`{item}` is not owner/name or owner/*"),
            });
        }
        list.push(item.to_owned());
    }
    Ok(list)
}

//! Server settings: command-line flags, environment variables (the names in `design.md`
//! §Configuration) and an optional TOML file, in that order of precedence, resolved once at
//! start-up into [`Settings`]. Integrations are all-or-nothing groups: a half-configured
//! group is a start-up error naming what is missing. Secrets live in [`Secret`], which never
//! prints its value.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

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

/// A secret value (token, key, webhook secret). `Debug` and `Display` print `[redacted]`;
/// only [`Secret::expose`] reveals it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself; use it only where it is sent or verified.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// Secrets accepted at once, so one can be rotated without downtime: one whole value in a
/// flag or variable (never split: a secret may hold any character), or a list in the TOML
/// file.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(from = "OneOrMany")]
pub struct SecretList(Vec<Secret>);

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrMany> for SecretList {
    fn from(value: OneOrMany) -> Self {
        match value {
            OneOrMany::One(s) => s.parse().unwrap_or(SecretList(Vec::new())),
            OneOrMany::Many(v) => SecretList(
                v.into_iter()
                    .filter(|s| !s.trim().is_empty())
                    .map(Secret)
                    .collect(),
            ),
        }
    }
}

impl FromStr for SecretList {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(SecretList(if s.trim().is_empty() {
            Vec::new()
        } else {
            vec![Secret::new(s)]
        }))
    }
}

impl SecretList {
    /// The secrets, newest first as written.
    pub fn secrets(&self) -> &[Secret] {
        &self.0
    }
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
}

macro_rules! prefer_first {
    ($first:ident, $second:ident, $($field:ident),* $(,)?) => {
        SettingsArgs { $($field: $first.$field.or($second.$field)),* }
    };
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
        )
    }
}

/// A comma-separated list of ids.
fn id_list(text: Option<&str>) -> Vec<String> {
    text.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

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

/// The GitHub App: who we are to GitHub, and how webhooks are verified.
#[derive(Debug, Clone)]
pub struct GitHubAppSettings {
    /// Numeric App id.
    pub app_id: Option<u64>,
    /// Client id.
    pub client_id: Option<String>,
    /// The private key, PEM.
    pub private_key: Secret,
    /// Accepted webhook secrets.
    pub webhook_secrets: Vec<Secret>,
}

/// OAuth credentials for linking chat users to GitHub accounts.
#[derive(Debug, Clone)]
pub struct GitHubOAuthSettings {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Secret,
}

/// The Slack app.
#[derive(Debug, Clone)]
pub struct SlackSettings {
    /// Verifies inbound requests.
    pub signing_secret: Secret,
    /// Posts messages.
    pub bot_token: Secret,
    /// Team ids whose commands are accepted (empty: none).
    pub workspaces: Vec<String>,
    /// Sign in with Slack, which proves who completes a link (none: linking is off).
    pub oauth: Option<ChatOAuth>,
}

/// An OAuth client of a chat service.
#[derive(Debug, Clone)]
pub struct ChatOAuth {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Secret,
}

/// The Discord application.
#[derive(Debug, Clone)]
pub struct DiscordSettings {
    /// Verifies inbound interactions (32 bytes, hex).
    pub public_key: String,
    /// Application id.
    pub application_id: u64,
    /// Bot token for channel messages.
    pub bot_token: Secret,
    /// Guild ids whose commands are accepted (empty: none).
    pub guilds: Vec<String>,
    /// OAuth2 (`identify`), which proves who completes a link (none: linking is off); the
    /// client id is the application id.
    pub oauth: Option<ChatOAuth>,
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
}

/// What the HTTP server grants before a request has proven who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Open connections at most; past it the longest-idle connection is closed.
    pub max_connections: usize,
    /// Time to send a request's headers.
    pub header_timeout: Duration,
    /// Time for a whole request, body and answer included.
    pub request_timeout: Duration,
    /// Bodies being read (not yet verified) at once.
    pub bodies_in_flight: usize,
    /// Bytes that bodies over [`HttpLimits::LARGE_BODY`] may hold at once.
    pub large_body_budget: usize,
    /// The trusted proxy's header naming the client, if any.
    pub client_ip_header: Option<String>,
}

impl HttpLimits {
    /// Bodies above this many bytes draw on the large-body budget.
    pub const LARGE_BODY: usize = 256 * 1024;
    /// Open files kept back from connections: the store, outbound HTTP, logs.
    const RESERVED_FILES: usize = 128;

    /// The defaults, with the connection cap fitted to this process's open-file limit.
    pub fn defaults() -> HttpLimits {
        HttpLimits {
            max_connections: open_file_limit()
                .map_or(4096, |files| files.saturating_sub(Self::RESERVED_FILES))
                .clamp(32, 65_536),
            header_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            bodies_in_flight: 256,
            large_body_budget: 64 * 1024 * 1024,
            client_ip_header: None,
        }
    }
}

/// The HTTP limits: defaults, overridden where set; zero is refused (it would refuse all).
fn http_limits(args: &SettingsArgs) -> Result<HttpLimits, SettingsError> {
    fn at_least_one<T: PartialEq + From<u8>>(
        name: &'static str,
        value: Option<T>,
    ) -> Result<Option<T>, SettingsError> {
        match value {
            Some(v) if v == T::from(0) => Err(SettingsError::Invalid {
                name,
                reason: "must be at least 1".into(),
            }),
            other => Ok(other),
        }
    }
    let mut limits = HttpLimits::defaults();
    if let Some(n) = at_least_one("TRAINYARD_MAX_CONNECTIONS", args.max_connections)? {
        limits.max_connections = n;
    }
    if let Some(secs) = at_least_one("TRAINYARD_HEADER_TIMEOUT_SECS", args.header_timeout_secs)? {
        limits.header_timeout = Duration::from_secs(secs);
    }
    if let Some(secs) = at_least_one("TRAINYARD_REQUEST_TIMEOUT_SECS", args.request_timeout_secs)? {
        limits.request_timeout = Duration::from_secs(secs);
    }
    if let Some(n) = at_least_one("TRAINYARD_BODIES_IN_FLIGHT", args.bodies_in_flight)? {
        limits.bodies_in_flight = n;
    }
    if let Some(mib) = at_least_one(
        "TRAINYARD_LARGE_BODY_BUDGET_MIB",
        args.large_body_budget_mib,
    )? {
        limits.large_body_budget = mib.saturating_mul(1024 * 1024);
    }
    if let Some(name) = &args.client_ip_header {
        if axum::http::HeaderName::try_from(name.as_str()).is_err() {
            return Err(SettingsError::Invalid {
                name: "TRAINYARD_CLIENT_IP_HEADER",
                reason: format!("`{name}` is not a header name"),
            });
        }
        limits.client_ip_header = Some(name.to_ascii_lowercase());
    }
    Ok(limits)
}

/// `TRAINYARD_EXTENDS_REPOSITORIES`: `owner/name` or `owner/*`, comma-separated.
fn extends_list(text: Option<&str>) -> Result<Vec<String>, SettingsError> {
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

/// The soft open-file limit, where the platform says (Linux: `/proc/self/limits`).
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

impl Settings {
    /// Applies defaults and checks every group.
    pub fn resolve(args: SettingsArgs) -> Result<Settings, SettingsError> {
        let listen = args.listen.unwrap_or(DEFAULT_LISTEN);
        let workers = args.workers.unwrap_or(DEFAULT_WORKERS);
        if workers == 0 {
            return Err(SettingsError::Invalid {
                name: "TRAINYARD_WORKERS",
                reason: "must be at least 1".into(),
            });
        }
        let max_attempts = args.job_max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if max_attempts == 0 {
            return Err(SettingsError::Invalid {
                name: "TRAINYARD_JOB_MAX_ATTEMPTS",
                reason: "must be at least 1".into(),
            });
        }
        let http = http_limits(&args)?;
        let job_timeout = match args.job_timeout_secs {
            Some(0) => {
                return Err(SettingsError::Invalid {
                    name: "TRAINYARD_JOB_TIMEOUT_SECS",
                    reason: "must be at least 1".into(),
                });
            }
            Some(secs) => Duration::from_secs(secs),
            None => DEFAULT_JOB_TIMEOUT,
        };
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
        let discord_api_url = api_url(
            "TRAINYARD_DISCORD_API_URL",
            args.discord_api_url,
            DEFAULT_DISCORD_API_URL,
        )?;
        // Serenity's routes name the API version; the base must serve that one.
        if !discord_api_url.ends_with("/api/v10") {
            return Err(SettingsError::Invalid {
                name: "TRAINYARD_DISCORD_API_URL",
                reason: format!(
                    "{discord_api_url:?} must be Discord's versioned API, ending in /api/v10"
                ),
            });
        }

        let github = github_app(
            args.github_app_id,
            args.github_client_id.clone(),
            args.github_private_key,
            args.github_private_key_path,
            args.github_webhook_secret,
            args.github_webhook_secret_previous,
        )?;
        let github_oauth = match (args.github_client_id, args.github_client_secret) {
            (Some(client_id), Some(client_secret)) => Some(GitHubOAuthSettings {
                client_id,
                client_secret,
            }),
            (None, Some(_)) => {
                return Err(SettingsError::Incomplete {
                    group: "GitHub OAuth (linking chat users)",
                    missing: "TRAINYARD_GITHUB_CLIENT_ID".into(),
                });
            }
            _ => None,
        };
        let slack = match (args.slack_signing_secret, args.slack_bot_token) {
            (None, None) => None,
            (Some(signing_secret), Some(bot_token)) => Some(SlackSettings {
                signing_secret,
                bot_token,
                workspaces: id_list(args.slack_workspaces.as_deref()),
                oauth: match (args.slack_client_id, args.slack_client_secret) {
                    (Some(client_id), Some(client_secret)) => Some(ChatOAuth {
                        client_id,
                        client_secret,
                    }),
                    (None, None) => None,
                    (id, secret) => {
                        return Err(incomplete(
                            "Sign in with Slack",
                            &[
                                ("TRAINYARD_SLACK_CLIENT_ID", id.is_some()),
                                ("TRAINYARD_SLACK_CLIENT_SECRET", secret.is_some()),
                            ],
                        ));
                    }
                },
            }),
            (signing, token) => {
                return Err(incomplete(
                    "Slack",
                    &[
                        ("TRAINYARD_SLACK_SIGNING_SECRET", signing.is_some()),
                        ("TRAINYARD_SLACK_BOT_TOKEN", token.is_some()),
                    ],
                ));
            }
        };
        let discord = match (
            args.discord_public_key,
            args.discord_application_id,
            args.discord_bot_token,
        ) {
            (None, None, None) => None,
            (Some(public_key), Some(application_id), Some(bot_token)) => {
                let valid =
                    public_key.len() == 64 && public_key.bytes().all(|b| b.is_ascii_hexdigit());
                if !valid {
                    return Err(SettingsError::Invalid {
                        name: "TRAINYARD_DISCORD_PUBLIC_KEY",
                        reason: "must be 64 hex characters (the application's public key)".into(),
                    });
                }
                Some(DiscordSettings {
                    public_key,
                    application_id,
                    bot_token,
                    guilds: id_list(args.discord_guilds.as_deref()),
                    oauth: args.discord_client_secret.map(|client_secret| ChatOAuth {
                        client_id: application_id.to_string(),
                        client_secret,
                    }),
                })
            }
            (key, id, token) => {
                return Err(incomplete(
                    "Discord",
                    &[
                        ("TRAINYARD_DISCORD_PUBLIC_KEY", key.is_some()),
                        ("TRAINYARD_DISCORD_APPLICATION_ID", id.is_some()),
                        ("TRAINYARD_DISCORD_BOT_TOKEN", token.is_some()),
                    ],
                ));
            }
        };

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

fn github_app(
    app_id: Option<u64>,
    client_id: Option<String>,
    private_key: Option<Secret>,
    private_key_path: Option<PathBuf>,
    webhook_secret: Option<SecretList>,
    previous_secret: Option<SecretList>,
) -> Result<Option<GitHubAppSettings>, SettingsError> {
    if private_key.is_some() && private_key_path.is_some() {
        return Err(SettingsError::Conflict(
            "TRAINYARD_GITHUB_PRIVATE_KEY and TRAINYARD_GITHUB_PRIVATE_KEY_PATH",
        ));
    }
    // The current secret first, then the one being rotated out.
    let webhook_secrets = webhook_secret
        .map(|list| list.0)
        .filter(|secrets| !secrets.is_empty())
        .map(|mut secrets| {
            secrets.extend(previous_secret.map(|list| list.0).unwrap_or_default());
            secrets
        });
    let has_identity = app_id.is_some() || client_id.is_some();
    let has_key = private_key.is_some() || private_key_path.is_some();
    // A client id alone belongs to OAuth linking; it does not start the App group.
    if app_id.is_none() && !has_key && webhook_secrets.is_none() {
        return Ok(None);
    }
    if !(has_identity && has_key && webhook_secrets.is_some()) {
        return Err(incomplete(
            "GitHub App",
            &[
                (
                    "TRAINYARD_GITHUB_APP_ID (or TRAINYARD_GITHUB_CLIENT_ID)",
                    has_identity,
                ),
                (
                    "TRAINYARD_GITHUB_PRIVATE_KEY (or TRAINYARD_GITHUB_PRIVATE_KEY_PATH)",
                    has_key,
                ),
                ("TRAINYARD_GITHUB_WEBHOOK_SECRET", webhook_secrets.is_some()),
            ],
        ));
    }
    let private_key = match (private_key, private_key_path) {
        (Some(key), _) => key,
        (None, Some(path)) => Secret::new(
            std::fs::read_to_string(&path)
                .map_err(|source| SettingsError::ReadFile { path, source })?,
        ),
        (None, None) => unreachable!("has_key checked above"),
    };
    if !private_key.expose().contains("-----BEGIN") {
        return Err(SettingsError::Invalid {
            name: "TRAINYARD_GITHUB_PRIVATE_KEY",
            reason: "is not a PEM private key (expected -----BEGIN … PRIVATE KEY-----)".into(),
        });
    }
    Ok(Some(GitHubAppSettings {
        app_id,
        client_id,
        private_key,
        webhook_secrets: webhook_secrets.unwrap_or_default(),
    }))
}

fn incomplete(group: &'static str, parts: &[(&str, bool)]) -> SettingsError {
    let missing: Vec<&str> = parts
        .iter()
        .filter(|(_, present)| !present)
        .map(|(name, _)| *name)
        .collect();
    SettingsError::Incomplete {
        group,
        missing: missing.join(", "),
    }
}

fn api_url(
    name: &'static str,
    given: Option<String>,
    default: &str,
) -> Result<String, SettingsError> {
    let url = given.unwrap_or_else(|| default.to_owned());
    check_http_url(name, &url)?;
    Ok(url.trim_end_matches('/').to_owned())
}

fn check_http_url(name: &'static str, url: &str) -> Result<(), SettingsError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(SettingsError::Invalid {
            name,
            reason: format!("{url:?} is not an http:// or https:// URL"),
        })
    }
}

/// A URL fit for logs: any password in it replaced by `[redacted]`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            if userinfo.contains(':') {
                format!("{scheme}://{user}:[redacted]@{host}{tail}")
            } else {
                format!("{scheme}://{userinfo}@{host}{tail}")
            }
        }
        None => url.to_owned(),
    }
}

/// Default attempts before a job is dead.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// Default limit on one attempt's run time.
pub const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(300);
/// Tunables of the queue.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Attempts before a job is dead, unless its kind says otherwise.
    pub max_attempts: u32,
    /// Limit on one attempt's run time.
    pub job_timeout: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            job_timeout: DEFAULT_JOB_TIMEOUT,
        }
    }
}

/// GitHub's web address for an API base: `https://github.com` for the public API, the
/// host without `/api/v3` for GitHub Enterprise.
pub fn server_url(api_url: &str) -> String {
    let trimmed = api_url.trim_end_matches('/');
    if trimmed == "https://api.github.com" {
        return "https://github.com".to_owned();
    }
    trimmed
        .strip_suffix("/api/v3")
        .unwrap_or(trimmed)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";

    fn github_args() -> SettingsArgs {
        SettingsArgs {
            github_app_id: Some(42),
            github_private_key: Some(Secret::new(PEM)),
            github_webhook_secret: Some("new-secret".parse().unwrap_or_else(|e| match e {})),
            github_webhook_secret_previous: Some(
                "old,secret".parse().unwrap_or_else(|e| match e {}),
            ),
            ..SettingsArgs::default()
        }
    }

    #[test]
    fn no_settings_at_all_resolve_to_the_documented_defaults() {
        let settings = Settings::resolve(SettingsArgs::default()).expect("defaults resolve");
        assert_eq!(settings.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(settings.database_url.expose(), "sqlite://trainyard.db");
        assert_eq!(settings.github_api_url, "https://api.github.com");
        assert_eq!(settings.log_format, LogFormat::Pretty);
        assert!(
            settings.github.is_none() && settings.slack.is_none() && settings.discord.is_none()
        );
        assert_eq!(settings.unconfigured_integrations().len(), 4);
    }

    #[test]
    fn secrets_never_print_their_value() {
        let settings = Settings::resolve(SettingsArgs {
            slack_signing_secret: Some(Secret::new("sl-signing-XYZ")),
            slack_bot_token: Some(Secret::new("xoxb-123-XYZ")),
            ..github_args()
        })
        .expect("complete groups resolve");
        let printed = format!("{settings:?} {}", Secret::new("plain"));
        for secret in [
            "sl-signing-XYZ",
            "xoxb-123-XYZ",
            "new-secret",
            "old-secret",
            "AAAA",
            "plain",
        ] {
            assert!(!printed.contains(secret), "{secret} leaked in {printed}");
        }
        assert!(printed.contains("[redacted]"));
    }

    #[test]
    fn extends_repositories_are_owner_name_or_owner_star() {
        assert_eq!(
            extends_list(Some("acme/shared, tools/*")).ok(),
            Some(vec!["acme/shared".to_owned(), "tools/*".to_owned()])
        );
        for bad in ["acme", "acme/", "/x", "acme/sh ared", "*/x"] {
            assert!(extends_list(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_previous_webhook_secret_is_accepted_whole_beside_the_current_one() {
        let github = Settings::resolve(github_args())
            .expect("resolves")
            .github
            .expect("configured");
        let secrets: Vec<&str> = github.webhook_secrets.iter().map(Secret::expose).collect();
        // A comma is part of a secret: never a separator.
        assert_eq!(secrets, ["new-secret", "old,secret"]);
    }

    #[test]
    fn a_partial_github_app_names_what_is_missing() {
        let err = Settings::resolve(SettingsArgs {
            github_app_id: Some(42),
            ..SettingsArgs::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "GitHub App is partly configured: missing TRAINYARD_GITHUB_PRIVATE_KEY (or \
             TRAINYARD_GITHUB_PRIVATE_KEY_PATH), TRAINYARD_GITHUB_WEBHOOK_SECRET"
        );
        let err = Settings::resolve(SettingsArgs {
            github_app_id: None,
            ..github_args()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "GitHub App is partly configured: missing TRAINYARD_GITHUB_APP_ID (or \
             TRAINYARD_GITHUB_CLIENT_ID)"
        );
    }

    #[test]
    fn key_and_key_path_exclude_each_other() {
        let err = Settings::resolve(SettingsArgs {
            github_private_key_path: Some("/nonexistent.pem".into()),
            ..github_args()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "set only one of TRAINYARD_GITHUB_PRIVATE_KEY and TRAINYARD_GITHUB_PRIVATE_KEY_PATH"
        );
    }

    #[test]
    fn a_key_path_is_read_and_a_missing_file_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.pem");
        std::fs::write(&path, PEM).expect("write key");
        let settings = Settings::resolve(SettingsArgs {
            github_private_key: None,
            github_private_key_path: Some(path.clone()),
            ..github_args()
        })
        .expect("resolves");
        assert_eq!(
            settings.github.expect("configured").private_key.expose(),
            PEM
        );

        let missing = dir.path().join("missing.pem");
        let err = Settings::resolve(SettingsArgs {
            github_private_key: None,
            github_private_key_path: Some(missing.clone()),
            ..github_args()
        })
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("cannot read {}", missing.display()))
        );
    }

    #[test]
    fn a_discord_base_must_serve_api_v10() {
        let err = Settings::resolve(SettingsArgs {
            discord_api_url: Some("http://127.0.0.1:3000".into()),
            ..SettingsArgs::default()
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("TRAINYARD_DISCORD_API_URL")
                && err.to_string().contains("ending in /api/v10"),
            "{err}"
        );
        let fine = Settings::resolve(SettingsArgs {
            discord_api_url: Some("http://127.0.0.1:3000/api/v10/".into()),
            ..SettingsArgs::default()
        });
        assert!(fine.is_ok());
    }

    #[test]
    fn partial_slack_and_discord_groups_are_refused() {
        let err = Settings::resolve(SettingsArgs {
            slack_bot_token: Some(Secret::new("xoxb")),
            ..SettingsArgs::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Slack is partly configured: missing TRAINYARD_SLACK_SIGNING_SECRET"
        );
        let err = Settings::resolve(SettingsArgs {
            discord_public_key: Some("ab".repeat(32)),
            ..SettingsArgs::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Discord is partly configured: missing TRAINYARD_DISCORD_APPLICATION_ID, \
             TRAINYARD_DISCORD_BOT_TOKEN"
        );
        let err = Settings::resolve(SettingsArgs {
            discord_public_key: Some("not-hex".into()),
            discord_application_id: Some(1),
            discord_bot_token: Some(Secret::new("t")),
            ..SettingsArgs::default()
        })
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("TRAINYARD_DISCORD_PUBLIC_KEY: must be 64 hex")
        );
    }

    #[test]
    fn toml_file_fills_what_flags_and_environment_leave_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("trainyard.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:8080\"\nworkers = 2\ngithub_webhook_secret = [\"a\", \"b\"]\n",
        )
        .expect("write");
        let file = SettingsArgs::from_toml_file(&path).expect("parses");
        let given = SettingsArgs {
            workers: Some(7),
            ..SettingsArgs::default()
        };
        let merged = given.or(file);
        assert_eq!(
            merged.listen.map(|a| a.to_string()).as_deref(),
            Some("0.0.0.0:8080")
        );
        assert_eq!(merged.workers, Some(7));
        assert_eq!(
            merged.github_webhook_secret.map(|l| l.secrets().len()),
            Some(2)
        );
    }

    #[test]
    fn unknown_keys_in_the_toml_file_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("trainyard.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\nlisten_port = 3\n").expect("write");
        let err = SettingsArgs::from_toml_file(&path).unwrap_err().to_string();
        assert!(err.contains("listen_port"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn zero_workers_or_attempts_are_refused() {
        let err = Settings::resolve(SettingsArgs {
            workers: Some(0),
            ..SettingsArgs::default()
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "TRAINYARD_WORKERS: must be at least 1");
    }

    #[test]
    fn passwords_are_redacted_from_urls_in_logs() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/trainyard"),
            "postgres://app:[redacted]@db:5432/trainyard"
        );
        assert_eq!(redact_url("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(redact_url("sqlite://trainyard.db"), "sqlite://trainyard.db");
    }
}

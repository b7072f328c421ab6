//! Integrations as all-or-nothing groups: the GitHub App, GitHub OAuth, Slack and Discord, each
//! complete or absent, a half-given one an error naming what is missing; API base URLs.

use super::DEFAULT_DISCORD_API_URL;
use super::SettingsError;
use super::flags::id_list;
use super::secret::{Secret, SecretList};
use std::path::PathBuf;

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

pub(super) fn github_app(
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

pub(super) fn incomplete(group: &'static str, parts: &[(&str, bool)]) -> SettingsError {
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

pub(super) fn api_url(
    name: &'static str,
    given: Option<String>,
    default: &str,
) -> Result<String, SettingsError> {
    let url = given.unwrap_or_else(|| default.to_owned());
    check_http_url(name, &url)?;
    Ok(url.trim_end_matches('/').to_owned())
}

pub(super) fn check_http_url(name: &'static str, url: &str) -> Result<(), SettingsError> {
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

/// Discord's API base: serenity's routes name the API version, so the base must serve it.
pub(super) fn discord_api_url(url: Option<String>) -> Result<String, SettingsError> {
    let url = api_url("TRAINYARD_DISCORD_API_URL", url, DEFAULT_DISCORD_API_URL)?;
    if !url.ends_with("/api/v10") {
        return Err(SettingsError::Invalid {
            name: "TRAINYARD_DISCORD_API_URL",
            reason: format!("{url:?} must be Discord's versioned API, ending in /api/v10"),
        });
    }
    Ok(url)
}

/// GitHub's OAuth for linking chat users: the client id and secret together.
pub(super) fn github_oauth(
    client_id: Option<String>,
    client_secret: Option<Secret>,
) -> Result<Option<GitHubOAuthSettings>, SettingsError> {
    match (client_id, client_secret) {
        (Some(client_id), Some(client_secret)) => Ok(Some(GitHubOAuthSettings {
            client_id,
            client_secret,
        })),
        (None, Some(_)) => Err(SettingsError::Incomplete {
            group: "GitHub OAuth (linking chat users)",
            missing: "TRAINYARD_GITHUB_CLIENT_ID".into(),
        }),
        _ => Ok(None),
    }
}

/// The Slack group's settings as given.
pub(super) struct SlackArgs {
    pub(super) signing_secret: Option<Secret>,
    pub(super) bot_token: Option<Secret>,
    pub(super) workspaces: Option<String>,
    pub(super) client_id: Option<String>,
    pub(super) client_secret: Option<Secret>,
}

/// Slack: signing secret and bot token together, or neither; Sign in with Slack likewise.
pub(super) fn slack(args: SlackArgs) -> Result<Option<SlackSettings>, SettingsError> {
    let (signing_secret, bot_token) = match (args.signing_secret, args.bot_token) {
        (None, None) => return Ok(None),
        (Some(signing_secret), Some(bot_token)) => (signing_secret, bot_token),
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
    let oauth = match (args.client_id, args.client_secret) {
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
    };
    Ok(Some(SlackSettings {
        signing_secret,
        bot_token,
        workspaces: id_list(args.workspaces.as_deref()),
        oauth,
    }))
}

/// The Discord group's settings as given.
pub(super) struct DiscordArgs {
    pub(super) public_key: Option<String>,
    pub(super) application_id: Option<u64>,
    pub(super) bot_token: Option<Secret>,
    pub(super) guilds: Option<String>,
    pub(super) client_secret: Option<Secret>,
}

/// Discord: public key, application id and bot token together, or none of them.
pub(super) fn discord(args: DiscordArgs) -> Result<Option<DiscordSettings>, SettingsError> {
    let (public_key, application_id, bot_token) =
        match (args.public_key, args.application_id, args.bot_token) {
            (None, None, None) => return Ok(None),
            (Some(key), Some(id), Some(token)) => (key, id, token),
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
    let valid = public_key.len() == 64 && public_key.bytes().all(|b| b.is_ascii_hexdigit());
    if !valid {
        return Err(SettingsError::Invalid {
            name: "TRAINYARD_DISCORD_PUBLIC_KEY",
            reason: "must be 64 hex characters (the application's public key)".into(),
        });
    }
    Ok(Some(DiscordSettings {
        public_key,
        application_id,
        bot_token,
        guilds: id_list(args.guilds.as_deref()),
        oauth: args.client_secret.map(|client_secret| ChatOAuth {
            client_id: application_id.to_string(),
            client_secret,
        }),
    }))
}

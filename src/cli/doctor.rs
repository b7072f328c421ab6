//! `trainyard doctor`: checks each part a working bot needs — the settings, the store and its
//! migrations, the App's key against GitHub, each installation's permissions against
//! `app-manifest.yml`, the webhook secret (by the status of GitHub's last deliveries), Slack's
//! token and Discord's application — and prints one line per check, with the fix for each
//! failure.

use std::io::Write;
use std::sync::Arc;

use http::Method;
use serde::Deserialize;
use serde_json::Value;

use crate::chat::ChatError;
use crate::chat::discord::DiscordClient;
use crate::clock::SystemClock;
use crate::github::manifest::missing_permissions;
use crate::github::{ContentLimits, GitHubClient, GitHubError};
use crate::settings::Settings;
use crate::store::{Db, Readiness};

/// How one check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Fine, with what was found.
    Ok(String),
    /// Not a failure, but worth knowing (an integration not configured).
    Note(String),
    /// Broken: what is wrong and how to fix it.
    Failed {
        /// What is wrong.
        problem: String,
        /// What to do.
        fix: String,
    },
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
}

fn check(name: impl Into<String>, outcome: Outcome) -> Check {
    Check {
        name: name.into(),
        outcome,
    }
}

fn failed(problem: impl Into<String>, fix: impl Into<String>) -> Outcome {
    Outcome::Failed {
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// Runs every check.
pub async fn run(settings: &Settings) -> Vec<Check> {
    let mut checks = vec![check("settings", Outcome::Ok("resolved".into()))];
    for line in settings.unconfigured_integrations() {
        checks.push(check("settings", Outcome::Note(line)));
    }
    checks.push(public_url(settings));
    checks.push(store(settings).await);
    checks.extend(github(settings).await);
    checks.extend(slack(settings).await);
    checks.extend(discord(settings).await);
    checks
}

/// Prints the report; `true` when nothing failed.
pub fn print(checks: &[Check], out: &mut impl Write) -> std::io::Result<bool> {
    let mut healthy = true;
    for c in checks {
        match &c.outcome {
            Outcome::Ok(what) => writeln!(out, "ok    {}: {what}", c.name)?,
            Outcome::Note(what) => writeln!(out, "note  {}: {what}", c.name)?,
            Outcome::Failed { problem, fix } => {
                healthy = false;
                writeln!(out, "FAIL  {}: {problem}\n      fix: {fix}", c.name)?;
            }
        }
    }
    Ok(healthy)
}

/// `TRAINYARD_PUBLIC_URL`: set, and https unless the server is only reached on this machine.
fn public_url(settings: &Settings) -> Check {
    let fix = "set TRAINYARD_PUBLIC_URL to the https address GitHub, Slack and Discord reach \
               this server at (for example https://trainyard.example.com)";
    let outcome = match settings.public_url.as_deref() {
        None => failed(
            "TRAINYARD_PUBLIC_URL is not set: webhooks, sign-ins and links need it",
            fix,
        ),
        Some(url) if url.starts_with("https://") => Outcome::Ok(url.to_owned()),
        Some(url) if is_loopback(url) => {
            Outcome::Note(format!("{url} is plain http on this machine only"))
        }
        Some(url) => failed(
            format!("{url} is not https: secrets and sessions would cross the network in clear"),
            fix,
        ),
    };
    check("public URL", outcome)
}

/// Whether `url` (http) names this machine.
fn is_loopback(url: &str) -> bool {
    let host = url
        .trim_start_matches("http://")
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    let host = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The file of a `sqlite:` store URL (`None` for an in-memory one).
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

async fn store(settings: &Settings) -> Check {
    let url = settings.database_url.expose();
    let shown = crate::settings::redact_url(url);
    // The doctor looks; it creates nothing (no store file left in an empty folder).
    if let Some(file) = sqlite_file(url)
        && !file.exists()
    {
        return check(
            "store",
            failed(
                format!("{shown}: the file does not exist"),
                "run `trainyard migrate` (or start `trainyard serve` once), or point \
                 DATABASE_URL at the store",
            ),
        );
    }
    let db = match Db::connect(url).await {
        Ok(db) => db,
        Err(error) => {
            return check(
                "store",
                failed(
                    format!("{shown}: {error}"),
                    "check DATABASE_URL, and that the database is running and reachable",
                ),
            );
        }
    };
    let outcome = match db.readiness().await {
        Ok(Readiness::Ready) => Outcome::Ok(format!("{shown} ({}), migrated", db.backend())),
        Ok(Readiness::MigrationsPending(pending)) => failed(
            format!("{shown}: {} migration(s) not applied", pending.len()),
            "run `trainyard migrate` (`trainyard serve` applies them at start too)",
        ),
        Err(error) => failed(format!("{shown}: {error}"), "check DATABASE_URL"),
    };
    db.close().await;
    check("store", outcome)
}

#[derive(Deserialize)]
struct App {
    id: Option<u64>,
    slug: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Installation {
    id: u64,
    account: Option<Account>,
    #[serde(default)]
    permissions: Value,
    #[serde(default)]
    suspended_at: Option<String>,
}

#[derive(Deserialize)]
struct Account {
    login: String,
}

#[derive(Deserialize)]
struct Delivery {
    #[serde(default)]
    status_code: u16,
    #[serde(default)]
    event: String,
}

async fn github(settings: &Settings) -> Vec<Check> {
    let Some(app) = &settings.github else {
        return vec![check(
            "GitHub App",
            failed(
                "no GitHub App is configured: trainyard hears nothing from GitHub",
                "register it from the server's / page (with the setup code it prints at start), \
                 or set TRAINYARD_GITHUB_APP_ID, TRAINYARD_GITHUB_PRIVATE_KEY(_PATH) and \
                 TRAINYARD_GITHUB_WEBHOOK_SECRET",
            ),
        )];
    };
    let client = match GitHubClient::new(
        app,
        &settings.github_api_url,
        Arc::new(SystemClock),
        ContentLimits::default(),
    ) {
        Ok(client) => client,
        Err(error) => {
            return vec![check(
                "GitHub App",
                failed(
                    error.to_string(),
                    "set TRAINYARD_GITHUB_PRIVATE_KEY(_PATH) to the App's private key (PEM)",
                ),
            )];
        }
    };
    let mut checks = Vec::new();
    let mut app_id = app.app_id;
    match client.app_request::<App>(Method::GET, "/app", None).await {
        Ok(found) => {
            app_id = found.id.or(app_id);
            checks.push(check(
                "GitHub App",
                Outcome::Ok(format!(
                    "the key signs in as {}",
                    found
                        .slug
                        .or(found.name)
                        .unwrap_or_else(|| "the App".into())
                )),
            ));
        }
        Err(error) => {
            checks.push(check(
                "GitHub App",
                failed(
                    format!("GitHub refused the App's token: {error}"),
                    match error {
                        GitHubError::Unauthorized(_) => {
                            "TRAINYARD_GITHUB_APP_ID (or _CLIENT_ID) and the private key must \
                             belong to the same App; generate a new key in the App's settings \
                             if it was revoked"
                        }
                        _ => "check TRAINYARD_GITHUB_API_URL and the network",
                    },
                ),
            ));
            return checks;
        }
    }
    checks.extend(installations(&client).await);
    checks.push(webhooks(&client).await);
    if let Some(app_id) = app_id {
        checks.extend(protection_rules(&client, settings, app_id).await);
    }
    checks
}

/// For each repository the store has a configuration of, whether trainyard is the
/// deployment protection rule of its configured environments, where GitHub lets the App see
/// them: an environment without it lets Actions jobs deploy there around the train.
async fn protection_rules(client: &GitHubClient, settings: &Settings, app_id: u64) -> Vec<Check> {
    let url = settings.database_url.expose();
    if sqlite_file(url).is_some_and(|file| !file.exists()) {
        return Vec::new();
    }
    let Ok(db) = Db::connect(url).await else {
        return Vec::new();
    };
    let mut checks = Vec::new();
    let configs = crate::store::repo_configs::all_with_text(&db)
        .await
        .unwrap_or_default();
    for (repository, path, text) in configs {
        let (Ok(repo), Ok(config)) = (
            crate::domain::ids::RepoFullName::parse(&repository),
            crate::domain::repo_config::RepoConfig::from_file(&path, &text),
        ) else {
            continue;
        };
        let environments: Vec<&str> = config
            .environments()
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        let Ok(Some(installation)) = crate::store::installations::for_repository(&db, &repo).await
        else {
            continue;
        };
        if environments.is_empty() {
            continue;
        }
        let (mut gated, mut open, mut unseen) = (Vec::new(), Vec::new(), Vec::new());
        for environment in environments {
            match client
                .protects_environment(installation, &repo, environment, app_id)
                .await
            {
                Ok(Some(true)) => gated.push(environment),
                Ok(Some(false)) => open.push(environment),
                Ok(None) | Err(_) => unseen.push(environment),
            }
        }
        let name = format!("release gate {repository}");
        if !open.is_empty() {
            checks.push(check(
                name.clone(),
                Outcome::Note(format!(
                    "{} {} not have trainyard as a deployment protection rule: Actions jobs \
                     deploying there are not held to the train (enable it in the repository's \
                     Settings → Environments → the environment → Deployment protection rules)",
                    open.join(", "),
                    if open.len() == 1 { "does" } else { "do" }
                )),
            ));
        }
        if !gated.is_empty() {
            checks.push(check(
                name.clone(),
                Outcome::Ok(format!(
                    "trainyard is the deployment protection rule of {}",
                    gated.join(", ")
                )),
            ));
        }
        if !unseen.is_empty() {
            checks.push(check(
                name,
                Outcome::Note(format!(
                    "GitHub shows the App no environment {} (not created yet, or not visible \
                     to the App)",
                    unseen.join(", ")
                )),
            ));
        }
    }
    db.close().await;
    checks
}

/// Each installation: suspended, or missing a permission app-manifest.yml asks for.
async fn installations(client: &GitHubClient) -> Vec<Check> {
    let mut checks = Vec::new();
    match client
        .app_request::<Vec<Installation>>(Method::GET, "/app/installations?per_page=100", None)
        .await
    {
        Ok(installations) if installations.is_empty() => checks.push(check(
            "installations",
            Outcome::Note(
                "the App is not installed anywhere yet: install it on your repositories".into(),
            ),
        )),
        Ok(installations) => {
            for installation in installations {
                let who = installation
                    .account
                    .map_or_else(|| format!("#{}", installation.id), |a| a.login);
                let name = format!("installation {who}");
                if installation.suspended_at.is_some() {
                    checks.push(check(
                        name,
                        failed(
                            "suspended",
                            "unsuspend the App in the account's installation settings",
                        ),
                    ));
                    continue;
                }
                let missing = missing_permissions(&installation.permissions);
                checks.push(check(
                    name,
                    if missing.is_empty() {
                        Outcome::Ok("permissions as app-manifest.yml asks".into())
                    } else {
                        failed(
                            missing.join("; "),
                            "give the App these permissions (its settings → Permissions) and \
                             accept them on the installation",
                        )
                    },
                ));
            }
        }
        Err(error) => checks.push(check(
            "installations",
            failed(error.to_string(), "check the App's credentials"),
        )),
    }
    checks
}

/// Whether GitHub's last deliveries reached trainyard and were accepted.
async fn webhooks(client: &GitHubClient) -> Check {
    match client
        .app_request::<Vec<Delivery>>(Method::GET, "/app/hook/deliveries?per_page=50", None)
        .await
    {
        Ok(deliveries) if deliveries.is_empty() => check(
            "webhooks",
            Outcome::Note("GitHub has delivered nothing yet".into()),
        ),
        Ok(deliveries) => {
            let refused: Vec<&Delivery> =
                deliveries.iter().filter(|d| d.status_code == 401).collect();
            let unreachable = deliveries
                .iter()
                .filter(|d| d.status_code == 0 || d.status_code >= 500)
                .count();
            check(
                "webhooks",
                if let Some(first) = refused.first() {
                    failed(
                        format!(
                            "{} of GitHub's last {} deliveries were refused for their signature \
                             (the latest: {})",
                            refused.len(),
                            deliveries.len(),
                            first.event
                        ),
                        "TRAINYARD_GITHUB_WEBHOOK_SECRET must be the App's webhook secret \
                         (list the old and the new one, comma-separated, while rotating)",
                    )
                } else if unreachable > 0 {
                    failed(
                        format!(
                            "{unreachable} of GitHub's last {} deliveries did not reach trainyard",
                            deliveries.len()
                        ),
                        "the App's webhook URL must be TRAINYARD_PUBLIC_URL/webhooks/github, \
                         reachable from GitHub",
                    )
                } else {
                    Outcome::Ok(format!(
                        "GitHub's last {} deliveries were accepted",
                        deliveries.len()
                    ))
                },
            )
        }
        Err(error) => check(
            "webhooks",
            Outcome::Note(format!("GitHub's delivery log is not readable: {error}")),
        ),
    }
}

async fn slack(settings: &Settings) -> Vec<Check> {
    let Some(slack) = &settings.slack else {
        return Vec::new();
    };
    let client =
        crate::chat::slack::SlackClient::new(&settings.slack_api_url, slack.bot_token.clone());
    vec![check(
        "Slack",
        match client.bot_team().await {
            Ok(team) if slack.workspaces.contains(&team) => {
                Outcome::Ok(format!("the bot token works in workspace {team}"))
            }
            Ok(team) => failed(
                format!("the bot token is for workspace {team}, which is not allowed"),
                format!("add {team} to TRAINYARD_SLACK_WORKSPACES"),
            ),
            Err(error) => failed(
                error.to_string(),
                "set TRAINYARD_SLACK_BOT_TOKEN to the app's Bot User OAuth Token (xoxb-…)",
            ),
        },
    )]
}

async fn discord(settings: &Settings) -> Vec<Check> {
    let Some(discord) = &settings.discord else {
        return Vec::new();
    };
    let client = match DiscordClient::new(
        &settings.discord_api_url,
        discord.application_id,
        &discord.bot_token,
    ) {
        Ok(client) => client,
        Err(error) => {
            return vec![check(
                "Discord",
                failed(
                    error.to_string(),
                    "unset it to use https://discord.com/api/v10",
                ),
            )];
        }
    };
    let outcome = match client.application_id_of_token().await {
        Ok(id) if id == discord.application_id.to_string() => {
            Outcome::Ok(format!("the bot token belongs to application {id}"))
        }
        Ok(other) => failed(
            format!("the bot token belongs to application {other}"),
            "TRAINYARD_DISCORD_APPLICATION_ID and TRAINYARD_DISCORD_BOT_TOKEN must be the same \
             application's",
        ),
        Err(ChatError::Transient { reason, .. }) => failed(
            format!("Discord could not be reached ({reason})"),
            "check TRAINYARD_DISCORD_API_URL and the network",
        ),
        Err(error) => failed(
            error.to_string(),
            "set TRAINYARD_DISCORD_BOT_TOKEN to the application's bot token",
        ),
    };
    vec![check("Discord", outcome)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses_are_recognised_and_others_are_not() {
        for url in [
            "http://localhost:3000",
            "http://127.0.0.1:3000/",
            "http://[::1]:3000",
            "http://127.0.0.2",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "http://trainyard.example",
            "http://10.0.0.1:3000",
            "http://localhost.evil.example",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
        assert_eq!(
            sqlite_file("sqlite://trainyard.db?mode=rwc"),
            Some("trainyard.db".into())
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://x"), None);
    }
}

//! The command line: `trainyard serve`, `trainyard migrate`, `trainyard jobs`,
//! `trainyard notes`, `trainyard config check`, `trainyard replay`.

pub mod admin;
pub mod backfill;
pub mod config_check;
pub mod doctor;
pub mod notes;
pub mod replay;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::settings::{Settings, SettingsArgs};
use crate::{app, telemetry};

/// Read when present, and written by the setup page.
pub const DEFAULT_SETTINGS_FILE: &str = "trainyard.toml";

/// Release trains for GitHub, driven from Slack, Discord and pull-request comments.
#[derive(Debug, Parser)]
#[command(name = "trainyard", version)]
pub struct Cli {
    /// A TOML settings file (keys as the flags, in snake_case); flags and environment
    /// variables override it. Given before the sub-command (`trainyard --config f.toml serve`).
    #[arg(long, env = "TRAINYARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Settings.
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: webhooks, chat endpoints, health, and the job workers.
    Serve,
    /// Apply the store's migrations and exit.
    Migrate,
    /// Sign a webhook payload file with the configured webhook secret and post it to a
    /// running server, printing the answer.
    Replay {
        /// The payload file (JSON), e.g. fixtures/github-webhooks/pull_request/closed.payload.json.
        payload: PathBuf,
        /// The event name (X-GitHub-Event), e.g. pull_request.
        #[arg(long)]
        event: String,
        /// The server's base URL.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        /// The delivery id to send [default: a fresh one].
        #[arg(long)]
        delivery: Option<String>,
    },
    /// Preview the release notes and the resolved version for a range, read-only. Uses
    /// GITHUB_TOKEN, or the App's credentials.
    Notes(crate::cli::notes::NotesArgs),
    /// Repository configuration files.
    Config {
        /// What to do.
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Discord: register the `/release` command and its sub-commands.
    Discord {
        /// What to do.
        #[command(subcommand)]
        action: DiscordAction,
    },
    /// Check the settings, the store, the GitHub App, its installations and webhooks, Slack
    /// and Discord; one line per check, with the fix for each failure. Exits 1 on a failure.
    Doctor,
    /// Show the job queue: counts per state, and the dead and parked (failing) jobs with
    /// their last error.
    Jobs {
        /// Run every job that is due now, once, then show the queue.
        #[arg(long)]
        run: bool,
    },
    /// Release health: read a repository's past releases, merged pull requests and
    /// deployments from GitHub once (`metrics backfill --repo owner/name`).
    Metrics {
        /// What to do.
        #[command(subcommand)]
        action: MetricsAction,
    },
    /// Bearer tokens for the gate API (`GET /api/v1/repos/{owner}/{repo}/gate`), one
    /// repository each; only their hashes are stored.
    Token {
        /// What to do.
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Show the audit log, newest first: commands (accepted or refused, with the reason),
    /// effects on GitHub and configuration changes.
    Audit {
        /// Only this repository's (owner/name).
        #[arg(long)]
        repo: Option<String>,
        /// Only records since this date (YYYY-MM-DD, UTC) or time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// How many records at most.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// A `--since` value: a date (midnight UTC) or an RFC 3339 time.
fn since_millis(value: &str) -> anyhow::Result<i64> {
    if let Ok(time) = value.parse::<jiff::Timestamp>() {
        return Ok(time.as_millisecond());
    }
    let date: jiff::civil::Date = value.parse().with_context(|| {
        format!("--since {value:?}: give a date (2026-11-01) or an RFC 3339 time")
    })?;
    Ok(date
        .in_tz("UTC")
        .context("--since: date out of range")?
        .timestamp()
        .as_millisecond())
}

/// `trainyard config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Check a configuration file offline (no credentials, no repository): the
    /// configuration in effect, its warnings, or its error. Exits 1 when it cannot be used.
    Check {
        /// `trainyard.yml`, `release-drafter.yml` or `release.yml` (told apart by name).
        file: PathBuf,
    },
}

/// `trainyard metrics …`.
#[derive(Debug, Subcommand)]
pub enum MetricsAction {
    /// Read the repository's history from GitHub once (releases, merged pull requests,
    /// deployments); what trainyard knows already is kept as it is.
    Backfill {
        /// The repository (owner/name); trainyard must be installed on it.
        #[arg(long)]
        repo: String,
        /// The train line past releases belong to [default: the configuration's first].
        #[arg(long)]
        line: Option<String>,
    },
}

/// `trainyard token …`.
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Issue a token for one repository and print it, once.
    Issue {
        /// The repository (owner/name).
        #[arg(long)]
        repo: String,
        /// What it is for, shown in the audit log (`argo-cd`).
        #[arg(long, default_value = "gate")]
        label: String,
    },
    /// List the tokens (never the tokens themselves).
    List {
        /// Only this repository's.
        #[arg(long)]
        repo: Option<String>,
    },
    /// Revoke a token by its id.
    Revoke {
        /// The id `list` shows.
        id: i64,
    },
}

/// `trainyard discord …`.
#[derive(Debug, Subcommand)]
pub enum DiscordAction {
    /// Register (replace) the application's `/release` command.
    RegisterCommands {
        /// Register in one guild (instant) instead of globally (may take an hour).
        #[arg(long)]
        guild: Option<String>,
    },
}

impl Cli {
    /// The settings file: `--config`, else `trainyard.toml` in the working directory (which
    /// the setup page writes when it registers the GitHub App).
    pub fn settings_file(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SETTINGS_FILE))
    }

    /// The settings as given: flags and environment first, then the file (when it exists or
    /// was named).
    pub fn settings_args(&self) -> anyhow::Result<SettingsArgs> {
        let file = self.settings_file();
        Ok(if self.config.is_some() || file.exists() {
            self.settings
                .clone()
                .or(SettingsArgs::from_toml_file(&file)?)
        } else {
            self.settings.clone()
        })
    }

    /// Resolves and checks the settings.
    pub fn resolve_settings(&self) -> anyhow::Result<Settings> {
        let mut settings = Settings::resolve(self.settings_args()?)?;
        settings.settings_file = Some(self.settings_file());
        Ok(settings)
    }
}

/// The command line as `--help` shows it: the ~40 server settings (accepted by every
/// sub-command, as flags, environment variables or in the settings file) are listed under
/// `serve --help` only, so each other sub-command's help shows its own flags.
pub fn command() -> clap::Command {
    use clap::{Args as _, CommandFactory as _};
    let settings = SettingsArgs::augment_args(clap::Command::new("trainyard serve"));
    let ids: Vec<clap::Id> = settings
        .get_arguments()
        .map(|arg| arg.get_id().clone())
        .collect();
    let listed = settings.clone().render_long_help().to_string();
    let listed = listed
        .split_once("Options:\n")
        .map_or(listed.as_str(), |(_, options)| options)
        .to_owned();
    let mut cli = Cli::command();
    for id in ids {
        cli = cli.mut_arg(id, |arg| arg.hide(true));
    }
    cli.mut_subcommand("serve", |serve| {
        serve
            .after_long_help(format!(
                "Settings (flags, the environment variables named, or the settings file; every \
             sub-command reads them):\n{listed}"
            ))
            .after_help(
                "Settings: see `trainyard serve --help` (flags, environment or the settings file).",
            )
    })
}

/// Parses the command line and runs it.
pub async fn run() -> anyhow::Result<()> {
    use clap::FromArgMatches as _;
    let cli = Cli::from_arg_matches(&command().get_matches())?;
    if let Command::Replay {
        payload,
        event,
        url,
        delivery,
    } = &cli.command
    {
        // Replay needs only the webhook secret, not a complete App.
        let secrets = cli.settings_args()?.github_webhook_secret;
        let Some(secret) = secrets.as_ref().and_then(|s| s.secrets().first()) else {
            anyhow::bail!(
                "replay signs with TRAINYARD_GITHUB_WEBHOOK_SECRET; set it to the server's secret"
            );
        };
        let answer =
            crate::cli::replay::replay(payload, event, url, secret, delivery.clone()).await?;
        println!("delivery {}: HTTP {}", answer.delivery_id, answer.status);
        println!("{}", answer.body);
        if !(200..300).contains(&answer.status) {
            anyhow::bail!("the server refused the delivery");
        }
        return Ok(());
    }
    if let Command::Config {
        action: ConfigAction::Check { file },
    } = &cli.command
    {
        // Offline: no settings, no store, no credentials.
        let mut out = std::io::stdout();
        if !crate::cli::config_check::run(file, &mut out)? {
            // The error, naming the file, is printed: only the exit status is left to say.
            std::io::Write::flush(&mut out)?;
            std::process::exit(1);
        }
        return Ok(());
    }
    let settings = cli.resolve_settings()?;
    if let Command::Notes(args) = &cli.command {
        // stdout carries the notes; logs would only get in the way.
        let token = std::env::var("GITHUB_TOKEN").ok();
        return crate::cli::notes::run(args, &settings, token, &mut std::io::stdout()).await;
    }
    telemetry::init(settings.log_format, std::io::stdout);
    match cli.command {
        Command::Serve => {
            let cli = std::sync::Arc::new(cli);
            let source: app::SettingsSource = std::sync::Arc::new(move || cli.resolve_settings());
            app::serve(settings, source).await
        }
        Command::Migrate => admin::migrate(&settings).await,
        Command::Replay { .. } | Command::Notes(_) | Command::Config { .. } => Ok(()),
        Command::Doctor => {
            let checks = crate::cli::doctor::run(&settings).await;
            if !crate::cli::doctor::print(&checks, &mut std::io::stdout())? {
                anyhow::bail!("some checks failed");
            }
            Ok(())
        }
        Command::Discord {
            action: DiscordAction::RegisterCommands { guild },
        } => admin::register_discord_commands(&settings, guild).await,
        Command::Jobs { run } => admin::jobs(settings, run).await,
        Command::Metrics {
            action: MetricsAction::Backfill { repo, line },
        } => backfill::run(settings, &repo, line.as_deref()).await,
        Command::Audit {
            repo,
            since,
            limit,
            json,
        } => admin::audit(&settings, repo, since.as_deref(), limit, json).await,
        Command::Token { action } => admin::token(&settings, action).await,
    }
}

//! The command line: `trainyard serve`, `trainyard migrate`, `trainyard jobs`,
//! `trainyard notes`, `trainyard config check`, `trainyard replay`.

pub mod backfill;
pub mod config_check;
pub mod doctor;
pub mod notes;
pub mod replay;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::clock::SystemClock;
use crate::settings::{Settings, SettingsArgs};
use crate::store::Db;
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
        Command::Migrate => {
            let url = settings.database_url.expose();
            let db = Db::connect(url).await?;
            let pending = match db.readiness().await? {
                crate::store::Readiness::Ready => Vec::new(),
                crate::store::Readiness::MigrationsPending(pending) => pending,
            };
            db.migrate().await?;
            if pending.is_empty() {
                println!("the {} store is up to date: nothing to apply", db.backend());
            } else {
                let versions: Vec<String> = pending.iter().map(|v| format!("{v:04}")).collect();
                println!(
                    "applied {} migration{} to the {} store: {}",
                    pending.len(),
                    if pending.len() == 1 { "" } else { "s" },
                    db.backend(),
                    versions.join(", ")
                );
            }
            Ok(())
        }
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
        } => {
            let Some(discord) = &settings.discord else {
                anyhow::bail!(
                    "Discord is not configured: set TRAINYARD_DISCORD_PUBLIC_KEY, \
                     TRAINYARD_DISCORD_APPLICATION_ID and TRAINYARD_DISCORD_BOT_TOKEN"
                );
            };
            let client = crate::chat::discord::DiscordClient::new(
                &settings.discord_api_url,
                discord.application_id,
                &discord.bot_token,
            )?;
            let registered = client
                .register_commands(
                    guild.as_deref(),
                    &crate::inbound::discord::release_command(),
                )
                .await
                .context("registering the /release command")?;
            let count = registered;
            match guild {
                Some(guild) => println!("registered {count} command(s) in guild {guild}"),
                None => println!(
                    "registered {count} global command(s); Discord may take up to an hour to show them"
                ),
            }
            Ok(())
        }
        Command::Jobs { run } => {
            let state = app::AppState::open(settings, std::sync::Arc::new(SystemClock)).await?;
            if run {
                let drained = state
                    .runner()
                    .run_pending()
                    .await
                    .context("running due jobs")?;
                println!(
                    "ran due jobs: {} completed, {} will retry, {} waiting, {} dead",
                    drained.completed, drained.retrying, drained.rescheduled, drained.dead
                );
            }
            let deliveries = crate::store::deliveries::count(&state.db).await?;
            println!("deliveries recorded: {deliveries}");
            let counts = state.queue.counts().await?;
            println!(
                "queued {}  running {}  retrying {}  dead {}",
                counts.queued, counts.running, counts.retrying, counts.dead
            );
            for job in state.queue.jobs().await? {
                if job.state == crate::jobs::JobState::Dead {
                    println!(
                        "dead #{} {} [{}] after {} attempts: {}",
                        job.id,
                        job.kind,
                        job.queue_key,
                        job.attempts,
                        job.last_error.as_deref().unwrap_or("-")
                    );
                } else if job.parked {
                    // Failing, but no longer holding up its repository's other jobs.
                    println!(
                        "parked #{} {} [{}] attempt {} of {}, next at {}: {}",
                        job.id,
                        job.kind,
                        job.queue_key,
                        job.attempts,
                        job.max_attempts,
                        job.run_at,
                        job.last_error.as_deref().unwrap_or("-")
                    );
                }
            }
            Ok(())
        }
        Command::Metrics {
            action: MetricsAction::Backfill { repo, line },
        } => {
            let repo = crate::domain::ids::RepoFullName::parse(&repo)
                .with_context(|| format!("--repo {repo:?}: give owner/name"))?;
            if settings.github.is_none() {
                anyhow::bail!(
                    "metrics backfill reads {repo}'s history as the GitHub App, which is not \
                     configured here: set TRAINYARD_GITHUB_APP_ID and \
                     TRAINYARD_GITHUB_PRIVATE_KEY_PATH (or run it where the server runs)"
                );
            }
            let state = app::AppState::open(settings, std::sync::Arc::new(SystemClock)).await?;
            let installation = crate::store::installations::for_repository(&state.db, &repo)
                .await?
                .with_context(|| {
                    format!(
                        "this store knows no installation of the App on {repo}: install it \
                         there, or point DATABASE_URL at the server's store"
                    )
                })?;
            let ctx = state.train_context();
            let github = ctx.github()?;
            let config = crate::handlers::kit::stored_config(&ctx, &repo).await?;
            let lines = config.lines();
            let chosen = match &line {
                Some(name) => lines
                    .iter()
                    .find(|l| &l.name == name)
                    .with_context(|| format!("{repo} has no train line {name:?}"))?,
                None => lines.first().context("no train line")?,
            };
            let branch = match &chosen.branch {
                Some(branch) => branch.clone(),
                None => github.default_branch(installation, &repo).await?,
            };
            let done = crate::cli::backfill::backfill(
                &state.db,
                github,
                installation,
                &repo,
                &chosen.name,
                &branch,
                ctx.now(),
            )
            .await?;
            println!(
                "{repo}: added {} past releases with {} pull requests, and {} deployments \
                 ({} GitHub calls)",
                done.releases, done.pull_requests, done.deployments, done.calls
            );
            Ok(())
        }
        Command::Audit {
            repo,
            since,
            limit,
            json,
        } => {
            let db = Db::connect(settings.database_url.expose()).await?;
            db.migrate().await?;
            let query = crate::store::audit::Query {
                repository: repo,
                since: since.as_deref().map(since_millis).transpose()?,
                limit,
            };
            let records = crate::store::audit::recent(&db, &query).await?;
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            for record in &records {
                if json {
                    writeln!(out, "{}", serde_json::to_string(record)?)?;
                } else {
                    writeln!(out, "{}", crate::store::audit::line(record))?;
                }
            }
            if records.is_empty() && !json {
                writeln!(out, "no audit records")?;
            }
            Ok(())
        }
    }
}

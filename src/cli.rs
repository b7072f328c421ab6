//! The command line: `trainyard serve`, `trainyard migrate`, `trainyard jobs`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::clock::SystemClock;
use crate::settings::{Settings, SettingsArgs};
use crate::store::Db;
use crate::{app, telemetry};

/// Release trains for GitHub, driven from Slack, Discord and pull-request comments.
#[derive(Debug, Parser)]
#[command(name = "trainyard", version)]
pub struct Cli {
    /// A TOML settings file (keys as the flags, in snake_case); flags and environment
    /// variables override it.
    #[arg(long, env = "TRAINYARD_CONFIG", global = true)]
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
    /// Show the job queue: counts per state and the dead jobs with their last error.
    Jobs {
        /// Run every job that is due now, once, then show the queue.
        #[arg(long)]
        run: bool,
    },
}

impl Cli {
    /// Resolves settings: flags and environment first, then the file.
    pub fn resolve_settings(&self) -> anyhow::Result<Settings> {
        let args = match &self.config {
            Some(path) => self
                .settings
                .clone()
                .or(SettingsArgs::from_toml_file(path)?),
            None => self.settings.clone(),
        };
        Ok(Settings::resolve(args)?)
    }
}

/// Parses the command line and runs it.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = cli.resolve_settings()?;
    telemetry::init(settings.log_format, std::io::stdout);
    match cli.command {
        Command::Serve => app::serve(settings).await,
        Command::Migrate => {
            let url = settings.database_url.expose();
            let db = Db::connect(url).await?;
            db.migrate().await?;
            println!("migrations applied ({} store)", db.backend());
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
                }
            }
            Ok(())
        }
    }
}

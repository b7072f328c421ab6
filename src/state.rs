//! What every request handler can reach: the store, the queue, GitHub, the chat clients, the
//! intake and the pages' own state, built once from the settings.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::github::budget::{Hold, LedgerError, LedgerFuture, WriteLedger, hold_of, paused_hold};
use crate::github::{ContentLimits, GitHubClient};
use crate::handlers::config_reload::ConfigContext;
use crate::handlers::events::EventContext;
use crate::handlers::kit::TrainContext;
use crate::inbound::intake::Intake;
use crate::jobs::{Queue, Registry, Runner};
use crate::server::body_gate::BodyBudget;
use crate::settings::{Settings, redact_url};
use crate::store::Db;
use crate::store::content_writes::StoreLedger;

/// What every request handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Repositories this process has recorded (the intake skips their no-op events).
    pub noted_repositories: crate::handlers::events::NotedRepositories,
    /// Open pull requests whose check refresh the intake asked for, and when.
    pub check_windows: crate::handlers::events::CheckWindows,
    /// Resolved settings.
    pub settings: Arc<Settings>,
    /// The store.
    pub db: Db,
    /// The job queue.
    pub queue: Queue,
    /// The GitHub client, when the App is configured.
    pub github: Option<GitHubClient>,
    /// Records inbound deliveries in group commits.
    pub intake: Intake,
    /// Slack and Discord clients, where configured.
    pub chat: crate::handlers::kit::ChatClients,
    /// Parsed repository configurations.
    pub configs: crate::handlers::kit::config::ConfigCache,
    /// Deployment verification's checks (Prometheus, health URLs).
    pub probe: crate::probe::Probe,
    /// What unverified request bodies may hold at once.
    pub body_budget: BodyBudget,
    /// The store's last readiness verdict, so `/readyz` need not queue for a connection.
    pub readiness: crate::server::readiness::ReadinessCache,
    /// GitHub App registrations started on the setup page.
    pub setup: crate::registration::SetupStates,
    /// Cancelled to make the server read its settings again and restart in place (set by
    /// `serve`; none in tests that build the state themselves).
    pub reload: Arc<Mutex<Option<CancellationToken>>>,
    intake_writer: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl AppState {
    /// Opens and migrates the store named in `settings`, and builds the queue on `clock`.
    pub async fn open(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        let url = settings.database_url.expose();
        let db = Db::connect(url)
            .await
            .with_context(|| format!("opening the store at {}", redact_url(url)))?;
        db.migrate().await.context("migrating the store")?;
        AppState::new(settings, db, clock)
    }

    /// State over an open, migrated store. Fails when the GitHub App's key is unusable.
    /// Starts the intake writer, so it must run inside a Tokio runtime.
    pub fn new(settings: Settings, db: Db, clock: SharedClock) -> anyhow::Result<Self> {
        let github = match &settings.github {
            Some(app) => Some(
                GitHubClient::new(
                    app,
                    &settings.github_api_url,
                    clock.clone(),
                    ContentLimits::default(),
                )
                .context("setting up the GitHub client")?
                // Every replica takes from one write budget per installation.
                .with_ledger(Arc::new(SharedLedger(StoreLedger::new(db.clone())))),
            ),
            None => None,
        };
        let queue = Queue::new(db.clone(), clock, settings.queue.clone());
        let (intake, writer) = Intake::start(db.clone(), queue.clone());
        let chat = crate::handlers::kit::ChatClients::from_settings(&settings);
        Ok(AppState {
            body_budget: BodyBudget::new(&settings.http),
            readiness: crate::server::readiness::ReadinessCache::default(),
            reload: Arc::default(),
            setup: crate::registration::SetupStates::default(),
            noted_repositories: Arc::default(),
            check_windows: Arc::default(),
            chat,
            configs: crate::handlers::kit::config::ConfigCache::default(),
            probe: crate::probe::Probe::new(&settings.verify),
            settings: Arc::new(settings),
            db,
            queue,
            github,
            intake,
            intake_writer: Arc::new(Mutex::new(Some(writer))),
        })
    }

    /// The intake writer's task, to await at shutdown (taken once).
    pub(crate) fn take_intake_writer(&self) -> Option<JoinHandle<()>> {
        self.intake_writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// What train jobs and commands need.
    pub fn train_context(&self) -> TrainContext {
        TrainContext {
            db: self.db.clone(),
            clock: self.queue.clock().clone(),
            queue: self.queue.clone(),
            github: self.github.clone(),
            server_url: self.settings.github_web_url.clone(),
            settings: self.settings.clone(),
            chat: self.chat.clone(),
            configs: self.configs.clone(),
            probe: self.probe.clone(),
        }
    }

    /// The job handlers of this build.
    pub fn registry(&self) -> Registry {
        let events = EventContext {
            db: self.db.clone(),
            clock: self.queue.clock().clone(),
            queue: self.queue.clone(),
            noted_repositories: self.noted_repositories.clone(),
        };
        let configs = ConfigContext {
            db: self.db.clone(),
            clock: self.queue.clock().clone(),
            github: self.github.clone(),
            queue: self.queue.clone(),
            routes: crate::handlers::kit::routes::ConfigReach::new(&self.chat, &self.settings),
        };
        crate::handlers::registry(events, configs, self.train_context())
    }

    /// A runner over this state's queue with this build's handlers.
    pub fn runner(&self) -> Runner {
        Runner::new(self.queue.clone(), self.registry())
    }
}

/// The client's write ledger kept in the store, so every replica takes from one budget per
/// installation and sees one pause.
#[derive(Debug)]
struct SharedLedger(StoreLedger);

impl WriteLedger for SharedLedger {
    fn take<'a>(
        &'a self,
        installation: u64,
        content: bool,
        limits: ContentLimits,
        now: jiff::Timestamp,
    ) -> LedgerFuture<'a, Option<Hold>> {
        Box::pin(async move {
            let verdict = self
                .0
                .take_write(installation, content, limits, now.as_millisecond())
                .await
                .map_err(|e| LedgerError(e.to_string()))?;
            Ok(hold_of(verdict))
        })
    }

    fn pause<'a>(
        &'a self,
        installation: u64,
        until: jiff::Timestamp,
        reason: &'a str,
        now: jiff::Timestamp,
    ) -> LedgerFuture<'a, ()> {
        Box::pin(async move {
            self.0
                .pause_writes(
                    installation,
                    until.as_millisecond(),
                    reason,
                    now.as_millisecond(),
                )
                .await
                .map_err(|e| LedgerError(e.to_string()))
        })
    }

    fn paused_until<'a>(
        &'a self,
        installation: u64,
        now: jiff::Timestamp,
    ) -> LedgerFuture<'a, Option<Hold>> {
        Box::pin(async move {
            let paused = self
                .0
                .paused_until(installation, now.as_millisecond())
                .await
                .map_err(|e| LedgerError(e.to_string()))?;
            Ok(paused.map(paused_hold))
        })
    }
}

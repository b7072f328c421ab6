//! Wiring: builds the store, the queue and the router from [`Settings`], and runs the server
//! with its workers until a shutdown signal.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::Router;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::clock::{SharedClock, SystemClock};
use crate::github::{ContentPacing, GitHubClient};
use crate::handlers::events::{EventContext, HandleWebhook, Housekeeping};
use crate::handlers::kit::TrainContext;
use crate::handlers::repo_config::{ConfigContext, ReloadRepoConfig};
use crate::handlers::train_commands::{
    DeleteDraft, DraftPublishedByHand, PublishCandidate, ReleaseTrain, RunTrainCommand,
    ScheduledCuts, SendCommandReply,
};
use crate::handlers::trains::{BoardPullRequest, RefreshDraft};
use crate::inbound::intake::Intake;
use crate::jobs::{Queue, Registry, Runner};
use crate::server::body_gate::BodyBudget;
use crate::settings::{Settings, redact_url};
use crate::store::Db;
use crate::{inbound, web};

/// What every request handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Repositories this process has recorded (the intake skips their no-op events).
    pub noted_repositories: crate::handlers::events::NotedRepositories,
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
    /// What unverified request bodies may hold at once.
    pub body_budget: BodyBudget,
    /// The store's last readiness verdict, so `/readyz` need not queue for a connection.
    pub readiness: web::health::ReadinessCache,
    /// GitHub App registrations started on the setup page.
    pub setup: web::setup::SetupStates,
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
                    ContentPacing::default(),
                )
                .context("setting up the GitHub client")?,
            ),
            None => None,
        };
        let queue = Queue::new(db.clone(), clock, settings.queue.clone());
        let (intake, writer) = Intake::start(db.clone(), queue.clone());
        let chat = crate::handlers::kit::ChatClients::from_settings(&settings);
        Ok(AppState {
            body_budget: BodyBudget::new(&settings.http),
            readiness: web::health::ReadinessCache::default(),
            reload: Arc::default(),
            setup: web::setup::SetupStates::default(),
            noted_repositories: Arc::default(),
            chat,
            configs: crate::handlers::kit::config::ConfigCache::default(),
            settings: Arc::new(settings),
            db,
            queue,
            github,
            intake,
            intake_writer: Arc::new(Mutex::new(Some(writer))),
        })
    }

    /// The intake writer's task, to await at shutdown (taken once).
    fn take_intake_writer(&self) -> Option<JoinHandle<()>> {
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
        let trains = self.train_context();
        Registry::new()
            .register::<HandleWebhook>(events.clone())
            .register::<Housekeeping>(events)
            .register::<ReloadRepoConfig>(configs)
            .register::<BoardPullRequest>(trains.clone())
            .register::<RefreshDraft>(trains.clone())
            .register::<RunTrainCommand>(trains.clone())
            .register::<ReleaseTrain>(trains.clone())
            .register::<PublishCandidate>(trains.clone())
            .register::<crate::handlers::changelog::UpdateChangelog>(trains.clone())
            .register::<SendCommandReply>(trains.clone())
            .register::<DeleteDraft>(trains.clone())
            .register::<DraftPublishedByHand>(trains.clone())
            .register::<ScheduledCuts>(trains.clone())
            .register::<crate::handlers::kit::unit::DeliverTrainEvents>(trains.clone())
            .register::<crate::handlers::comments::CommentCommands>(trains.clone())
            .register::<crate::handlers::chat::TellLinked>(trains.clone())
            .register::<crate::handlers::deployments::CreateDeployment>(trains.clone())
            .register::<crate::handlers::deployments::SeeDeployment>(trains.clone())
            .register::<crate::handlers::deployments::SeeDeploymentStatus>(trains.clone())
            .register::<crate::handlers::deployments::CommentDeployed>(trains.clone())
            .register::<crate::handlers::autolabel::AutolabelPullRequest>(trains.clone())
            .register::<crate::handlers::chat::SendReply>(trains)
    }

    /// A runner over this state's queue with this build's handlers.
    pub fn runner(&self) -> Runner {
        Runner::new(self.queue.clone(), self.registry())
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(web::dashboard::home))
        .route("/signin", get(web::dashboard::sign_in))
        .route("/oauth/github/signin", get(web::dashboard::signed_in))
        .route("/signout", axum::routing::post(web::dashboard::sign_out))
        .route("/repos/{owner}/{name}", get(web::dashboard::repository))
        .route(
            "/repos/{owner}/{name}/commands",
            axum::routing::post(web::dashboard::command),
        )
        .route(
            "/api/v1/repos/{owner}/{name}/metrics",
            get(web::dashboard::metrics_api),
        )
        .route("/setup", axum::routing::post(web::setup::start))
        .route("/setup/callback", get(web::setup::callback))
        .route("/healthz", get(web::health::healthz))
        .route("/readyz", get(web::health::readyz))
        .route("/metrics", get(web::metrics::metrics))
        .merge(inbound::routes(&state.body_budget, &state.settings))
        // Bounds a request that trickles its body or waits on a held store.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.settings.http.request_timeout,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                // A refused request is the caller's problem, not an outage.
                .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN)),
        )
        .with_state(state)
}

/// One span per request, carrying the delivery id when GitHub sent one.
fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let delivery = request
        .headers()
        .get("x-github-delivery")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        delivery,
    )
}

/// Where settings come from again when they are reloaded (SIGHUP, or the setup page having
/// written the GitHub App's credentials): the settings file and the environment.
pub type SettingsSource = Arc<dyn Fn() -> anyhow::Result<Settings> + Send + Sync>;

/// Runs the server until ctrl-c or SIGTERM: stops accepting, lets running jobs finish for
/// up to the shutdown grace, then returns. On SIGHUP (or a reload the setup page asks for)
/// the settings are read again and the server restarts in place on the same socket: new
/// secrets take effect without dropping the listener.
pub async fn serve(settings: Settings, source: SettingsSource) -> anyhow::Result<()> {
    let listen = settings.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let mut settings = settings;
    // Generations replaced by a reload, still finishing their running jobs.
    let mut retiring = tokio::task::JoinSet::new();
    loop {
        let reload = shutdown.child_token();
        #[cfg(unix)]
        let hangup = tokio::spawn(reload_on_hangup(reload.clone()));
        let finish = serve_until(&listener, bound, settings.clone(), reload.clone()).await?;
        #[cfg(unix)]
        hangup.abort();
        if shutdown.is_cancelled() {
            finish.await;
            while retiring.join_next().await.is_some() {}
            break;
        }
        // The next generation serves at once; this one's jobs finish alongside it.
        retiring.spawn(finish);
        match source() {
            Ok(fresh) => {
                tracing::info!("settings reloaded");
                settings = fresh;
            }
            Err(error) => {
                tracing::error!(%error, "the new settings are not usable; keeping the old ones");
            }
        }
    }
    tracing::info!("trainyard stopped");
    Ok(())
}

/// One generation of the server: state, workers and HTTP until `stop` (shutdown or reload).
/// Returns once HTTP has stopped, with what is left to finish: the intake's last batch and
/// the running jobs (up to the shutdown grace), then the store.
async fn serve_until(
    listener: &tokio::net::TcpListener,
    bound: std::net::SocketAddr,
    settings: Settings,
    stop: CancellationToken,
) -> anyhow::Result<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> {
    let workers = settings.workers;
    let grace = settings.shutdown_grace;
    for line in settings.unconfigured_integrations() {
        tracing::warn!("{line}");
    }
    let store = redact_url(settings.database_url.expose());
    let state = AppState::open(settings, Arc::new(SystemClock)).await?;
    // Setup belongs to the operator: whoever reads this log (or the file) has the code.
    if state.settings.github.is_none() && state.settings.setup == crate::settings::SetupPage::On {
        let (code, file) = state.setup.prepare(&state.settings);
        let page = state
            .settings
            .public_url
            .as_deref()
            .unwrap_or("this server's /");
        match file {
            Some(file) => tracing::warn!(
                setup_code = %code,
                file = %file.display(),
                "no GitHub App yet: open {page} and register it with this setup code"
            ),
            None => tracing::warn!(
                setup_code = %code,
                "no GitHub App yet: open {page} and register it with this setup code"
            ),
        }
    }
    *state
        .reload
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(stop.clone());
    tracing::info!(%bound, %store, workers, "trainyard is serving");

    let mut worker_tasks = state.runner().start(workers, stop.clone());
    let intake_writer = state.take_intake_writer();
    tokio::spawn(enqueue_housekeeping(state.queue.clone(), stop.clone()));
    let db = state.db.clone();

    let limits = state.settings.http.clone();
    tracing::info!(
        max_connections = limits.max_connections,
        header_timeout_secs = limits.header_timeout.as_secs(),
        request_timeout_secs = limits.request_timeout.as_secs(),
        "HTTP limits"
    );
    crate::server::serve(listener, router(state), &limits, stop.clone()).await;

    Ok(Box::pin(async move {
        // The router, and with it every handle on the intake, is gone: the writer finishes
        // what it holds and stops.
        if let Some(writer) = intake_writer {
            let _ = writer.await;
        }
        tracing::info!(
            grace_secs = grace.as_secs(),
            "stopped accepting; waiting for running jobs"
        );
        let drained = tokio::time::timeout(grace, async {
            while worker_tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "jobs still running after the grace period; their leases will expire and another worker will retry them"
            );
            worker_tasks.abort_all();
        }
        db.close().await;
    }))
}

/// SIGHUP asks for the settings to be read again (secrets rotated, the App registered).
#[cfg(unix)]
async fn reload_on_hangup(reload: CancellationToken) {
    let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        return;
    };
    if hangup.recv().await.is_some() {
        tracing::info!("SIGHUP received; reloading the settings");
        reload.cancel();
    }
}

/// How often housekeeping jobs are enqueued.
const HOUSEKEEPING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);
/// How often schedules are checked (cron has minute resolution).
const SCHEDULE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Enqueues the periodic jobs: housekeeping now and every hour, schedule checks now (a slot
/// missed while the service was down fires at start-up) and every minute. The jobs carry
/// dedupe keys, so replicas doing the same add nothing.
async fn enqueue_housekeeping(queue: crate::jobs::Queue, shutdown: CancellationToken) {
    let mut hourly = tokio::time::interval(HOUSEKEEPING_INTERVAL);
    let mut minutely = tokio::time::interval(SCHEDULE_INTERVAL);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = hourly.tick() => {
                if let Err(error) = queue.enqueue_now(&Housekeeping).await {
                    tracing::warn!(%error, "cannot enqueue housekeeping");
                }
            }
            _ = minutely.tick() => {
                if let Err(error) = queue.enqueue_now(&ScheduledCuts).await {
                    tracing::warn!(%error, "cannot enqueue the schedule check");
                }
            }
        }
    }
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("ctrl-c received; shutting down"),
        () = terminate => tracing::info!("SIGTERM received; shutting down"),
    }
    shutdown.cancel();
}

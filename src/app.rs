//! Wiring: builds the store, the queue and the router from [`Settings`], and runs the server
//! with its workers until a shutdown signal.

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::http::{Request, StatusCode};
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::clock::SystemClock;
use crate::handlers::events::Housekeeping;
use crate::handlers::trains::ScheduledCuts;
use crate::settings::{Settings, redact_url};
use crate::{inbound, web};

pub use crate::state::AppState;

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let mut events: Vec<&'static str> = inbound::github::payload::HANDLED_EVENTS.to_vec();
    events.extend(["ping", "other", "none"]);
    crate::metrics::metrics().know(&events, &state.registry().kinds());
    web::routes()
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
    tokio::spawn(enqueue_housekeeping(
        state.queue.clone(),
        state.db.clone(),
        stop.clone(),
    ));
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
/// missed while the service was down fires at start-up) and every minute, and the release
/// gate's requests a freeze held once it ends (looked for every two seconds), and the
/// rounds of deployment bakes that are due (every second). The jobs carry
/// dedupe keys, so replicas doing the same add nothing.
async fn enqueue_housekeeping(
    queue: crate::jobs::Queue,
    db: crate::store::Db,
    shutdown: CancellationToken,
) {
    let mut hourly = tokio::time::interval(HOUSEKEEPING_INTERVAL);
    let mut minutely = tokio::time::interval(SCHEDULE_INTERVAL);
    let mut thaw = tokio::time::interval(crate::handlers::deploys::gate::THAW_CHECK_INTERVAL);
    thaw.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut bakes = tokio::time::interval(crate::handlers::deploys::verify::BAKE_SWEEP_INTERVAL);
    bakes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = thaw.tick() => {
                let now = queue.clock().now().as_millisecond();
                if let Err(error) = crate::handlers::deploys::gate::enqueue_thawed(&db, &queue, now).await {
                    tracing::warn!(%error, "cannot look for deployments a freeze held");
                }
            }
            _ = bakes.tick() => {
                let now = queue.clock().now().as_millisecond();
                if let Err(error) = crate::handlers::deploys::enqueue_due_bakes(&db, &queue, now).await {
                    tracing::warn!(%error, "cannot look for bakes due a round");
                }
            }
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

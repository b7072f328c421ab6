//! `GET /metrics`: the service's Prometheus metrics (OpenMetrics text). The queue's figures
//! are read from the store when scraped, within a short bound: a busy store leaves the last
//! figures standing rather than holding the scrape.

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::state::AppState;

/// How long a scrape waits for the queue's figures.
const STORE_WAIT: Duration = Duration::from_secs(2);

/// The metrics, as Prometheus (and Fly's scraper) read them.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let figures = async {
        let counts = state.queue.counts().await?;
        let oldest = state.queue.oldest_due().await?;
        Ok::<_, crate::jobs::QueueError>((counts, oldest))
    };
    match tokio::time::timeout(STORE_WAIT, figures).await {
        Ok(Ok((counts, oldest))) => crate::metrics::metrics().queue(&counts, oldest),
        Ok(Err(error)) => tracing::warn!(%error, "queue figures not read for /metrics"),
        Err(_) => tracing::warn!("queue figures not read for /metrics: the store is busy"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        crate::metrics::metrics().render(),
    )
}

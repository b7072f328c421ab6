//! `GET /healthz` (the process is up) and `GET /readyz` (the store answers and every
//! migration is applied), for load balancers and orchestrators.
//!
//! `/readyz` never queues for a store connection: SQLite has one, and a probe polled every
//! second must not stand in line with deliveries. It checks on an idle connection when there
//! is one; when every connection is busy the store is evidently answering, and the last
//! verdict stands.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::server::readiness::Verdict;
use crate::state::AppState;
use crate::store::Readiness;

/// A verdict younger than this is answered again without asking the store.
const FRESH_FOR: Duration = Duration::from_secs(1);

/// Always 200 while the process serves requests.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 when the store is reachable and migrated; 503 with the reason otherwise.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let cached = state.readiness.get();
    let verdict = match cached {
        Some((at, verdict)) if at.elapsed() < FRESH_FOR => verdict,
        _ => match state.db.readiness_if_idle().await {
            Some(result) => {
                let verdict = match result {
                    Ok(Readiness::Ready) => Verdict::Ready,
                    Ok(Readiness::MigrationsPending(pending)) => {
                        Verdict::MigrationsPending(pending)
                    }
                    Err(error) => {
                        tracing::warn!(%error, "readiness check failed");
                        Verdict::Unreachable
                    }
                };
                state.readiness.set(verdict.clone());
                verdict
            }
            // Every connection is answering someone: the store is up. The last verdict (or,
            // before any, readiness) stands; the server only starts on a migrated store.
            None => cached.map_or(Verdict::Ready, |(_, verdict)| verdict),
        },
    };
    match verdict {
        Verdict::Ready => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Verdict::MigrationsPending(pending) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "migrations pending", "pending": pending })),
        ),
        Verdict::Unreachable => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "store unreachable" })),
        ),
    }
}

//! The dashboard's JSON: release health for a signed-in reader.

use super::{reader, session};
use crate::domain::health::{self};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// `?days=N` for the metrics API.
#[derive(Debug, Deserialize)]
pub struct MetricsQuery {
    days: Option<i64>,
}

/// `GET /api/v1/repos/{owner}/{name}/metrics?days=N`: the health figures as JSON, for a
/// signed-in reader.
pub async fn metrics_api(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    Query(query): Query<MetricsQuery>,
    headers: HeaderMap,
) -> Response {
    let json_error = |status: StatusCode, text: &str| {
        (status, Json(serde_json::json!({ "error": text }))).into_response()
    };
    if session(&state, &headers).await.is_none() {
        return json_error(StatusCode::UNAUTHORIZED, "sign in at / first");
    }
    let days = query.days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return json_error(StatusCode::BAD_REQUEST, "days must be 1 to 365");
    }
    let (_, repo, _, _) = match reader(&state, &headers, &owner, &name).await {
        Ok(reader) => reader,
        Err(_) => return json_error(StatusCode::NOT_FOUND, "no such repository you can read"),
    };
    let figures = async {
        let history = crate::handlers::chat::release_history(&state.train_context(), &repo).await?;
        Ok::<_, crate::store::StoreError>(health::compute(
            &history,
            state.queue.clock().now().as_millisecond(),
            days,
        ))
    };
    match figures.await {
        Ok(figures) => Json(serde_json::json!({
            "repository": repo.as_ref(),
            "metrics": figures,
            "definitions": health::DEFINITIONS.iter().map(|(k, v)| (*k, *v)).collect::<std::collections::BTreeMap<_, _>>(),
        }))
        .into_response(),
        Err(_) => json_error(StatusCode::SERVICE_UNAVAILABLE, "the store did not answer"),
    }
}

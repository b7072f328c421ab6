//! The release gate for other tools (Argo CD, Flagger, a deploy script):
//! `GET /api/v1/repos/{owner}/{repo}/gate?environment=…&sha=…` with a bearer token the
//! operator issued for the repository (`trainyard token issue --repo …`). Answered from the
//! same decision as the deployment protection rule; every call is audited.

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::domain::gate::{GateAnswer, short};
use crate::domain::ids::RepoFullName;
use crate::handlers::deploys::gate::{Decided, GateAsk, ask_gate};
use crate::state::AppState;
use crate::store::api_tokens::{self, ApiToken};
use crate::store::audit::{self, Entry};

/// A request that carried a live gate token (`Authorization: Bearer tyg_…`).
#[derive(Debug, Clone)]
pub struct VerifiedGateToken(pub ApiToken);

fn refusal(status: StatusCode, reason: &str) -> Response {
    let mut response =
        (status, Json(json!({ "allowed": false, "reason": reason }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"trainyard gate\""),
        );
    }
    response
}

impl FromRequestParts<AppState> for VerifiedGateToken {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let Some(bearer) = bearer else {
            return Err(refusal(
                StatusCode::UNAUTHORIZED,
                "send the repository's gate token as `Authorization: Bearer tyg_…`",
            ));
        };
        match api_tokens::find(&state.db, bearer).await {
            Ok(Some(token)) => Ok(VerifiedGateToken(token)),
            Ok(None) => Err(refusal(
                StatusCode::UNAUTHORIZED,
                "the token is not a live gate token",
            )),
            Err(_) => Err(refusal(StatusCode::SERVICE_UNAVAILABLE, STORE_DOWN)),
        }
    }
}

/// `?environment=…&sha=…`.
#[derive(Debug, Deserialize)]
pub struct GateQuery {
    environment: Option<String>,
    sha: Option<String>,
}

/// What a gate request asks, once its parts are checked.
struct Asked {
    repo: RepoFullName,
    environment: String,
    sha: String,
}

/// The repository (the token's own), the environment and the full commit; or the refusal.
fn asked(
    token: &ApiToken,
    owner: &str,
    name: &str,
    query: GateQuery,
) -> Result<Asked, (StatusCode, &'static str)> {
    let Ok(repo) = RepoFullName::parse(&format!("{owner}/{name}")) else {
        return Err((StatusCode::BAD_REQUEST, "not a repository name"));
    };
    // A token answers for its own repository only; which others exist is not told.
    if !token.repository.eq_ignore_ascii_case(repo.as_ref()) {
        return Err((
            StatusCode::UNAUTHORIZED,
            "the token is not a live gate token for this repository",
        ));
    }
    let environment = query.environment.unwrap_or_default();
    if environment.is_empty() || environment.len() > 255 {
        return Err((
            StatusCode::BAD_REQUEST,
            "give the environment: ?environment=production",
        ));
    }
    let sha = query.sha.unwrap_or_default().to_ascii_lowercase();
    if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err((
            StatusCode::BAD_REQUEST,
            "give the full commit: ?sha= and its 40 hexadecimal characters",
        ));
    }
    Ok(Asked {
        repo,
        environment,
        sha,
    })
}

const STORE_DOWN: &str = "the store did not answer; ask again";

/// `GET /api/v1/repos/{owner}/{name}/gate`: `200 {"allowed": true, …}` or
/// `403 {"allowed": false, "reason": …}`.
pub async fn gate(
    VerifiedGateToken(token): VerifiedGateToken,
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    Query(query): Query<GateQuery>,
) -> Response {
    let asked = match asked(&token, &owner, &name, query) {
        Ok(asked) => asked,
        Err((status, reason)) => return refusal(status, reason),
    };
    let Asked {
        repo,
        environment,
        sha,
    } = &asked;
    let installation = match crate::store::installations::for_repository(&state.db, repo).await {
        Ok(Some(installation)) => installation,
        Ok(None) => {
            return refusal(
                StatusCode::NOT_FOUND,
                "trainyard is not installed on this repository",
            );
        }
        Err(_) => return refusal(StatusCode::SERVICE_UNAVAILABLE, STORE_DOWN),
    };
    let actor = format!("token:{}", token.label);
    let ask = GateAsk {
        environment,
        sha,
        actor: &actor,
        by_person: false,
    };
    let decided = match ask_gate(&state.train_context(), repo, installation, &ask).await {
        Ok(decided) => decided,
        Err(error) => {
            tracing::warn!(%repo, %error, "the gate could not decide");
            return refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "trainyard could not gather the facts (GitHub or the store); ask again",
            );
        }
    };
    answer(&state, &asked, &actor, &decided).await
}

/// Audits the decision, then gives it: an answer that could not be audited is not given.
async fn answer(state: &AppState, asked: &Asked, actor: &str, decided: &Decided) -> Response {
    let (allowed, wait_for) = match &decided.answer {
        GateAnswer::Approved(_) => (true, None),
        GateAnswer::Rejected(_) => (false, None),
        GateAnswer::NotYet { until, .. } => (false, Some(until.as_str())),
    };
    let reason = decided.answer.reason();
    let entry = Entry {
        repository: asked.repo.to_string(),
        train_id: decided.release.as_ref().and_then(|r| r.train_id),
        actor_login: actor.to_owned(),
        surface: "api".into(),
        action: "deploy.gate".into(),
        outcome: if allowed { "accepted" } else { "refused" }.into(),
        detail: format!(
            "gate API: commit {} to {}: {reason}",
            short(&asked.sha),
            asked.environment
        ),
        ..Entry::default()
    };
    let now = state.queue.clock().now().as_millisecond();
    if audit::record_alone(&state.db, &entry, now).await.is_err() {
        return refusal(StatusCode::SERVICE_UNAVAILABLE, STORE_DOWN);
    }
    let body = json!({
        "allowed": allowed,
        "reason": reason,
        "environment": asked.environment,
        "sha": asked.sha,
        "release": decided.release.as_ref().map(|r| r.tag.clone()),
        "waiting_for": wait_for,
    });
    let status = if allowed {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    (status, Json(body)).into_response()
}

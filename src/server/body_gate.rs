//! Admits request bodies before anyone knows who sent them. A signature covers the whole
//! body, so a body must be read before it can be refused; this bounds how many are read at
//! once and how many bytes the large ones hold, refuses a declared length over the route's
//! limit before reading a byte, and hands the route the body already read.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::error::HttpError;
use crate::settings::HttpLimits;

/// What bodies being read may hold, shared by every route.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    bodies: Arc<Semaphore>,
    /// Permits are KiB.
    large_kib: Arc<Semaphore>,
    large_kib_total: usize,
}

impl BodyBudget {
    /// The budget `limits` allow.
    pub fn new(limits: &HttpLimits) -> BodyBudget {
        let large_kib_total = (limits.large_body_budget / 1024).max(1);
        BodyBudget {
            bodies: Arc::new(Semaphore::new(limits.bodies_in_flight.max(1))),
            large_kib: Arc::new(Semaphore::new(large_kib_total)),
            large_kib_total,
        }
    }
}

/// The gate of one route: the shared budget and the route's largest body.
#[derive(Debug, Clone)]
pub struct Gate {
    budget: BodyBudget,
    max_bytes: usize,
}

impl Gate {
    /// A gate for a route whose bodies are at most `max_bytes`.
    pub fn new(budget: BodyBudget, max_bytes: usize) -> Gate {
        Gate { budget, max_bytes }
    }
}

/// Reads the body within the budget, or answers why not: 413 when it is (or says it is)
/// larger than the route takes, 503 with `Retry-After` when the budget is spent, 400 when the
/// client breaks off.
pub async fn admit(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    // The length the body will have (hyper reads it from `Content-Length`), if it is known.
    let declared = axum::body::HttpBody::size_hint(request.body()).exact();
    let max = gate.max_bytes as u64;
    if declared.is_some_and(|length| length > max) {
        return too_large(gate.max_bytes);
    }
    let Ok(_reading) = gate.budget.bodies.try_acquire() else {
        return busy("too many request bodies are being read");
    };
    // A body without a length may be as large as the route takes.
    let expected = declared.unwrap_or(max);
    let _large = if expected > HttpLimits::LARGE_BODY as u64 {
        let kib = u32::try_from(expected.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .min(u32::try_from(gate.budget.large_kib_total).unwrap_or(u32::MAX));
        match gate.budget.large_kib.try_acquire_many(kib) {
            Ok(permit) => Some(permit),
            Err(_) => return busy("too many large request bodies are being read"),
        }
    } else {
        None
    };

    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, gate.max_bytes).await {
        Ok(bytes) => bytes,
        Err(error) => {
            let too_long = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if too_long {
                return too_large(gate.max_bytes);
            }
            return HttpError::new(StatusCode::BAD_REQUEST, "the request body was cut off")
                .into_response();
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn too_large(max_bytes: usize) -> Response {
    HttpError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request bodies here are at most {max_bytes} bytes"),
    )
    .into_response()
}

fn busy(reason: &str) -> Response {
    let mut response = HttpError::new(StatusCode::SERVICE_UNAVAILABLE, reason).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}

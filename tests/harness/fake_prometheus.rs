//! A fake Prometheus and health URL on one HTTP server: `GET /api/v1/query` answers the next
//! value of a script (the last repeats), as Prometheus's query API does (an instant vector),
//! and `GET /healthz` answers the next status of its own script. Every query is recorded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// What the script says a query answers.
#[derive(Debug, Clone)]
pub enum Value {
    /// One series with this sample.
    Sample(f64),
    /// No series (an empty vector).
    NoData,
    /// Prometheus is down (a 503).
    Down,
}

struct Script<T> {
    next: VecDeque<T>,
    last: Option<T>,
}

impl<T> Default for Script<T> {
    fn default() -> Self {
        Script {
            next: VecDeque::new(),
            last: None,
        }
    }
}

impl<T: Clone> Script<T> {
    fn take(&mut self) -> Option<T> {
        if let Some(value) = self.next.pop_front() {
            self.last = Some(value);
        }
        self.last.clone()
    }
}

/// The queries asked: `(query, Authorization header)`.
type Asked = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// The fake.
pub struct FakePrometheus {
    server: MockServer,
    values: Arc<Mutex<Script<Value>>>,
    statuses: Arc<Mutex<Script<u16>>>,
    queries: Asked,
}

struct Query {
    values: Arc<Mutex<Script<Value>>>,
    queries: Asked,
}

impl Respond for Query {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let query = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "query")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        lock(&self.queries).push((query, auth));
        let value = lock(&self.values).take().unwrap_or(Value::NoData);
        let result = match value {
            Value::Down => return ResponseTemplate::new(503).set_body_string("unavailable"),
            Value::NoData => serde_json::json!([]),
            Value::Sample(v) => serde_json::json!([
                {"metric": {"env": "staging"}, "value": [1_764_230_400.0, v.to_string()]}
            ]),
        };
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "status": "success",
            "data": {"resultType": "vector", "result": result}
        }))
    }
}

struct Health(Arc<Mutex<Script<u16>>>);

impl Respond for Health {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        ResponseTemplate::new(lock(&self.0).take().unwrap_or(200))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakePrometheus {
    /// Starts it: queries answer no data and the health URL 200 until scripted.
    pub async fn start() -> FakePrometheus {
        let server = MockServer::start().await;
        let fake = FakePrometheus {
            server,
            values: Arc::default(),
            statuses: Arc::default(),
            queries: Arc::default(),
        };
        Mock::given(method("GET"))
            .and(path("/api/v1/query"))
            .respond_with(Query {
                values: fake.values.clone(),
                queries: fake.queries.clone(),
            })
            .mount(&fake.server)
            .await;
        Mock::given(method("GET"))
            .and(path("/healthz"))
            .respond_with(Health(fake.statuses.clone()))
            .mount(&fake.server)
            .await;
        fake
    }

    /// Its base URL (`TRAINYARD_PROMETHEUS_URL`).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The health URL it serves.
    pub fn health_url(&self) -> String {
        format!("{}/healthz", self.server.uri())
    }

    /// The next queries answer these values, in order; the last repeats.
    pub fn script(&self, values: &[Value]) {
        lock(&self.values).next.extend(values.iter().cloned());
    }

    /// The next health checks answer these statuses, in order; the last repeats.
    pub fn script_health(&self, statuses: &[u16]) {
        lock(&self.statuses).next.extend(statuses.iter().copied());
    }

    /// The queries asked so far, with the `Authorization` header each carried.
    pub fn queries(&self) -> Vec<(String, Option<String>)> {
        lock(&self.queries).clone()
    }
}

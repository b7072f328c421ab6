//! The HTTP server's limits (connections, bodies, slow clients, timeouts) and the queue's
//! (attempts, job timeout).

use super::SettingsError;
use super::flags::SettingsArgs;
use std::time::Duration;

/// What the HTTP server grants before a request has proven who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Open connections at most; past it the longest-idle connection is closed.
    pub max_connections: usize,
    /// Time to send a request's headers.
    pub header_timeout: Duration,
    /// Time for a whole request, body and answer included.
    pub request_timeout: Duration,
    /// Bodies being read (not yet verified) at once.
    pub bodies_in_flight: usize,
    /// Bytes that bodies over [`HttpLimits::LARGE_BODY`] may hold at once.
    pub large_body_budget: usize,
    /// The trusted proxy's header naming the client, if any.
    pub client_ip_header: Option<String>,
}

impl HttpLimits {
    /// Bodies above this many bytes draw on the large-body budget.
    pub const LARGE_BODY: usize = 256 * 1024;
    /// Open files kept back from connections: the store, outbound HTTP, logs.
    const RESERVED_FILES: usize = 128;

    /// The defaults, with the connection cap fitted to this process's open-file limit.
    pub fn defaults() -> HttpLimits {
        HttpLimits {
            max_connections: open_file_limit()
                .map_or(4096, |files| files.saturating_sub(Self::RESERVED_FILES))
                .clamp(32, 65_536),
            header_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            bodies_in_flight: 256,
            large_body_budget: 64 * 1024 * 1024,
            client_ip_header: None,
        }
    }
}

/// A count that must be at least one when it is given (zero would refuse or stop all).
pub(super) fn at_least_one<T: PartialEq + From<u8>>(
    name: &'static str,
    value: Option<T>,
) -> Result<Option<T>, SettingsError> {
    match value {
        Some(v) if v == T::from(0) => Err(SettingsError::Invalid {
            name,
            reason: "must be at least 1".into(),
        }),
        other => Ok(other),
    }
}

/// The HTTP limits: defaults, overridden where set; zero is refused (it would refuse all).
pub(super) fn http_limits(args: &SettingsArgs) -> Result<HttpLimits, SettingsError> {
    let mut limits = HttpLimits::defaults();
    if let Some(n) = at_least_one("TRAINYARD_MAX_CONNECTIONS", args.max_connections)? {
        limits.max_connections = n;
    }
    if let Some(secs) = at_least_one("TRAINYARD_HEADER_TIMEOUT_SECS", args.header_timeout_secs)? {
        limits.header_timeout = Duration::from_secs(secs);
    }
    if let Some(secs) = at_least_one("TRAINYARD_REQUEST_TIMEOUT_SECS", args.request_timeout_secs)? {
        limits.request_timeout = Duration::from_secs(secs);
    }
    if let Some(n) = at_least_one("TRAINYARD_BODIES_IN_FLIGHT", args.bodies_in_flight)? {
        limits.bodies_in_flight = n;
    }
    if let Some(mib) = at_least_one(
        "TRAINYARD_LARGE_BODY_BUDGET_MIB",
        args.large_body_budget_mib,
    )? {
        limits.large_body_budget = mib.saturating_mul(1024 * 1024);
    }
    if let Some(name) = &args.client_ip_header {
        if axum::http::HeaderName::try_from(name.as_str()).is_err() {
            return Err(SettingsError::Invalid {
                name: "TRAINYARD_CLIENT_IP_HEADER",
                reason: format!("`{name}` is not a header name"),
            });
        }
        limits.client_ip_header = Some(name.to_ascii_lowercase());
    }
    Ok(limits)
}

/// The soft open-file limit, where the platform says (Linux: `/proc/self/limits`).
pub(super) fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Default attempts before a job is dead.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

/// Default limit on one attempt's run time.
pub const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(300);

/// Tunables of the queue.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Attempts before a job is dead, unless its kind says otherwise.
    pub max_attempts: u32,
    /// Limit on one attempt's run time.
    pub job_timeout: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            job_timeout: DEFAULT_JOB_TIMEOUT,
        }
    }
}

//! Admits request bodies before anyone knows who sent them. A signature covers the whole
//! body, so a body must be read before it can be refused; this answers a route whose
//! integration is not configured before reading a byte, refuses a declared length over the
//! route's limit, bounds how many bodies are read at once and how many bytes the large ones
//! hold — in all and for each client address —, cuts a body that arrives slower than a
//! minimum rate after its first second, and hands the route the body already read.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use tokio::sync::Semaphore;

use crate::error::HttpError;
use crate::settings::HttpLimits;

/// A body is given this long before the minimum rate applies.
pub const BODY_GRACE: Duration = Duration::from_secs(1);
/// After [`BODY_GRACE`], a body must have arrived at this many bytes a second on average.
pub const MIN_BODY_RATE: u64 = 1024;

/// A body still arriving after this long is slow: it counts against its client's share.
pub const SLOW_AFTER: Duration = Duration::from_millis(250);
/// A client one of whose bodies was cut for being slow (past its share of slow bodies, or
/// under the minimum rate) is held to its share of bodies in all for this long after the
/// last such cut.
const PENALTY: Duration = Duration::from_secs(10);

/// What one client address may hold of the budget: any number of bodies that arrive
/// quickly (GitHub's bursts), but at most a quarter of the bodies read at once among those
/// still arriving after [`SLOW_AFTER`]; and half of the large-body bytes (or one large body).
const PEER_BODIES_SHARE: usize = 4;
const PEER_LARGE_SHARE: usize = 2;

/// What bodies being read may hold, shared by every route.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    bodies: Arc<Semaphore>,
    /// Permits are KiB.
    large_kib: Arc<Semaphore>,
    large_kib_total: usize,
    peers: Arc<Mutex<HashMap<IpAddr, PeerUse>>>,
    peer_bodies: usize,
    peer_large_kib: usize,
    /// The trusted proxy's header naming the client (Fly's `Fly-Client-IP`), if one is set.
    client_ip_header: Option<HeaderName>,
}

/// What one client address holds now.
#[derive(Debug, Clone, Copy, Default)]
struct PeerUse {
    bodies: usize,
    /// Of them, those still arriving after [`SLOW_AFTER`].
    slow: usize,
    large_kib: usize,
    /// Until then the address is held to its share of bodies in all.
    penalized_until: Option<Instant>,
}

impl PeerUse {
    fn penalized(&self, now: Instant) -> bool {
        self.penalized_until.is_some_and(|until| until > now)
    }
}

impl BodyBudget {
    /// The budget `limits` allow.
    pub fn new(limits: &HttpLimits) -> BodyBudget {
        let large_kib_total = (limits.large_body_budget / 1024).max(1);
        let bodies = limits.bodies_in_flight.max(1);
        BodyBudget {
            bodies: Arc::new(Semaphore::new(bodies)),
            large_kib: Arc::new(Semaphore::new(large_kib_total)),
            large_kib_total,
            peers: Arc::default(),
            peer_bodies: (bodies / PEER_BODIES_SHARE).max(1),
            peer_large_kib: (large_kib_total / PEER_LARGE_SHARE).max(1),
            client_ip_header: limits
                .client_ip_header
                .as_deref()
                .and_then(|name| HeaderName::try_from(name).ok()),
        }
    }

    /// The client's address: the trusted proxy's header when one is configured (and names
    /// an address), else the connection's peer.
    fn client(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<IpAddr> {
        self.client_ip_header
            .as_ref()
            .and_then(|name| headers.get(name))
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse().ok())
            .or(peer)
    }

    /// Takes `client`'s share for one body of `large_kib` large-body KiB; `None` when the
    /// address already holds its share (of large bodies, or of all bodies while it is
    /// penalized for slow ones).
    fn take_share(&self, client: Option<IpAddr>, large_kib: usize) -> Option<PeerShare> {
        let Some(address) = client else {
            return Some(PeerShare {
                held: None,
                slow: false,
            });
        };
        let now = Instant::now();
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        peers.retain(|_, held| held.bodies > 0 || held.penalized(now));
        let held = peers.entry(address).or_default();
        // One body of any size the route takes is always the address's (the whole budget
        // still bounds it); beyond that, its share.
        let over_large =
            large_kib > 0 && held.large_kib > 0 && held.large_kib + large_kib > self.peer_large_kib;
        if over_large || (held.penalized(now) && held.bodies >= self.peer_bodies) {
            if held.bodies == 0 && !held.penalized(now) {
                peers.remove(&address);
            }
            return None;
        }
        held.bodies += 1;
        held.large_kib += large_kib;
        Some(PeerShare {
            held: Some((self.clone(), address, large_kib)),
            slow: false,
        })
    }
}

/// A client address's share of the budget, given back when the body is read.
struct PeerShare {
    held: Option<(BodyBudget, IpAddr, usize)>,
    /// Counted among the address's slow bodies.
    slow: bool,
}

impl PeerShare {
    /// The body is still arriving after [`SLOW_AFTER`]: counted among its address's slow
    /// ones; `false` (and the address penalized) when it already has its share of those.
    fn turn_slow(&mut self) -> bool {
        let Some((budget, address, _)) = &self.held else {
            return true;
        };
        let mut peers = budget.peers.lock().unwrap_or_else(|p| p.into_inner());
        let Some(held) = peers.get_mut(address) else {
            return true;
        };
        if held.slow >= budget.peer_bodies {
            held.penalized_until = Some(Instant::now() + PENALTY);
            return false;
        }
        held.slow += 1;
        self.slow = true;
        true
    }

    /// The body was cut for arriving too slowly: its address is held to its share.
    fn penalize(&self) {
        let Some((budget, address, _)) = &self.held else {
            return;
        };
        let mut peers = budget.peers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = peers.get_mut(address) {
            held.penalized_until = Some(Instant::now() + PENALTY);
        }
    }
}

impl Drop for PeerShare {
    fn drop(&mut self) {
        let Some((budget, address, large_kib)) = self.held.take() else {
            return;
        };
        let mut peers = budget.peers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = peers.get_mut(&address) {
            held.bodies = held.bodies.saturating_sub(1);
            held.large_kib = held.large_kib.saturating_sub(large_kib);
            if self.slow {
                held.slow = held.slow.saturating_sub(1);
            }
            if held.bodies == 0 && !held.penalized(Instant::now()) {
                peers.remove(&address);
            }
        }
    }
}

/// The gate of one route: the shared budget, the route's largest body, and, for a route
/// whose integration is not configured, its answer (given before a byte is read).
#[derive(Debug, Clone)]
pub struct Gate {
    budget: BodyBudget,
    max_bytes: usize,
    unconfigured: Option<(&'static str, &'static str)>,
}

impl Gate {
    /// A gate for a route whose bodies are at most `max_bytes`.
    pub fn new(budget: BodyBudget, max_bytes: usize) -> Gate {
        Gate {
            budget,
            max_bytes,
            unconfigured: None,
        }
    }

    /// The same gate for a route whose `integration` is not configured: it answers 503
    /// naming the `settings` it needs, reading nothing.
    pub fn unconfigured(mut self, integration: &'static str, settings: &'static str) -> Gate {
        self.unconfigured = Some((integration, settings));
        self
    }
}

/// Reads the body within the budget, or answers why not: 413 when it is (or says it is)
/// larger than the route takes, 503 with `Retry-After` when the budget is spent, 400 when the
/// client breaks off.
pub async fn admit(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    if let Some((integration, settings)) = gate.unconfigured {
        return HttpError::not_configured(integration, settings).into_response();
    }
    // The length the body will have (hyper reads it from `Content-Length`), if it is known.
    let declared = axum::body::HttpBody::size_hint(request.body()).exact();
    let max = gate.max_bytes as u64;
    if declared.is_some_and(|length| length > max) {
        return too_large(gate.max_bytes);
    }
    // A body without a length may be as large as the route takes.
    let expected = declared.unwrap_or(max);
    let large_kib = if expected > HttpLimits::LARGE_BODY as u64 {
        usize::try_from(expected.div_ceil(1024))
            .unwrap_or(usize::MAX)
            .min(gate.budget.large_kib_total)
    } else {
        0
    };
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let client = gate.budget.client(request.headers(), peer);
    let Some(mut share) = gate.budget.take_share(client, large_kib) else {
        return busy("this address has too many request bodies being read");
    };
    let Ok(_reading) = gate.budget.bodies.try_acquire() else {
        return busy("too many request bodies are being read");
    };
    let _large = if large_kib > 0 {
        match gate
            .budget
            .large_kib
            .try_acquire_many(u32::try_from(large_kib).unwrap_or(u32::MAX))
        {
            Ok(permit) => Some(permit),
            Err(_) => return busy("too many large request bodies are being read"),
        }
    } else {
        None
    };

    let (parts, body) = request.into_parts();
    let bytes = match read_at_a_rate(body, gate.max_bytes, &mut share).await {
        Ok(bytes) => bytes,
        Err(Unread::TooLarge) => return too_large(gate.max_bytes),
        Err(Unread::OverShare) => {
            return busy("this address has too many slow request bodies being read");
        }
        Err(Unread::TooSlow) => {
            share.penalize();
            return HttpError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!("the request body arrived slower than {MIN_BODY_RATE} bytes a second"),
            )
            .into_response();
        }
        Err(Unread::CutOff) => {
            return HttpError::new(StatusCode::BAD_REQUEST, "the request body was cut off")
                .into_response();
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Why a body was not read.
#[derive(Debug, PartialEq, Eq)]
enum Unread {
    TooLarge,
    TooSlow,
    /// Still arriving after [`SLOW_AFTER`] while its address had its share of such bodies.
    OverShare,
    CutOff,
}

/// Reads `body` (at most `max_bytes`), as long as it keeps arriving: after [`BODY_GRACE`]
/// it must have come at [`MIN_BODY_RATE`] on average, so a client trickling a byte now and
/// then holds its permit for about a second, not the whole request deadline; and once it has
/// taken [`SLOW_AFTER`] it counts against its address's share (`share`), or is cut.
async fn read_at_a_rate(
    mut body: Body,
    max_bytes: usize,
    share: &mut PeerShare,
) -> Result<Bytes, Unread> {
    let started = Instant::now();
    let slow_at = started + SLOW_AFTER;
    let mut slow = false;
    let mut read = Vec::new();
    loop {
        let allowed = BODY_GRACE + Duration::from_millis(read.len() as u64 * 1000 / MIN_BODY_RATE);
        let rate_deadline = started + allowed;
        let deadline = if slow {
            rate_deadline
        } else {
            rate_deadline.min(slow_at)
        };
        let frame = match tokio::time::timeout_at(deadline.into(), body.frame()).await {
            Err(_) if !slow && Instant::now() >= slow_at && Instant::now() < rate_deadline => {
                if !share.turn_slow() {
                    return Err(Unread::OverShare);
                }
                slow = true;
                continue;
            }
            Err(_) => return Err(Unread::TooSlow),
            Ok(None) => break,
            Ok(Some(Err(_))) => return Err(Unread::CutOff),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if read.len() + data.len() > max_bytes {
                return Err(Unread::TooLarge);
            }
            read.extend_from_slice(&data);
        }
        if !slow && Instant::now() >= slow_at {
            if !share.turn_slow() {
                return Err(Unread::OverShare);
            }
            slow = true;
        }
    }
    Ok(Bytes::from(read))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(bodies: usize, large_mib: usize, header: Option<&str>) -> BodyBudget {
        BodyBudget::new(&HttpLimits {
            bodies_in_flight: bodies,
            large_body_budget: large_mib * 1024 * 1024,
            client_ip_header: header.map(str::to_owned),
            ..HttpLimits::defaults()
        })
    }

    #[test]
    fn an_address_is_held_to_its_share_of_slow_bodies_and_then_of_all() {
        let budget = budget(8, 64, None);
        let crowd: Option<IpAddr> = "127.0.0.2".parse().ok();
        // Quick bodies: any number (a burst of GitHub's deliveries).
        let mut held: Vec<PeerShare> = (0..6).filter_map(|_| budget.take_share(crowd, 0)).collect();
        assert_eq!(held.len(), 6);
        // Slow ones: a quarter of 8; the third is refused and the address penalized.
        assert!(held[0].turn_slow());
        assert!(held[1].turn_slow());
        assert!(!held[2].turn_slow(), "over its share of slow bodies");
        assert!(
            budget.take_share(crowd, 0).is_none(),
            "held to its share in all"
        );
        assert!(
            budget.take_share("127.0.0.1".parse().ok(), 0).is_some(),
            "others go on"
        );
        held.truncate(1);
        assert!(
            budget.take_share(crowd, 0).is_some(),
            "under its share again"
        );
        drop(held);
        // Large bodies: half the budget each, so one of GitHub's 25 MiB fits, two do not.
        let big = 25 * 1024;
        let first = budget.take_share("10.0.0.8".parse().ok(), big);
        assert!(first.is_some());
        assert!(budget.take_share("10.0.0.8".parse().ok(), big).is_none());
        assert!(budget.take_share("10.0.0.9".parse().ok(), big).is_some());
    }

    #[test]
    fn the_client_is_the_trusted_proxys_header_only_when_configured() {
        let mut headers = HeaderMap::new();
        headers.insert("fly-client-ip", "203.0.113.7".parse().expect("value"));
        let peer: Option<IpAddr> = "10.1.2.3".parse().ok();
        let trusted = budget(8, 64, Some("Fly-Client-IP"));
        assert_eq!(trusted.client(&headers, peer), "203.0.113.7".parse().ok());
        assert_eq!(budget(8, 64, None).client(&headers, peer), peer);
        headers.insert("fly-client-ip", "not an address".parse().expect("value"));
        assert_eq!(trusted.client(&headers, peer), peer);
    }

    #[tokio::test]
    async fn a_trickled_body_is_cut_after_its_first_second() {
        // A byte every 100 ms: ten bytes a second, far under the minimum rate.
        let trickle = futures::stream::unfold(0u32, |n| async move {
            if n >= 40 {
                return None;
            }
            if n > 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), n + 1))
        });
        let started = Instant::now();
        let mut share = PeerShare {
            held: None,
            slow: false,
        };
        assert_eq!(
            read_at_a_rate(Body::from_stream(trickle), 1024, &mut share).await,
            Err(Unread::TooSlow)
        );
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_millis(1500),
            "{took:?}"
        );
        // A body that keeps coming is read whole.
        let steady = futures::stream::iter(
            (0..64).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(&[b'y'; 512]))),
        );
        let read = read_at_a_rate(Body::from_stream(steady), 64 * 1024, &mut share).await;
        assert_eq!(read.map(|b| b.len()), Ok(32 * 1024));
    }
}

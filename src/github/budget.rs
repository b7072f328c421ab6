//! GitHub's budgets per installation, kept by the client:
//!
//! - the **primary** budget of each resource (`core`, `graphql`), as GitHub's
//!   `x-ratelimit-*` headers last said; when only the reserve is left, routine work waits for
//!   the reset and only urgent work (commands, releases, deployments) spends it;
//! - the **content-creating writes** (comments, releases, tags, deployments, check runs):
//!   at most [`ContentLimits`] in any minute and any hour, taken from a [`WriteLedger`] that
//!   every replica shares through the store;
//! - a **pause** of the installation's writes after GitHub's secondary limit answered, also
//!   shared, so one replica's `403` holds back the others, and only that installation.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use http::HeaderMap;
use jiff::Timestamp;

/// Content-creating writes allowed per installation; GitHub allows 80 a minute and 500 an
/// hour, and a little headroom keeps a clock skew or a write GitHub counts differently from
/// tipping over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentLimits {
    /// In any 60 seconds.
    pub per_minute: u32,
    /// In any 60 minutes.
    pub per_hour: u32,
}

impl Default for ContentLimits {
    fn default() -> Self {
        ContentLimits {
            per_minute: 75,
            per_hour: 480,
        }
    }
}

impl ContentLimits {
    /// What routine work may use: two thirds of the minute and three quarters of the hour,
    /// so a release's comments and a deployment always find room however busy the checks and
    /// notes are.
    pub fn for_routine(self) -> ContentLimits {
        ContentLimits {
            per_minute: (self.per_minute * 2 / 3).max(1),
            per_hour: (self.per_hour * 3 / 4).max(1),
        }
    }
}

/// The share of a primary budget kept for urgent work.
pub const RESERVE_PERCENT: i64 = 10;

/// What a write must wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// Which kind: `pace` (content writes), `pause` (GitHub's secondary limit), `reserve`
    /// (the primary budget's last share).
    pub budget: &'static str,
    /// When it may go.
    pub until: Timestamp,
    /// Which budget holds it, for the job's record and `/release status`.
    pub reason: String,
}

/// Why the ledger could not answer (the store failed).
#[derive(Debug, Clone, thiserror::Error)]
#[error("write budget unavailable: {0}")]
pub struct LedgerError(pub String);

/// A ledger's answer.
pub type LedgerFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LedgerError>> + Send + 'a>>;

/// Which writes an installation has made lately, and whether they are paused: shared by
/// every replica (the store's ledger), or this process's alone (the command line's).
pub trait WriteLedger: Send + Sync + std::fmt::Debug {
    /// Takes one write of `installation` at `now`: a content-creating one counts against
    /// `limits`; any write waits out a pause. `Some(hold)` when it must wait (nothing taken).
    fn take<'a>(
        &'a self,
        installation: u64,
        content: bool,
        limits: ContentLimits,
        now: Timestamp,
    ) -> LedgerFuture<'a, Option<Hold>>;

    /// Pauses `installation`'s writes until `until` (never shortens a longer pause).
    fn pause<'a>(
        &'a self,
        installation: u64,
        until: Timestamp,
        reason: &'a str,
        now: Timestamp,
    ) -> LedgerFuture<'a, ()>;

    /// Until when `installation`'s writes are paused, if they are.
    fn paused_until<'a>(
        &'a self,
        installation: u64,
        now: Timestamp,
    ) -> LedgerFuture<'a, Option<Hold>>;
}

/// When a sliding log of write times (oldest first, all within the last hour) allows one
/// more at `now`: `None` when it does, else the time the binding window frees a place.
pub fn next_write_at(log: &[i64], limits: ContentLimits, now: i64) -> Option<(i64, &'static str)> {
    let windows = [
        (60_000_i64, limits.per_minute, "content writes per minute"),
        (3_600_000, limits.per_hour, "content writes per hour"),
    ];
    let mut wait: Option<(i64, &'static str)> = None;
    for (length, allows, name) in windows {
        let allows = usize::try_from(allows.max(1)).unwrap_or(usize::MAX);
        let inside: Vec<i64> = log
            .iter()
            .copied()
            .filter(|at| *at > now - length)
            .collect();
        if inside.len() >= allows {
            // The write that must leave the window before one more fits in it.
            let frees_at = inside[inside.len() - allows] + length;
            if wait.is_none_or(|(at, _)| frees_at > at) {
                wait = Some((frees_at, name));
            }
        }
    }
    wait
}

/// This process's own ledger, for the command line (one process, no store).
#[derive(Debug, Default)]
pub struct MemoryLedger {
    installations: Mutex<HashMap<u64, (Vec<i64>, i64)>>,
}

impl WriteLedger for MemoryLedger {
    fn take<'a>(
        &'a self,
        installation: u64,
        content: bool,
        limits: ContentLimits,
        now: Timestamp,
    ) -> LedgerFuture<'a, Option<Hold>> {
        let now = now.as_millisecond();
        let mut map = self.installations.lock().unwrap_or_else(|p| p.into_inner());
        let (log, paused) = map.entry(installation).or_default();
        log.retain(|at| *at > now - 3_600_000);
        let answer = if *paused > now {
            Some(paused_hold(*paused))
        } else if !content {
            None
        } else if let Some((at, name)) = next_write_at(log, limits, now) {
            Some(pace_hold(at, name))
        } else {
            log.push(now);
            None
        };
        Box::pin(std::future::ready(Ok(answer)))
    }

    fn pause<'a>(
        &'a self,
        installation: u64,
        until: Timestamp,
        _reason: &'a str,
        _now: Timestamp,
    ) -> LedgerFuture<'a, ()> {
        let mut map = self.installations.lock().unwrap_or_else(|p| p.into_inner());
        let (_, paused) = map.entry(installation).or_default();
        *paused = (*paused).max(until.as_millisecond());
        Box::pin(std::future::ready(Ok(())))
    }

    fn paused_until<'a>(
        &'a self,
        installation: u64,
        now: Timestamp,
    ) -> LedgerFuture<'a, Option<Hold>> {
        let map = self.installations.lock().unwrap_or_else(|p| p.into_inner());
        let paused = map.get(&installation).map_or(0, |(_, p)| *p);
        let answer = (paused > now.as_millisecond()).then(|| paused_hold(paused));
        Box::pin(std::future::ready(Ok(answer)))
    }
}

/// Content writes held until `at` (epoch ms) by the window `name`.
pub fn pace_hold(at: i64, name: &str) -> Hold {
    Hold {
        budget: "pace",
        until: Timestamp::from_millisecond(at).unwrap_or(Timestamp::MAX),
        reason: format!("paced: GitHub allows only so many {name}"),
    }
}

/// Writes paused until `at` (epoch ms) after GitHub's secondary limit answered.
pub fn paused_hold(at: i64) -> Hold {
    Hold {
        budget: "pause",
        until: Timestamp::from_millisecond(at).unwrap_or(Timestamp::MAX),
        reason: "writes paused: GitHub's secondary rate limit answered".to_owned(),
    }
}

/// One resource's primary budget as GitHub last reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateBudget {
    /// Requests allowed per hour.
    pub limit: i64,
    /// Requests left until the reset.
    pub remaining: i64,
    /// When the budget refills.
    pub reset: Timestamp,
}

impl RateBudget {
    /// Requests kept for urgent work.
    pub fn reserve(&self) -> i64 {
        self.limit * RESERVE_PERCENT / 100
    }

    /// Whether only the reserve is left at `now` (a reset already past refilled it).
    pub fn at_reserve(&self, now: Timestamp) -> bool {
        self.remaining <= self.reserve() && self.reset > now
    }
}

/// The primary budgets GitHub reported, per installation and resource.
#[derive(Debug, Default)]
pub struct PrimaryBudgets {
    seen: Mutex<HashMap<(u64, String), RateBudget>>,
}

impl PrimaryBudgets {
    /// Keeps what an answer's headers say of `installation`'s budget.
    pub fn observe(&self, installation: u64, headers: &HeaderMap) {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let number = |name: &str| header(name).and_then(|v| v.parse::<i64>().ok());
        let (Some(limit), Some(remaining), Some(reset)) = (
            number("x-ratelimit-limit"),
            number("x-ratelimit-remaining"),
            number("x-ratelimit-reset").and_then(|s| Timestamp::from_second(s).ok()),
        ) else {
            return;
        };
        let resource = header("x-ratelimit-resource").unwrap_or("core");
        if !matches!(resource, "core" | "graphql") {
            return;
        }
        let budget = RateBudget {
            limit,
            remaining,
            reset,
        };
        crate::metrics::metrics().github_budget(installation, resource, &budget);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert((installation, resource.to_owned()), budget);
    }

    /// `installation`'s budget of `resource`, if GitHub has reported it.
    pub fn get(&self, installation: u64, resource: &str) -> Option<RateBudget> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(&(installation, resource.to_owned())).copied()
    }

    /// A hold for routine work when `resource` is down to its reserve: until the reset.
    pub fn reserve_hold(&self, installation: u64, resource: &str, now: Timestamp) -> Option<Hold> {
        let budget = self.get(installation, resource)?;
        budget.at_reserve(now).then(|| Hold {
            budget: "reserve",
            until: budget.reset,
            reason: format!(
                "GitHub's {resource} budget is down to its reserve ({} of {} left); routine \
                 work waits for the reset",
                budget.remaining, budget.limit
            ),
        })
    }
}

/// Which primary budget a route spends.
pub fn resource_of(route: &str) -> &'static str {
    if route.starts_with("/graphql") {
        "graphql"
    } else {
        "core"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ContentLimits = ContentLimits {
        per_minute: 3,
        per_hour: 5,
    };

    #[test]
    fn a_log_under_its_limits_allows_a_write() {
        assert_eq!(next_write_at(&[], LIMITS, 1_000), None);
        assert_eq!(next_write_at(&[1, 2], LIMITS, 1_000), None);
    }

    #[test]
    fn a_full_minute_waits_for_its_oldest_write_to_leave() {
        assert_eq!(
            next_write_at(&[100, 200, 300], LIMITS, 1_000),
            Some((60_100, "content writes per minute"))
        );
        // Writes older than a minute do not count against it.
        assert_eq!(next_write_at(&[100, 200, 300], LIMITS, 60_200), None);
    }

    #[test]
    fn a_full_hour_binds_after_the_minute() {
        let log = [0, 1, 70_000, 80_000, 200_000];
        assert_eq!(
            next_write_at(&log, LIMITS, 300_000),
            Some((3_600_000, "content writes per hour"))
        );
    }

    #[test]
    fn a_budget_at_its_reserve_holds_until_the_reset() {
        let now: Timestamp = "2026-12-05T10:00:00Z".parse().expect("time");
        let budget = RateBudget {
            limit: 5_000,
            remaining: 499,
            reset: now + jiff::SignedDuration::from_mins(20),
        };
        assert!(budget.at_reserve(now));
        assert!(!budget.at_reserve(budget.reset));
        assert!(
            !RateBudget {
                remaining: 501,
                ..budget
            }
            .at_reserve(now)
        );
    }
}

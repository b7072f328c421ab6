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

pub use crate::domain::write_budget::{ContentLimits, WriteVerdict, next_write_at};

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
        } else if let Some((at, window)) = next_write_at(log, limits, now) {
            Some(pace_hold(at, window))
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

/// What a ledger's verdict holds back, if anything.
pub fn hold_of(verdict: WriteVerdict) -> Option<Hold> {
    match verdict {
        WriteVerdict::Allowed => None,
        WriteVerdict::Paced { until_ms, window } => Some(pace_hold(until_ms, window)),
        WriteVerdict::Paused { until_ms } => Some(paused_hold(until_ms)),
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
        crate::metrics::metrics().github_budget(
            installation,
            resource,
            budget.remaining,
            budget.reserve(),
        );
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

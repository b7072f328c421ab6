//! GitHub's limits, kept by the fake as GitHub keeps them: content-creating writes at most 80
//! a minute and 500 an hour per account (the secondary limit's `403` beyond), a primary
//! budget reported in `x-ratelimit-*` headers when a story sets one, and a secondary-limit
//! answer on demand.

use std::collections::HashMap;

use trainyard::clock::{Clock, ManualClock};
use wiremock::ResponseTemplate;

/// GitHub's content-creation limits.
const PER_MINUTE: usize = 80;
const PER_HOUR: usize = 500;

/// A primary budget the fake reports.
#[derive(Debug, Clone, Copy)]
pub struct Primary {
    /// Requests per hour.
    pub limit: i64,
    /// Left until the reset.
    pub remaining: i64,
    /// The reset, epoch seconds.
    pub reset: i64,
}

/// The limits' state.
#[derive(Debug, Default)]
pub struct Limits {
    /// The bot's clock: GitHub's minutes and hours pass with it.
    clock: Option<ManualClock>,
    /// Content-creating writes GitHub carried out: (epoch ms, account, `METHOD path`).
    pub writes: Vec<(i64, String, String)>,
    /// Secondary-limit `403`s answered.
    pub secondary_answers: usize,
    /// The primary budget reported, per account.
    pub primary: HashMap<String, Primary>,
    /// The next write whose path contains this is answered `403` with `retry-after` (s).
    pub refuse_next: Option<(String, u64)>,
}

impl Limits {
    /// Time passes with `clock`.
    pub fn watch(&mut self, clock: ManualClock) {
        self.clock = Some(clock);
    }

    fn now_ms(&self) -> i64 {
        self.clock
            .as_ref()
            .map_or(0, |clock| clock.now().as_millisecond())
    }

    /// A refusal when this call would break a limit; `None` lets it through (and counts it).
    pub fn before(&mut self, method: &str, path: &str) -> Option<ResponseTemplate> {
        if !creates_content(method, path) {
            return None;
        }
        let account = account_of(path);
        if let Some((needle, retry_after)) = self.refuse_next.clone()
            && path.contains(&needle)
        {
            self.refuse_next = None;
            self.secondary_answers += 1;
            return Some(secondary_limit().insert_header("retry-after", retry_after.to_string()));
        }
        let now = self.now_ms();
        let recent = |window: i64| {
            self.writes
                .iter()
                .filter(|(at, who, _)| *who == account && *at > now - window)
                .count()
        };
        // Minutes and hours pass only on a watched clock: without one, nothing is counted.
        let enforced = self.clock.is_some();
        if enforced && (recent(60_000) >= PER_MINUTE || recent(3_600_000) >= PER_HOUR) {
            self.secondary_answers += 1;
            return Some(secondary_limit());
        }
        self.writes.push((now, account, format!("{method} {path}")));
        None
    }

    /// The answer with the account's primary budget in its headers, when one is set.
    pub fn after(&self, path: &str, answer: ResponseTemplate) -> ResponseTemplate {
        match self.primary.get(&account_of(path)) {
            Some(p) => answer
                .insert_header("x-ratelimit-limit", p.limit.to_string())
                .insert_header("x-ratelimit-remaining", p.remaining.to_string())
                .insert_header("x-ratelimit-reset", p.reset.to_string())
                .insert_header("x-ratelimit-resource", "core"),
            None => answer,
        }
    }

    /// The most content writes of `account` in any 60 s and any hour.
    pub fn busiest(&self, account: &str) -> (usize, usize) {
        let times: Vec<i64> = self
            .writes
            .iter()
            .filter(|(_, who, _)| who == account)
            .map(|(at, _, _)| *at)
            .collect();
        let most_within = |window: i64| {
            times
                .iter()
                .map(|start| {
                    times
                        .iter()
                        .filter(|at| **at >= *start && **at < start + window)
                        .count()
                })
                .max()
                .unwrap_or(0)
        };
        (most_within(60_000), most_within(3_600_000))
    }
}

fn secondary_limit() -> ResponseTemplate {
    ResponseTemplate::new(403).set_body_json(serde_json::json!({
        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        "documentation_url": "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
    }))
}

/// The account a `/repos/{owner}/…` call is for (the installation's).
fn account_of(path: &str) -> String {
    path.strip_prefix("/repos/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_owned()
}

/// GitHub's content-creating calls: comments, releases, refs and tags, deployments and their
/// statuses, check runs.
fn creates_content(method: &str, path: &str) -> bool {
    let posted = method == "POST"
        && [
            "/releases",
            "/git/refs",
            "/git/tags",
            "/comments",
            "/deployments",
            "/statuses",
        ]
        .iter()
        .any(|part| path.contains(part))
        && !path.ends_with("/generate-notes");
    posted || (matches!(method, "POST" | "PATCH") && path.contains("/check-runs"))
}

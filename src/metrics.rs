//! The service's own Prometheus metrics, served at `/metrics` (Fly's scraper reads them):
//! webhook deliveries by event and outcome, the queue's depth and the age of its oldest due
//! job, job durations, GitHub calls and the rate limit left, each installation's GitHub
//! budget and the calls it held back, how fast chat is answered, and deployment bakes'
//! rounds and endings. Labels are closed sets
//! (events trainyard knows, outcomes, job kinds, surfaces) or installation ids GitHub answered
//! for: nothing a caller sends becomes a label, so no request can grow the series without
//! bound, and no repository or person is named.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A webhook delivery: which event (or `unverified` before the signature is checked, `other`
/// for events trainyard does not handle) and how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    /// The `X-GitHub-Event`, when known.
    pub event: &'static str,
    /// queued, ignored, duplicate, pong, unauthorized, malformed, unavailable.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GitHubLabels {
    method: String,
    status: &'static str,
}

/// One installation's primary budget of one resource.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BudgetLabels {
    installation: String,
    resource: String,
}

/// One installation's calls held back, by the budget that held them.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HeldLabels {
    installation: String,
    budget: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SurfaceLabels {
    surface: &'static str,
}

/// A figure with no labels that is absent until it is first known (a family with no sample
/// is not rendered at all).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NoLabels {}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// What a bake's round read, as counted.
const BAKE_ROUND_OUTCOMES: [&str; 3] = ["healthy", "breach", "unknown"];
/// How bakes end, as counted.
const BAKE_ENDINGS: [&str; 5] = ["verified", "breached", "skipped", "expired", "superseded"];

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// How a webhook delivery ends, as counted.
const DELIVERY_OUTCOMES: [&str; 8] = [
    "queued",
    "ignored",
    "duplicate",
    "pong",
    "other",
    "unauthorized",
    "unavailable",
    "malformed",
];

/// GitHub's answers, by class.
const GITHUB_STATUSES: [&str; 7] = ["2xx", "3xx", "401_403", "404", "429", "4xx", "5xx"];

/// Every metric, registered once per process.
pub struct Metrics {
    registry: Registry,
    deliveries: Family<DeliveryLabels, Counter>,
    job_seconds: HistogramFamily<JobLabels>,
    github_requests: Family<GitHubLabels, Counter>,
    /// No sample until GitHub has answered: a fresh instance reports nothing rather than 0.
    github_rate_limit_remaining: Family<NoLabels, Gauge>,
    github_budget_remaining: Family<BudgetLabels, Gauge>,
    github_budget_reserve: Family<BudgetLabels, Gauge>,
    github_calls_held: Family<HeldLabels, Counter>,
    chat_ack_seconds: HistogramFamily<SurfaceLabels>,
    queue_jobs: Family<StateLabels, Gauge>,
    queue_oldest_due_seconds: Gauge,
    bake_rounds: Family<OutcomeLabels, Counter>,
    bakes_ended: Family<StateLabels, Counter>,
}

fn job_histogram() -> Histogram {
    // 5 ms … ~80 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

fn ack_histogram() -> Histogram {
    // 1 ms … ~4 s: Slack wants an answer within 3 s, Discord within 3 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 13))
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("trainyard");
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "GitHub webhook deliveries, by event and outcome",
            deliveries.clone(),
        );
        let job_seconds = HistogramFamily::<JobLabels>::new_with_constructor(job_histogram);
        registry.register(
            "job_duration_seconds",
            "Time a job's attempt took, by kind and outcome",
            job_seconds.clone(),
        );
        let github_requests = Family::<GitHubLabels, Counter>::default();
        registry.register(
            "github_requests",
            "Calls to GitHub's API, by method and status class",
            github_requests.clone(),
        );
        let github_rate_limit_remaining = Family::<NoLabels, Gauge>::default();
        registry.register(
            "github_rate_limit_remaining",
            "Requests left in GitHub's primary rate limit, as its last answer said",
            github_rate_limit_remaining.clone(),
        );
        let github_budget_remaining = Family::<BudgetLabels, Gauge>::default();
        registry.register(
            "github_budget_remaining",
            "Requests left in an installation's primary budget, by resource, as GitHub last said",
            github_budget_remaining.clone(),
        );
        let github_budget_reserve = Family::<BudgetLabels, Gauge>::default();
        registry.register(
            "github_budget_reserve",
            "The share of an installation's primary budget kept for commands, releases and \
             deployments; at or below it routine work waits for the reset",
            github_budget_reserve.clone(),
        );
        let github_calls_held = Family::<HeldLabels, Counter>::default();
        registry.register(
            "github_calls_held",
            "GitHub calls held back (their job waits), by installation and budget: pace \
             (content writes per minute and hour), pause (after GitHub's secondary limit), \
             reserve (routine work at the primary budget's reserve)",
            github_calls_held.clone(),
        );
        let chat_ack_seconds =
            HistogramFamily::<SurfaceLabels>::new_with_constructor(ack_histogram);
        registry.register(
            "chat_ack_seconds",
            "Time from a chat request's arrival to trainyard's answer, by surface",
            chat_ack_seconds.clone(),
        );
        let queue_jobs = Family::<StateLabels, Gauge>::default();
        registry.register(
            "queue_jobs",
            "Jobs in the queue, by state (read when scraped)",
            queue_jobs.clone(),
        );
        let queue_oldest_due_seconds = Gauge::default();
        registry.register(
            "queue_oldest_due_seconds",
            "How long the oldest job that is due has waited to run (read when scraped)",
            queue_oldest_due_seconds.clone(),
        );
        let bake_rounds = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "bake_rounds",
            "Rounds of deployment verification checks, by what they read",
            bake_rounds.clone(),
        );
        let bakes_ended = Family::<StateLabels, Counter>::default();
        registry.register(
            "bakes_ended",
            "Deployment bakes that ended, by how (a breach is rolled back)",
            bakes_ended.clone(),
        );
        Metrics {
            registry,
            deliveries,
            job_seconds,
            github_requests,
            github_rate_limit_remaining,
            github_budget_remaining,
            github_budget_reserve,
            github_calls_held,
            chat_ack_seconds,
            queue_jobs,
            queue_oldest_due_seconds,
            bake_rounds,
            bakes_ended,
        }
    }

    /// Counts one round of a bake's checks (`healthy`, `breach` or `unknown`).
    pub fn bake_round(&self, outcome: &'static str) {
        self.bake_rounds
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts one bake's ending (`verified`, `breached`, `skipped`, `expired`, `superseded`).
    pub fn bake_ended(&self, state: &'static str) {
        self.bakes_ended.get_or_create(&StateLabels { state }).inc();
    }

    /// Counts one webhook delivery.
    pub fn delivery(&self, event: &'static str, outcome: &'static str) {
        self.deliveries
            .get_or_create(&DeliveryLabels { event, outcome })
            .inc();
    }

    /// Records one job attempt. Kinds are the registered handlers' names: a closed set.
    pub fn job(&self, kind: &str, outcome: &'static str, took: Duration) {
        self.job_seconds
            .get_or_create(&JobLabels {
                kind: kind.to_owned(),
                outcome,
            })
            .observe(took.as_secs_f64());
    }

    /// Puts every closed label set at zero, so each family (and its HELP and TYPE) is there
    /// from the first scrape: `events` are the webhook events deliveries are counted under,
    /// `kinds` the job kinds (their durations as completed). Only the first call does it.
    pub fn know(&self, events: &[&'static str], kinds: &[&'static str]) {
        static KNOWN: std::sync::Once = std::sync::Once::new();
        KNOWN.call_once(|| self.fill(events, kinds));
    }

    /// Creates each series at zero (the family's guard is dropped at once).
    fn fill(&self, events: &[&'static str], kinds: &[&'static str]) {
        for event in events {
            for outcome in DELIVERY_OUTCOMES {
                let _ = self
                    .deliveries
                    .get_or_create(&DeliveryLabels { event, outcome });
            }
        }
        for outcome in ["unauthorized", "unavailable", "malformed"] {
            let _ = self.deliveries.get_or_create(&DeliveryLabels {
                event: "unverified",
                outcome,
            });
        }
        for kind in kinds {
            let _ = self.job_seconds.get_or_create(&JobLabels {
                kind: (*kind).to_owned(),
                outcome: "completed",
            });
        }
        for method in ["GET", "POST", "PATCH", "PUT", "DELETE"] {
            for status in GITHUB_STATUSES {
                let _ = self.github_requests.get_or_create(&GitHubLabels {
                    method: method.to_owned(),
                    status,
                });
            }
        }
        for surface in ["slack", "discord"] {
            let _ = self
                .chat_ack_seconds
                .get_or_create(&SurfaceLabels { surface });
        }
        for state in ["queued", "running", "retrying", "dead"] {
            let _ = self.queue_jobs.get_or_create(&StateLabels { state });
        }
        for outcome in BAKE_ROUND_OUTCOMES {
            let _ = self.bake_rounds.get_or_create(&OutcomeLabels { outcome });
        }
        for state in BAKE_ENDINGS {
            let _ = self.bakes_ended.get_or_create(&StateLabels { state });
        }
    }

    /// Counts one GitHub call and keeps the rate limit it reported.
    pub fn github_call(&self, method: &http::Method, status: u16, remaining: Option<i64>) {
        let status = match status {
            200..=299 => "2xx",
            300..=399 => "3xx",
            401 | 403 => "401_403",
            404 => "404",
            429 => "429",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.github_requests
            .get_or_create(&GitHubLabels {
                method: method.as_str().to_owned(),
                status,
            })
            .inc();
        if let Some(remaining) = remaining {
            self.github_rate_limit_remaining
                .get_or_create(&NoLabels {})
                .set(remaining);
        }
    }

    /// Keeps an installation's primary budget as GitHub reported it. Installations are those
    /// the App is installed on and called for: a set GitHub bounds, not callers.
    pub fn github_budget(&self, installation: u64, resource: &str, remaining: i64, reserve: i64) {
        let labels = BudgetLabels {
            installation: installation.to_string(),
            resource: resource.to_owned(),
        };
        self.github_budget_remaining
            .get_or_create(&labels)
            .set(remaining);
        self.github_budget_reserve
            .get_or_create(&labels)
            .set(reserve);
    }

    /// Counts a GitHub call held back by `budget` (pace, pause, reserve).
    pub fn github_held(&self, installation: u64, budget: &'static str) {
        self.github_calls_held
            .get_or_create(&HeldLabels {
                installation: installation.to_string(),
                budget,
            })
            .inc();
    }

    /// Records how long a chat request took to answer.
    pub fn chat_ack(&self, surface: &'static str, took: Duration) {
        self.chat_ack_seconds
            .get_or_create(&SurfaceLabels { surface })
            .observe(took.as_secs_f64());
    }

    /// Sets the queue's figures, read from the store when scraped.
    pub fn queue(&self, counts: &crate::jobs::QueueCounts, oldest_due: Option<Duration>) {
        for (state, n) in [
            ("queued", counts.queued),
            ("running", counts.running),
            ("retrying", counts.retrying),
            ("dead", counts.dead),
        ] {
            self.queue_jobs
                .get_or_create(&StateLabels { state })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.queue_oldest_due_seconds
            .set(oldest_due.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// This process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_there_from_the_first_scrape_at_zero() {
        let metrics = Metrics::new();
        metrics.fill(&["pull_request", "ping"], &["github.webhook"]);
        let text = metrics.render();
        for line in [
            "trainyard_webhook_deliveries_total{event=\"pull_request\",outcome=\"queued\"} 0",
            "trainyard_webhook_deliveries_total{event=\"unverified\",outcome=\"unauthorized\"} 0",
            "trainyard_github_requests_total{method=\"POST\",status=\"429\"} 0",
            "trainyard_job_duration_seconds_count{kind=\"github.webhook\",outcome=\"completed\"} 0",
            "trainyard_chat_ack_seconds_count{surface=\"discord\"} 0",
            "trainyard_queue_jobs{state=\"dead\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
        // Per installation, like the rate limit: nothing until GitHub has answered for it.
        assert!(!text.contains("trainyard_github_budget"), "{text}");
        metrics.github_budget(7, "core", 420, 500);
        metrics.github_held(7, "reserve");
        let text = metrics.render();
        for line in [
            "trainyard_github_budget_remaining{installation=\"7\",resource=\"core\"} 420",
            "trainyard_github_budget_reserve{installation=\"7\",resource=\"core\"} 500",
            "trainyard_github_calls_held_total{installation=\"7\",budget=\"reserve\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
    }

    #[test]
    fn the_rate_limit_is_not_reported_before_github_has_answered() {
        let metrics = Metrics::new();
        // A fresh instance says nothing of it (a 0 would fire any "budget exhausted" alert).
        let fresh = metrics.render();
        assert!(
            !fresh.contains("trainyard_github_rate_limit_remaining"),
            "{fresh}"
        );
        metrics.github_call(&http::Method::GET, 200, Some(4999));
        assert!(
            metrics
                .render()
                .contains("\ntrainyard_github_rate_limit_remaining 4999\n")
        );
    }

    #[test]
    fn what_is_recorded_is_rendered_with_its_labels() {
        let metrics = Metrics::new();
        metrics.delivery("pull_request", "queued");
        metrics.delivery("pull_request", "queued");
        metrics.github_call(&http::Method::POST, 201, Some(4990));
        metrics.job("RefreshDraft", "completed", Duration::from_millis(30));
        let text = metrics.render();
        assert!(
            text.contains(
                "trainyard_webhook_deliveries_total{event=\"pull_request\",outcome=\"queued\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains("trainyard_github_requests_total{method=\"POST\",status=\"2xx\"} 1"));
        assert!(text.contains("trainyard_github_rate_limit_remaining 4990"));
        assert!(text.contains(
            "trainyard_job_duration_seconds_count{kind=\"RefreshDraft\",outcome=\"completed\"} 1"
        ));
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}

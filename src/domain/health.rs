//! Release health, DORA-style, from what trainyard recorded: how long changes take to reach a
//! release and production, how often releases or deployments happen, how often one goes
//! wrong and how long it takes to put right, and how trains move. Pure: the facts come in,
//! the figures go out; every figure's definition is in [`DEFINITIONS`].

use serde::Serialize;

/// Milliseconds in a day.
const DAY_MS: i64 = 24 * 3600 * 1000;

/// What each figure means, as the dashboard and chat explain it.
pub const DEFINITIONS: [(&str, &str); 9] = [
    (
        "lead time to release",
        "for each pull request released in the window: its merge → its release's publication",
    ),
    (
        "lead time to production",
        "for each pull request released in the window: its merge → the first successful \
         production deployment of its release or a later one of the same line",
    ),
    (
        "frequency",
        "successful production deployments per week in the window; releases per week when \
         the repository has no production deployments",
    ),
    (
        "change failure rate",
        "production deployments in the window that ended failure or error, failed their bake \
         (verification), were rolled back, or were followed by a hotfix of the same minor \
         version, over all of them (releases followed by a hotfix, without deployments)",
    ),
    (
        "time to restore",
        "a failed production deployment → the next successful one to the same environment; \
         a failed bake → its automatic rollback's success",
    ),
    (
        "verification",
        "bakes (in any environment) that ended in the window, and how many failed their checks \
         and were rolled back; restore: the failure → the rollback's success",
    ),
    (
        "pull requests per train",
        "the mean number of pull requests on the trains released in the window",
    ),
    (
        "cut to release",
        "a released train's cut → its publication; approval wait: cut → its last approval",
    ),
    ("rejected cuts", "cuts sent back for a re-cut in the window"),
];

/// A train, as the figures need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrainFacts {
    /// Its id.
    pub id: i64,
    /// Its line.
    pub line: String,
    /// A hotfix train.
    pub hotfix: bool,
    /// The version it was cut as.
    pub version: Option<String>,
    /// When it was cut (epoch ms; the last cut, after rejections).
    pub cut_at: Option<i64>,
    /// When its last approval came.
    pub approved_at: Option<i64>,
    /// When its release was published.
    pub published_at: Option<i64>,
    /// When each of its pull requests was merged.
    pub merged_at: Vec<i64>,
}

/// A deployment, as the figures need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentFacts {
    /// The environment.
    pub environment: String,
    /// A production environment.
    pub production: bool,
    /// The train whose release it deploys.
    pub train_id: Option<i64>,
    /// The version it deploys.
    pub version: Option<String>,
    /// GitHub's last state: success, failure, error, in_progress…
    pub state: String,
    /// A rollback to an earlier release.
    pub rollback: bool,
    /// When it was asked for.
    pub created_at: i64,
    /// When it reached its last state.
    pub finished_at: i64,
    /// When its bake failed its checks, if it did.
    pub breached_at: Option<i64>,
    /// When that breach's rollback succeeded.
    pub restored_at: Option<i64>,
}

/// A bake that ended (verification after a deployment), as the figures need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BakeFacts {
    /// The environment.
    pub environment: String,
    /// Failed its checks (`false`: verified, or skipped by an admin).
    pub breached: bool,
    /// When it ended.
    pub finished_at: i64,
    /// A breach's rollback succeeded at.
    pub restored_at: Option<i64>,
}

/// Everything known about a repository's releases.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Its trains.
    pub trains: Vec<TrainFacts>,
    /// Its deployments.
    pub deployments: Vec<DeploymentFacts>,
    /// When cuts were rejected (epoch ms).
    pub rejections: Vec<i64>,
    /// Bakes that ended.
    pub bakes: Vec<BakeFacts>,
}

/// Median and 90th percentile of durations, in seconds (nearest rank), over `count` samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spread {
    /// How many samples.
    pub count: usize,
    /// The median, when there is a sample.
    pub median_secs: Option<i64>,
    /// The 90th percentile, when there is a sample.
    pub p90_secs: Option<i64>,
}

impl Spread {
    fn of(mut millis: Vec<i64>) -> Spread {
        millis.retain(|m| *m >= 0);
        millis.sort_unstable();
        let rank = |p: usize| -> Option<i64> {
            if millis.is_empty() {
                return None;
            }
            // Nearest rank: the smallest value with at least p% of samples at or below it.
            let index = (p * millis.len()).div_ceil(100).max(1) - 1;
            millis.get(index).map(|m| m / 1000)
        };
        Spread {
            count: millis.len(),
            median_secs: rank(50),
            p90_secs: rank(90),
        }
    }
}

/// A count out of a total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Rate {
    /// How many went wrong.
    pub failed: usize,
    /// Out of how many.
    pub total: usize,
}

impl Rate {
    /// As a fraction, when there is anything to count.
    pub fn fraction(self) -> Option<f64> {
        (self.total > 0).then(|| self.failed as f64 / self.total as f64)
    }
}

/// What the figures count as frequency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Successful production deployments.
    Deployments,
    /// Published releases (the repository has no production deployments).
    Releases,
}

/// The figures of one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// The window, in days.
    pub days: i64,
    /// Releases published in the window.
    pub releases: usize,
    /// Successful production deployments in the window.
    pub production_deployments: usize,
    /// Merge → release.
    pub lead_time_to_release: Spread,
    /// Merge → production.
    pub lead_time_to_production: Spread,
    /// What frequency counts.
    pub basis: Basis,
    /// Per week.
    pub per_week: f64,
    /// Failures over all.
    pub change_failure_rate: Rate,
    /// Failure → restored.
    pub time_to_restore: Spread,
    /// Mean pull requests per released train.
    pub pull_requests_per_train: Option<f64>,
    /// Cut → publication.
    pub cut_to_release: Spread,
    /// Cut → last approval.
    pub approval_wait: Spread,
    /// Cuts rejected in the window.
    pub rejected_cuts: usize,
    /// Bakes that failed their checks, over all that ended.
    pub bake_failures: Rate,
    /// A bake's failure → its rollback's success.
    pub bake_restore: Spread,
}

fn failed(state: &str) -> bool {
    matches!(state, "failure" | "error")
}

/// `major.minor` of a version (`v1.4.2` → `1.4`).
fn minor_line(version: &str) -> Option<String> {
    let version = version.trim_start_matches(['v', 'V']);
    let mut parts = version.split('.');
    let major = parts.next()?;
    let minor = parts.next().unwrap_or("0");
    Some(format!("{major}.{minor}"))
}

/// What the figures are computed over: the history, the window, and what falls in it.
struct Window<'h> {
    history: &'h History,
    from: i64,
    now: i64,
    /// Trains published within the window.
    released: Vec<&'h TrainFacts>,
    /// Every production deployment (a restore or rollback may follow the window's start).
    production: Vec<&'h DeploymentFacts>,
}

impl<'h> Window<'h> {
    fn new(history: &'h History, now: i64, days: i64) -> Window<'h> {
        let from = now.saturating_sub(days.saturating_mul(DAY_MS));
        let within = |t: i64| t > from && t <= now;
        Window {
            history,
            from,
            now,
            released: history
                .trains
                .iter()
                .filter(|t| t.published_at.is_some_and(within))
                .collect(),
            production: history
                .deployments
                .iter()
                .filter(|d| d.production)
                .collect(),
        }
    }

    fn within(&self, t: i64) -> bool {
        t > self.from && t <= self.now
    }

    /// From merge to release, and from merge to the first production success of that
    /// release or a later one of the same line.
    fn lead_times(&self) -> (Vec<i64>, Vec<i64>) {
        // Each deployed train's line and publication, looked up once per deployment.
        let published_by_id: std::collections::HashMap<i64, (&str, i64)> = self
            .history
            .trains
            .iter()
            .filter_map(|t| Some((t.id, (t.line.as_str(), t.published_at?))))
            .collect();
        let successes: Vec<(&str, i64, i64)> = self
            .production
            .iter()
            .filter(|d| d.state == "success" && !d.rollback)
            .filter_map(|d| {
                let (line, published) = published_by_id.get(&d.train_id?)?;
                Some((*line, *published, d.finished_at))
            })
            .collect();
        let mut to_release = Vec::new();
        let mut to_production = Vec::new();
        for train in &self.released {
            let Some(published) = train.published_at else {
                continue;
            };
            let first_success = successes
                .iter()
                .filter(|(line, deployed_release, _)| {
                    *line == train.line && *deployed_release >= published
                })
                .map(|(_, _, finished)| *finished)
                .min();
            for merged in &train.merged_at {
                to_release.push(published - merged);
                if let Some(deployed) = first_success {
                    to_production.push(deployed - merged);
                }
            }
        }
        (to_release, to_production)
    }

    /// Whether a hotfix of `version`'s minor line was cut after `after`.
    fn hotfix_after(&self, version: Option<&str>, after: i64) -> bool {
        let Some(line) = version.and_then(minor_line) else {
            return false;
        };
        self.history.trains.iter().any(|t| {
            t.hotfix
                && t.cut_at.is_some_and(|c| c > after)
                && t.version.as_deref().and_then(minor_line).as_deref() == Some(line.as_str())
        })
    }

    fn change_failure_rate(&self, basis: Basis) -> Rate {
        match basis {
            Basis::Deployments => {
                let finished: Vec<&&DeploymentFacts> = self
                    .production
                    .iter()
                    .filter(|d| !d.rollback && self.within(d.finished_at))
                    .filter(|d| d.state == "success" || failed(&d.state))
                    .collect();
                let rolled_back = |d: &DeploymentFacts| {
                    // The next production deployment to the same environment was a rollback.
                    self.production
                        .iter()
                        .filter(|n| n.environment == d.environment && n.created_at > d.created_at)
                        .min_by_key(|n| n.created_at)
                        .is_some_and(|n| n.rollback)
                };
                let failures = finished
                    .iter()
                    .filter(|d| {
                        failed(&d.state)
                            || d.breached_at.is_some()
                            || rolled_back(d)
                            || self.hotfix_after(d.version.as_deref(), d.finished_at)
                    })
                    .count();
                Rate {
                    failed: failures,
                    total: finished.len(),
                }
            }
            Basis::Releases => {
                let failures = self
                    .released
                    .iter()
                    .filter(|t| {
                        !t.hotfix
                            && self.hotfix_after(
                                t.version.as_deref(),
                                t.published_at.unwrap_or_default(),
                            )
                    })
                    .count();
                Rate {
                    failed: failures,
                    total: self.released.len(),
                }
            }
        }
    }

    /// From each failed production deployment in the window to the next success there, and
    /// from each failed bake to its rollback's success.
    fn restores(&self) -> Vec<i64> {
        let after_breach = self.production.iter().filter_map(|d| {
            let breached = d.breached_at.filter(|b| self.within(*b))?;
            Some(d.restored_at? - breached)
        });
        self.production
            .iter()
            .filter(|d| failed(&d.state) && self.within(d.finished_at))
            .filter_map(|d| {
                self.production
                    .iter()
                    .filter(|n| {
                        n.environment == d.environment
                            && n.state == "success"
                            && n.finished_at > d.finished_at
                    })
                    .map(|n| n.finished_at)
                    .min()
                    .map(|restored| restored - d.finished_at)
            })
            .chain(after_breach)
            .collect()
    }
}

/// The figures over the `days` before `now`.
pub fn compute(history: &History, now: i64, days: i64) -> Health {
    let days = days.max(1);
    let window = Window::new(history, now, days);
    let released = &window.released;
    let succeeded_in_window = window
        .production
        .iter()
        .filter(|d| d.state == "success" && window.within(d.finished_at))
        .count();
    let (to_release, to_production) = window.lead_times();
    let ended_bakes: Vec<&BakeFacts> = history
        .bakes
        .iter()
        .filter(|b| window.within(b.finished_at))
        .collect();
    let basis = if window.production.is_empty() {
        Basis::Releases
    } else {
        Basis::Deployments
    };
    let counted = match basis {
        Basis::Deployments => succeeded_in_window,
        Basis::Releases => released.len(),
    };
    let pull_requests_per_train = (!released.is_empty()).then(|| {
        released.iter().map(|t| t.merged_at.len()).sum::<usize>() as f64 / released.len() as f64
    });
    let cut_to_release = released
        .iter()
        .filter_map(|t| Some(t.published_at? - t.cut_at?))
        .collect();
    let approval_wait = released
        .iter()
        .filter_map(|t| Some(t.approved_at? - t.cut_at?))
        .collect();
    Health {
        days,
        releases: released.len(),
        production_deployments: succeeded_in_window,
        lead_time_to_release: Spread::of(to_release),
        lead_time_to_production: Spread::of(to_production),
        basis,
        per_week: counted as f64 * 7.0 / days as f64,
        change_failure_rate: window.change_failure_rate(basis),
        time_to_restore: Spread::of(window.restores()),
        pull_requests_per_train,
        cut_to_release: Spread::of(cut_to_release),
        approval_wait: Spread::of(approval_wait),
        rejected_cuts: history
            .rejections
            .iter()
            .filter(|t| window.within(**t))
            .count(),
        bake_failures: Rate {
            failed: ended_bakes.iter().filter(|b| b.breached).count(),
            total: ended_bakes.len(),
        },
        bake_restore: Spread::of(
            ended_bakes
                .iter()
                .filter(|b| b.breached)
                .filter_map(|b| Some(b.restored_at? - b.finished_at))
                .collect(),
        ),
    }
}

/// A duration in seconds as people read it: `45s`, `12m`, `3h 5m`, `2d 4h`.
pub fn human(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600 * 1000;
    const NOW: i64 = 1_800_000_000_000;

    fn train(
        id: i64,
        version: &str,
        cut: i64,
        approved: i64,
        published: i64,
        merged: &[i64],
    ) -> TrainFacts {
        TrainFacts {
            id,
            line: "main".into(),
            hotfix: false,
            version: Some(version.into()),
            cut_at: Some(NOW - cut * H),
            approved_at: Some(NOW - approved * H),
            published_at: Some(NOW - published * H),
            merged_at: merged.iter().map(|m| NOW - m * H).collect(),
        }
    }

    fn deployment(train: i64, state: &str, created: i64, finished: i64) -> DeploymentFacts {
        DeploymentFacts {
            environment: "production".into(),
            production: true,
            train_id: Some(train),
            version: Some(format!("v1.{train}.0")),
            state: state.into(),
            rollback: false,
            created_at: NOW - created * H,
            finished_at: NOW - finished * H,
            ..DeploymentFacts::default()
        }
    }

    #[test]
    fn an_empty_history_has_no_figures_and_no_division_by_zero() {
        let health = compute(&History::default(), NOW, 30);
        assert_eq!(health.releases, 0);
        assert_eq!(health.lead_time_to_release, Spread::default());
        assert_eq!(health.basis, Basis::Releases);
        assert_eq!(health.per_week, 0.0);
        assert_eq!(health.change_failure_rate.fraction(), None);
        assert_eq!(health.pull_requests_per_train, None);
    }

    #[test]
    fn one_release_is_one_sample_of_each() {
        // Merged 50 h and 30 h ago, cut 20 h ago, approved 12 h ago, published 10 h ago.
        let history = History {
            trains: vec![train(1, "v1.1.0", 20, 12, 10, &[50, 30])],
            ..History::default()
        };
        let health = compute(&history, NOW, 30);
        assert_eq!(health.releases, 1);
        assert_eq!(
            health.lead_time_to_release,
            Spread {
                count: 2,
                median_secs: Some(20 * 3600),
                p90_secs: Some(40 * 3600)
            }
        );
        assert_eq!(health.basis, Basis::Releases);
        assert!((health.per_week - 7.0 / 30.0).abs() < 1e-9);
        assert_eq!(health.cut_to_release.median_secs, Some(10 * 3600));
        assert_eq!(health.approval_wait.median_secs, Some(8 * 3600));
        assert_eq!(health.pull_requests_per_train, Some(2.0));
        assert_eq!(
            health.change_failure_rate,
            Rate {
                failed: 0,
                total: 1
            }
        );
    }

    #[test]
    fn deployments_give_lead_time_to_production_failures_and_restores() {
        // Train 1 (v1.1.0) released 100 h ago, train 2 (v1.2.0) 40 h ago.
        let mut history = History {
            trains: vec![
                train(1, "v1.1.0", 110, 105, 100, &[120, 130, 200]),
                train(2, "v1.2.0", 45, 42, 40, &[60]),
            ],
            deployments: vec![
                // v1.1.0 deployed 99 h ago: success.
                deployment(1, "success", 99, 98),
                // v1.2.0 failed 39 h ago, then succeeded 30 h ago (restored in 9 h).
                deployment(2, "failure", 39, 39),
                deployment(2, "success", 31, 30),
            ],
            rejections: vec![NOW - 43 * H, NOW - 50 * 24 * H],
            bakes: vec![],
        };
        // A staging deployment counts for nothing.
        history.deployments.push(DeploymentFacts {
            environment: "staging".into(),
            production: false,
            ..deployment(2, "failure", 41, 41)
        });
        let health = compute(&history, NOW, 30);
        assert_eq!(health.basis, Basis::Deployments);
        assert_eq!(health.production_deployments, 2);
        assert!((health.per_week - 2.0 * 7.0 / 30.0).abs() < 1e-9);
        // PRs of train 1: merged 120, 130, 200 h ago → deployed 98 h ago: 22, 32, 102 h.
        // PR of train 2: merged 60 h ago → deployed 30 h ago: 30 h.
        assert_eq!(
            health.lead_time_to_production,
            Spread {
                count: 4,
                median_secs: Some(30 * 3600),
                p90_secs: Some(102 * 3600)
            }
        );
        assert_eq!(
            health.change_failure_rate,
            Rate {
                failed: 1,
                total: 3
            }
        );
        assert_eq!(health.time_to_restore.median_secs, Some(9 * 3600));
        assert_eq!(
            health.rejected_cuts, 1,
            "one in the window, one 50 days ago"
        );
        // A one-day window holds none of it.
        let week = compute(&history, NOW, 1);
        assert_eq!(week.releases, 0);
        assert_eq!(week.production_deployments, 0);
    }

    #[test]
    fn a_rollback_or_a_hotfix_counts_the_deployment_as_failed() {
        let mut rollback = deployment(1, "success", 20, 20);
        rollback.rollback = true;
        let history = History {
            trains: vec![
                train(1, "v1.1.0", 50, 45, 40, &[60]),
                train(2, "v1.2.0", 30, 28, 26, &[35]),
                TrainFacts {
                    id: 3,
                    hotfix: true,
                    version: Some("v1.2.1".into()),
                    cut_at: Some(NOW - 10 * H),
                    ..TrainFacts::default()
                },
            ],
            deployments: vec![
                deployment(1, "success", 39, 39),
                deployment(2, "success", 25, 25),
                rollback,
            ],
            rejections: vec![],
            bakes: vec![],
        };
        let health = compute(&history, NOW, 30);
        // v1.1.0: fine. v1.2.0: rolled back, and a v1.2.1 hotfix followed. The rollback
        // itself is not counted.
        assert_eq!(
            health.change_failure_rate,
            Rate {
                failed: 1,
                total: 2
            }
        );
    }

    #[test]
    fn a_failed_bake_is_a_change_failure_restored_by_its_rollback() {
        let breached = DeploymentFacts {
            breached_at: Some(NOW - 20 * H),
            restored_at: Some(NOW - 20 * H + 90_000),
            ..deployment(2, "success", 21, 21)
        };
        let history = History {
            deployments: vec![deployment(1, "success", 40, 40), breached],
            bakes: vec![
                BakeFacts {
                    environment: "staging".into(),
                    breached: false,
                    finished_at: NOW - 30 * H,
                    restored_at: None,
                },
                BakeFacts {
                    environment: "production".into(),
                    breached: true,
                    finished_at: NOW - 20 * H,
                    restored_at: Some(NOW - 20 * H + 90_000),
                },
            ],
            ..History::default()
        };
        let health = compute(&history, NOW, 30);
        // GitHub said success; the bake said otherwise.
        assert_eq!(
            health.change_failure_rate,
            Rate {
                failed: 1,
                total: 2
            }
        );
        assert_eq!(health.time_to_restore.median_secs, Some(90));
        assert_eq!(
            health.bake_failures,
            Rate {
                failed: 1,
                total: 2
            }
        );
        assert_eq!(health.bake_restore.median_secs, Some(90));
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(45), "45s");
        assert_eq!(human(720), "12m");
        assert_eq!(human(3 * 3600 + 300), "3h 5m");
        assert_eq!(human(2 * 86_400 + 4 * 3600 + 60), "2d 4h");
    }
}

//! Verification after a deployment: an environment's `verify` keys (a bake time, how often to
//! look, a Prometheus query with its ceiling, an HTTP health URL), what a reading means, and
//! what a bake does next. Pure: readings come in, the next step goes out.

use jiff::SignedDuration;
use serde::Deserialize;

/// The longest bake accepted: verification is for the hours after a deployment, not the week.
pub const MAX_BAKE: SignedDuration = SignedDuration::from_hours(24);
/// The longest query or URL accepted (they are sent as given and told in chat).
pub const MAX_CHECK_TEXT: usize = 2_000;

/// `deploy.environments[].verify`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct VerifyKeys {
    /// How long the release must stay healthy (`15m`, `1h`, `20s`).
    pub bake: String,
    /// How often the checks run during the bake (default: a minute, or the bake if shorter).
    pub every: Option<String>,
    /// A PromQL instant query whose value must stay at or under `max`.
    pub prometheus: Option<PrometheusCheck>,
    /// A health URL that must answer `expect`.
    pub http: Option<HttpCheck>,
}

/// `verify.prometheus`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrometheusCheck {
    /// The PromQL instant query.
    pub query: String,
    /// The highest healthy value.
    pub max: f64,
}

/// `verify.http`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    /// The URL (`http` or `https`).
    pub url: String,
    /// The status it must answer (default 200).
    pub expect: Option<u16>,
}

impl HttpCheck {
    /// The status a healthy environment answers.
    pub fn expected(&self) -> u16 {
        self.expect.unwrap_or(200)
    }
}

/// A checked `verify` section: how long and how often, and what to look at.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The bake time.
    pub bake: SignedDuration,
    /// Time between checks.
    pub every: SignedDuration,
    /// The Prometheus check.
    pub prometheus: Option<PrometheusCheck>,
    /// The HTTP check.
    pub http: Option<HttpCheck>,
}

impl VerifyKeys {
    /// The plan, or what is wrong with the keys (`Err((key, message))`).
    pub fn plan(&self) -> Result<Plan, (&'static str, String)> {
        let bake = duration(&self.bake).map_err(|m| ("bake", m))?;
        if bake > MAX_BAKE {
            return Err(("bake", format!("`{}` is longer than 24 hours", self.bake)));
        }
        let every = match &self.every {
            Some(text) => duration(text).map_err(|m| ("every", m))?,
            None => bake.min(SignedDuration::from_mins(1)),
        };
        if every > bake {
            return Err((
                "every",
                format!(
                    "`{}` is longer than the bake",
                    self.every.as_deref().unwrap_or("")
                ),
            ));
        }
        if let Some(p) = &self.prometheus {
            bounded_text(&p.query).map_err(|m| ("prometheus.query", m))?;
            if !p.max.is_finite() {
                return Err(("prometheus.max", "must be a finite number".into()));
            }
        }
        if let Some(h) = &self.http {
            bounded_text(&h.url).map_err(|m| ("http.url", m))?;
            let scheme_ok = h.url.starts_with("https://") || h.url.starts_with("http://");
            if !scheme_ok || h.url.chars().any(char::is_whitespace) {
                return Err(("http.url", format!("`{}` is not an http(s) URL", h.url)));
            }
            if !(100..=599).contains(&h.expected()) {
                return Err(("http.expect", "must be an HTTP status (100–599)".into()));
            }
        }
        Ok(Plan {
            bake,
            every,
            prometheus: self.prometheus.clone(),
            http: self.http.clone(),
        })
    }
}

/// A duration of at least a second: `20s`, `15m`, `1h 30m`.
fn duration(text: &str) -> Result<SignedDuration, String> {
    let parsed: SignedDuration = text
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (write `20s`, `15m` or `1h 30m`)"))?;
    if parsed < SignedDuration::from_secs(1) {
        return Err(format!("`{text}` must be at least a second"));
    }
    Ok(parsed)
}

fn bounded_text(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if text.len() > MAX_CHECK_TEXT {
        return Err(format!("must be at most {MAX_CHECK_TEXT} bytes"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err("must not hold control characters".into());
    }
    Ok(())
}

/// What one check saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Within bounds, with what was read.
    Healthy(String),
    /// Out of bounds: the release is unhealthy, with what was read.
    Breach(String),
    /// Could not be read (Prometheus down, an answer not understood, a URL not allowed):
    /// neither healthy nor a breach; the bake waits for a reading.
    Unknown(String),
}

impl Outcome {
    /// What was read or why not.
    pub fn text(&self) -> &str {
        match self {
            Outcome::Healthy(t) | Outcome::Breach(t) | Outcome::Unknown(t) => t,
        }
    }
}

/// Judges a Prometheus reading: `Ok(None)` when the query returned no series.
pub fn judge_prometheus(check: &PrometheusCheck, reading: Result<Option<f64>, String>) -> Outcome {
    let query = &check.query;
    match reading {
        Ok(None) => Outcome::Healthy(format!("`{query}`: no data")),
        Ok(Some(value)) if value.is_nan() => {
            Outcome::Breach(format!("`{query}` = NaN (max {})", check.max))
        }
        Ok(Some(value)) if value > check.max => {
            Outcome::Breach(format!("`{query}` = {value} > max {}", check.max))
        }
        Ok(Some(value)) => Outcome::Healthy(format!("`{query}` = {value} ≤ {}", check.max)),
        Err(why) => Outcome::Unknown(format!("`{query}`: {why}")),
    }
}

/// What the health URL did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpAnswer {
    /// It answered with this status.
    Status(u16),
    /// No answer (refused, timed out): the users cannot reach it either.
    Unreachable(String),
    /// Not asked (an address the server does not allow): nothing learnt about the release.
    NotAsked(String),
}

/// Judges the health URL's answer.
pub fn judge_http(check: &HttpCheck, answer: HttpAnswer) -> Outcome {
    let url = &check.url;
    let expected = check.expected();
    match answer {
        HttpAnswer::Status(status) if status == expected => {
            Outcome::Healthy(format!("GET {url} → {status}"))
        }
        HttpAnswer::Status(status) => {
            Outcome::Breach(format!("GET {url} → {status}, expected {expected}"))
        }
        HttpAnswer::Unreachable(why) => Outcome::Breach(format!("GET {url}: {why}")),
        HttpAnswer::NotAsked(why) => Outcome::Unknown(format!("GET {url}: {why}")),
    }
}

/// What a bake does after a round of checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A check breached: roll back, hold what follows. The reasons, joined.
    Breach(String),
    /// Healthy to the end of the bake: what follows may go.
    Verified,
    /// Look again at `next` (epoch ms).
    Wait {
        /// When.
        next: i64,
    },
}

/// The next step of a bake ending at `ends_at` (epoch ms), checked every `every`, after a
/// round of `outcomes` at `now`. A breach ends it at once; it is verified only by a round at
/// or after its end in which every check read healthy (an unreadable check waits for the next
/// round, so a monitoring outage neither passes nor fails a release).
pub fn step(outcomes: &[Outcome], now: i64, ends_at: i64, every: SignedDuration) -> Step {
    let breaches: Vec<&str> = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Breach(_)))
        .map(Outcome::text)
        .collect();
    if !breaches.is_empty() {
        return Step::Breach(breaches.join("; "));
    }
    let unknown = outcomes.iter().any(|o| matches!(o, Outcome::Unknown(_)));
    if now >= ends_at && !unknown {
        return Step::Verified;
    }
    let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
    let next = now.saturating_add(every_ms);
    // The last round falls on the end, not a period after it.
    let next = if now < ends_at {
        next.min(ends_at)
    } else {
        next
    };
    Step::Wait { next }
}

/// The value of a Prometheus `/api/v1/query` answer: a scalar's, or the largest sample of a
/// vector (any series over the ceiling is a breach); `None` for an empty vector.
pub fn prometheus_value(body: &[u8]) -> Result<Option<f64>, String> {
    #[derive(Deserialize)]
    struct Answer {
        status: String,
        data: Option<Data>,
        error: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Data {
        result_type: String,
        result: serde_json::Value,
    }
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| format!("Prometheus's answer is not its query API's JSON ({e})"))?;
    if answer.status != "success" {
        return Err(format!(
            "Prometheus answered {}: {}",
            answer.status,
            answer.error.unwrap_or_default()
        ));
    }
    let data = answer
        .data
        .ok_or_else(|| "Prometheus's answer has no data".to_owned())?;
    let sample = |pair: &serde_json::Value| -> Result<f64, String> {
        pair.get(1)
            .and_then(serde_json::Value::as_str)
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| "a sample is not [time, \"value\"]".to_owned())
    };
    match data.result_type.as_str() {
        "scalar" => sample(&data.result).map(Some),
        "vector" => {
            let series = data
                .result
                .as_array()
                .ok_or_else(|| "a vector's result is not a list".to_owned())?;
            let mut largest: Option<f64> = None;
            for one in series {
                let value = sample(one.get("value").unwrap_or(&serde_json::Value::Null))?;
                largest = Some(match largest {
                    // NaN wins: it is never healthy.
                    Some(l) if l.is_nan() => l,
                    Some(l) if !value.is_nan() => l.max(value),
                    _ => value,
                });
            }
            Ok(largest)
        }
        other => Err(format!(
            "the query returned a {other}; verify needs an instant vector or a scalar"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(bake: &str, every: Option<&str>) -> VerifyKeys {
        VerifyKeys {
            bake: bake.into(),
            every: every.map(str::to_owned),
            ..VerifyKeys::default()
        }
    }

    #[test]
    fn bake_and_every_take_seconds_minutes_and_hours() {
        let plan = keys("15m", Some("1m")).plan().expect("plan");
        assert_eq!(plan.bake, SignedDuration::from_mins(15));
        assert_eq!(plan.every, SignedDuration::from_mins(1));
        let short = keys("20s", None).plan().expect("plan");
        assert_eq!(
            short.every,
            SignedDuration::from_secs(20),
            "never past the bake"
        );
        assert_eq!(
            keys("1h 30m", None).plan().expect("plan").every.as_secs(),
            60
        );
    }

    #[test]
    fn bad_keys_are_refused_with_the_key_named() {
        let refused = |k: VerifyKeys| k.plan().expect_err("refused").0;
        assert_eq!(refused(keys("soon", None)), "bake");
        assert_eq!(refused(keys("25h", None)), "bake");
        assert_eq!(refused(keys("0s", None)), "bake");
        assert_eq!(refused(keys("1m", Some("2m"))), "every");
        let mut k = keys("1m", None);
        k.prometheus = Some(PrometheusCheck {
            query: "x".repeat(MAX_CHECK_TEXT + 1),
            max: 1.0,
        });
        assert_eq!(refused(k.clone()), "prometheus.query");
        k.prometheus = Some(PrometheusCheck {
            query: "up".into(),
            max: f64::INFINITY,
        });
        assert_eq!(refused(k), "prometheus.max");
        let mut k = keys("1m", None);
        k.http = Some(HttpCheck {
            url: "file:///etc/passwd".into(),
            expect: None,
        });
        assert_eq!(refused(k.clone()), "http.url");
        k.http = Some(HttpCheck {
            url: "https://staging.example/healthz".into(),
            expect: Some(99),
        });
        assert_eq!(refused(k), "http.expect");
    }

    fn ceiling() -> PrometheusCheck {
        PrometheusCheck {
            query: "errors".into(),
            max: 0.02,
        }
    }

    #[test]
    fn a_value_over_the_ceiling_or_nan_is_a_breach_no_data_is_not() {
        assert!(matches!(
            judge_prometheus(&ceiling(), Ok(Some(0.02))),
            Outcome::Healthy(_)
        ));
        assert_eq!(
            judge_prometheus(&ceiling(), Ok(Some(0.5))),
            Outcome::Breach("`errors` = 0.5 > max 0.02".into())
        );
        assert!(matches!(
            judge_prometheus(&ceiling(), Ok(Some(f64::NAN))),
            Outcome::Breach(_)
        ));
        assert!(matches!(
            judge_prometheus(&ceiling(), Ok(None)),
            Outcome::Healthy(_)
        ));
        assert!(matches!(
            judge_prometheus(&ceiling(), Err("down".into())),
            Outcome::Unknown(_)
        ));
    }

    #[test]
    fn the_health_url_breaches_on_another_status_or_no_answer() {
        let check = HttpCheck {
            url: "https://s.example/healthz".into(),
            expect: None,
        };
        assert!(matches!(
            judge_http(&check, HttpAnswer::Status(200)),
            Outcome::Healthy(_)
        ));
        assert_eq!(
            judge_http(&check, HttpAnswer::Status(503)),
            Outcome::Breach("GET https://s.example/healthz → 503, expected 200".into())
        );
        assert!(matches!(
            judge_http(&check, HttpAnswer::Unreachable("timed out".into())),
            Outcome::Breach(_)
        ));
        assert!(matches!(
            judge_http(&check, HttpAnswer::NotAsked("private".into())),
            Outcome::Unknown(_)
        ));
    }

    #[test]
    fn a_bake_waits_until_its_end_and_a_breach_ends_it_at_once() {
        let every = SignedDuration::from_secs(5);
        let healthy = [Outcome::Healthy("ok".into())];
        assert_eq!(step(&healthy, 0, 12_000, every), Step::Wait { next: 5_000 });
        assert_eq!(
            step(&healthy, 10_000, 12_000, every),
            Step::Wait { next: 12_000 },
            "the last round falls on the end"
        );
        assert_eq!(step(&healthy, 12_000, 12_000, every), Step::Verified);
        let breach = [healthy[0].clone(), Outcome::Breach("503".into())];
        assert_eq!(
            step(&breach, 1_000, 12_000, every),
            Step::Breach("503".into())
        );
        let unknown = [Outcome::Unknown("down".into())];
        assert_eq!(
            step(&unknown, 12_000, 12_000, every),
            Step::Wait { next: 17_000 },
            "an unreadable check neither passes nor fails"
        );
        assert_eq!(
            step(&[], 12_000, 12_000, every),
            Step::Verified,
            "bake only"
        );
    }

    #[test]
    fn prometheus_answers_read_as_scalar_largest_sample_or_none() {
        let vector = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"pod":"a"},"value":[1700000000.1,"0.01"]},
            {"metric":{"pod":"b"},"value":[1700000000.1,"0.3"]}]}}"#;
        assert_eq!(prometheus_value(vector), Ok(Some(0.3)));
        let scalar = br#"{"status":"success","data":{"resultType":"scalar","result":[1,"2.5"]}}"#;
        assert_eq!(prometheus_value(scalar), Ok(Some(2.5)));
        let empty = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(prometheus_value(empty), Ok(None));
        let nan = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{},"value":[1,"NaN"]},{"metric":{},"value":[1,"0"]}]}}"#;
        assert!(
            prometheus_value(nan)
                .expect("value")
                .is_some_and(f64::is_nan)
        );
        let inf = br#"{"status":"success","data":{"resultType":"scalar","result":[1,"+Inf"]}}"#;
        assert_eq!(prometheus_value(inf), Ok(Some(f64::INFINITY)));
        let error = br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        assert!(
            prometheus_value(error)
                .expect_err("error")
                .contains("parse error")
        );
        let matrix = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(prometheus_value(matrix).is_err());
        assert!(prometheus_value(b"<html>").is_err());
    }
}

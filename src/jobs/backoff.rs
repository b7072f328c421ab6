//! Retry delays: capped exponential backoff with jitter, so a failing dependency sees retries
//! spread out rather than in lockstep.

use std::time::Duration;

/// Longest wait a rate limit or retry hint can impose on one job.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

/// The delay before retrying after failed attempt number `attempt` (1-based):
/// `base · 2^(attempt-1)` capped at `cap`, of which the upper half is scaled by `jitter`
/// (a number in `[0, 1)`), so the delay lies in `[d/2, d)`.
pub fn retry_delay(attempt: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(31);
    let full = base.saturating_mul(1u32 << exponent).min(cap);
    let half = full / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

/// The wait an upstream's retry hint (`Retry-After`, in seconds, possibly fractional) asks
/// for, capped at [`MAX_WAIT`]; `None` for a hint that is not a finite,
/// non-negative number. The queue adds the floor, so a zero hint cannot become a hot loop.
pub fn retry_hint(text: &str) -> Option<Duration> {
    let secs = text.trim().parse::<f64>().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    let cap = MAX_WAIT;
    Some(if secs >= cap.as_secs_f64() {
        cap
    } else {
        Duration::from_secs_f64(secs)
    })
}

/// A fresh jitter value in `[0, 1)`.
pub fn random_jitter() -> f64 {
    rand::random::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_secs(5);
    const CAP: Duration = Duration::from_secs(3600);

    #[test]
    fn doubles_per_attempt_within_the_jitter_band() {
        for (attempt, full_secs) in [(1, 5), (2, 10), (3, 20), (4, 40), (5, 80)] {
            let low = retry_delay(attempt, BASE, CAP, 0.0);
            let high = retry_delay(attempt, BASE, CAP, 0.999_999);
            assert_eq!(low, Duration::from_secs(full_secs) / 2, "attempt {attempt}");
            assert!(high < Duration::from_secs(full_secs), "attempt {attempt}");
            assert!(high > low, "attempt {attempt}");
        }
    }

    #[test]
    fn never_exceeds_the_cap_even_for_huge_attempt_numbers() {
        for attempt in [12, 40, u32::MAX] {
            assert!(retry_delay(attempt, BASE, CAP, 0.999_999) <= CAP);
            assert_eq!(retry_delay(attempt, BASE, CAP, 0.0), CAP / 2);
        }
    }

    #[test]
    fn retry_hints_are_capped_and_garbage_is_ignored() {
        assert_eq!(retry_hint("0"), Some(Duration::ZERO));
        assert_eq!(retry_hint(" 30 "), Some(Duration::from_secs(30)));
        assert_eq!(retry_hint("1.5"), Some(Duration::from_millis(1500)));
        for huge in ["18446744073709551615", "1e300", "99999999999"] {
            assert_eq!(retry_hint(huge), Some(Duration::from_secs(3600)), "{huge}");
        }
        for bad in [
            "-1",
            "NaN",
            "inf",
            "soon",
            "",
            "Wed, 21 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(retry_hint(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_retry_hint_is_at_most_an_hour_and_never_panics(text in ".{0,32}") {
            if let Some(wait) = retry_hint(&text) {
                proptest::prop_assert!(wait <= Duration::from_secs(3600));
            }
        }

        #[test]
        fn numeric_hints_keep_their_value_up_to_the_cap(secs in 0u64..100_000) {
            let wait = retry_hint(&secs.to_string());
            proptest::prop_assert_eq!(wait, Some(Duration::from_secs(secs.min(3600))));
        }
    }

    #[test]
    fn jitter_outside_the_unit_range_is_clamped() {
        assert_eq!(retry_delay(1, BASE, CAP, -3.0), Duration::from_millis(2500));
        assert_eq!(retry_delay(1, BASE, CAP, 7.0), Duration::from_secs(5));
    }
}

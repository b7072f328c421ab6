//! GitHub's budget of content-creating writes per installation, as a rule over a log: at
//! most so many in any minute and any hour (a sliding window, so the bound holds exactly),
//! and whether a write may go now or when it may. The client and the store's ledger apply it.

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

/// What the ledger answers a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteVerdict {
    /// It may go (and a content-creating one was counted).
    Allowed,
    /// Past the pace: the window `window` frees a place at `until_ms` (epoch ms).
    Paced {
        /// When.
        until_ms: i64,
        /// Which window binds.
        window: &'static str,
    },
    /// The installation's writes are paused (GitHub's secondary limit) until `until_ms`.
    Paused {
        /// When.
        until_ms: i64,
    },
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
}

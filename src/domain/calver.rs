//! Calendar versions (calver.org notation) for teams that release by date rather than by
//! SemVer: `YYYY.MM.MICRO` (2026.11.0, 2026.11.1, …) and `YYYY.0M.0D` (2026.11.27, then
//! 2026.11.27.1 for a second release that day). The date is passed in: the domain reads no
//! clock.

use jiff::civil::Date;

/// A calendar versioning scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarScheme {
    /// `YYYY.MM.MICRO`: year, month without padding, a counter within the month from 0.
    YearMonthMicro,
    /// `YYYY.0M.0D`: year, zero-padded month and day; `.N` added for further releases that day.
    YearMonthDay,
}

impl CalendarScheme {
    /// The scheme by its calver.org name.
    pub fn from_name(name: &str) -> Option<CalendarScheme> {
        match name {
            "YYYY.MM.MICRO" => Some(CalendarScheme::YearMonthMicro),
            "YYYY.0M.0D" => Some(CalendarScheme::YearMonthDay),
            _ => None,
        }
    }
}

/// The next version on `today`, given the versions already released (tag prefix removed).
pub fn next_calendar_version<'a>(
    scheme: CalendarScheme,
    today: Date,
    released: impl IntoIterator<Item = &'a str>,
) -> String {
    let prefix = match scheme {
        CalendarScheme::YearMonthMicro => format!("{}.{}.", today.year(), today.month()),
        CalendarScheme::YearMonthDay => {
            format!("{}.{:02}.{:02}", today.year(), today.month(), today.day())
        }
    };
    // The counter of each release on the same period: MICRO, or the `.N` after the day
    // (the bare day counts as 0).
    let taken = released.into_iter().filter_map(|v| match scheme {
        CalendarScheme::YearMonthMicro => v.strip_prefix(&prefix)?.parse::<u64>().ok(),
        CalendarScheme::YearMonthDay => {
            let rest = v.strip_prefix(&prefix)?;
            if rest.is_empty() {
                Some(0)
            } else {
                rest.strip_prefix('.')?.parse::<u64>().ok()
            }
        }
    });
    match (scheme, taken.max()) {
        (CalendarScheme::YearMonthMicro, None) => format!("{prefix}0"),
        (CalendarScheme::YearMonthMicro, Some(n)) => format!("{prefix}{}", n + 1),
        (CalendarScheme::YearMonthDay, None) => prefix,
        (CalendarScheme::YearMonthDay, Some(n)) => format!("{prefix}.{}", n + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Date {
        text.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn year_month_micro_counts_within_the_month() {
        let scheme = CalendarScheme::YearMonthMicro;
        assert_eq!(
            next_calendar_version(scheme, day("2026-11-27"), []),
            "2026.11.0"
        );
        assert_eq!(
            next_calendar_version(
                scheme,
                day("2026-11-27"),
                ["2026.11.0", "2026.11.1", "2026.10.7"]
            ),
            "2026.11.2"
        );
        assert_eq!(
            next_calendar_version(scheme, day("2027-01-02"), ["2026.12.4"]),
            "2027.1.0"
        );
        // Releases of other months, and other formats, do not count.
        assert_eq!(
            next_calendar_version(scheme, day("2026-01-05"), ["2026.11.3", "2026.1.x"]),
            "2026.1.0"
        );
    }

    #[test]
    fn year_month_day_adds_a_counter_for_further_releases_that_day() {
        let scheme = CalendarScheme::YearMonthDay;
        assert_eq!(
            next_calendar_version(scheme, day("2026-01-05"), ["2026.01.04"]),
            "2026.01.05"
        );
        assert_eq!(
            next_calendar_version(scheme, day("2026-01-05"), ["2026.01.05"]),
            "2026.01.05.1"
        );
        assert_eq!(
            next_calendar_version(scheme, day("2026-01-05"), ["2026.01.05", "2026.01.05.1"]),
            "2026.01.05.2"
        );
    }

    #[test]
    fn schemes_by_name() {
        assert_eq!(
            CalendarScheme::from_name("YYYY.MM.MICRO"),
            Some(CalendarScheme::YearMonthMicro)
        );
        assert_eq!(
            CalendarScheme::from_name("YYYY.0M.0D"),
            Some(CalendarScheme::YearMonthDay)
        );
        assert_eq!(CalendarScheme::from_name("YY.MM"), None);
    }
}

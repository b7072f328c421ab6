//! Deploy freeze windows, in an environment's `freeze` list, read in the deployment time
//! zone: a day (`2026-12-24`), a range of days (`2026-12-24..2027-01-02`), a weekday
//! (`Sat`), a range of weekdays (`Sat-Sun`), or a weekly window (`Fri 16:00-Mon 08:00`).
//! Days are whole days; weekly windows run from their start up to (not including) their end.

use jiff::civil::{Date, DateTime, Time, Weekday};

/// One window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreezeWindow {
    /// Whole days, both ends included.
    Dates(Date, Date),
    /// Every week, from (day, time) up to (day, time).
    Weekly {
        /// Start.
        from: (Weekday, Time),
        /// End (not included).
        until: (Weekday, Time),
    },
}

fn weekday(word: &str) -> Option<Weekday> {
    Some(match word.to_ascii_lowercase().get(..3)? {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    })
    .filter(|_| {
        let lower = word.to_ascii_lowercase();
        [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ]
        .iter()
        .any(|day| day.starts_with(&lower) && lower.len() >= 3)
    })
}

fn day_and_time(text: &str) -> Option<(Weekday, Time)> {
    let (day, time) = text.trim().split_once(' ')?;
    let time: Time = time.trim().parse().ok()?;
    Some((weekday(day)?, time))
}

/// Minutes since Monday 00:00.
fn week_minute(day: Weekday, time: Time) -> i32 {
    i32::from(day.to_monday_zero_offset()) * 24 * 60
        + i32::from(time.hour()) * 60
        + i32::from(time.minute())
}

impl FreezeWindow {
    /// Parses one window; the error says what was expected.
    pub fn parse(text: &str) -> Result<FreezeWindow, String> {
        let text = text.trim();
        let expected = || {
            format!(
                "`{text}` is not a freeze window (a date `2026-12-24`, dates \
                 `2026-12-24..2027-01-02`, a day `Sat`, days `Sat-Sun`, or a weekly window \
                 `Fri 16:00-Mon 08:00`)"
            )
        };
        if let Some((from, until)) = text.split_once("..") {
            let from: Date = from.trim().parse().map_err(|_| expected())?;
            let until: Date = until.trim().parse().map_err(|_| expected())?;
            if until < from {
                return Err(format!("`{text}` ends before it starts"));
            }
            return Ok(FreezeWindow::Dates(from, until));
        }
        if let Ok(date) = text.parse::<Date>() {
            return Ok(FreezeWindow::Dates(date, date));
        }
        let midnight = Time::midnight();
        if let Some(day) = weekday(text) {
            return Ok(FreezeWindow::Weekly {
                from: (day, midnight),
                until: (day.next(), midnight),
            });
        }
        let (from, until) = text.split_once('-').ok_or_else(expected)?;
        if let (Some(from), Some(until)) = (weekday(from.trim()), weekday(until.trim())) {
            return Ok(FreezeWindow::Weekly {
                from: (from, midnight),
                until: (until.next(), midnight),
            });
        }
        let from = day_and_time(from).ok_or_else(expected)?;
        let until = day_and_time(until).ok_or_else(expected)?;
        if from == until {
            return Err(format!("`{text}` is empty"));
        }
        Ok(FreezeWindow::Weekly { from, until })
    }

    /// Whether `at` (a local date and time) is inside the window.
    pub fn contains(&self, at: DateTime) -> bool {
        match self {
            FreezeWindow::Dates(from, until) => (*from..=*until).contains(&at.date()),
            FreezeWindow::Weekly { from, until } => {
                let now = week_minute(at.weekday(), at.time());
                let (start, end) = (week_minute(from.0, from.1), week_minute(until.0, until.1));
                if start < end {
                    (start..end).contains(&now)
                } else {
                    // Across the week's end (Fri 16:00-Mon 08:00).
                    now >= start || now < end
                }
            }
        }
    }
}

impl FreezeWindow {
    /// When the window that holds `at` ends: the first moment after `at` outside it.
    /// Meaningful only when [`FreezeWindow::contains`] holds for `at`.
    pub fn ends_after(&self, at: DateTime) -> DateTime {
        match self {
            FreezeWindow::Dates(_, until) => until
                .tomorrow()
                .map(|day| day.to_datetime(Time::midnight()))
                .unwrap_or(DateTime::MAX),
            FreezeWindow::Weekly { until, .. } => (0..=7)
                .filter_map(|days| at.date().checked_add(jiff::Span::new().days(days)).ok())
                .map(|day| day.to_datetime(until.1))
                .find(|end| end.weekday() == until.0 && *end > at)
                .unwrap_or(DateTime::MAX),
        }
    }
}

/// When `windows` next let a deployment through after `at`: the end of the window `at` is in,
/// carried on through windows that overlap it; `None` when `at` is in none. Bounded: a
/// configuration of windows that never ends answers with the last end it found.
pub fn thaws_at(windows: &[String], at: DateTime) -> Option<DateTime> {
    let parsed: Vec<FreezeWindow> = windows
        .iter()
        .filter_map(|text| FreezeWindow::parse(text).ok())
        .collect();
    let mut now = at;
    let mut held = false;
    for _ in 0..=parsed.len() {
        let Some(window) = parsed.iter().find(|window| window.contains(now)) else {
            break;
        };
        held = true;
        now = window.ends_after(now);
    }
    held.then_some(now)
}

/// The first of `windows` (as written) that `at` falls in.
pub fn frozen(windows: &[String], at: DateTime) -> Option<&str> {
    windows
        .iter()
        .find(|text| FreezeWindow::parse(text).is_ok_and(|window| window.contains(at)))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime {
        text.parse().expect("datetime")
    }

    #[test]
    fn weekly_windows_wrap_around_the_week() {
        let window = FreezeWindow::parse("Fri 16:00-Mon 08:00").expect("window");
        // 2026-11-27 is a Friday.
        assert!(!window.contains(at("2026-11-27T15:59")));
        assert!(window.contains(at("2026-11-27T16:00")));
        assert!(window.contains(at("2026-11-29T12:00")));
        assert!(window.contains(at("2026-11-30T07:59")));
        assert!(!window.contains(at("2026-11-30T08:00")));
    }

    #[test]
    fn a_freeze_thaws_at_the_end_of_the_windows_it_is_in() {
        let windows = vec![
            "Fri 16:00-Mon 08:00".to_owned(),
            "2026-11-30..2026-12-01".to_owned(),
        ];
        // Friday 17:00: the weekend window ends Monday 08:00, where the dates hold it on
        // until Wednesday.
        assert_eq!(
            thaws_at(&windows, at("2026-11-27T17:00")),
            Some(at("2026-12-02T00:00"))
        );
        assert_eq!(
            thaws_at(&windows[..1], at("2026-11-29T12:00")),
            Some(at("2026-11-30T08:00"))
        );
        assert_eq!(thaws_at(&windows, at("2026-11-27T15:00")), None);
        let always = vec![
            "Mon 00:00-Mon 00:01".to_owned(),
            "Mon 00:01-Mon 00:00".to_owned(),
        ];
        assert!(thaws_at(&always, at("2026-11-27T15:00")).is_some());
    }

    #[test]
    fn days_and_dates() {
        let weekend = FreezeWindow::parse("sat-sun").expect("window");
        assert!(weekend.contains(at("2026-11-28T00:00")));
        assert!(weekend.contains(at("2026-11-29T23:59")));
        assert!(!weekend.contains(at("2026-11-30T00:00")));
        let holidays = FreezeWindow::parse("2026-12-24..2027-01-02").expect("window");
        assert!(holidays.contains(at("2027-01-02T23:00")));
        assert!(!holidays.contains(at("2027-01-03T00:00")));
        assert!(FreezeWindow::parse("Saturday").is_ok());
        for bad in [
            "Funday",
            "2026-13-01",
            "Fri 16:00",
            "Fri 25:00-Mon 08:00",
            "2027-01-02..2026-12-24",
            "sa",
        ] {
            assert!(FreezeWindow::parse(bad).is_err(), "{bad}");
        }
    }
}

//! Deploy freeze windows, in an environment's `freeze` list, read in the deployment time
//! zone: a day (`2026-12-24`), a range of days (`2026-12-24..2027-01-02`), a weekday
//! (`Sat`), a range of weekdays (`Sat-Sun`), a weekly window (`Fri 16:00-Mon 08:00`), or a
//! recurring one (`every 2 weeks on Fri 16:00 for 64h from 2026-12-04`, `every day 18:00
//! for 14h`, or cron plus a length: `cron 0 16 * * FRI for 64h`). Days are whole days; other windows run from their start up to (not including)
//! their end. All of them are wall-clock times of the zone: a window that starts Friday
//! 16:00 starts at 16:00 on both sides of a daylight-saving change, and its length is
//! counted on the clock (Friday 16:00 for 64h ends Monday 08:00 whatever the clocks did).

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::{Span, ToSpan};

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
    /// Every `every_days` days from `first` (a start), for `length` on the clock.
    Recurring {
        /// The first start.
        first: DateTime,
        /// Days between starts (7 for weekly).
        every_days: i64,
        /// How long each lasts, in minutes on the clock; shorter than the period.
        length_minutes: i64,
    },
    /// From every slot of a cron expression (local time), for a length on the clock.
    Cron {
        /// The starts.
        cron: super::schedule::Cron,
        /// How long each lasts, in minutes (a minute to 31 days).
        length_minutes: i64,
    },
}

/// The longest a cron window may last: the search for the slot that holds a moment walks
/// back at most this far.
const LONGEST_CRON_WINDOW_MINUTES: i64 = 31 * 24 * 60;
/// How far ahead a cron window's next start is looked for (a leap day comes every 4 years).
const CRON_LOOKAHEAD_DAYS: i64 = 5 * 366;

/// `cron <minute> <hour> <day> <month> <weekday> for <length>`.
fn cron_window(text: &str) -> Result<FreezeWindow, String> {
    let expected = || {
        format!(
            "`{text}` is not a cron freeze window (like `cron 0 16 * * FRI for 64h`: five cron \
             fields, then `for` and a length)"
        )
    };
    let rest = text.get(4..).ok_or_else(expected)?;
    let (expression, length) = rest.rsplit_once(" for ").ok_or_else(expected)?;
    let cron = super::schedule::Cron::parse(expression.trim()).map_err(|e| e.to_string())?;
    let length_minutes = clock_minutes(length.trim()).ok_or_else(expected)?;
    if !(1..=LONGEST_CRON_WINDOW_MINUTES).contains(&length_minutes) {
        return Err(format!("`{text}`: a window lasts a minute to 31 days"));
    }
    Ok(FreezeWindow::Cron {
        cron,
        length_minutes,
    })
}

/// The longest period a recurring window may have (a year of weeks), so arithmetic on it
/// stays small.
const LONGEST_PERIOD_DAYS: i64 = 7 * 53;

/// `64h`, `90m`, `2d16h`: a length on the clock, in minutes.
fn clock_minutes(text: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut number = String::new();
    let mut any = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if number.len() >= 6 {
                return None;
            }
            number.push(c);
            continue;
        }
        let n: i64 = number.parse().ok()?;
        number.clear();
        let unit = match c {
            'd' => 24 * 60,
            'h' => 60,
            'm' => 1,
            _ => return None,
        };
        total = total.checked_add(n * unit)?;
        any = true;
    }
    (any && number.is_empty()).then_some(total)
}

/// `every [N] day(s)|week(s) [on <day>] <HH:MM> for <length> [from <date>]`.
fn recurring(text: &str) -> Result<FreezeWindow, String> {
    let expected = || {
        format!(
            "`{text}` is not a recurring freeze window (like `every 2 weeks on Fri 16:00 for \
             64h from 2026-12-04` or `every day 18:00 for 14h`)"
        )
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut rest = words.get(1..).ok_or_else(expected)?;
    let count: i64 = match rest.first().and_then(|w| w.parse::<i64>().ok()) {
        Some(n) => {
            rest = &rest[1..];
            n
        }
        None => 1,
    };
    let unit_days = match rest.first().map(|w| w.to_ascii_lowercase()).as_deref() {
        Some("day" | "days") => 1,
        Some("week" | "weeks") => 7,
        _ => return Err(expected()),
    };
    rest = &rest[1..];
    let on = if rest.first().is_some_and(|w| w.eq_ignore_ascii_case("on")) {
        if unit_days != 7 {
            return Err(format!("`{text}`: `on <day>` goes with weeks"));
        }
        let day = rest.get(1).and_then(|w| weekday(w)).ok_or_else(expected)?;
        rest = &rest[2..];
        Some(day)
    } else {
        None
    };
    let [time, for_word, length, tail @ ..] = rest else {
        return Err(expected());
    };
    let time: Time = time.parse().map_err(|_| expected())?;
    if !for_word.eq_ignore_ascii_case("for") {
        return Err(expected());
    }
    let length_minutes = clock_minutes(length).ok_or_else(expected)?;
    let from: Option<Date> = match tail {
        [] => None,
        [from_word, date] if from_word.eq_ignore_ascii_case("from") => {
            Some(date.parse().map_err(|_| expected())?)
        }
        _ => return Err(expected()),
    };
    if !(1..=LONGEST_PERIOD_DAYS / unit_days).contains(&count) {
        return Err(format!("`{text}`: the period is 1 to 53 weeks"));
    }
    let every_days = count * unit_days;
    if length_minutes == 0 || length_minutes >= every_days * 24 * 60 {
        return Err(format!(
            "`{text}`: each window must be shorter than the time between them"
        ));
    }
    if unit_days == 7 && on.is_none() {
        return Err(format!("`{text}`: say which day it starts (`on Fri`)"));
    }
    if count > 1 && from.is_none() {
        return Err(format!(
            "`{text}`: say the day it first starts (`from 2026-12-04`), so it is known \
             which {} count",
            if unit_days == 7 { "weeks" } else { "days" }
        ));
    }
    // Without `from`, any start day fits a period of one day or one week.
    let from = from.unwrap_or(Date::constant(2000, 1, 3));
    let first_day = match on {
        Some(day) => (0..7)
            .filter_map(|n| from.checked_add(n.days()).ok())
            .find(|date| date.weekday() == day)
            .ok_or_else(expected)?,
        None => from,
    };
    Ok(FreezeWindow::Recurring {
        first: first_day.to_datetime(time),
        every_days,
        length_minutes,
    })
}

/// The first `(day, time)` of the week after `at`.
fn next_weekly((day, time): (Weekday, Time), at: DateTime) -> Option<DateTime> {
    (0..=7)
        .filter_map(|days| at.date().checked_add(Span::new().days(days)).ok())
        .map(|date| date.to_datetime(time))
        .find(|moment| moment.weekday() == day && *moment > at)
}

impl FreezeWindow {
    /// For a recurring window: the start of the occurrence that began last at or before
    /// `at`, if any has begun.
    fn latest_start(first: DateTime, every_days: i64, at: DateTime) -> Option<DateTime> {
        if at < first {
            return None;
        }
        let days = i64::from(first.date().until(at.date()).ok()?.get_days());
        let mut start = first
            .date()
            .checked_add(Span::new().days(days - days.rem_euclid(every_days)))
            .ok()?
            .to_datetime(first.time());
        if start > at {
            start = start
                .date()
                .checked_sub(every_days.days())
                .ok()?
                .to_datetime(first.time());
        }
        (start >= first).then_some(start)
    }
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
        if text
            .split_whitespace()
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("every"))
        {
            return recurring(text);
        }
        if text
            .split_whitespace()
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("cron"))
        {
            return cron_window(text);
        }
        let expected = || {
            format!(
                "`{text}` is not a freeze window (a date `2026-12-24`, dates \
                 `2026-12-24..2027-01-02`, a day `Sat`, days `Sat-Sun`, a weekly window \
                 `Fri 16:00-Mon 08:00`, a recurring one `every 2 weeks on Fri 16:00 for \
                 64h from 2026-12-04`, or cron and a length `cron 0 16 * * FRI for 64h`)"
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
            FreezeWindow::Recurring { .. } => self.recurring_end(at).is_some(),
            FreezeWindow::Cron { .. } => self.cron_end(at).is_some(),
        }
    }

    /// For a cron window holding `at`: when the latest occurrence that holds it ends.
    fn cron_end(&self, at: DateTime) -> Option<DateTime> {
        let FreezeWindow::Cron {
            cron,
            length_minutes,
        } = self
        else {
            return None;
        };
        let since = at.checked_sub((length_minutes - 1).minutes()).ok()?;
        let start = cron.latest_between(since, at)?;
        let end = start.checked_add(length_minutes.minutes()).ok()?;
        (at < end).then_some(end)
    }

    /// For a recurring window holding `at`: when that occurrence ends.
    fn recurring_end(&self, at: DateTime) -> Option<DateTime> {
        let FreezeWindow::Recurring {
            first,
            every_days,
            length_minutes,
        } = self
        else {
            return None;
        };
        let start = Self::latest_start(*first, *every_days, at)?;
        let end = start.checked_add(length_minutes.minutes()).ok()?;
        (at < end).then_some(end)
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
            FreezeWindow::Weekly { until, .. } => next_weekly(*until, at).unwrap_or(DateTime::MAX),
            FreezeWindow::Recurring { .. } => self.recurring_end(at).unwrap_or(DateTime::MAX),
            FreezeWindow::Cron { .. } => self.cron_end(at).unwrap_or(DateTime::MAX),
        }
    }

    /// The first start of this window after `at`, if it starts again.
    pub fn next_start_after(&self, at: DateTime) -> Option<DateTime> {
        match self {
            FreezeWindow::Dates(from, _) => {
                let start = from.to_datetime(Time::midnight());
                (start > at).then_some(start)
            }
            FreezeWindow::Weekly { from, .. } => next_weekly(*from, at),
            FreezeWindow::Recurring {
                first, every_days, ..
            } => match Self::latest_start(*first, *every_days, at) {
                None => Some(*first),
                Some(start) => start
                    .date()
                    .checked_add(every_days.days())
                    .ok()
                    .map(|day| day.to_datetime(first.time())),
            },
            FreezeWindow::Cron { cron, .. } => cron.next_after(at, CRON_LOOKAHEAD_DAYS),
        }
    }
}

/// A freeze as people are told about it: when it holds, and the window that starts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freeze {
    /// When it starts (`at` itself when it already holds).
    pub starts: DateTime,
    /// When deployments may go again (overlapping windows carried through).
    pub ends: DateTime,
    /// Whether it holds at the time asked.
    pub now: bool,
    /// The window that holds then, as configured.
    pub window: String,
}

/// The freeze in force at `at`, or else the next one to start (the soonest start of any of
/// `windows`, carried through the windows that overlap it); `None` when none ever starts.
pub fn current_or_next(windows: &[String], at: DateTime) -> Option<Freeze> {
    if let (Some(window), Some(ends)) = (frozen(windows, at), thaws_at(windows, at)) {
        return Some(Freeze {
            starts: at,
            ends,
            now: true,
            window: window.to_owned(),
        });
    }
    let (starts, window) = windows
        .iter()
        .filter_map(|text| {
            let start = FreezeWindow::parse(text).ok()?.next_start_after(at)?;
            Some((start, text))
        })
        .min_by_key(|(start, _)| *start)?;
    Some(Freeze {
        starts,
        ends: thaws_at(windows, starts)?,
        now: false,
        window: window.clone(),
    })
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

    /// Whether `windows` hold the instant `utc` in `zone`, as the deployment checks read them.
    fn frozen_at(window: &str, zone: &str, utc: &str) -> bool {
        let zone = jiff::tz::TimeZone::get(zone).expect("zone");
        let instant: jiff::Timestamp = utc.parse().expect("instant");
        frozen(&[window.to_owned()], zone.to_datetime(instant)).is_some()
    }

    #[test]
    fn a_fortnightly_window_keeps_its_local_times_across_new_yorks_changes() {
        // Clocks go forward on Sunday 2027-03-14 and back on Sunday 2027-11-07.
        let window = "every 2 weeks on Fri 16:00 for 64h from 2027-03-12";
        let ny = "America/New_York";
        // Friday 16:00 EST is 21:00Z; Monday 08:00 EDT is 12:00Z.
        assert!(!frozen_at(window, ny, "2027-03-12T20:59Z"));
        assert!(frozen_at(window, ny, "2027-03-12T21:00Z"));
        assert!(frozen_at(window, ny, "2027-03-15T11:59Z"));
        assert!(!frozen_at(window, ny, "2027-03-15T12:00Z"));
        // The off week is open; the next window starts at 16:00 EDT (20:00Z).
        assert!(!frozen_at(window, ny, "2027-03-20T12:00Z"));
        assert!(!frozen_at(window, ny, "2027-03-26T19:59Z"));
        assert!(frozen_at(window, ny, "2027-03-26T20:00Z"));
        // Autumn: 2027-11-05 is a window's Friday (16:00 EDT = 20:00Z); it ends Monday
        // 08:00 EST = 13:00Z.
        assert!(frozen_at(window, ny, "2027-11-05T20:00Z"));
        assert!(frozen_at(window, ny, "2027-11-08T12:59Z"));
        assert!(!frozen_at(window, ny, "2027-11-08T13:00Z"));
        // Nothing before its first day.
        assert!(!frozen_at(window, ny, "2027-02-27T22:00Z"));
    }

    #[test]
    fn a_fortnightly_window_keeps_its_local_times_across_londons_changes() {
        // Clocks go forward on Sunday 2027-03-28 and back on Sunday 2027-10-31.
        let window = "every 2 weeks on Fri 16:00 for 64h from 2027-03-26";
        let london = "Europe/London";
        // Friday 16:00 GMT = 16:00Z, Monday 08:00 BST = 07:00Z.
        assert!(frozen_at(window, london, "2027-03-26T16:00Z"));
        assert!(frozen_at(window, london, "2027-03-29T06:59Z"));
        assert!(!frozen_at(window, london, "2027-03-29T07:00Z"));
        // 2027-10-29 is an off week of that one (31 weeks on); one counted from it runs
        // Friday 16:00 BST = 15:00Z until Monday 08:00 GMT = 08:00Z.
        assert!(!frozen_at(window, london, "2027-10-29T15:00Z"));
        let autumn = "every 2 weeks on Fri 16:00 for 64h from 2027-10-29";
        assert!(!frozen_at(autumn, london, "2027-10-29T14:59Z"));
        assert!(frozen_at(autumn, london, "2027-10-29T15:00Z"));
        assert!(frozen_at(autumn, london, "2027-11-01T07:59Z"));
        assert!(!frozen_at(autumn, london, "2027-11-01T08:00Z"));
        assert!(frozen_at(autumn, london, "2027-11-12T16:00Z"));
    }

    #[test]
    fn a_cron_window_keeps_its_local_times_across_both_zones_changes() {
        let window = "cron 0 16 * * FRI for 64h";
        let ny = "America/New_York";
        // New York, spring (2027-03-14): Friday 16:00 EST = 21:00Z → Monday 08:00 EDT = 12:00Z.
        assert!(!frozen_at(window, ny, "2027-03-12T20:59Z"));
        assert!(frozen_at(window, ny, "2027-03-12T21:00Z"));
        assert!(frozen_at(window, ny, "2027-03-15T11:59Z"));
        assert!(!frozen_at(window, ny, "2027-03-15T12:00Z"));
        // Autumn (2027-11-07): Friday 16:00 EDT = 20:00Z → Monday 08:00 EST = 13:00Z.
        assert!(frozen_at(window, ny, "2027-11-05T20:00Z"));
        assert!(frozen_at(window, ny, "2027-11-08T12:59Z"));
        assert!(!frozen_at(window, ny, "2027-11-08T13:00Z"));
        let london = "Europe/London";
        // London, spring (2027-03-28): 16:00 GMT = 16:00Z → Monday 08:00 BST = 07:00Z.
        assert!(frozen_at(window, london, "2027-03-26T16:00Z"));
        assert!(frozen_at(window, london, "2027-03-29T06:59Z"));
        assert!(!frozen_at(window, london, "2027-03-29T07:00Z"));
        // Autumn (2027-10-31): 16:00 BST = 15:00Z → Monday 08:00 GMT = 08:00Z.
        assert!(!frozen_at(window, london, "2027-10-29T14:59Z"));
        assert!(frozen_at(window, london, "2027-10-29T15:00Z"));
        assert!(frozen_at(window, london, "2027-11-01T07:59Z"));
        assert!(!frozen_at(window, london, "2027-11-01T08:00Z"));
    }

    #[test]
    fn cron_windows_thaw_start_again_and_refuse_what_is_not_one() {
        // Month-end: the last days' evenings, 18:00 for 14h, on the 28th to 31st.
        let nights = vec!["cron 0 18 28-31 * * for 14h".to_owned()];
        assert_eq!(
            thaws_at(&nights, at("2026-12-30T23:00")),
            Some(at("2026-12-31T08:00"))
        );
        assert_eq!(thaws_at(&nights, at("2026-12-31T08:00")), None);
        let window = FreezeWindow::parse("cron 0 18 28-31 * * for 14h").expect("window");
        assert_eq!(
            window.next_start_after(at("2026-12-31T08:00")),
            Some(at("2026-12-31T18:00"))
        );
        assert_eq!(
            window.next_start_after(at("2027-01-01T00:00")),
            Some(at("2027-01-28T18:00"))
        );
        // A leap day's window is found years ahead, within bounds.
        let leap = FreezeWindow::parse("cron 0 0 29 2 * for 1d").expect("window");
        assert_eq!(
            leap.next_start_after(at("2026-12-04T00:00")),
            Some(at("2028-02-29T00:00"))
        );
        assert!(leap.contains(at("2028-02-29T23:59")));
        for bad in [
            "cron",
            "cron 0 16 * * FRI",
            "cron 0 16 * FRI for 64h",
            "cron 0 16 * * FRI for 0m",
            "cron 0 16 * * FRI for 32d",
            "cron 0 16 * * FRI for ever",
            "cron 61 16 * * FRI for 1h",
        ] {
            assert!(FreezeWindow::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn recurring_windows_thaw_at_their_end_and_read_every_form() {
        let nightly = vec!["every day 18:00 for 14h".to_owned()];
        assert_eq!(
            thaws_at(&nightly, at("2026-12-04T23:00")),
            Some(at("2026-12-05T08:00"))
        );
        assert_eq!(thaws_at(&nightly, at("2026-12-05T08:00")), None);
        let weekly = FreezeWindow::parse("every week on fri 16:00 for 2d16h").expect("window");
        assert_eq!(
            weekly,
            FreezeWindow::parse("Every 1 Week on Friday 16:00 for 64h").expect("window")
        );
        assert!(weekly.contains(at("2026-12-07T07:59")));
        assert!(!weekly.contains(at("2026-12-07T08:00")));
        // A `from` that is not the window's day starts at that day's next one.
        let third = FreezeWindow::parse("every 3 weeks on Mon 09:00 for 1h from 2026-12-02")
            .expect("window");
        assert!(third.contains(at("2026-12-07T09:30")));
        assert!(!third.contains(at("2026-12-14T09:30")));
        assert!(third.contains(at("2026-12-28T09:30")));
        for bad in [
            "every",
            "every 2 weeks on Fri 16:00 for 64h",
            "every week 16:00 for 2h",
            "every day on Fri 16:00 for 2h",
            "every day 18:00 for 24h",
            "every day 18:00 for 0h",
            "every 0 days 18:00 for 1h",
            "every 54 weeks on Fri 16:00 for 1h from 2026-12-04",
            "every day 18:00 for 14 hours",
            "every day 18:00 for 9999999h",
            "every day 25:00 for 1h",
            "every day 18:00 for 1h since 2026-12-04",
        ] {
            assert!(FreezeWindow::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_freeze_in_force_or_the_next_one() {
        let windows = vec![
            "Fri 16:00-Mon 08:00".to_owned(),
            "2026-12-24..2027-01-01".to_owned(),
        ];
        // Wednesday 2026-12-02: the weekend's window is next.
        assert_eq!(
            current_or_next(&windows, at("2026-12-02T10:00")),
            Some(Freeze {
                starts: at("2026-12-04T16:00"),
                ends: at("2026-12-07T08:00"),
                now: false,
                window: "Fri 16:00-Mon 08:00".into(),
            })
        );
        // The holidays start first, and the weekend after them carries the freeze on.
        let holidays = current_or_next(&windows, at("2026-12-23T12:00")).expect("next");
        assert_eq!(
            (holidays.starts, holidays.ends, holidays.window.as_str()),
            (
                at("2026-12-24T00:00"),
                at("2027-01-04T08:00"),
                "2026-12-24..2027-01-01"
            )
        );
        let weekend = current_or_next(&windows, at("2026-11-28T12:00")).expect("now");
        assert!(weekend.now);
        assert_eq!(weekend.ends, at("2026-11-30T08:00"));
        let fortnightly = vec!["every 2 weeks on Fri 16:00 for 64h from 2026-12-04".to_owned()];
        assert_eq!(
            current_or_next(&fortnightly, at("2026-12-08T09:00")).map(|f| (f.starts, f.ends)),
            Some((at("2026-12-18T16:00"), at("2026-12-21T08:00")))
        );
        assert_eq!(
            current_or_next(&fortnightly, at("2026-11-01T09:00")).map(|f| f.starts),
            Some(at("2026-12-04T16:00"))
        );
        let past = vec!["2026-01-01".to_owned()];
        assert_eq!(current_or_next(&past, at("2026-12-02T10:00")), None);
    }
}

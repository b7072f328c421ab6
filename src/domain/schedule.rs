//! Scheduled cuts: five-field cron (`minute hour day-of-month month day-of-week`, with `*`,
//! lists, ranges, steps and day/month names) evaluated in the line's time zone. The domain
//! reads no clock: the caller passes `now`.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Day-of-month and day-of-week both restricted: either may match (cron's rule).
    either_day: bool,
}

/// Why an expression is not a schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{expression}` is not a five-field cron schedule: {reason}")]
pub struct BadCron {
    /// The expression.
    pub expression: String,
    /// What is wrong.
    pub reason: String,
}

const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

impl Cron {
    /// Parses `0 9 * * MON-FRI` and the like.
    pub fn parse(expression: &str) -> Result<Cron, BadCron> {
        let bad = |reason: String| BadCron {
            expression: expression.to_owned(),
            reason,
        };
        let fields: Vec<&str> = expression.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(bad(format!("{} fields instead of 5", fields.len())));
        }
        let field = |i: usize, low: u32, high: u32| -> Result<u64, BadCron> {
            let mut bits = 0u64;
            for part in fields[i].split(',') {
                let (range, step) = match part.split_once('/') {
                    Some((r, s)) => (
                        r,
                        s.parse::<u32>()
                            .ok()
                            .filter(|s| *s > 0)
                            .ok_or_else(|| bad(format!("bad step in `{part}`")))?,
                    ),
                    None => (part, 1),
                };
                let value = |text: &str| -> Result<u32, BadCron> {
                    let named = match i {
                        4 => DAYS
                            .iter()
                            .position(|d| text.eq_ignore_ascii_case(d))
                            .map(|d| d as u32),
                        3 => MONTHS
                            .iter()
                            .position(|m| text.eq_ignore_ascii_case(m))
                            .map(|m| m as u32 + 1),
                        _ => None,
                    };
                    let n = named
                        .or_else(|| text.parse().ok())
                        .ok_or_else(|| bad(format!("`{text}` is not a value")))?;
                    if n < low || n > high {
                        return Err(bad(format!("`{text}` is outside {low}–{high}")));
                    }
                    Ok(n)
                };
                let (from, to) = match range {
                    "*" => (low, high),
                    r => match r.split_once('-') {
                        Some((a, b)) => (value(a)?, value(b)?),
                        None if step > 1 => (value(r)?, high),
                        None => {
                            let v = value(r)?;
                            (v, v)
                        }
                    },
                };
                if from > to {
                    return Err(bad(format!("`{range}` runs backwards")));
                }
                let mut n = from;
                while n <= to {
                    bits |= 1 << n;
                    n += step;
                }
            }
            Ok(bits)
        };
        let mut weekdays = field(4, 0, 7)?;
        // 7 is Sunday too.
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Cron {
            minutes: field(0, 0, 59)?,
            hours: field(1, 0, 23)?,
            days: field(2, 1, 31)?,
            months: field(3, 1, 12)?,
            weekdays,
            either_day: !fields[2].starts_with('*') && !fields[4].starts_with('*'),
        })
    }

    /// Whether a local time (to the minute) is a slot.
    pub fn matches(&self, at: DateTime) -> bool {
        let has = |bits: u64, n: i8| n >= 0 && bits & (1 << n) != 0;
        let day = has(self.days, at.day());
        let weekday = has(self.weekdays, at.weekday().to_sunday_zero_offset());
        let day_ok = if self.either_day {
            day || weekday
        } else {
            day && weekday
        };
        has(self.minutes, at.minute())
            && has(self.hours, at.hour())
            && has(self.months, at.month())
            && day_ok
    }

    /// The slots after `from` and before `until` in `zone`, at most `limit`, in order. Walks
    /// the days, then only the hours and minutes the expression names, so a horizon of weeks
    /// costs its matching slots, not a check per minute.
    pub fn slots_between(
        &self,
        zone: &TimeZone,
        from: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Vec<Timestamp> {
        let mut slots = Vec::new();
        let Some(mut day) = local_minute(zone, from).map(|at| at.date()) else {
            return slots;
        };
        let last_day = zone.to_datetime(until).date();
        while day <= last_day && slots.len() < limit {
            let midnight = day.to_datetime(jiff::civil::Time::midnight());
            for hour in (0..24_i8).filter(|h| self.hours & (1 << h) != 0) {
                for minute in (0..60_i8).filter(|m| self.minutes & (1 << m) != 0) {
                    let Ok(at) = midnight.with().hour(hour).minute(minute).build() else {
                        continue;
                    };
                    if !self.matches(at) {
                        continue;
                    }
                    let Ok(instant) = zone.to_timestamp(at) else {
                        continue;
                    };
                    if instant > from && instant < until && slots.len() < limit {
                        slots.push(instant);
                    }
                }
            }
            let Ok(next) = day.tomorrow() else {
                break;
            };
            day = next;
        }
        slots
    }

    /// The slots of one local day, in order.
    pub fn slots_on(&self, day: jiff::civil::Date) -> impl Iterator<Item = DateTime> + '_ {
        let midnight = day.to_datetime(jiff::civil::Time::midnight());
        (0..24_i8)
            .filter(|h| self.hours & (1 << h) != 0)
            .flat_map(move |hour| {
                (0..60_i8)
                    .filter(|m| self.minutes & (1 << m) != 0)
                    .filter_map(move |minute| {
                        midnight.with().hour(hour).minute(minute).build().ok()
                    })
            })
            .filter(|at| self.matches(*at))
    }

    /// The latest local slot at or before `at` and not before `since`.
    pub fn latest_between(&self, since: DateTime, at: DateTime) -> Option<DateTime> {
        let mut day = at.date();
        while day >= since.date() {
            let latest = self
                .slots_on(day)
                .filter(|slot| *slot <= at && *slot >= since)
                .last();
            if latest.is_some() {
                return latest;
            }
            day = day.yesterday().ok()?;
        }
        None
    }

    /// The first local slot after `at`, looking at most `days` days ahead.
    pub fn next_after(&self, at: DateTime, days: i64) -> Option<DateTime> {
        let mut day = at.date();
        for _ in 0..=days {
            if let Some(slot) = self.slots_on(day).find(|slot| *slot > at) {
                return Some(slot);
            }
            day = day.tomorrow().ok()?;
        }
        None
    }

    /// The latest slot at or before `now` within `lookback`, in `zone`.
    pub fn last_slot(
        &self,
        now: Timestamp,
        zone: &TimeZone,
        lookback: jiff::SignedDuration,
    ) -> Option<Timestamp> {
        let floor = now.checked_sub(lookback).ok()?;
        let mut at = local_minute(zone, now)?;
        loop {
            let instant = zone.to_timestamp(at).ok()?;
            if instant < floor {
                return None;
            }
            if self.matches(at) && instant <= now {
                return Some(instant);
            }
            at = at.checked_sub(1.minute()).ok()?;
        }
    }
}

/// `now` in `zone`, to the minute (cron's resolution).
fn local_minute(zone: &TimeZone, now: Timestamp) -> Option<DateTime> {
    zone.to_datetime(now)
        .with()
        .second(0)
        .subsec_nanosecond(0)
        .build()
        .ok()
}

/// The longest reminder lead accepted (a day): reminders are for the next cut, not the week.
pub const MAX_REMINDER_LEAD: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// Parses a reminder lead such as `30m`, `2h` or `1h 30m` (at least a minute, at most a day).
pub fn parse_lead(text: &str) -> Result<jiff::SignedDuration, String> {
    let lead: jiff::SignedDuration = text
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (write `30m`, `2h` or `1h 30m`)"))?;
    if lead < jiff::SignedDuration::from_mins(1) || lead > MAX_REMINDER_LEAD {
        return Err(format!("`{text}` must be between 1 minute and 24 hours"));
    }
    Ok(lead)
}

/// The slot to remind of now, if any: the next slot after `now` when it is at most `lead`
/// away. Each slot's reminder is claimed once by the caller.
pub fn due_reminder(
    cron: &Cron,
    zone: &TimeZone,
    now: Timestamp,
    lead: jiff::SignedDuration,
) -> Option<Timestamp> {
    let end = now.checked_add(lead).ok()?;
    let mut at = local_minute(zone, now)?;
    loop {
        at = at.checked_add(1.minute()).ok()?;
        let instant = zone.to_timestamp(at).ok()?;
        if instant > end {
            return None;
        }
        if instant > now && cron.matches(at) {
            return Some(instant);
        }
    }
}

/// The scheduled slot to fire now, if any: the latest slot, when it is less than one period
/// (the gap to the slot before it) late. A service that was down fires a missed slot once at
/// start-up; older misses are skipped.
pub fn due_slot(cron: &Cron, zone: &TimeZone, now: Timestamp) -> Option<Timestamp> {
    // Schedules repeat at least yearly; eight days covers daily and weekly ones cheaply.
    let week = jiff::SignedDuration::from_hours(24 * 8);
    let last = cron.last_slot(now, zone, week)?;
    let before = last.checked_sub(jiff::SignedDuration::from_mins(1)).ok()?;
    let previous = cron.last_slot(before, zone, week);
    let period = previous.map_or(week, |p| last.duration_since(p));
    (now.duration_since(last) < period).then_some(last)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reminders_fire_within_the_lead_before_the_next_slot() {
        let cron = super::Cron::parse("0 9 * * MON-FRI").expect("valid");
        let zone = jiff::tz::TimeZone::get("Europe/Berlin").expect("zone");
        let lead = super::parse_lead("30m").expect("lead");
        // Monday 2026-11-30 09:00 in Berlin is 08:00 UTC.
        let at = |s: &str| s.parse::<jiff::Timestamp>().expect("timestamp");
        let slot = at("2026-11-30T08:00:00Z");
        assert_eq!(
            super::due_reminder(&cron, &zone, at("2026-11-30T07:30:00Z"), lead),
            Some(slot)
        );
        assert_eq!(
            super::due_reminder(&cron, &zone, at("2026-11-30T07:59:00Z"), lead),
            Some(slot)
        );
        assert_eq!(
            super::due_reminder(&cron, &zone, at("2026-11-30T07:29:00Z"), lead),
            None
        );
        // At the slot itself the cut fires, not a reminder of it.
        assert_eq!(super::due_reminder(&cron, &zone, slot, lead), None);
        assert!(super::parse_lead("0m").is_err());
        assert!(super::parse_lead("2 days").is_err());
        assert!(super::parse_lead("soon").is_err());
        assert_eq!(
            super::parse_lead("1h 30m").expect("lead"),
            jiff::SignedDuration::from_mins(90)
        );
    }

    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    #[test]
    fn weekday_mornings_in_berlin() {
        let cron = Cron::parse("0 9 * * MON-FRI").expect("cron");
        let berlin = TimeZone::get("Europe/Berlin").expect("zone");
        // Friday 2026-11-27 09:30 Berlin = 08:30 UTC: the 09:00 slot (08:00 UTC) is due.
        let now = at("2026-11-27T08:30:00Z");
        assert_eq!(
            due_slot(&cron, &berlin, now),
            Some(at("2026-11-27T08:00:00Z"))
        );
        // Sunday: Friday's slot is older than one period (the gap Thu→Fri): not fired again.
        assert_eq!(due_slot(&cron, &berlin, at("2026-11-29T10:00:00Z")), None);
    }

    #[test]
    fn steps_lists_and_bad_expressions() {
        let cron = Cron::parse("*/15 8-10 1,15 * *").expect("cron");
        let utc = TimeZone::UTC;
        assert!(cron.matches(utc.to_datetime(at("2026-12-15T10:45:00Z"))));
        assert!(!cron.matches(utc.to_datetime(at("2026-12-15T10:50:00Z"))));
        assert!(!cron.matches(utc.to_datetime(at("2026-12-14T10:45:00Z"))));
        assert!(Cron::parse("0 25 * * *").is_err());
        assert!(Cron::parse("0 9 * *").is_err());
        assert!(Cron::parse("0 9 * * 5-1").is_err());
    }
}

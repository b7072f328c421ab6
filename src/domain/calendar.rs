//! The release calendar: a repository's scheduled cuts, freeze windows and releases as
//! iCalendar (RFC 5545) events. Each event's `UID` is made from what it is (the repository,
//! the line or environment, the window as written, the instant), so a calendar app that
//! fetches the feed again sees the same events, not new ones. Pure: the configuration, the
//! trains and `now` come in, the text goes out.

use jiff::{SignedDuration, Timestamp};

use super::freeze::FreezeWindow;
use super::repo_config::RepoConfig;
use super::schedule::Cron;

/// How far ahead the calendar looks.
pub const HORIZON: SignedDuration = SignedDuration::from_hours(60 * 24);
/// How far back (published releases, a freeze already in force).
pub const LOOKBACK: SignedDuration = SignedDuration::from_hours(30 * 24);
/// At most this many events of one schedule or one freeze window: a configuration cannot
/// make the feed large.
pub const MAX_PER_SOURCE: usize = 60;
/// A cut is an instant; its event lasts this long so calendars show it.
const CUT_LENGTH: SignedDuration = SignedDuration::from_mins(15);

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Stable across regenerations.
    pub uid: String,
    /// The title.
    pub summary: String,
    /// More.
    pub description: String,
    /// Starts.
    pub starts: Timestamp,
    /// Ends.
    pub ends: Timestamp,
    /// `TRANSPARENT` for reminders (cuts, releases), `OPAQUE` for freezes.
    pub busy: bool,
}

/// A train, as the calendar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainMark {
    /// Its line.
    pub line: String,
    /// The version it will be or was released as, when known.
    pub version: Option<String>,
    /// Published (epoch ms); `None` for a train not released yet.
    pub published_at: Option<i64>,
}

/// `repo`'s events between `now - LOOKBACK` and `now + HORIZON`: each line's scheduled cuts
/// (with the version the open train would be cut as), each environment's freeze windows,
/// and the releases published.
pub fn entries(
    repo: &str,
    config: &RepoConfig,
    trains: &[TrainMark],
    now: Timestamp,
) -> Vec<Entry> {
    let until = now.checked_add(HORIZON).unwrap_or(Timestamp::MAX);
    let since = now.checked_sub(LOOKBACK).unwrap_or(Timestamp::MIN);
    let mut entries = cuts(repo, config, trains, now, until);
    entries.extend(freezes(repo, config, since, now, until));
    entries.extend(releases(repo, trains, since, until));
    entries.sort_by(|a, b| (a.starts, &a.uid).cmp(&(b.starts, &b.uid)));
    entries
}

/// Each line's scheduled cuts from `now` to `until`.
fn cuts(
    repo: &str,
    config: &RepoConfig,
    trains: &[TrainMark],
    now: Timestamp,
    until: Timestamp,
) -> Vec<Entry> {
    let mut entries = Vec::new();
    for line in config.lines() {
        let Some(cron) = line.schedule.as_deref().and_then(|c| Cron::parse(c).ok()) else {
            continue;
        };
        let zone = line.time_zone();
        let planned = trains
            .iter()
            .find(|t| t.line == line.name && t.published_at.is_none())
            .and_then(|t| t.version.clone());
        for (i, slot) in cron
            .slots_between(&zone, now, until, MAX_PER_SOURCE)
            .into_iter()
            .enumerate()
        {
            // The next cut is the open train's; later ones are the trains after it.
            let summary = match (&planned, i) {
                (Some(version), 0) => format!("Cut {version} ({repo} {})", line.name),
                _ => format!("Cut ({repo} {})", line.name),
            };
            entries.push(Entry {
                uid: format!("cut/{repo}/{}/{}@trainyard", line.name, stamp(slot)),
                summary,
                description: format!(
                    "trainyard cuts the {} train of {repo} (schedule `{}`, {}).",
                    line.name,
                    line.schedule.as_deref().unwrap_or_default(),
                    zone.iana_name().unwrap_or("UTC")
                ),
                starts: slot,
                ends: slot.checked_add(CUT_LENGTH).unwrap_or(slot),
                busy: false,
            });
        }
    }
    entries
}

/// Each environment's freeze windows that have not ended by `now` and start before `until`.
fn freezes(
    repo: &str,
    config: &RepoConfig,
    since: Timestamp,
    now: Timestamp,
    until: Timestamp,
) -> Vec<Entry> {
    let zone = config.deploy_time_zone();
    let mut entries = Vec::new();
    for env in config.environments() {
        for text in env.freeze.iter().flatten() {
            let Ok(window) = FreezeWindow::parse(text) else {
                continue;
            };
            let mut cursor = zone.to_datetime(since);
            for _ in 0..MAX_PER_SOURCE {
                let Some(start) = window.next_start_after(cursor) else {
                    break;
                };
                let end = window.ends_after(start);
                let (Ok(starts), Ok(ends)) = (zone.to_timestamp(start), zone.to_timestamp(end))
                else {
                    break;
                };
                if starts >= until {
                    break;
                }
                if ends > now {
                    entries.push(Entry {
                        uid: format!(
                            "freeze/{repo}/{}/{:016x}/{}@trainyard",
                            env.name,
                            fnv(text),
                            stamp(starts)
                        ),
                        summary: format!("Freeze: {} ({repo})", env.name),
                        description: format!(
                            "Deployments to {} are held (`{text}`, {}); an admin may force one \
                             with a reason.",
                            env.name,
                            zone.iana_name().unwrap_or("UTC")
                        ),
                        starts,
                        ends,
                        busy: true,
                    });
                }
                cursor = start;
            }
        }
    }
    entries
}

/// The releases published between `since` and `until`.
fn releases(repo: &str, trains: &[TrainMark], since: Timestamp, until: Timestamp) -> Vec<Entry> {
    trains
        .iter()
        .filter_map(|train| {
            let version = train.version.as_ref()?;
            let at = Timestamp::from_millisecond(train.published_at?).ok()?;
            (at >= since && at <= until).then(|| Entry {
                uid: format!("release/{repo}/{version}@trainyard"),
                summary: format!("Released {version} ({repo})"),
                description: format!(
                    "The {} train of {repo} was released as {version}.",
                    train.line
                ),
                starts: at,
                ends: at.checked_add(CUT_LENGTH).unwrap_or(at),
                busy: false,
            })
        })
        .collect()
}

/// The calendar as RFC 5545 text: CRLF line ends, text escaped, lines folded at 75 octets.
/// `stamp` is the `DTSTAMP` (when the feed was made).
pub fn ics(name: &str, entries: &[Entry], made: Timestamp) -> String {
    let mut out = String::new();
    let mut line = |text: String| fold_into(&mut out, &text);
    line("BEGIN:VCALENDAR".into());
    line("VERSION:2.0".into());
    line("PRODID:-//trainyard//release calendar//EN".into());
    line("CALSCALE:GREGORIAN".into());
    line("METHOD:PUBLISH".into());
    line(format!("X-WR-CALNAME:{}", escape(name)));
    for entry in entries {
        line("BEGIN:VEVENT".into());
        line(format!("UID:{}", escape(&entry.uid)));
        line(format!("DTSTAMP:{}", stamp(made)));
        line(format!("DTSTART:{}", stamp(entry.starts)));
        line(format!("DTEND:{}", stamp(entry.ends)));
        line(format!("SUMMARY:{}", escape(&entry.summary)));
        line(format!("DESCRIPTION:{}", escape(&entry.description)));
        line(format!(
            "TRANSP:{}",
            if entry.busy { "OPAQUE" } else { "TRANSPARENT" }
        ));
        line("END:VEVENT".into());
    }
    line("END:VCALENDAR".into());
    out
}

/// `20261204T160000Z`.
fn stamp(at: Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// RFC 5545 TEXT: backslash, semicolon, comma and newlines escaped; other controls dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends `text` as content lines of at most 75 octets (continuations start with a space),
/// never splitting a character.
fn fold_into(out: &mut String, text: &str) {
    let mut width = 0;
    for c in text.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

/// A stable hash of a window as written (FNV-1a), for its events' `UID`s.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_long_lines_fold_on_character_boundaries() {
        assert_eq!(escape("a;b,c\\d\ne\u{7}"), "a\\;b\\,c\\\\d\\ne");
        let mut out = String::new();
        let long = format!("SUMMARY:{}", "é".repeat(60));
        fold_into(&mut out, &long);
        for line in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
        }
        assert_eq!(out.replace("\r\n ", "").trim_end(), long);
    }

    #[test]
    fn a_window_keeps_its_uid_and_another_window_gets_another() {
        assert_eq!(fnv("Fri 16:00-Mon 08:00"), fnv("Fri 16:00-Mon 08:00"));
        assert_ne!(fnv("Fri 16:00-Mon 08:00"), fnv("Fri 16:00-Mon 09:00"));
    }
}

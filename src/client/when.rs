//! Times on the command line, one way everywhere. [`parse_time`] reads
//! every option that takes a time (`run --at`, `guest create --expires`,
//! `history --since/--until`, `admin prune --before`): RFC 3339, a date
//! (midnight UTC), UNIX seconds, or a time relative to now in either
//! direction (`+30s`, `-5m`, `+2h`, `-1d`). [`show`] prints every time the
//! same way: local date and time followed by its zone.

use chrono::{DateTime, Local, NaiveDate, Offset, TimeZone};

use super::error::ClientError;

/// clap value parser: the UNIX time `text` names, relative times counted
/// from now (so a bad time is a usage error, exit 2).
pub fn time_arg(text: &str) -> Result<i64, ClientError> {
    parse_time(text, crate::clock::now_secs())
}

/// The UNIX time `text` names, relative times counted from `now`.
pub fn parse_time(text: &str, now: i64) -> Result<i64, ClientError> {
    let bad = || ClientError::Time(text.to_owned());
    let text = text.trim();
    if let Some(offset) = text.strip_prefix('+') {
        return parse_offset(offset)
            .and_then(|secs| now.checked_add(secs))
            .ok_or_else(bad);
    }
    // `-5m` is relative; `-5` alone stays a (negative) UNIX time.
    if let Some(offset) = text
        .strip_prefix('-')
        .filter(|t| t.ends_with(char::is_alphabetic))
    {
        return parse_offset(offset)
            .and_then(|secs| now.checked_sub(secs))
            .ok_or_else(bad);
    }
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(secs);
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return date
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp())
            .ok_or_else(bad);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .map_err(|_| bad())
}

fn parse_offset(text: &str) -> Option<i64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let amount: i64 = digits.parse().ok()?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    amount.checked_mul(scale)
}

/// The zone suffix of a local time: `UTC`, or its offset (`+01:00`).
fn zone<Tz: TimeZone>(time: &DateTime<Tz>) -> String {
    let offset = time.offset().fix().local_minus_utc();
    if offset == 0 {
        "UTC".to_owned()
    } else {
        time.offset().fix().to_string()
    }
}

/// A UNIX time (seconds, possibly fractional) as `2030-01-02 03:04:05 UTC`
/// (local time and zone).
pub fn show(secs: f64) -> String {
    match DateTime::from_timestamp(secs.floor() as i64, 0) {
        Some(t) => {
            let local = t.with_timezone(&Local);
            format!("{} {}", local.format("%Y-%m-%d %H:%M:%S"), zone(&local))
        }
        None => secs.to_string(),
    }
}

/// `03:18:51 UTC (in 25 s)` for a time today, with the date otherwise.
pub fn show_from_now(secs: f64, now: f64) -> String {
    let full = show(secs);
    let today = show(now);
    let when = match (full.split_once(' '), today.split_once(' ')) {
        (Some((day, rest)), Some((this_day, _))) if day == this_day => rest.to_owned(),
        _ => full,
    };
    let delta = secs - now;
    if delta >= 0.0 {
        format!("{when} (in {})", span(delta))
    } else {
        format!("{when} ({} ago)", span(-delta))
    }
}

/// A duration as `25 s`, `4 min 10 s`, `2 h 5 min` or `3 d 4 h`.
pub fn span(secs: f64) -> String {
    let secs = secs.round() as i64;
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s if s < 86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_documented_form() {
        let now = 1_000_000;
        let cases = [
            ("unix seconds", "1700000000", 1_700_000_000),
            ("rfc3339 utc", "1970-01-02T00:00:00Z", 86_400),
            ("rfc3339 offset", "1970-01-02T01:00:00+01:00", 86_400),
            ("a date is midnight UTC", "1970-01-03", 2 * 86_400),
            ("plain offset", "+30", now + 30),
            ("seconds", "+30s", now + 30),
            ("minutes", "+5m", now + 300),
            ("hours", "+2h", now + 7200),
            ("days", "+1d", now + 86_400),
            ("weeks", "+1w", now + 7 * 86_400),
            ("seconds ago", "-30s", now - 30),
            ("an hour ago", "-1h", now - 3600),
            ("a day ago", "-1d", now - 86_400),
        ];
        for (what, text, want) in cases {
            assert_eq!(parse_time(text, now).ok(), Some(want), "{what}: {text}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for text in [
            "",
            "+",
            "+5x",
            "tomorrow",
            "+-5s",
            "2030-13-01",
            "-5x",
            "-h",
        ] {
            assert!(parse_time(text, 0).is_err(), "accepted {text:?}");
        }
    }

    #[test]
    fn printed_times_name_their_zone() {
        let text = show(0.0);
        let zone = text.rsplit(' ').next().unwrap_or_default();
        assert!(
            zone == "UTC" || zone.starts_with('+') || zone.starts_with('-'),
            "{text}"
        );
        let soon = show_from_now(1_000_025.0, 1_000_000.0);
        assert!(soon.ends_with("(in 25 s)"), "{soon}");
        assert!(
            !soon.starts_with("1970-"),
            "today's date is left out: {soon}"
        );
        assert_eq!(span(250.0), "4 min 10 s");
    }
}

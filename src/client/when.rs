//! Parses the times the CLI accepts for `--at` and `--expires`: UNIX
//! seconds, RFC 3339, or an offset from now (`+30s`, `+5m`, `+2h`, `+1d`).

use super::error::ClientError;

/// clap value parser: the UNIX time `text` names, offsets from now (so a
/// bad time is a usage error, exit 2).
pub fn time_arg(text: &str) -> Result<i64, ClientError> {
    parse_time(text, chrono::Utc::now().timestamp())
}

/// The UNIX time `text` names, relative offsets counted from `now`.
pub fn parse_time(text: &str, now: i64) -> Result<i64, ClientError> {
    let bad = || ClientError::Time(text.to_owned());
    let text = text.trim();
    if let Some(offset) = text.strip_prefix('+') {
        return parse_offset(offset).map(|secs| now + secs).ok_or_else(bad);
    }
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(secs);
    }
    chrono::DateTime::parse_from_rfc3339(text)
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
        _ => return None,
    };
    amount.checked_mul(scale)
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
            ("plain offset", "+30", now + 30),
            ("seconds", "+30s", now + 30),
            ("minutes", "+5m", now + 300),
            ("hours", "+2h", now + 7200),
            ("days", "+1d", now + 86_400),
        ];
        for (what, text, want) in cases {
            assert_eq!(parse_time(text, now).ok(), Some(want), "{what}: {text}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for text in ["", "+", "+5x", "tomorrow", "+-5s", "2030-13-01"] {
            assert!(parse_time(text, 0).is_err(), "accepted {text:?}");
        }
    }
}

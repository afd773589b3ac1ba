//! Time as Kubernetes prints it: RFC 3339 timestamps (UTC, seconds) and kubectl's short ages
//! (`5d`, `3h12m`). Pure apart from `now_unix`; the calendar arithmetic is jiff's.
//!
//! It knows nothing of objects or requests: callers hand it seconds and strings.

use std::time::{SystemTime, UNIX_EPOCH};

use jiff::Timestamp;

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Formats Unix seconds as `2025-01-06T09:00:00Z` (clamped to the years -9999 to 9999).
pub fn rfc3339(unix: i64) -> String {
    let clamped = unix.clamp(Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
    Timestamp::from_second(clamped).map_or_else(|_| String::new(), |t| t.to_string())
}

/// Parses an RFC 3339 timestamp (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`) into Unix seconds,
/// rounded down to the whole second; None for text that is not one, an impossible date (month
/// 13, 30 February) included.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let t: Timestamp = text.parse().ok()?;
    // `as_second` truncates toward zero; a fraction before 1970 still belongs to the second
    // below, as the timestamp's own fields say.
    Some(t.as_second() - i64::from(t.subsec_nanosecond() < 0))
}

/// kubectl's `HumanDuration` (k8s.io/apimachinery/pkg/util/duration).
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    let s = seconds.max(0);
    if s < 120 {
        return format!("{s}s");
    }
    let minutes = s / 60;
    if minutes < 10 {
        return if s % 60 == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{}s", s % 60)
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return if minutes % 60 == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{}m", minutes % 60)
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return if hours % 24 == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{}h", hours % 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return if days % 365 == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{}d", days % 365)
        };
    }
    format!("{years}y")
}

#[cfg(test)]
mod tests {
    use super::*;

    // The hand-written calendar arithmetic this module used before jiff, kept as the reference
    // that the jiff-based functions must match byte for byte.
    fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    fn civil_from_days(z: i64) -> (i64, i64, i64) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (if m <= 2 { y + 1 } else { y }, m, d)
    }

    // Formats Unix seconds as `2025-01-06T09:00:00Z`.
    fn old_rfc3339(unix: i64) -> String {
        let (y, mo, d) = civil_from_days(unix.div_euclid(86_400));
        let s = unix.rem_euclid(86_400);
        format!(
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    }

    // Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` into Unix seconds.
    fn old_parse_rfc3339(text: &str) -> Option<i64> {
        let b = text.as_bytes();
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
        let secs = days_from_civil(num(0..4)?, num(5..7)?, num(8..10)?) * 86_400
            + num(11..13)? * 3600
            + num(14..16)? * 60
            + num(17..19)?;
        let mut rest = &text[19..];
        if let Some(frac) = rest.strip_prefix('.') {
            rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
        }
        match rest {
            "Z" => Some(secs),
            _ if rest.len() == 6 => {
                let sign = if rest.starts_with('-') { 1 } else { -1 };
                let h: i64 = rest.get(1..3)?.parse().ok()?;
                let m: i64 = rest.get(4..6)?.parse().ok()?;
                Some(secs + sign * (h * 3600 + m * 60))
            }
            _ => None,
        }
    }

    #[test]
    fn jiff_formats_and_parses_exactly_as_the_hand_written_arithmetic_did() {
        // Every day from 1900 to 2200 at a moving time of day, then years 1 to 9999 at random.
        let mut seconds: Vec<i64> = (days_from_civil(1900, 1, 1)..days_from_civil(2200, 1, 1))
            .map(|day| day * 86_400 + (day * 7919).rem_euclid(86_400))
            .collect();
        let first = days_from_civil(1, 1, 1) * 86_400;
        let span = days_from_civil(10_000, 1, 1) * 86_400 - first;
        let mut rng = crate::rng::Rng::new(11);
        seconds.extend(
            (0..50_000).map(|_| first + i64::try_from(rng.below(span.unsigned_abs())).unwrap()),
        );
        for t in seconds {
            let text = rfc3339(t);
            assert_eq!(text, old_rfc3339(t));
            assert_eq!(parse_rfc3339(&text), Some(t));
            assert_eq!(parse_rfc3339(&text), old_parse_rfc3339(&text));
            let stem = text.trim_end_matches('Z');
            for variant in [
                format!("{stem}.5Z"),
                format!("{stem}.123456789Z"),
                format!("{stem}+05:30"),
                format!("{stem}-08:00"),
                format!("{stem}.25+01:00"),
            ] {
                assert_eq!(
                    parse_rfc3339(&variant),
                    old_parse_rfc3339(&variant),
                    "{variant}"
                );
            }
        }
    }

    #[test]
    fn timestamps_round_trip() {
        for t in [0, 1_736_154_000, 951_782_400, 4_102_444_799] {
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        }
        assert_eq!(rfc3339(1_736_154_000), "2025-01-06T09:00:00Z");
        assert_eq!(
            parse_rfc3339("2025-01-06T10:00:00.123+01:00"),
            Some(1_736_154_000)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn ages_print_like_kubectl() {
        for (s, want) in [
            (5, "5s"),
            (150, "2m30s"),
            (600, "10m"),
            (3 * 3600 + 60, "3h1m"),
            (20 * 3600, "20h"),
            (3 * 86400 + 3600, "3d1h"),
            (40 * 86400, "40d"),
            (800 * 86400, "2y70d"),
        ] {
            assert_eq!(human_duration(s), want);
        }
    }
}

//! Durations as flags give them: `30s`, `5m`, `1h30m`, `500ms` (a sum of integer amounts with
//! units ms, s, m and h; `0` alone is zero). One grammar for the exporter's flags and the
//! simulator's. Pure.

use std::time::Duration;

/// Parses a Go-style duration of whole units: `30s`, `5m`, `1h30m`, `500ms`, `0s`.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    if value == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut rest = value;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err("expected a number, e.g. 30s, 5m or 1h30m".into());
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| "number too large".to_owned())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            "" => return Err("missing unit (ms, s, m or h)".into()),
            other => return Err(format!("unknown unit {other:?} (expected ms, s, m or h)")),
        };
        total = total.saturating_add(unit);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_go_forms() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["", "5", "m", "5x", "-5s", "1.5h", "5 m"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }
}

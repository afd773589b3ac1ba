//! Logger setup: env_logger writing to stderr, as text lines or one JSON object per line.
//! `RUST_LOG` overrides the level from the flags. Secrets are never passed to the logger.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global logger.
pub fn init(level: log::LevelFilter, format: LogFormat) {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level);
    // Dependencies log at debug with request details; keep them at warn unless asked for.
    for noisy in ["hyper", "hyper_util", "rustls", "tower", "h2", "tiny_http"] {
        builder.filter_module(noisy, log::LevelFilter::Warn.min(level));
    }
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    match format {
        LogFormat::Text => builder.format(|buf, record| {
            writeln!(
                buf,
                "{} {:<5} {}: {}",
                rfc3339_now(),
                record.level(),
                record.target(),
                record.args()
            )
        }),
        LogFormat::Json => builder.format(|buf, record| {
            let line = serde_json::json!({
                "ts": rfc3339_now(),
                "level": record.level().as_str().to_lowercase(),
                "target": record.target(),
                "msg": record.args().to_string(),
            });
            writeln!(buf, "{line}")
        }),
    };
    // A second init (tests) keeps the first logger.
    let _ = builder.try_init();
}

/// The current UTC time as RFC 3339 with milliseconds (no time-zone crate needed).
fn rfc3339_now() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(since.as_secs(), since.subsec_millis())
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (civil-from-days, proleptic Gregorian).
fn format_rfc3339(secs: u64, millis: u32) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(
            format_rfc3339(1_795_678_496, 123),
            "2026-11-26T07:34:56.123Z"
        );
    }
}

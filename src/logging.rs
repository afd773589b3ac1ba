//! Logger setup: env_logger writing to stderr, as text lines or one JSON object per line.
//! `RUST_LOG` overrides the level from the flags. Secrets are never passed to the logger.

use std::io::Write;

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

/// The current UTC time as RFC 3339 with milliseconds.
fn rfc3339_now() -> String {
    format_rfc3339(jiff::Timestamp::now())
}

/// Formats a timestamp as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn format_rfc3339(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, millis: i32) -> jiff::Timestamp {
        jiff::Timestamp::new(secs, millis * 1_000_000).unwrap()
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(format_rfc3339(at(0, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339(at(951_782_400, 5)),
            "2000-02-29T00:00:00.005Z"
        );
        assert_eq!(
            format_rfc3339(at(1_795_678_496, 123)),
            "2026-11-26T07:34:56.123Z"
        );
    }
}

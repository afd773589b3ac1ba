//! The exporter's own operational metrics, served by the `prometheus` crate after the
//! hand-encoded binpacking families: build info, watch events / restarts / errors per resource,
//! resync drift, rejected quantities, scrape duration, and process metrics.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Handles to every operational metric.
#[derive(Clone)]
pub struct SelfMetrics {
    registry: Registry,
    /// Watch events applied, by resource and event type.
    pub watch_events: IntCounterVec,
    /// Watches restarted with a full re-list, by resource.
    pub watch_restarts: IntCounterVec,
    /// Watch errors, by resource and reason.
    pub watch_errors: IntCounterVec,
    /// Resyncs that found drift between running sums and a recompute.
    pub resync_drift: IntCounter,
    /// Quantities skipped because they were malformed or out of range, by resource kind.
    pub bad_quantities: IntCounterVec,
    /// Duration of metric scrapes.
    pub scrape_duration: Histogram,
    /// Whether this instance publishes the binpacking series (leader or no election).
    pub leader: IntGauge,
    /// 1 once both watches completed their first list.
    pub ready: IntGauge,
}

impl SelfMetrics {
    /// Registers every metric, including process metrics where the platform has them.
    pub fn new(version: &str) -> Result<SelfMetrics, prometheus::Error> {
        let registry = Registry::new();
        let build_info = IntGaugeVec::new(
            Opts::new(
                "binpacking_exporter_build_info",
                "build information of the exporter; the value is always 1",
            ),
            &["version"],
        )?;
        build_info.with_label_values(&[version]).set(1);
        let watch_events = IntCounterVec::new(
            Opts::new(
                "binpacking_exporter_watch_events_total",
                "watch events applied to the cache, by resource and event type",
            ),
            &["resource", "type"],
        )?;
        let watch_restarts = IntCounterVec::new(
            Opts::new(
                "binpacking_exporter_watch_restarts_total",
                "watch (re)starts with a full list, by resource",
            ),
            &["resource"],
        )?;
        let watch_errors = IntCounterVec::new(
            Opts::new(
                "binpacking_exporter_watch_errors_total",
                "errors of the watches, by resource and reason",
            ),
            &["resource", "reason"],
        )?;
        let resync_drift = IntCounter::new(
            "binpacking_exporter_resync_drift_total",
            "node sums that differed from a recompute from the cached records at a resync",
        )?;
        let bad_quantities = IntCounterVec::new(
            Opts::new(
                "binpacking_exporter_invalid_quantities_total",
                "quantities skipped because they were malformed, negative or out of range, by object kind",
            ),
            &["kind"],
        )?;
        let scrape_duration = Histogram::with_opts(
            HistogramOpts::new(
                "binpacking_exporter_scrape_duration_seconds",
                "time to build and encode one metrics response",
            )
            .buckets(vec![
                0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            ]),
        )?;
        let leader = IntGauge::new(
            "binpacking_exporter_publishing",
            "1 when this instance publishes the binpacking series",
        )?;
        leader.set(1);
        let ready = IntGauge::new(
            "binpacking_exporter_ready",
            "1 once the node and pod watches completed their first list (as /readyz), else 0",
        )?;
        registry.register(Box::new(build_info))?;
        registry.register(Box::new(watch_events.clone()))?;
        registry.register(Box::new(watch_restarts.clone()))?;
        registry.register(Box::new(watch_errors.clone()))?;
        registry.register(Box::new(resync_drift.clone()))?;
        registry.register(Box::new(bad_quantities.clone()))?;
        registry.register(Box::new(scrape_duration.clone()))?;
        registry.register(Box::new(leader.clone()))?;
        registry.register(Box::new(ready.clone()))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(SelfMetrics {
            registry,
            watch_events,
            watch_restarts,
            watch_errors,
            resync_drift,
            bad_quantities,
            scrape_duration,
            leader,
            ready,
        })
    }

    /// Appends the text exposition of every operational metric.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Err(err) = TextEncoder::new().encode(&self.registry.gather(), out) {
            log::warn!("encoding operational metrics failed error={err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operational_metrics_include_build_info_and_process_metrics() {
        let m = SelfMetrics::new("1.2.3").unwrap();
        m.watch_events.with_label_values(&["pods", "apply"]).inc();
        let mut out = Vec::new();
        m.encode(&mut out);
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("binpacking_exporter_build_info{version=\"1.2.3\"} 1"));
        assert!(out.contains(
            "binpacking_exporter_watch_events_total{resource=\"pods\",type=\"apply\"} 1"
        ));
        assert!(out.contains("process_resident_memory_bytes"));
        assert!(out.contains("process_open_fds"));
        assert!(out.contains("process_start_time_seconds"));
    }
}

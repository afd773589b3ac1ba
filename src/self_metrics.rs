//! The exporter's own operational metrics, served by the `prometheus` crate after the
//! hand-encoded binpacking families: build info, watch events / restarts / errors per resource,
//! resync drift, rejected quantities, scrape duration, and process metrics. Names, HELP texts and
//! label names come from [`catalogue::EXPORTER`]; this file only registers and updates them.

use std::sync::{Arc, Mutex, PoisonError};

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::views::catalogue::{self, Family};

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
    /// Polls of the resource metrics API, by result.
    pub usage_polls: IntCounterVec,
    /// Metrics responses by the source of their figures (rendered, reused).
    pub scrape_figures: IntCounterVec,
    /// Node text blocks of rendered responses by source (rendered, kept).
    pub scrape_node_blocks: IntCounterVec,
    /// Open HTTP connections.
    http_connections: IntGauge,
    /// HTTP connections the server dropped, by reason.
    http_dropped: IntCounterVec,
    /// The server's counts at the last observation (its counters only grow).
    http_seen: Arc<Mutex<HttpCounts>>,
}

/// What the HTTP server did with connections since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpCounts {
    /// Connections open now.
    pub open: usize,
    /// New connections closed at once.
    pub refused: u64,
    /// Connections dropped to admit a new one.
    pub evicted: u64,
    /// Connections cut at a deadline.
    pub deadline: u64,
    /// Writers cut to bound the bytes being written.
    pub slow_writer: u64,
}

impl SelfMetrics {
    /// Registers every metric, including process metrics where the platform has them.
    pub fn new(version: &str) -> Result<SelfMetrics, prometheus::Error> {
        let families = &catalogue::EXPORTER;
        let registry = Registry::new();
        let build_info = IntGaugeVec::new(opts(&families.build_info), families.build_info.labels)?;
        build_info.with_label_values(&[version]).set(1);
        let watch_events = counter_vec(&families.watch_events)?;
        let watch_restarts = counter_vec(&families.watch_restarts)?;
        let watch_errors = counter_vec(&families.watch_errors)?;
        let resync_drift = IntCounter::with_opts(opts(&families.resync_drift))?;
        let bad_quantities = counter_vec(&families.invalid_quantities)?;
        let scrape_duration = Histogram::with_opts(
            HistogramOpts::new(families.scrape_duration.name, families.scrape_duration.help)
                .buckets(vec![
                    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                ]),
        )?;
        let leader = IntGauge::with_opts(opts(&families.publishing))?;
        leader.set(1);
        let ready = IntGauge::with_opts(opts(&families.ready))?;
        let usage_polls = counter_vec(&families.usage_polls)?;
        let scrape_figures = counter_vec(&families.scrape_figures)?;
        let scrape_node_blocks = counter_vec(&families.scrape_node_blocks)?;
        registry.register(Box::new(build_info))?;
        registry.register(Box::new(watch_events.clone()))?;
        registry.register(Box::new(watch_restarts.clone()))?;
        registry.register(Box::new(watch_errors.clone()))?;
        registry.register(Box::new(resync_drift.clone()))?;
        registry.register(Box::new(bad_quantities.clone()))?;
        registry.register(Box::new(scrape_duration.clone()))?;
        registry.register(Box::new(leader.clone()))?;
        let (http_connections, http_dropped) = http_metrics()?;
        registry.register(Box::new(ready.clone()))?;
        registry.register(Box::new(http_connections.clone()))?;
        registry.register(Box::new(http_dropped.clone()))?;
        registry.register(Box::new(usage_polls.clone()))?;
        registry.register(Box::new(scrape_figures.clone()))?;
        registry.register(Box::new(scrape_node_blocks.clone()))?;
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
            usage_polls,
            scrape_figures,
            scrape_node_blocks,
            http_connections,
            http_dropped,
            http_seen: Arc::new(Mutex::new(HttpCounts::default())),
        })
    }

    /// Records the HTTP server's connection counts.
    pub fn observe_http(&self, now: &HttpCounts) {
        let mut seen = self
            .http_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.http_connections
            .set(i64::try_from(now.open).unwrap_or(i64::MAX));
        for (reason, before, after) in [
            ("refused", seen.refused, now.refused),
            ("evicted", seen.evicted, now.evicted),
            ("deadline", seen.deadline, now.deadline),
            ("slow_writer", seen.slow_writer, now.slow_writer),
        ] {
            self.http_dropped
                .with_label_values(&[reason])
                .inc_by(after.saturating_sub(before));
        }
        *seen = *now;
    }

    /// Appends the text exposition of every operational metric.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Err(err) = TextEncoder::new().encode(&self.registry.gather(), out) {
            log::warn!("encoding operational metrics failed error={err}");
        }
    }
}

/// The name and HELP text of a catalogued family.
fn opts(family: &Family) -> Opts {
    Opts::new(family.name, family.help)
}

/// A counter family with the catalogue's labels.
fn counter_vec(family: &Family) -> Result<IntCounterVec, prometheus::Error> {
    IntCounterVec::new(opts(family), family.labels)
}

/// The HTTP server's families: open connections and connections dropped by reason.
fn http_metrics() -> Result<(IntGauge, IntCounterVec), prometheus::Error> {
    let families = &catalogue::EXPORTER;
    let connections = IntGauge::with_opts(opts(&families.http_connections))?;
    let dropped = counter_vec(&families.http_connections_dropped)?;
    for reason in ["refused", "evicted", "deadline", "slow_writer"] {
        dropped.with_label_values(&[reason]);
    }
    Ok((connections, dropped))
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

    #[test]
    fn http_counts_are_added_as_they_grow() {
        let m = SelfMetrics::new("1").unwrap();
        let stats = |evicted, open| HttpCounts {
            open,
            evicted,
            ..HttpCounts::default()
        };
        m.observe_http(&stats(3, 7));
        m.observe_http(&stats(5, 2));
        let mut out = Vec::new();
        m.encode(&mut out);
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains("binpacking_exporter_http_connections 2\n"),
            "{out}"
        );
        assert!(out.contains(
            "binpacking_exporter_http_connections_dropped_total{reason=\"evicted\"} 5\n"
        ));
        assert!(out.contains(
            "binpacking_exporter_http_connections_dropped_total{reason=\"refused\"} 0\n"
        ));
    }
}

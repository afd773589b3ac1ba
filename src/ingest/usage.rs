//! `--usage`: polls the resource metrics API (`metrics.k8s.io/v1beta1` NodeMetrics and
//! PodMetrics, as metrics-server serves them) every `--usage-interval` on the watch runtime,
//! joins the samples to the counted pods (`model::usage`) and leaves the result in the cache.
//! Never per scrape: a scrape only reads the last result.
//!
//! A cluster without the API (404) or without the permission (403) gets one warning, a counted
//! poll result and no usage series; everything else is unchanged, and the poll keeps trying.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kube::Client;
use serde::Deserialize;

use crate::cache::Cache;
use crate::config::{Config, UsageConfig};
use crate::error::error_chain;
use crate::model::quantity::{milli_ceil, parse_nanos, units_ceil};
use crate::model::usage::{self, Pair, RequestIndex, Sample, USAGE_RESOURCES};

/// The two lists a poll reads.
const NODES_PATH: &str = "/apis/metrics.k8s.io/v1beta1/nodes";
const PODS_PATH: &str = "/apis/metrics.k8s.io/v1beta1/pods";

/// A poll's longest wait for one list.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How one poll ended; the label of `binpacking_exporter_usage_polls_total`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Both lists read and joined.
    Ok,
    /// The API is not served (404, or 503 from an aggregated API without a backend).
    Absent(String),
    /// The service account may not list it (403).
    Forbidden(String),
    /// Anything else (unreachable, timeout, an answer that does not decode).
    Error(String),
}

impl Outcome {
    /// The result label.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Absent(_) => "absent",
            Outcome::Forbidden(_) => "forbidden",
            Outcome::Error(_) => "error",
        }
    }
}

/// Polls every interval until the runtime stops; returns at once without `--usage`.
pub async fn run(client: &Client, config: &Config, cache: &Cache) {
    let Some(settings) = config.usage else {
        return;
    };
    // The first poll waits for the first lists: joined to a half-listed cache, most pods would
    // be unmatched for a whole interval.
    while cache.health.readiness().is_err() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut tick = tokio::time::interval(settings.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<&'static str> = None;
    loop {
        tick.tick().await;
        let outcome = poll(client, config, settings, cache).await;
        report(&outcome, last);
        last = Some(outcome.label());
    }
}

/// One poll: reads both lists, joins them, stores the result (or clears it when the API is
/// absent or forbidden; keeps the last one on a transient error, to age).
pub async fn poll(
    client: &Client,
    config: &Config,
    settings: UsageConfig,
    cache: &Cache,
) -> Outcome {
    let lists = async {
        let nodes = fetch(client, NODES_PATH).await?;
        let pods = fetch(client, PODS_PATH).await?;
        Ok::<_, Outcome>((nodes, pods))
    };
    let outcome = match lists.await {
        Ok((nodes, pods)) => match (decode(&nodes, false), decode(&pods, true)) {
            (Ok(nodes), Ok(pods)) => {
                let requests: RequestIndex =
                    USAGE_RESOURCES.map(|name| config.resources.index_of(name));
                let now = unix_now();
                let max_age = i64::try_from(settings.max_age.as_secs()).unwrap_or(i64::MAX);
                let table = usage::join(&cache.read(), requests, &nodes.0, &pods.0, now, max_age);
                let rejected = nodes.1 + pods.1;
                if rejected > 0 {
                    log::debug!("usage: {rejected} metrics items without a readable timestamp or usage left out");
                }
                cache.set_usage(Some(Arc::new(table)));
                Outcome::Ok
            }
            (Err(err), _) | (_, Err(err)) => Outcome::Error(format!(
                "usage: the metrics API's answer does not decode: {err}"
            )),
        },
        Err(outcome) => outcome,
    };
    if matches!(outcome, Outcome::Absent(_) | Outcome::Forbidden(_)) {
        cache.set_usage(None);
    }
    cache
        .metrics
        .usage_polls
        .with_label_values(&[outcome.label()])
        .inc();
    outcome
}

/// One warning when the poll starts failing (or fails differently), one line when it recovers.
fn report(outcome: &Outcome, last: Option<&'static str>) {
    if last == Some(outcome.label()) {
        if let Outcome::Error(sentence) | Outcome::Absent(sentence) | Outcome::Forbidden(sentence) =
            outcome
        {
            log::debug!("{sentence}");
        }
        return;
    }
    match outcome {
        Outcome::Ok if last.is_some() => log::info!("usage: the metrics API answers again"),
        Outcome::Ok => log::info!("usage: first poll of the metrics API done"),
        Outcome::Absent(s) | Outcome::Forbidden(s) | Outcome::Error(s) => log::warn!("{s}"),
    }
}

async fn fetch(client: &Client, path: &str) -> Result<String, Outcome> {
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(|e| Outcome::Error(format!("usage: cannot build the request: {e}")))?;
    match tokio::time::timeout(REQUEST_TIMEOUT, client.request_text(request)).await {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(err)) => Err(classify(path, &err)),
        Err(_) => Err(Outcome::Error(format!(
            "usage: GET {path} timed out after {}s",
            REQUEST_TIMEOUT.as_secs()
        ))),
    }
}

/// The sentence for a failed list.
fn classify(path: &str, err: &kube::Error) -> Outcome {
    let kube::Error::Api(status) = err else {
        return Outcome::Error(format!(
            "usage: GET {path}: api server not reachable: {}",
            error_chain(err)
        ));
    };
    match status.code {
        404 | 503 => Outcome::Absent(format!(
            "usage: the resource metrics API (metrics.k8s.io/v1beta1) is not served ({} on GET \
             {path}): install metrics-server, or run without --usage; the usage series are left \
             out, everything else is unchanged",
            status.code
        )),
        403 => Outcome::Forbidden(format!(
            "usage: forbidden: list nodes and pods in API group metrics.k8s.io (apply \
             manifests/usage/); the usage series are left out, everything else is unchanged ({})",
            status.message
        )),
        code => Outcome::Error(format!(
            "usage: {} ({code}) on GET {path} ({})",
            status.reason.to_lowercase(),
            status.message
        )),
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A NodeMetricsList or PodMetricsList, only the fields the join reads.
#[derive(Deserialize)]
struct MetricsList {
    #[serde(default)]
    items: Vec<MetricsItem>,
}

#[derive(Deserialize)]
struct MetricsItem {
    metadata: Metadata,
    #[serde(default)]
    timestamp: String,
    /// NodeMetrics.
    #[serde(default)]
    usage: Usage,
    /// PodMetrics.
    #[serde(default)]
    containers: Vec<ContainerMetrics>,
}

#[derive(Deserialize)]
struct Metadata {
    name: String,
    #[serde(default)]
    namespace: String,
}

#[derive(Deserialize, Default)]
struct Usage {
    cpu: Option<String>,
    memory: Option<String>,
}

#[derive(Deserialize)]
struct ContainerMetrics {
    #[serde(default)]
    usage: Usage,
}

/// Decodes a metrics list into samples (a pod's is the sum of its containers). Items with an
/// unreadable timestamp or quantity are left out and counted.
///
/// # Errors
///
/// The JSON does not decode as a metrics list.
fn decode(text: &str, pods: bool) -> Result<(Vec<Sample>, u64), serde_json::Error> {
    let list: MetricsList = serde_json::from_str(text)?;
    let mut rejected = 0;
    let samples = list
        .items
        .into_iter()
        .filter_map(|item| {
            let sample = sample(item, pods);
            rejected += u64::from(sample.is_none());
            sample
        })
        .collect();
    Ok((samples, rejected))
}

fn sample(item: MetricsItem, pods: bool) -> Option<Sample> {
    let timestamp = item.timestamp.parse::<jiff::Timestamp>().ok()?.as_second();
    let usage = if pods {
        let mut sum = [0i128; 2];
        for container in &item.containers {
            let one = nanos(&container.usage)?;
            sum = [sum[0].saturating_add(one[0]), sum[1].saturating_add(one[1])];
        }
        sum
    } else {
        nanos(&item.usage)?
    };
    let key = if pods {
        format!("{}/{}", item.metadata.namespace, item.metadata.name)
    } else {
        item.metadata.name
    };
    Some(Sample {
        key,
        timestamp,
        usage: scale(usage),
    })
}

/// cpu and memory of one usage map in nano-units (absent = 0); `None` when one is unreadable
/// or negative.
fn nanos(usage: &Usage) -> Option<[i128; 2]> {
    let one = |q: &Option<String>| match q {
        None => Some(0),
        Some(text) => parse_nanos(text).ok().filter(|n| *n >= 0),
    };
    Some([one(&usage.cpu)?, one(&usage.memory)?])
}

/// Nano-units to the exposition's units: cpu millicores rounded up, memory bytes rounded up.
fn scale(nanos: [i128; 2]) -> Pair {
    let fit = |v: i128| u64::try_from(v.max(0)).unwrap_or(u64::MAX);
    [fit(milli_ceil(nanos[0])), fit(units_ceil(nanos[1]))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_metrics_decode_as_metrics_server_prints_them() {
        let text = r#"{"kind":"NodeMetricsList","apiVersion":"metrics.k8s.io/v1beta1","metadata":{},
            "items":[{"metadata":{"name":"a"},"timestamp":"2026-12-04T16:50:30Z","window":"20s",
                      "usage":{"cpu":"1096300001n","memory":"2105453Ki"}}]}"#;
        let (samples, rejected) = decode(text, false).unwrap();
        assert_eq!(rejected, 0);
        assert_eq!(
            samples,
            vec![Sample {
                key: "a".into(),
                timestamp: 1_796_403_030,
                usage: [1097, 2_105_453 * 1024],
            }]
        );
    }

    #[test]
    fn a_pod_sums_its_containers_and_is_keyed_by_namespace() {
        let text = r#"{"items":[{"metadata":{"name":"p","namespace":"ns"},
            "timestamp":"2026-12-04T16:50:30Z",
            "containers":[{"name":"a","usage":{"cpu":"500000n","memory":"1Mi"}},
                          {"name":"b","usage":{"cpu":"600000n","memory":"1Ki"}},
                          {"name":"c","usage":{}}]}]}"#;
        let (samples, _) = decode(text, true).unwrap();
        assert_eq!(samples[0].key, "ns/p");
        // 1.1m rounds up once, on the sum.
        assert_eq!(samples[0].usage, [2, (1 << 20) + 1024]);
    }

    #[test]
    fn unreadable_items_are_counted_and_left_out() {
        let text = r#"{"items":[
            {"metadata":{"name":"bad-time"},"timestamp":"yesterday","usage":{"cpu":"1"}},
            {"metadata":{"name":"bad-cpu"},"timestamp":"2026-12-04T16:50:30Z","usage":{"cpu":"1x"}},
            {"metadata":{"name":"negative"},"timestamp":"2026-12-04T16:50:30Z","usage":{"memory":"-1"}},
            {"metadata":{"name":"good"},"timestamp":"2026-12-04T16:50:30Z","usage":{"cpu":"1"}}]}"#;
        let (samples, rejected) = decode(text, false).unwrap();
        assert_eq!(rejected, 3);
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].usage, [1000, 0]);
        assert!(decode("<html>", false).is_err());
    }

    #[test]
    fn api_statuses_become_outcomes() {
        let status = |code: u16| {
            kube::Error::Api(Box::new(kube::core::Status {
                code,
                message: "m".into(),
                reason: "NotFound".into(),
                ..kube::core::Status::default()
            }))
        };
        assert_eq!(classify(NODES_PATH, &status(404)).label(), "absent");
        assert_eq!(classify(NODES_PATH, &status(503)).label(), "absent");
        assert_eq!(classify(NODES_PATH, &status(403)).label(), "forbidden");
        assert_eq!(classify(NODES_PATH, &status(500)).label(), "error");
        let Outcome::Forbidden(sentence) = classify(NODES_PATH, &status(403)) else {
            unreachable!()
        };
        assert!(sentence.contains("manifests/usage/"), "{sentence}");
    }
}

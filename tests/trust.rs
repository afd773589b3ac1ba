//! Numbers you can trust through restarts and upgrades, against the real exporter and the
//! simulator: no series derived from the cache before both watches completed their first list
//! (pods forbidden, then slow lists), exact values once ready; and a control-plane upgrade from
//! 1.33 to 1.34 turns pod-level resources on within one re-list, with the values of the
//! accounting vectors for each version.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_cmp
)]

mod common;

use std::time::{Duration, Instant};

use common::{small_cluster, wait_until, Exporter, Metrics, Sim, TempDir};
use serde_json::{json, Value};

/// No family computed from the cache: only the exporter's own (and the cache age).
fn only_own_series(m: &Metrics) -> Result<(), String> {
    let derived: Vec<&String> = m
        .series
        .keys()
        .filter(|k| k.starts_with("binpacking_") && !k.starts_with("binpacking_exporter_"))
        .filter(|k| !k.starts_with("binpacking_cache_age_seconds"))
        .collect();
    if derived.is_empty() {
        Ok(())
    } else {
        Err(format!("cache-derived series before ready: {derived:?}"))
    }
}

#[test]
fn no_cache_derived_series_until_both_watches_listed_then_exact_values() {
    let dir = TempDir::new("trust");
    let path = dir.path("scenario.json");
    std::fs::write(&path, small_cluster().to_string()).unwrap();
    let sim = Sim::start(&["--scenario", path.to_str().unwrap()]);
    sim.post("/faults/deny?resource=pods", "");
    let exporter = Exporter::start(&sim.kubeconfig, &["--resources", "cpu,memory,pods"]);
    // Forbidden: for two seconds of scrapes, nothing but the exporter's own series.
    let until = Instant::now() + Duration::from_secs(2);
    let mut scrapes = 0;
    while Instant::now() < until {
        let m = exporter.metrics();
        only_own_series(&m).unwrap();
        assert_eq!(m.get("binpacking_exporter_ready", &[]), Some(0.0));
        assert_eq!(m.get("binpacking_exporter_publishing", &[]), Some(0.0));
        assert!(m.get("binpacking_cache_age_seconds", &[]).is_some());
        assert!(m
            .family("binpacking_exporter_watch_errors_total")
            .iter()
            .any(|(k, v)| k.contains("forbidden") && *v > 0.0));
        scrapes += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(scrapes >= 5);
    // The page and /sync say why instead of showing zeros.
    let page = exporter.get("/").text();
    assert!(
        page.contains("not ready") && page.contains("No figures until"),
        "{page}"
    );
    let sync: Value = serde_json::from_slice(&exporter.get("/sync").body).unwrap();
    assert_eq!(sync["ready"], json!(false));
    assert_eq!(sync["counts"], Value::Null);
    assert_eq!(sync["publishing"], json!(false));
    // The readiness reason is a sentence: resource, verb, what to grant.
    let reason = exporter.get("/readyz").text();
    assert!(
        reason.contains("pods: forbidden: list pods at cluster scope")
            && reason.contains("manifests/clusterrole.yaml"),
        "{reason}"
    );
    assert!(!reason.contains("Status {"), "a Debug dump: {reason}");

    // Allowed again but slow: still nothing derived while the list crawls.
    sim.post("/faults/latency?ms=400", "");
    sim.post("/faults/allow?resource=pods", "");
    let ready = wait_until(Duration::from_secs(30), || {
        let m = exporter.metrics();
        if m.get("binpacking_exporter_ready", &[]) == Some(1.0) {
            return true;
        }
        only_own_series(&m).unwrap();
        false
    });
    assert!(ready, "{}", exporter.stderr.text());
    sim.post("/faults/latency?ms=0", "");
    let m = exporter.metrics();
    assert_eq!(
        m.get("binpacking_cluster_allocated", &[("resource", "cpu")]),
        Some(1.95)
    );
    assert_eq!(
        m.get("binpacking_cluster_allocated", &[("resource", "pods")]),
        Some(5.0)
    );
    assert_eq!(m.get("binpacking_exporter_publishing", &[]), Some(1.0));
}

/// The pod of vectors V13 (PodLevelResources on) and V15 (off): same spec, two answers.
fn pod_level_vectors() -> (Value, Value) {
    let text = include_str!("fixtures/accounting-vectors.json");
    let v: Value = serde_json::from_str(text).unwrap();
    let find = |id: &str| {
        v["pod_vectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .unwrap()
            .clone()
    };
    (find("V15"), find("V13"))
}

fn allocated(m: &Metrics, node: &str, resource: &str) -> Option<f64> {
    m.get(
        "binpacking_node_allocated",
        &[("node", node), ("resource", resource)],
    )
}

#[test]
fn a_control_plane_upgrade_turns_pod_level_resources_on_within_one_relist() {
    upgrade_within_one_relist(&[]);
}

/// A streaming list delivers its first pods with `Init`, before the gates are read again: they
/// are decoded (and accounted) under the old gates, so the watch lists once more.
#[test]
fn a_control_plane_upgrade_turns_pod_level_resources_on_with_streaming_lists() {
    upgrade_within_one_relist(&["--streaming-list"]);
}

fn upgrade_within_one_relist(flags: &[&str]) {
    let (before, after) = pod_level_vectors();
    assert_eq!(before["pods"], after["pods"], "V13 and V15 share their pod");
    let node = &before["node"];
    let mut pod = before["pods"][0].clone();
    pod["apiVersion"] = json!("v1");
    pod["kind"] = json!("Pod");
    pod["metadata"]["namespace"] = json!("default");
    let scenario = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node["name"]},
         "status": {"allocatable": node["allocatable"], "capacity": node["allocatable"]}},
        pod,
    ]});
    let dir = TempDir::new("upgrade");
    let path = dir.path("scenario.json");
    std::fs::write(&path, scenario.to_string()).unwrap();
    let sim = Sim::start(&["--scenario", path.to_str().unwrap()]);
    sim.post("/version?minor=33", "");
    let mut args = vec!["--resources", "cpu,memory"];
    args.extend_from_slice(flags);
    let exporter = Exporter::start(&sim.kubeconfig, &args);
    exporter.wait_ready(Duration::from_secs(30));
    let name = node["name"].as_str().unwrap();
    let expect = |vector: &Value| {
        let a = &vector["expected"]["node"]["allocated"];
        (
            a["cpu"].as_f64().unwrap() / 1000.0,
            a["memory"].as_f64().unwrap(),
        )
    };
    let m = exporter.metrics();
    assert_eq!(
        (
            allocated(&m, name, "cpu").unwrap(),
            allocated(&m, name, "memory").unwrap()
        ),
        expect(&before),
        "1.33: pod-level resources are off"
    );

    // The control plane is upgraded (the API server is away for a second, as in a real
    // upgrade); meanwhile the cluster changes and history is compacted past the watches'
    // resourceVersion, so the resumed watches get 410 and re-list, under 1.34.
    sim.post("/faults/refuse?seconds=1", "");
    sim.post("/version?minor=34", "");
    sim.apply(&common::pod("default", "waiting", None, "1", "1Gi", None));
    sim.post("/faults/compact", "");
    let upgraded = wait_until(Duration::from_secs(20), || {
        let m = exporter.metrics();
        (allocated(&m, name, "cpu"), allocated(&m, name, "memory"))
            == (Some(expect(&after).0), Some(expect(&after).1))
    });
    assert!(upgraded, "{}", exporter.stderr.text());
    let log = exporter.stderr.text();
    assert!(log.contains("accounting gates changed"), "{log}");
    let restarts = exporter
        .metrics()
        .get(
            "binpacking_exporter_watch_restarts_total",
            &[("resource", "pods")],
        )
        .unwrap();
    assert!(
        restarts <= 2.0,
        "one re-list, not a restart loop: {restarts}"
    );
}

//! DRA devices end to end against the simulator's `resource.k8s.io/v1`: every device family (node,
//! node × class, shared pool, label group value, cluster, class, class info, claims) and the
//! DRA-backed `nvidia.com/gpu` allocatable equal an independent computation over the simulator's
//! objects (`tests/independent/devices.py`, written from docs/ACCOUNTING.md §15), exactly, series
//! for series in both directions; again after churn (claims allocated and released, pools
//! republished with a new generation), a node removed, and watch faults (410 after a compaction,
//! closed watches). A cluster without the API group or without the permission publishes no device
//! family, one warning, and every other series as without DRA.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_cmp,
    clippy::too_many_lines
)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{have, independent, series_key, wait_until, Exporter, Metrics, Sim};
use serde_json::Value;

const RESOURCES: &str = "cpu,memory,nvidia.com/gpu";
const ZONE: &str = "topology.kubernetes.io/zone";

/// Every device family the exporter writes.
const FAMILIES: &[&str] = &[
    "binpacking_cluster_devices",
    "binpacking_cluster_devices_allocated",
    "binpacking_cluster_devices_utilization_ratio",
    "binpacking_device_class_devices",
    "binpacking_device_class_devices_allocated",
    "binpacking_device_class_info",
    "binpacking_cluster_resource_claims",
    "binpacking_pool_devices",
    "binpacking_pool_devices_allocated",
    "binpacking_pool_devices_utilization_ratio",
    "binpacking_group_devices",
    "binpacking_group_devices_allocated",
    "binpacking_group_devices_utilization_ratio",
    "binpacking_node_devices",
    "binpacking_node_devices_allocated",
    "binpacking_node_devices_utilization_ratio",
    "binpacking_node_device_class_devices",
    "binpacking_node_device_class_devices_allocated",
];

fn ratio(published: i64, allocated: i64) -> f64 {
    if published == 0 {
        0.0
    } else {
        allocated as f64 / published as f64
    }
}

fn pair(v: &Value) -> (i64, i64) {
    (v[0].as_i64().unwrap(), v[1].as_i64().unwrap())
}

/// The series the exporter should publish for `objects` (the simulator's `/objects`), by key.
fn expected(objects: &Value) -> BTreeMap<String, f64> {
    let want = independent("devices.py", objects, RESOURCES);
    let mut series = Series::default();
    for (driver, v) in want["cluster"].as_object().unwrap() {
        series.triple("binpacking_cluster", &[("driver", driver)], pair(v));
    }
    for (class, v) in want["classes"].as_object().unwrap() {
        let l = [("device_class", class.as_str())];
        if let Some(p) = v[0].as_i64() {
            series.put("binpacking_device_class_devices", &l, p as f64);
        }
        series.put(
            "binpacking_device_class_devices_allocated",
            &l,
            v[1].as_f64().unwrap(),
        );
    }
    for (class, info) in want["class_info"].as_object().unwrap() {
        let selectors = if info["resolved"].as_bool().unwrap() {
            "resolved"
        } else {
            "unresolved"
        };
        series.put(
            "binpacking_device_class_info",
            &[
                ("device_class", class),
                (
                    "extended_resource",
                    info["extended_resource"].as_str().unwrap(),
                ),
                ("selectors", selectors),
            ],
            1.0,
        );
    }
    let (allocated, pending) = pair(&want["claims"]);
    series.put(
        "binpacking_cluster_resource_claims",
        &[("state", "allocated")],
        allocated as f64,
    );
    series.put(
        "binpacking_cluster_resource_claims",
        &[("state", "pending")],
        pending as f64,
    );
    for (key, drivers) in want["pools"].as_object().unwrap() {
        let (driver, pool) = key.split_once('/').unwrap();
        let (mut p, mut a) = (0, 0);
        for v in drivers.as_object().unwrap().values() {
            p += pair(v).0;
            a += pair(v).1;
        }
        series.triple(
            "binpacking_pool",
            &[("driver", driver), ("pool", pool)],
            (p, a),
        );
    }
    let zones: BTreeMap<String, String> = objects["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "Node")
        .map(|n| {
            let zone = n["metadata"]["labels"][ZONE].as_str().unwrap_or("<none>");
            (
                n["metadata"]["name"].as_str().unwrap().to_owned(),
                zone.to_owned(),
            )
        })
        .collect();
    let mut groups: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for (node, place) in want["nodes"].as_object().unwrap() {
        for (driver, v) in place["drivers"].as_object().unwrap() {
            series.triple(
                "binpacking_node",
                &[("node", node), ("driver", driver)],
                pair(v),
            );
            let g = groups
                .entry((zones[node].clone(), driver.clone()))
                .or_default();
            g.0 += pair(v).0;
            g.1 += pair(v).1;
        }
        for (class, v) in place["classes"].as_object().unwrap() {
            let l = [("node", node.as_str()), ("device_class", class.as_str())];
            if want["class_info"][class]["resolved"] == Value::Bool(true) {
                series.put("binpacking_node_device_class_devices", &l, pair(v).0 as f64);
            }
            series.put(
                "binpacking_node_device_class_devices_allocated",
                &l,
                pair(v).1 as f64,
            );
        }
    }
    for ((zone, driver), counts) in groups {
        series.triple(
            "binpacking_group",
            &[
                ("label_group", ZONE),
                ("label_group_value", &zone),
                ("driver", &driver),
            ],
            counts,
        );
    }
    for (node, resources) in want["allocatable"].as_object().unwrap() {
        for (r, n) in resources.as_object().unwrap() {
            series.put(
                "binpacking_node_allocatable",
                &[("node", node), ("resource", r)],
                n.as_f64().unwrap(),
            );
        }
    }
    series.0
}

/// Expected series by key.
#[derive(Default)]
struct Series(BTreeMap<String, f64>);

impl Series {
    fn put(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.insert(series_key(name, labels), value);
    }

    /// `PREFIX_devices`, `_allocated` and `_utilization_ratio`.
    fn triple(&mut self, prefix: &str, labels: &[(&str, &str)], (p, a): (i64, i64)) {
        self.put(&format!("{prefix}_devices"), labels, p as f64);
        self.put(&format!("{prefix}_devices_allocated"), labels, a as f64);
        self.put(
            &format!("{prefix}_devices_utilization_ratio"),
            labels,
            ratio(p, a),
        );
    }
}

/// A node whose `nvidia.com/gpu` allocatable comes from DRA devices.
fn a_dra_node(want: &BTreeMap<String, f64>) -> String {
    want.iter()
        .filter(|(_, v)| **v > 0.0)
        .find_map(|(k, _)| {
            k.strip_prefix("binpacking_node_allocatable{node=\"")
                .and_then(|r| r.split_once('"'))
                .map(|(n, _)| n.to_owned())
        })
        .unwrap()
}

/// Differences between the exporter's device series (and the DRA-backed allocatable ones the
/// expectation names) and `want`.
fn differences(m: &Metrics, want: &BTreeMap<String, f64>) -> Vec<String> {
    let mut got: BTreeMap<String, f64> = FAMILIES
        .iter()
        .flat_map(|f| m.family(f))
        .map(|(k, v)| (k.clone(), v))
        .collect();
    for key in want
        .keys()
        .filter(|k| k.starts_with("binpacking_node_allocatable{"))
    {
        if let Some(v) = m.series.get(key) {
            got.insert(key.clone(), *v);
        }
    }
    let mut diffs = Vec::new();
    for (k, v) in want {
        match got.get(k) {
            Some(g) if (g - v).abs() <= 1e-12 * v.abs().max(1.0) => {}
            other => diffs.push(format!("{k}: exporter {other:?}, independent {v}")),
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        diffs.push(format!("{k}: exporter only"));
    }
    diffs
}

/// Waits until the exporter's device series equal the independent computation over the
/// simulator's objects now; fails with the differences.
fn assert_equal(sim: &Sim, exporter: &Exporter, when: &str) -> BTreeMap<String, f64> {
    let want = expected(&sim.get_json("/objects"));
    let mut last = Vec::new();
    let equal = wait_until(Duration::from_secs(30), || {
        last = differences(&exporter.metrics(), &want);
        last.is_empty()
    });
    assert!(equal, "{when}:\n{}", last.join("\n"));
    want
}

#[test]
fn device_figures_equal_an_independent_computation_through_churn_node_removal_and_watch_faults() {
    if !have("python3") {
        return;
    }
    let sim = Sim::start(&["--nodes", "80", "--pods", "2000", "--seed", "7"]);
    let exporter = Exporter::start(
        &sim.kubeconfig,
        &["--resources", RESOURCES, "--label-group", ZONE],
    );
    exporter.wait_ready(Duration::from_secs(60));
    let want = assert_equal(&sim, &exporter, "after the first list");
    // The scenario is not trivial: node-local GPUs partly allocated, a shared pool, an
    // unresolved class, pending claims, and DRA-backed GPUs on nodes that advertise none.
    let value = |k: &str| want.get(k).copied();
    let gpus = value(&series_key(
        "binpacking_cluster_devices",
        &[("driver", "gpu.nvidia.com")],
    ))
    .unwrap();
    let gpus_allocated = value(&series_key(
        "binpacking_cluster_devices_allocated",
        &[("driver", "gpu.nvidia.com")],
    ))
    .unwrap();
    assert!(
        gpus >= 8.0 && gpus_allocated > 0.0 && gpus_allocated < gpus,
        "{gpus_allocated}/{gpus}"
    );
    assert!(want
        .keys()
        .any(|k| k.starts_with("binpacking_pool_devices{")));
    assert!(want.keys().any(|k| k.contains("selectors=\"unresolved\"")));
    assert!(want
        .keys()
        .any(|k| k.starts_with("binpacking_node_allocatable{")));
    let m = exporter.metrics();
    let dra_node = a_dra_node(&want);
    let gpu_allocatable = m
        .get(
            "binpacking_node_allocatable",
            &[("node", &dra_node), ("resource", "nvidia.com/gpu")],
        )
        .unwrap();
    assert!(gpu_allocatable >= 8.0, "{dra_node}: {gpu_allocatable}");

    // Churn: pods with claims come and go, claims are released, pools republished.
    sim.post("/churn/steps?n=3000", "");
    let want = assert_equal(&sim, &exporter, "after 3,000 churn steps");
    let dra_node = a_dra_node(&want);

    // A pool republished with a new generation (new slice names, the old deleted).
    let r: Value = serde_json::from_str(&sim.post(
        &format!("/dra/republish?driver=gpu.nvidia.com&pool={dra_node}"),
        "",
    ))
    .unwrap();
    assert!(r["generation"].as_i64().unwrap() >= 2, "{r}");
    sim.post("/dra/republish?driver=nic.example.com&pool=rack-a", "");
    assert_equal(&sim, &exporter, "after two pools were republished");

    // A node removed: its node-local devices leave every figure (its slices stay until the
    // driver deletes them, but no tracked node holds them).
    sim.delete(&format!("/objects/nodes/{dra_node}"));
    let after = assert_equal(&sim, &exporter, "after a node was removed");
    assert!(!after
        .keys()
        .any(|k| k.contains(&format!("node=\"{dra_node}\""))));

    // Watch faults: history compacted (410 on the next watch), then every watch closed, with
    // churn in between; the figures come back exact.
    sim.post("/churn/steps?n=500", "");
    sim.post("/faults/compact", "");
    sim.post("/churn/steps?n=500", "");
    sim.post("/faults/close-watches", "");
    sim.post("/churn/steps?n=500", "");
    assert_equal(
        &sim,
        &exporter,
        "after a compaction, closed watches and churn",
    );
    let m = exporter.metrics();
    for resource in ["resourceslices", "resourceclaims", "deviceclasses"] {
        let restarts = m
            .get(
                "binpacking_exporter_watch_restarts_total",
                &[("resource", resource)],
            )
            .unwrap();
        assert!(restarts >= 1.0, "{resource}: {restarts}");
    }
}

/// The lines of an exposition that are not device families.
fn without_devices(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            let name = l
                .trim_start_matches("# HELP ")
                .trim_start_matches("# TYPE ")
                .split(['{', ' '])
                .next()
                .unwrap_or_default();
            !FAMILIES.contains(&name)
                && !name.starts_with("binpacking_exporter_")
                && !name.starts_with("process_")
                && !name.starts_with("binpacking_cache_age")
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn without_the_api_group_or_the_permission_the_exporter_runs_as_without_dra_and_warns_once() {
    // The same cluster three times: DRA served, not served (404), forbidden (403). Without a
    // DRA-backed resource tracked, the other series are identical.
    let sim = Sim::start(&["--nodes", "20", "--pods", "300", "--seed", "3"]);
    let args = ["--resources", "cpu,memory"];
    let with = Exporter::start(&sim.kubeconfig, &args);
    with.wait_ready(Duration::from_secs(60));
    let with_text = with.get("/metrics").text();
    assert!(
        with_text.contains("binpacking_cluster_devices{"),
        "no device families with DRA served"
    );

    sim.post("/dra-api?mode=off", "");
    let absent = Exporter::start(&sim.kubeconfig, &args);
    absent.wait_ready(Duration::from_secs(60));
    let absent_text = absent.get("/metrics").text();
    sim.post("/dra-api?mode=on", "");
    sim.post("/faults/deny?resource=resourceclaims", "");
    let forbidden = Exporter::start(&sim.kubeconfig, &args);
    forbidden.wait_ready(Duration::from_secs(60));
    let forbidden_text = forbidden.get("/metrics").text();

    for (text, logs, what) in [
        (
            &absent_text,
            absent.stderr.all(),
            "does not serve resource.k8s.io/v1",
        ),
        (
            &forbidden_text,
            forbidden.stderr.all(),
            "manifests/dra/clusterrole.yaml",
        ),
    ] {
        assert!(
            !FAMILIES.iter().any(|f| text.contains(&format!("{f}{{"))),
            "device series without DRA"
        );
        assert_eq!(without_devices(text), without_devices(&with_text));
        let warnings: Vec<&String> = logs.iter().filter(|l| l.contains(what)).collect();
        assert_eq!(warnings.len(), 1, "{what}: {logs:#?}");
        assert!(warnings[0].contains("WARN"), "{}", warnings[0]);
    }
    let sync: Value = serde_json::from_str(&forbidden.get("/sync").text()).unwrap();
    assert_eq!(sync["devices"], "off");
    assert_eq!(sync["ready"], true);
}

#[test]
fn once_lists_the_devices_as_the_metrics_count_them() {
    let sim = Sim::start(&["--nodes", "30", "--pods", "600", "--seed", "4"]);
    let once = |output: &str| {
        let out = std::process::Command::new(common::exporter_bin())
            .arg("--kubeconfig")
            .arg(&sim.kubeconfig)
            .args(["--once", "--resources", RESOURCES, "--output", output])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let exporter = Exporter::start(&sim.kubeconfig, &["--resources", RESOURCES]);
    exporter.wait_ready(Duration::from_secs(60));
    let m = exporter.metrics();
    let json: Value = serde_json::from_str(&once("json")).unwrap();
    let drivers = json["devices"]["drivers"].as_array().unwrap();
    assert!(!drivers.is_empty());
    for d in drivers {
        let l = [("driver", d["driver"].as_str().unwrap())];
        assert_eq!(
            m.get("binpacking_cluster_devices", &l),
            d["published"].as_f64()
        );
        assert_eq!(
            m.get("binpacking_cluster_devices_allocated", &l),
            d["allocated"].as_f64()
        );
    }
    let table = once("table");
    let line = table
        .lines()
        .find(|l| l.starts_with("cluster gpu.nvidia.com"))
        .unwrap_or_else(|| panic!("{table}"));
    let published = m
        .get(
            "binpacking_cluster_devices",
            &[("driver", "gpu.nvidia.com")],
        )
        .unwrap();
    assert!(
        line.split_whitespace().any(|w| w == published.to_string()),
        "{line}"
    );
    assert!(table.contains("devices (DRA):"), "{table}");
}

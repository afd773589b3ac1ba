//! Limits, unlimited pods and namespaces end to end: every vector of
//! `tests/fixtures/limits-vectors.json` served by the simulator and read back through the real
//! exporter; and a generated cluster whose every node and namespace figure equals an independent
//! computation over the simulator's objects (`tests/independent/figures.py`: requests by
//! `docs/check_vectors.py`, limits by `docs/ACCOUNTING.md` §14, both in Python), before and after
//! churn. Needs `python3` (skipped with a note elsewhere, required in CI).

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

use common::{have, independent_figures, units, wait_until, Exporter, Metrics, Sim, TempDir};
use serde_json::{json, Value};

fn limit_vectors() -> Vec<Value> {
    let v: Value = serde_json::from_str(include_str!("fixtures/limits-vectors.json")).unwrap();
    v["vectors"].as_array().unwrap().clone()
}

fn gate_flags(gates: &Value) -> (&'static str, Vec<&'static str>) {
    if gates["PodLevelResources"] == json!(false) {
        ("plr-off", vec!["--pod-level-resources", "off"])
    } else if gates["InPlacePodVerticalScaling"] == json!(false) {
        ("resize-off", vec!["--in-place-pod-vertical-scaling", "off"])
    } else {
        ("default", vec!["--pod-level-resources", "on"])
    }
}

#[test]
fn every_limit_vector_reads_back_through_the_exporter() {
    let vectors = limit_vectors();
    let mut items = Vec::new();
    for v in &vectors {
        let node = v["id"].as_str().unwrap().to_lowercase();
        let (group, _) = gate_flags(&v["gates"]);
        items.push(json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": node, "labels": {"gates": group}},
            "status": {"allocatable": {"cpu": "64", "memory": "256Gi", "nvidia.com/gpu": "8", "pods": "110"}}}));
        let mut pod = v["pod"].clone();
        pod["apiVersion"] = json!("v1");
        pod["kind"] = json!("Pod");
        pod["metadata"] = json!({"name": "p", "namespace": node});
        pod["spec"]["nodeName"] = json!(node);
        items.push(pod);
    }
    let dir = TempDir::new("limits");
    let path = dir.path("scenario.json");
    std::fs::write(
        &path,
        json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string(),
    )
    .unwrap();
    let sim = Sim::start(&["--scenario", path.to_str().unwrap()]);
    let mut checked = 0;
    for group in ["default", "plr-off", "resize-off"] {
        let in_group: Vec<&Value> = vectors
            .iter()
            .filter(|v| gate_flags(&v["gates"]).0 == group)
            .collect();
        let (_, flags) = gate_flags(&in_group[0]["gates"]);
        let selector = format!("gates={group}");
        let mut args = vec![
            "--resources",
            "cpu,memory,nvidia.com/gpu",
            "--node-selector",
            &selector,
        ];
        args.extend(flags);
        let exporter = Exporter::start(&sim.kubeconfig, &args);
        exporter.wait_ready(Duration::from_secs(30));
        let m = exporter.metrics();
        for v in in_group {
            let node = v["id"].as_str().unwrap().to_lowercase();
            for r in ["cpu", "memory", "nvidia.com/gpu"] {
                let want = v["expected"]["limits"][r].as_i64().unwrap();
                let node_label = [("node", node.as_str())];
                assert_eq!(
                    units(&m, "binpacking_node_limits", &node_label, r),
                    Some(want),
                    "{} {r}",
                    v["id"]
                );
                let ns_label = [("namespace", node.as_str())];
                assert_eq!(
                    units(&m, "binpacking_namespace_limits", &ns_label, r),
                    Some(want)
                );
                let unlimited = v["expected"]["unlimited"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(r));
                assert_eq!(
                    count(&m, "binpacking_node_unlimited_pods", &node_label, r),
                    Some(i64::from(unlimited)),
                    "{} {r} unlimited",
                    v["id"]
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, vectors.len());
}

/// A count (pods) per resource.
fn count(m: &Metrics, family: &str, labels: &[(&str, &str)], resource: &str) -> Option<i64> {
    let mut l = labels.to_vec();
    l.push(("resource", resource));
    #[allow(clippy::cast_possible_truncation)]
    m.get(family, &l).map(|v| v.round() as i64)
}

/// The independent figures of the simulator's objects now.
fn independent(sim: &Sim, resources: &str) -> Value {
    independent_figures(&sim.get_json("/objects"), resources)
}

/// Every node and namespace figure the exporter publishes against `want`; the differences.
fn differences(m: &Metrics, want: &Value, resources: &[&str]) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut check = |what: String, got: Option<i64>, want: i64| {
        if got != Some(want) {
            diffs.push(format!("{what}: exporter {got:?}, independent {want}"));
        }
    };
    for (node, f) in want["nodes"].as_object().unwrap() {
        let l = [("node", node.as_str())];
        for &r in resources {
            let value = |k: &str| f[k][r].as_i64().unwrap();
            check(
                format!("{node} allocated {r}"),
                units(m, "binpacking_node_allocated", &l, r),
                value("allocated"),
            );
            if r != "pods" {
                check(
                    format!("{node} limits {r}"),
                    units(m, "binpacking_node_limits", &l, r),
                    value("limits"),
                );
                check(
                    format!("{node} unlimited {r}"),
                    count(m, "binpacking_node_unlimited_pods", &l, r),
                    value("unlimited"),
                );
            }
        }
    }
    let namespaces: BTreeMap<String, f64> = m
        .family("binpacking_namespace_pods")
        .into_iter()
        .map(|(k, v)| (k.clone(), v))
        .collect();
    let published = namespaces.len();
    let expected = want["namespaces"].as_object().unwrap();
    if published != expected.len() {
        check(
            "namespaces published".into(),
            i64::try_from(published).ok(),
            i64::try_from(expected.len()).unwrap(),
        );
    }
    for (ns, f) in expected {
        let l = [("namespace", ns.as_str())];
        #[allow(clippy::cast_possible_truncation)]
        let pods = m.get("binpacking_namespace_pods", &l).map(|v| v as i64);
        check(format!("{ns} pods"), pods, f["pods"].as_i64().unwrap());
        for &r in resources {
            check(
                format!("{ns} allocated {r}"),
                units(m, "binpacking_namespace_allocated", &l, r),
                f["allocated"][r].as_i64().unwrap(),
            );
            if r != "pods" {
                check(
                    format!("{ns} limits {r}"),
                    units(m, "binpacking_namespace_limits", &l, r),
                    f["limits"][r].as_i64().unwrap(),
                );
            }
        }
    }
    diffs
}

#[test]
fn node_and_namespace_figures_equal_an_independent_computation_also_after_churn() {
    if !have("python3") {
        return;
    }
    let resources = ["cpu", "memory", "ephemeral-storage", "pods"];
    let joined = resources.join(",");
    let sim = Sim::start(&["--nodes", "40", "--pods", "1200", "--seed", "5"]);
    let exporter = Exporter::start(&sim.kubeconfig, &["--resources", &joined]);
    exporter.wait_ready(Duration::from_secs(60));
    let want = independent(&sim, &joined);
    let diffs = differences(&exporter.metrics(), &want, &resources);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    let limited_pods: i64 = want["nodes"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n["limits"]["memory"].as_i64().unwrap())
        .filter(|&l| l > 0)
        .count()
        .try_into()
        .unwrap();
    assert!(
        limited_pods > 10,
        "the generated cluster has limits to check"
    );

    // Churn: pods created, deleted, rebound, phases changed, nodes come and go.
    sim.post("/churn?rate=300", "");
    std::thread::sleep(Duration::from_secs(3));
    sim.post("/churn?rate=0", "");
    // The objects are read again on every try: the churn thread may finish one more step after
    // the rate is set to 0.
    let mut last = Vec::new();
    let equal = wait_until(Duration::from_secs(30), || {
        let want = independent(&sim, &joined);
        last = differences(&exporter.metrics(), &want, &resources);
        last.is_empty()
    });
    assert!(equal, "after churn:\n{}", last.join("\n"));
}

#[test]
fn group_namespace_figures_add_up_to_the_namespace_and_the_group_figures() {
    let zone = "topology.kubernetes.io/zone";
    let sim = Sim::start(&["--nodes", "30", "--pods", "900", "--seed", "9"]);
    let exporter = Exporter::start(
        &sim.kubeconfig,
        &["--label-group", zone, "--namespace-group-metrics"],
    );
    exporter.wait_ready(Duration::from_secs(60));
    let m = exporter.metrics();
    let mut by_namespace: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut by_group: BTreeMap<(String, String), i64> = BTreeMap::new();
    let series = m.family("binpacking_group_namespace_allocated");
    assert!(series.len() > 20, "{series:?}");
    let label = |key: &str, name: &str| {
        let start = key.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        key[start..start + key[start..].find('"').unwrap()].to_owned()
    };
    for (key, value) in series {
        let resource = label(key, "resource");
        let cpu = if resource == "cpu" { 1000.0 } else { 1.0 };
        #[allow(clippy::cast_possible_truncation)]
        let value = (value * cpu).round() as i64;
        *by_namespace
            .entry((label(key, "namespace"), resource.clone()))
            .or_default() += value;
        *by_group
            .entry((label(key, "label_group_value"), resource))
            .or_default() += value;
    }
    for ((ns, resource), sum) in &by_namespace {
        let l = [("namespace", ns.as_str())];
        assert_eq!(
            units(&m, "binpacking_namespace_allocated", &l, resource),
            Some(*sum),
            "{ns} {resource}"
        );
    }
    for ((value, resource), sum) in &by_group {
        let l = [("label_group", zone), ("label_group_value", value.as_str())];
        assert_eq!(
            units(&m, "binpacking_group_allocated", &l, resource),
            Some(*sum),
            "{value} {resource}"
        );
    }
    // Without the flag there are none, and the namespace figures are the same.
    let plain = Exporter::start(&sim.kubeconfig, &["--label-group", zone]);
    plain.wait_ready(Duration::from_secs(60));
    let p = plain.metrics();
    assert!(p.family("binpacking_group_namespace_allocated").is_empty());
    assert_eq!(
        p.family("binpacking_namespace_allocated"),
        m.family("binpacking_namespace_allocated")
    );
}

//! Every pod vector of `tests/fixtures/accounting-vectors.json` served by the cluster simulator and
//! read back through the real exporter's metrics: one node per vector, nodes labelled with the
//! feature gates the vector assumes, one exporter per gate combination selecting its nodes with
//! `--node-selector` (pods on the other nodes must count nowhere).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_cmp,
    clippy::too_many_lines
)]

mod common;

use std::time::Duration;

use common::{Exporter, Sim, TempDir};
use serde_json::{json, Value};

const RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "pods",
    "ephemeral-storage",
    "hugepages-2Mi",
    "hugepages-1Gi",
    "nvidia.com/gpu",
    "example.com/foo",
];

fn vectors() -> Vec<Value> {
    let text = include_str!("fixtures/accounting-vectors.json");
    let v: Value = serde_json::from_str(text).unwrap();
    v["pod_vectors"].as_array().unwrap().clone()
}

/// The gate group of a vector: which exporter flags reproduce its assumptions.
fn gate_group(vector: &Value) -> &'static str {
    let gates = &vector["gates"];
    if gates["PodLevelResources"] == json!(false) {
        "plr-off"
    } else if gates["InPlacePodVerticalScaling"] == json!(false) {
        "resize-off"
    } else {
        "default"
    }
}

fn node_name(vector: &Value) -> String {
    format!(
        "{}-{}",
        vector["id"].as_str().unwrap().to_lowercase(),
        vector["node"]["name"].as_str().unwrap()
    )
}

/// The API server's defaulting: container limits copied into missing requests.
fn default_requests_from_limits(pod: &mut Value) {
    for list in ["containers", "initContainers"] {
        let Some(containers) = pod["spec"][list].as_array_mut() else {
            continue;
        };
        for c in containers {
            let Some(limits) = c["resources"]["limits"].as_object().cloned() else {
                continue;
            };
            let requests = c["resources"]
                .as_object_mut()
                .unwrap()
                .entry("requests")
                .or_insert_with(|| json!({}));
            for (k, v) in limits {
                requests.as_object_mut().unwrap().entry(k).or_insert(v);
            }
        }
    }
}

fn scenario() -> Value {
    scenario_of(&vectors())
}

fn scenario_of(vectors: &[Value]) -> Value {
    let mut items = Vec::new();
    for v in vectors {
        let name = node_name(v);
        items.push(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"gates": gate_group(v), "vector": v["id"]}},
            "status": {"allocatable": v["node"]["allocatable"], "capacity": v["node"]["allocatable"]},
        }));
        for pod in v["pods"].as_array().unwrap() {
            let mut pod = pod.clone();
            if v["as_submitted"] == json!(true) {
                default_requests_from_limits(&mut pod);
            }
            pod["apiVersion"] = json!("v1");
            pod["kind"] = json!("Pod");
            pod["metadata"]["namespace"] = json!(v["id"].as_str().unwrap().to_lowercase());
            // The vector's node becomes this vector's node; any other node name stays a node
            // that does not exist (its pods must count nowhere).
            if let Some(n) = pod["spec"]["nodeName"].as_str() {
                let id = v["id"].as_str().unwrap().to_lowercase();
                pod["spec"]["nodeName"] = json!(format!("{id}-{n}"));
            }
            items.push(pod);
        }
    }
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

/// The exported value of an integer amount: cpu millicores become cores.
fn exported(resource: &str, amount: &Value) -> f64 {
    let n = amount.as_f64().unwrap();
    if resource == "cpu" {
        n / 1000.0
    } else {
        n
    }
}

#[test]
fn every_accounting_vector_matches_through_the_simulator_and_the_exporter() {
    let dir = TempDir::new("vectors");
    let path = dir.path("scenario.json");
    std::fs::write(&path, scenario().to_string()).unwrap();
    let sim = Sim::start(&["--scenario", path.to_str().unwrap()]);
    let resources = RESOURCES.join(",");
    let groups = [
        ("default", vec![]),
        ("plr-off", vec!["--pod-level-resources", "off"]),
        ("resize-off", vec!["--in-place-pod-vertical-scaling", "off"]),
    ];
    let exporters: Vec<(&str, Exporter)> = groups
        .iter()
        .map(|(group, flags)| {
            let selector = format!("gates={group}");
            let mut args = vec!["--resources", &resources, "--node-selector", &selector];
            args.extend(flags.iter().copied());
            args.extend(["--label-group", "gates"]);
            (*group, Exporter::start(&sim.kubeconfig, &args))
        })
        .collect();
    let mut checked = 0;
    for (group, exporter) in &exporters {
        exporter.wait_ready(Duration::from_secs(60));
        let m = exporter.metrics();
        let mut cluster = vec![0.0; RESOURCES.len()];
        let mut nodes = 0;
        for v in vectors().iter().filter(|v| gate_group(v) == *group) {
            let node = node_name(v);
            let expected = &v["expected"]["node"];
            for (i, r) in RESOURCES.iter().enumerate() {
                let want_alloc = expected["allocated"]
                    .get(*r)
                    .map_or(0.0, |a| exported(r, a));
                // Vectors state allocatable only for some resources; those are checked.
                let want_allocatable = expected["allocatable"].get(*r).map(|a| exported(r, a));
                let got = m.get(
                    "binpacking_node_allocated",
                    &[("node", &node), ("resource", r)],
                );
                assert_eq!(got, Some(want_alloc), "{} {r} allocated", v["id"]);
                let got = m.get(
                    "binpacking_node_allocatable",
                    &[("node", &node), ("resource", r)],
                );
                assert!(got.is_some(), "{} {r} allocatable missing", v["id"]);
                if want_allocatable.is_some() {
                    assert_eq!(got, want_allocatable, "{} {r} allocatable", v["id"]);
                }
                cluster[i] += want_alloc;
                checked += 1;
            }
            nodes += 1;
        }
        assert_eq!(
            m.get("binpacking_cluster_nodes", &[]),
            Some(f64::from(nodes))
        );
        for (i, r) in RESOURCES.iter().enumerate() {
            let got = m
                .get("binpacking_cluster_allocated", &[("resource", r)])
                .unwrap();
            assert!(
                (got - cluster[i]).abs() < 1e-9 * cluster[i].max(1.0),
                "{group} cluster {r}: {got} vs {}",
                cluster[i]
            );
            let g = m
                .get(
                    "binpacking_group_allocated",
                    &[
                        ("label_group", "gates"),
                        ("label_group_value", group),
                        ("resource", r),
                    ],
                )
                .unwrap();
            assert_eq!(g, got, "{group} group {r}");
        }
    }
    assert_eq!(checked, vectors().len() * RESOURCES.len());
}

/// The 1.33–1.37 vectors (`tests/fixtures/accounting-vectors-137.json`): each lists the releases
/// whose defaults it assumes.
fn vectors_137() -> Vec<Value> {
    let text = include_str!("fixtures/accounting-vectors-137.json");
    let v: Value = serde_json::from_str(text).unwrap();
    v["pod_vectors"].as_array().unwrap().clone()
}

/// The exporter flags a vector's explicit gates need beyond the version's defaults.
fn gate_flags(vector: &Value) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if vector["gates"]["InPlacePodLevelResourcesVerticalScaling"] == json!(false) {
        flags.extend(["--in-place-pod-level-resources-vertical-scaling", "off"]);
    }
    flags
}

#[test]
fn the_1_33_to_1_37_vectors_match_under_the_version_the_api_server_reports() {
    let vectors = vectors_137();
    let dir = TempDir::new("vectors-137");
    let path = dir.path("scenario.json");
    std::fs::write(&path, scenario_of(&vectors).to_string()).unwrap();
    let sim = Sim::start(&["--scenario", path.to_str().unwrap(), "--no-dra"]);
    let mut resources: Vec<&str> = RESOURCES.to_vec();
    resources.push("deviceclass.resource.kubernetes.io/gpu.example.com");
    let list = resources.join(",");
    let mut checked = 0;
    for minor in 33..=37 {
        // `auto` follows the version the API server reports when the exporter starts.
        sim.post(&format!("/version?minor={minor}"), "");
        let version = format!("1.{minor}");
        let applies = |v: &&Value| {
            v["versions"]
                .as_array()
                .unwrap()
                .contains(&json!(version.clone()))
        };
        let mut runs: Vec<Vec<&'static str>> = Vec::new();
        for v in vectors.iter().filter(applies) {
            if !runs.contains(&gate_flags(v)) {
                runs.push(gate_flags(v));
            }
        }
        for flags in runs {
            let mut args = vec!["--resources", list.as_str()];
            args.extend(flags.iter().copied());
            let exporter = Exporter::start(&sim.kubeconfig, &args);
            exporter.wait_ready(Duration::from_secs(60));
            let m = exporter.metrics();
            for v in vectors
                .iter()
                .filter(applies)
                .filter(|v| gate_flags(v) == flags)
            {
                let node = node_name(v);
                for r in &resources {
                    let want = v["expected"]["node"]["allocated"]
                        .get(*r)
                        .map_or(0.0, |a| exported(r, a));
                    let got = m.get(
                        "binpacking_node_allocated",
                        &[("node", &node), ("resource", r)],
                    );
                    assert_eq!(
                        got,
                        Some(want),
                        "{} under {version} {flags:?}: {r}",
                        v["id"]
                    );
                    checked += 1;
                }
            }
        }
    }
    // Every vector under every version it lists.
    let runs: usize = vectors
        .iter()
        .map(|v| v["versions"].as_array().unwrap().len())
        .sum();
    assert_eq!(checked, runs * resources.len());
}

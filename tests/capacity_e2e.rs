//! The capacity metrics of a generated cluster, checked against an independent computation in
//! this test: from the exporter's per-node allocated/allocatable (checked elsewhere) and the
//! simulator's node objects (cordon state), recompute free room, shape fit, largest free,
//! stranded capacity, headroom, lower bounds and removable nodes, and the pending pod count.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_cmp,
    clippy::too_many_lines,
    clippy::needless_range_loop,
    clippy::type_complexity
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Exporter, Metrics, Sim};

const ZONE: &str = "topology.kubernetes.io/zone";

/// Per node: [cpu millicores, memory bytes, pods] allocated and allocatable.
struct NodeFacts {
    allocated: [i128; 3],
    allocatable: [i128; 3],
    cordoned: bool,
    zone: String,
}

fn amount(m: &Metrics, family: &str, labels: &[(&str, &str)], resource: &str) -> i128 {
    let mut l = labels.to_vec();
    l.push(("resource", resource));
    let v = m
        .get(family, &l)
        .unwrap_or_else(|| panic!("{family} {l:?}"));
    let scaled = if resource == "cpu" { v * 1000.0 } else { v };
    #[allow(clippy::cast_possible_truncation)]
    let exact = scaled.round() as i128;
    exact
}

const RESOURCES: [&str; 3] = ["cpu", "memory", "pods"];

#[test]
fn capacity_metrics_match_an_independent_computation() {
    let sim = Sim::start(&["--nodes", "24", "--pods", "500", "--seed", "11"]);
    let exporter = Exporter::start(
        &sim.kubeconfig,
        &[
            "--resources",
            "cpu,memory,pods",
            "--label-group",
            ZONE,
            "--shape",
            "small=cpu=250m,memory=256Mi",
        ],
    );
    exporter.wait_ready(Duration::from_secs(30));
    // A quiet moment: the simulator does not churn unless asked.
    let m = exporter.metrics();
    let objects = sim.get_json("/objects");
    let items = objects["items"].as_array().unwrap();

    let mut nodes: BTreeMap<String, NodeFacts> = BTreeMap::new();
    for item in items.iter().filter(|i| i["kind"] == "Node") {
        let name = item["metadata"]["name"].as_str().unwrap().to_owned();
        let labels = [("node", name.as_str())];
        let mut allocated = [0; 3];
        let mut allocatable = [0; 3];
        for (r, res) in RESOURCES.iter().enumerate() {
            allocated[r] = amount(&m, "binpacking_node_allocated", &labels, res);
            allocatable[r] = amount(&m, "binpacking_node_allocatable", &labels, res);
        }
        let zone = item["metadata"]["labels"][ZONE]
            .as_str()
            .unwrap_or("<none>")
            .to_owned();
        let cordoned = item["spec"]["unschedulable"] == true;
        nodes.insert(
            name,
            NodeFacts {
                allocated,
                allocatable,
                cordoned,
                zone,
            },
        );
    }
    assert!(
        nodes.values().any(|n| n.cordoned),
        "the generated cluster has a cordoned node"
    );

    // The average shape: mean request of the counted non-DaemonSet pods.
    let by_owner = |owner: &str, res: &str| {
        amount(
            &m,
            "binpacking_cluster_allocated_by_owner",
            &[("owner", owner)],
            res,
        )
    };
    let count = by_owner("workload", "pods") + by_owner("static", "pods");
    let sums: Vec<i128> = RESOURCES[..2]
        .iter()
        .map(|r| by_owner("workload", r) + by_owner("static", r))
        .collect();
    let small = [250, 256 << 20];

    let free = |n: &NodeFacts, r: usize| {
        if n.cordoned {
            0
        } else {
            (n.allocatable[r] - n.allocated[r]).max(0)
        }
    };
    let fit_small = |n: &NodeFacts| {
        let mut fit = free(n, 2);
        for r in 0..2 {
            fit = fit.min(free(n, r) / small[r]);
        }
        fit
    };
    let fit_average = |n: &NodeFacts| {
        let mut fit = free(n, 2);
        for r in 0..2 {
            if sums[r] > 0 {
                fit = fit.min(free(n, r) * count / sums[r]);
            }
        }
        fit
    };

    // Per node shape fit.
    for (name, n) in &nodes {
        for (shape, want) in [("small", fit_small(n)), ("average", fit_average(n))] {
            let got = m
                .get(
                    "binpacking_node_shape_fit",
                    &[("node", name), ("shape", shape)],
                )
                .unwrap();
            assert_eq!(got, want as f64, "{name} {shape}");
        }
    }

    // Cluster and per zone aggregates.
    let mut scopes: Vec<(Vec<(&str, String)>, Vec<&NodeFacts>)> =
        vec![(vec![], nodes.values().collect())];
    let zones: BTreeSet<&str> = nodes.values().map(|n| n.zone.as_str()).collect();
    for zone in zones {
        scopes.push((
            vec![
                ("label_group", ZONE.to_owned()),
                ("label_group_value", zone.to_owned()),
            ],
            nodes.values().filter(|n| n.zone == zone).collect(),
        ));
    }
    let mut checked = 0;
    for (labels, members) in &scopes {
        let scope = if labels.is_empty() {
            "cluster"
        } else {
            "group"
        };
        let l: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let get = |family: &str, extra: &[(&str, &str)]| {
            let mut all = l.clone();
            all.extend_from_slice(extra);
            m.get(&format!("binpacking_{scope}_{family}"), &all)
                .unwrap_or_else(|| panic!("{scope}_{family} {all:?}"))
        };
        let shape_sum: i128 = members.iter().map(|n| fit_small(n)).sum();
        assert_eq!(
            get("shape_fit", &[("shape", "small")]),
            shape_sum as f64,
            "{l:?}"
        );
        let mut max_lower_bound = 0;
        for (r, res) in RESOURCES.iter().enumerate() {
            let unit = if *res == "cpu" { 1000.0 } else { 1.0 };
            let largest = members.iter().map(|n| free(n, r)).max().unwrap_or(0);
            assert_eq!(
                get("largest_free", &[("resource", res)]),
                largest as f64 / unit,
                "{l:?} {res}"
            );
            let stranded: i128 = members
                .iter()
                .filter(|n| fit_average(n) == 0)
                .map(|n| free(n, r))
                .sum();
            assert_eq!(
                get("stranded", &[("resource", res)]),
                stranded as f64 / unit,
                "{l:?} {res}"
            );
            let max_alloc = members.iter().map(|n| n.allocatable[r]).max().unwrap_or(0);
            let free_sum: i128 = members.iter().map(|n| free(n, r)).sum();
            let headroom = if max_alloc == 0 {
                0.0
            } else {
                free_sum as f64 / max_alloc as f64
            };
            assert!(
                (get("headroom_nodes", &[("resource", res)]) - headroom).abs() < 1e-9,
                "{l:?} {res}"
            );
            let allocated: i128 = members.iter().map(|n| n.allocated[r]).sum();
            let bound = if max_alloc == 0 {
                0
            } else {
                (allocated + max_alloc - 1) / max_alloc
            };
            assert_eq!(
                get("nodes_lower_bound", &[("resource", res)]),
                bound as f64,
                "{l:?} {res}"
            );
            max_lower_bound = max_lower_bound.max(bound);
            checked += 1;
        }
        let removable = (members.len() as i128 - max_lower_bound).max(0);
        assert_eq!(get("removable_nodes", &[]), removable as f64, "{l:?}");
    }
    assert!(checked >= 4 * 3);

    // Pending pods: non-terminal pods without a node.
    let pending = items
        .iter()
        .filter(|i| i["kind"] == "Pod")
        .filter(|i| i["spec"]["nodeName"].as_str().is_none_or(str::is_empty))
        .filter(|i| !matches!(i["status"]["phase"].as_str(), Some("Succeeded" | "Failed")))
        .count();
    assert!(pending > 0, "the generated cluster has unscheduled pods");
    assert_eq!(
        m.get("binpacking_cluster_pending_pods", &[]),
        Some(pending as f64)
    );
    let fit = m.get("binpacking_cluster_pending_pods_fit", &[]).unwrap();
    assert!(fit <= pending as f64);
}

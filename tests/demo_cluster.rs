//! The demo cluster looks like a real one (issue #19): the real exporter against the simulator at
//! 12 nodes / 400 pods (`make demo`), 500 / 15,000 and 5,000 / 150,000. From the exporter's
//! metrics and the simulator's node labels: no node without the `kube-sim.local/edge-case`
//! label is above 100 % of allocatable for cpu, memory or pods; labelled nodes are at least one
//! and at most 1 % (one at 12 nodes); at most 5 % of the pods are pending; cluster cpu
//! utilization lies within 50–85 %. Then the same after ten minutes of churn at 20 events per
//! second, applied at once (`POST /churn/steps?n=12000`).
//!
//! The largest scale loads about 1.4 GB of JSON; with `DEMO_CLUSTER_BIN_DIR` set (say
//! `target/fast`) every case runs with the simulator and exporter built there instead of the
//! debug builds next to this test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_cmp
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{exporter_bin, http, http_waiting, wait_until, workspace_bin, Exporter, Metrics, Sim};

const EDGE_CASE_LABEL: &str = "kube-sim.local/edge-case";

/// Churn operations in ten minutes at 20 per second.
const CHURN_OPERATIONS: u64 = 12_000;

/// The simulator and exporter binaries: from `DEMO_CLUSTER_BIN_DIR` when set, else the builds
/// next to this test.
fn binaries() -> (PathBuf, PathBuf) {
    match std::env::var_os("DEMO_CLUSTER_BIN_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let sim = dir.join("kube-sim");
            let exporter = dir.join("kube-cluster-binpacking-exporter");
            assert!(
                sim.exists() && exporter.exists(),
                "DEMO_CLUSTER_BIN_DIR={} lacks kube-sim or the exporter (cargo build --workspace --bins --profile fast)",
                dir.display()
            );
            (sim, exporter)
        }
        None => (workspace_bin("kube-sim"), exporter_bin()),
    }
}

/// The value of label `name` in a series key.
fn label<'a>(series: &'a str, name: &str) -> Option<&'a str> {
    let start = series.find(&format!("{name}=\""))? + name.len() + 2;
    let len = series[start..].find('"')?;
    Some(&series[start..start + len])
}

/// Names of the simulator's nodes, with their edge-case reason if labelled.
fn nodes(sim: &Sim) -> BTreeMap<String, Option<String>> {
    let r = http(&sim.api, "GET", "/api/v1/nodes", &[], b"");
    assert_eq!(r.status, 200);
    let list: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["metadata"]["name"].as_str().unwrap().to_owned(),
                n["metadata"]["labels"][EDGE_CASE_LABEL]
                    .as_str()
                    .map(str::to_owned),
            )
        })
        .collect()
}

fn watch_events(m: &Metrics) -> f64 {
    m.family("binpacking_exporter_watch_events_total")
        .iter()
        .map(|(_, v)| v)
        .sum()
}

/// Scrapes once the exporter has applied every change up to the simulator's current version:
/// its watch event count grew by the versions the simulator moved (or, after a relist, stopped
/// moving) and it tracks as many nodes as the simulator has.
fn settled_metrics(sim: &Sim, exporter: &Exporter, events_before: f64, rv_before: u64) -> Metrics {
    let state = sim.get_json("/state");
    let rv: u64 = state["resourceVersion"].as_str().unwrap().parse().unwrap();
    let node_count = state["nodes"].as_f64().unwrap();
    let expected = events_before + (rv - rv_before) as f64;
    let mut last = -1.0;
    let mut stable = 0;
    let settled = wait_until(Duration::from_secs(600), || {
        let m = exporter.metrics();
        let events = watch_events(&m);
        stable = if events == last { stable + 1 } else { 0 };
        last = events;
        m.get("binpacking_cluster_nodes", &[]) == Some(node_count)
            && (events >= expected || stable >= 40)
    });
    assert!(settled, "the exporter did not catch up with the simulator");
    exporter.metrics()
}

/// What one look at the cluster found.
struct Look {
    nodes: usize,
    edge_cases: BTreeMap<String, usize>,
    pods: u64,
    pending: f64,
    cluster_cpu: f64,
    cluster_memory: f64,
    /// Per node, the largest of its cpu, memory and pods utilization, sorted.
    tightest: Vec<f64>,
}

impl Look {
    fn percentile(&self, p: usize) -> f64 {
        let i = (self.tightest.len() - 1) * p / 100;
        self.tightest[i] * 100.0
    }

    fn summary(&self) -> String {
        let count = |f: &dyn Fn(f64) -> bool| self.tightest.iter().filter(|&&t| f(t)).count();
        format!(
            "{} nodes, {} pods: cluster cpu {:.1} %, memory {:.1} %; pending {} ({:.2} %); \
             edge cases {:?}; tightest resource per node min/p10/p50/p90/max \
             {:.0}/{:.0}/{:.0}/{:.0}/{:.0} %, {} under 20 %, {} over 90 %",
            self.nodes,
            self.pods,
            self.cluster_cpu * 100.0,
            self.cluster_memory * 100.0,
            self.pending,
            self.pending * 100.0 / self.pods as f64,
            self.edge_cases,
            self.percentile(0),
            self.percentile(10),
            self.percentile(50),
            self.percentile(90),
            self.percentile(100),
            count(&|t| t < 0.2),
            count(&|t| t > 0.9),
        )
    }
}

/// Checks the cluster as the exporter reports it; `demo` also bounds the pending pods.
fn look(sim: &Sim, m: &Metrics, demo: bool) -> Look {
    let nodes = nodes(sim);
    let pods = sim.get_json("/state")["pods"].as_u64().unwrap();
    let mut edge_cases: BTreeMap<String, usize> = BTreeMap::new();
    for reason in nodes.values().flatten() {
        *edge_cases.entry(reason.clone()).or_default() += 1;
    }
    let labelled: usize = edge_cases.values().sum();
    let mut tightest: BTreeMap<&str, f64> = BTreeMap::new();
    let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (series, value) in m.family("binpacking_node_utilization_ratio") {
        let node = label(series, "node").unwrap();
        let resource = label(series, "resource").unwrap();
        assert!(
            nodes.contains_key(node),
            "{node} is reported but not in the simulator"
        );
        seen.insert((node, resource));
        if nodes[node].is_none() {
            assert!(
                value <= 1.0,
                "{node} without the edge-case label is at {:.1} % of its allocatable {resource}",
                value * 100.0
            );
        }
        let t = tightest.entry(node).or_insert(0.0);
        *t = t.max(value);
    }
    assert_eq!(
        seen.len(),
        nodes.len() * 3,
        "every node has a utilization for cpu, memory and pods"
    );
    assert!(labelled >= 1, "no edge-case node");
    assert!(
        labelled <= (nodes.len() / 100).max(1),
        "{labelled} edge-case nodes of {}",
        nodes.len()
    );
    let pending = m.get("binpacking_cluster_pending_pods", &[]).unwrap();
    if demo {
        assert!(
            pending <= pods as f64 * 0.05,
            "{pending} of {pods} pods pending"
        );
    }
    let cluster = |resource| {
        m.get(
            "binpacking_cluster_utilization_ratio",
            &[("resource", resource)],
        )
        .unwrap()
    };
    let cluster_cpu = cluster("cpu");
    assert!(
        (0.50..=0.85).contains(&cluster_cpu),
        "cluster cpu utilization {:.1} %",
        cluster_cpu * 100.0
    );
    let mut tightest: Vec<f64> = tightest.into_values().collect();
    tightest.sort_by(f64::total_cmp);
    Look {
        nodes: nodes.len(),
        edge_cases,
        pods,
        pending,
        cluster_cpu,
        cluster_memory: cluster("memory"),
        tightest,
    }
}

fn the_cluster_is_realistic_before_and_after_churn(nodes: &str, pods: &str) {
    let (sim_bin, exporter_bin) = binaries();
    let started = Instant::now();
    let sim = Sim::start_bin(&sim_bin, &["--nodes", nodes, "--pods", pods, "--seed", "1"]);
    let generated = started.elapsed();
    let exporter = Exporter::start_bin(
        &exporter_bin,
        &sim.kubeconfig,
        &["--resources", "cpu,memory,pods"],
    );
    exporter.wait_ready(Duration::from_secs(900));
    let synced = started.elapsed();
    let rv_before: u64 = sim.get_json("/state")["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let m = settled_metrics(
        &sim,
        &exporter,
        watch_events(&exporter.metrics()),
        rv_before,
    );
    let before = look(&sim, &m, true);
    eprintln!(
        "{nodes}/{pods} generated in {generated:.1?}, exporter ready after {synced:.1?}: {}",
        before.summary()
    );

    let events_before = watch_events(&exporter.metrics());
    let rv_before: u64 = sim.get_json("/state")["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let churned = Instant::now();
    // At 150,000 pods the first call decodes every pod into the churn's ledger: most of a
    // minute in a debug build.
    let answer = http_waiting(
        &sim.control,
        "POST",
        &format!("/churn/steps?n={CHURN_OPERATIONS}"),
        &[],
        b"",
        Duration::from_secs(900),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    let answer: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(answer["applied"], CHURN_OPERATIONS);
    let churn_time = churned.elapsed();
    let m = settled_metrics(&sim, &exporter, events_before, rv_before);
    let after = look(&sim, &m, true);
    eprintln!(
        "{nodes}/{pods} after {CHURN_OPERATIONS} churn operations (applied in {churn_time:.1?}, \
         exporter settled after {:.1?}): {}; whole case {:.1?}",
        churned.elapsed(),
        after.summary(),
        started.elapsed()
    );
}

#[test]
fn the_demo_cluster_of_12_nodes_and_400_pods_is_realistic() {
    the_cluster_is_realistic_before_and_after_churn("12", "400");
}

#[test]
fn a_cluster_of_500_nodes_and_15000_pods_is_realistic() {
    the_cluster_is_realistic_before_and_after_churn("500", "15000");
}

#[test]
fn a_cluster_of_5000_nodes_and_150000_pods_is_realistic() {
    the_cluster_is_realistic_before_and_after_churn("5000", "150000");
}

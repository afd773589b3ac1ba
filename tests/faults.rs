//! The exporter through API faults, driven by the simulator's fault controls: down at start,
//! an outage mid-run, closed watch streams, 410 Expired in both forms, 500 and 429 storms,
//! missing RBAC, and a long random run ending in exact equality with the simulator's truth.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_cmp,
    clippy::too_many_lines
)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{node, pod, small_cluster, wait_until, Exporter, Rng, Sim, TempDir};
use serde_json::{json, Value};

fn start_small(args: &[&str]) -> (Sim, Exporter, TempDir) {
    let dir = TempDir::new("faults");
    let path = dir.path("scenario.json");
    std::fs::write(&path, small_cluster().to_string()).unwrap();
    let sim = Sim::start(&[
        "--scenario",
        path.to_str().unwrap(),
        "--bookmark-interval",
        "1s",
    ]);
    let exporter = Exporter::start(&sim.kubeconfig, args);
    exporter.wait_ready(Duration::from_secs(30));
    (sim, exporter, dir)
}

fn cpu(exporter: &Exporter, node: &str) -> Option<f64> {
    exporter.metrics().get(
        "binpacking_node_allocated",
        &[("node", node), ("resource", "cpu")],
    )
}

fn eventually(exporter: &Exporter, node: &str, want: Option<f64>, within: Duration) {
    let ok = wait_until(within, || cpu(exporter, node) == want);
    assert!(
        ok,
        "{node}: want {want:?}, got {:?}\n{}",
        cpu(exporter, node),
        exporter.stderr.text()
    );
}

fn lists(sim: &Sim) -> Vec<Value> {
    sim.requests()
        .into_iter()
        .filter(|r| r["watch"] == false && (r["resource"] == "pods" || r["resource"] == "nodes"))
        .collect()
}

#[test]
fn down_at_start_then_ready_without_restart() {
    let dir = TempDir::new("down-start");
    let port = common::free_port();
    let kubeconfig = common::kubeconfig_for_port(&dir, port, "t");
    let exporter = Exporter::start(&kubeconfig, &[]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(exporter.get("/healthz").status, 200);
    let ready = exporter.get("/readyz");
    assert_eq!(ready.status, 503);
    assert!(
        ready.text().contains("api server not reachable"),
        "{}",
        ready.text()
    );
    let scenario = dir.path("scenario.json");
    std::fs::write(&scenario, small_cluster().to_string()).unwrap();
    let _sim = Sim::start(&[
        "--scenario",
        scenario.to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    exporter.wait_ready(Duration::from_secs(40));
    eventually(&exporter, "node-a", Some(0.85), Duration::from_secs(5));
}

#[test]
fn an_outage_keeps_serving_last_known_values_and_recovers_the_new_truth() {
    let (sim, exporter, _dir) = start_small(&[]);
    sim.post("/faults/refuse?seconds=30", "");
    let outage = Instant::now();
    // Changes made while the exporter cannot see them.
    sim.delete("/objects/pods/web/web-1");
    sim.apply(&pod("web", "web-new", Some("node-b"), "1200m", "1Gi", None));
    std::thread::sleep(Duration::from_secs(6));
    let m = exporter.metrics();
    assert_eq!(
        m.get(
            "binpacking_node_allocated",
            &[("node", "node-a"), ("resource", "cpu")]
        ),
        Some(0.85)
    );
    let age = m.get("binpacking_cache_age_seconds", &[]).unwrap();
    assert!(age >= 5.0, "cache age {age} should grow during the outage");
    assert_eq!(
        exporter.get("/readyz").status,
        200,
        "staleness is reported, not hidden"
    );
    let later = exporter
        .metrics()
        .get("binpacking_cache_age_seconds", &[])
        .unwrap();
    assert!(later >= age);
    while outage.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(200));
    }
    // kube-runtime's backoff (0.8 s doubling to a 30 s cap, plus a jitter of up to as much
    // again) may put the next retry up to 60 s after the last refused one.
    eventually(&exporter, "node-a", Some(0.35), Duration::from_secs(65));
    eventually(&exporter, "node-b", Some(1.2), Duration::from_secs(5));
    // Both watches reconnect within the capped backoff and hear bookmarks again.
    let fresh = wait_until(Duration::from_secs(65), || {
        exporter
            .metrics()
            .get("binpacking_cache_age_seconds", &[])
            .unwrap()
            < 5.0
    });
    assert!(fresh, "cache age stays high after recovery");
}

#[test]
fn closed_streams_resume_without_a_relist() {
    let (sim, exporter, _dir) = start_small(&[]);
    std::thread::sleep(Duration::from_millis(500));
    sim.post("/requests/reset", "");
    for (round, want) in [0.1, 0.2, 0.3].into_iter().enumerate() {
        sim.post("/faults/close-watches", "");
        sim.apply(&pod(
            "web",
            &format!("r{round}"),
            Some("node-b"),
            "100m",
            "1Mi",
            None,
        ));
        eventually(&exporter, "node-b", Some(want), Duration::from_secs(10));
    }
    assert!(
        lists(&sim).is_empty(),
        "a closed stream caused a re-list: {:?}",
        lists(&sim)
    );
    let watches: Vec<Value> = sim
        .requests()
        .into_iter()
        .filter(|r| r["watch"] == true)
        .collect();
    assert!(watches
        .iter()
        .all(|r| r["query"].as_str().unwrap().contains("resourceVersion=")));
}

fn expired_relists(mode: &str) {
    let (sim, exporter, _dir) = start_small(&[]);
    sim.post("/requests/reset", "");
    // While the exporter cannot reach the API, the cluster changes and history is compacted past
    // its resourceVersion: the resumed watch gets 410 and the exporter must re-list.
    sim.post("/faults/refuse?seconds=1", "");
    sim.delete("/objects/pods/web/web-2");
    sim.apply(&pod("web", "web-9", Some("node-a"), "2", "1Gi", None));
    sim.delete("/objects/nodes/node-b");
    sim.post(&format!("/faults/compact?mode={mode}"), "");
    eventually(&exporter, "node-a", Some(2.6), Duration::from_secs(30));
    // The node watch re-lists on its own backoff (jittered, up to twice the step), which may come
    // seconds after the pod watch's.
    eventually(&exporter, "node-b", None, Duration::from_secs(30));
    let m = exporter.metrics();
    assert_eq!(
        m.get("binpacking_cluster_allocated", &[("resource", "cpu")]),
        Some(3.7)
    );
    assert_eq!(m.get("binpacking_cluster_nodes", &[]), Some(2.0));
    assert!(!lists(&sim).is_empty(), "410 must cause a re-list");
    let expired: f64 = m
        .family("binpacking_exporter_watch_errors_total")
        .iter()
        .filter(|(k, _)| k.contains("reason=\"expired\""))
        .map(|(_, v)| v)
        .sum();
    assert!(
        expired >= 1.0,
        "410 counted: {:?}",
        m.family("binpacking_exporter_watch_errors_total")
    );
}

#[test]
fn expired_in_the_watch_stream_relists_atomically() {
    expired_relists("event");
}

#[test]
fn expired_as_http_status_on_the_watch_request_relists_too() {
    expired_relists("http");
}

fn storm(status: u16, retry_after: Option<u64>, bound: usize) {
    let (sim, exporter, _dir) = start_small(&[]);
    let query = retry_after.map_or(String::new(), |s| format!("&retry_after={s}"));
    sim.post("/requests/reset", "");
    sim.post(
        &format!("/faults/errors?status={status}&count=1000000{query}"),
        "",
    );
    sim.post("/faults/close-watches", "");
    std::thread::sleep(Duration::from_secs(30));
    let requests = sim.requests();
    sim.post("/faults/errors?status=500&count=0", "");
    // Per watch (nodes, pods and the three DRA resources the simulator serves).
    let mut per_resource = std::collections::BTreeMap::<String, usize>::new();
    for r in &requests {
        *per_resource
            .entry(r["resource"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    let seen = requests.len();
    assert!(
        per_resource.get("pods").copied().unwrap_or(0) >= 2,
        "the watches should have retried: {per_resource:?}"
    );
    for (resource, n) in &per_resource {
        assert!(
            *n <= bound,
            "{resource}: {n} requests in 30 s of {status} (bound {bound} per watch): no hot loop"
        );
    }
    eprintln!("{status} storm: {seen} requests in 30 s");
    // And it recovers: by the next retry, which kube-runtime's backoff (0.8 s doubling to a
    // 30 s cap, plus a jitter of up to as much again) may put up to 60 s after the last error.
    sim.apply(&pod(
        "web",
        "after-storm",
        Some("node-b"),
        "300m",
        "1Mi",
        None,
    ));
    eventually(&exporter, "node-b", Some(0.3), Duration::from_secs(65));
}

#[test]
fn server_errors_back_off_exponentially() {
    // Backoff 0.8 s doubling (with jitter) to a 30 s cap: about 6 attempts per watch in 30 s.
    storm(500, None, 12);
}

#[test]
fn throttling_honours_retry_after() {
    // Retry-After: 10 s — at most 3–4 attempts per watch in 30 s.
    storm(429, Some(10), 5);
}

#[test]
fn missing_rbac_is_named_and_recovers_when_granted() {
    let dir = TempDir::new("rbac");
    let path = dir.path("scenario.json");
    std::fs::write(&path, small_cluster().to_string()).unwrap();
    let sim = Sim::start(&["--scenario", path.to_str().unwrap()]);
    sim.post("/faults/deny?resource=pods", "");
    let exporter = Exporter::start(&sim.kubeconfig, &[]);
    let named = wait_until(Duration::from_secs(15), || {
        let r = exporter.get("/readyz");
        r.status == 503
            && r.text()
                .contains("pods: forbidden: list pods at cluster scope")
            && r.text().contains("manifests/clusterrole.yaml")
    });
    assert!(named, "readyz: {}", exporter.get("/readyz").text());
    assert!(exporter.stderr.text().contains("list and watch on pods"));
    sim.post("/faults/allow?resource=pods", "");
    exporter.wait_ready(Duration::from_secs(40));
    eventually(&exporter, "node-a", Some(0.85), Duration::from_secs(5));
}

/// The truth from the simulator's objects: per existing node, the millicores of the
/// non-terminal pods bound to it (the run only creates single-container pods).
fn truth(sim: &Sim) -> BTreeMap<String, i64> {
    let list = sim.get_json("/objects");
    let mut nodes: BTreeMap<String, i64> = BTreeMap::new();
    for item in list["items"].as_array().unwrap() {
        if item["kind"] == "Node" {
            nodes.insert(item["metadata"]["name"].as_str().unwrap().to_owned(), 0);
        }
    }
    for item in list["items"].as_array().unwrap() {
        if item["kind"] != "Pod" {
            continue;
        }
        let phase = item["status"]["phase"].as_str().unwrap_or("");
        if phase == "Succeeded" || phase == "Failed" {
            continue;
        }
        let Some(node) = item["spec"]["nodeName"].as_str() else {
            continue;
        };
        let cpu = item["spec"]["containers"][0]["resources"]["requests"]["cpu"]
            .as_str()
            .unwrap();
        let millis: i64 = cpu.trim_end_matches('m').parse().unwrap();
        if let Some(sum) = nodes.get_mut(node) {
            *sum += millis;
        }
    }
    nodes
}

fn exported(exporter: &Exporter) -> BTreeMap<String, i64> {
    exporter
        .metrics()
        .family("binpacking_node_allocated")
        .into_iter()
        .filter(|(k, _)| k.contains("resource=\"cpu\""))
        .map(|(k, v)| {
            let node = k
                .split("node=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_owned();
            #[allow(clippy::cast_possible_truncation)]
            let millis = (v * 1000.0).round() as i64;
            (node, millis)
        })
        .collect()
}

#[test]
fn a_long_random_run_ends_in_exact_equality() {
    let nodes: Vec<String> = (0..8).map(|i| format!("n{i}")).collect();
    let mut items: Vec<Value> = nodes
        .iter()
        .map(|n| node(n, "z", "16", "64Gi", None))
        .collect();
    items.push(pod("seed", "p", Some("n0"), "1m", "1Mi", None));
    let dir = TempDir::new("random");
    let path = dir.path("scenario.json");
    std::fs::write(
        &path,
        json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string(),
    )
    .unwrap();
    let sim = Sim::start(&[
        "--scenario",
        path.to_str().unwrap(),
        "--history",
        "500",
        "--bookmark-interval",
        "1s",
    ]);
    let exporter = Exporter::start(&sim.kubeconfig, &["--resync-period", "2s"]);
    exporter.wait_ready(Duration::from_secs(30));

    let mut rng = Rng::new(42);
    let mut live: Vec<String> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    let ops = 3000;
    for i in 0..ops {
        match rng.below(100) {
            0..=39 => {
                let name = format!("p{i}");
                let node = &nodes[rng.index(8)];
                let cpu = format!("{}m", 1 + rng.below(500));
                let bound = rng.below(10) > 0;
                sim.apply(&pod(
                    "run",
                    &name,
                    bound.then_some(node.as_str()),
                    &cpu,
                    "1Mi",
                    None,
                ));
                live.push(name);
            }
            40..=54 if !live.is_empty() => {
                let name = live.swap_remove(rng.index(live.len()));
                sim.delete(&format!("/objects/pods/run/{name}"));
            }
            55..=69 if !live.is_empty() => {
                let name = &live[rng.index(live.len())];
                let node = &nodes[rng.index(8)];
                sim.post(&format!("/pods/run/{name}/bind?node={node}"), "");
            }
            70..=82 if !live.is_empty() => {
                let name = &live[rng.index(live.len())];
                let phase = ["Succeeded", "Failed", "Running", "Pending", "Unknown"][rng.index(5)];
                sim.post(&format!("/pods/run/{name}/phase?phase={phase}"), "");
            }
            83..=86 => {
                let node = nodes[rng.index(8)].clone();
                if removed.contains(&node) {
                    sim.apply(&common::node(&node, "z", "16", "64Gi", None));
                    removed.retain(|n| n != &node);
                } else {
                    let _ = common::http(
                        &sim.control,
                        "DELETE",
                        &format!("/objects/nodes/{node}"),
                        &[],
                        b"",
                    );
                    removed.push(node);
                }
            }
            87..=91 => {
                sim.post("/faults/close-watches", "");
            }
            92 => {
                let mode = if rng.below(2) == 0 { "event" } else { "http" };
                sim.post("/faults/refuse?seconds=0.3", "");
                sim.post(&format!("/faults/compact?mode={mode}"), "");
            }
            _ => {}
        }
    }
    let want = truth(&sim);
    let equal = wait_until(Duration::from_secs(60), || exported(&exporter) == want);
    assert!(
        equal,
        "after {ops} operations the exporter differs from the truth:\nwant {want:?}\ngot  {:?}\n{}",
        exported(&exporter),
        exporter.stderr.text()
    );
    let drift = exporter
        .metrics()
        .get("binpacking_exporter_resync_drift_total", &[])
        .unwrap();
    assert_eq!(drift, 0.0, "running sums drifted from the records");
    assert!(exporter.get("/healthz").status == 200);
}

//! `--usage` end to end against the simulator's resource metrics API: every usage family equals
//! an independent computation over the simulator's objects and metrics lists
//! (`tests/independent/figures.py`), also after churn; a cluster without the API (404) or
//! without the permission (403) gets one warning, a counted poll result and every other series
//! unchanged; a stale API ages out; the poll's cost does not depend on how often Prometheus
//! scrapes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_cmp,
    clippy::too_many_lines
)]

mod common;

use std::time::{Duration, Instant};

use common::{have, http, independent_figures, units, wait_until, Exporter, Metrics, Sim};
use serde_json::Value;

/// GET on the simulator's API (with the kubeconfig's token), parsed as JSON.
fn api_json(sim: &Sim, path: &str) -> Value {
    let r = http(
        &sim.api,
        "GET",
        path,
        &[("Authorization", "Bearer kube-sim-token")],
        b"",
    );
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    serde_json::from_slice(&r.body).unwrap()
}

/// The independent figures (with usage) of the simulator's objects and metrics lists now.
fn independent(sim: &Sim) -> Value {
    let mut input = sim.get_json("/objects");
    input["nodeMetrics"] = api_json(sim, "/apis/metrics.k8s.io/v1beta1/nodes");
    input["podMetrics"] = api_json(sim, "/apis/metrics.k8s.io/v1beta1/pods");
    independent_figures(&input, "cpu,memory")
}

/// Every usage figure the exporter publishes (node, namespace, cluster) against `want`.
fn differences(m: &Metrics, want: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut check = |what: String, got: Option<i64>, want: Option<i64>| {
        if got != want {
            diffs.push(format!("{what}: exporter {got:?}, independent {want:?}"));
        }
    };
    let mut cluster = [[0i64; 2]; 3];
    for (node, f) in want["nodes"].as_object().unwrap() {
        let l = [("node", node.as_str())];
        let sampled = f["sampled"].as_i64().unwrap() > 0 || f.get("usage").is_some();
        for (i, r) in ["cpu", "memory"].into_iter().enumerate() {
            let usage = f.get("usage").map(|u| u[r].as_i64().unwrap());
            check(
                format!("{node} usage {r}"),
                units(m, "binpacking_node_usage", &l, r),
                usage,
            );
            let pod_usage = f["pod_usage"][r].as_i64().unwrap();
            let unused = f["unused"][r].as_i64().unwrap();
            check(
                format!("{node} pod_usage {r}"),
                units(m, "binpacking_node_pod_usage", &l, r),
                sampled.then_some(pod_usage),
            );
            check(
                format!("{node} allocated_unused {r}"),
                units(m, "binpacking_node_allocated_unused", &l, r),
                sampled.then_some(unused),
            );
            cluster[0][i] += usage.unwrap_or(0);
            cluster[1][i] += pod_usage;
            cluster[2][i] += unused;
        }
    }
    for (i, r) in ["cpu", "memory"].into_iter().enumerate() {
        for (k, family) in [
            "binpacking_cluster_usage",
            "binpacking_cluster_pod_usage",
            "binpacking_cluster_allocated_unused",
        ]
        .into_iter()
        .enumerate()
        {
            check(
                format!("{family} {r}"),
                units(m, family, &[], r),
                Some(cluster[k][i]),
            );
        }
    }
    for (ns, f) in want["namespaces"].as_object().unwrap() {
        let l = [("namespace", ns.as_str())];
        let sampled = f["sampled"].as_i64().unwrap() > 0;
        for r in ["cpu", "memory"] {
            check(
                format!("{ns} pod_usage {r}"),
                units(m, "binpacking_namespace_pod_usage", &l, r),
                sampled.then(|| f["pod_usage"][r].as_i64().unwrap()),
            );
            check(
                format!("{ns} allocated_unused {r}"),
                units(m, "binpacking_namespace_allocated_unused", &l, r),
                sampled.then(|| f["unused"][r].as_i64().unwrap()),
            );
        }
    }
    diffs
}

#[test]
fn usage_figures_equal_an_independent_computation_also_after_churn() {
    if !have("python3") {
        return;
    }
    let sim = Sim::start(&["--nodes", "30", "--pods", "900", "--seed", "11"]);
    let exporter = Exporter::start(
        &sim.kubeconfig,
        &[
            "--resources",
            "cpu,memory",
            "--usage",
            "--usage-interval",
            "1s",
        ],
    );
    exporter.wait_ready(Duration::from_secs(60));
    let want = independent(&sim);
    let mut last = Vec::new();
    let equal = wait_until(Duration::from_secs(20), || {
        last = differences(&exporter.metrics(), &want);
        last.is_empty()
    });
    assert!(equal, "{}", last.join("\n"));
    // The model is not trivial: some pods use more than they asked for, most less.
    let m = exporter.metrics();
    let cluster = |f: &str| units(&m, f, &[], "memory").unwrap();
    let (allocated, used, unused) = (
        cluster("binpacking_cluster_allocated"),
        cluster("binpacking_cluster_pod_usage"),
        cluster("binpacking_cluster_allocated_unused"),
    );
    assert!(unused > 0 && unused < allocated, "{unused} of {allocated}");
    assert!(
        allocated - unused < used,
        "pods over their requests make used exceed allocated - unused"
    );
    let age = m.get("binpacking_exporter_usage_age_seconds", &[]).unwrap();
    assert!((0.0..10.0).contains(&age), "{age}");

    sim.post("/churn?rate=300", "");
    std::thread::sleep(Duration::from_secs(3));
    sim.post("/churn?rate=0", "");
    // The objects are read again on every try: the churn thread may finish one more step after
    // the rate is set to 0.
    let equal = wait_until(Duration::from_secs(30), || {
        let want = independent(&sim);
        last = differences(&exporter.metrics(), &want);
        last.is_empty()
    });
    assert!(equal, "after churn:\n{}", last.join("\n"));
}

/// The series of a scrape that are not about usage, as text (the cache age left out).
fn without_usage(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            !l.contains("usage")
                && !l.contains("allocated_unused")
                && !l.starts_with("binpacking_cache_age_seconds")
                && l.starts_with("binpacking_")
                && !l.starts_with("binpacking_exporter_")
        })
        .map(str::to_owned)
        .collect()
}

fn usage_series(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.contains("_usage{") || l.contains("_allocated_unused{"))
        .count()
}

#[test]
fn without_the_api_or_the_permission_one_warning_and_nothing_else_changes() {
    let sim = Sim::start(&["--nodes", "6", "--pods", "120", "--no-metrics-api"]);
    let plain = Exporter::start(&sim.kubeconfig, &[]);
    plain.wait_ready(Duration::from_secs(30));
    let exporter = Exporter::start(&sim.kubeconfig, &["--usage", "--usage-interval", "1s"]);
    exporter.wait_ready(Duration::from_secs(30));
    let polls = |result: &str| {
        exporter
            .metrics()
            .get(
                "binpacking_exporter_usage_polls_total",
                &[("result", result)],
            )
            .unwrap_or(0.0)
    };
    assert!(wait_until(Duration::from_secs(10), || polls("absent") >= 3.0));
    let text = exporter.get("/metrics").text();
    assert_eq!(usage_series(&text), 0, "{text}");
    assert!(!text.contains("binpacking_exporter_usage_age_seconds "));
    assert_eq!(
        without_usage(&text),
        without_usage(&plain.get("/metrics").text()),
        "every other series as without --usage"
    );
    let warnings = |needle: &str| {
        exporter
            .stderr
            .all()
            .iter()
            .filter(|l| l.contains("WARN") && l.contains(needle))
            .count()
    };
    assert_eq!(warnings("is not served"), 1, "{}", exporter.stderr.text());
    assert!(exporter
        .stderr
        .text()
        .contains("install metrics-server, or run without --usage"));

    // Served now, then forbidden: figures appear, then go, with one warning.
    sim.post("/metrics-api?mode=on", "");
    assert!(wait_until(Duration::from_secs(10), || usage_series(
        &exporter.get("/metrics").text()
    ) > 0));
    sim.post("/faults/deny?resource=metrics", "");
    assert!(wait_until(Duration::from_secs(10), || polls("forbidden") >= 3.0));
    let text = exporter.get("/metrics").text();
    assert_eq!(usage_series(&text), 0);
    assert_eq!(
        without_usage(&text),
        without_usage(&plain.get("/metrics").text())
    );
    assert_eq!(warnings("forbidden"), 1, "{}", exporter.stderr.text());
    assert!(exporter.stderr.text().contains("manifests/usage/"));
    let mut exporter = exporter;
    assert!(exporter.alive());
}

#[test]
fn a_stale_api_ages_and_its_series_go_after_the_maximum_age() {
    let sim = Sim::start(&["--nodes", "4", "--pods", "60"]);
    let exporter = Exporter::start(
        &sim.kubeconfig,
        &["--usage", "--usage-interval", "1s", "--usage-max-age", "4s"],
    );
    exporter.wait_ready(Duration::from_secs(30));
    assert!(wait_until(Duration::from_secs(10), || usage_series(
        &exporter.get("/metrics").text()
    ) > 0));
    sim.post("/metrics-api?mode=stale", "");
    let age = || {
        exporter
            .metrics()
            .get("binpacking_exporter_usage_age_seconds", &[])
            .unwrap()
    };
    let first = age();
    std::thread::sleep(Duration::from_secs(2));
    assert!(age() > first + 1.0, "the age grows while the API is stale");
    assert!(wait_until(Duration::from_secs(10), || usage_series(
        &exporter.get("/metrics").text()
    ) == 0));
    assert!(age() > 4.0);
    let polls = exporter
        .metrics()
        .get("binpacking_exporter_usage_polls_total", &[("result", "ok")])
        .unwrap();
    assert!(polls >= 4.0, "the polls themselves succeed: {polls}");
    sim.post("/metrics-api?mode=on", "");
    assert!(wait_until(Duration::from_secs(10), || usage_series(
        &exporter.get("/metrics").text()
    ) > 0));
    assert!(age() < 4.0);
}

#[test]
fn the_poll_costs_the_same_however_often_prometheus_scrapes() {
    let sim = Sim::start(&["--nodes", "4", "--pods", "60"]);
    let exporter = Exporter::start(&sim.kubeconfig, &["--usage", "--usage-interval", "1s"]);
    exporter.wait_ready(Duration::from_secs(30));
    let metrics_requests = |sim: &Sim| {
        sim.requests()
            .iter()
            .filter(|r| {
                r["path"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("/apis/metrics.k8s.io/")
            })
            .count()
    };
    // A quiet window, then a window of the same length with 300 scrapes.
    let window = Duration::from_secs(4);
    let before = metrics_requests(&sim);
    std::thread::sleep(window);
    let quiet = metrics_requests(&sim) - before;
    let before = metrics_requests(&sim);
    let start = Instant::now();
    let mut scrapes = 0;
    while start.elapsed() < window && scrapes < 300 {
        assert_eq!(exporter.get("/metrics").status, 200);
        scrapes += 1;
    }
    std::thread::sleep(window.saturating_sub(start.elapsed()));
    let busy = metrics_requests(&sim) - before;
    // Two lists per poll, one poll a second: 8 per window, give or take a poll's edge.
    assert!((6..=10).contains(&quiet), "quiet window: {quiet}");
    assert!(
        busy.abs_diff(quiet) <= 2,
        "{scrapes} scrapes changed the polls: {quiet} -> {busy}"
    );
    assert!(scrapes >= 50, "only {scrapes} scrapes");
}

#[test]
fn once_with_usage_prints_the_usage_in_wide_and_csv() {
    if !have("python3") {
        return;
    }
    let sim = Sim::start(&["--nodes", "5", "--pods", "80", "--seed", "3"]);
    let once = |output: &str| {
        let out = std::process::Command::new(common::exporter_bin())
            .arg("--kubeconfig")
            .arg(&sim.kubeconfig)
            .args([
                "--once",
                "--usage",
                "--resources",
                "cpu,memory",
                "--output",
                output,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let wide = once("wide");
    assert!(
        wide.lines()
            .any(|l| l.starts_with("NODE") && l.contains(" USED ")),
        "{wide}"
    );
    let want = independent(&sim);
    let rows = common::parse_csv(&once("csv"));
    let header = &rows[0];
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut compared = 0;
    for row in rows.iter().filter(|r| r[0] == "node") {
        let f = &want["nodes"][&row[column("name")]];
        for r in ["cpu", "memory"] {
            let got: f64 = row[column(&format!("{r}_pod_usage"))].parse().unwrap();
            let got = if r == "cpu" { got * 1000.0 } else { got };
            #[allow(clippy::cast_possible_truncation)]
            let got = got.round() as i64;
            assert_eq!(got, f["pod_usage"][r].as_i64().unwrap(), "{row:?} {r}");
            compared += 1;
        }
    }
    assert_eq!(compared, 10);
}

//! The one-shot mode (`--once`, and the kubectl plugin name) in all three formats against the
//! simulator, compared with what the running exporter exports; and the `--check` diagnosis,
//! including a missing permission.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_cmp,
    clippy::single_match_else
)]

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{exporter_bin, small_cluster, Exporter, Metrics, Sim, TempDir};
use serde_json::Value;

const FLAGS: &[&str] = &[
    "--resources",
    "cpu,memory,pods,nvidia.com/gpu",
    "--label-group",
    "topology.kubernetes.io/zone",
];

fn start_sim(dir: &TempDir) -> Sim {
    let path = dir.path("scenario.json");
    std::fs::write(&path, small_cluster().to_string()).unwrap();
    Sim::start(&["--scenario", path.to_str().unwrap()])
}

fn once(sim: &Sim, extra: &[&str]) -> Output {
    Command::new(exporter_bin())
        .arg("--kubeconfig")
        .arg(&sim.kubeconfig)
        .arg("--once")
        .args(FLAGS)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn once_json_matches_the_exported_metrics() {
    let dir = TempDir::new("once-json");
    let sim = start_sim(&dir);
    let out = once(&sim, &["--output", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let exporter = Exporter::start(&sim.kubeconfig, FLAGS);
    exporter.wait_ready(Duration::from_secs(30));
    let m = exporter.metrics();
    let mut compared = 0;
    for node in doc["nodes"].as_array().unwrap() {
        let name = node["node"].as_str().unwrap();
        for (resource, v) in node["resources"].as_object().unwrap() {
            for family in [
                "allocated",
                "allocatable",
                "utilization_ratio",
                "daemonset_overhead",
            ] {
                let metric = m
                    .get(
                        &format!("binpacking_node_{family}"),
                        &[("node", name), ("resource", resource)],
                    )
                    .unwrap();
                assert_eq!(
                    v[family].as_f64().unwrap(),
                    metric,
                    "{name} {resource} {family}"
                );
                compared += 1;
            }
        }
    }
    for (resource, v) in doc["cluster"]["resources"].as_object().unwrap() {
        let metric = m
            .get("binpacking_cluster_allocated", &[("resource", resource)])
            .unwrap();
        assert_eq!(v["allocated"].as_f64().unwrap(), metric);
    }
    assert_eq!(compared, 3 * 4 * 4);
    assert_eq!(doc["cluster"]["pending_pods"], 1);
}

#[test]
fn once_prometheus_output_passes_promtool_and_equals_the_scrape() {
    let dir = TempDir::new("once-prom");
    let sim = start_sim(&dir);
    let out = once(&sim, &["--output", "prometheus"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let exporter = Exporter::start(&sim.kubeconfig, FLAGS);
    exporter.wait_ready(Duration::from_secs(30));
    let once = Metrics::parse(&text);
    let scraped = exporter.metrics();
    for (series, value) in &once.series {
        if series.starts_with("binpacking_cache_age_seconds") {
            continue;
        }
        assert_eq!(scraped.series.get(series), Some(value), "{series}");
    }
    assert!(once.series.len() > 100);
    match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(mut child) => {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let r = child.wait_with_output().unwrap();
            let report = format!(
                "{}{}",
                String::from_utf8_lossy(&r.stdout),
                String::from_utf8_lossy(&r.stderr)
            );
            assert!(
                r.status.success() && report.trim().is_empty(),
                "promtool: {report}"
            );
        }
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "promtool is required in CI"
            );
            eprintln!("SKIPPED: promtool not installed");
        }
    }
}

#[test]
fn once_table_and_the_kubectl_plugin_name_print_the_same_80_column_table() {
    let dir = TempDir::new("once-table");
    let sim = start_sim(&dir);
    let out = once(&sim, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    for line in table.lines() {
        assert!(line.chars().count() <= 80, "{line}");
    }
    assert!(table.contains("0.85 / 4"), "{table}");
    assert!(table.contains("1.95 / 14"), "{table}");
    assert!(table.contains("zone-1"), "{table}");
    assert!(
        out.stderr.is_empty(),
        "no progress when not on a terminal: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let plugin = dir.path("kubectl-binpacking");
    std::fs::copy(exporter_bin(), &plugin).unwrap();
    let out = Command::new(&plugin)
        .arg("--kubeconfig")
        .arg(&sim.kubeconfig)
        .args(FLAGS)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), table);
}

#[test]
fn once_gives_up_with_the_reason_when_the_api_is_unreachable() {
    let dir = TempDir::new("once-down");
    let sim = start_sim(&dir);
    sim.post("/faults/deny?resource=pods", "");
    let out = once(&sim, &["--sync-timeout", "3s"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no complete sync within 3s") && err.contains("pods"),
        "{err}"
    );
}

#[test]
fn check_passes_and_names_a_missing_permission() {
    let dir = TempDir::new("check");
    let sim = start_sim(&dir);
    let run = || {
        Command::new(exporter_bin())
            .arg("--kubeconfig")
            .arg(&sim.kubeconfig)
            .arg("--check")
            .output()
            .unwrap()
    };
    let out = run();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{report}");
    for step in [
        "kubeconfig",
        "api server",
        "list nodes",
        "watch nodes",
        "list pods",
        "watch pods",
    ] {
        assert!(
            report.contains(&format!("ok    {step}")),
            "{step}: {report}"
        );
    }
    sim.post("/faults/deny?resource=pods", "");
    let out = run();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(report.contains("FAIL  list pods: forbidden"), "{report}");
    assert!(report.contains("ok    list nodes"), "{report}");
}

#[test]
fn once_shows_listing_progress_on_a_terminal() {
    // `script` (util-linux) runs the command on a pseudo-terminal, as a person would.
    if Command::new("script").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "script (util-linux) is required in CI"
        );
        eprintln!("SKIPPED: script not installed");
        return;
    }
    let dir = TempDir::new("once-tty");
    let sim = start_sim(&dir);
    // Slow the API down so a few progress ticks (every 200 ms) happen.
    sim.post("/faults/latency?ms=300", "");
    let command = format!(
        "{} --kubeconfig {} --once --list-page-size 2",
        exporter_bin().display(),
        sim.kubeconfig.display()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(
        screen.contains("syncing: "),
        "no progress shown on a terminal: {screen}"
    );
    assert!(screen.contains("pods listed"), "{screen}");
    assert!(screen.contains("1.95 / 14"), "the table follows: {screen}");
}

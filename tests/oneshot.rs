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

use common::{
    exporter_bin, long_name_cluster, name_of_60, parse_csv, small_cluster, with_limits, Exporter,
    Metrics, Sim, TempDir,
};
use serde_json::Value;

const FLAGS: &[&str] = &[
    "--resources",
    "cpu,memory,pods,nvidia.com/gpu",
    "--label-group",
    "topology.kubernetes.io/zone",
];

fn start_sim(dir: &TempDir) -> Sim {
    start_sim_with(dir, &small_cluster())
}

fn start_sim_with(dir: &TempDir, scenario: &Value) -> Sim {
    let path = dir.path("scenario.json");
    std::fs::write(&path, scenario.to_string()).unwrap();
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

/// `once` that must succeed; its stdout.
fn once_ok(sim: &Sim, extra: &[&str]) -> String {
    let out = once(sim, extra);
    assert!(
        out.status.success(),
        "{extra:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn assert_fits_80_columns(text: &str) {
    for line in text.lines() {
        let columns = line.chars().count();
        assert!(columns <= 80, "{columns} columns: {line}\n{text}");
    }
}

/// The small cluster, `web-1` (on node-a) with limits of 1 cpu and 2Gi.
fn small_cluster_with_limits() -> Value {
    let mut scenario = small_cluster();
    for item in scenario["items"].as_array_mut().unwrap() {
        if item["metadata"]["name"] == "web-1" {
            *item = with_limits(item.clone(), "1", "2Gi");
        }
    }
    scenario
}

#[test]
fn once_table_keeps_60_character_node_names_whole_within_80_columns() {
    let dir = TempDir::new("once-long-names");
    let scenario = long_name_cluster();
    let sim = start_sim_with(&dir, &scenario);
    let table = once_ok(&sim, &[]);
    assert_fits_80_columns(&table);
    assert!(!table.contains('~'), "{table}");
    let lines: Vec<&str> = table.lines().collect();
    let nodes: Vec<&str> = scenario["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "Node")
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(nodes.len(), 4);
    for name in &nodes {
        assert_eq!(name.len(), 60);
        let shown = if name.contains("-1-104") {
            format!("{name} (cordoned)")
        } else {
            (*name).to_owned()
        };
        // The name whole on a line of its own, its figures indented on the next lines.
        let at = lines
            .iter()
            .position(|l| *l == shown)
            .unwrap_or_else(|| panic!("{shown} not on a line of its own:\n{table}"));
        for (line, resource) in lines[at + 1..].iter().zip(FIGURE_ORDER) {
            assert!(line.starts_with("   "), "{line}");
            assert!(line.trim_start().starts_with(resource), "{line}");
        }
    }
    for zone in [
        "eu-west-1a-a-zone-name-longer-than-its-column",
        "eu-west-1b-a-zone-name-longer-than-its-column",
    ] {
        assert!(lines.contains(&zone), "{zone}:\n{table}");
    }

    let by_namespace = once_ok(&sim, &["--group-by", "namespace"]);
    assert_fits_80_columns(&by_namespace);
    let team = name_of_60("team-payments-settlement-batch");
    assert!(
        by_namespace.lines().any(|l| l == team),
        "{team}:\n{by_namespace}"
    );
    assert!(
        by_namespace.lines().any(|l| l.starts_with("web ")),
        "{by_namespace}"
    );
}

/// The order of the tracked resources in FLAGS.
const FIGURE_ORDER: [&str; 4] = ["cpu", "memory", "pods", "nvidia.com/gpu"];

#[test]
fn once_wide_sets_limits_and_free_apart() {
    let dir = TempDir::new("once-wide");
    let sim = start_sim_with(&dir, &small_cluster_with_limits());
    let wide = once_ok(&sim, &["--output", "wide"]);
    let words = |prefix: &str| -> Vec<&str> {
        wide.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix}:\n{wide}"))
            .split_whitespace()
            .collect()
    };
    let header = words("NODE ");
    for column in ["ALLOCATED", "ALLOCATABLE", "LIMITS", "LIM%", "FREE", "PODS"] {
        assert!(header.contains(&column), "{column}:\n{wide}");
    }
    // node-a: web-1 (500m, limit 1), web-2 (250m, no limits), agent-a (100m).
    assert_eq!(
        words("node-a ")[..9],
        ["node-a", "cpu", "0.85", "4", "21%", "1", "25%", "3.15", "3"]
    );
    assert_eq!(
        words("node-c ")[..9],
        ["node-c", "cpu", "1.1", "8", "14%", "0", "0%", "6.9", "2"]
    );
    let memory = wide
        .lines()
        .skip_while(|l| !l.starts_with("node-a "))
        .nth(1)
        .unwrap();
    assert_eq!(
        memory.split_whitespace().collect::<Vec<_>>()[..7],
        ["memory", "1.6Gi", "8Gi", "20%", "2Gi", "25%", "6.4Gi"]
    );
    assert!(words("cluster ").contains(&"1.95"), "{wide}");
}

#[test]
fn once_csv_parses_back_to_the_json_numbers() {
    let dir = TempDir::new("once-csv");
    let sim = start_sim_with(&dir, &small_cluster_with_limits());
    // Values of this label group hold a comma, so they are quoted.
    let group = [
        "--label-group",
        "topology.kubernetes.io/zone,kubernetes.io/hostname",
    ];
    let text = once_ok(&sim, &[&["--output", "csv"][..], &group].concat());
    assert!(text.contains("\"zone-1,node-a\""), "{text}");
    let doc: Value = serde_json::from_str(&once_ok(
        &sim,
        &[&["--output", "json"][..], &group].concat(),
    ))
    .unwrap();
    let records = parse_csv(&text);
    let header = &records[0];
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let mut compared = 0;
    let mut rows = 0;
    for record in &records[1..] {
        assert_eq!(record.len(), header.len(), "{record:?}");
        let field = |name: &str| record[column(name)].as_str();
        let object = match field("scope") {
            "cluster" => &doc["cluster"],
            "group" => doc["groups"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| {
                    g["label_group"] == field("label_group")
                        && g["label_group_value"] == field("name")
                })
                .unwrap_or_else(|| panic!("{record:?}")),
            "node" => {
                let node = doc["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|n| n["node"] == field("name"))
                    .unwrap_or_else(|| panic!("{record:?}"));
                assert_eq!(field("unschedulable"), node["unschedulable"].to_string());
                assert_eq!(field("pods"), node["pods"].to_string());
                node
            }
            other => panic!("scope {other}"),
        };
        rows += 1;
        assert_eq!(
            field("nodes"),
            object.get("nodes").map_or("1".to_owned(), Value::to_string)
        );
        for (resource, figures) in object["resources"].as_object().unwrap() {
            let figures = figures.as_object().unwrap();
            for (key, value) in figures {
                let csv: f64 = field(&format!("{resource}_{key}")).parse().unwrap();
                assert!(
                    within_one_ulp(csv, value.as_f64().unwrap()),
                    "{record:?} {resource} {key}: {csv} vs {value}"
                );
                compared += 1;
            }
            // Every figure the CSV has is one the JSON has.
            let filled = header
                .iter()
                .zip(record)
                .filter(|(h, v)| h.starts_with(&format!("{resource}_")) && !v.is_empty())
                .count();
            assert_eq!(filled, figures.len(), "{record:?} {resource}");
        }
    }
    // The cluster, two zones, three zone-and-host values and three nodes; 4 resources, 9 figures
    // each (6 for pods, which has no limits).
    assert_eq!(rows, 9);
    assert_eq!(compared, 9 * (3 * 9 + 6));
    // free = allocatable - allocated; limits where set.
    let a = &doc["nodes"][0]["resources"]["cpu"];
    assert_eq!(a["free"].as_f64().unwrap(), 3.15);
    assert_eq!(a["limits"].as_f64().unwrap(), 1.0);
}

/// Equal, or neighbouring doubles: serde_json (without its `float_roundtrip` feature) may read
/// a ratio one ulp off the double the exporter printed (0.014285714285714285 is read as
/// ...284); Rust's `parse`, used for the CSV, is exact.
fn within_one_ulp(a: f64, b: f64) -> bool {
    a == b || (a.signum() == b.signum() && a.to_bits().abs_diff(b.to_bits()) <= 1)
}

/// The names of the entries of the last section of a table (lines that start a name).
fn last_section_names(table: &str) -> Vec<String> {
    let last = table.rsplit("\n\n").next().unwrap();
    last.lines()
        .skip_while(|l| l.starts_with("group "))
        .skip(1)
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect()
}

#[test]
fn once_sort_orders_by_name_utilization_or_free() {
    let dir = TempDir::new("once-sort");
    let sim = start_sim(&dir);
    // cpu (the first resource): node-a 0.85 of 4, node-b 0 of 2, node-c 1.1 of 8.
    let cases: [(&[&str], [&str; 3]); 4] = [
        (&[], ["node-a", "node-b", "node-c"]),
        (&["--sort", "name"], ["node-a", "node-b", "node-c"]),
        (&["--sort", "utilization"], ["node-a", "node-c", "node-b"]),
        (&["--sort", "free"], ["node-c", "node-a", "node-b"]),
    ];
    for (flags, order) in cases {
        let table = once_ok(&sim, flags);
        assert_eq!(last_section_names(&table), order, "{flags:?}:\n{table}");
        let csv = once_ok(&sim, &[flags, &["--output", "csv"]].concat());
        let nodes: Vec<String> = parse_csv(&csv)
            .into_iter()
            .filter(|r| r[0] == "node")
            .map(|r| r[2].clone())
            .collect();
        assert_eq!(nodes, order, "{flags:?}:\n{csv}");
    }
    // Group values too: zone-1 1.2 of 6 (20%), zone-2 1.1 of 8 (13.75%), 4.8 and 6.9 free.
    let table = once_ok(&sim, &["--sort", "free"]);
    let zones: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("zone-"))
        .map(|l| &l[..6])
        .collect();
    assert_eq!(zones, ["zone-2", "zone-1"], "{table}");
    // Namespaces by allocated cpu: batch 1, web 0.75, kube-system 0.2.
    let table = once_ok(&sim, &["--group-by", "namespace", "--sort", "utilization"]);
    assert_eq!(
        last_section_names(&table),
        ["batch", "web", "kube-system"],
        "{table}"
    );
}

#[test]
fn once_group_by_namespace_equals_the_namespace_metrics() {
    let dir = TempDir::new("once-group-ns");
    let sim = start_sim_with(&dir, &small_cluster_with_limits());
    let table = once_ok(&sim, &["--group-by", "namespace"]);
    assert_fits_80_columns(&table);
    assert!(!table.contains("NODE"), "{table}");
    assert_eq!(
        last_section_names(&table),
        ["batch", "kube-system", "web"],
        "{table}"
    );
    let web: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("web "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(web, ["web", "cpu", "0.75", "1", "2"], "{table}");

    let csv = parse_csv(&once_ok(
        &sim,
        &["--group-by", "namespace", "--output", "csv"],
    ));
    let exporter = Exporter::start(&sim.kubeconfig, FLAGS);
    exporter.wait_ready(Duration::from_secs(30));
    let m = exporter.metrics();
    let header = &csv[0];
    let rows: Vec<&Vec<String>> = csv.iter().filter(|r| r[0] == "namespace").collect();
    assert_eq!(rows.len(), m.family("binpacking_namespace_pods").len());
    let mut compared = 0;
    for row in rows {
        let field = |name: &str| {
            let i = header.iter().position(|h| h == name).unwrap();
            row[i].as_str()
        };
        let ns = field("name");
        let pods = m
            .get("binpacking_namespace_pods", &[("namespace", ns)])
            .unwrap();
        assert_eq!(field("pods").parse::<f64>().unwrap(), pods, "{ns}");
        for resource in FIGURE_ORDER {
            let labels = [("namespace", ns), ("resource", resource)];
            for (family, key) in [
                ("binpacking_namespace_allocated", "allocated"),
                ("binpacking_namespace_limits", "limits"),
            ] {
                let cell = field(&format!("{resource}_{key}"));
                match m.get(family, &labels) {
                    Some(metric) => {
                        assert_eq!(
                            cell.parse::<f64>().unwrap(),
                            metric,
                            "{ns} {resource} {key}"
                        );
                        compared += 1;
                    }
                    None => assert!(
                        resource == "pods" && key == "limits" && cell.is_empty(),
                        "{ns} {resource} {key}: {cell:?} but no metric"
                    ),
                }
            }
        }
    }
    // Three namespaces, 4 allocated and 3 limits each.
    assert_eq!(compared, 3 * 7);
}

#[test]
fn once_group_by_label_keys_lists_that_groups_values_as_if_configured() {
    let dir = TempDir::new("once-group-label");
    let sim = start_sim(&dir);
    let by_host = ["--group-by", "kubernetes.io/hostname"];
    let table = once_ok(&sim, &by_host);
    assert!(
        table.contains("\ngroup kubernetes.io/hostname\nVALUE "),
        "{table}"
    );
    assert!(
        !table.contains("NODE") && !table.contains("group topology"),
        "{table}"
    );
    assert_eq!(
        last_section_names(&table),
        ["node-a", "node-b", "node-c"],
        "{table}"
    );
    // JSON (and the exposition) have the group as if --label-group had named it.
    let doc: Value = serde_json::from_str(&once_ok(
        &sim,
        &[&by_host[..], &["--output", "json"]].concat(),
    ))
    .unwrap();
    let hosts = doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["label_group"] == "kubernetes.io/hostname")
        .count();
    assert_eq!(hosts, 3);
    let prometheus = once_ok(&sim, &[&by_host[..], &["--output", "prometheus"]].concat());
    assert!(
        prometheus.contains("label_group=\"kubernetes.io/hostname\""),
        "{prometheus}"
    );
}

#[test]
fn bad_once_layout_values_exit_2_naming_the_flag_and_value() {
    for (args, flag, value) in [
        (&["--sort", "sideways"][..], "--sort", "sideways"),
        (&["--output", "xml"], "--output", "xml"),
        (&["--group-by", "zone,,pool"], "--group-by", "zone,,pool"),
        (
            &["--group-by", "namespace", "--sort", "free"],
            "--sort",
            "free",
        ),
    ] {
        let out = Command::new(exporter_bin())
            .arg("--once")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(flag) && err.contains(value), "{err}");
    }
}

#[test]
fn once_output_into_a_closed_pipe_exits_quietly() {
    let dir = TempDir::new("once-pipe");
    let sim = start_sim(&dir);
    for output in ["table", "wide", "csv", "json", "prometheus"] {
        let mut child = Command::new(exporter_bin())
            .arg("--kubeconfig")
            .arg(&sim.kubeconfig)
            .args(["--once", "--output", output])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before a byte is written, as `| head -0` would.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{output}: {err}");
        assert!(!err.contains("panicked"), "{output}: {err}");
    }
}

//! The real exporter binary against the cluster simulator: values follow churn, scrapes make no
//! API call, label groups and disabled node metrics, every HTTP endpoint, flags and exit codes,
//! and a clean stop on SIGTERM.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_cmp,
    clippy::too_many_lines
)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    exporter_bin, http, node, pod, small_cluster, wait_until, Exporter, Metrics, Sim, TempDir,
};
use serde_json::{json, Value};

fn start_small(args: &[&str]) -> (Sim, Exporter, TempDir) {
    let dir = TempDir::new("small");
    let path = dir.path("scenario.json");
    std::fs::write(&path, small_cluster().to_string()).unwrap();
    let sim = Sim::start(&["--scenario", path.to_str().unwrap()]);
    let exporter = Exporter::start(&sim.kubeconfig, args);
    exporter.wait_ready(Duration::from_secs(30));
    (sim, exporter, dir)
}

fn node_value(m: &Metrics, family: &str, node: &str, resource: &str) -> Option<f64> {
    m.get(family, &[("node", node), ("resource", resource)])
}

#[test]
fn node_group_and_cluster_values_are_exact() {
    let (_sim, exporter, _dir) = start_small(&[
        "--resources",
        "cpu,memory,pods,nvidia.com/gpu",
        "--label-group",
        "topology.kubernetes.io/zone",
    ]);
    let m = exporter.metrics();
    let gib = 1024.0 * 1024.0 * 1024.0;
    assert_eq!(
        node_value(&m, "binpacking_node_allocated", "node-a", "cpu"),
        Some(0.85)
    );
    assert_eq!(
        node_value(&m, "binpacking_node_allocated", "node-a", "memory"),
        Some(1.625 * gib)
    );
    assert_eq!(
        node_value(&m, "binpacking_node_allocated", "node-a", "pods"),
        Some(3.0)
    );
    assert_eq!(
        node_value(&m, "binpacking_node_allocatable", "node-a", "cpu"),
        Some(4.0)
    );
    assert_eq!(
        node_value(&m, "binpacking_node_utilization_ratio", "node-a", "cpu"),
        Some(0.2125)
    );
    assert_eq!(
        node_value(&m, "binpacking_node_daemonset_overhead", "node-a", "cpu"),
        Some(0.1)
    );
    assert_eq!(
        node_value(
            &m,
            "binpacking_node_daemonset_overhead_ratio",
            "node-a",
            "cpu"
        ),
        Some(0.025)
    );
    assert_eq!(
        node_value(&m, "binpacking_node_allocated", "node-b", "cpu"),
        Some(0.0)
    );
    assert_eq!(
        node_value(
            &m,
            "binpacking_node_utilization_ratio",
            "node-b",
            "nvidia.com/gpu"
        ),
        Some(0.0)
    );
    assert_eq!(
        node_value(
            &m,
            "binpacking_node_allocatable",
            "node-c",
            "nvidia.com/gpu"
        ),
        Some(2.0)
    );
    assert_eq!(
        m.get("binpacking_cluster_allocated", &[("resource", "cpu")]),
        Some(1.95)
    );
    assert_eq!(
        m.get("binpacking_cluster_allocatable", &[("resource", "cpu")]),
        Some(14.0)
    );
    assert_eq!(
        m.get("binpacking_cluster_allocated", &[("resource", "pods")]),
        Some(5.0)
    );
    assert_eq!(
        m.get(
            "binpacking_cluster_daemonset_overhead",
            &[("resource", "cpu")]
        ),
        Some(0.2)
    );
    assert_eq!(m.get("binpacking_cluster_nodes", &[]), Some(3.0));
    let zone = |v: &str, family: &str, r: &str| {
        m.get(
            family,
            &[
                ("label_group", "topology.kubernetes.io/zone"),
                ("label_group_value", v),
                ("resource", r),
            ],
        )
    };
    assert_eq!(
        zone("zone-1", "binpacking_group_allocated", "cpu"),
        Some(0.85)
    );
    assert_eq!(
        zone("zone-1", "binpacking_group_allocatable", "cpu"),
        Some(6.0)
    );
    assert_eq!(
        zone("zone-2", "binpacking_group_allocated", "cpu"),
        Some(1.1)
    );
    assert_eq!(
        m.get(
            "binpacking_group_nodes",
            &[
                ("label_group", "topology.kubernetes.io/zone"),
                ("label_group_value", "zone-1")
            ]
        ),
        Some(2.0)
    );
    let age = m.get("binpacking_cache_age_seconds", &[]).unwrap();
    assert!((0.0..30.0).contains(&age), "cache age {age}");
    assert!(m
        .get(
            "binpacking_exporter_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        )
        .is_some());
    assert!(m.series.contains_key("process_resident_memory_bytes"));
    assert_eq!(m.get("binpacking_exporter_ready", &[]), Some(1.0));
}

#[test]
fn values_follow_adds_deletes_rebinds_phase_changes_and_node_removal() {
    let (sim, exporter, _dir) = start_small(&["--resources", "cpu,pods"]);
    let cpu = |node: &str| {
        node_value(
            &exporter.metrics(),
            "binpacking_node_allocated",
            node,
            "cpu",
        )
    };
    let eventually = |node: &str, want: Option<f64>| {
        let ok = wait_until(Duration::from_secs(10), || cpu(node) == want);
        assert!(ok, "{node}: want {want:?}, got {:?}", cpu(node));
    };
    // add
    sim.apply(&pod("web", "web-3", Some("node-b"), "700m", "1Gi", None));
    eventually("node-b", Some(0.7));
    // delete
    sim.delete("/objects/pods/web/web-1");
    eventually("node-a", Some(0.35));
    // rebind (a pending pod gets its node)
    sim.post("/pods/web/pending-1/bind?node=node-b", "");
    eventually("node-b", Some(1.0));
    // phase change to Succeeded releases the requests
    sim.post("/pods/batch/job-1/phase?phase=Succeeded", "");
    eventually("node-c", Some(0.1));
    // a node removal drops its series; its pods count nowhere
    sim.delete("/objects/nodes/node-c");
    eventually("node-c", None);
    let m = exporter.metrics();
    assert_eq!(m.get("binpacking_cluster_nodes", &[]), Some(2.0));
    assert_eq!(
        m.get("binpacking_cluster_allocated", &[("resource", "cpu")]),
        Some(1.35)
    );
    assert_eq!(
        m.get("binpacking_cluster_allocated", &[("resource", "pods")]),
        Some(4.0)
    );
    // the node comes back: its remaining pod counts again
    sim.apply(&node("node-c", "zone-2", "8", "32Gi", None));
    eventually("node-c", Some(0.1));
}

#[test]
fn scrapes_make_no_api_request() {
    let (sim, exporter, _dir) = start_small(&[]);
    // Let the watches settle on their streams, then count what scrapes cause.
    std::thread::sleep(Duration::from_millis(300));
    sim.post("/requests/reset", "");
    for _ in 0..20 {
        assert_eq!(exporter.get("/metrics").status, 200);
        assert_eq!(exporter.get("/sync").status, 200);
        assert_eq!(exporter.get("/").status, 200);
    }
    let requests = sim.requests();
    assert!(
        requests.is_empty(),
        "scrapes caused API requests: {requests:?}"
    );
}

#[test]
fn list_pages_asked_for_ahead_are_each_asked_once_and_the_figures_are_whole() {
    let sim = Sim::start(&["--nodes", "12", "--pods", "400", "--seed", "9"]);
    let exporter = Exporter::start(&sim.kubeconfig, &["--list-page-size", "25"]);
    exporter.wait_ready(Duration::from_secs(30));
    let lists: Vec<Value> = sim
        .requests()
        .into_iter()
        .filter(|r| r["watch"] == false && r["resource"] == "pods")
        .collect();
    let queries: Vec<String> = lists
        .iter()
        .map(|r| r["query"].as_str().unwrap_or_default().to_owned())
        .collect();
    // Every page once: the page asked for ahead is the one the list then wants (a request
    // built differently would be asked again: the same token twice).
    let mut tokens: Vec<&str> = queries
        .iter()
        .map(|q| {
            q.split('&')
                .find_map(|p| p.strip_prefix("continue="))
                .unwrap_or_default()
        })
        .collect();
    let asked = tokens.len();
    tokens.sort_unstable();
    tokens.dedup();
    assert_eq!(tokens.len(), asked, "{queries:#?}");
    // 400 pods, less those the field selector leaves out (finished), 25 per page.
    assert!(asked >= 10, "{asked} pages: {queries:#?}");
    // The same figures as an exporter that lists everything in one page.
    let whole = Exporter::start(&sim.kubeconfig, &["--list-page-size", "5000"]);
    whole.wait_ready(Duration::from_secs(30));
    let paged = figures_of(&exporter.get("/metrics").text());
    assert!(paged.len() > 100);
    assert_eq!(paged, figures_of(&whole.get("/metrics").text()));
}

#[test]
fn disabled_node_metrics_keep_cluster_families_only() {
    let (_sim, exporter, _dir) = start_small(&["--disable-node-metrics"]);
    let text = exporter.get("/metrics").text();
    assert!(!text.contains("binpacking_node_"), "{text}");
    assert!(text.contains("binpacking_cluster_allocated{resource=\"cpu\"} 1.95"));
    assert!(
        !text.contains("binpacking_group_"),
        "no label groups configured"
    );
}

#[test]
fn http_endpoints_answer_as_documented() {
    let (_sim, exporter, _dir) = start_small(&["--metrics-path", "/custom"]);
    let addr = &exporter.addr;
    assert_eq!(exporter.get("/healthz").status, 200);
    assert_eq!(exporter.get("/readyz").status, 200);
    let metrics = exporter.get("/custom");
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let gz = http(addr, "GET", "/custom", &[("Accept-Encoding", "gzip")], b"");
    assert_eq!(gz.header("Content-Encoding"), Some("gzip"));
    let mut plain = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz.body[..]), &mut plain)
        .unwrap();
    assert!(
        plain.contains("binpacking_cluster_allocated{resource=\"cpu\"} 1.95"),
        "{plain}"
    );
    assert_eq!(exporter.get("/metrics").status, 404);
    assert_eq!(exporter.get("/nope").status, 404);
    let post = http(addr, "POST", "/custom", &[], b"x");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow"), Some("GET, HEAD"));
    assert_eq!(http(addr, "DELETE", "/healthz", &[], b"").status, 405);
    let head = http(addr, "HEAD", "/custom", &[], b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let sync: Value = serde_json::from_slice(&exporter.get("/sync").body).unwrap();
    assert_eq!(sync["ready"], json!(true));
    assert_eq!(sync["watches"]["nodes"]["synced"], json!(true));
    assert_eq!(sync["watches"]["pods"]["objects"], json!(6));
    assert_eq!(sync["counts"]["nodes"], json!(3));
    assert_eq!(sync["counts"]["pending_pods"], json!(1));
    assert_eq!(sync["resync_period_seconds"], json!(300.0));
    let page = exporter.get("/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("href=\"/custom\""));
    assert!(page.text().contains("node-a"));
}

#[test]
fn not_ready_until_the_api_server_answers() {
    // A kubeconfig pointing at a port where nothing listens.
    let dir = TempDir::new("down");
    let port = common::free_port();
    let kubeconfig = common::kubeconfig_for_port(&dir, port, "secret-token-value");
    let exporter = Exporter::start(&kubeconfig, &["--debug"]);
    std::thread::sleep(Duration::from_secs(2));
    let progress = exporter.stderr.wait_for(Duration::from_secs(8), |l| {
        l.contains("waiting for first sync")
            && l.contains("nodes watch")
            && l.contains("pods watch")
    });
    assert!(
        progress.is_some(),
        "no progress line within 10 s: {}",
        exporter.stderr.text()
    );
    assert_eq!(exporter.get("/healthz").status, 200);
    let ready = exporter.get("/readyz");
    assert_eq!(ready.status, 503);
    assert!(ready.text().contains("not reachable"), "{}", ready.text());
    assert!(
        !exporter.stderr.text().contains("secret-token-value"),
        "token leaked to logs"
    );
}

#[test]
fn sigterm_stops_the_exporter_with_status_zero_within_a_second() {
    let (_sim, mut exporter, _dir) = start_small(&[]);
    exporter.signal("TERM");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = exporter.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still running after 1 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn bad_flags_exit_2_with_one_line_naming_flag_and_value() {
    for (args, flag, value) in [
        (vec!["--resync-period", "soon"], "--resync-period", "soon"),
        (vec!["--resources", "cpu,,"], "--resources", "cpu,,"),
        (
            vec!["--node-selector", "a in (b"],
            "--node-selector",
            "a in (b",
        ),
        (vec!["--list-page-size", "many"], "--list-page-size", "many"),
        (vec!["--no-such-flag"], "--no-such-flag", "--no-such-flag"),
    ] {
        let out = Command::new(exporter_bin()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or_default();
        assert!(
            first.contains(flag) && first.contains(value),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn help_documents_every_flag_and_version_prints() {
    let out = Command::new(exporter_bin()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--kubeconfig",
        "--metrics-addr",
        "--metrics-path",
        "--resources",
        "--label-group",
        "--node-selector",
        "--disable-node-metrics",
        "--list-page-size",
        "--resync-period",
        "--log-level",
        "--log-format",
        "--debug",
        "--version",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    let out = Command::new(exporter_bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_missing_or_malformed_kubeconfig_exits_1_with_a_clear_message() {
    let dir = TempDir::new("badcfg");
    let bad = dir.path("bad");
    std::fs::write(&bad, "this: [is not: a kubeconfig").unwrap();
    for path in [dir.path("missing"), bad] {
        let out = Command::new(exporter_bin())
            .arg("--kubeconfig")
            .arg(&path)
            .args(["--metrics-addr", "127.0.0.1:0"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("kubeconfig") && err.contains(path.to_str().unwrap()),
            "{err}"
        );
    }
}

#[test]
fn json_logs_are_one_object_per_line() {
    let (sim, _, _dir) = start_small(&[]);
    let exporter = Exporter::start(&sim.kubeconfig, &["--log-format", "json"]);
    exporter.wait_ready(Duration::from_secs(30));
    for line in exporter.stderr.all() {
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert!(v["level"].is_string() && v["msg"].is_string());
    }
}

#[test]
fn the_token_never_appears_in_logs_even_at_trace_level() {
    let (sim, _, _dir) = start_small(&[]);
    let kubeconfig = std::fs::read_to_string(&sim.kubeconfig).unwrap();
    let token = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("token:"))
        .unwrap()
        .trim()
        .to_owned();
    let mut child = Command::new(exporter_bin())
        .arg("--kubeconfig")
        .arg(&sim.kubeconfig)
        .args(["--metrics-addr", "127.0.0.1:0", "--debug"])
        .env("RUST_LOG", "trace")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(
        logs.lines().count() > 10,
        "trace logging produced little: {logs}"
    );
    assert!(
        !logs.contains(&token),
        "the bearer token leaked into the logs"
    );
}

#[test]
fn bad_quantities_are_skipped_logged_once_and_counted_and_odd_names_are_escaped() {
    let (sim, exporter, _dir) = start_small(&["--label-group", "odd/label"]);
    let mut bad = pod("web", "bad-cpu", Some("node-b"), "abc", "1Gi", None);
    bad["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("1.2.3");
    sim.apply(&bad);
    // The same bad object updated twice more: still one warning.
    for i in 0..2 {
        bad["metadata"]["labels"] = json!({ "rev": i.to_string() });
        sim.apply(&bad);
    }
    // A node without allocatable, with a long unicode name and label value.
    let name = format!("nöde-{}", "ü".repeat(100));
    let label = "ä\"\\\n".repeat(10);
    sim.apply(&json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"odd/label": label}}, "status": {}}));
    let ok = wait_until(Duration::from_secs(10), || {
        let m = exporter.metrics();
        m.get(
            "binpacking_node_allocated",
            &[("node", "node-b"), ("resource", "memory")],
        ) == Some(1_073_741_824.0)
            && m.get(
                "binpacking_node_allocatable",
                &[("node", &name), ("resource", "cpu")],
            ) == Some(0.0)
    });
    assert!(ok, "{}", exporter.get("/metrics").text());
    let m = exporter.metrics();
    // The bad cpu is skipped (0), the good memory counted.
    assert_eq!(
        node_value(&m, "binpacking_node_allocated", "node-b", "cpu"),
        Some(0.0)
    );
    assert!(
        m.get(
            "binpacking_exporter_invalid_quantities_total",
            &[("kind", "pod")]
        )
        .unwrap()
            >= 3.0
    );
    let warnings: Vec<String> = exporter
        .stderr
        .all()
        .into_iter()
        .filter(|l| l.contains("skipping invalid quantity") && l.contains("web/bad-cpu"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("1.2.3"));
    assert!(m
        .get(
            "binpacking_group_nodes",
            &[("label_group", "odd/label"), ("label_group_value", &label)]
        )
        .is_some());
    assert_eq!(exporter.get("/").status, 200);
}

#[test]
fn a_streaming_list_gives_the_same_values_without_list_requests() {
    let dir = TempDir::new("streaming");
    let path = dir.path("scenario.json");
    std::fs::write(&path, small_cluster().to_string()).unwrap();
    let sim = Sim::start(&["--scenario", path.to_str().unwrap()]);
    let exporter = Exporter::start(&sim.kubeconfig, &["--streaming-list"]);
    exporter.wait_ready(Duration::from_secs(30));
    let m = exporter.metrics();
    assert_eq!(
        m.get("binpacking_cluster_allocated", &[("resource", "cpu")]),
        Some(1.95)
    );
    assert_eq!(
        node_value(&m, "binpacking_node_allocated", "node-a", "cpu"),
        Some(0.85)
    );
    let requests = sim.requests();
    let lists: Vec<_> = requests
        .iter()
        .filter(|r| (r["resource"] == "pods" || r["resource"] == "nodes") && r["watch"] == false)
        .collect();
    assert!(lists.is_empty(), "{lists:?}");
    assert!(requests.iter().any(|r| r["query"]
        .as_str()
        .unwrap_or_default()
        .contains("sendInitialEvents=true")));
    sim.apply(&pod("web", "streamed", Some("node-b"), "400m", "1Mi", None));
    let ok = wait_until(Duration::from_secs(10), || {
        node_value(
            &exporter.metrics(),
            "binpacking_node_allocated",
            "node-b",
            "cpu",
        ) == Some(0.4)
    });
    assert!(ok);
}

/// The binpacking series of a body: no clock-driven or operational ones.
fn figures_of(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("binpacking_") && !l.starts_with("binpacking_exporter_"))
        .filter(|l| !l.starts_with("binpacking_cache_age_seconds"))
        .map(str::to_owned)
        .collect()
}

fn gunzip(body: &[u8]) -> String {
    let mut plain = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(body), &mut plain).unwrap();
    plain
}

#[test]
fn an_unchanged_state_is_served_from_the_last_text_and_a_change_renders_it_again() {
    let (sim, exporter, _dir) = start_small(&[]);
    let addr = &exporter.addr;
    let source = |m: &Metrics, s: &str| {
        m.get("binpacking_exporter_scrape_figures_total", &[("source", s)])
            .unwrap_or(0.0)
    };
    let first = exporter.get("/metrics").text();
    let second = exporter.get("/metrics").text();
    let m = Metrics::parse(&second);
    assert!(source(&m, "rendered") >= 1.0, "{second}");
    assert!(
        source(&m, "reused") >= 1.0,
        "the second scrape reused the text"
    );
    assert_eq!(figures_of(&first), figures_of(&second));
    // gzip: the same figures, deflated from the kept text, spliced into one valid member; the
    // clock-driven and operational families around them are current.
    let gz = http(addr, "GET", "/metrics", &[("Accept-Encoding", "gzip")], b"");
    assert_eq!(gz.header("Content-Encoding"), Some("gzip"));
    let unzipped = gunzip(&gz.body);
    assert_eq!(figures_of(&unzipped), figures_of(&second));
    let m = Metrics::parse(&unzipped);
    assert!(m.get("binpacking_cache_age_seconds", &[]).is_some());
    let reused = source(&m, "reused");
    let rendered = source(&m, "rendered");
    assert!(reused >= 2.0, "{unzipped}");

    // A pod update that moves no figure (a label, as a status update would): still reused.
    let events = |m: &Metrics| {
        m.get(
            "binpacking_exporter_watch_events_total",
            &[("resource", "pods"), ("type", "apply")],
        )
        .unwrap_or(0.0)
    };
    let before = events(&m);
    let mut relabelled = pod(
        "web",
        "web-1",
        Some("node-a"),
        "500m",
        "1Gi",
        Some("ReplicaSet"),
    );
    relabelled["metadata"]["labels"] = json!({"touched": "yes"});
    sim.apply(&relabelled);
    assert!(wait_until(Duration::from_secs(10), || events(
        &exporter.metrics()
    ) > before));
    let gz = http(addr, "GET", "/metrics", &[("Accept-Encoding", "gzip")], b"");
    let m = Metrics::parse(&gunzip(&gz.body));
    assert_eq!(source(&m, "rendered"), rendered, "nothing to render again");
    assert!(source(&m, "reused") > reused);

    // A change: rendered again, in both encodings, with the new figure.
    sim.apply(&pod("web", "web-9", Some("node-b"), "700m", "1Gi", None));
    assert!(wait_until(Duration::from_secs(10), || {
        let gz = http(addr, "GET", "/metrics", &[("Accept-Encoding", "gzip")], b"");
        gunzip(&gz.body).contains("binpacking_node_allocated{node=\"node-b\",resource=\"cpu\"} 0.7")
    }));
    let plain = exporter.get("/metrics").text();
    assert!(
        plain.contains("binpacking_node_allocated{node=\"node-b\",resource=\"cpu\"} 0.7"),
        "{plain}"
    );
    assert!(source(&Metrics::parse(&plain), "rendered") > rendered);
}

#[test]
fn after_a_change_only_the_changed_nodes_block_is_rendered_and_the_text_equals_a_full_render() {
    let sim = Sim::start(&["--nodes", "1000", "--pods", "6000", "--seed", "5"]);
    let exporter = Exporter::start(&sim.kubeconfig, &["--shape", "small=cpu=250m,memory=256Mi"]);
    exporter.wait_ready(Duration::from_secs(60));
    let addr = &exporter.addr;
    let gzipped =
        || gunzip(&http(addr, "GET", "/metrics", &[("Accept-Encoding", "gzip")], b"").body);
    let blocks = |m: &Metrics, s: &str| {
        m.get(
            "binpacking_exporter_scrape_node_blocks_total",
            &[("source", s)],
        )
        .unwrap_or(0.0)
    };
    let first = Metrics::parse(&gzipped());
    let all = blocks(&first, "rendered");
    // About one block per 128 nodes, every one rendered for the first body.
    assert!((3.0..=30.0).contains(&all), "{all} blocks");
    assert_eq!(blocks(&first, "kept"), 0.0);
    let (key, _) = first.family("binpacking_node_allocatable")[0];
    let node = key.split('"').nth(1).unwrap().to_owned();
    let cpu = |m: &Metrics| node_value(m, "binpacking_node_allocated", &node, "cpu");
    assert!(cpu(&first).is_some());
    sim.apply(&pod("web", "one-more", Some(&node), "1234m", "1Mi", None));
    let mut text = String::new();
    assert!(wait_until(Duration::from_secs(10), || {
        text = gzipped();
        cpu(&Metrics::parse(&text)) != cpu(&first)
    }));
    let m = Metrics::parse(&text);
    // Scrapes that found the change not yet delivered rendered nothing; the one that found it,
    // the node's block. The other blocks' text was kept.
    assert_eq!(blocks(&m, "rendered"), all + 1.0, "{text}");
    assert!(blocks(&m, "kept") >= all - 1.0);
    // A plain body renders every block afresh (none holds plain text yet): the figures of
    // the gzip body, made of kept and re-rendered blocks, are the same. (Against a full render
    // from scratch, byte for byte: the unit tests of serve::node_text.)
    let plain = exporter.get("/metrics").text();
    assert_eq!(blocks(&Metrics::parse(&plain), "rendered"), 2.0 * all + 1.0);
    assert_eq!(figures_of(&text), figures_of(&plain));
}

#[test]
fn a_glibc_build_runs_with_its_malloc_tunables_under_the_same_process_id() {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return; // the static musl build has no tunables and does not execute itself again
    }
    let (_sim, exporter, _dir) = start_small(&[]);
    let environ = std::fs::read(format!("/proc/{}/environ", exporter.child.id())).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    // glibc parses the variable in place (its separators become NULs): the first tunable shows.
    assert!(
        environ
            .split('\0')
            .any(|v| v.starts_with("GLIBC_TUNABLES=glibc.malloc.arena_max=2")),
        "{environ}"
    );
    // The process the test started is the one serving (execution kept its id).
    assert_eq!(exporter.get("/healthz").status, 200);
}

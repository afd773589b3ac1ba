//! A real Prometheus server scrapes the real exporter, which watches the cluster simulator. Checked
//! through the Prometheus HTTP API: the target is up, exact cluster, node and group values, the
//! node sums add up to the cluster, a change in the simulator reaches PromQL within a few scrapes,
//! and every panel query of the Grafana dashboard returns sensible data. `promtool check metrics`
//! lints a live scrape. Without a `prometheus` binary the test says loudly that it was skipped
//! (CI installs it and fails instead).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_cmp,
    clippy::too_many_lines
)]

mod common;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{have, http, pod, small_cluster, wait_until, Exporter, Sim, TempDir};
use serde_json::Value;

struct Prometheus {
    child: Child,
    addr: String,
    _dir: TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(target: &str) -> Prometheus {
        Prometheus::with_job(&format!("  static_configs:\n  - targets: ['{target}']\n"))
    }

    /// Prometheus with one scrape job `binpacking-exporter` whose settings are `job` (YAML
    /// indented by two spaces).
    fn with_job(job: &str) -> Prometheus {
        let dir = TempDir::new("prom");
        let config = dir.path("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n\
                 - job_name: binpacking-exporter\n{job}"
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        let p = Prometheus {
            child,
            addr,
            _dir: dir,
        };
        assert!(
            // Listening is not enough: the query API answers 503 until the TSDB has started.
            wait_until(Duration::from_secs(60), || std::net::TcpStream::connect(
                &p.addr
            )
            .is_ok()
                && http(&p.addr, "GET", "/-/ready", &[], b"").status == 200),
            "prometheus did not become ready"
        );
        p
    }

    /// An instant query; returns (labels, value) pairs.
    fn query(&self, promql: &str) -> Vec<(serde_json::Map<String, Value>, f64)> {
        let path = format!("/api/v1/query?query={}", encode(promql));
        let r = http(&self.addr, "GET", &path, &[], b"");
        let v: Value = serde_json::from_slice(&r.body).unwrap_or_else(|_| panic!("{}", r.text()));
        assert_eq!(v["status"], "success", "{promql}: {v}");
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let value = s["value"][1].as_str().unwrap().parse::<f64>().unwrap();
                (s["metric"].as_object().unwrap().clone(), value)
            })
            .collect()
    }

    fn scalar(&self, promql: &str) -> Option<f64> {
        let r = self.query(promql);
        assert!(r.len() <= 1, "{promql}: {r:?}");
        r.first().map(|(_, v)| *v)
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn prometheus_scrapes_exact_values_and_every_dashboard_query_has_data() {
    if !have("prometheus") {
        return;
    }
    let dir = TempDir::new("e2e");
    let path = dir.path("scenario.json");
    std::fs::write(&path, small_cluster().to_string()).unwrap();
    let sim = Sim::start(&["--scenario", path.to_str().unwrap()]);
    let exporter = Exporter::start(
        &sim.kubeconfig,
        &[
            "--resources",
            "cpu,memory,pods,nvidia.com/gpu",
            "--label-group",
            "topology.kubernetes.io/zone",
            "--usage",
            "--usage-interval",
            "1s",
        ],
    );
    exporter.wait_ready(Duration::from_secs(30));
    let prom = Prometheus::start(&exporter.addr);
    eprintln!(
        "prometheus e2e: RUNNING against exporter {} and prometheus {}",
        exporter.addr, prom.addr
    );

    assert!(
        wait_until(Duration::from_secs(30), || prom
            .scalar("up{job=\"binpacking-exporter\"}")
            == Some(1.0)),
        "target never up"
    );
    assert!(wait_until(Duration::from_secs(30), || prom
        .scalar("binpacking_cluster_allocated{resource=\"cpu\"}")
        .is_some()));
    assert_eq!(
        prom.scalar("binpacking_cluster_allocated{resource=\"cpu\"}"),
        Some(1.95)
    );
    assert_eq!(
        prom.scalar("binpacking_cluster_allocatable{resource=\"cpu\"}"),
        Some(14.0)
    );
    assert_eq!(
        prom.scalar("binpacking_cluster_allocated{resource=\"pods\"}"),
        Some(5.0)
    );
    assert_eq!(
        prom.scalar("binpacking_cluster_allocatable{resource=\"nvidia.com/gpu\"}"),
        Some(2.0)
    );
    assert_eq!(
        prom.scalar("binpacking_node_allocated{node=\"node-a\",resource=\"cpu\"}"),
        Some(0.85)
    );
    assert_eq!(
        prom.scalar("binpacking_node_allocated{node=\"node-a\",resource=\"memory\"}"),
        Some(1_744_830_464.0)
    );
    assert_eq!(
        prom.scalar("binpacking_group_allocatable{label_group=\"topology.kubernetes.io/zone\",label_group_value=\"zone-1\",resource=\"cpu\"}"),
        Some(6.0)
    );
    // The node series add up to the cluster series, for every resource (PromQL sums floats:
    // 0.85 + 1.1 is 1.9500000000000002 there, so equality is up to rounding).
    let diff = "abs(sum by (resource) (binpacking_node_allocated) - on (resource) sum by (resource) (binpacking_cluster_allocated))";
    let mismatched = prom.query(&format!("{diff} > 1e-9"));
    assert!(mismatched.is_empty(), "{mismatched:?}");
    let matched = prom.query(&format!("{diff} <= 1e-9"));
    assert_eq!(matched.len(), 4);

    // A change in the simulator shows up in PromQL within a few scrapes.
    sim.apply(&pod("web", "burst", Some("node-b"), "1500m", "1Gi", None));
    assert!(
        wait_until(Duration::from_secs(10), || prom.scalar(
            "binpacking_node_allocated{node=\"node-b\",resource=\"cpu\"}"
        ) == Some(1.5)),
        "change not visible in PromQL"
    );
    assert_eq!(
        prom.scalar("binpacking_cluster_allocated{resource=\"cpu\"}"),
        Some(3.45)
    );

    // Every panel query of the dashboard returns data that makes sense.
    let dashboard: Value =
        serde_json::from_str(include_str!("../dashboards/binpacking.json")).unwrap();
    let mut queries = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$resource", "cpu|memory|pods|nvidia.com/gpu")
                .replace("$label_group", "topology.kubernetes.io/zone");
            assert!(!expr.contains('$'), "unreplaced variable in {expr}");
            let result = prom.query(&expr);
            assert!(
                !result.is_empty(),
                "panel {:?}: {expr} returned nothing",
                panel["title"]
            );
            for (labels, value) in &result {
                assert!(
                    value.is_finite() && *value >= 0.0,
                    "{expr}: {labels:?} = {value}"
                );
            }
            queries += 1;
        }
    }
    assert!(queries >= 8, "{queries} queries");
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(def) = var["definition"].as_str() {
            // label_values(metric, label): the metric must have series with that label.
            let inner = def
                .trim_start_matches("label_values(")
                .trim_end_matches(')');
            let (metric, label) = inner.split_once(',').unwrap();
            let series = prom.query(metric.trim());
            assert!(
                series.iter().any(|(l, _)| l.contains_key(label.trim())),
                "variable {def} has no values"
            );
        }
    }

    // promtool lints a real scrape with groups, extended resources and node metrics on.
    if have("promtool") {
        let body = exporter.get("/metrics").body;
        let mut child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&body).unwrap();
        let out = child.wait_with_output().unwrap();
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && report.trim().is_empty(),
            "promtool: {report}"
        );
    }
}

/// A real Prometheus scrapes over TLS with basic auth, as the README's scrape config says.
#[test]
fn prometheus_scrapes_over_tls_with_basic_auth() {
    if !have("prometheus") || !have("openssl") {
        return;
    }
    let pki = common::Pki::new();
    let hash = bcrypt::hash_with_salt("s3cret", 4, [9u8; 16])
        .unwrap()
        .format_for_version(bcrypt::Version::TwoY);
    let web = pki.dir.path("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n\
             basic_auth_users:\n  prometheus: '{hash}'\n"
        ),
    )
    .unwrap();
    let dir = TempDir::new("e2e-tls");
    let path = dir.path("scenario.json");
    std::fs::write(&path, small_cluster().to_string()).unwrap();
    let sim = Sim::start(&["--scenario", path.to_str().unwrap()]);
    let exporter = Exporter::start(
        &sim.kubeconfig,
        &["--web-config-file", web.to_str().unwrap()],
    );
    let prom = Prometheus::with_job(&format!(
        "  scheme: https\n  tls_config:\n    ca_file: {}\n  basic_auth:\n    username: prometheus\n    \
         password: s3cret\n  static_configs:\n  - targets: ['{}']\n",
        pki.path("ca.crt"),
        exporter.addr
    ));
    let up = wait_until(Duration::from_secs(30), || {
        prom.scalar("up{job=\"binpacking-exporter\"}") == Some(1.0)
            && prom
                .scalar("binpacking_cluster_nodes")
                .is_some_and(|n| n > 0.0)
    });
    assert!(up, "the TLS target is not up: {:?}", prom.query("up"));
    assert_eq!(prom.scalar("binpacking_cluster_nodes"), Some(3.0));
    eprintln!("prometheus e2e over TLS with basic auth: RUNNING");
}

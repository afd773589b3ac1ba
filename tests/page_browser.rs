//! The live page in a real headless Chromium: rendered against the simulator, its text matches the
//! metrics, a screenshot is taken, the demo cluster (`make demo`'s flags) renders with its label
//! groups, and at 5,000 nodes it stays small, fast and usable. Without Chromium the test says
//! loudly that it was skipped (CI installs it and fails instead). `SCREENSHOT_OUT=path` keeps the
//! demo cluster's screenshot (`make screenshot` refreshes docs/page.png).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{small_cluster, Exporter, Sim, TempDir};

fn chromium() -> Option<&'static str> {
    for candidate in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(candidate)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(candidate);
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "chromium is required in CI (.ci/run installs it)"
    );
    eprintln!("\n*** SKIPPED: chromium is not installed (apt-get install chromium) ***\n");
    None
}

/// Runs headless Chromium with the flags this machine's closed network needs.
fn headless(browser: &str, dir: &TempDir, args: &[&str]) -> std::process::Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", dir.path("profile").display()))
        .args(args)
        .output()
        .expect("run chromium")
}

/// A screenshot of `url` in a window of `size` (`W,H`), checked to be a real PNG.
fn screenshot(browser: &str, dir: &TempDir, url: &str, size: &str) -> PathBuf {
    let shot = dir.path("page.png");
    let out = headless(
        browser,
        dir,
        &[
            &format!("--screenshot={}", shot.display()),
            &format!("--window-size={size}"),
            url,
        ],
    );
    let png = std::fs::read(&shot)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    shot
}

fn cores(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[test]
fn the_page_renders_in_chromium_with_the_metrics_numbers() {
    let Some(browser) = chromium() else { return };
    let dir = TempDir::new("browser");
    let scenario = dir.path("scenario.json");
    std::fs::write(&scenario, small_cluster().to_string()).unwrap();
    let sim = Sim::start(&["--scenario", scenario.to_str().unwrap()]);
    let exporter = Exporter::start(
        &sim.kubeconfig,
        &[
            "--resources",
            "cpu,memory,pods",
            "--label-group",
            "topology.kubernetes.io/zone",
        ],
    );
    exporter.wait_ready(Duration::from_secs(30));
    let url = format!("http://{}/", exporter.addr);

    let out = headless(browser, &dir, &["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains("Cluster bin-packing"),
        "no page: {dom}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = exporter.metrics();
    for node in ["node-a", "node-b", "node-c"] {
        let alloc = m
            .get(
                "binpacking_node_allocated",
                &[("node", node), ("resource", "cpu")],
            )
            .unwrap();
        let cap = m
            .get(
                "binpacking_node_allocatable",
                &[("node", node), ("resource", "cpu")],
            )
            .unwrap();
        let util = m
            .get(
                "binpacking_node_utilization_ratio",
                &[("node", node), ("resource", "cpu")],
            )
            .unwrap();
        let text = format!("{} / {} ({:.0}%)", cores(alloc), cores(cap), util * 100.0);
        assert!(dom.contains(&text), "{node}: {text:?} not on the page");
        let pods = m
            .get(
                "binpacking_node_allocated",
                &[("node", node), ("resource", "pods")],
            )
            .unwrap();
        assert!(dom.contains(&format!("{pods} / 110")), "{node} pods");
    }
    let cluster_cpu = m
        .get("binpacking_cluster_allocated", &[("resource", "cpu")])
        .unwrap();
    assert!(dom.contains(&format!("{} / 14", cores(cluster_cpu))));
    assert!(dom.contains("zone-1") && dom.contains("zone-2"));

    screenshot(browser, &dir, &url, "1280,900");
}

/// `make demo` as a newcomer sees it: the simulator with the demo's 12 nodes and 400 pods (no
/// churn, so the picture is the same every time) and the exporter with the demo's resources and
/// label groups.
#[test]
fn the_demo_cluster_renders_with_its_label_groups() {
    let Some(browser) = chromium() else { return };
    let dir = TempDir::new("browser-demo");
    let sim = Sim::start(&["--nodes", "12", "--pods", "400", "--seed", "1"]);
    let exporter = Exporter::start(
        &sim.kubeconfig,
        &[
            "--resources",
            "cpu,memory,pods,nvidia.com/gpu",
            "--label-group",
            "topology.kubernetes.io/zone",
            "--label-group",
            "eks.amazonaws.com/nodegroup",
        ],
    );
    exporter.wait_ready(Duration::from_secs(30));
    let url = format!("http://{}/", exporter.addr);
    let out = headless(browser, &dir, &["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    for text in ["12 nodes", "us-east-1a", "us-east-1c", "general", "gpu"] {
        assert!(dom.contains(text), "{text:?} not on the demo page");
    }
    let shot = screenshot(browser, &dir, &url, "1600,1060");
    if let Some(keep) = std::env::var_os("SCREENSHOT_OUT") {
        std::fs::copy(&shot, Path::new(&keep)).unwrap();
    }
}

#[test]
fn the_page_stays_small_and_usable_at_5000_nodes() {
    let Some(browser) = chromium() else { return };
    let dir = TempDir::new("browser-large");
    let sim = Sim::start(&["--nodes", "5000", "--pods", "20000", "--seed", "7"]);
    let exporter = Exporter::start(
        &sim.kubeconfig,
        &[
            "--resources",
            "cpu,memory,pods",
            "--label-group",
            "topology.kubernetes.io/zone",
        ],
    );
    exporter.wait_ready(Duration::from_secs(120));
    let started = Instant::now();
    let page = exporter.get("/");
    let elapsed = started.elapsed();
    assert_eq!(page.status, 200);
    assert!(
        page.body.len() < 150_000,
        "{} bytes at 5,000 nodes",
        page.body.len()
    );
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    eprintln!(
        "page at 5000 nodes: {} bytes in {elapsed:?}",
        page.body.len()
    );
    let url = format!("http://{}/", exporter.addr);
    let out = headless(browser, &dir, &["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains("5000 nodes"),
        "{}",
        &dom[..dom.len().min(2000)]
    );
    assert!(dom.contains("4950 more nodes"));
    // Filtering by a group value narrows the node list.
    let text = page.text();
    let zone = text
        .split("/?group=")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a group link");
    let filtered = headless(
        browser,
        &dir,
        &["--dump-dom", &format!("{url}?group={zone}")],
    );
    let dom = String::from_utf8_lossy(&filtered.stdout).into_owned();
    assert!(
        dom.contains(" nodes in topology.kubernetes.io/zone="),
        "filter not applied"
    );
}

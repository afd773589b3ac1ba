//! Real kubectl against the simulator: tables, JSON, selectors and --watch-only. Skipped (loudly)
//! when kubectl is not on PATH; CI installs it.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Sim;
use serde_json::Value;

fn kubectl_available() -> bool {
    let found = Command::new("kubectl")
        .args(["version", "--client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("SKIPPED: kubectl is not on PATH; install it (Debian: kubernetes-client) to run the kubectl tests");
    }
    found
}

#[allow(clippy::unwrap_used)]
fn kubectl(kubeconfig: &str, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn kubectl_lists_selects_and_watches() {
    if !kubectl_available() {
        return;
    }
    let kc = std::env::temp_dir().join(format!("kube-sim-kubectl-{}.yaml", std::process::id()));
    let kc_s = kc.to_str().unwrap();
    let sim = Sim::start(&["--kubeconfig-out", kc_s]);

    let nodes = kubectl(kc_s, &["get", "nodes"]);
    let header: Vec<&str> = nodes.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    assert_eq!(nodes.lines().count(), 11);
    assert!(nodes.contains("SchedulingDisabled"));

    let pods: Value =
        serde_json::from_str(&kubectl(kc_s, &["get", "pods", "-A", "-o", "json"])).unwrap();
    assert_eq!(pods["items"].as_array().unwrap().len(), 300);

    let table = kubectl(kc_s, &["get", "pods", "-A"]);
    assert!(table.lines().next().unwrap().starts_with("NAMESPACE"));
    assert_eq!(table.lines().count(), 301);

    let redis = kubectl(
        kc_s,
        &[
            "get",
            "pods",
            "-n",
            "data",
            "-l",
            "app.kubernetes.io/name=redis",
            "-o",
            "name",
        ],
    );
    assert!(
        !redis.is_empty() && redis.lines().all(|l| l.starts_with("pod/redis-")),
        "{redis}"
    );

    let done = kubectl(
        kc_s,
        &[
            "get",
            "pods",
            "-A",
            "--field-selector",
            "status.phase=Succeeded",
            "-o",
            "json",
        ],
    );
    let done: Value = serde_json::from_str(&done).unwrap();
    let done = done["items"].as_array().unwrap();
    assert!(!done.is_empty() && done.iter().all(|p| p["status"]["phase"] == "Succeeded"));

    // --watch-only sees a change made through the control interface.
    let target = redis
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("pod/")
        .to_string();
    let mut child = Command::new("kubectl")
        .args([
            "--kubeconfig",
            kc_s,
            "get",
            "pods",
            "-n",
            "data",
            "--watch-only",
            "--request-timeout",
            "20s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while sim.control("GET", "/state", b"")["watches"] == 0 {
        assert!(Instant::now() < deadline, "kubectl never opened its watch");
        std::thread::sleep(Duration::from_millis(50));
    }
    sim.control(
        "POST",
        &format!("/pods/data/{target}/phase?phase=Failed"),
        b"",
    );
    std::thread::sleep(Duration::from_millis(500));
    sim.control("POST", "/faults/close-watches", b"");
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with(&target) && l.contains("Error")),
        "watch output: {text}"
    );
    std::fs::remove_file(&kc).unwrap();
}

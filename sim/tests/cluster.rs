//! The generated cluster: determinism, and every accounting case of shared/ACCOUNTING.md is
//! present in the default cluster; scenario files; command-line contract.

mod common;

use std::process::Command;

use common::{request, Sim};
use serde_json::Value;

#[test]
fn the_same_seed_gives_byte_identical_objects() {
    let a = Sim::start(&["--seed", "7"]);
    let b = Sim::start(&["--seed", "7"]);
    let c = Sim::start(&["--seed", "8"]);
    let get = |s: &Sim| request(s.control, "GET", "/objects", &[], b"").body;
    assert_eq!(get(&a), get(&b));
    assert_ne!(get(&a), get(&c));
    assert_eq!(
        a.get("/api/v1/pods?limit=50").body,
        b.get("/api/v1/pods?limit=50").body
    );
}

fn has_key(v: &Value, key: &str) -> bool {
    v.as_object().is_some_and(|m| m.contains_key(key))
}

#[test]
fn the_default_cluster_contains_every_accounting_case() {
    let sim = Sim::start(&[]);
    let all = sim.control("GET", "/objects", b"");
    let items = all["items"].as_array().unwrap();
    let nodes: Vec<&Value> = items.iter().filter(|i| i["kind"] == "Node").collect();
    let pods: Vec<&Value> = items.iter().filter(|i| i["kind"] == "Pod").collect();
    assert_eq!((nodes.len(), pods.len()), (10, 300));
    let count = |f: &dyn Fn(&Value) -> bool| pods.iter().filter(|p| f(p)).count();
    let containers = |p: &Value, k: &str| p["spec"][k].as_array().cloned().unwrap_or_default();
    let conditions = |p: &Value| {
        p["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let requests_any = |p: &Value, r: &str| {
        containers(p, "containers")
            .iter()
            .any(|c| has_key(&c["resources"]["requests"], r))
    };
    let cases: Vec<(&str, usize)> = vec![
        (
            "sidecar (init restartPolicy Always)",
            count(&|p| {
                containers(p, "initContainers")
                    .iter()
                    .any(|c| c["restartPolicy"] == "Always")
            }),
        ),
        (
            "plain init container",
            count(&|p| {
                containers(p, "initContainers")
                    .iter()
                    .any(|c| c["restartPolicy"].is_null())
            }),
        ),
        (
            "pod overhead",
            count(&|p| p["spec"]["overhead"].is_object()),
        ),
        (
            "pod-level spec.resources",
            count(&|p| p["spec"]["resources"]["requests"].is_object()),
        ),
        (
            "containerStatuses[].resources",
            count(&|p| {
                p["status"]["containerStatuses"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|c| c["resources"].is_object()))
            }),
        ),
        (
            "containerStatuses[].allocatedResources",
            count(&|p| {
                p["status"]["containerStatuses"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|c| c["allocatedResources"].is_object()))
            }),
        ),
        (
            "PodResizePending Infeasible",
            count(&|p| {
                conditions(p)
                    .iter()
                    .any(|c| c["type"] == "PodResizePending" && c["reason"] == "Infeasible")
            }),
        ),
        (
            "PodResizePending Deferred",
            count(&|p| {
                conditions(p)
                    .iter()
                    .any(|c| c["type"] == "PodResizePending" && c["reason"] == "Deferred")
            }),
        ),
        (
            "PodResizeInProgress",
            count(&|p| {
                conditions(p)
                    .iter()
                    .any(|c| c["type"] == "PodResizeInProgress")
            }),
        ),
        ("Succeeded", count(&|p| p["status"]["phase"] == "Succeeded")),
        ("Failed", count(&|p| p["status"]["phase"] == "Failed")),
        (
            "unscheduled",
            count(&|p| p["spec"]["nodeName"].is_null() && p["status"]["phase"] == "Pending"),
        ),
        (
            "terminating",
            count(&|p| p["metadata"]["deletionTimestamp"].is_string()),
        ),
        (
            "nvidia.com/gpu request",
            count(&|p| requests_any(p, "nvidia.com/gpu")),
        ),
        (
            "hugepages-2Mi request",
            count(&|p| requests_any(p, "hugepages-2Mi")),
        ),
        (
            "ephemeral-storage request",
            count(&|p| requests_any(p, "ephemeral-storage")),
        ),
        (
            "best effort",
            count(&|p| p["status"]["qosClass"] == "BestEffort"),
        ),
        (
            "mirror pod",
            count(&|p| {
                p["metadata"]["ownerReferences"][0]["kind"] == "Node"
                    && p["metadata"]["annotations"]["kubernetes.io/config.mirror"].is_string()
            }),
        ),
        (
            "ReplicaSet owner",
            count(&|p| p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"),
        ),
        (
            "StatefulSet owner",
            count(&|p| p["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"),
        ),
        (
            "Job owner",
            count(&|p| p["metadata"]["ownerReferences"][0]["kind"] == "Job"),
        ),
        (
            "last-applied-configuration",
            count(&|p| {
                p["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                    .is_string()
            }),
        ),
        (
            "managedFields",
            count(&|p| p["metadata"]["managedFields"].is_array()),
        ),
    ];
    for (name, n) in &cases {
        assert!(
            *n > 0,
            "accounting case missing from the default cluster: {name}"
        );
    }
    // DaemonSet pods on every node.
    for ds in ["kube-proxy", "aws-node", "node-exporter", "fluent-bit"] {
        let on: std::collections::BTreeSet<&str> = pods
            .iter()
            .filter(|p| {
                p["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"
                    && p["metadata"]["ownerReferences"][0]["name"] == ds
            })
            .filter_map(|p| p["spec"]["nodeName"].as_str())
            .collect();
        assert_eq!(on.len(), nodes.len(), "{ds} runs on every node");
    }
    let ncount = |f: &dyn Fn(&Value) -> bool| nodes.iter().filter(|n| f(n)).count();
    assert!(
        ncount(&|n| n["spec"]["unschedulable"] == true) > 0,
        "a cordoned node"
    );
    assert!(
        ncount(&|n| n["spec"]["taints"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["key"] == "nvidia.com/gpu")))
            > 0,
        "a tainted GPU node"
    );
    // GPUs: advertised as `nvidia.com/gpu`, or (the first GPU node, DRA-managed) published as
    // devices of a node-local ResourceSlice.
    let gpu_nodes = ncount(&|n| n["metadata"]["labels"]["nvidia.com/gpu.present"] == "true");
    assert!(gpu_nodes > 0);
    if gpu_nodes > 1 {
        assert!(ncount(&|n| has_key(&n["status"]["allocatable"], "nvidia.com/gpu")) > 0);
    }
    assert!(ncount(&|n| n["status"]["allocatable"]["hugepages-2Mi"] != "0") > 0);
    assert!(
        ncount(&|n| n["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] != "True"))
            > 0,
        "a NotReady node"
    );
    for label in [
        "topology.kubernetes.io/zone",
        "node.kubernetes.io/instance-type",
        "eks.amazonaws.com/nodegroup",
    ] {
        assert_eq!(
            ncount(&|n| n["metadata"]["labels"][label].is_string()),
            nodes.len(),
            "{label} on every node"
        );
    }
    assert!(
        ncount(&|n| n["status"]["allocatable"]["pods"].is_string()
            && n["status"]["images"].is_array()
            && n["status"]["nodeInfo"]["kubeletVersion"] == "v1.34.2")
            == nodes.len()
    );
    // Quantity spellings.
    let text = serde_json::to_string(&all).unwrap();
    for q in [
        "\"100m\"",
        "\"0.5\"",
        "\"1\"",
        "\"1.5Gi\"",
        "\"1e9\"",
        "\"500M\"",
        "\"128974848\"",
    ] {
        assert!(text.contains(q), "quantity spelling {q} is used");
    }
    eprintln!("accounting cases: {cases:?}");
}

#[test]
fn a_scenario_file_replaces_generation() {
    let dir = std::env::temp_dir().join(format!("kube-sim-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cluster.json");
    std::fs::write(&path, r#"{"apiVersion":"v1","kind":"List","items":[
        {"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","labels":{"pool":"a"}},"status":{"allocatable":{"cpu":"4","memory":"8Gi","pods":"110"}}},
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1","namespace":"team"},"spec":{"nodeName":"n1","containers":[{"name":"c","resources":{"requests":{"cpu":"1"}}}]},"status":{"phase":"Running"}}
    ]}"#).unwrap();
    let sim = Sim::start(&["--scenario", path.to_str().unwrap()]);
    let nodes = sim.get_json("/api/v1/nodes");
    assert_eq!(nodes["items"].as_array().unwrap().len(), 1);
    let pod = sim.get_json("/api/v1/namespaces/team/pods/p1");
    assert_eq!(pod["spec"]["nodeName"], "n1");
    assert!(pod["metadata"]["uid"].is_string() && pod["metadata"]["creationTimestamp"].is_string());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn non_loopback_addresses_are_refused_with_exit_code_2() {
    for args in [
        ["--listen", "0.0.0.0:0"],
        ["--control-listen", "10.1.2.3:80"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_kube-sim"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
        assert!(out.stdout.is_empty());
    }
    let help = Command::new(env!("CARGO_BIN_EXE_kube-sim"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--nodes",
        "--pods",
        "--seed",
        "--scenario",
        "--churn",
        "--listen",
        "--control-listen",
        "--kubeconfig-out",
        "--bookmark-interval",
        "--history",
    ] {
        assert!(text.contains(flag), "--help documents {flag}");
    }
}

#[test]
fn the_kubeconfig_points_at_the_api_with_a_token() {
    let path = std::env::temp_dir().join(format!("kube-sim-kc-{}.yaml", std::process::id()));
    let sim = Sim::start(&["--kubeconfig-out", path.to_str().unwrap()]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&format!("server: http://{}", sim.api)));
    assert!(text.contains("token: kube-sim-token"));
    assert!(text.contains("current-context: kube-sim"));
    std::fs::remove_file(&path).unwrap();
}

//! Randomized robustness (a fuzzer without a nightly toolchain): millions of generated quantity
//! strings through the parser and the unit conversions, and hundreds of thousands of mutated pod
//! and node objects (byte-level damage and structural damage to real-shaped JSON) through the
//! decoder and the accounting. Zero panics; every run prints how many inputs it tried. Deterministic
//! (seeded); `FUZZ_SCALE=10` runs ten times as many.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use std::time::{Duration, Instant};

use common::Rng;
use kube_cluster_binpacking_exporter::ingest::objects::{set_pod_accounting, SlimNode, SlimPod};
use kube_cluster_binpacking_exporter::model::accounting::AccountingOptions;
use kube_cluster_binpacking_exporter::model::quantity::{milli_ceil, parse_nanos, units_ceil};
use kube_cluster_binpacking_exporter::model::resources::TrackedResources;
use serde_json::{json, Value};

fn scale() -> usize {
    std::env::var("FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

const PIECES: &[&str] = &[
    "0",
    "1",
    "9",
    "00",
    "12345678901234567890",
    ".",
    "..",
    "+",
    "-",
    "e",
    "E",
    "e-",
    "e+",
    "Ki",
    "Mi",
    "Gi",
    "Ti",
    "Pi",
    "Ei",
    "n",
    "u",
    "m",
    "k",
    "M",
    "G",
    "T",
    "P",
    "i",
    " ",
    "μ",
    "\u{0}",
    "9223372036854775808",
    "1e400",
    "e999999999999",
    "0.000000000001",
];

fn random_quantity(rng: &mut Rng) -> String {
    let parts = 1 + rng.index(5);
    (0..parts)
        .map(|_| PIECES[rng.index(PIECES.len())])
        .collect()
}

#[test]
fn quantity_parsing_never_panics_on_generated_strings() {
    let mut rng = Rng::new(7);
    let n = 1_000_000 * scale();
    let started = Instant::now();
    let mut valid = 0;
    for _ in 0..n {
        let q = random_quantity(&mut rng);
        if let Ok(nanos) = parse_nanos(&q) {
            valid += 1;
            let _ = milli_ceil(nanos);
            let _ = units_ceil(nanos);
        }
    }
    eprintln!(
        "quantity fuzz: {n} inputs ({valid} valid) in {:?}, 0 panics",
        started.elapsed()
    );
    assert!(
        valid > n / 20 && valid < n,
        "the generator should hit both valid and invalid forms"
    );
}

fn pod_template() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "resourceVersion": "5",
            "ownerReferences": [{"kind": "DaemonSet", "name": "d", "controller": true}],
            "annotations": {"kubernetes.io/config.mirror": "x"}},
        "spec": {"nodeName": "n1",
            "initContainers": [{"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}}},
                               {"name": "init", "resources": {"requests": {"cpu": "2", "nvidia.com/gpu": "1"}}}],
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "128Mi", "ephemeral-storage": "1Gi"}}},
                           {"name": "b", "resources": {"requests": {"cpu": "0.5", "hugepages-2Mi": "4Mi"}}}],
            "overhead": {"cpu": "10m"},
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}},
        "status": {"phase": "Running",
            "conditions": [{"type": "PodResizePending", "reason": "Infeasible"}],
            "containerStatuses": [{"name": "a", "resources": {"requests": {"cpu": "300m"}}, "allocatedResources": {"cpu": "200m"}}],
            "initContainerStatuses": [{"name": "side", "resources": {"requests": {"cpu": "60m"}}}]}
    })
}

/// Replaces a random leaf (or subtree) with something hostile.
fn damage(v: &mut Value, rng: &mut Rng) {
    const HOSTILE: &[&str] = &[
        "abc",
        "1.2.3",
        "-1",
        "1e400",
        "9223372036854775808",
        "",
        "\u{202e}",
        "1Gi ",
    ];
    match v {
        Value::Object(map) if !map.is_empty() && rng.index(4) > 0 => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = &keys[rng.index(keys.len())];
            damage(map.get_mut(key).unwrap(), rng);
        }
        Value::Array(items) if !items.is_empty() && rng.index(4) > 0 => {
            let i = rng.index(items.len());
            damage(&mut items[i], rng);
        }
        _ => {
            *v = match rng.index(9) {
                0 => Value::Null,
                1 => json!(rng.next().cast_signed()),
                2 => json!(rng.below(1000) as f64 / 7.0),
                3 => json!([]),
                4 => json!({}),
                5 => json!(true),
                6 => json!("x".repeat(rng.index(5000))),
                7 => {
                    json!([{"name": "a", "resources": {"requests": {"cpu": HOSTILE[rng.index(HOSTILE.len())]}}}])
                }
                _ => json!(HOSTILE[rng.index(HOSTILE.len())]),
            };
        }
    }
}

fn decode_pod(bytes: &[u8], tracked: &TrackedResources) {
    // Pods are accounted while they are decoded: once under each set of gates.
    for options in [
        AccountingOptions {
            pod_level_resources: true,
            use_status_resources: true,
            pod_level_status: false,
            max_of_sums: false,
        },
        AccountingOptions {
            pod_level_resources: true,
            use_status_resources: true,
            pod_level_status: true,
            max_of_sums: true,
        },
        AccountingOptions {
            pod_level_resources: false,
            use_status_resources: false,
            pod_level_status: false,
            max_of_sums: false,
        },
    ] {
        set_pod_accounting(tracked, options);
        let _ = serde_json::from_slice::<SlimPod>(bytes);
    }
}

#[test]
fn object_decoding_never_panics_on_damaged_pods_and_nodes() {
    let tracked = TrackedResources::new([
        "cpu",
        "memory",
        "pods",
        "ephemeral-storage",
        "hugepages-2Mi",
        "nvidia.com/gpu",
    ])
    .unwrap();
    let template = pod_template();
    let bytes = serde_json::to_vec(&template).unwrap();
    let mut rng = Rng::new(11);
    let n = 200_000 * scale();
    let deadline = Instant::now() + Duration::from_secs(120 * scale() as u64);
    let started = Instant::now();
    let mut tried = 0;
    let mut decoded = 0;
    while tried < n && Instant::now() < deadline {
        tried += 1;
        if rng.index(2) == 0 {
            // Structural damage: valid JSON with hostile values and shapes.
            let mut v = template.clone();
            for _ in 0..=rng.index(4) {
                damage(&mut v, &mut rng);
            }
            let text = serde_json::to_vec(&v).unwrap();
            if serde_json::from_slice::<SlimPod>(&text).is_ok() {
                decoded += 1;
            }
            decode_pod(&text, &tracked);
            let _ = serde_json::from_slice::<SlimNode>(&text);
        } else {
            // Byte damage: flips, insertions, deletions, truncation.
            let mut b = bytes.clone();
            for _ in 0..=rng.index(8) {
                if b.is_empty() {
                    break;
                }
                let i = rng.index(b.len());
                match rng.index(4) {
                    0 => b[i] = rng.next() as u8,
                    1 => b.insert(i, b"{}[]\",:\\0123456789.eE-"[rng.index(22)]),
                    2 if b.len() > 1 => {
                        b.remove(i);
                    }
                    _ => b.truncate(i),
                }
            }
            decode_pod(&b, &tracked);
            let _ = serde_json::from_slice::<SlimNode>(&b);
        }
    }
    eprintln!(
        "object fuzz: {tried} damaged objects ({decoded} structurally damaged ones decoded) in {:?}, 0 panics",
        started.elapsed()
    );
    assert!(tried >= 10_000);
    assert!(decoded > 0);
}

#[test]
fn hundreds_of_containers_and_huge_values_saturate_without_panicking() {
    let containers: Vec<Value> = (0..500)
        .map(|i| json!({"name": format!("c{i}"), "resources": {"requests": {"cpu": "8E", "memory": "8Ei", "nvidia.com/gpu": "9223372036854775807"}}}))
        .collect();
    let pod = json!({"metadata": {"name": "big", "namespace": "ns"},
        "spec": {"nodeName": "n", "containers": containers, "initContainers": containers}, "status": {"phase": "Running"}});
    let tracked = TrackedResources::new(["cpu", "memory", "nvidia.com/gpu", "pods"]).unwrap();
    set_pod_accounting(
        &tracked,
        AccountingOptions {
            pod_level_resources: true,
            use_status_resources: true,
            pod_level_status: false,
            max_of_sums: false,
        },
    );
    let decoded: SlimPod = serde_json::from_value(pod).unwrap();
    let facts = decoded.facts.unwrap();
    assert_eq!(facts.requests()[0], u64::MAX, "saturated, not wrapped");
    assert_eq!(facts.requests()[3], 1);
}

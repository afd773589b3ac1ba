//! Background change at a bounded rate: pods created, deleted, bound or moved, pods changing phase
//! (including to Succeeded and Failed), and now and then a node added or removed (with its pods,
//! as the pod garbage collector would). The sequence of operations is deterministic from the seed
//! (timestamps are wall-clock).
//!
//! It changes the cluster only through the store, with objects the generator makes; it serves no
//! HTTP and knows nothing of the listeners.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::clock::{now_unix, rfc3339};
use crate::generate::{churn_node, churn_pod};
use crate::object::{fill_identity, Kind};
use crate::rng::Rng;
use crate::store::Store;

/// Highest accepted rate, so a typo cannot turn the simulator into a CPU heater.
pub const MAX_RATE: f64 = 5_000.0;

/// The churn switch shared with the control interface.
pub struct Churn {
    /// Events per second times 1000 (0 = stopped).
    milli_rate: AtomicU64,
}

impl Churn {
    /// Starts the churn thread (idle until a rate is set).
    pub fn start(store: Arc<Store>, seed: u64, rate: f64) -> std::io::Result<Arc<Churn>> {
        let churn = Arc::new(Churn {
            milli_rate: AtomicU64::new(0),
        });
        churn.set_rate(rate);
        let shared = churn.clone();
        thread::Builder::new()
            .name("churn".into())
            .spawn(move || run(&shared, &store, seed))?;
        Ok(churn)
    }

    /// Sets the rate in events per second (clamped to `0..=MAX_RATE`).
    pub fn set_rate(&self, rate: f64) {
        let clamped = if rate.is_finite() {
            rate.clamp(0.0, MAX_RATE)
        } else {
            0.0
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        self.milli_rate
            .store((clamped * 1000.0) as u64, Ordering::Relaxed);
    }

    /// The current rate in events per second.
    pub fn rate(&self) -> f64 {
        self.milli_rate.load(Ordering::Relaxed) as f64 / 1000.0
    }
}

fn run(churn: &Churn, store: &Store, seed: u64) {
    let mut rng = Rng::new(seed ^ 0x00C4_0A2C_4A2C);
    let mut n: u64 = 0;
    let mut next = Instant::now();
    loop {
        let rate = churn.rate();
        if rate <= 0.0 {
            thread::sleep(Duration::from_millis(50));
            next = Instant::now();
            continue;
        }
        let now = Instant::now();
        if now < next {
            thread::sleep((next - now).min(Duration::from_millis(50)));
            continue;
        }
        step(store, seed, n, &mut rng);
        n += 1;
        next += Duration::from_secs_f64(1.0 / rate);
        // After a stall, do not burst to catch up by more than a second's worth.
        if Instant::now().saturating_duration_since(next) > Duration::from_secs(1) {
            next = Instant::now();
        }
    }
}

fn node_address(store: &Store, key: &str) -> Option<(String, String)> {
    let node = store.get(Kind::Node, key)?;
    let v = node.to_value().ok()?;
    let ip = v
        .pointer("/status/addresses/0/address")
        .and_then(Value::as_str)
        .unwrap_or("10.0.0.1")
        .to_string();
    Some((node.name.to_string(), ip))
}

fn random_node(store: &Store, rng: &mut Rng) -> Option<(String, String)> {
    let key = store.key_at(Kind::Node, rng.next_u64())?;
    node_address(store, &key)
}

/// One churn operation.
fn step(store: &Store, seed: u64, n: u64, rng: &mut Rng) {
    let now = now_unix();
    let roll = rng.below(100);
    let result = match roll {
        0..=29 => {
            let node = if rng.chance(100) {
                None
            } else {
                random_node(store, rng)
            };
            let mut pod = churn_pod(
                seed,
                n,
                node.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
                now,
            );
            fill_identity(&mut pod, || rng.uuid(), &rfc3339(now));
            store.upsert(pod).map(|_| ())
        }
        30..=54 => {
            if let Some(key) = store.key_at(Kind::Pod, rng.next_u64()) {
                store.delete(Kind::Pod, &key);
            }
            Ok(())
        }
        55..=64 => match (
            store.key_at(Kind::Pod, rng.next_u64()),
            random_node(store, rng),
        ) {
            (Some(key), Some((node, ip))) => store
                .mutate(Kind::Pod, &key, |v| {
                    v["spec"]["nodeName"] = json!(node);
                    v["status"]["hostIP"] = json!(ip);
                    v["status"]["hostIPs"] = json!([{"ip": ip}]);
                })
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
            _ => Ok(()),
        },
        65..=94 => {
            let Some(key) = store.key_at(Kind::Pod, rng.next_u64()) else {
                return;
            };
            let Some(pod) = store.get(Kind::Pod, &key) else {
                return;
            };
            let next = match &*pod.phase {
                "Pending" if !pod.node_name.is_empty() => "Running",
                "Running" if rng.chance(650) => "Succeeded",
                "Running" => "Failed",
                _ => {
                    store.delete(Kind::Pod, &key);
                    return;
                }
            };
            store
                .mutate(Kind::Pod, &key, |v| set_phase(v, next, &rfc3339(now)))
                .map(|_| ())
                .map_err(|e| format!("{e:?}"))
        }
        95..=97 => {
            let mut node = churn_node(seed, n, now);
            fill_identity(&mut node, || rng.uuid(), &rfc3339(now));
            store.upsert(node).map(|_| ())
        }
        _ => {
            if let Some(key) = store.key_at(Kind::Node, rng.next_u64()) {
                let is_control_plane = store
                    .get(Kind::Node, &key)
                    .is_some_and(|o| o.label("node-role.kubernetes.io/control-plane").is_some());
                if !is_control_plane {
                    store.delete(Kind::Node, &key);
                    // The pod garbage collector deletes the pods of a node that is gone.
                    for pod in store.all(Kind::Pod) {
                        if *pod.node_name == *key {
                            store.delete(Kind::Pod, &pod.key);
                        }
                    }
                }
            }
            Ok(())
        }
    };
    if let Err(e) = result {
        eprintln!("kube-sim: churn step failed: {e}");
    }
}

/// Moves a pod to `phase`, updating container states the way the kubelet would.
pub fn set_phase(pod: &mut Value, phase: &str, now: &str) {
    pod["status"]["phase"] = json!(phase);
    let terminal = matches!(phase, "Succeeded" | "Failed");
    let (exit_code, reason) = if phase == "Succeeded" {
        (0, "Completed")
    } else {
        (1, "Error")
    };
    if let Some(statuses) = pod
        .pointer_mut("/status/containerStatuses")
        .and_then(Value::as_array_mut)
    {
        for s in statuses {
            if terminal {
                s["state"] = json!({"terminated": {"exitCode": exit_code, "reason": reason, "startedAt": now, "finishedAt": now}});
                s["ready"] = json!(false);
                s["started"] = json!(false);
            } else if phase == "Running" {
                s["state"] = json!({"running": {"startedAt": now}});
                s["ready"] = json!(true);
                s["started"] = json!(true);
            }
        }
    }
    if let Some(conditions) = pod
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    {
        for c in conditions {
            if matches!(c["type"].as_str(), Some("Ready" | "ContainersReady")) {
                c["status"] = json!(if phase == "Running" { "True" } else { "False" });
                c["lastTransitionTime"] = json!(now);
                if terminal {
                    c["reason"] = json!("PodCompleted");
                }
            }
        }
    }
}

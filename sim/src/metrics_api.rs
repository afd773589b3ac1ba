//! The resource metrics API (`metrics.k8s.io/v1beta1`) as metrics-server serves it: a
//! `NodeMetricsList` and a `PodMetricsList` computed from the stored objects by a deterministic
//! usage model, so tests can compute the same figures. A container uses a fraction of its
//! requests fixed by a hash of `namespace/pod/container` (between 20 % and 119 %, so some pods
//! use more than they asked for), 5m cpu and 16 MiB when it requests nothing; only running pods
//! bound to a node are reported (as metrics-server reports them); a node uses the sum of its
//! pods plus 3 % of its allocatable (the system). cpu in nanocores, memory in Ki, as
//! metrics-server prints them.
//!
//! The control interface can switch the API off (404, as on a cluster without metrics-server) or
//! make its samples stale (their timestamps stop advancing). It reads the store and the faults;
//! it imports nothing of the HTTP handlers.

use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};

use kube_cluster_binpacking_exporter::model::quantity::parse_nanos;
use serde_json::{json, Value};

use crate::clock::{now_unix, rfc3339};
use crate::object::Kind;
use crate::store::Store;

/// Whether and how the API is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Served, samples timestamped now.
    On,
    /// Not served: 404, as without metrics-server.
    Off,
    /// Served, but every sample carries the timestamp of when it became stale.
    Stale,
}

/// The switch the control interface sets.
pub struct MetricsApi {
    mode: AtomicU8,
    stale_since: AtomicI64,
}

impl Default for MetricsApi {
    fn default() -> MetricsApi {
        MetricsApi {
            mode: AtomicU8::new(0),
            stale_since: AtomicI64::new(0),
        }
    }
}

impl MetricsApi {
    /// Switches the API on, off or stale.
    pub fn set_mode(&self, mode: Mode) {
        if mode == Mode::Stale && self.mode() != Mode::Stale {
            self.stale_since.store(now_unix(), Ordering::Relaxed);
        }
        self.mode.store(
            match mode {
                Mode::On => 0,
                Mode::Off => 1,
                Mode::Stale => 2,
            },
            Ordering::Relaxed,
        );
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        match self.mode.load(Ordering::Relaxed) {
            1 => Mode::Off,
            2 => Mode::Stale,
            _ => Mode::On,
        }
    }

    fn timestamp(&self) -> String {
        match self.mode() {
            Mode::Stale => rfc3339(self.stale_since.load(Ordering::Relaxed)),
            _ => rfc3339(now_unix()),
        }
    }

    /// `GET /apis/metrics.k8s.io/v1beta1/{nodes,pods}`: the list, or `None` for another path
    /// (and when the API is off, so that the caller answers 404).
    pub fn list(&self, store: &Store, path: &str) -> Option<Value> {
        if self.mode() == Mode::Off {
            return None;
        }
        let timestamp = self.timestamp();
        match path.trim_end_matches('/') {
            "/apis/metrics.k8s.io/v1beta1/nodes" => Some(json!({
                "kind": "NodeMetricsList",
                "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {},
                "items": node_usage(store).into_iter().map(|(name, cpu, memory)| json!({
                    "metadata": {"name": name},
                    "timestamp": timestamp,
                    "window": "20s",
                    "usage": {"cpu": format!("{cpu}n"), "memory": format!("{}Ki", memory / 1024)},
                })).collect::<Vec<_>>(),
            })),
            "/apis/metrics.k8s.io/v1beta1/pods" => Some(json!({
                "kind": "PodMetricsList",
                "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {},
                "items": pod_usage(store).into_iter().map(|p| json!({
                    "metadata": {"name": p.name, "namespace": p.namespace},
                    "timestamp": timestamp,
                    "window": "20s",
                    "containers": p.containers.iter().map(|(name, cpu, memory)| json!({
                        "name": name,
                        "usage": {"cpu": format!("{cpu}n"), "memory": format!("{}Ki", memory / 1024)},
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })),
            _ => None,
        }
    }
}

/// One pod's sample: per container, cpu nanocores and memory bytes (a multiple of 1 Ki).
struct PodUsage {
    name: String,
    namespace: String,
    node: String,
    containers: Vec<(String, u64, u64)>,
}

/// FNV-1a of a text: the model's fixed "randomness".
fn hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A request in the unit the model works in: nanocores for cpu, bytes for memory (0 when absent
/// or unreadable).
fn request(resources: &Value, name: &str, cpu: bool) -> u64 {
    let Some(text) = resources["requests"][name].as_str() else {
        return 0;
    };
    let nanos = parse_nanos(text).unwrap_or(0).max(0);
    let value = if cpu { nanos } else { nanos / 1_000_000_000 };
    u64::try_from(value).unwrap_or(u64::MAX)
}

fn pod_usage(store: &Store) -> Vec<PodUsage> {
    let mut out = Vec::new();
    for pod in store.all(Kind::Pod) {
        if pod.node_name.is_empty() || &*pod.phase != "Running" {
            continue;
        }
        let Ok(value) = serde_json::from_slice::<Value>(&pod.json) else {
            continue;
        };
        let containers = value["spec"]["containers"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        let name = c["name"].as_str().unwrap_or_default().to_owned();
                        let share = 20 + hash(&format!("{}/{name}", pod.key)) % 100;
                        let cpu = request(&c["resources"], "cpu", true);
                        let memory = request(&c["resources"], "memory", false);
                        let cpu = if cpu == 0 {
                            5_000_000
                        } else {
                            cpu / 100 * share
                        };
                        let memory = if memory == 0 {
                            16 << 20
                        } else {
                            memory / 100 * share / 1024 * 1024
                        };
                        (name, cpu, memory)
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(PodUsage {
            name: pod.name.to_string(),
            namespace: pod.namespace.to_string(),
            node: pod.node_name.to_string(),
            containers,
        });
    }
    out
}

fn node_usage(store: &Store) -> Vec<(String, u64, u64)> {
    let pods = pod_usage(store);
    store
        .all(Kind::Node)
        .iter()
        .map(|node| {
            let (mut cpu, mut memory) = pods
                .iter()
                .filter(|p| *p.node == *node.name)
                .flat_map(|p| &p.containers)
                .fold((0u64, 0u64), |(c, m), (_, pc, pm)| {
                    (c.saturating_add(*pc), m.saturating_add(*pm))
                });
            if let Ok(value) = serde_json::from_slice::<Value>(&node.json) {
                let allocatable = json!({"requests": value["status"]["allocatable"]});
                cpu = cpu.saturating_add(request(&allocatable, "cpu", true) / 100 * 3);
                memory = memory
                    .saturating_add(request(&allocatable, "memory", false) / 100 * 3 / 1024 * 1024);
            }
            (node.name.to_string(), cpu, memory)
        })
        .collect()
}

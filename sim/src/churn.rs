//! Background change at a bounded rate, or a given number of operations at once: pods created
//! (drawn from the generation's mix) and deleted, keeping the requested share of the cluster's
//! cpu where it started; pods scheduled, moved, started, completed, failed or rolled; now and
//! then a node removed (its pods deleted, as the pod garbage collector would, and those of
//! controllers recreated) or added in its place (with its DaemonSet pods). Every pod it binds is
//! placed as kube-scheduler's filters would (`ledger.rs`, `schedule.rs`): only where it fits,
//! else it stays Pending. The sequence of operations is deterministic from the seed (timestamps
//! are wall-clock).
//!
//! It changes the cluster only through the store, with objects the generator makes; it serves no
//! HTTP and knows nothing of the listeners.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::clock::{now_unix, rfc3339};
use crate::generate::{
    churn_daemon_pod, churn_node, churn_pod, completes, workload_named, Mix, EDGE_CASE_LABEL,
};
use crate::ledger::Ledger;
use crate::object::{fill_identity, Kind, Object};
use crate::rng::Rng;
use crate::schedule::Constraints;
use crate::store::Store;

/// Highest accepted rate, so a typo cannot turn the simulator into a CPU heater.
pub const MAX_RATE: f64 = 5_000.0;

/// Most operations one `steps` call applies.
pub const MAX_STEPS: u64 = 1_000_000;

/// What the operations carry from one to the next.
struct State {
    rng: Rng,
    /// Objects made so far (names and UIDs of new objects derive from it).
    made: u64,
    ledger: Option<Ledger>,
    /// The cpu bound and Pending pods requested, and the allocatable cpu, when churn started
    /// (at the first operation that needs them): creation and deletion keep the ratio near
    /// where it was, as autoscalers size services to the cluster.
    cpu_at_start: Option<(u64, u64)>,
    /// The node count when churn started: nodes come and go around it.
    nodes_at_start: usize,
    /// Pools of removed nodes; a node added takes the oldest (a node group keeping its size).
    removed_pools: VecDeque<String>,
    /// Constraints and requests of a fresh pod per workload.
    fresh: HashMap<usize, (Constraints, Box<[u64]>)>,
    /// What new pods are drawn from: the mix the cluster was generated with.
    mix: Mix,
}

/// The churn switch shared with the control interface, and the operations' state.
pub struct Churn {
    /// Events per second times 1000 (0 = stopped).
    milli_rate: AtomicU64,
    store: Arc<Store>,
    seed: u64,
    state: Mutex<State>,
}

impl Churn {
    /// Starts the churn thread (idle until a rate is set); new pods are drawn from `mix`.
    pub fn start(store: Arc<Store>, seed: u64, rate: f64, mix: Mix) -> std::io::Result<Arc<Churn>> {
        let counts = store.counts();
        let churn = Arc::new(Churn {
            milli_rate: AtomicU64::new(0),
            store,
            seed,
            state: Mutex::new(State {
                rng: Rng::new(seed ^ 0x00C4_0A2C_4A2C),
                made: 0,
                ledger: None,
                cpu_at_start: None,
                nodes_at_start: counts.nodes,
                removed_pools: VecDeque::new(),
                fresh: HashMap::new(),
                mix,
            }),
        });
        churn.set_rate(rate);
        let shared = churn.clone();
        thread::Builder::new()
            .name("churn".into())
            .spawn(move || run(&shared))?;
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

    /// Applies `count` operations now, in the same sequence the timed churn would (at most
    /// [`MAX_STEPS`]); returns how many were applied.
    pub fn steps(&self, count: u64) -> Result<u64, String> {
        let count = count.min(MAX_STEPS);
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.ledger.is_none() {
            state.ledger = Some(Ledger::new()?);
        }
        let mut op = Op {
            store: &self.store,
            seed: self.seed,
            state: &mut state,
        };
        for _ in 0..count {
            op.step();
        }
        Ok(count)
    }
}

fn run(churn: &Churn) {
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
        if let Err(e) = churn.steps(1) {
            eprintln!("kube-sim: churn stopped: {e}");
            churn.set_rate(0.0);
        }
        next += Duration::from_secs_f64(1.0 / rate);
        // After a stall, do not burst to catch up by more than a second's worth.
        if Instant::now().saturating_duration_since(next) > Duration::from_secs(1) {
            next = Instant::now();
        }
    }
}

/// What a pod is, for the operations that pick one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PodKind {
    /// A DaemonSet's (recreated by its controller; churn leaves it alone).
    Daemon,
    /// A static pod's mirror (the kubelet's; churn leaves it alone).
    Static,
    /// Anything else: a controller's or a bare pod.
    Regular,
}

fn pod_kind(pod: &Object) -> PodKind {
    if pod.label("pod-template-generation").is_some() {
        PodKind::Daemon
    } else if pod.label("tier") == Some("control-plane") || pod.label("component").is_some() {
        PodKind::Static
    } else {
        PodKind::Regular
    }
}

fn node_ip(store: &Store, name: &str) -> String {
    store
        .get(Kind::Node, name)
        .and_then(|n| n.to_value().ok())
        .and_then(|v| {
            v.pointer("/status/addresses/0/address")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "10.0.0.1".to_string())
}

/// Binds a pod to a node as the scheduler's binding would (it stays Pending until started).
fn bind(pod: &mut Value, node: &str, ip: &str, now: &str) {
    pod["spec"]["nodeName"] = json!(node);
    pod["status"]["hostIP"] = json!(ip);
    pod["status"]["hostIPs"] = json!([{"ip": ip}]);
    if let Some(conditions) = pod
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    {
        for c in conditions
            .iter_mut()
            .filter(|c| c["type"] == "PodScheduled")
        {
            if let Some(c) = c.as_object_mut() {
                c.insert("status".into(), json!("True"));
                c.insert("lastTransitionTime".into(), json!(now));
                c.remove("reason");
                c.remove("message");
            }
        }
    }
}

/// One operation's access to the store and the state.
struct Op<'a> {
    store: &'a Store,
    seed: u64,
    state: &'a mut State,
}

impl Op<'_> {
    /// The ledger, caught up with the store.
    fn ledger(&mut self) -> Option<&Ledger> {
        let ledger = self.state.ledger.as_mut()?;
        ledger.sync(self.store);
        Some(ledger)
    }

    fn random_pod(&mut self) -> Option<Arc<Object>> {
        let key = self.store.key_at(Kind::Pod, self.state.rng.next_u64())?;
        self.store.get(Kind::Pod, &key)
    }

    fn report(result: Result<u64, String>) {
        if let Err(e) = result {
            eprintln!("kube-sim: churn step failed: {e}");
        }
    }

    /// One churn operation.
    fn step(&mut self) {
        let roll = self.state.rng.below(100);
        match roll {
            0..=54 => {
                let Some((demanded, allocatable)) = self.ledger().map(Ledger::cpu) else {
                    return;
                };
                let (demanded_then, allocatable_then) = *self
                    .state
                    .cpu_at_start
                    .get_or_insert((demanded, allocatable));
                let (now, then) = (
                    u128::from(demanded) * u128::from(allocatable_then),
                    u128::from(demanded_then) * u128::from(allocatable),
                );
                if now < then || (now == then && self.state.rng.chance(500)) {
                    self.scale_up();
                } else if let Some(pod) = self.random_pod() {
                    if pod_kind(&pod) == PodKind::Regular {
                        self.store.delete(Kind::Pod, &pod.key);
                    }
                }
            }
            55..=64 => {
                if let Some(pod) = self.random_pod() {
                    if pod_kind(&pod) == PodKind::Regular
                        && pod.phase.as_ref() != "Succeeded"
                        && pod.phase.as_ref() != "Failed"
                    {
                        let except = (!pod.node_name.is_empty()).then(|| pod.node_name.to_string());
                        self.schedule(&pod, except.as_deref());
                    }
                }
            }
            65..=94 => self.advance(),
            _ => self.resize_cluster(),
        }
    }

    /// A new pod (a Deployment scaled up, a Job started) drawn from the cluster's mix, placed
    /// where it fits, else Pending.
    fn scale_up(&mut self) {
        let workload = self.state.mix.draw(&mut self.state.rng);
        self.create(workload);
    }

    /// Creates a pod of `workload` where it fits, else Pending.
    fn create(&mut self, workload: usize) {
        let n = self.state.made;
        self.state.made += 1;
        let seed = self.seed;
        if !self.state.fresh.contains_key(&workload) {
            let template = churn_pod(seed, 0, workload, None, 0);
            let Some(ledger) = self.state.ledger.as_ref() else {
                return;
            };
            let (Ok(constraints), Ok(demand)) = (
                Constraints::of_pod(&template),
                ledger.accounting().pod(&template),
            ) else {
                return;
            };
            self.state
                .fresh
                .insert(workload, (constraints, demand.requests));
        }
        if self.ledger().is_none() {
            return;
        }
        let State {
            ledger: Some(ledger),
            fresh,
            rng,
            ..
        } = &mut *self.state
        else {
            return;
        };
        let Some((constraints, requests)) = fresh.get(&workload) else {
            return;
        };
        let node = ledger.place(constraints, requests, None, rng);
        let now = now_unix();
        let target = node.map(|name| {
            let ip = node_ip(self.store, &name);
            (name.to_string(), ip)
        });
        let mut pod = churn_pod(
            seed,
            n,
            workload,
            target.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
            now,
        );
        let mut rng = Rng::for_item(seed, 11, n);
        fill_identity(&mut pod, || rng.uuid(), &rfc3339(now));
        Self::report(self.store.upsert(pod));
    }

    /// Binds a non-terminal pod to a node other than `except` where it fits (a Pending pod the
    /// scheduler retries; a bound pod moved); nothing when none fits.
    fn schedule(&mut self, pod: &Object, except: Option<&str>) {
        let Ok(value) = pod.to_value() else { return };
        if self.ledger().is_none() {
            return;
        }
        let State {
            ledger: Some(ledger),
            rng,
            ..
        } = &mut *self.state
        else {
            return;
        };
        let (Ok(constraints), Ok(demand)) =
            (Constraints::of_pod(&value), ledger.accounting().pod(&value))
        else {
            return;
        };
        let node = ledger.place(&constraints, &demand.requests, except, rng);
        if let Some(node) = node {
            let ip = node_ip(self.store, &node);
            let now = rfc3339(now_unix());
            Self::report(
                self.store
                    .mutate(Kind::Pod, &pod.key, |v| bind(v, &node, &ip, &now))
                    .map_err(|e| format!("{e:?}")),
            );
        }
    }

    /// A pod's life moves on: Pending pods start (or get scheduled), Job pods complete, a few
    /// pods fail, others are rolled (deleted and recreated), finished pods are cleaned up.
    fn advance(&mut self) {
        let Some(pod) = self.random_pod() else { return };
        if pod_kind(&pod) != PodKind::Regular {
            return;
        }
        let now = rfc3339(now_unix());
        let workload = pod.label("app.kubernetes.io/name").and_then(workload_named);
        let next = match pod.phase.as_ref() {
            "Pending" if pod.node_name.is_empty() => {
                self.schedule(&pod, None);
                return;
            }
            "Pending" => "Running",
            "Running" if workload.is_some_and(completes) => {
                if self.state.rng.chance(900) {
                    "Succeeded"
                } else {
                    "Failed"
                }
            }
            "Running" if self.state.rng.chance(50) => "Failed",
            "Running" => {
                self.store.delete(Kind::Pod, &pod.key);
                if let Some(w) = workload {
                    self.create(w);
                }
                return;
            }
            _ => {
                self.store.delete(Kind::Pod, &pod.key);
                return;
            }
        };
        Self::report(
            self.store
                .mutate(Kind::Pod, &pod.key, |v| set_phase(v, next, &now))
                .map_err(|e| format!("{e:?}")),
        );
    }

    /// A node goes or comes, keeping the node count near where it started: a removed node's pods
    /// are deleted and those of controllers recreated where they fit; an added node takes the
    /// pool of the oldest removed one and gets its DaemonSet pods.
    fn resize_cluster(&mut self) {
        let (count, daemonsets) = match self.ledger() {
            Some(l) => (l.node_count(), l.daemonsets()),
            None => return,
        };
        let add = count < self.state.nodes_at_start
            || (count == self.state.nodes_at_start && self.state.rng.chance(500));
        if add {
            let n = self.state.made;
            self.state.made += 1;
            let pool = self
                .state
                .removed_pools
                .pop_front()
                .unwrap_or_else(|| "general".to_string());
            let now = now_unix();
            let mut node = churn_node(self.seed, n, &pool, now);
            let mut rng = Rng::for_item(self.seed, 11, n);
            fill_identity(&mut node, || rng.uuid(), &rfc3339(now));
            let name = node["metadata"]["name"].as_str().unwrap_or("").to_string();
            let ip = node
                .pointer("/status/addresses/0/address")
                .and_then(Value::as_str)
                .unwrap_or("10.0.0.1")
                .to_string();
            Self::report(self.store.upsert(node));
            for ds in daemonsets {
                if let Some(mut pod) = churn_daemon_pod(self.seed, n, &ds, (&name, &ip), now) {
                    fill_identity(&mut pod, || rng.uuid(), &rfc3339(now));
                    Self::report(self.store.upsert(pod));
                }
            }
            return;
        }
        let Some(key) = self.store.key_at(Kind::Node, self.state.rng.next_u64()) else {
            return;
        };
        let (protected, pool) = match self.ledger() {
            Some(l) => (
                l.node_label(&key, "node-role.kubernetes.io/control-plane")
                    .is_some()
                    || l.node_label(&key, EDGE_CASE_LABEL).is_some(),
                l.node_label(&key, "eks.amazonaws.com/nodegroup")
                    .unwrap_or("general")
                    .to_string(),
            ),
            None => return,
        };
        if protected || self.store.delete(Kind::Node, &key).is_none() {
            return;
        }
        self.state.removed_pools.push_back(pool);
        // The pod garbage collector deletes the pods of a node that is gone; controllers
        // recreate theirs, and the scheduler places them where they fit.
        let mut recreate = Vec::new();
        for pod in self.store.all(Kind::Pod) {
            if *pod.node_name != *key {
                continue;
            }
            self.store.delete(Kind::Pod, &pod.key);
            let terminal = matches!(pod.phase.as_ref(), "Succeeded" | "Failed");
            if pod_kind(&pod) == PodKind::Regular && !terminal {
                if let Some(w) = pod.label("app.kubernetes.io/name").and_then(workload_named) {
                    recreate.push(w);
                }
            }
        }
        for w in recreate {
            self.create(w);
        }
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

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
    allocate, churn_daemon_pod, churn_node, churn_pod, completes, deallocate, extended_claim,
    node_slice, pod_claim, result_request, strip_gpu_requests, workload_named, Allocated, Mix,
    EDGE_CASE_LABEL, GPU_DRIVER, GPU_RESOURCE, NIC_DRIVER,
};
use crate::ledger::{Ledger, PoolId};
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
    /// Pools of removed nodes, with the GPU devices their node-local slices published and
    /// whether they advertised `nvidia.com/gpu`; a node added takes the oldest (a node group
    /// keeping its size).
    removed_pools: VecDeque<(String, usize, bool)>,
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

    /// Republishes pool `pool` of `driver` now (generation + 1: new slices first, then the old
    /// ones deleted); the new generation, or None when there is no such pool.
    pub fn republish(&self, driver: &str, pool: &str) -> Result<Option<u64>, String> {
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
        Ok(op.republish(&(driver.into(), pool.into())))
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
                        self.delete_pod(&pod.key);
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
            65..=90 => self.advance(),
            91..=94 => self.dra_step(),
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
        let claim = target
            .as_ref()
            .and_then(|(name, _)| self.extended_for(&mut pod, name));
        Self::report(self.store.upsert(pod));
        if let Some(claim) = claim {
            Self::report(self.store.upsert(claim));
        }
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
        // Claims the pod names that wait for devices; a pod holding devices of its own claims
        // is not moved.
        let mut needs: Vec<(&str, usize)> = Vec::new();
        let mut waiting = Vec::new();
        for key in ledger.claims_of(&pod.key) {
            let Some(claim) = ledger.claim(&key) else {
                continue;
            };
            if claim.extended {
                continue;
            }
            if except.is_some() && !claim.results.is_empty() {
                return;
            }
            if claim.results.is_empty() {
                let driver = match claim.class.as_ref() {
                    GPU_DRIVER => GPU_DRIVER,
                    NIC_DRIVER => NIC_DRIVER,
                    // A class no device of the cluster matches: it never gets allocated.
                    _ => return,
                };
                needs.push((driver, 1));
                waiting.push(key);
            }
        }
        let Some(node) = ledger.place_with(&constraints, &demand.requests, &needs, except, rng)
        else {
            return;
        };
        let ip = node_ip(self.store, &node);
        let now = rfc3339(now_unix());
        if except.is_some() {
            // Moved: the scheduler's claim for its GPUs on the old node goes.
            self.release_claims(&pod.key);
        }
        let mut value = value;
        if let Some(status) = value.get_mut("status").and_then(Value::as_object_mut) {
            status.remove("extendedResourceClaimStatus");
        }
        bind(&mut value, &node, &ip, &now);
        let claim = self.extended_for(&mut value, &node);
        Self::report(self.store.upsert(value.clone()));
        if let Some(claim) = claim {
            Self::report(self.store.upsert(claim));
        }
        for key in waiting {
            self.allocate_claim(&key, &value, &node);
        }
    }

    /// The KEP-5004 claim of a pod bound to `node` when the node's GPUs are DRA devices and the
    /// pod asks for some (its status is set); None otherwise.
    fn extended_for(&mut self, pod: &mut Value, node: &str) -> Option<Value> {
        let n = self.state.made;
        self.state.made += 1;
        let ledger = self.ledger()?;
        if !ledger.gpu_backed(node) {
            return None;
        }
        let free: Vec<String> = ledger
            .free_devices(node, GPU_DRIVER)
            .into_iter()
            .filter(|(pool, _, _)| &*pool.1 == node)
            .map(|(_, device, _)| device.to_string())
            .collect();
        let mut rng = Rng::for_item(self.seed, 12, n);
        extended_claim(pod, node, &free, &mut rng)
    }

    /// Allocates a waiting claim one free device its class's driver has on `node`, reserved
    /// for `pod`.
    fn allocate_claim(&mut self, key: &str, pod: &Value, node: &str) {
        let Some(ledger) = self.ledger() else { return };
        let Some(class) = ledger.claim(key).map(|c| c.class.to_string()) else {
            return;
        };
        let Some((pool, device, selector)) = ledger.free_devices(node, &class).into_iter().next()
        else {
            return;
        };
        Self::report(
            self.store
                .mutate(Kind::ResourceClaim, key, |claim| {
                    let result: Allocated = (
                        result_request(claim),
                        pool.0.to_string(),
                        pool.1.to_string(),
                        device.to_string(),
                    );
                    allocate(claim, &[result], selector, pod);
                })
                .map_err(|e| format!("{e:?}")),
        );
    }

    /// Deletes a pod and lets its claims go.
    fn delete_pod(&mut self, key: &str) {
        if self.store.delete(Kind::Pod, key).is_some() {
            self.release_claims(key);
        }
    }

    /// A pod is gone or done: the claims it owns are deleted (garbage collection), those only
    /// reserved for it lose their allocation.
    fn release_claims(&mut self, pod: &str) {
        let Some(ledger) = self.ledger() else { return };
        let claims: Vec<(Box<str>, bool)> = ledger
            .claims_of(pod)
            .into_iter()
            .map(|k| {
                let owned = ledger
                    .claim(&k)
                    .is_some_and(|c| c.owner.as_deref() == Some(pod));
                (k, owned)
            })
            .collect();
        for (key, owned) in claims {
            if owned {
                self.store.delete(Kind::ResourceClaim, &key);
            } else {
                Self::report(
                    self.store
                        .mutate(Kind::ResourceClaim, &key, deallocate)
                        .map_err(|e| format!("{e:?}")),
                );
            }
        }
    }

    /// A node is gone: the claims holding devices of its node-local pools lose them, then its
    /// driver's slices are deleted.
    fn unpublish_node(&mut self, node: &str) {
        let Some(ledger) = self.ledger() else { return };
        let pools = ledger.node_pool_ids(node);
        let claims: Vec<Box<str>> = pools.iter().flat_map(|p| ledger.claims_from(p)).collect();
        let slices: Vec<Box<str>> = pools
            .iter()
            .flat_map(|p| ledger.all_pool_slices(p))
            .collect();
        for key in claims {
            Self::report(
                self.store
                    .mutate(Kind::ResourceClaim, &key, deallocate)
                    .map_err(|e| format!("{e:?}")),
            );
        }
        for key in slices {
            self.store.delete(Kind::ResourceSlice, &key);
        }
    }

    /// A driver republishes a pool: new slices with the next generation (same devices, new
    /// names) first, then the old ones deleted. Returns the new generation.
    fn republish(&mut self, pool: &PoolId) -> Option<u64> {
        let n = self.state.made;
        self.state.made += 1;
        let ledger = self.ledger()?;
        let (generation, current) = ledger.pool_slices(pool)?;
        let old = ledger.all_pool_slices(pool);
        let mut rng = Rng::for_item(self.seed, 13, n);
        let now = rfc3339(now_unix());
        for key in current {
            let Some(mut v) = self
                .store
                .get(Kind::ResourceSlice, &key)
                .and_then(|o| o.to_value().ok())
            else {
                continue;
            };
            let stem = v["metadata"]["generateName"]
                .as_str()
                .map_or_else(|| format!("{}-{}-", pool.0, pool.1), str::to_string);
            v["metadata"] = json!({"name": format!("{stem}{}", rng.suffix(5)), "generateName": stem,
                "uid": rng.uuid(), "creationTimestamp": now, "generation": 1,
                "ownerReferences": v["metadata"].get("ownerReferences").cloned().unwrap_or(json!([]))});
            v["spec"]["pool"]["generation"] = json!(generation + 1);
            Self::report(self.store.upsert(v));
        }
        for key in old {
            self.store.delete(Kind::ResourceSlice, &key);
        }
        Some(generation + 1)
    }

    /// One DRA operation: a pod naming a claim created (a GPU of its node or a NIC of the
    /// shared pool), a claim-using pod deleted, a claim's allocation released (its pod done),
    /// or a pool republished.
    fn dra_step(&mut self) {
        match self.state.rng.below(4) {
            0 => self.create_claim_pod(),
            1 | 2 => {
                let Some(key) = self
                    .store
                    .key_at(Kind::ResourceClaim, self.state.rng.next_u64())
                else {
                    return;
                };
                let Some(ledger) = self.ledger() else { return };
                let Some(claim) = ledger.claim(&key) else {
                    return;
                };
                let pod = claim
                    .owner
                    .clone()
                    .or_else(|| claim.reserved.first().cloned());
                let allocated = !claim.results.is_empty();
                match pod.and_then(|p| self.store.get(Kind::Pod, &p)) {
                    Some(pod) if pod_kind(&pod) == PodKind::Regular => self.delete_pod(&pod.key),
                    Some(_) => {}
                    None if allocated => Self::report(
                        self.store
                            .mutate(Kind::ResourceClaim, &key, deallocate)
                            .map_err(|e| format!("{e:?}")),
                    ),
                    None => {
                        self.store.delete(Kind::ResourceClaim, &key);
                    }
                }
            }
            _ => {
                let Some(ledger) = self.ledger() else { return };
                let pools = ledger.pool_ids();
                if pools.is_empty() {
                    return;
                }
                let pool = pools[self.state.rng.index(pools.len())].clone();
                self.republish(&pool);
            }
        }
    }

    /// A pod of the GPU workload that names a claim: one GPU of its node or one NIC of the
    /// shared pool, allocated where it fits, else Pending with its claim pending.
    fn create_claim_pod(&mut self) {
        let Some(workload) = workload_named("inference") else {
            return;
        };
        let n = self.state.made;
        self.state.made += 1;
        let now = now_unix();
        let stamp = rfc3339(now);
        let mut pod = churn_pod(self.seed, n, workload, None, now);
        let mut rng = Rng::for_item(self.seed, 14, n);
        fill_identity(&mut pod, || rng.uuid(), &stamp);
        strip_gpu_requests(&mut pod);
        let (pod_claim_name, driver) = if self.state.rng.chance(500) {
            ("gpu", GPU_DRIVER)
        } else {
            ("nic", NIC_DRIVER)
        };
        let mut claim = pod_claim(&mut pod, pod_claim_name, driver, false, &mut rng);
        if self.ledger().is_none() {
            return;
        }
        let State {
            ledger: Some(ledger),
            rng: draw,
            ..
        } = &mut *self.state
        else {
            return;
        };
        let (Ok(constraints), Ok(demand)) =
            (Constraints::of_pod(&pod), ledger.accounting().pod(&pod))
        else {
            return;
        };
        if let Some(node) =
            ledger.place_with(&constraints, &demand.requests, &[(driver, 1)], None, draw)
        {
            if let Some((pool, device, selector)) =
                ledger.free_devices(&node, driver).into_iter().next()
            {
                let ip = node_ip(self.store, &node);
                bind(&mut pod, &node, &ip, &stamp);
                let result: Allocated = (
                    result_request(&claim),
                    pool.0.to_string(),
                    pool.1.to_string(),
                    device.to_string(),
                );
                allocate(&mut claim, &[result], selector, &pod);
            }
        }
        Self::report(self.store.upsert(pod));
        Self::report(self.store.upsert(claim));
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
                self.delete_pod(&pod.key);
                if let Some(w) = workload {
                    self.create(w);
                }
                return;
            }
            _ => {
                self.delete_pod(&pod.key);
                return;
            }
        };
        Self::report(
            self.store
                .mutate(Kind::Pod, &pod.key, |v| set_phase(v, next, &now))
                .map_err(|e| format!("{e:?}")),
        );
        if matches!(next, "Succeeded" | "Failed") {
            // A finished pod's devices go back to their pools.
            self.release_claims(&pod.key);
        }
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
            let (pool, devices, advertised) = self
                .state
                .removed_pools
                .pop_front()
                .unwrap_or_else(|| ("general".to_string(), 0, true));
            let now = now_unix();
            let mut node = churn_node(self.seed, n, &pool, now);
            if !advertised {
                for field in ["capacity", "allocatable"] {
                    if let Some(m) = node["status"][field].as_object_mut() {
                        m.remove(GPU_RESOURCE);
                    }
                }
            }
            let mut rng = Rng::for_item(self.seed, 11, n);
            fill_identity(&mut node, || rng.uuid(), &rfc3339(now));
            let name = node["metadata"]["name"].as_str().unwrap_or("").to_string();
            let uid = node["metadata"]["uid"].as_str().unwrap_or("").to_string();
            let ip = node
                .pointer("/status/addresses/0/address")
                .and_then(Value::as_str)
                .unwrap_or("10.0.0.1")
                .to_string();
            Self::report(self.store.upsert(node));
            if devices > 0 {
                let slice = node_slice(&name, &uid, devices, 1, &rfc3339(now), &mut rng);
                Self::report(self.store.upsert(slice));
            }
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
        let (protected, pool, devices, advertised) = match self.ledger() {
            Some(l) => (
                l.node_label(&key, "node-role.kubernetes.io/control-plane")
                    .is_some()
                    || l.node_label(&key, EDGE_CASE_LABEL).is_some(),
                l.node_label(&key, "eks.amazonaws.com/nodegroup")
                    .unwrap_or("general")
                    .to_string(),
                usize::try_from(l.node_gpus(&key).0).unwrap_or(0),
                !l.gpu_backed(&key),
            ),
            None => return,
        };
        if protected || self.store.delete(Kind::Node, &key).is_none() {
            return;
        }
        self.state
            .removed_pools
            .push_back((pool, devices, advertised));
        // The pod garbage collector deletes the pods of a node that is gone; controllers
        // recreate theirs, and the scheduler places them where they fit.
        let mut recreate = Vec::new();
        for pod in self.store.all(Kind::Pod) {
            if *pod.node_name != *key {
                continue;
            }
            self.delete_pod(&pod.key);
            let terminal = matches!(pod.phase.as_ref(), "Succeeded" | "Failed");
            if pod_kind(&pod) == PodKind::Regular && !terminal {
                if let Some(w) = pod.label("app.kubernetes.io/name").and_then(workload_named) {
                    recreate.push(w);
                }
            }
        }
        // Its driver's slices go with it, after the claims holding their devices.
        self.unpublish_node(&key);
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

#[cfg(test)]
mod dra_tests {
    use super::*;
    use crate::generate::generate;
    use crate::invariants::check_dra;

    fn check(store: &Store) {
        let objects: Vec<Arc<Object>> = [Kind::ResourceSlice, Kind::ResourceClaim]
            .into_iter()
            .flat_map(|k| store.all(k))
            .collect();
        check_dra(objects.iter().map(AsRef::as_ref)).unwrap();
    }

    #[test]
    fn dra_promises_hold_at_every_step_of_churn() {
        for (nodes, pods, seed, every) in [(12, 400, 1, 1), (12, 300, 9, 1), (500, 6000, 3, 100)] {
            let cluster = generate(nodes, pods, seed).unwrap();
            let store = Arc::new(Store::new(100_000));
            store.load(cluster.objects);
            check(&store);
            let churn = Churn::start(store.clone(), seed, 0.0, cluster.mix).unwrap();
            let before = store.counts();
            for _ in 0..2000 / every {
                churn.steps(every).unwrap();
                check(&store);
            }
            let after = store.counts();
            eprintln!(
                "{nodes} nodes seed {seed}: slices {} → {}, claims {} → {}",
                before.resource_slices,
                after.resource_slices,
                before.resource_claims,
                after.resource_claims
            );
            // Republishing by hand bumps the generation and keeps the promises.
            let pool = store
                .all(Kind::ResourceSlice)
                .first()
                .and_then(|s| s.to_value().ok())
                .map(|v| {
                    (
                        v["spec"]["driver"].as_str().unwrap().to_string(),
                        v["spec"]["pool"]["name"].as_str().unwrap().to_string(),
                        v["spec"]["pool"]["generation"].as_u64().unwrap(),
                    )
                })
                .unwrap();
            let generation = churn.republish(&pool.0, &pool.1).unwrap().unwrap();
            assert!(generation > pool.2);
            check(&store);
        }
    }
}

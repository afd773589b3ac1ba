//! What kube-scheduler's cache would hold, for churn: per node its facts (labels, taints,
//! cordon) and allocatable, and the sum of the requests of the pods bound to it (the exporter's
//! accounting, through `schedule.rs`); and DRA's: the pools of devices ResourceSlices publish
//! (current generation per pool), which claims hold which devices, and which pods hold which
//! claims. On a node that does not advertise `nvidia.com/gpu` but publishes GPU devices, a GPU
//! request takes free devices (KEP-5004). It keeps in step with the store by replaying the store's
//! event history (a full rebuild from a consistent list when the history no longer reaches
//! back), so that objects written through the control interface count as well.
//!
//! It reads the store and never writes it; what to change is churn's to decide.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;
use std::sync::Arc;

use crate::object::{Kind, Object};
use crate::rng::Rng;
use crate::schedule::{
    fits, tightest_ratio, Accounting, Constraints, NodeFacts, NodeSelector, CPU, GPU, RESOURCES,
};
use crate::select::Filter;
use crate::store::{EventType, Store};

/// The label only DaemonSet pods carry (with `app.kubernetes.io/name` = the DaemonSet).
const DAEMONSET_LABEL: &str = "pod-template-generation";

/// A pod the ledger counts: its node (empty while Pending) and its requests.
struct PodEntry {
    node: Box<str>,
    requests: Box<[u64]>,
}

struct NodeEntry {
    facts: NodeFacts,
    allocatable: Box<[u64]>,
}

/// A pool of devices: (driver, pool name).
pub type PoolId = (Box<str>, Box<str>);

/// What the ledger keeps of a ResourceSlice.
struct SliceEntry {
    pool: PoolId,
    generation: u64,
    /// `spec.nodeName` (empty unless node-local).
    node: Box<str>,
    /// `spec.nodeSelector`, with its JSON (an allocation from the slice carries it).
    selector: Option<(NodeSelector, Value)>,
    all_nodes: bool,
    devices: Vec<Box<str>>,
}

/// What the ledger keeps of a ResourceClaim.
pub struct ClaimEntry {
    /// Key of the pod that owns it (`ownerReferences`), if any.
    pub owner: Option<Box<str>>,
    /// Keys of the pods it is reserved for.
    pub reserved: Vec<Box<str>>,
    /// Allocated devices: (pool, device).
    pub results: Vec<(PoolId, Box<str>)>,
    /// A KEP-5004 claim the scheduler made for an extended resource.
    pub extended: bool,
    /// The DeviceClass its first request names.
    pub class: Box<str>,
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The scheduler's view of the cluster, as of resourceVersion `rv`.
pub struct Ledger {
    accounting: Accounting,
    /// The store version replayed so far (0 = never built).
    rv: u64,
    nodes: BTreeMap<Box<str>, NodeEntry>,
    /// Node names in key order, for sampling; rebuilt after nodes come or go.
    names: Vec<Box<str>>,
    /// Requests of counting pods per node name (a node may be gone while its pods remain).
    used: HashMap<Box<str>, Vec<u64>>,
    /// Counting pods: key → (node, requests); Pending pods without a node have an empty node.
    pods: HashMap<Box<str>, PodEntry>,
    /// Requests of counting and Pending pods together: what the workloads ask for.
    demanded: Vec<u64>,
    /// DaemonSet name → pods of it.
    daemonsets: BTreeMap<Box<str>, usize>,
    /// ResourceSlices by key.
    slices: HashMap<Box<str>, SliceEntry>,
    /// Slice keys per pool.
    pools: BTreeMap<PoolId, BTreeSet<Box<str>>>,
    /// Node-local pools per node.
    node_pools: HashMap<Box<str>, BTreeSet<PoolId>>,
    /// ResourceClaims by key.
    claims: BTreeMap<Box<str>, ClaimEntry>,
    /// Allocated devices per pool.
    allocated: HashMap<PoolId, BTreeSet<Box<str>>>,
    /// Claims per pod key (owned or reserved).
    pod_claims: HashMap<Box<str>, BTreeSet<Box<str>>>,
}

impl Ledger {
    /// An empty ledger; the first `sync` builds it.
    pub fn new() -> Result<Ledger, String> {
        Ok(Ledger {
            accounting: Accounting::new()?,
            rv: 0,
            nodes: BTreeMap::new(),
            names: Vec::new(),
            used: HashMap::new(),
            pods: HashMap::new(),
            demanded: vec![0; RESOURCES.len()],
            daemonsets: BTreeMap::new(),
            slices: HashMap::new(),
            pools: BTreeMap::new(),
            node_pools: HashMap::new(),
            claims: BTreeMap::new(),
            allocated: HashMap::new(),
            pod_claims: HashMap::new(),
        })
    }

    /// The accounting it counts with.
    pub fn accounting(&self) -> &Accounting {
        &self.accounting
    }

    /// Catches up with the store.
    pub fn sync(&mut self, store: &Store) {
        if self.rv > 0 {
            if let Ok((events, rv, _)) = store.events_after(self.rv) {
                let mut nodes_changed = false;
                for event in events {
                    nodes_changed |= event.object.kind == Kind::Node;
                    if let Some(prev) = &event.prev {
                        self.forget(prev);
                    }
                    if event.event_type != EventType::Deleted {
                        self.learn(&event.object);
                    }
                }
                self.rv = rv;
                if nodes_changed {
                    self.names = self.nodes.keys().cloned().collect();
                }
                return;
            }
        }
        self.rebuild(store);
    }

    fn rebuild(&mut self, store: &Store) {
        let rv = store.current_rv();
        self.nodes.clear();
        self.used.clear();
        self.pods.clear();
        self.demanded = vec![0; RESOURCES.len()];
        self.daemonsets.clear();
        self.slices.clear();
        self.pools.clear();
        self.node_pools.clear();
        self.claims.clear();
        self.allocated.clear();
        self.pod_claims.clear();
        let all = Filter::default();
        for kind in [
            Kind::Node,
            Kind::Pod,
            Kind::ResourceSlice,
            Kind::ResourceClaim,
        ] {
            if let Ok(page) = store.list(kind, Some(rv), None, 0, &all) {
                for object in &page.items {
                    self.learn(object);
                }
            }
        }
        self.rv = rv;
        self.names = self.nodes.keys().cloned().collect();
    }

    fn learn(&mut self, object: &Arc<Object>) {
        match object.kind {
            Kind::Node => {
                let Ok(value) = object.to_value() else { return };
                if let (Ok(facts), Ok(allocatable)) = (
                    NodeFacts::of_node(&value),
                    self.accounting.node_allocatable(&value),
                ) {
                    self.nodes
                        .insert(object.key.clone(), NodeEntry { facts, allocatable });
                }
            }
            Kind::Pod => {
                if object.label(DAEMONSET_LABEL).is_some() {
                    if let Some(name) = object.label("app.kubernetes.io/name") {
                        *self.daemonsets.entry(name.into()).or_insert(0) += 1;
                    }
                }
                let Ok(demand) = self.accounting.pod_bytes(&object.json) else {
                    return;
                };
                let pending = object.node_name.is_empty()
                    && !matches!(object.phase.as_ref(), "Succeeded" | "Failed");
                if !demand.counts && !pending {
                    return;
                }
                for (d, r) in self.demanded.iter_mut().zip(demand.requests.iter()) {
                    *d = d.saturating_add(*r);
                }
                if !pending {
                    let used = self
                        .used
                        .entry(object.node_name.clone())
                        .or_insert_with(|| vec![0; RESOURCES.len()]);
                    for (u, r) in used.iter_mut().zip(demand.requests.iter()) {
                        *u = u.saturating_add(*r);
                    }
                }
                self.pods.insert(
                    object.key.clone(),
                    PodEntry {
                        node: if pending {
                            Box::from("")
                        } else {
                            object.node_name.clone()
                        },
                        requests: demand.requests,
                    },
                );
            }
            Kind::ResourceSlice => self.learn_slice(object),
            Kind::ResourceClaim => self.learn_claim(object),
            Kind::DeviceClass => {}
        }
    }

    fn forget(&mut self, object: &Arc<Object>) {
        match object.kind {
            Kind::Node => {
                self.nodes.remove(&object.key);
            }
            Kind::Pod => {
                if object.label(DAEMONSET_LABEL).is_some() {
                    if let Some(count) = object
                        .label("app.kubernetes.io/name")
                        .and_then(|name| self.daemonsets.get_mut(name))
                    {
                        *count = count.saturating_sub(1);
                    }
                }
                if let Some(PodEntry { node, requests }) = self.pods.remove(&object.key) {
                    for (d, r) in self.demanded.iter_mut().zip(requests.iter()) {
                        *d = d.saturating_sub(*r);
                    }
                    if node.is_empty() {
                        return;
                    }
                    if let Some(used) = self.used.get_mut(&node) {
                        for (u, r) in used.iter_mut().zip(requests.iter()) {
                            *u = u.saturating_sub(*r);
                        }
                    }
                }
            }
            Kind::ResourceSlice => self.forget_slice(&object.key),
            Kind::ResourceClaim => self.forget_claim(&object.key),
            Kind::DeviceClass => {}
        }
    }

    fn learn_slice(&mut self, object: &Arc<Object>) {
        let Ok(v) = object.to_value() else { return };
        let pool: PoolId = (
            text(&v, "/spec/driver").into(),
            text(&v, "/spec/pool/name").into(),
        );
        let selector = v
            .pointer("/spec/nodeSelector")
            .and_then(|s| NodeSelector::of_value(s).ok().map(|n| (n, s.clone())));
        let devices = v
            .pointer("/spec/devices")
            .and_then(Value::as_array)
            .map(|d| d.iter().map(|d| text(d, "/name").into()).collect())
            .unwrap_or_default();
        let node: Box<str> = text(&v, "/spec/nodeName").into();
        if !node.is_empty() {
            self.node_pools
                .entry(node.clone())
                .or_default()
                .insert(pool.clone());
        }
        self.pools
            .entry(pool.clone())
            .or_default()
            .insert(object.key.clone());
        self.slices.insert(
            object.key.clone(),
            SliceEntry {
                pool,
                generation: v
                    .pointer("/spec/pool/generation")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
                node,
                selector,
                all_nodes: v.pointer("/spec/allNodes") == Some(&Value::Bool(true)),
                devices,
            },
        );
    }

    fn forget_slice(&mut self, key: &str) {
        let Some(entry) = self.slices.remove(key) else {
            return;
        };
        if let Some(keys) = self.pools.get_mut(&entry.pool) {
            keys.remove(key);
            if keys.is_empty() {
                self.pools.remove(&entry.pool);
                if let Some(pools) = self.node_pools.get_mut(&entry.node) {
                    pools.remove(&entry.pool);
                    if pools.is_empty() {
                        self.node_pools.remove(&entry.node);
                    }
                }
            }
        }
    }

    fn learn_claim(&mut self, object: &Arc<Object>) {
        let Ok(v) = object.to_value() else { return };
        let ns = object.namespace.as_ref();
        let owner = v
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .and_then(|refs| refs.iter().find(|r| text(r, "/kind") == "Pod"))
            .map(|r| Box::from(format!("{ns}/{}", text(r, "/name"))));
        let reserved: Vec<Box<str>> = v
            .pointer("/status/reservedFor")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .map(|r| Box::from(format!("{ns}/{}", text(r, "/name"))))
                    .collect()
            })
            .unwrap_or_default();
        let results: Vec<(PoolId, Box<str>)> = v
            .pointer("/status/allocation/devices/results")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .map(|r| {
                        (
                            (text(r, "/driver").into(), text(r, "/pool").into()),
                            text(r, "/device").into(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (pool, device) in &results {
            self.allocated
                .entry(pool.clone())
                .or_default()
                .insert(device.clone());
        }
        for pod in owner.iter().chain(&reserved) {
            self.pod_claims
                .entry(pod.clone())
                .or_default()
                .insert(object.key.clone());
        }
        self.claims.insert(
            object.key.clone(),
            ClaimEntry {
                owner,
                reserved,
                results,
                extended: v
                    .pointer(
                        "/metadata/annotations/resource.kubernetes.io~1extended-resource-claim",
                    )
                    .is_some(),
                class: crate::generate::claim_class(&v).into(),
            },
        );
    }

    fn forget_claim(&mut self, key: &str) {
        let Some(entry) = self.claims.remove(key) else {
            return;
        };
        for (pool, device) in &entry.results {
            if let Some(set) = self.allocated.get_mut(pool) {
                set.remove(device);
            }
        }
        for pod in entry.owner.iter().chain(&entry.reserved) {
            if let Some(set) = self.pod_claims.get_mut(pod) {
                set.remove(key);
                if set.is_empty() {
                    self.pod_claims.remove(pod);
                }
            }
        }
    }

    /// The generation a pool is at (its newest slices'), and their keys.
    pub fn pool_slices(&self, pool: &PoolId) -> Option<(u64, Vec<Box<str>>)> {
        let keys = self.pools.get(pool)?;
        let generation = keys
            .iter()
            .filter_map(|k| self.slices.get(k))
            .map(|s| s.generation)
            .max()?;
        Some((
            generation,
            keys.iter()
                .filter(|k| {
                    self.slices
                        .get(*k)
                        .is_some_and(|s| s.generation == generation)
                })
                .cloned()
                .collect(),
        ))
    }

    /// Every slice key of a pool, whatever its generation.
    pub fn all_pool_slices(&self, pool: &PoolId) -> Vec<Box<str>> {
        self.pools
            .get(pool)
            .map(|k| k.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The pools, in order.
    pub fn pool_ids(&self) -> Vec<PoolId> {
        self.pools.keys().cloned().collect()
    }

    /// The node-local pools of a node.
    pub fn node_pool_ids(&self, node: &str) -> Vec<PoolId> {
        self.node_pools
            .get(node)
            .map(|p| p.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The claims of a pod (owned or reserved), by key.
    pub fn claims_of(&self, pod: &str) -> Vec<Box<str>> {
        self.pod_claims
            .get(pod)
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A claim's entry.
    pub fn claim(&self, key: &str) -> Option<&ClaimEntry> {
        self.claims.get(key)
    }

    /// Keys of the claims allocated from a pool.
    pub fn claims_from(&self, pool: &PoolId) -> Vec<Box<str>> {
        self.claims
            .iter()
            .filter(|(_, c)| c.results.iter().any(|(p, _)| p == pool))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Free devices of `driver` that `node` reaches (node-local pools, then pools whose slices
    /// select it), at each pool's current generation, in order: (pool, device, the allocation's
    /// node selector).
    pub fn free_devices(&self, node: &str, driver: &str) -> Vec<(PoolId, Box<str>, Value)> {
        let Some(entry) = self.nodes.get(node) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let local = self.node_pools.get(node);
        let pools = local.into_iter().flatten().chain(
            self.pools
                .keys()
                .filter(|p| local.is_none_or(|l| !l.contains(*p))),
        );
        for pool in pools.filter(|p| &*p.0 == driver) {
            let Some((_, keys)) = self.pool_slices(pool) else {
                continue;
            };
            let taken = self.allocated.get(pool);
            for slice in keys.iter().filter_map(|k| self.slices.get(k)) {
                let selector = if &*slice.node == node {
                    crate::generate::node_allocation_selector(node)
                } else if let Some((sel, json)) = &slice.selector {
                    if !sel.matches(&entry.facts) {
                        continue;
                    }
                    json.clone()
                } else if slice.all_nodes {
                    Value::Null
                } else {
                    continue;
                };
                for device in &slice.devices {
                    if taken.is_none_or(|t| !t.contains(device)) {
                        out.push((pool.clone(), device.clone(), selector.clone()));
                    }
                }
            }
        }
        out
    }

    /// Whether a node's `nvidia.com/gpu` is its DRA devices: it advertises none but publishes
    /// GPU devices in node-local pools.
    pub fn gpu_backed(&self, node: &str) -> bool {
        self.nodes
            .get(node)
            .is_some_and(|n| n.allocatable[GPU] == 0)
            && self
                .node_pools
                .get(node)
                .is_some_and(|p| p.iter().any(|pool| &*pool.0 == crate::generate::GPU_DRIVER))
    }

    /// Published and allocated GPU devices of a node's node-local pools.
    pub fn node_gpus(&self, node: &str) -> (u64, u64) {
        let mut published = 0;
        let mut allocated = 0;
        for pool in self.node_pool_ids(node) {
            if &*pool.0 != crate::generate::GPU_DRIVER {
                continue;
            }
            if let Some((_, keys)) = self.pool_slices(&pool) {
                published += keys
                    .iter()
                    .filter_map(|k| self.slices.get(k))
                    .map(|s| s.devices.len() as u64)
                    .sum::<u64>();
            }
            allocated += self.allocated.get(&pool).map_or(0, |s| s.len() as u64);
        }
        (published, allocated)
    }

    /// The cpu (millicores) bound and Pending pods request together, and the nodes' allocatable
    /// cpu.
    pub fn cpu(&self) -> (u64, u64) {
        let allocatable = self.nodes.values().map(|n| n.allocatable[CPU]).sum();
        (self.demanded[CPU], allocatable)
    }

    /// How many nodes there are.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The value of a node's label (None when the node or the label is absent).
    pub fn node_label(&self, node: &str, key: &str) -> Option<&str> {
        self.nodes.get(node).and_then(|n| n.facts.label(key))
    }

    /// The DaemonSets that have pods, by name.
    pub fn daemonsets(&self) -> Vec<String> {
        self.daemonsets
            .iter()
            .filter(|(_, &n)| n > 0)
            .map(|(name, _)| name.to_string())
            .collect()
    }

    /// The filters, and DRA: on a node whose `nvidia.com/gpu` is its devices, GPUs come out of
    /// its free devices; every `needs` (driver, count) must find that many free devices.
    fn fits_on(
        &self,
        node: &str,
        constraints: &Constraints,
        requests: &[u64],
        needs: &[(&str, usize)],
    ) -> bool {
        let Some(entry) = self.nodes.get(node) else {
            return false;
        };
        if !entry.facts.admits(constraints) {
            return false;
        }
        let zero = [0; RESOURCES.len()];
        let used = self.used.get(node).map_or(&zero[..], Vec::as_slice);
        let backed = requests.get(GPU).is_some_and(|&g| g > 0) && self.gpu_backed(node);
        let mut extra_gpus = 0;
        if backed {
            let mut requests = requests.to_vec();
            extra_gpus = usize::try_from(requests[GPU]).unwrap_or(usize::MAX);
            requests[GPU] = 0;
            if !fits(used, &requests, &entry.allocatable) {
                return false;
            }
        } else if !fits(used, requests, &entry.allocatable) {
            return false;
        }
        let mut gpu_need = extra_gpus;
        for (driver, count) in needs {
            if *driver == crate::generate::GPU_DRIVER {
                gpu_need += count;
            } else if self.free_devices(node, driver).len() < *count {
                return false;
            }
        }
        gpu_need == 0 || self.free_devices(node, crate::generate::GPU_DRIVER).len() >= gpu_need
    }

    fn ratio(&self, node: &str, requests: &[u64]) -> f64 {
        let zero = [0; RESOURCES.len()];
        let used = self.used.get(node).map_or(&zero[..], Vec::as_slice);
        self.nodes.get(node).map_or(f64::INFINITY, |e| {
            tightest_ratio(used, requests, &e.allocatable)
        })
    }

    /// A node where a pod with `constraints` and `requests` passes the scheduler's filters,
    /// other than `except`: of the first two that fit among eight random nodes, the less
    /// allocated; else the first that fits from a random start; None when none does.
    pub fn place(
        &self,
        constraints: &Constraints,
        requests: &[u64],
        except: Option<&str>,
        rng: &mut Rng,
    ) -> Option<Box<str>> {
        self.place_with(constraints, requests, &[], except, rng)
    }

    /// [`Ledger::place`] for a pod whose claims also need free devices: (driver, count).
    pub fn place_with(
        &self,
        constraints: &Constraints,
        requests: &[u64],
        needs: &[(&str, usize)],
        except: Option<&str>,
        rng: &mut Rng,
    ) -> Option<Box<str>> {
        if self.names.is_empty() {
            return None;
        }
        let ok =
            |name: &str| Some(name) != except && self.fits_on(name, constraints, requests, needs);
        let mut found: Vec<&Box<str>> = Vec::with_capacity(2);
        for _ in 0..8 {
            let name = &self.names[rng.index(self.names.len())];
            if ok(name) && !found.contains(&name) {
                found.push(name);
                if found.len() == 2 {
                    break;
                }
            }
        }
        if let Some(best) = found
            .into_iter()
            .min_by(|a, b| self.ratio(a, requests).total_cmp(&self.ratio(b, requests)))
        {
            return Some(best.clone());
        }
        let start = rng.index(self.names.len());
        (0..self.names.len())
            .map(|k| &self.names[(start + k) % self.names.len()])
            .find(|name| ok(name))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn node(name: &str, cpu: &str, taint: bool) -> Value {
        let mut n = json!({"kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/os": "linux"}},
            "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "10"}}});
        if taint {
            n["spec"] = json!({"taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]});
        }
        n
    }

    fn pod(name: &str, node: Option<&str>, cpu: &str, phase: &str) -> Value {
        let mut p = json!({"kind": "Pod", "metadata": {"name": name, "namespace": "web"},
            "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": cpu}}}]},
            "status": {"phase": phase}});
        if let Some(n) = node {
            p["spec"]["nodeName"] = json!(n);
        }
        p
    }

    #[test]
    fn pods_go_only_where_they_fit_and_the_ledger_follows_the_store() {
        let store = Store::new(1000);
        store.upsert(node("a", "2", false)).unwrap();
        store.upsert(node("gpu", "8", true)).unwrap();
        store
            .upsert(pod("p1", Some("a"), "1500m", "Running"))
            .unwrap();
        store
            .upsert(pod("done", Some("a"), "2", "Succeeded"))
            .unwrap();
        store
            .upsert(pod("waiting", None, "300m", "Pending"))
            .unwrap();
        let mut ledger = Ledger::new().unwrap();
        ledger.sync(&store);
        assert_eq!(ledger.cpu(), (1800, 10_000));
        let anywhere = Constraints::default();
        let requests = |cpu: u64| [cpu, 0, 1, 0, 0, 0];
        let mut rng = Rng::new(1);
        // 500m fits on `a`; the tainted node takes nothing that does not tolerate it.
        assert_eq!(
            ledger
                .place(&anywhere, &requests(500), None, &mut rng)
                .as_deref(),
            Some("a")
        );
        assert_eq!(
            ledger.place(&anywhere, &requests(501), None, &mut rng),
            None
        );
        assert_eq!(
            ledger.place(&anywhere, &requests(500), Some("a"), &mut rng),
            None
        );
        // A deletion seen through the event history frees the room.
        store.delete(Kind::Pod, "web/p1");
        ledger.sync(&store);
        assert_eq!(ledger.cpu(), (300, 10_000));
        assert_eq!(
            ledger
                .place(&anywhere, &requests(2000), None, &mut rng)
                .as_deref(),
            Some("a")
        );
        // Past the kept history it rebuilds from a consistent list.
        store.compact();
        store.upsert(pod("p2", Some("a"), "1", "Running")).unwrap();
        ledger.sync(&store);
        assert_eq!(ledger.cpu(), (1300, 10_000));
    }
}

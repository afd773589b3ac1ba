//! What kube-scheduler's cache would hold, for churn: per node its facts (labels, taints,
//! cordon) and allocatable, and the sum of the requests of the pods bound to it (the exporter's
//! accounting, through `schedule.rs`). It keeps in step with the store by replaying the store's
//! event history (a full rebuild from a consistent list when the history no longer reaches
//! back), so that objects written through the control interface count as well.
//!
//! It reads the store and never writes it; what to change is churn's to decide.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::object::{Kind, Object};
use crate::rng::Rng;
use crate::schedule::{fits, tightest_ratio, Accounting, Constraints, NodeFacts, CPU, RESOURCES};
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
        let all = Filter::default();
        for kind in [Kind::Node, Kind::Pod] {
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
        }
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

    fn fits_on(&self, node: &str, constraints: &Constraints, requests: &[u64]) -> bool {
        let Some(entry) = self.nodes.get(node) else {
            return false;
        };
        let zero = [0; RESOURCES.len()];
        let used = self.used.get(node).map_or(&zero[..], Vec::as_slice);
        entry.facts.admits(constraints) && fits(used, requests, &entry.allocatable)
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
        if self.names.is_empty() {
            return None;
        }
        let ok = |name: &str| Some(name) != except && self.fits_on(name, constraints, requests);
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

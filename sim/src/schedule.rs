//! The scheduler's filters as kube-sim applies them whenever it places a pod (the generator's
//! planner and churn): `NodeResourcesFit` with the exporter's own accounting
//! (`model::accounting`, so a placed pod fits exactly as the exporter will count it), the pod-slot
//! count (`allocatable.pods`), `NodeUnschedulable`, `TaintToleration` and `NodeAffinity`
//! (`nodeSelector` and required node-affinity terms).
//!
//! Pure: it decodes the few fields it needs from JSON and keeps no running sums (the planner and
//! churn's ledger do); it never touches the store.

use std::collections::BTreeMap;

use kube_cluster_binpacking_exporter::model::accounting::{
    counts_on_node, node_allocatable, pod_requests, AccountingOptions, NodeStatusInput,
    PodSpecInput, PodStatusInput,
};
use kube_cluster_binpacking_exporter::model::resources::TrackedResources;
use serde::Deserialize;
use serde_json::Value;

/// The resources a placement checks, in vector order: the three the exporter's demo reports
/// first (the "tightest resource" of a node is the largest ratio among them), then the rest a
/// generated pod may request.
pub const RESOURCES: [&str; 6] = [
    "cpu",
    "memory",
    "pods",
    "ephemeral-storage",
    "nvidia.com/gpu",
    "hugepages-2Mi",
];

/// Index of cpu in a resource vector.
pub const CPU: usize = 0;
/// Index of `nvidia.com/gpu` in a resource vector.
pub const GPU: usize = 4;
/// How many leading entries of a resource vector (cpu, memory, pods) count for spreading.
pub const SPREAD: usize = 3;

/// What kube-scheduler would account for one pod: its requests per [`RESOURCES`] entry (cpu in
/// millicores, `pods` = 1) and whether it holds them on its node (bound and not terminal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demand {
    /// Requests in [`RESOURCES`] order.
    pub requests: Box<[u64]>,
    /// Bound to a node and not Succeeded/Failed.
    pub counts: bool,
}

/// The exporter's accounting, set up for [`RESOURCES`] with the gates of the simulated
/// v1.34 API server (pod-level resources and in-place resize both on).
pub struct Accounting {
    tracked: TrackedResources,
    options: AccountingOptions,
}

#[derive(Deserialize)]
struct PodWire {
    #[serde(default)]
    spec: PodSpecInput,
    #[serde(default)]
    status: PodStatusInput,
}

#[derive(Deserialize)]
struct NodeStatusWire {
    #[serde(default)]
    status: NodeStatusInput,
}

impl Accounting {
    /// The accounting for [`RESOURCES`].
    pub fn new() -> Result<Accounting, String> {
        Ok(Accounting {
            tracked: TrackedResources::new(RESOURCES).map_err(|e| e.to_string())?,
            options: AccountingOptions {
                pod_level_resources: true,
                use_status_resources: true,
                pod_level_status: false,
                max_of_sums: false,
            },
        })
    }

    fn demand(&self, pod: PodWire) -> Demand {
        Demand {
            requests: pod_requests(&pod.spec, &pod.status, &self.tracked, self.options),
            counts: counts_on_node(&pod.spec, &pod.status),
        }
    }

    /// A pod's demand from its JSON value.
    pub fn pod(&self, pod: &Value) -> Result<Demand, String> {
        PodWire::deserialize(pod)
            .map(|p| self.demand(p))
            .map_err(|e| format!("pod does not decode: {e}"))
    }

    /// A pod's demand from its serialized JSON (the store's bytes).
    pub fn pod_bytes(&self, pod: &[u8]) -> Result<Demand, String> {
        serde_json::from_slice::<PodWire>(pod)
            .map(|p| self.demand(p))
            .map_err(|e| format!("pod does not decode: {e}"))
    }

    /// A node's allocatable in [`RESOURCES`] order, from the Node's JSON value.
    pub fn node_allocatable(&self, node: &Value) -> Result<Box<[u64]>, String> {
        NodeStatusWire::deserialize(node)
            .map(|n| node_allocatable(&n.status, &self.tracked))
            .map_err(|e| format!("node does not decode: {e}"))
    }
}

/// One taint of a node.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Taint {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    effect: String,
}

/// One toleration of a pod.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Toleration {
    #[serde(default)]
    key: String,
    #[serde(default)]
    operator: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    effect: String,
}

impl Toleration {
    /// `v1.Toleration.ToleratesTaint`: an empty key with `Exists` matches every key, an empty
    /// effect every effect; `Equal` (the default operator) also compares the value.
    fn tolerates(&self, taint: &Taint) -> bool {
        if !self.effect.is_empty() && self.effect != taint.effect {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.operator.as_str() {
            "Exists" => true,
            "" | "Equal" => self.value == taint.value,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Requirement {
    key: String,
    operator: String,
    #[serde(default)]
    values: Vec<String>,
}

impl Requirement {
    fn matches(&self, value: Option<&str>) -> bool {
        let number = |s: &str| s.parse::<i64>().ok();
        match (self.operator.as_str(), value) {
            ("In", Some(v)) => self.values.iter().any(|x| x == v),
            ("NotIn", v) => v.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            ("Exists", v) => v.is_some(),
            ("DoesNotExist", v) => v.is_none(),
            ("Gt", Some(v)) => {
                matches!((number(v), self.values.first().and_then(|x| number(x))), (Some(a), Some(b)) if a > b)
            }
            ("Lt", Some(v)) => {
                matches!((number(v), self.values.first().and_then(|x| number(x))), (Some(a), Some(b)) if a < b)
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Term {
    #[serde(default)]
    match_expressions: Vec<Requirement>,
    #[serde(default)]
    match_fields: Vec<Requirement>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeSelectorWire {
    #[serde(default)]
    node_selector_terms: Vec<Term>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct NodeAffinityWire {
    #[serde(default, rename = "requiredDuringSchedulingIgnoredDuringExecution")]
    required: Option<NodeSelectorWire>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AffinityWire {
    #[serde(default)]
    node_affinity: Option<NodeAffinityWire>,
}

/// Where a pod may go: its `nodeSelector`, tolerations and required node-affinity terms.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Constraints {
    #[serde(default)]
    node_selector: BTreeMap<String, String>,
    #[serde(default)]
    tolerations: Vec<Toleration>,
    #[serde(default)]
    affinity: Option<AffinityWire>,
}

#[derive(Deserialize)]
struct PodSpecWire {
    #[serde(default)]
    spec: Constraints,
}

impl Constraints {
    /// The constraints of a Pod's JSON value (`spec` only is read).
    pub fn of_pod(pod: &Value) -> Result<Constraints, String> {
        PodSpecWire::deserialize(pod)
            .map(|p| p.spec)
            .map_err(|e| format!("pod spec does not decode: {e}"))
    }

    fn tolerates(&self, taint: &Taint) -> bool {
        self.tolerations.iter().any(|t| t.tolerates(taint))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
struct NodeMetaWire {
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct NodeSpecWire {
    #[serde(default)]
    taints: Vec<Taint>,
    #[serde(default)]
    unschedulable: bool,
}

/// What the filters read of a node: name, labels, taints and `spec.unschedulable`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NodeFacts {
    #[serde(default)]
    metadata: NodeMetaWire,
    #[serde(default)]
    spec: NodeSpecWire,
}

impl NodeFacts {
    /// The facts of a Node's JSON value.
    pub fn of_node(node: &Value) -> Result<NodeFacts, String> {
        NodeFacts::deserialize(node).map_err(|e| format!("node does not decode: {e}"))
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// The value of a label.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.metadata.labels.get(key).map(String::as_str)
    }

    /// `NodeUnschedulable`, `TaintToleration` (NoSchedule and NoExecute taints) and
    /// `NodeAffinity`: whether the pod may be placed here at all, resources aside.
    pub fn admits(&self, pod: &Constraints) -> bool {
        if self.spec.unschedulable
            && !pod.tolerates(&Taint {
                key: "node.kubernetes.io/unschedulable".into(),
                value: String::new(),
                effect: "NoSchedule".into(),
            })
        {
            return false;
        }
        if self
            .spec
            .taints
            .iter()
            .filter(|t| matches!(t.effect.as_str(), "NoSchedule" | "NoExecute"))
            .any(|t| !pod.tolerates(t))
        {
            return false;
        }
        if pod
            .node_selector
            .iter()
            .any(|(k, v)| self.label(k) != Some(v.as_str()))
        {
            return false;
        }
        let terms = pod
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| n.required.as_ref())
            .map_or(&[][..], |r| r.node_selector_terms.as_slice());
        terms.is_empty() || self.matches_terms(terms)
    }

    /// Whether one of `terms` selects this node (a term with no requirement selects nothing).
    fn matches_terms(&self, terms: &[Term]) -> bool {
        terms.iter().any(|term| {
            term.match_expressions
                .iter()
                .all(|r| r.matches(self.label(&r.key)))
                && term
                    .match_fields
                    .iter()
                    .all(|r| r.key == "metadata.name" && r.matches(Some(self.name())))
                && !(term.match_expressions.is_empty() && term.match_fields.is_empty())
        })
    }
}

/// A core `NodeSelector` (`nodeSelectorTerms`), as a ResourceSlice's `spec.nodeSelector`
/// says which nodes reach its devices.
#[derive(Debug, Clone, Default)]
pub struct NodeSelector(NodeSelectorWire);

impl NodeSelector {
    /// The selector of a `NodeSelector` JSON value.
    pub fn of_value(value: &Value) -> Result<NodeSelector, String> {
        NodeSelectorWire::deserialize(value)
            .map(NodeSelector)
            .map_err(|e| format!("node selector does not decode: {e}"))
    }

    /// Whether the node is selected.
    pub fn matches(&self, node: &NodeFacts) -> bool {
        node.matches_terms(&self.0.node_selector_terms)
    }
}

/// `NodeResourcesFit` and the pod-slot check: every resource the pod requests (`pods` is always
/// 1) fits into allocatable minus what is already allocated.
pub fn fits(used: &[u64], requests: &[u64], allocatable: &[u64]) -> bool {
    requests
        .iter()
        .zip(used)
        .zip(allocatable)
        .all(|((&r, &u), &a)| r == 0 || u.saturating_add(r) <= a)
}

/// The largest of cpu, memory and pods ratios after adding `requests` (1.0 = full); a resource
/// with no allocatable counts as full when requested.
pub fn tightest_ratio(used: &[u64], requests: &[u64], allocatable: &[u64]) -> f64 {
    (0..SPREAD)
        .map(|i| {
            let after = used.get(i).copied().unwrap_or(0) + requests.get(i).copied().unwrap_or(0);
            match allocatable.get(i).copied().unwrap_or(0) {
                0 if after == 0 => 0.0,
                0 => f64::INFINITY,
                a => after as f64 / a as f64,
            }
        })
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(labels: Value, spec: Value) -> NodeFacts {
        NodeFacts::of_node(&json!({"metadata": {"name": "n1", "labels": labels}, "spec": spec}))
            .unwrap()
    }

    fn pod(spec: Value) -> Constraints {
        Constraints::of_pod(&json!({ "spec": spec })).unwrap()
    }

    #[test]
    fn taints_keep_out_pods_that_do_not_tolerate_them() {
        let gpu = node(
            json!({"pool": "gpu"}),
            json!({"taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]}),
        );
        assert!(!gpu.admits(&pod(json!({}))));
        assert!(gpu.admits(&pod(
            json!({"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]})
        )));
        assert!(gpu.admits(&pod(json!({"tolerations": [{"operator": "Exists"}]}))));
        assert!(!gpu.admits(&pod(
            json!({"tolerations": [{"key": "nvidia.com/gpu", "value": "absent"}]})
        )));
        let prefer = node(
            json!({}),
            json!({"taints": [{"key": "x", "effect": "PreferNoSchedule"}]}),
        );
        assert!(prefer.admits(&pod(json!({}))));
    }

    #[test]
    fn cordoned_nodes_take_only_pods_tolerating_unschedulable() {
        let cordoned = node(json!({}), json!({"unschedulable": true}));
        assert!(!cordoned.admits(&pod(json!({}))));
        assert!(cordoned.admits(&pod(json!({"tolerations": [{"operator": "Exists"}]}))));
    }

    #[test]
    fn node_selector_and_required_affinity_must_match() {
        let n = node(json!({"pool": "gpu", "zone": "a"}), json!({}));
        assert!(n.admits(&pod(json!({"nodeSelector": {"pool": "gpu"}}))));
        assert!(!n.admits(&pod(json!({"nodeSelector": {"pool": "general"}}))));
        let affinity = |terms: Value| {
            pod(
                json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}}),
            )
        };
        assert!(n.admits(&affinity(
            json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}])
        )));
        assert!(!n.admits(&affinity(
            json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}])
        )));
        assert!(n.admits(&affinity(json!([
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
            {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["b"]}, {"key": "pool", "operator": "Exists"}]}
        ]))));
    }

    #[test]
    fn a_pod_fits_only_into_what_is_left_and_zero_requests_are_not_checked() {
        assert!(fits(&[900, 0, 3], &[100, 0, 1], &[1000, 10, 4]));
        assert!(!fits(&[901, 0, 3], &[100, 0, 1], &[1000, 10, 4]));
        assert!(!fits(&[0, 0, 4], &[0, 0, 1], &[1000, 10, 4]));
        assert!(fits(&[2000, 0, 0], &[0, 5, 1], &[1000, 10, 4]));
    }

    #[test]
    fn demand_is_the_exporters_accounting() {
        let acct = Accounting::new().unwrap();
        let d = acct
            .pod(&json!({"spec": {"nodeName": "n1", "containers": [{"name": "a", "resources": {"requests": {"cpu": "0.5", "memory": "1Gi"}}}],
                "initContainers": [{"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}}],
                "overhead": {"cpu": "250m"}}, "status": {"phase": "Running"}}))
            .unwrap();
        assert_eq!(&*d.requests, &[850, 1 << 30, 1, 0, 0, 0]);
        assert!(d.counts);
        let done = acct
            .pod(&json!({"spec": {"nodeName": "n1"}, "status": {"phase": "Succeeded"}}))
            .unwrap();
        assert!(!done.counts);
        let alloc = acct
            .node_allocatable(&json!({"status": {"allocatable": {"cpu": "7910m", "memory": "1Ki", "pods": "110", "nvidia.com/gpu": "1"}}}))
            .unwrap();
        assert_eq!(&*alloc, &[7910, 1024, 110, 0, 1, 0]);
    }
}

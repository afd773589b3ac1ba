//! Real usage beside the requests: one poll of the resource metrics API (`metrics.k8s.io`,
//! NodeMetrics and PodMetrics as metrics-server serves them) joined to the counted pods, per node
//! and per namespace. Pure: the samples arrive decoded (`ingest::usage`), the join reads the
//! cluster state, and the scrape only looks the result up by node and namespace name.
//!
//! Units are the exposition's: cpu in millicores (rounded up, as requests are), memory in bytes.
//! Only `cpu` and `memory` have usage.

use std::collections::HashMap;

use crate::model::state::ClusterState;

/// The resources the metrics API reports, in the order of every [`Pair`].
pub const USAGE_RESOURCES: [&str; 2] = ["cpu", "memory"];

/// One figure per usage resource: cpu millicores, memory bytes.
pub type Pair = [u64; 2];

/// One item of a metrics list, decoded: whose it is, when it was measured, and how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// A node's name, or a pod's key (`namespace/name`).
    pub key: String,
    /// When the kubelet measured it (Unix seconds).
    pub timestamp: i64,
    /// cpu millicores (rounded up) and memory bytes; a pod's is the sum of its containers.
    pub usage: Pair,
}

/// Usage over a set of nodes (one node, a label group value, the cluster) or a namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageTotals {
    /// The nodes' own usage (the kubelet's figure: pods, system daemons and the OS).
    pub node: Pair,
    /// Nodes with a fresh sample of their own.
    pub nodes_sampled: u64,
    /// The counted pods' usage.
    pub pods: Pair,
    /// Counted pods with a fresh sample.
    pub pods_sampled: u64,
    /// Σ over the sampled counted pods of max(0, request − usage): reserved and idle.
    pub unused: Pair,
}

impl UsageTotals {
    /// Adds `other` (saturating: sums of u64 bytes cannot wrap).
    pub fn add(&mut self, other: &UsageTotals) {
        for i in 0..2 {
            self.node[i] = self.node[i].saturating_add(other.node[i]);
            self.pods[i] = self.pods[i].saturating_add(other.pods[i]);
            self.unused[i] = self.unused[i].saturating_add(other.unused[i]);
        }
        self.nodes_sampled += other.nodes_sampled;
        self.pods_sampled += other.pods_sampled;
    }

    /// Whether anything was sampled.
    pub fn sampled(&self) -> bool {
        self.nodes_sampled > 0 || self.pods_sampled > 0
    }

    fn add_pod(&mut self, usage: Pair, requests: [Option<u64>; 2]) {
        for i in 0..2 {
            self.pods[i] = self.pods[i].saturating_add(usage[i]);
            if let Some(request) = requests[i] {
                self.unused[i] = self.unused[i].saturating_add(request.saturating_sub(usage[i]));
            }
        }
        self.pods_sampled += 1;
    }
}

/// One poll joined to the counted pods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageTable {
    /// The newest sample's timestamp (Unix seconds): how fresh the API's data is.
    pub newest: i64,
    /// Per node name (only nodes with a sample of their own or of a counted pod).
    pub nodes: HashMap<Box<str>, UsageTotals>,
    /// Per namespace (only namespaces with a sampled counted pod; `node` fields are zero).
    pub namespaces: HashMap<Box<str>, UsageTotals>,
    /// Samples left out: older than the maximum age.
    pub stale_samples: u64,
    /// Pod samples of pods not counted on a tracked node (pending here, on an untracked node,
    /// or not yet seen by the watch).
    pub unmatched_pods: u64,
}

/// Where the requests of `cpu` and `memory` sit among the tracked resources (`None` when not
/// tracked: that resource then has pod usage but no allocated-unused figure).
pub type RequestIndex = [Option<usize>; 2];

/// Joins a poll's samples to the counted pods. Samples whose timestamp is more than `max_age`
/// seconds before `now` are left out (counted in `stale_samples`).
pub fn join(
    state: &ClusterState,
    requests: RequestIndex,
    nodes: &[Sample],
    pods: &[Sample],
    now: i64,
    max_age: i64,
) -> UsageTable {
    let mut table = UsageTable {
        newest: nodes
            .iter()
            .chain(pods)
            .map(|s| s.timestamp)
            .max()
            .unwrap_or(i64::MIN),
        ..UsageTable::default()
    };
    let fresh = |s: &Sample| now.saturating_sub(s.timestamp) <= max_age;
    for sample in nodes {
        if !fresh(sample) {
            table.stale_samples += 1;
            continue;
        }
        let entry = table.nodes.entry(sample.key.as_str().into()).or_default();
        entry.node = sample.usage;
        entry.nodes_sampled = 1;
    }
    for sample in pods {
        if !fresh(sample) {
            table.stale_samples += 1;
            continue;
        }
        let Some((node, figures)) = state.counted_pod(&sample.key) else {
            table.unmatched_pods += 1;
            continue;
        };
        let request = requests.map(|r| r.and_then(|r| figures.get(r).copied()));
        table
            .nodes
            .entry(node.into())
            .or_default()
            .add_pod(sample.usage, request);
        let namespace = sample.key.split_once('/').map_or("", |(ns, _)| ns);
        table
            .namespaces
            .entry(namespace.into())
            .or_default()
            .add_pod(sample.usage, request);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::state::tests::{node, pod};
    use crate::model::state::Owner;

    fn sample(key: &str, timestamp: i64, cpu: u64, memory: u64) -> Sample {
        Sample {
            key: key.into(),
            timestamp,
            usage: [cpu, memory],
        }
    }

    /// Two nodes; tracked resources memory, cpu (so the request index is not the pair order).
    fn state() -> ClusterState {
        let mut s = ClusterState::new(2);
        s.apply_node("a", node(&[8 << 30, 4000]));
        s.apply_node("b", node(&[8 << 30, 4000]));
        s.apply_pod("web/one", pod(Some("a"), &[1 << 30, 500], Owner::Workload));
        s.apply_pod("web/two", pod(Some("b"), &[1 << 30, 500], Owner::Workload));
        s.apply_pod("db/main", pod(Some("a"), &[4 << 30, 1000], Owner::Workload));
        s.apply_pod("web/pending", pod(None, &[1 << 30, 100], Owner::Workload));
        s.apply_pod(
            "web/lost",
            pod(Some("gone"), &[1 << 30, 100], Owner::Workload),
        );
        s
    }

    const INDEX: RequestIndex = [Some(1), Some(0)];

    #[test]
    fn unused_is_the_idle_part_of_each_request_and_never_negative() {
        let pods = [
            sample("web/one", 100, 200, 2 << 30),  // over its memory request
            sample("db/main", 100, 1500, 1 << 30), // over its cpu request
            sample("web/two", 100, 100, 512 << 20),
        ];
        let t = join(&state(), INDEX, &[], &pods, 100, 60);
        let a = t.nodes["a"];
        assert_eq!(a.pods, [1700, (2 << 30) + (1 << 30)]);
        assert_eq!(a.unused, [300, 3 << 30]); // (500-200)+0 ; 0+(4-1)Gi
        assert_eq!(a.pods_sampled, 2);
        assert_eq!(t.namespaces["web"].pods, [300, (2 << 30) + (512 << 20)]);
        assert_eq!(t.namespaces["web"].unused, [700, 512 << 20]);
        assert_eq!(t.namespaces["db"].unused, [0, 3 << 30]);
    }

    #[test]
    fn pods_not_counted_on_a_tracked_node_are_unmatched() {
        let pods = [
            sample("web/pending", 100, 1, 1),
            sample("web/lost", 100, 1, 1),
            sample("web/unknown", 100, 1, 1),
        ];
        let t = join(&state(), INDEX, &[], &pods, 100, 60);
        assert_eq!(t.unmatched_pods, 3);
        assert!(t.nodes.is_empty() && t.namespaces.is_empty());
    }

    #[test]
    fn stale_samples_are_left_out_and_the_newest_timestamp_kept() {
        let nodes = [sample("a", 39, 900, 1 << 30), sample("b", 99, 300, 1 << 29)];
        let pods = [sample("web/one", 39, 1, 1), sample("web/two", 100, 7, 8)];
        let t = join(&state(), INDEX, &nodes, &pods, 100, 60);
        assert_eq!(t.stale_samples, 2);
        assert_eq!(t.newest, 100);
        assert!(!t.nodes.contains_key("a"));
        assert_eq!(t.nodes["b"].node, [300, 1 << 29]);
        assert_eq!(t.nodes["b"].nodes_sampled, 1);
        assert_eq!(t.nodes["b"].pods, [7, 8]);
    }

    #[test]
    fn a_resource_not_tracked_has_usage_but_no_unused() {
        let pods = [sample("web/one", 100, 200, 2 << 30)];
        let t = join(&state(), [None, Some(0)], &[], &pods, 100, 60);
        assert_eq!(t.nodes["a"].pods, [200, 2 << 30]);
        assert_eq!(t.nodes["a"].unused, [0, 0]);
    }

    #[test]
    fn totals_add_up_and_saturate() {
        let mut a = UsageTotals {
            node: [u64::MAX - 1, 1],
            nodes_sampled: 1,
            ..UsageTotals::default()
        };
        a.add(&a.clone());
        assert_eq!(a.node, [u64::MAX, 2]);
        assert_eq!(a.nodes_sampled, 2);
        assert!(a.sampled() && !UsageTotals::default().sampled());
    }
}

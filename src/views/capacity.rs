//! Beyond ratios: whether the next pod fits. From a [`Snapshot`] it computes, per node, label
//! group and cluster, how many pods of each reference shape fit into the free capacity, the
//! largest free block, capacity stranded on nodes where a typical pod no longer fits, how many of
//! its largest nodes a group could lose, a lower bound on the nodes the allocated requests need,
//! and how many pending pods would fit (first-fit decreasing). O(nodes × shapes); the pending
//! estimate is bounded separately. Pure.
//!
//! Definitions (node n, tracked resource r): free = max(0, allocatable − allocated); a pod also
//! needs one free pod slot (`allocatable.pods` − pods), tracked or not; cordoned nodes offer no
//! room. Ideas: stranded resources (Borg, EuroSys'15), hole filling and compaction (Verma et al.,
//! CLUSTER'14), fragmentation relative to the workload (FGD, ATC'23).

use std::collections::BTreeMap;

use crate::model::state::Owner;
use crate::views::snapshot::{NodeFigures, Snapshot, Totals};

/// The name of the built-in shape: the mean request vector of the counted non-DaemonSet pods.
pub const AVERAGE: &str = "average";

/// A reference pod shape given with `--shape NAME=cpu=500m,memory=1Gi`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The shape's name (label value).
    pub name: String,
    /// Request per tracked resource in scheduler units; 0 = not constrained.
    pub requests: Vec<u64>,
}

/// A shape as used for fitting: exact amounts, or the exact mean `sums / count`.
#[derive(Debug, Clone)]
enum Demand {
    Exact(Vec<u128>),
    Mean { sums: Vec<u128>, count: u128 },
}

impl Demand {
    /// How many copies fit into `free` with `slots` free pod slots.
    fn fits(&self, free: &[u128], slots: u128) -> u128 {
        let mut fit = slots;
        match self {
            Demand::Exact(amounts) => {
                for (f, a) in free.iter().zip(amounts) {
                    if *a > 0 {
                        fit = fit.min(f / a);
                    }
                }
            }
            Demand::Mean { sums, count } => {
                for (f, s) in free.iter().zip(sums) {
                    if *s > 0 {
                        fit = fit.min(f.saturating_mul(*count) / s);
                    }
                }
            }
        }
        fit
    }
}

/// Figures over a set of nodes (a label group value or the cluster).
#[derive(Debug, Clone, PartialEq)]
pub struct Room {
    /// Pods of each shape that fit (same order as [`Capacity::shapes`]).
    pub shape_fit: Vec<u128>,
    /// Largest free amount on one node, per resource.
    pub largest_free: Vec<u128>,
    /// Free amount on nodes where the average pod does not fit, per resource.
    pub stranded: Vec<u128>,
    /// Total free amount, per resource.
    pub free: Vec<u128>,
    /// Largest allocatable of one node, per resource.
    pub max_allocatable: Vec<u128>,
    /// Total allocated, per resource.
    pub allocated: Vec<u128>,
    /// Number of nodes.
    pub nodes: u64,
}

impl Room {
    fn new(resources: usize, shapes: usize) -> Room {
        Room {
            shape_fit: vec![0; shapes],
            largest_free: vec![0; resources],
            stranded: vec![0; resources],
            free: vec![0; resources],
            max_allocatable: vec![0; resources],
            allocated: vec![0; resources],
            nodes: 0,
        }
    }

    fn add(&mut self, node: &NodeRoom, totals: &Totals) {
        for (sum, fit) in self.shape_fit.iter_mut().zip(&node.shape_fit) {
            *sum += fit;
        }
        for r in 0..self.free.len() {
            self.largest_free[r] = self.largest_free[r].max(node.free[r]);
            if node.average_fit == 0 {
                self.stranded[r] += node.free[r];
            }
            self.free[r] += node.free[r];
            self.max_allocatable[r] = self.max_allocatable[r].max(totals.allocatable[r]);
            self.allocated[r] += totals.allocated[r];
        }
        self.nodes += 1;
    }

    /// Σ free / max allocatable: how many of its largest nodes the set could lose by this resource.
    pub fn headroom_nodes(&self, r: usize) -> f64 {
        if self.max_allocatable[r] == 0 {
            0.0
        } else {
            self.free[r] as f64 / self.max_allocatable[r] as f64
        }
    }

    /// ⌈Σ allocated / max allocatable⌉: nodes the allocated requests need at least.
    pub fn nodes_lower_bound(&self, r: usize) -> u128 {
        if self.max_allocatable[r] == 0 {
            0
        } else {
            self.allocated[r].div_ceil(self.max_allocatable[r])
        }
    }

    /// Node count − the largest lower bound (never below 0): what compaction could free at most.
    pub fn removable_nodes(&self) -> u128 {
        let needed = (0..self.free.len())
            .map(|r| self.nodes_lower_bound(r))
            .max()
            .unwrap_or(0);
        u128::from(self.nodes).saturating_sub(needed)
    }
}

/// One node's free room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRoom {
    /// Free amount per resource.
    pub free: Vec<u128>,
    /// Free pod slots.
    pub slots: u128,
    /// Pods of each shape that fit.
    pub shape_fit: Vec<u128>,
    average_fit: u128,
}

/// Everything this module computes for one snapshot.
#[derive(Debug, Clone)]
pub struct Capacity {
    /// Shape names, `average` first, then the user's shapes in flag order.
    pub shapes: Vec<String>,
    /// Per node, in snapshot order.
    pub nodes: Vec<NodeRoom>,
    /// Per label group value, in snapshot order.
    pub groups: Vec<Room>,
    /// Cluster-wide.
    pub cluster: Room,
    /// Pending pods (of those in the snapshot) that fit by requests alone.
    pub pending_fit: u64,
}

/// Computes the figures; `shapes` are the user's reference shapes.
pub fn compute(snapshot: &Snapshot, shapes: &[Shape]) -> Capacity {
    let resources = snapshot.cluster.allocatable.len();
    let non_daemonset = |t: &Totals, r: usize| {
        t.by_owner[Owner::Workload as usize][r] + t.by_owner[Owner::Static as usize][r]
    };
    let count = u128::from(
        snapshot.cluster.pods_by_owner[Owner::Workload as usize]
            + snapshot.cluster.pods_by_owner[Owner::Static as usize],
    );
    let mut demands = vec![Demand::Mean {
        sums: (0..resources)
            .map(|r| non_daemonset(&snapshot.cluster, r))
            .collect(),
        count,
    }];
    demands.extend(
        shapes
            .iter()
            .map(|s| Demand::Exact(s.requests.iter().map(|&v| u128::from(v)).collect())),
    );
    let names: Vec<String> = std::iter::once(AVERAGE.to_owned())
        .chain(shapes.iter().map(|s| s.name.clone()))
        .collect();

    let nodes: Vec<NodeRoom> = snapshot
        .nodes
        .iter()
        .map(|n| node_room(n, &demands))
        .collect();

    let mut cluster = Room::new(resources, demands.len());
    let mut by_group: BTreeMap<(usize, &str), Room> = BTreeMap::new();
    for (node, room) in snapshot.nodes.iter().zip(&nodes) {
        cluster.add(room, &node.totals);
        for (g, value) in node.group_values.iter().enumerate() {
            by_group
                .entry((g, value))
                .or_insert_with(|| Room::new(resources, demands.len()))
                .add(room, &node.totals);
        }
    }
    let groups = snapshot
        .groups
        .iter()
        .map(|g| {
            by_group
                .remove(&(g.group, g.value.as_str()))
                .unwrap_or_else(|| Room::new(resources, demands.len()))
        })
        .collect();

    let pending_fit = pending_fit(snapshot, &nodes);
    Capacity {
        shapes: names,
        nodes,
        groups,
        cluster,
        pending_fit,
    }
}

fn node_room(node: &NodeFigures, demands: &[Demand]) -> NodeRoom {
    let t = &node.totals;
    let (free, slots) = if node.unschedulable {
        (vec![0; t.allocatable.len()], 0)
    } else {
        (
            t.allocatable
                .iter()
                .zip(&t.allocated)
                .map(|(a, u)| a.saturating_sub(*u))
                .collect(),
            u128::from(t.pod_slots.saturating_sub(t.pods)),
        )
    };
    let shape_fit: Vec<u128> = demands.iter().map(|d| d.fits(&free, slots)).collect();
    NodeRoom {
        average_fit: shape_fit[0],
        free,
        slots,
        shape_fit,
    }
}

/// First-fit decreasing of the snapshot's pending pods into the nodes' free room, by requests and
/// a pod slot only (affinity, taints and topology spread are ignored).
fn pending_fit(snapshot: &Snapshot, nodes: &[NodeRoom]) -> u64 {
    if snapshot.pending_requests.is_empty() {
        return 0;
    }
    let allocatable = &snapshot.cluster.allocatable;
    let size = |req: &[u64]| -> f64 {
        req.iter()
            .zip(allocatable)
            .filter(|(_, a)| **a > 0)
            .map(|(v, a)| *v as f64 / *a as f64)
            .sum()
    };
    let mut pods: Vec<&[u64]> = snapshot.pending_requests.iter().map(|r| &r[..]).collect();
    pods.sort_by(|a, b| size(b).total_cmp(&size(a)));
    // Only nodes with a free slot can take anything.
    let mut room: Vec<(Vec<u128>, u128)> = nodes
        .iter()
        .filter(|n| n.slots > 0)
        .map(|n| (n.free.clone(), n.slots))
        .collect();
    // Per resource, no node has more free than this: a pod above it fits nowhere, and is
    // skipped without a scan (placing pods only lowers free room, so the bound stays valid).
    let mut upper: Vec<u128> = vec![0; allocatable.len()];
    for (free, _) in &room {
        for (u, f) in upper.iter_mut().zip(free) {
            *u = (*u).max(*f);
        }
    }
    let mut placed = 0;
    for pod in pods {
        if pod.iter().zip(&upper).any(|(v, u)| u128::from(*v) > *u) {
            continue;
        }
        let fits = |(free, slots): &(Vec<u128>, u128)| {
            *slots > 0 && free.iter().zip(pod).all(|(f, v)| *f >= u128::from(*v))
        };
        if let Some((free, slots)) = room.iter_mut().find(|n| fits(n)) {
            for (f, v) in free.iter_mut().zip(pod) {
                *f -= u128::from(*v);
            }
            *slots -= 1;
            placed += 1;
        }
    }
    placed
}

/// How many pending pods the estimate may consider for `nodes` nodes: first-fit costs up to
/// pods × nodes checks, kept below two million per scrape, and at most 1,000 pods so that the
/// scrape stays O(nodes) however many pods are pending.
pub fn pending_limit(nodes: usize) -> usize {
    (2_000_000 / nodes.max(1)).clamp(1, 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::label_groups::LabelGroups;
    use crate::model::state::tests::{node, pod};
    use crate::model::state::{ClusterState, NodeRecord};

    fn with(allocatable: &[u64], slots: u64, labels: &[&str], cordoned: bool) -> NodeRecord {
        let mut n = node(allocatable);
        n.pod_slots = slots;
        n.labels = labels.iter().map(|l| Some((*l).into())).collect();
        n.unschedulable = cordoned;
        n
    }

    fn shape(name: &str, requests: &[u64]) -> Shape {
        Shape {
            name: name.into(),
            requests: requests.to_vec(),
        }
    }

    /// Two resources (cpu millicores, memory units); pool label.
    fn cluster() -> (ClusterState, LabelGroups) {
        let mut s = ClusterState::new(2);
        s.apply_node("a", with(&[4000, 16], 10, &["web"], false));
        s.apply_node("b", with(&[4000, 16], 2, &["web"], false));
        s.apply_node("c", with(&[8000, 8], 110, &["batch"], false));
        s.apply_node("d", with(&[8000, 64], 110, &["batch"], true));
        s.apply_pod("x/a1", pod(Some("a"), &[1000, 4], Owner::Workload));
        s.apply_pod("x/a2", pod(Some("a"), &[1000, 4], Owner::Workload));
        s.apply_pod("x/b1", pod(Some("b"), &[500, 2], Owner::Workload));
        s.apply_pod("x/b2", pod(Some("b"), &[500, 2], Owner::DaemonSet));
        s.apply_pod("x/c1", pod(Some("c"), &[1000, 8], Owner::Workload));
        s.apply_pod("x/p1", pod(None, &[3000, 8], Owner::Workload));
        s.apply_pod("x/p2", pod(None, &[2000, 2], Owner::Workload));
        s.apply_pod("x/p3", pod(None, &[9000, 1], Owner::Workload));
        (s, LabelGroups::new(&[vec!["pool".into()]]))
    }

    #[test]
    fn shape_fit_is_the_tightest_resource_or_pod_slot_and_cordoned_nodes_offer_nothing() {
        let (s, groups) = cluster();
        let snap = Snapshot::take(&s, &groups, 100);
        let cap = compute(
            &snap,
            &[shape("small", &[500, 1]), shape("cpu-only", &[1000, 0])],
        );
        assert_eq!(cap.shapes, ["average", "small", "cpu-only"]);
        // a: free 2000m/8 → small: min(4, 8, 8 slots) = 4; cpu-only: 2
        assert_eq!(cap.nodes[0].shape_fit[1..], [4, 2]);
        // b: free 3000m/12 but 0 free slots (2 pods of 2)
        assert_eq!(cap.nodes[1].shape_fit[1..], [0, 0]);
        // c: free 7000m/0 → memory bound: 0 small; cpu-only 7
        assert_eq!(cap.nodes[2].shape_fit[1..], [0, 7]);
        // d: cordoned
        assert_eq!(cap.nodes[3].shape_fit, [0, 0, 0]);
        assert_eq!(cap.cluster.shape_fit[1..], [4, 9]);
        // average of non-DaemonSet pods: (1000+1000+500+1000)/4 = 875m, (4+4+2+8)/4 = 4.5
        // a: min(2000/875 = 2, 8/4.5 = 1, 8 slots) = 1
        assert_eq!(cap.nodes[0].shape_fit[0], 1);
    }

    #[test]
    fn free_room_figures_follow_their_definitions() {
        let (s, groups) = cluster();
        let snap = Snapshot::take(&s, &groups, 100);
        let cap = compute(&snap, &[]);
        let c = &cap.cluster;
        assert_eq!(c.free, [2000 + 3000 + 7000, 8 + 12]);
        assert_eq!(c.largest_free, [7000, 12]);
        // average fits nowhere but a (b: no slot, c: no memory, d: cordoned)
        assert_eq!(c.stranded, [3000 + 7000, 12]);
        assert!((c.headroom_nodes(0) - 12_000.0 / 8000.0).abs() < 1e-12);
        assert!((c.headroom_nodes(1) - 20.0 / 64.0).abs() < 1e-12);
        // allocated 4000m over max node 8000m → 1; memory 20 over 64 → 1
        assert_eq!(c.nodes_lower_bound(0), 1);
        assert_eq!(c.removable_nodes(), 3);
        let web = &cap.groups[snap.groups.iter().position(|g| g.value == "web").unwrap()];
        assert_eq!(web.nodes, 2);
        assert_eq!(web.largest_free, [3000, 12]);
        // web: allocated 3000m / 4000m → 1; 12 / 16 → 1 → 1 removable of 2
        assert_eq!(web.removable_nodes(), 1);
    }

    #[test]
    fn pending_pods_fit_first_fit_decreasing_by_requests_and_slots() {
        let (s, groups) = cluster();
        let snap = Snapshot::take(&s, &groups, 100);
        let cap = compute(&snap, &[]);
        // free: a 2000/8 (8 slots), b 3000/12 (0 slots), c 7000/0, d cordoned.
        // p3 (9000m) fits nowhere; p1 (3000m, 8) fits nowhere (a lacks cpu, b no slot, c no memory);
        // p2 (2000m, 2) fits a.
        assert_eq!(cap.pending_fit, 1);
        assert_eq!(snap.pending.pods, 3);
    }

    #[test]
    fn an_empty_cluster_has_no_room_and_no_division_by_zero() {
        let s = ClusterState::new(2);
        let snap = Snapshot::take(&s, &LabelGroups::default(), 100);
        let cap = compute(&snap, &[shape("x", &[1, 1])]);
        assert_eq!(cap.cluster.shape_fit, [0, 0]);
        assert!(cap.cluster.headroom_nodes(0).abs() < f64::EPSILON);
        assert_eq!(cap.cluster.removable_nodes(), 0);
        let mut s = ClusterState::new(2);
        s.apply_node("zero", with(&[0, 0], 0, &[], false));
        let snap = Snapshot::take(&s, &LabelGroups::default(), 100);
        let cap = compute(&snap, &[shape("x", &[1, 1])]);
        assert_eq!(cap.nodes[0].shape_fit, [0, 0]);
        assert_eq!(cap.cluster.nodes_lower_bound(0), 0);
        assert_eq!(cap.cluster.removable_nodes(), 1);
    }

    #[test]
    fn pending_work_is_bounded() {
        assert_eq!(pending_limit(5000), 400);
        assert_eq!(pending_limit(500), 1_000);
        assert_eq!(pending_limit(0), 1_000);
        assert_eq!(pending_limit(10_000_000), 1);
    }
}

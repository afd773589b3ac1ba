//! From the cluster state to figures: per node, per label group and cluster-wide totals of
//! allocated, allocatable and DaemonSet overhead, taken in one pass over the nodes (O(nodes),
//! never O(pods): the per-node sums are kept by the state). Pure; the caller holds the lock only
//! while [`Snapshot::take`] copies the figures out. With DRA watched, the device ledger's figures
//! are joined to the tracked nodes and groups, and a DRA-backed extended resource gets its
//! allocatable from the devices on the nodes that do not advertise it.

use std::collections::{BTreeMap, HashMap};

use crate::model::devices::{ClassInfo, DeviceState, PlaceDevices};
use crate::model::label_groups::LabelGroups;
use crate::model::state::{ClusterState, Counts, NodeRecord, Owner, Sums};
use crate::model::usage::{UsageTable, UsageTotals};

/// One figure per tracked resource. Up to [`INLINE_RESOURCES`] live inline, so a node's totals
/// cost no allocation in the common case (a scrape at 5,000 nodes took 30,000 allocations for
/// them before); more tracked resources spill to the heap.
#[derive(Clone, PartialEq, Eq)]
pub enum PerResource {
    /// The first `len` entries are the figures.
    Inline(u8, [u128; INLINE_RESOURCES]),
    /// More resources than fit inline.
    Heap(Vec<u128>),
}

/// Tracked resources kept inline by [`PerResource`].
pub const INLINE_RESOURCES: usize = 4;

impl PerResource {
    /// `resources` zeros.
    pub fn zero(resources: usize) -> PerResource {
        match u8::try_from(resources) {
            Ok(len) if resources <= INLINE_RESOURCES => {
                PerResource::Inline(len, [0; INLINE_RESOURCES])
            }
            _ => PerResource::Heap(vec![0; resources]),
        }
    }
}

impl std::ops::Deref for PerResource {
    type Target = [u128];
    fn deref(&self) -> &[u128] {
        match self {
            PerResource::Inline(len, figures) => &figures[..usize::from(*len)],
            PerResource::Heap(figures) => figures,
        }
    }
}

impl std::ops::DerefMut for PerResource {
    fn deref_mut(&mut self) -> &mut [u128] {
        match self {
            PerResource::Inline(len, figures) => &mut figures[..usize::from(*len)],
            PerResource::Heap(figures) => figures,
        }
    }
}

impl<'a> IntoIterator for &'a PerResource {
    type Item = &'a u128;
    type IntoIter = std::slice::Iter<'a, u128>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl std::fmt::Debug for PerResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Totals over a set of nodes (or one node), per tracked resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    /// Sum of counted pods' requests.
    pub allocated: PerResource,
    /// Sum of node allocatable.
    pub allocatable: PerResource,
    /// Sum of node capacity.
    pub capacity: PerResource,
    /// Allocated by owner class, index `Owner as usize`.
    pub by_owner: [PerResource; 3],
    /// Number of nodes.
    pub nodes: u64,
    /// Number of counted pods.
    pub pods: u64,
    /// Number of counted pods per owner class, index `Owner as usize`.
    pub pods_by_owner: [u64; 3],
    /// Sum of the nodes' pod slots (`allocatable.pods`).
    pub pod_slots: u64,
    /// Sum of counted pods' limits (`kubectl describe node`'s figure).
    pub limits: PerResource,
    /// Counted pods unlimited for the resource.
    pub unlimited: PerResource,
    /// Usage (`--usage`): zeros until [`Snapshot::attach_usage`].
    pub usage: UsageTotals,
}

impl Totals {
    pub(crate) fn zero(resources: usize) -> Totals {
        Totals {
            allocated: PerResource::zero(resources),
            allocatable: PerResource::zero(resources),
            capacity: PerResource::zero(resources),
            by_owner: [
                PerResource::zero(resources),
                PerResource::zero(resources),
                PerResource::zero(resources),
            ],
            nodes: 0,
            pods: 0,
            pods_by_owner: [0; 3],
            pod_slots: 0,
            limits: PerResource::zero(resources),
            unlimited: PerResource::zero(resources),
            usage: UsageTotals::default(),
        }
    }

    fn of_node(node: &NodeRecord, sums: &Sums, resources: usize) -> Totals {
        let mut t = Totals::zero(resources);
        for r in 0..resources {
            t.allocated[r] = sums.allocated(r);
            t.allocatable[r] = node.allocatable.get(r).copied().map_or(0, u128::from);
            t.capacity[r] = node.capacity.get(r).copied().map_or(0, u128::from);
            for owner in Owner::ALL {
                t.by_owner[owner as usize][r] = sums.by_owner(owner, r);
            }
            t.limits[r] = sums.limits(r);
            t.unlimited[r] = u128::from(sums.unlimited(r));
        }
        t.nodes = 1;
        t.pods = sums.pods;
        t.pods_by_owner = sums.pods_by_owner;
        t.pod_slots = node.pod_slots;
        t
    }

    fn add(&mut self, other: &Totals) {
        let add = |a: &mut [u128], b: &[u128]| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        add(&mut self.allocated, &other.allocated);
        add(&mut self.allocatable, &other.allocatable);
        add(&mut self.capacity, &other.capacity);
        for (mine, theirs) in self.by_owner.iter_mut().zip(&other.by_owner) {
            add(mine, theirs);
        }
        add(&mut self.limits, &other.limits);
        add(&mut self.unlimited, &other.unlimited);
        self.usage.add(&other.usage);
        self.nodes += other.nodes;
        self.pods += other.pods;
        for (mine, theirs) in self.pods_by_owner.iter_mut().zip(other.pods_by_owner) {
            *mine += theirs;
        }
        self.pod_slots += other.pod_slots;
    }

    /// DaemonSet overhead for resource `r`.
    pub fn daemonset(&self, r: usize) -> u128 {
        self.by_owner[Owner::DaemonSet as usize][r]
    }
}

/// One node's figures.
#[derive(Debug, Clone)]
pub struct NodeFigures {
    /// Node name.
    pub name: String,
    /// Whether the node is cordoned.
    pub unschedulable: bool,
    /// The node's group value per label group (same order as the groups).
    pub group_values: Vec<String>,
    /// The node's totals.
    pub totals: Totals,
}

/// One label group value's figures.
#[derive(Debug, Clone)]
pub struct GroupFigures {
    /// Position of the group among the configured label groups.
    pub group: usize,
    /// The group's label keys joined by `,`.
    pub label_group: String,
    /// The nodes' label values joined by `,` (`<none>` for a missing label).
    pub value: String,
    /// Totals over the group's nodes.
    pub totals: Totals,
}

/// One namespace's counted pods (on the tracked nodes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceFigures {
    /// The namespace.
    pub name: String,
    /// Counted pods.
    pub pods: u64,
    /// Sum of their requests.
    pub allocated: PerResource,
    /// Sum of their limits.
    pub limits: PerResource,
    /// Their usage (`--usage`): zeros until [`Snapshot::attach_usage`].
    pub usage: UsageTotals,
}

impl NamespaceFigures {
    fn zero(name: &str, resources: usize) -> NamespaceFigures {
        NamespaceFigures {
            name: name.to_owned(),
            pods: 0,
            allocated: PerResource::zero(resources),
            limits: PerResource::zero(resources),
            usage: UsageTotals::default(),
        }
    }

    fn add(&mut self, pods: u64, values: &[u128]) {
        let resources = self.allocated.len();
        self.pods += pods;
        for r in 0..resources {
            self.allocated[r] += values[r];
            self.limits[r] += values[resources + r];
        }
    }
}

/// A namespace within one label group value (`--namespace-group-metrics`).
#[derive(Debug, Clone)]
pub struct GroupNamespaceFigures {
    /// The group's label keys joined by `,`.
    pub label_group: String,
    /// The group value.
    pub value: String,
    /// The namespace's figures on the group's nodes.
    pub namespace: NamespaceFigures,
}

/// Everything a scrape reports, copied out of the state.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Nodes, sorted by name.
    pub nodes: Vec<NodeFigures>,
    /// Groups, sorted by label group then value.
    pub groups: Vec<GroupFigures>,
    /// Cluster totals.
    pub cluster: Totals,
    /// Sums of pods not bound to any node.
    pub pending: Totals,
    /// Request vectors of pods not bound to any node (at most the limit given to `take`).
    pub pending_requests: Vec<Box<[u64]>>,
    /// Object counts.
    pub counts: Counts,
    /// Namespaces with counted pods, by name.
    pub namespaces: Vec<NamespaceFigures>,
    /// Namespaces per label group value, by group, value and namespace (empty unless asked).
    pub group_namespaces: Vec<GroupNamespaceFigures>,
    /// With usage attached: the newest sample's timestamp (Unix seconds).
    pub usage_newest: Option<i64>,
    /// The DRA device figures, once the DRA objects are watched and listed.
    pub devices: Option<DeviceFigures>,
}

impl Snapshot {
    /// Copies the figures out of the state, with at most `pending_limit` pending request vectors.
    pub fn take(state: &ClusterState, groups: &LabelGroups, pending_limit: usize) -> Snapshot {
        Snapshot::take_into(state, groups, pending_limit, false, Vec::new())
    }

    /// [`Snapshot::take`] into the node vector of an earlier snapshot (emptied here), so a
    /// scrape does not map and fault in a fresh multi-megabyte vector each time.
    pub fn take_into(
        state: &ClusterState,
        groups: &LabelGroups,
        pending_limit: usize,
        namespace_groups: bool,
        mut nodes: Vec<NodeFigures>,
    ) -> Snapshot {
        let resources = state.resources();
        // In name order already (the state keeps its nodes sorted).
        // Sized once: collecting from the filtering iterator would regrow (and copy) it ~13 times.
        nodes.clear();
        nodes.reserve(state.node_count());
        let devices = state.devices().synced().then(|| state.devices());
        let backed = devices.is_some_and(DeviceState::backs_resources);
        nodes.extend(state.nodes().map(|view| {
            let mut totals = Totals::of_node(view.node, view.sums, resources);
            if backed {
                dra_allocatable(&mut totals, devices, view.name);
            }
            NodeFigures {
                name: view.name.to_owned(),
                unschedulable: view.node.unschedulable,
                group_values: (0..groups.len())
                    .map(|g| groups.value_of(g, view.node))
                    .collect(),
                totals,
            }
        }));

        let mut cluster = Totals::zero(resources);
        let mut by_group: BTreeMap<(usize, &str), Totals> = BTreeMap::new();
        for node in &nodes {
            cluster.add(&node.totals);
            for (g, value) in node.group_values.iter().enumerate() {
                by_group
                    .entry((g, value))
                    .or_insert_with(|| Totals::zero(resources))
                    .add(&node.totals);
            }
        }
        let mut group_figures: Vec<GroupFigures> = by_group
            .into_iter()
            .map(|((g, value), totals)| GroupFigures {
                group: g,
                label_group: groups.name(g).to_owned(),
                value: value.to_owned(),
                totals,
            })
            .collect();
        group_figures.sort_by(|a, b| (&a.label_group, &a.value).cmp(&(&b.label_group, &b.value)));

        let mut pending = Totals::zero(resources);
        let sums = state.pending();
        for r in 0..resources {
            pending.allocated[r] = sums.allocated(r);
        }
        pending.pods = sums.pods;
        pending.pods_by_owner = sums.pods_by_owner;

        let (namespaces, group_namespaces) =
            namespace_figures(state, groups, &nodes, namespace_groups);
        let devices = devices.map(|d| DeviceFigures::take(d, &nodes, &group_figures));
        Snapshot {
            nodes,
            groups: group_figures,
            cluster,
            pending,
            pending_requests: state.pending_requests(pending_limit),
            counts: state.counts(),
            namespaces,
            group_namespaces,
            usage_newest: None,
            devices,
        }
    }

    /// Adds a usage poll (`--usage`): each node's figures by name, summed into its groups and
    /// the cluster, and each namespace's. O(nodes + namespaces) lookups; the pods were joined at
    /// poll time.
    pub fn attach_usage(&mut self, table: &UsageTable) {
        let mut cluster = UsageTotals::default();
        let mut groups = vec![UsageTotals::default(); self.groups.len()];
        let positions = group_positions(&self.groups);
        for node in &mut self.nodes {
            let usage = table
                .nodes
                .get(node.name.as_str())
                .copied()
                .unwrap_or_default();
            node.totals.usage = usage;
            cluster.add(&usage);
            for (g, value) in node.group_values.iter().enumerate() {
                if let Some(&i) = positions.get(&(g, value.as_str())) {
                    groups[i].add(&usage);
                }
            }
        }
        drop(positions);
        self.cluster.usage = cluster;
        for (group, usage) in self.groups.iter_mut().zip(groups) {
            group.totals.usage = usage;
        }
        for ns in &mut self.namespaces {
            ns.usage = table
                .namespaces
                .get(ns.name.as_str())
                .copied()
                .unwrap_or_default();
        }
        self.usage_newest = Some(table.newest);
    }
}

/// Each group's position by (label group, value): how a node's group values find their groups.
fn group_positions(groups: &[GroupFigures]) -> HashMap<(usize, &str), usize> {
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| ((g.group, g.value.as_str()), i))
        .collect()
}

/// KEP-5004: a tracked extended resource backed by a DeviceClass gets, on a node whose
/// allocatable does not advertise it (0), the node's devices of that class as its allocatable
/// and capacity (kube-scheduler's `ShouldDelegateResourceToDRA`: allocatable > 0 is the device
/// plugin's).
fn dra_allocatable(totals: &mut Totals, devices: Option<&DeviceState>, node: &str) {
    let Some(devices) = devices else { return };
    for (r, published) in devices.extended_allocatable(node) {
        if totals.allocatable[r] == 0 {
            totals.allocatable[r] = u128::from(published);
            // A device plugin's capacity (its devices unhealthy: allocatable 0) stays.
            if totals.capacity[r] == 0 {
                totals.capacity[r] = u128::from(published);
            }
        }
    }
}

/// Everything the device families report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFigures {
    /// Node-local devices of the tracked nodes plus the shared pools' devices.
    pub cluster: PlaceDevices,
    /// Shared pools: (driver, pool, devices), by driver then pool.
    pub pools: Vec<(String, String, PlaceDevices)>,
    /// Node-local devices per group value, aligned with the snapshot's groups.
    pub groups: Vec<PlaceDevices>,
    /// Node-local devices of the tracked nodes that have some: (index into the snapshot's nodes,
    /// devices), in node order.
    pub nodes: Vec<(usize, PlaceDevices)>,
    /// Every DeviceClass, by name.
    pub classes: Vec<ClassInfo>,
    /// Claims allocated and pending.
    pub claims: (u64, u64),
}

impl DeviceFigures {
    /// No driver, class or claim: nothing to show (a cluster that serves DRA without using it).
    pub fn is_empty(&self) -> bool {
        self.cluster.drivers.is_empty() && self.classes.is_empty() && self.claims == (0, 0)
    }

    /// Joins the ledger to the snapshot's nodes (sorted by name) and groups: devices of nodes the
    /// exporter does not track (`--node-selector`, not yet listed) are left out.
    fn take(devices: &DeviceState, nodes: &[NodeFigures], groups: &[GroupFigures]) -> Self {
        let positions = group_positions(groups);
        let mut figures = DeviceFigures {
            groups: vec![PlaceDevices::default(); groups.len()],
            classes: devices.classes(),
            claims: devices.claims(),
            pools: devices.pools(),
            ..DeviceFigures::default()
        };
        // Both in name order: a merge, not a lookup per node.
        let mut tracked = nodes.iter().enumerate().peekable();
        for (name, place) in devices.nodes() {
            while tracked.next_if(|(_, n)| n.name.as_str() < name).is_some() {}
            let Some((i, node)) = tracked.next_if(|(_, n)| n.name == name) else {
                continue;
            };
            figures.cluster.add(&place);
            for (g, value) in node.group_values.iter().enumerate() {
                if let Some(&at) = positions.get(&(g, value.as_str())) {
                    figures.groups[at].add(&place);
                }
            }
            figures.nodes.push((i, place));
        }
        for (_, _, place) in &figures.pools {
            figures.cluster.add(place);
        }
        figures
    }
}

/// Per namespace, the counted pods of the tracked nodes (O(namespaces), from the cluster-wide
/// sums); per group value and namespace when asked (O(nodes × namespaces per node), from the
/// per-node sums that [`ClusterState::keep_namespaces_per_node`] keeps).
fn namespace_figures(
    state: &ClusterState,
    groups: &LabelGroups,
    nodes: &[NodeFigures],
    namespace_groups: bool,
) -> (Vec<NamespaceFigures>, Vec<GroupNamespaceFigures>) {
    let resources = state.resources();
    let mut namespaces: Vec<NamespaceFigures> = state
        .namespace_totals()
        .iter()
        .map(|(id, pods, values)| {
            let mut figures = NamespaceFigures::zero(state.namespace_name(id), resources);
            figures.add(pods, values);
            figures
        })
        .collect();
    namespaces.sort_by(|a, b| a.name.cmp(&b.name));
    let mut by_group: BTreeMap<(usize, &str, u32), NamespaceFigures> = BTreeMap::new();
    if namespace_groups {
        for (view, figures) in state.nodes().zip(nodes) {
            for (id, pods, values) in view.sums.namespaces.iter() {
                for (g, value) in figures.group_values.iter().enumerate() {
                    by_group
                        .entry((g, value, id))
                        .or_insert_with(|| {
                            NamespaceFigures::zero(state.namespace_name(id), resources)
                        })
                        .add(pods, values);
                }
            }
        }
    }
    let mut group_namespaces: Vec<GroupNamespaceFigures> = by_group
        .into_iter()
        .map(|((g, value, _), namespace)| GroupNamespaceFigures {
            label_group: groups.name(g).to_owned(),
            value: value.to_owned(),
            namespace,
        })
        .collect();
    group_namespaces.sort_by(|a, b| {
        (&a.label_group, &a.value, &a.namespace.name).cmp(&(
            &b.label_group,
            &b.value,
            &b.namespace.name,
        ))
    });
    (namespaces, group_namespaces)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::state::tests::{node, pod};

    fn labelled(allocatable: &[u64], zone: Option<&str>, pool: Option<&str>) -> NodeRecord {
        let mut n = node(allocatable);
        n.labels = vec![zone.map(Into::into), pool.map(Into::into)].into_boxed_slice();
        n
    }

    #[test]
    fn groups_combine_label_values_and_name_missing_ones() {
        let groups = LabelGroups::new(&[vec!["zone".into(), "pool".into()], vec!["zone".into()]]);
        assert_eq!(groups.keys(), ["zone", "pool"]);
        let mut s = ClusterState::new(1);
        s.apply_node("n1", labelled(&[1000], Some("a"), Some("gpu")));
        s.apply_node("n2", labelled(&[2000], Some("a"), Some("gpu")));
        s.apply_node("n3", labelled(&[4000], Some("b"), None));
        s.apply_pod("x/p", pod(Some("n1"), &[100], Owner::Workload));
        s.apply_pod("x/q", pod(Some("n3"), &[400], Owner::DaemonSet));
        let snap = Snapshot::take(&s, &groups, 0);
        let find = |g: &str, v: &str| {
            snap.groups
                .iter()
                .find(|f| f.label_group == g && f.value == v)
                .unwrap_or_else(|| panic!("{g} {v}"))
        };
        let a_gpu = find("zone,pool", "a,gpu");
        assert_eq!((a_gpu.totals.nodes, a_gpu.totals.allocatable[0]), (2, 3000));
        assert_eq!(a_gpu.totals.allocated[0], 100);
        let b_none = find("zone,pool", "b,<none>");
        assert_eq!(b_none.totals.daemonset(0), 400);
        assert_eq!(find("zone", "a").totals.nodes, 2);
        assert_eq!(snap.groups.len(), 4);
        assert_eq!(snap.cluster.allocated[0], 500);
        assert_eq!(snap.cluster.allocatable[0], 7000);
        assert_eq!(snap.cluster.nodes, 3);
    }

    #[test]
    fn per_resource_figures_are_inline_up_to_four_and_equal_by_content() {
        let mut inline = PerResource::zero(INLINE_RESOURCES);
        assert!(matches!(inline, PerResource::Inline(4, _)));
        inline[3] = 7;
        assert_eq!(&inline[..], [0, 0, 0, 7]);
        let mut heap = PerResource::zero(5);
        assert!(matches!(heap, PerResource::Heap(_)));
        heap[4] = 9;
        assert_eq!(&heap[..], [0, 0, 0, 0, 9]);
        assert_eq!(PerResource::zero(0).len(), 0);
        assert_eq!(format!("{inline:?}"), "[0, 0, 0, 7]");
    }

    #[test]
    fn a_snapshot_taken_into_an_old_node_vector_reuses_it_and_equals_a_fresh_one() {
        let mut s = ClusterState::new(1);
        for name in ["b", "c", "a"] {
            s.apply_node(name, node(&[10]));
        }
        s.apply_pod("x/p", pod(Some("a"), &[7], Owner::Workload));
        let groups = LabelGroups::default();
        let old = Snapshot::take(&s, &groups, 0);
        let address = old.nodes.as_ptr();
        s.delete_node("c");
        let fresh = Snapshot::take(&s, &groups, 0);
        let reused = Snapshot::take_into(&s, &groups, 0, false, old.nodes);
        assert_eq!(reused.nodes.as_ptr(), address);
        let names = |snap: &Snapshot| {
            snap.nodes
                .iter()
                .map(|n| n.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&reused), ["a", "b"]);
        assert_eq!(names(&reused), names(&fresh));
        assert_eq!(reused.cluster, fresh.cluster);
    }

    #[test]
    fn nodes_are_sorted_and_pending_pods_are_apart() {
        let mut s = ClusterState::new(1);
        for name in ["b", "c", "a"] {
            s.apply_node(name, node(&[10]));
        }
        s.apply_pod("x/p", pod(None, &[7], Owner::Workload));
        let snap = Snapshot::take(&s, &LabelGroups::default(), 0);
        let names: Vec<_> = snap.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(snap.pending.allocated[0], 7);
        assert_eq!(snap.cluster.allocated[0], 0);
        assert!(snap.groups.is_empty());
    }
}

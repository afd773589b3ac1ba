//! The cluster state: compact records of pods and nodes keyed by object, and per-node running sums
//! of pod requests kept exact as watch events arrive. It is the one place where records change;
//! it never sees a Kubernetes object (records are built at the edge) and does no I/O.
//!
//! Re-lists follow kube's reflector `Writer`: records of an `Init … InitApply … InitDone` sequence
//! are buffered and swapped in at `InitDone`, so a scrape never sees a half-listed cluster.

use std::collections::HashMap;

use crate::model::devices::DeviceState;
use crate::model::pod_keys::{PodKeys, PodMap, PodSet};
use crate::model::rows::{Row, Rows};

/// Who owns a pod, for the DaemonSet overhead and the allocated-by-owner breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Owner {
    /// Any controller other than a DaemonSet, or none.
    #[default]
    Workload = 0,
    /// Controlled by a DaemonSet.
    DaemonSet = 1,
    /// A mirror pod of a static pod (owned by its Node).
    Static = 2,
}

impl Owner {
    /// All owners, in index order.
    pub const ALL: [Owner; 3] = [Owner::Workload, Owner::DaemonSet, Owner::Static];

    /// The label value used in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Workload => "workload",
            Owner::DaemonSet => "daemonset",
            Owner::Static => "static",
        }
    }
}

/// What the state needs to know about one pod, already accounted at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodFacts {
    /// `spec.nodeName`; `None` for a pod not bound yet (pending).
    pub node: Option<String>,
    /// The pod's requests per tracked resource (scheduler units; `pods` = 1), then its limits
    /// per tracked resource, then room for the record's namespace id: the record's row as it
    /// will be stored in the state's [`Rows`].
    figures: Box<[u64]>,
    /// Bit `i`: the pod is unlimited for tracked resource `i` (see `accounting::pod_limits`).
    pub unlimited: u32,
    /// Owner class.
    pub owner: Owner,
}

impl PodFacts {
    /// Facts from requests and limits (of equal length).
    pub fn new(
        node: Option<String>,
        requests: &[u64],
        limits: &[u64],
        unlimited: u32,
        owner: Owner,
    ) -> PodFacts {
        PodFacts {
            node,
            // The last element is the namespace id, set when the state records the pod.
            figures: requests.iter().chain(limits).copied().chain([0]).collect(),
            unlimited,
            owner,
        }
    }

    /// Requests per tracked resource.
    pub fn requests(&self) -> &[u64] {
        &self.figures[..self.figures.len() / 2]
    }

    /// Limits per tracked resource.
    pub fn limits(&self) -> &[u64] {
        let resources = self.figures.len() / 2;
        &self.figures[resources..2 * resources]
    }
}

/// What the state needs to know about one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// Allocatable per tracked resource.
    pub allocatable: Box<[u64]>,
    /// Capacity per tracked resource.
    pub capacity: Box<[u64]>,
    /// Values of the label keys the label groups use (index = key index), `None` when absent.
    pub labels: Box<[Option<Box<str>>]>,
    /// `allocatable.pods`: how many pods the node admits, tracked resource or not.
    pub pod_slots: u64,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
}

/// Slot index of a pod that is not bound to a node.
const UNBOUND: u32 = u32::MAX;

/// A stored pod: its node slot, owner, unlimited mask, and the row of its figures (requests,
/// limits, namespace id) in the state's [`Rows`]. 12 bytes plus the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PodRecord {
    slot: u32,
    row: Row,
    owner: Owner,
    unlimited: u16,
}

impl PodRecord {
    fn figures<'a>(&self, rows: &'a Rows) -> Figures<'a> {
        Figures(rows.get(self.row))
    }
}

/// A record's row: requests per tracked resource, then limits, then the namespace id.
#[derive(Debug, Clone, Copy)]
struct Figures<'a>(&'a [u64]);

impl<'a> Figures<'a> {
    fn resources(self) -> usize {
        self.0.len() / 2
    }

    fn requests(self) -> &'a [u64] {
        &self.0[..self.resources()]
    }

    fn limits(self) -> &'a [u64] {
        &self.0[self.resources()..2 * self.resources()]
    }

    /// Requests then limits.
    fn both(self) -> &'a [u64] {
        &self.0[..2 * self.resources()]
    }

    fn namespace(self) -> NamespaceId {
        self.0.last().map_or(NamespaceId::MAX, |&n| {
            NamespaceId::try_from(n).unwrap_or(NamespaceId::MAX)
        })
    }
}

/// Namespace index of a pod key (`namespace/name`).
type NamespaceId = u32;

/// Per namespace: counted pods and exact sums of requests then limits (index `r` and
/// `resources + r`), for the namespaces present, in namespace-id order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NamespaceSums {
    ids: Vec<NamespaceId>,
    pods: Vec<u64>,
    values: Vec<u128>,
}

impl NamespaceSums {
    fn add(&mut self, ns: NamespaceId, figures: &[u64], sign: bool) {
        let width = figures.len();
        let at = match self.ids.binary_search(&ns) {
            Ok(at) => at,
            Err(at) => {
                self.ids.insert(at, ns);
                self.pods.insert(at, 0);
                let tail = self.values.split_off(at * width);
                self.values.extend(std::iter::repeat_n(0, width));
                self.values.extend(tail);
                at
            }
        };
        let values = &mut self.values[at * width..(at + 1) * width];
        for (sum, &v) in values.iter_mut().zip(figures) {
            if sign {
                *sum += u128::from(v);
            } else {
                *sum -= u128::from(v);
            }
        }
        if sign {
            self.pods[at] += 1;
        } else {
            self.pods[at] -= 1;
            if self.pods[at] == 0 {
                self.ids.remove(at);
                self.pods.remove(at);
                self.values.drain(at * width..(at + 1) * width);
            }
        }
    }

    /// Each namespace present: its id, counted pods, and requests then limits per resource.
    pub fn iter(&self) -> impl Iterator<Item = (NamespaceId, u64, &[u128])> {
        let width = if self.ids.is_empty() {
            0
        } else {
            self.values.len() / self.ids.len()
        };
        self.ids
            .iter()
            .zip(&self.pods)
            .enumerate()
            .map(move |(i, (&id, &pods))| (id, pods, &self.values[i * width..(i + 1) * width]))
    }
}

/// Exact sums per owner and tracked resource (index `owner * resources + r`), of limits and
/// unlimited pods per resource, and per namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sums {
    values: Box<[u128]>,
    limits: Box<[u128]>,
    unlimited: Box<[u64]>,
    /// Number of pods summed.
    pub pods: u64,
    /// Number of pods summed, per owner class.
    pub pods_by_owner: [u64; 3],
    /// The same pods by namespace: only kept per node with
    /// [`ClusterState::keep_namespaces_per_node`] (`--namespace-group-metrics`).
    pub namespaces: NamespaceSums,
}

impl Sums {
    fn new(resources: usize) -> Sums {
        Sums {
            values: vec![0; resources * Owner::ALL.len()].into_boxed_slice(),
            limits: vec![0; resources].into_boxed_slice(),
            unlimited: vec![0; resources].into_boxed_slice(),
            pods: 0,
            pods_by_owner: [0; 3],
            namespaces: NamespaceSums::default(),
        }
    }

    fn resources(&self) -> usize {
        self.limits.len()
    }

    fn add(&mut self, rec: &PodRecord, figures: Figures<'_>, per_namespace: bool) {
        self.change(rec, figures, per_namespace, true);
    }

    /// Adds or subtracts a record; in its namespace's sums too when `per_namespace`.
    fn change(&mut self, rec: &PodRecord, figures: Figures<'_>, per_namespace: bool, add: bool) {
        let apply = |sum: &mut u128, value: u64| {
            if add {
                *sum += u128::from(value);
            } else {
                *sum -= u128::from(value);
            }
        };
        let base = rec.owner as usize * self.resources();
        for (sum, &value) in self.values[base..].iter_mut().zip(figures.requests()) {
            apply(sum, value);
        }
        for (sum, &value) in self.limits.iter_mut().zip(figures.limits()) {
            apply(sum, value);
        }
        for (r, count) in self.unlimited.iter_mut().enumerate() {
            if r < 16 && rec.unlimited & (1 << r) != 0 {
                if add {
                    *count += 1;
                } else {
                    *count -= 1;
                }
            }
        }
        if add {
            self.pods += 1;
            self.pods_by_owner[rec.owner as usize] += 1;
        } else {
            self.pods -= 1;
            self.pods_by_owner[rec.owner as usize] -= 1;
        }
        if per_namespace {
            self.namespaces
                .add(figures.namespace(), figures.both(), add);
        }
    }

    /// Sum of the limits for one resource index.
    pub fn limits(&self, resource: usize) -> u128 {
        self.limits[resource]
    }

    /// Counted pods unlimited for one resource index.
    pub fn unlimited(&self, resource: usize) -> u64 {
        self.unlimited[resource]
    }

    /// Sum for one owner and resource index.
    pub fn by_owner(&self, owner: Owner, resource: usize) -> u128 {
        self.values[owner as usize * self.resources() + resource]
    }

    /// Sum over all owners for one resource index.
    pub fn allocated(&self, resource: usize) -> u128 {
        Owner::ALL.iter().map(|&o| self.by_owner(o, resource)).sum()
    }
}

/// A node name known to the state: the node itself (once listed) and the sums of the pods bound
/// to that name. Pods may name a node before it is listed, or after it was deleted; their sums
/// are kept but reported nowhere until the node exists.
#[derive(Debug, Clone)]
struct Slot {
    name: Box<str>,
    node: Option<NodeRecord>,
    sums: Sums,
}

/// Buffers of an ongoing re-list: a map of records.
#[derive(Debug, Default)]
struct Relist<M> {
    records: Option<M>,
}

/// One node as the snapshot sees it.
#[derive(Debug, Clone, Copy)]
pub struct NodeView<'a> {
    /// Node name.
    pub name: &'a str,
    /// The node's record.
    pub node: &'a NodeRecord,
    /// Sums of the counted pods bound to it.
    pub sums: &'a Sums,
}

/// Object counts, for `/sync` and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Nodes stored.
    pub nodes: usize,
    /// Pods stored (bound or not).
    pub pods: usize,
    /// Pods bound to a stored node.
    pub counted_pods: u64,
    /// Pods not bound to any node.
    pub pending_pods: u64,
}

/// Records and running sums; see the module header.
#[derive(Debug)]
pub struct ClusterState {
    resources: usize,
    /// Records by pod key hash ([`PodKeys`]).
    pods: PodMap<PodRecord>,
    keys: PodKeys,
    /// The records' figures (and those of a re-list being buffered).
    rows: Rows,
    slots: Vec<Slot>,
    slot_by_name: HashMap<Box<str>, u32>,
    free_slots: Vec<u32>,
    /// The slots that have a node, in name order: kept as nodes come and go (rarely), so a
    /// scrape walks the nodes sorted without sorting 5,000 names each time.
    node_order: Vec<u32>,
    pending: Sums,
    /// Keys of the pods not bound to a node, for the pending-fit estimate.
    pending_keys: PodSet,
    pod_relist: Relist<PodMap<PodRecord>>,
    node_relist: Relist<HashMap<Box<str>, NodeRecord>>,
    nodes: usize,
    /// Namespace names by id, and ids by name (interned once; namespaces are few).
    namespace_names: Vec<Box<str>>,
    namespace_ids: HashMap<Box<str>, NamespaceId>,
    /// The counted pods (on a slot with a node) by namespace, cluster-wide: one entry per
    /// namespace instead of one per node and namespace (40,000 at 5,000 nodes).
    namespaces: NamespaceSums,
    /// Per-node namespace sums too (`--namespace-group-metrics`).
    per_node_namespaces: bool,
    /// Counts the changes that can move a figure: equal generations, equal figures.
    generation: u64,
    /// The DRA device ledger (`resource.k8s.io`).
    devices: DeviceState,
}

impl ClusterState {
    /// An empty state tracking `resources` resources.
    pub fn new(resources: usize) -> ClusterState {
        ClusterState {
            resources,
            pods: PodMap::default(),
            keys: PodKeys::default(),
            rows: Rows::new(2 * resources + 1),
            slots: Vec::new(),
            slot_by_name: HashMap::new(),
            free_slots: Vec::new(),
            node_order: Vec::new(),
            pending: Sums::new(resources),
            pending_keys: PodSet::default(),
            pod_relist: Relist::default(),
            node_relist: Relist::default(),
            nodes: 0,
            namespace_names: Vec::new(),
            namespace_ids: HashMap::new(),
            namespaces: NamespaceSums::default(),
            per_node_namespaces: false,
            generation: 0,
            devices: DeviceState::default(),
        }
    }

    /// Tracks DRA devices, with the tracked resources' names (for DRA-backed extended resources).
    pub fn track_devices(&mut self, tracked: Vec<String>) {
        self.devices = DeviceState::new(tracked);
        self.generation += 1;
    }

    /// The DRA device ledger.
    pub fn devices(&self) -> &DeviceState {
        &self.devices
    }

    /// The DRA device ledger, to apply watch events; [`ClusterState::settle`] counts a change.
    pub fn devices_mut(&mut self) -> &mut DeviceState {
        &mut self.devices
    }

    /// Changes so far that can move a figure: a scrape of the same generation would write the
    /// same figures (a pod or node modified into an equal record is not a change).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Keeps namespace sums per node as well (for the per group value and namespace figures of
    /// `--namespace-group-metrics`); by default only the cluster-wide ones are kept.
    pub fn keep_namespaces_per_node(&mut self) {
        if !self.per_node_namespaces {
            self.per_node_namespaces = true;
            self.generation += 1;
            self.rebuild_sums();
        }
    }

    /// Whether a slot's pods count: it has a node.
    fn counted(&self, slot: u32) -> bool {
        slot != UNBOUND && self.slots[slot as usize].node.is_some()
    }

    /// Ends a batch of changes: rows freed by deletions are reused by later pods; when most are
    /// free (the cluster shrank), they go back to the allocator.
    pub fn settle(&mut self) {
        if self.devices.settle() {
            self.generation += 1;
        }
        if self.rows.free() > self.rows.len().max(4096) {
            self.compact_rows();
        }
    }

    /// Renumbers the rows of every record (stored and buffered by a re-list) to the front.
    fn compact_rows(&mut self) {
        let buffered = self
            .pod_relist
            .records
            .iter_mut()
            .flat_map(HashMap::values_mut);
        let live = self
            .pods
            .values_mut()
            .chain(buffered)
            .map(|rec| &mut rec.row);
        self.rows.compact(live);
    }

    /// The counted pods by namespace, cluster-wide.
    pub fn namespace_totals(&self) -> &NamespaceSums {
        &self.namespaces
    }

    /// A slot's node came (`add`) or went: its pods join or leave the cluster-wide namespace
    /// sums. One pass over the records without hashing (~150,000 compares at 5,000 nodes), only
    /// when the slot has pods.
    fn count_slot_namespaces(&mut self, slot: u32, add: bool) {
        for rec in self.pods.values().filter(|r| r.slot == slot) {
            let figures = rec.figures(&self.rows);
            self.namespaces
                .add(figures.namespace(), figures.both(), add);
        }
    }

    fn recompute_namespaces(&self) -> NamespaceSums {
        let mut sums = NamespaceSums::default();
        for rec in self.pods.values() {
            if self.counted(rec.slot) {
                let figures = rec.figures(&self.rows);
                sums.add(figures.namespace(), figures.both(), true);
            }
        }
        sums
    }

    /// The id of the namespace of a pod key, interned on first sight.
    fn namespace_of(&mut self, key: &str) -> NamespaceId {
        let ns = key.split_once('/').map_or("", |(ns, _)| ns);
        if let Some(&id) = self.namespace_ids.get(ns) {
            return id;
        }
        let id = NamespaceId::try_from(self.namespace_names.len()).unwrap_or(NamespaceId::MAX);
        self.namespace_names.push(ns.into());
        self.namespace_ids.insert(ns.into(), id);
        id
    }

    /// The name of namespace `id`.
    pub fn namespace_name(&self, id: NamespaceId) -> &str {
        self.namespace_names.get(id as usize).map_or("", |n| n)
    }

    /// Number of tracked resources.
    pub fn resources(&self) -> usize {
        self.resources
    }

    fn slot_for(&mut self, name: &str) -> u32 {
        if let Some(&slot) = self.slot_by_name.get(name) {
            return slot;
        }
        let slot = Slot {
            name: name.into(),
            node: None,
            sums: Sums::new(self.resources),
        };
        let index = if let Some(index) = self.free_slots.pop() {
            self.slots[index as usize] = slot;
            index
        } else {
            self.slots.push(slot);
            u32::try_from(self.slots.len() - 1).unwrap_or(UNBOUND - 1)
        };
        self.slot_by_name.insert(name.into(), index);
        index
    }

    /// Frees a slot that has neither a node nor pods, unless a pod re-list may still refer to it.
    fn release_if_unused(&mut self, slot: u32) {
        let s = &self.slots[slot as usize];
        if s.node.is_none() && s.sums.pods == 0 && self.pod_relist.records.is_none() {
            self.slot_by_name.remove(&s.name);
            self.slots[slot as usize].name = "".into();
            self.free_slots.push(slot);
        }
    }

    fn record(&mut self, key: &str, facts: PodFacts) -> PodRecord {
        let slot = match &facts.node {
            Some(name) => self.slot_for(name),
            None => UNBOUND,
        };
        let ns = self.namespace_of(key);
        let mut figures = facts.figures;
        if let Some(last) = figures.last_mut() {
            *last = u64::from(ns);
        }
        PodRecord {
            slot,
            row: self.rows.insert(&figures),
            owner: facts.owner,
            unlimited: u16::try_from(facts.unlimited & 0xFFFF).unwrap_or(0),
        }
    }

    /// Whether `facts` would make the same record as `rec` (an update that moves no figure). The
    /// record was found by the pod's key, so its namespace is the same.
    fn same(&self, rec: &PodRecord, facts: &PodFacts) -> bool {
        let slot = match &facts.node {
            Some(name) => self.slot_by_name.get(name.as_str()).copied(),
            None => Some(UNBOUND),
        };
        slot == Some(rec.slot)
            && rec.owner == facts.owner
            && u32::from(rec.unlimited) == facts.unlimited & 0xFFFF
            && facts
                .figures
                .split_last()
                .is_some_and(|(_, both)| both == rec.figures(&self.rows).both())
    }

    fn add_record(&mut self, rec: &PodRecord) {
        self.change_record(rec, true);
    }

    /// Takes a record out of the sums and frees its row.
    fn remove_record(&mut self, rec: &PodRecord) {
        self.change_record(rec, false);
        self.rows.remove(rec.row);
        if rec.slot != UNBOUND {
            self.release_if_unused(rec.slot);
        }
    }

    fn change_record(&mut self, rec: &PodRecord, add: bool) {
        let per_node = self.per_node_namespaces && rec.slot != UNBOUND;
        let counted = self.counted(rec.slot);
        let figures = rec.figures(&self.rows);
        let sums = if rec.slot == UNBOUND {
            &mut self.pending
        } else {
            &mut self.slots[rec.slot as usize].sums
        };
        sums.change(rec, figures, per_node, add);
        if counted {
            self.namespaces
                .add(figures.namespace(), figures.both(), add);
        }
    }

    /// A pod was added or modified (`Apply`). `None` facts mean the pod no longer counts anywhere
    /// (e.g. it turned Succeeded or Failed) and is dropped.
    pub fn apply_pod(&mut self, key: &str, facts: Option<PodFacts>) {
        // Most pod updates (status, conditions, labels) leave the record as it was.
        let hash = self.keys.of(key);
        match (self.pods.get(&hash), &facts) {
            (Some(rec), Some(facts)) if self.same(rec, facts) => return,
            (None, None) => return,
            _ => {}
        }
        let new = facts.map(|f| self.record(key, f));
        self.generation += 1;
        let pending = new.as_ref().is_some_and(|r| r.slot == UNBOUND);
        // The new record is added before the old one is removed, so a pod modified on the
        // same node never leaves its slot empty (and released) in between.
        if let Some(rec) = &new {
            self.add_record(rec);
        }
        let old = match new {
            Some(rec) => self.pods.insert(hash, rec),
            None => self.pods.remove(&hash),
        };
        if let Some(old) = old {
            self.remove_record(&old);
        }
        if pending {
            self.pending_keys.insert(hash);
        } else {
            self.pending_keys.remove(&hash);
        }
    }

    /// A pod was deleted.
    pub fn delete_pod(&mut self, key: &str) {
        self.apply_pod(key, None);
    }

    /// A pod re-list starts (`Init`).
    pub fn begin_pod_relist(&mut self) {
        // A re-list that restarts drops what the unfinished one buffered.
        if let Some(buffered) = self.pod_relist.records.replace(PodMap::default()) {
            for rec in buffered.values() {
                self.rows.remove(rec.row);
            }
        }
    }

    /// A pod arrived during a re-list (`InitApply`).
    pub fn relist_pod(&mut self, key: &str, facts: Option<PodFacts>) {
        if self.pod_relist.records.is_none() {
            self.begin_pod_relist();
        }
        if let Some(facts) = facts {
            let rec = self.record(key, facts);
            if let Some(buffer) = self.pod_relist.records.as_mut() {
                if let Some(listed_twice) = buffer.insert(self.keys.of(key), rec) {
                    self.rows.remove(listed_twice.row);
                }
            }
        }
    }

    /// The pod re-list is complete (`InitDone`): its records replace the stored ones atomically.
    pub fn finish_pod_relist(&mut self) {
        if let Some(records) = self.pod_relist.records.take() {
            self.generation += 1;
            for rec in self.pods.values() {
                self.rows.remove(rec.row);
            }
            self.pods = records;
            self.compact_rows();
            self.pending_keys = self
                .pods
                .iter()
                .filter(|(_, r)| r.slot == UNBOUND)
                .map(|(&k, _)| k)
                .collect();
            self.rebuild_sums();
        }
    }

    /// A node was added or modified.
    pub fn apply_node(&mut self, name: &str, node: NodeRecord) {
        let slot = self.slot_for(name);
        let s = &mut self.slots[slot as usize];
        if s.node.as_ref() == Some(&node) {
            return;
        }
        self.generation += 1;
        let new = s.node.is_none();
        s.node = Some(node);
        if new {
            // Its pods count from now on.
            if s.sums.pods > 0 {
                self.count_slot_namespaces(slot, true);
            }
            self.nodes += 1;
            let slots = &self.slots;
            let at = self
                .node_order
                .partition_point(|&i| *slots[i as usize].name < *name);
            self.node_order.insert(at, slot);
        }
    }

    /// A node was deleted: its series disappear; pods still naming it count nowhere.
    pub fn delete_node(&mut self, name: &str) {
        if let Some(&slot) = self.slot_by_name.get(name) {
            if self.slots[slot as usize].node.take().is_some() {
                self.generation += 1;
                if self.slots[slot as usize].sums.pods > 0 {
                    self.count_slot_namespaces(slot, false);
                }
                self.nodes -= 1;
                self.node_order.retain(|&i| i != slot);
            }
            self.release_if_unused(slot);
        }
    }

    /// A node re-list starts.
    pub fn begin_node_relist(&mut self) {
        self.node_relist.records = Some(HashMap::new());
    }

    /// A node arrived during a re-list.
    pub fn relist_node(&mut self, name: &str, node: NodeRecord) {
        self.node_relist
            .records
            .get_or_insert_with(HashMap::new)
            .insert(name.into(), node);
    }

    /// The node re-list is complete: listed nodes replace the stored ones atomically.
    pub fn finish_node_relist(&mut self) {
        let Some(mut records) = self.node_relist.records.take() else {
            return;
        };
        self.generation += 1;
        for index in 0..self.slots.len() {
            let name = self.slots[index].name.clone();
            if name.is_empty() {
                continue;
            }
            self.slots[index].node = records.remove(&name);
        }
        for (name, node) in records {
            let slot = self.slot_for(&name);
            self.slots[slot as usize].node = Some(node);
        }
        self.nodes = self.slots.iter().filter(|s| s.node.is_some()).count();
        // Which slots count changed: the cluster-wide namespace sums are recomputed (O(pods),
        // once per node re-list).
        self.namespaces = self.recompute_namespaces();
        self.collect_unused_slots();
        let slots = &self.slots;
        self.node_order = (0..slots.len())
            .filter(|&i| slots[i].node.is_some())
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        self.node_order
            .sort_unstable_by(|&a, &b| slots[a as usize].name.cmp(&slots[b as usize].name));
    }

    fn collect_unused_slots(&mut self) {
        for index in 0..self.slots.len() {
            let slot = &self.slots[index];
            if !slot.name.is_empty() && slot.node.is_none() && slot.sums.pods == 0 {
                self.release_if_unused(u32::try_from(index).unwrap_or(UNBOUND));
            }
        }
    }

    /// Recomputes every sum from the stored records.
    fn rebuild_sums(&mut self) {
        let (slot_sums, pending) = self.recompute();
        for (slot, sums) in self.slots.iter_mut().zip(slot_sums) {
            slot.sums = sums;
        }
        self.pending = pending;
        self.namespaces = self.recompute_namespaces();
        self.collect_unused_slots();
    }

    fn recompute(&self) -> (Vec<Sums>, Sums) {
        let mut slot_sums = vec![Sums::new(self.resources); self.slots.len()];
        let mut pending = Sums::new(self.resources);
        for rec in self.pods.values() {
            let figures = rec.figures(&self.rows);
            if rec.slot == UNBOUND {
                pending.add(rec, figures, false);
            } else {
                slot_sums[rec.slot as usize].add(rec, figures, self.per_node_namespaces);
            }
        }
        (slot_sums, pending)
    }

    /// Resync: recomputes the sums from the records and compares them with the running sums.
    /// Returns the names of the node slots that drifted (`""` for the pending pods), after
    /// replacing the running sums with the recomputed ones.
    pub fn resync(&mut self) -> Vec<String> {
        let (slot_sums, pending) = self.recompute();
        let mut drifted = Vec::new();
        for (slot, sums) in self.slots.iter_mut().zip(slot_sums) {
            if slot.sums != sums {
                drifted.push(slot.name.to_string());
                slot.sums = sums;
            }
        }
        if self.pending != pending {
            drifted.push(String::new());
            self.pending = pending;
        }
        let namespaces = self.recompute_namespaces();
        if self.namespaces != namespaces {
            drifted.push("<namespaces>".to_owned());
        }
        if !drifted.is_empty() {
            self.generation += 1;
        }
        self.namespaces = namespaces;
        drifted
    }

    /// Every stored node with the sums of its pods, in name order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeView<'_>> {
        self.node_order.iter().filter_map(|&i| {
            let slot = &self.slots[i as usize];
            slot.node.as_ref().map(|node| NodeView {
                name: &slot.name,
                node,
                sums: &slot.sums,
            })
        })
    }

    /// Sums of the pods that are not bound to a node.
    pub fn pending(&self) -> &Sums {
        &self.pending
    }

    /// Request vectors of up to `limit` pods that are not bound to a node.
    pub fn pending_requests(&self, limit: usize) -> Vec<Box<[u64]>> {
        self.pending_keys
            .iter()
            .take(limit)
            .filter_map(|k| {
                self.pods
                    .get(k)
                    .map(|r| r.figures(&self.rows).requests().into())
            })
            .collect()
    }

    /// Stored pod records, in O(1) (after every watch event; [`ClusterState::counts`] walks the
    /// nodes).
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    /// A pod counted on a tracked node, by key (`namespace/name`): the node's name and the pod's
    /// requests. `None` for an unknown pod, a pending one, or one bound to a node not tracked.
    pub fn counted_pod(&self, key: &str) -> Option<(&str, &[u64])> {
        let record = self.pods.get(&self.keys.of(key))?;
        if record.slot == UNBOUND {
            return None;
        }
        let slot = &self.slots[record.slot as usize];
        slot.node.as_ref()?;
        Some((&slot.name, record.figures(&self.rows).requests()))
    }

    /// Stored nodes, in O(1).
    pub fn node_count(&self) -> usize {
        self.nodes
    }

    /// Object counts; walks the nodes to count the counted pods (once per scrape, not per event).
    pub fn counts(&self) -> Counts {
        Counts {
            nodes: self.nodes,
            pods: self.pods.len(),
            counted_pods: self.nodes().map(|n| n.sums.pods).sum(),
            pending_pods: self.pending.pods,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn node(allocatable: &[u64]) -> NodeRecord {
        NodeRecord {
            allocatable: allocatable.into(),
            capacity: allocatable.into(),
            labels: Box::new([]),
            pod_slots: 110,
            unschedulable: false,
        }
    }

    #[allow(clippy::unnecessary_wraps)]
    pub(crate) fn pod(node: Option<&str>, requests: &[u64], owner: Owner) -> Option<PodFacts> {
        Some(PodFacts::new(
            node.map(str::to_owned),
            requests,
            &vec![0; requests.len()],
            0,
            owner,
        ))
    }

    #[test]
    fn a_pod_map_entry_is_28_bytes() {
        // Key and record, no padding: the map holds one entry per cached pod (its buckets are a
        // power of two at most 7/8 full, so this is ~50 of the bytes per pod).
        assert_eq!(
            std::mem::size_of::<(crate::model::pod_keys::PodKey, PodRecord)>(),
            28
        );
    }

    fn allocated(state: &ClusterState, name: &str) -> Vec<u128> {
        let n = state.nodes().find(|n| n.name == name).expect("node");
        (0..state.resources())
            .map(|r| n.sums.allocated(r))
            .collect()
    }

    #[test]
    fn rows_freed_by_deletions_are_compacted_and_every_figure_stays() {
        let mut s = ClusterState::new(2);
        s.apply_node("a", node(&[u64::MAX / 4, u64::MAX / 4]));
        let key = |i: u64| format!("ns{}/p{i}", i % 7);
        for i in 0..10_000u64 {
            s.apply_pod(&key(i), pod(Some("a"), &[i, 2 * i], Owner::Workload));
        }
        for i in (0..10_000u64).filter(|i| i % 10 != 0) {
            s.delete_pod(&key(i));
        }
        assert!(s.rows.free() > 4096);
        let namespaces = s.namespace_totals().clone();
        s.settle();
        assert_eq!((s.rows.free(), s.rows.len()), (0, 1_000), "compacted");
        let kept: u64 = (0..10_000u64).step_by(10).sum();
        assert_eq!(allocated(&s, "a"), [u128::from(kept), 2 * u128::from(kept)]);
        assert!(
            s.resync().is_empty(),
            "the records still sum to the running sums"
        );
        assert_eq!(*s.namespace_totals(), namespaces);
        for i in (0..10_000u64).step_by(10) {
            assert_eq!(s.counted_pod(&key(i)).unwrap().1, [i, 2 * i]);
        }
    }

    #[test]
    fn a_restarted_re_list_leaves_one_row_per_stored_pod() {
        let mut s = ClusterState::new(1);
        s.apply_node("a", node(&[1000]));
        for i in 0..50u64 {
            s.apply_pod(&format!("ns/p{i}"), pod(Some("a"), &[i], Owner::Workload));
        }
        s.begin_pod_relist();
        for i in 0..30u64 {
            s.relist_pod(
                &format!("ns/p{i}"),
                pod(Some("a"), &[i + 1], Owner::Workload),
            );
        }
        // The watch restarts before InitDone: the buffered records go.
        s.begin_pod_relist();
        for i in 0..20u64 {
            s.relist_pod(&format!("ns/q{i}"), pod(Some("a"), &[2], Owner::Workload));
            s.relist_pod(&format!("ns/q{i}"), pod(Some("a"), &[3], Owner::Workload));
        }
        s.finish_pod_relist();
        assert_eq!(s.pod_count(), 20);
        assert_eq!((s.rows.len(), s.rows.free()), (20, 0));
        assert_eq!(allocated(&s, "a"), [60]);
        assert_eq!(s.counted_pod("ns/q7").unwrap().1, [3]);
    }

    #[test]
    fn the_generation_moves_with_every_change_of_a_figure_and_only_then() {
        let mut s = ClusterState::new(2);
        let mut seen = s.generation();
        let mut changed = |s: &ClusterState, expected: bool, what: &str| {
            assert_eq!(s.generation() != seen, expected, "{what}");
            seen = s.generation();
        };
        s.apply_node("a", node(&[4000, 100]));
        changed(&s, true, "a node added");
        s.apply_node("a", node(&[4000, 100]));
        changed(&s, false, "a node modified into an equal record");
        s.apply_node("a", node(&[4000, 200]));
        changed(&s, true, "allocatable changed");
        s.apply_pod("ns/p", pod(Some("a"), &[100, 10], Owner::Workload));
        changed(&s, true, "a pod added");
        s.apply_pod("ns/p", pod(Some("a"), &[100, 10], Owner::Workload));
        changed(
            &s,
            false,
            "a pod modified into an equal record (a status update)",
        );
        assert_eq!(allocated(&s, "a"), [100, 10], "not counted twice");
        s.apply_pod("ns/p", pod(Some("a"), &[100, 20], Owner::Workload));
        changed(&s, true, "a pod resized");
        s.apply_pod("ns/p", pod(Some("a"), &[100, 20], Owner::DaemonSet));
        changed(&s, true, "another owner class");
        s.apply_pod("ns/q", pod(Some("a"), &[100, 20], Owner::DaemonSet));
        changed(&s, true, "same figures, another pod");
        s.delete_pod("ns/gone");
        changed(&s, false, "an unknown pod deleted");
        s.delete_pod("ns/q");
        changed(&s, true, "a pod deleted");
        s.begin_pod_relist();
        s.relist_pod("ns/p", pod(Some("a"), &[100, 20], Owner::DaemonSet));
        changed(&s, false, "a re-list in progress shows nothing yet");
        s.finish_pod_relist();
        changed(&s, true, "a re-list applied");
        assert!(s.resync().is_empty());
        changed(&s, false, "a resync without drift");
        s.delete_node("a");
        changed(&s, true, "a node deleted");
    }

    #[test]
    fn pods_are_summed_on_their_node_and_moved_on_rebind() {
        let mut s = ClusterState::new(2);
        s.apply_node("a", node(&[4000, 100]));
        s.apply_node("b", node(&[4000, 100]));
        s.apply_pod("ns/p1", pod(Some("a"), &[100, 10], Owner::Workload));
        s.apply_pod("ns/p2", pod(Some("a"), &[200, 20], Owner::DaemonSet));
        assert_eq!(allocated(&s, "a"), [300, 30]);
        s.apply_pod("ns/p1", pod(Some("b"), &[100, 10], Owner::Workload));
        assert_eq!(allocated(&s, "a"), [200, 20]);
        assert_eq!(allocated(&s, "b"), [100, 10]);
        let a = s.nodes().find(|n| n.name == "a").unwrap();
        assert_eq!(a.sums.by_owner(Owner::DaemonSet, 0), 200);
        s.delete_pod("ns/p2");
        assert_eq!(allocated(&s, "a"), [0, 0]);
        assert!(s.resync().is_empty());
    }

    #[test]
    fn pods_on_unknown_nodes_count_nowhere_until_the_node_appears() {
        let mut s = ClusterState::new(1);
        s.apply_pod("ns/p", pod(Some("ghost"), &[500], Owner::Workload));
        assert_eq!(s.nodes().count(), 0);
        s.apply_node("ghost", node(&[1000]));
        assert_eq!(allocated(&s, "ghost"), [500]);
        s.delete_node("ghost");
        assert_eq!(s.nodes().count(), 0);
        assert_eq!(s.counts().pods, 1);
    }

    #[test]
    fn terminal_pods_and_unbound_pods_leave_node_sums() {
        let mut s = ClusterState::new(1);
        s.apply_node("a", node(&[1000]));
        s.apply_pod("ns/p", pod(Some("a"), &[500], Owner::Workload));
        s.apply_pod("ns/p", None);
        assert_eq!(allocated(&s, "a"), [0]);
        s.apply_pod("ns/q", pod(None, &[300], Owner::Workload));
        assert_eq!(s.pending().allocated(0), 300);
        assert_eq!(s.pending().pods, 1);
        s.apply_pod("ns/q", pod(Some("a"), &[300], Owner::Workload));
        assert_eq!(s.pending().pods, 0);
        assert_eq!(allocated(&s, "a"), [300]);
    }

    #[test]
    fn a_relist_replaces_pods_atomically_without_double_counting() {
        let mut s = ClusterState::new(1);
        s.apply_node("a", node(&[1000]));
        s.apply_pod("ns/old", pod(Some("a"), &[100], Owner::Workload));
        s.apply_pod("ns/kept", pod(Some("a"), &[200], Owner::Workload));
        s.begin_pod_relist();
        s.relist_pod("ns/kept", pod(Some("a"), &[200], Owner::Workload));
        s.relist_pod("ns/new", pod(Some("b"), &[50], Owner::Workload));
        // Until InitDone the old state is served.
        assert_eq!(allocated(&s, "a"), [300]);
        s.finish_pod_relist();
        assert_eq!(allocated(&s, "a"), [200]);
        s.apply_node("b", node(&[1000]));
        assert_eq!(allocated(&s, "b"), [50]);
        assert_eq!(s.counts().pods, 2);
        assert!(s.resync().is_empty());
    }

    #[test]
    fn a_node_relist_drops_nodes_not_listed_again() {
        let mut s = ClusterState::new(1);
        s.apply_node("a", node(&[1000]));
        s.apply_node("b", node(&[1000]));
        s.begin_node_relist();
        s.relist_node("b", node(&[2000]));
        s.relist_node("c", node(&[3000]));
        assert_eq!(s.counts().nodes, 2);
        s.finish_node_relist();
        let mut names: Vec<_> = s.nodes().map(|n| n.name.to_owned()).collect();
        names.sort();
        assert_eq!(names, ["b", "c"]);
        assert_eq!(s.counts().nodes, 2);
    }

    #[test]
    fn nodes_come_in_name_order_through_adds_deletes_and_relists() {
        let names = |s: &ClusterState| s.nodes().map(|n| n.name.to_owned()).collect::<Vec<_>>();
        let mut s = ClusterState::new(1);
        for name in ["m", "c", "x", "a", "q"] {
            s.apply_node(name, node(&[1]));
        }
        s.apply_node("c", node(&[2]));
        assert_eq!(names(&s), ["a", "c", "m", "q", "x"]);
        s.delete_node("m");
        s.delete_node("nope");
        // A pod naming a node before it is listed takes a slot but is no node yet.
        s.apply_pod("ns/p", pod(Some("b"), &[1], Owner::Workload));
        assert_eq!(names(&s), ["a", "c", "q", "x"]);
        s.apply_node("b", node(&[1]));
        s.apply_node("m", node(&[1]));
        assert_eq!(names(&s), ["a", "b", "c", "m", "q", "x"]);
        s.begin_node_relist();
        for name in ["z", "b", "d"] {
            s.relist_node(name, node(&[1]));
        }
        s.finish_node_relist();
        assert_eq!(names(&s), ["b", "d", "z"]);
        assert_eq!((s.counts().nodes, s.node_count()), (3, 3));
        assert_eq!(s.pod_count(), 1);
        s.apply_node("c", node(&[1]));
        assert_eq!(names(&s), ["b", "c", "d", "z"]);
    }

    #[test]
    fn slots_are_reused_after_their_node_and_pods_are_gone() {
        let mut s = ClusterState::new(1);
        for round in 0..100 {
            let name = format!("n{round}");
            s.apply_node(&name, node(&[1]));
            s.apply_pod("ns/p", pod(Some(&name), &[1], Owner::Workload));
            s.delete_pod("ns/p");
            s.delete_node(&name);
        }
        assert!(s.slots.len() <= 2, "{} slots", s.slots.len());
    }

    #[test]
    fn resync_reports_and_repairs_drift() {
        let mut s = ClusterState::new(1);
        s.apply_node("a", node(&[1000]));
        s.apply_pod("ns/p", pod(Some("a"), &[100], Owner::Workload));
        s.slots[0].sums.values[0] += 7;
        assert_eq!(s.resync(), ["a"]);
        assert_eq!(allocated(&s, "a"), [100]);
    }

    /// A seeded generator for the model test (fastrand's, deterministic per seed).
    struct Rng(fastrand::Rng);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0.u64(0..n)
        }
        fn index(&mut self, n: usize) -> usize {
            self.0.usize(0..n)
        }
    }

    type Model = (
        HashMap<String, (Option<String>, Vec<u64>, Owner)>,
        HashMap<String, u64>,
    );

    fn expected(model: &Model) -> HashMap<String, (Vec<u128>, u64)> {
        let (pods, nodes) = model;
        let mut out: HashMap<String, (Vec<u128>, u64)> =
            nodes.keys().map(|n| (n.clone(), (vec![0; 2], 0))).collect();
        for (node, requests, _) in pods.values() {
            if let Some(e) = node.as_ref().and_then(|n| out.get_mut(n)) {
                for (sum, v) in e.0.iter_mut().zip(requests) {
                    *sum += u128::from(*v);
                }
                e.1 += 1;
            }
        }
        out
    }

    /// The cluster-wide namespace sums equal the model's pods bound to a node that exists; the
    /// per-node ones are kept only when asked, and then add up to them.
    fn check_namespaces(s: &ClusterState, model: &Model, per_node: bool, at: &str) {
        // The cluster-wide namespace sums: pods bound to a node that exists.
        let mut want_ns: HashMap<String, (Vec<u128>, u64)> = HashMap::new();
        for (key, (bound, requests, _)) in &model.0 {
            if bound.as_ref().is_some_and(|n| model.1.contains_key(n)) {
                let ns = key.split_once('/').unwrap().0.to_owned();
                let entry = want_ns.entry(ns).or_insert((vec![0; 4], 0));
                for (sum, &v) in entry.0.iter_mut().zip(requests) {
                    *sum += u128::from(v);
                }
                entry.1 += 1;
            }
        }
        let got_ns: HashMap<String, (Vec<u128>, u64)> = s
            .namespace_totals()
            .iter()
            .map(|(id, pods, values)| (s.namespace_name(id).to_owned(), (values.to_vec(), pods)))
            .collect();
        assert_eq!(got_ns, want_ns, "namespaces, {at}");
        // Per node only when kept, and then adding up to the cluster-wide figures.
        let mut per_node_ns: HashMap<String, (Vec<u128>, u64)> = HashMap::new();
        for n in s.nodes() {
            for (id, pods, values) in n.sums.namespaces.iter() {
                let entry = per_node_ns
                    .entry(s.namespace_name(id).to_owned())
                    .or_insert((vec![0; 4], 0));
                for (sum, v) in entry.0.iter_mut().zip(values) {
                    *sum += v;
                }
                entry.1 += pods;
            }
        }
        if per_node {
            assert_eq!(per_node_ns, want_ns, "per node, {at}");
        } else {
            assert!(per_node_ns.is_empty(), "{at}");
        }
    }

    #[test]
    fn running_sums_always_equal_a_recompute_over_random_event_sequences() {
        const NODES: [&str; 5] = ["n0", "n1", "n2", "n3", "ghost"];
        for seed in 0..200 {
            let mut rng = Rng(fastrand::Rng::with_seed(seed));
            let mut s = ClusterState::new(2);
            let per_node = seed % 2 == 0;
            if per_node {
                s.keep_namespaces_per_node();
            }
            let mut model: Model = Default::default();
            let mut relist: Option<Model> = None;
            for step in 0..400 {
                let key = format!("ns{}/p{}", rng.below(3), rng.below(40));
                let node = NODES[rng.index(5)].to_owned();
                let requests = vec![rng.below(4000), rng.below(u64::MAX / 1024)];
                let owner = Owner::ALL[rng.index(3)];
                let bound = (rng.below(6) > 0).then_some(node.clone());
                match rng.below(12) {
                    0..=3 => {
                        let terminal = rng.below(8) == 0;
                        let facts = (!terminal)
                            .then(|| PodFacts::new(bound.clone(), &requests, &[0, 0], 0, owner));
                        if let Some(buffer) = relist.as_mut() {
                            s.relist_pod(&key, facts);
                            if !terminal {
                                buffer.0.insert(key, (bound, requests, owner));
                            }
                        } else {
                            s.apply_pod(&key, facts);
                            if terminal {
                                model.0.remove(&key);
                            } else {
                                model.0.insert(key, (bound, requests, owner));
                            }
                        }
                    }
                    4 | 5 if relist.is_none() => {
                        s.delete_pod(&key);
                        model.0.remove(&key);
                    }
                    6 => {
                        s.apply_node(&node, super::tests::node(&[1, 1]));
                        model.1.insert(node, 1);
                    }
                    7 => {
                        s.delete_node(&node);
                        model.1.remove(&node);
                    }
                    8 if relist.is_none() => {
                        s.begin_pod_relist();
                        relist = Some((HashMap::new(), HashMap::new()));
                    }
                    9 => {
                        if let Some(buffer) = relist.take() {
                            s.finish_pod_relist();
                            model.0 = buffer.0;
                        }
                    }
                    10 => {
                        // A node re-list that lists a random subset of the model's nodes.
                        s.begin_node_relist();
                        let kept: Vec<String> = model
                            .1
                            .keys()
                            .filter(|_| rng.below(3) > 0)
                            .cloned()
                            .collect();
                        for n in &kept {
                            s.relist_node(n, super::tests::node(&[1, 1]));
                        }
                        s.finish_node_relist();
                        model.1 = kept.into_iter().map(|n| (n, 1)).collect();
                    }
                    _ => {}
                }
                if rng.below(3) == 0 {
                    s.settle();
                }
                if relist.is_some() {
                    continue;
                }
                check_namespaces(&s, &model, per_node, &format!("seed {seed} step {step}"));
                let want = expected(&model);
                let got: HashMap<String, (Vec<u128>, u64)> = s
                    .nodes()
                    .map(|n| {
                        let sums = (0..2).map(|r| n.sums.allocated(r)).collect();
                        (n.name.to_owned(), (sums, n.sums.pods))
                    })
                    .collect();
                assert_eq!(got, want, "seed {seed} step {step}");
                assert_eq!(s.counts().pods, model.0.len(), "seed {seed} step {step}");
                assert_eq!(s.pod_count(), model.0.len(), "seed {seed} step {step}");
                let pending = model.0.values().filter(|(n, _, _)| n.is_none()).count();
                assert_eq!(
                    s.pending_requests(usize::MAX).len(),
                    pending,
                    "seed {seed} step {step}"
                );
                assert!(s.resync().is_empty(), "drift at seed {seed} step {step}");
            }
        }
    }
}

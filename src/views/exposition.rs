//! Hand-encoded Prometheus text exposition (format 0.0.4) of a [`Snapshot`] (and the
//! [`Capacity`] figures derived from it). Metric names and HELP texts come from [`catalogue`]:
//! this file decides which families a scrape writes and their values, and never assembles a name.
//! Families come in a fixed order (scope, then family) and series in label order, so the same
//! state always gives the same bytes. Values are exact integers until the last step: CPU is
//! printed as cores from millicores by decimal formatting, never through a float. Label values
//! are escaped once per node or group, not once per series.

use std::cell::RefCell;
use std::io::Write;
use std::ops::Range;

use crate::model::state::Owner;
use crate::model::usage::{Pair, UsageTotals, USAGE_RESOURCES};
use crate::views::capacity::{Capacity, Room};
use crate::views::catalogue::{self, Family, NamespaceFamilies, ScopeFamilies};
use crate::views::snapshot::{NamespaceFigures, Snapshot, Totals};

/// Content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which optional family sets are exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub struct Families {
    /// Per-node families.
    pub node: bool,
    /// `*_shape_fit`.
    pub shape_fit: bool,
    /// `*_largest_free`, `*_stranded`, `*_headroom_nodes`.
    pub free: bool,
    /// `*_nodes_lower_bound`, `*_removable_nodes`.
    pub compaction: bool,
    /// `binpacking_cluster_pending_*`.
    pub pending: bool,
    /// `*_allocated_by_owner`.
    pub owner: bool,
    /// `*_reserved`.
    pub reserved: bool,
    /// `*_limits`, `*_limits_ratio`, `*_unlimited_pods`.
    pub limits: bool,
    /// `binpacking_namespace_*`.
    pub namespace: bool,
    /// `binpacking_group_namespace_*` (one series per label group value and namespace).
    pub namespace_group: bool,
    /// The DRA device families (`binpacking_*_devices*`, `binpacking_device_class_*`,
    /// `binpacking_cluster_resource_claims`), once the DRA objects are watched and listed.
    pub devices: bool,
}

impl Families {
    /// Only the base families (no capacity figures).
    pub const BASE: Families = Families {
        node: true,
        shape_fit: false,
        free: false,
        compaction: false,
        pending: false,
        owner: false,
        reserved: false,
        limits: false,
        namespace: false,
        namespace_group: false,
        devices: false,
    };

    /// Every family.
    pub const ALL: Families = Families {
        node: true,
        shape_fit: true,
        free: true,
        compaction: true,
        pending: true,
        owner: true,
        reserved: true,
        limits: true,
        namespace: true,
        namespace_group: true,
        devices: true,
    };

    /// Whether any family needs the [`Capacity`] figures.
    pub fn need_capacity(self) -> bool {
        self.shape_fit || self.free || self.compaction || self.pending
    }
}

/// What to encode besides the snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// Tracked resource names, in the order of the snapshot's vectors.
    pub resources: &'a [String],
    /// Which families are exported.
    pub families: Families,
    /// Whether label groups are configured (group families are exported even when empty).
    pub label_groups: bool,
    /// Seconds since the stalest watch last heard from the API server; `None`: not written
    /// here (a scrape writes it with the other clock-driven families before the figures).
    pub cache_age_seconds: Option<f64>,
}

/// A per-resource family of every scope: which one, and how to get the value from totals.
struct TotalsFamily {
    family: fn(&'static ScopeFamilies) -> &'static Family,
    value: fn(&Totals, usize, bool, &mut Vec<u8>),
}

const RESOURCE_FAMILIES: &[TotalsFamily] = &[
    TotalsFamily {
        family: |s| &s.allocatable,
        value: |t, r, cpu, out| write_amount(out, t.allocatable[r], cpu),
    },
    TotalsFamily {
        family: |s| &s.allocated,
        value: |t, r, cpu, out| write_amount(out, t.allocated[r], cpu),
    },
    TotalsFamily {
        family: |s| &s.daemonset_overhead,
        value: |t, r, cpu, out| write_amount(out, t.daemonset(r), cpu),
    },
    TotalsFamily {
        family: |s| &s.daemonset_overhead_ratio,
        value: |t, r, _, out| write_ratio(out, t.daemonset(r), t.allocatable[r]),
    },
    TotalsFamily {
        family: |s| &s.utilization_ratio,
        value: |t, r, _, out| write_ratio(out, t.allocated[r], t.allocatable[r]),
    },
];

/// Per-resource families over a set of nodes computed by [`crate::views::capacity`] (none for
/// the node scope).
struct RoomFamily {
    family: fn(&'static ScopeFamilies) -> Option<&'static Family>,
    value: fn(&Room, usize, bool, &mut Vec<u8>),
    set: fn(Families) -> bool,
}

const ROOM_FAMILIES: &[RoomFamily] = &[
    RoomFamily {
        family: |s| s.headroom_nodes.as_ref(),
        value: |room, r, _, out| write_float(out, room.headroom_nodes(r)),
        set: |f| f.free,
    },
    RoomFamily {
        family: |s| s.largest_free.as_ref(),
        value: |room, r, cpu, out| write_amount(out, room.largest_free[r], cpu),
        set: |f| f.free,
    },
    RoomFamily {
        family: |s| s.nodes_lower_bound.as_ref(),
        value: |room, r, _, out| {
            let _ = write!(out, "{}", room.nodes_lower_bound(r));
        },
        set: |f| f.compaction,
    },
    RoomFamily {
        family: |s| s.stranded.as_ref(),
        value: |room, r, cpu, out| write_amount(out, room.stranded[r], cpu),
        set: |f| f.free,
    },
];

/// One node or group value: its escaped label prefix (`node="x",`) and its figures.
struct Item<'a> {
    labels: String,
    totals: &'a Totals,
    room: Option<&'a Room>,
    shape_fit: Option<&'a [u128]>,
}

/// Encodes the binpacking families into `out` (appending). `capacity` is needed when
/// [`Families::need_capacity`].
pub fn encode(
    snapshot: &Snapshot,
    capacity: Option<&Capacity>,
    opts: &Options<'_>,
    out: &mut Vec<u8>,
) {
    let layout = Layout::new(snapshot, capacity, opts);
    encode_head(&layout, snapshot, capacity, opts, out);
    if opts.families.node {
        encode_nodes(&layout, snapshot, capacity, out);
    }
}

/// The node families as [`encode`] writes them: headers and every node's lines.
pub fn encode_nodes(
    layout: &Layout,
    snapshot: &Snapshot,
    capacity: Option<&Capacity>,
    out: &mut Vec<u8>,
) {
    let nodes = node_items(snapshot, capacity, 0..snapshot.nodes.len());
    layout.encoder(None).scope(out, &catalogue::NODE, &nodes);
}

/// A family's start in text written without headers ([`encode_node_lines`]): the offset of its
/// first line and the family.
pub type Mark = (usize, &'static Family);

/// The tables every series of one encoding pass reuses (resource order, escaped names, label
/// tails, usage slots, shapes), made once per scrape from the options, the snapshot's usage and
/// the shapes. The text of a node is a function of its figures and the layout alone: equal
/// layouts write equal lines for equal figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// With usage attached: the usage resources (vector index, pair index), in name order.
    usage: Vec<(usize, usize)>,
    /// Resource vector indices in name order, so series are sorted by label value.
    order: Vec<usize>,
    /// Escaped resource names and whether each is cpu.
    resources: Vec<(String, bool)>,
    /// Series end with `resource="NAME"} `: built once per scrape, not once per series.
    tails: Vec<String>,
    families: Families,
    shapes: Vec<String>,
}

impl Layout {
    /// The layout of a scrape of `snapshot` with `capacity` and `opts`.
    pub fn new(snapshot: &Snapshot, capacity: Option<&Capacity>, opts: &Options<'_>) -> Layout {
        let mut order: Vec<usize> = (0..opts.resources.len()).collect();
        order.sort_by(|&a, &b| opts.resources[a].cmp(&opts.resources[b]));
        let resources: Vec<(String, bool)> = opts
            .resources
            .iter()
            .map(|r| {
                let mut escaped = String::new();
                escape_into(&mut escaped, r);
                (escaped, is_cpu(r))
            })
            .collect();
        let tails = resources
            .iter()
            .map(|(name, _)| format!("resource=\"{name}\"}} "))
            .collect();
        Layout {
            usage: usage_slots(snapshot, &order, opts.resources),
            order,
            resources,
            tails,
            families: opts.families,
            shapes: capacity.map(|c| c.shapes.clone()).unwrap_or_default(),
        }
    }

    /// An encoder over this layout; with `marks`, family starts are marked instead of headed
    /// and `*_shape_fit` is left without lines.
    fn encoder(&self, marks: Option<Vec<Mark>>) -> Encoder<'_> {
        Encoder {
            usage: &self.usage,
            order: &self.order,
            resources: &self.resources,
            tails: &self.tails,
            families: self.families,
            shapes: &self.shapes,
            shape_fit_lines: marks.is_none(),
            marks: marks.map(RefCell::new),
        }
    }
}

/// Everything [`encode`] writes before the node families: the cache age (when `opts` has it),
/// the cluster, the pending pods, the label groups and the namespaces.
pub fn encode_head(
    layout: &Layout,
    snapshot: &Snapshot,
    capacity: Option<&Capacity>,
    opts: &Options<'_>,
    out: &mut Vec<u8>,
) {
    let enc = layout.encoder(None);
    let f = opts.families;
    if let Some(seconds) = opts.cache_age_seconds {
        encode_cache_age(seconds, out);
    }

    let cluster = [Item {
        labels: String::new(),
        totals: &snapshot.cluster,
        room: capacity.map(|c| &c.cluster),
        shape_fit: capacity.map(|c| &c.cluster.shape_fit[..]),
    }];
    enc.scope(out, &catalogue::CLUSTER, &cluster);
    if f.pending {
        enc.pending(out, snapshot, capacity);
    }

    if opts.label_groups {
        let groups: Vec<Item<'_>> = snapshot
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let labels = group_labels(&g.label_group, &g.value);
                let room = capacity.and_then(|c| c.groups.get(i));
                Item {
                    labels,
                    totals: &g.totals,
                    room,
                    shape_fit: room.map(|r| &r.shape_fit[..]),
                }
            })
            .collect();
        enc.scope(out, &catalogue::GROUP, &groups);
        if f.namespace_group {
            let items: Vec<(String, &NamespaceFigures)> = snapshot
                .group_namespaces
                .iter()
                .map(|g| {
                    let mut labels = group_labels(&g.label_group, &g.value);
                    labels.push_str("namespace=\"");
                    escape_into(&mut labels, &g.namespace.name);
                    labels.push_str("\",");
                    (labels, &g.namespace)
                })
                .collect();
            enc.namespaces(out, &catalogue::GROUP_NAMESPACE, &items);
        }
    }

    if f.namespace {
        let items: Vec<(String, &NamespaceFigures)> = snapshot
            .namespaces
            .iter()
            .map(|ns| {
                let mut labels = String::from("namespace=\"");
                escape_into(&mut labels, &ns.name);
                labels.push_str("\",");
                (labels, ns)
            })
            .collect();
        enc.namespaces(out, &catalogue::NAMESPACE, &items);
    }
}

/// The node families' lines of the nodes `range` of the snapshot, as [`encode`] writes them
/// but without headers and without the lines of `binpacking_node_shape_fit`: at each family's
/// start (also of a family with no line here) its offset in `out` and the family are pushed to
/// `marks`. So the text of every node family for a block of nodes is made in one pass, and the
/// blocks' text of one family, joined in node order under its header, is what [`encode`] writes
/// for it. The shape fit is left to [`encode_node_shape_fit`]: the average shape is the
/// cluster's mean pod, so one pod changes the figure of every node.
pub fn encode_node_lines(
    layout: &Layout,
    snapshot: &Snapshot,
    capacity: Option<&Capacity>,
    range: Range<usize>,
    out: &mut Vec<u8>,
    marks: &mut Vec<Mark>,
) {
    marks.clear();
    let enc = layout.encoder(Some(std::mem::take(marks)));
    let nodes = node_items(snapshot, capacity, range);
    enc.scope(out, &catalogue::NODE, &nodes);
    *marks = enc.marks.map(RefCell::into_inner).unwrap_or_default();
}

/// The lines of `binpacking_node_shape_fit` of every node, without its header (nothing when
/// the family is not exported).
pub fn encode_node_shape_fit(
    layout: &Layout,
    snapshot: &Snapshot,
    capacity: Option<&Capacity>,
    out: &mut Vec<u8>,
) {
    if !layout.families.shape_fit {
        return;
    }
    let mut enc = layout.encoder(Some(Vec::new()));
    enc.shape_fit_lines = true;
    let nodes = node_items(snapshot, capacity, 0..snapshot.nodes.len());
    enc.shape_fit(out, &catalogue::NODE.shape_fit, &nodes);
}

/// With usage attached, the usage resources among the tracked ones in name order: (vector index,
/// pair index of [`USAGE_RESOURCES`]); empty without.
fn usage_slots(snapshot: &Snapshot, order: &[usize], resources: &[String]) -> Vec<(usize, usize)> {
    if snapshot.usage_newest.is_none() {
        return Vec::new();
    }
    order
        .iter()
        .filter_map(|&r| {
            USAGE_RESOURCES
                .iter()
                .position(|u| *u == resources[r])
                .map(|slot| (r, slot))
        })
        .collect()
}

/// One item per node of `range`, with its escaped `node="…",` label prefix.
fn node_items<'a>(
    snapshot: &'a Snapshot,
    capacity: Option<&'a Capacity>,
    range: Range<usize>,
) -> Vec<Item<'a>> {
    let first = range.start;
    snapshot.nodes[range]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut labels = String::from("node=\"");
            escape_into(&mut labels, &n.name);
            labels.push_str("\",");
            Item {
                labels,
                totals: &n.totals,
                room: None,
                shape_fit: capacity
                    .and_then(|c| c.nodes.get(first + i))
                    .map(|r| &r.shape_fit[..]),
            }
        })
        .collect()
}

/// [`catalogue::CACHE_AGE`].
pub fn encode_cache_age(seconds: f64, out: &mut Vec<u8>) {
    encode_seconds(&catalogue::CACHE_AGE, seconds, out);
}

/// [`catalogue::USAGE_AGE`] (only with `--usage`, once a poll succeeded).
pub fn encode_usage_age(seconds: f64, out: &mut Vec<u8>) {
    encode_seconds(&catalogue::USAGE_AGE, seconds, out);
}

/// A family of one unlabelled series in seconds.
fn encode_seconds(family: &Family, seconds: f64, out: &mut Vec<u8>) {
    header(out, family);
    put(out, family.name);
    out.push(b' ');
    write_float(out, seconds);
    out.push(b'\n');
}

/// [`catalogue::LEADER_STATUS`] (only with leader election).
pub fn encode_leader_status(leading: bool, out: &mut Vec<u8>) {
    let family = &catalogue::LEADER_STATUS;
    header(out, family);
    let _ = writeln!(out, "{} {}", family.name, u8::from(leading));
}

/// Shared state of one encoding pass.
struct Encoder<'a> {
    /// With usage attached: the usage resources (vector index, pair index), in name order.
    usage: &'a [(usize, usize)],
    order: &'a [usize],
    resources: &'a [(String, bool)],
    tails: &'a [String],
    families: Families,
    shapes: &'a [String],
    /// Where family starts are marked instead of headed ([`encode_node_lines`]).
    marks: Option<RefCell<Vec<Mark>>>,
    /// Whether `*_shape_fit` gets its lines (not in [`encode_node_lines`]).
    shape_fit_lines: bool,
}

impl Encoder<'_> {
    /// Starts a family: its header, or a mark when the encoder marks.
    fn start(&self, out: &mut Vec<u8>, family: &'static Family) {
        match &self.marks {
            Some(marks) => marks.borrow_mut().push((out.len(), family)),
            None => header(out, family),
        }
    }

    /// Every family of one scope (cluster, group or node) that the scope has and the
    /// configuration exports, in the order of [`ScopeFamilies`].
    fn scope(&self, out: &mut Vec<u8>, scope: &'static ScopeFamilies, items: &[Item<'_>]) {
        for totals_family in RESOURCE_FAMILIES {
            let family = (totals_family.family)(scope);
            self.start(out, family);
            let prefix = series_prefix(family);
            for item in items {
                for &r in self.order {
                    series_start(out, &prefix, &item.labels, &self.tails[r]);
                    (totals_family.value)(item.totals, r, self.resources[r].1, out);
                    out.push(b'\n');
                }
            }
        }
        if self.families.owner {
            self.by_owner(out, &scope.allocated_by_owner, items);
        }
        for room_family in ROOM_FAMILIES.iter().filter(|f| (f.set)(self.families)) {
            let Some(family) = (room_family.family)(scope) else {
                continue;
            };
            self.start(out, family);
            let prefix = series_prefix(family);
            for item in items {
                let Some(room) = item.room else { continue };
                for &r in self.order {
                    series_start(out, &prefix, &item.labels, &self.tails[r]);
                    (room_family.value)(room, r, self.resources[r].1, out);
                    out.push(b'\n');
                }
            }
        }
        if self.families.shape_fit {
            self.shape_fit(out, &scope.shape_fit, items);
        }
        if let Some(family) = &scope.nodes {
            self.start(out, family);
            for item in items {
                item_series(out, family, &item.labels, item.totals.nodes);
            }
        }
        if let (true, Some(family)) = (self.families.compaction, &scope.removable_nodes) {
            self.start(out, family);
            for item in items {
                let Some(room) = item.room else { continue };
                item_series(out, family, &item.labels, room.removable_nodes());
            }
        }
        if let (true, Some(family)) = (self.families.reserved, &scope.reserved) {
            self.reserved(out, family, items);
        }
        if self.families.limits {
            self.limits(out, scope, items);
        }
        if !self.usage.is_empty() {
            self.usage(out, scope, items);
        }
    }

    /// `*_usage` (items whose nodes reported their own), `*_pod_usage` and `*_allocated_unused`
    /// (items with a sampled pod or node): never a zero that only means "no sample".
    fn usage(&self, out: &mut Vec<u8>, scope: &'static ScopeFamilies, items: &[Item<'_>]) {
        type Value = fn(&UsageTotals) -> Option<&Pair>;
        let families: [(&Family, Value); 3] = [
            (&scope.usage, |u| (u.nodes_sampled > 0).then_some(&u.node)),
            (&scope.pod_usage, |u| u.sampled().then_some(&u.pods)),
            (&scope.allocated_unused, |u| {
                u.sampled().then_some(&u.unused)
            }),
        ];
        for (family, value) in families {
            self.start(out, family);
            let prefix = series_prefix(family);
            for item in items {
                let Some(pair) = value(&item.totals.usage) else {
                    continue;
                };
                for &(r, slot) in self.usage {
                    series_start(out, &prefix, &item.labels, &self.tails[r]);
                    write_amount(out, u128::from(pair[slot]), self.resources[r].1);
                    out.push(b'\n');
                }
            }
        }
    }

    /// The resources that have limits: every tracked one but `pods`, in name order.
    fn limited(&self) -> impl Iterator<Item = usize> + '_ {
        self.order
            .iter()
            .copied()
            .filter(|&r| !self.tails[r].starts_with("resource=\"pods\""))
    }

    /// `*_limits`, `*_limits_ratio`, `*_unlimited_pods`.
    fn limits(&self, out: &mut Vec<u8>, scope: &'static ScopeFamilies, items: &[Item<'_>]) {
        type Value = fn(&Totals, usize, bool, &mut Vec<u8>);
        let families: [(&Family, Value); 3] = [
            (&scope.limits, |t, r, cpu, out| {
                write_amount(out, t.limits[r], cpu);
            }),
            (&scope.limits_ratio, |t, r, _, out| {
                write_ratio(out, t.limits[r], t.allocatable[r]);
            }),
            (&scope.unlimited_pods, |t, r, _, out| {
                write_int(out, t.unlimited[r]);
            }),
        ];
        for (family, value) in families {
            self.start(out, family);
            let prefix = series_prefix(family);
            for item in items {
                for r in self.limited() {
                    series_start(out, &prefix, &item.labels, &self.tails[r]);
                    value(item.totals, r, self.resources[r].1, out);
                    out.push(b'\n');
                }
            }
        }
    }

    /// `binpacking_namespace_*` or `binpacking_group_namespace_*`, for namespaces with the label
    /// prefix each carries (`namespace="…",` or the group's and then the namespace).
    fn namespaces(
        &self,
        out: &mut Vec<u8>,
        families: &'static NamespaceFamilies,
        items: &[(String, &NamespaceFigures)],
    ) {
        self.start(out, &families.allocated);
        let prefix = series_prefix(&families.allocated);
        for (labels, ns) in items {
            for &r in self.order {
                series_start(out, &prefix, labels, &self.tails[r]);
                write_amount(out, ns.allocated[r], self.resources[r].1);
                out.push(b'\n');
            }
        }
        if self.families.limits {
            self.start(out, &families.limits);
            let prefix = series_prefix(&families.limits);
            for (labels, ns) in items {
                for r in self.limited() {
                    series_start(out, &prefix, labels, &self.tails[r]);
                    write_amount(out, ns.limits[r], self.resources[r].1);
                    out.push(b'\n');
                }
            }
        }
        self.start(out, &families.pods);
        for (labels, ns) in items {
            item_series(out, &families.pods, labels, ns.pods);
        }
        self.namespace_usage(out, families, items);
    }

    /// `binpacking_namespace_pod_usage` and `_allocated_unused` (with usage attached), for the
    /// namespaces with a sampled pod.
    fn namespace_usage(
        &self,
        out: &mut Vec<u8>,
        families: &'static NamespaceFamilies,
        items: &[(String, &NamespaceFigures)],
    ) {
        type Value = fn(&UsageTotals) -> &Pair;
        if self.usage.is_empty() {
            return;
        }
        let usage: [(Option<&Family>, Value); 2] = [
            (families.pod_usage.as_ref(), |u| &u.pods),
            (families.allocated_unused.as_ref(), |u| &u.unused),
        ];
        for (family, value) in usage {
            let Some(family) = family else { continue };
            self.start(out, family);
            let prefix = series_prefix(family);
            for (labels, ns) in items.iter().filter(|(_, ns)| ns.usage.sampled()) {
                for &(r, slot) in self.usage {
                    series_start(out, &prefix, labels, &self.tails[r]);
                    write_amount(out, u128::from(value(&ns.usage)[slot]), self.resources[r].1);
                    out.push(b'\n');
                }
            }
        }
    }

    fn by_owner(&self, out: &mut Vec<u8>, family: &'static Family, items: &[Item<'_>]) {
        self.start(out, family);
        let prefix = series_prefix(family);
        let owner_tails: Vec<Vec<String>> = Owner::ALL
            .iter()
            .map(|o| {
                self.tails
                    .iter()
                    .map(|t| format!("owner=\"{}\",{t}", o.as_str()))
                    .collect()
            })
            .collect();
        for item in items {
            for owner in Owner::ALL {
                for &r in self.order {
                    series_start(out, &prefix, &item.labels, &owner_tails[owner as usize][r]);
                    write_amount(
                        out,
                        item.totals.by_owner[owner as usize][r],
                        self.resources[r].1,
                    );
                    out.push(b'\n');
                }
            }
        }
    }

    fn shape_fit(&self, out: &mut Vec<u8>, family: &'static Family, items: &[Item<'_>]) {
        self.start(out, family);
        if !self.shape_fit_lines {
            return;
        }
        let shapes: Vec<String> = self
            .shapes
            .iter()
            .map(|shape| {
                let mut escaped = String::new();
                escape_into(&mut escaped, shape);
                escaped
            })
            .collect();
        let prefix = series_prefix(family);
        let mut shape_order: Vec<usize> = (0..self.shapes.len()).collect();
        shape_order.sort_by(|&a, &b| self.shapes[a].cmp(&self.shapes[b]));
        for item in items {
            let Some(fits) = item.shape_fit else { continue };
            for &s in &shape_order {
                series_start(out, &prefix, &item.labels, "shape=\"");
                put(out, &shapes[s]);
                put(out, "\"} ");
                write_int(out, fits[s]);
                out.push(b'\n');
            }
        }
    }

    fn pending(&self, out: &mut Vec<u8>, snapshot: &Snapshot, capacity: Option<&Capacity>) {
        let families = &catalogue::PENDING;
        self.start(out, &families.pods);
        let _ = writeln!(out, "{} {}", families.pods.name, snapshot.pending.pods);
        self.start(out, &families.pods_fit);
        let fit = capacity.map_or(0, |c| c.pending_fit);
        let _ = writeln!(out, "{} {fit}", families.pods_fit.name);
        self.start(out, &families.requested);
        let prefix = series_prefix(&families.requested);
        for &r in self.order {
            series_start(out, &prefix, "", &self.tails[r]);
            write_amount(out, snapshot.pending.allocated[r], self.resources[r].1);
            out.push(b'\n');
        }
    }

    fn reserved(&self, out: &mut Vec<u8>, family: &'static Family, items: &[Item<'_>]) {
        self.start(out, family);
        let prefix = series_prefix(family);
        for item in items {
            for &r in self.order {
                series_start(out, &prefix, &item.labels, &self.tails[r]);
                let t = item.totals;
                let reserved = t.capacity[r].saturating_sub(t.allocatable[r]);
                write_amount(out, reserved, self.resources[r].1);
                out.push(b'\n');
            }
        }
    }
}

/// One series of a family labelled by the item alone: `name value` for the cluster,
/// `name{labels} value` for a group.
fn item_series(out: &mut Vec<u8>, family: &Family, labels: &str, value: impl std::fmt::Display) {
    let labels = labels.trim_end_matches(',');
    if labels.is_empty() {
        let _ = writeln!(out, "{} {value}", family.name);
    } else {
        let _ = writeln!(out, "{}{{{labels}}} {value}", family.name);
    }
}

/// `name{`: the start of every labelled series of a family, built once per family and scrape.
fn series_prefix(family: &Family) -> String {
    let mut prefix = String::with_capacity(family.name.len() + 1);
    prefix.push_str(family.name);
    prefix.push('{');
    prefix
}

fn is_cpu(resource: &str) -> bool {
    resource == "cpu"
}

/// The `# HELP` and `# TYPE` lines of a family.
pub(crate) fn header(out: &mut Vec<u8>, family: &Family) {
    let _ = write!(out, "# HELP {} ", family.name);
    escape_help_into(out, family.help);
    let _ = writeln!(out, "\n# TYPE {} {}", family.name, family.kind.as_str());
}

/// Writes an exact amount: millicores as cores for cpu, plain integers otherwise.
fn write_amount(out: &mut Vec<u8>, value: u128, cpu: bool) {
    if !cpu {
        write_int(out, value);
        return;
    }
    let (whole, frac) = (value / 1000, value % 1000);
    write_int(out, whole);
    if frac != 0 {
        // Three decimals without trailing zeros: 850 → ".85", 1 → ".001". Each is below 10.
        #[allow(clippy::cast_possible_truncation)]
        let digits = [
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let len = if digits[2] != b'0' {
            3
        } else if digits[1] != b'0' {
            2
        } else {
            1
        };
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
    }
}

/// Writes an integer; the common 64-bit case avoids 128-bit division.
pub(crate) fn write_int(out: &mut Vec<u8>, value: u128) {
    let mut buffer = itoa::Buffer::new();
    match u64::try_from(value) {
        Ok(small) => put(out, buffer.format(small)),
        Err(_) => put(out, buffer.format(value)),
    }
}

/// The start of a series: `name{`, the item's labels, and the label tail up to the value.
fn series_start(out: &mut Vec<u8>, prefix: &str, labels: &str, tail: &str) {
    put(out, prefix);
    put(out, labels);
    put(out, tail);
}

/// Writes `num / den`, or 0 when `den` is 0.
pub(crate) fn write_ratio(out: &mut Vec<u8>, num: u128, den: u128) {
    let ratio = if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    };
    write_float(out, ratio);
}

/// Writes a float in a form Prometheus parses: integers without a fraction, others in the
/// shortest form that reads back to the same value; non-finite values as Prometheus spells them.
fn write_float(out: &mut Vec<u8>, value: f64) {
    if value.is_nan() {
        put(out, "NaN");
    } else if value.is_infinite() {
        put(out, if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
        // Exactly an integer below 2^53: the cast is lossless.
        #[allow(clippy::cast_possible_truncation)]
        let integer = value as i64;
        put(out, itoa::Buffer::new().format(integer));
    } else {
        put(out, zmij::Buffer::new().format_finite(value));
    }
}

/// `label_group="…",label_group_value="…",`: the escaped label prefix of a group value's series.
pub(crate) fn group_labels(label_group: &str, value: &str) -> String {
    let mut labels = String::from("label_group=\"");
    escape_into(&mut labels, label_group);
    labels.push_str("\",label_group_value=\"");
    escape_into(&mut labels, value);
    labels.push_str("\",");
    labels
}

/// Escapes a label value: backslash, double quote and newline. Label values are escaped once
/// per node, group or scrape into strings the series reuse.
pub fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Escapes HELP text: backslash and newline. Byte-wise is exact: in UTF-8 every byte of a
/// multi-byte character is above 0x7f, so none of them is a backslash or a newline.
fn escape_help_into(out: &mut Vec<u8>, value: &str) {
    for &b in value.as_bytes() {
        match b {
            b'\\' => put(out, "\\\\"),
            b'\n' => put(out, "\\n"),
            b => out.push(b),
        }
    }
}

/// Appends `s`. Pieces up to 64 bytes are copied inline with overlapping fixed-size moves:
/// musl's `memcpy` (a byte loop to align, `rep movsq`, a byte loop) costs more than the copy
/// itself for the 10–60 byte pieces a series is made of, and a 5,000-node scrape copies
/// ~400,000 of them. The fixed-size copies compile to plain loads and stores.
// Always: at opt-level "s" the inliner leaves even these small helpers as calls (measured).
#[allow(clippy::inline_always)]
#[inline(always)]
fn put(out: &mut Vec<u8>, s: &str) {
    let src = s.as_bytes();
    let n = src.len();
    if n < 4 {
        // Short values ("0", "1.5"): byte by byte.
        for &b in src {
            out.push(b);
        }
        return;
    }
    if n > 64 {
        out.extend_from_slice(src);
        return;
    }
    let at = out.len();
    // Zero-fill, then overwrite: safe code cannot write into spare capacity. The zero-fill is a
    // small `memset`, which musl does with plain stores at these sizes.
    out.resize(at + n, 0);
    let dst = &mut out[at..];
    if n > 32 {
        copy_block::<16>(dst, src, 0);
        copy_block::<16>(dst, src, 16);
        copy_block::<16>(dst, src, n - 32);
        copy_block::<16>(dst, src, n - 16);
    } else if n >= 16 {
        copy_block::<16>(dst, src, 0);
        copy_block::<16>(dst, src, n - 16);
    } else if n >= 8 {
        copy_block::<8>(dst, src, 0);
        copy_block::<8>(dst, src, n - 8);
    } else {
        copy_block::<4>(dst, src, 0);
        copy_block::<4>(dst, src, n - 4);
    }
}

/// Copies the `N` bytes at `at` (in bounds: checked by the caller's length cases).
#[allow(clippy::inline_always)]
#[inline(always)]
fn copy_block<const N: usize>(dst: &mut [u8], src: &[u8], at: usize) {
    if let (Some(d), Some(s)) = (dst.get_mut(at..at + N), src.get(at..at + N)) {
        let mut block = [0u8; N];
        block.copy_from_slice(s);
        d.copy_from_slice(&block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::label_groups::LabelGroups;
    use crate::model::state::tests::{node, pod};
    use crate::model::state::{ClusterState, Owner};

    /// What `write` appends to an empty buffer, as text.
    fn text(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn amount(value: u128, cpu: bool) -> String {
        text(|out| write_amount(out, value, cpu))
    }

    #[test]
    fn put_appends_every_length_exactly() {
        let source: String = ('a'..='z').cycle().take(200).collect();
        for len in 0..=source.len() {
            let mut out = b"prefix".to_vec();
            put(&mut out, &source[..len]);
            assert_eq!(&out[..6], b"prefix");
            assert_eq!(&out[6..], &source.as_bytes()[..len], "length {len}");
        }
    }

    #[test]
    fn help_text_escapes_bytewise_and_keeps_multibyte_characters() {
        assert_eq!(
            text(|out| escape_help_into(out, "a\\b\nc \"q\" é…")),
            "a\\\\b\\nc \"q\" é…"
        );
    }

    #[test]
    fn cpu_millicores_print_as_exact_cores() {
        assert_eq!(amount(3920, true), "3.92");
        assert_eq!(amount(1000, true), "1");
        assert_eq!(amount(1, true), "0.001");
        assert_eq!(amount(10, true), "0.01");
        assert_eq!(amount(0, true), "0");
        assert_eq!(amount(16_674_762_752, false), "16674762752");
        assert_eq!(
            amount(u128::from(u64::MAX) * 3, false),
            "55340232221128654845"
        );
    }

    #[test]
    fn ratios_are_zero_without_allocatable_and_never_non_finite() {
        let s = text(|out| {
            write_ratio(out, 5, 0);
            out.push(b' ');
            write_ratio(out, 1, 4);
            out.push(b' ');
            write_ratio(out, 3, 2);
        });
        assert_eq!(s, "0 0.25 1.5");
        assert_eq!(text(|out| write_float(out, f64::NAN)), "NaN");
    }

    #[test]
    fn floats_are_shortest_and_integers_plain() {
        let f = |v: f64| text(|out| write_float(out, v));
        assert_eq!(f(0.0), "0");
        assert_eq!(f(-0.0), "0");
        assert_eq!(f(3.0), "3");
        assert_eq!(f(0.25), "0.25");
        assert_eq!(f(1.5), "1.5");
        for v in [
            0.191_326_530_612_244_92,
            1e-7,
            2.0 / 3.0,
            1e300,
            123_456.789,
        ] {
            assert_eq!(
                f(v).parse::<f64>().unwrap().to_bits(),
                v.to_bits(),
                "{}",
                f(v)
            );
        }
        assert_eq!(f(f64::INFINITY), "+Inf");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut s = String::new();
        escape_into(&mut s, "a\\b\"c\nd");
        assert_eq!(s, r#"a\\b\"c\nd"#);
    }

    fn sample() -> (ClusterState, LabelGroups) {
        let groups = LabelGroups::new(&[vec!["zone".into()]]);
        let mut s = ClusterState::new(2);
        let mut n = node(&[16_674_762_752, 3920]);
        n.labels = vec![Some("z\"1".into())].into_boxed_slice();
        s.apply_node("n\n1", n);
        s.apply_node("n0", node(&[0, 0]));
        s.apply_pod(
            "a/p",
            pod(Some("n\n1"), &[402_653_184, 750], Owner::Workload),
        );
        s.apply_pod("a/d", pod(Some("n\n1"), &[0, 100], Owner::DaemonSet));
        (s, groups)
    }

    fn render(node_metrics: bool) -> String {
        let (s, groups) = sample();
        let resources = ["memory".to_owned(), "cpu".to_owned()];
        let mut out = Vec::new();
        encode(
            &Snapshot::take(&s, &groups, 0),
            None,
            &Options {
                resources: &resources,
                families: Families {
                    node: node_metrics,
                    ..Families::BASE
                },
                label_groups: true,
                cache_age_seconds: Some(1.5),
            },
            &mut out,
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn exposition_has_each_family_once_sorted_and_escaped() {
        let out = render(true);
        for line in [
            "binpacking_cache_age_seconds 1.5",
            "binpacking_cluster_allocated{resource=\"cpu\"} 0.85",
            "binpacking_cluster_allocated{resource=\"memory\"} 402653184",
            "binpacking_cluster_nodes 2",
            "binpacking_group_nodes{label_group=\"zone\",label_group_value=\"z\\\"1\"} 1",
            "binpacking_group_nodes{label_group=\"zone\",label_group_value=\"<none>\"} 1",
            "binpacking_node_allocated{node=\"n\\n1\",resource=\"cpu\"} 0.85",
            "binpacking_node_daemonset_overhead{node=\"n\\n1\",resource=\"cpu\"} 0.1",
            "binpacking_node_utilization_ratio{node=\"n0\",resource=\"cpu\"} 0",
            "binpacking_node_daemonset_overhead_ratio{node=\"n\\n1\",resource=\"memory\"} 0",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
        let types: Vec<&str> = out.lines().filter(|l| l.starts_with("# TYPE")).collect();
        let mut unique = types.clone();
        unique.dedup();
        assert_eq!(types.len(), unique.len());
        assert_eq!(types.len(), 1 + 5 + 1 + 6 + 5);
        // Series of one family appear in label order: cpu before memory, "n\n1" before "n0".
        let node_allocated: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("binpacking_node_allocated{"))
            .collect();
        assert_eq!(node_allocated.len(), 4);
        assert!(node_allocated[0].contains("n\\n1") && node_allocated[0].contains("cpu"));
        assert!(node_allocated[3].contains("n0") && node_allocated[3].contains("memory"));
        assert_eq!(out, render(true), "same state, same bytes");
    }

    #[test]
    fn node_families_are_absent_when_disabled() {
        let out = render(false);
        assert!(!out.contains("binpacking_node_"));
        assert!(out.contains("binpacking_cluster_allocated"));
    }
}

//! The catalogue of every metric family the exporter publishes: each family's whole name, type,
//! label names and HELP text, written once as literals, so that a name read on a dashboard greps
//! to its definition here. The exposition ([`crate::views::exposition`]) and the operational
//! metrics (`self_metrics`) take names, HELP texts and label names from this file and never
//! assemble a name. Pure data: imports nothing but std, encodes nothing, and decides nothing about
//! which families a scrape writes.
//!
//! Per-scope HELP texts end with the scope (" (cluster-wide)", " (per label group value)",
//! " (per node)") except where they always did not (`*_nodes`, `*_removable_nodes`): the exposed
//! bytes are a public contract, so the texts are kept exactly as published.

/// The Prometheus type a family is exposed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A value that only grows (name ends in `_total`).
    Counter,
    /// Observations in buckets (`_bucket`, `_sum`, `_count` series).
    Histogram,
}

impl Kind {
    /// The type as the `# TYPE` line spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
        }
    }
}

/// One metric family: what a `# HELP` and `# TYPE` line announce and which labels its series carry.
#[derive(Debug, PartialEq, Eq)]
pub struct Family {
    /// The whole metric name, as a dashboard shows it.
    pub name: &'static str,
    /// The type.
    pub kind: Kind,
    /// Label names: for the hand-encoded families, in the order the series carry them; for the
    /// operational ones, in the order `with_label_values` takes the values (the `prometheus`
    /// crate writes them sorted by name). A histogram's `le` is implied.
    pub labels: &'static [&'static str],
    /// The HELP text, exactly as exposed (before escaping).
    pub help: &'static str,
}

/// The binpacking families of one scope (cluster, label group value, node). `None` where the
/// scope has no such family: the node scope has no set figures (`headroom_nodes` … `removable_nodes`)
/// and the group scope no `reserved`.
#[derive(Debug)]
pub struct ScopeFamilies {
    /// `*_allocatable`: node `status.allocatable`.
    pub allocatable: Family,
    /// `*_allocated`: the scheduler-exact sum of requests.
    pub allocated: Family,
    /// `*_daemonset_overhead`: requests of DaemonSet pods.
    pub daemonset_overhead: Family,
    /// `*_daemonset_overhead_ratio`: DaemonSet overhead / allocatable.
    pub daemonset_overhead_ratio: Family,
    /// `*_utilization_ratio`: allocated / allocatable.
    pub utilization_ratio: Family,
    /// `*_allocated_by_owner`: allocated split by pod owner.
    pub allocated_by_owner: Family,
    /// `*_headroom_nodes`: Σ free / the largest node's allocatable.
    pub headroom_nodes: Option<Family>,
    /// `*_largest_free`: the largest free amount on one node.
    pub largest_free: Option<Family>,
    /// `*_nodes_lower_bound`: the fewest nodes the requests need.
    pub nodes_lower_bound: Option<Family>,
    /// `*_stranded`: free capacity where an average pod no longer fits.
    pub stranded: Option<Family>,
    /// `*_shape_fit`: how many more pods of a shape fit.
    pub shape_fit: Family,
    /// `*_nodes`: tracked nodes.
    pub nodes: Option<Family>,
    /// `*_removable_nodes`: nodes minus the largest lower bound.
    pub removable_nodes: Option<Family>,
    /// `*_reserved`: capacity minus allocatable.
    pub reserved: Option<Family>,
    /// `*_limits`: the sum of the counted pods' limits.
    pub limits: Family,
    /// `*_limits_ratio`: limits / allocatable, the overcommit.
    pub limits_ratio: Family,
    /// `*_unlimited_pods`: counted pods with a container without a limit for the resource.
    pub unlimited_pods: Family,
    /// `*_usage`: the nodes' own usage (resource metrics API, `--usage`).
    pub usage: Family,
    /// `*_pod_usage`: the counted pods' usage.
    pub pod_usage: Family,
    /// `*_allocated_unused`: Σ max(0, request − usage) over the sampled counted pods.
    pub allocated_unused: Family,
}

impl ScopeFamilies {
    /// The scope's families, in the order of the fields.
    pub fn families(&'static self) -> impl Iterator<Item = &'static Family> {
        // Destructured so that a new field cannot be left out of the list.
        let ScopeFamilies {
            allocatable,
            allocated,
            daemonset_overhead,
            daemonset_overhead_ratio,
            utilization_ratio,
            allocated_by_owner,
            headroom_nodes,
            largest_free,
            nodes_lower_bound,
            stranded,
            shape_fit,
            nodes,
            removable_nodes,
            reserved,
            limits,
            limits_ratio,
            unlimited_pods,
            usage,
            pod_usage,
            allocated_unused,
        } = self;
        [
            Some(allocatable),
            Some(allocated),
            Some(daemonset_overhead),
            Some(daemonset_overhead_ratio),
            Some(utilization_ratio),
            Some(allocated_by_owner),
            headroom_nodes.as_ref(),
            largest_free.as_ref(),
            nodes_lower_bound.as_ref(),
            stranded.as_ref(),
            Some(shape_fit),
            nodes.as_ref(),
            removable_nodes.as_ref(),
            reserved.as_ref(),
            Some(limits),
            Some(limits_ratio),
            Some(unlimited_pods),
            Some(usage),
            Some(pod_usage),
            Some(allocated_unused),
        ]
        .into_iter()
        .flatten()
    }
}

/// The cluster-wide families about pods not bound to a node.
#[derive(Debug)]
pub struct PendingFamilies {
    /// `binpacking_cluster_pending_pods`.
    pub pods: Family,
    /// `binpacking_cluster_pending_pods_fit`.
    pub pods_fit: Family,
    /// `binpacking_cluster_pending_requested`.
    pub requested: Family,
}

impl PendingFamilies {
    /// The pending families, in the order of the fields.
    pub fn families(&'static self) -> impl Iterator<Item = &'static Family> {
        let PendingFamilies {
            pods,
            pods_fit,
            requested,
        } = self;
        [pods, pods_fit, requested].into_iter()
    }
}

/// The exporter's own operational families (registered with the `prometheus` crate).
#[derive(Debug)]
pub struct ExporterFamilies {
    /// `binpacking_exporter_build_info`.
    pub build_info: Family,
    /// `binpacking_exporter_watch_events_total`.
    pub watch_events: Family,
    /// `binpacking_exporter_watch_restarts_total`.
    pub watch_restarts: Family,
    /// `binpacking_exporter_watch_errors_total`.
    pub watch_errors: Family,
    /// `binpacking_exporter_resync_drift_total`.
    pub resync_drift: Family,
    /// `binpacking_exporter_invalid_quantities_total`.
    pub invalid_quantities: Family,
    /// `binpacking_exporter_scrape_duration_seconds`.
    pub scrape_duration: Family,
    /// `binpacking_exporter_publishing`.
    pub publishing: Family,
    /// `binpacking_exporter_ready`.
    pub ready: Family,
    /// `binpacking_exporter_http_connections`.
    pub http_connections: Family,
    /// `binpacking_exporter_http_connections_dropped_total`.
    pub http_connections_dropped: Family,
    /// `binpacking_exporter_usage_polls_total`.
    pub usage_polls: Family,
    /// `binpacking_exporter_scrape_figures_total`.
    pub scrape_figures: Family,
    /// `binpacking_exporter_scrape_node_blocks_total`.
    pub scrape_node_blocks: Family,
}

impl ExporterFamilies {
    /// The operational families, in the order of the fields.
    pub fn families(&'static self) -> impl Iterator<Item = &'static Family> {
        let ExporterFamilies {
            build_info,
            watch_events,
            watch_restarts,
            watch_errors,
            resync_drift,
            invalid_quantities,
            scrape_duration,
            publishing,
            ready,
            http_connections,
            http_connections_dropped,
            usage_polls,
            scrape_figures,
            scrape_node_blocks,
        } = self;
        [
            build_info,
            watch_events,
            watch_restarts,
            watch_errors,
            resync_drift,
            invalid_quantities,
            scrape_duration,
            publishing,
            ready,
            http_connections,
            http_connections_dropped,
            usage_polls,
            scrape_figures,
            scrape_node_blocks,
        ]
        .into_iter()
    }
}

/// `binpacking_cache_age_seconds`, written on every scrape (a standby too).
pub static CACHE_AGE: Family = Family {
    name: "binpacking_cache_age_seconds",
    kind: Kind::Gauge,
    labels: &[],
    help: "seconds since the stalest watch (nodes or pods) last received an event or bookmark from the API server",
};

/// `binpacking_exporter_usage_age_seconds`, written with `--usage` once a poll succeeded (a
/// standby too): hand-encoded because it is measured at scrape time.
pub static USAGE_AGE: Family = Family {
    name: "binpacking_exporter_usage_age_seconds",
    kind: Kind::Gauge,
    labels: &[],
    help: "seconds since the newest sample of the last successful poll of the resource metrics API was measured (--usage; the usage series are left out beyond --usage-max-age)",
};

/// `binpacking_leader_status`, written only with leader election.
pub static LEADER_STATUS: Family = Family {
    name: "binpacking_leader_status",
    kind: Kind::Gauge,
    labels: &[],
    help: "1 when this replica is the leader and publishes the binpacking series, 0 on a standby",
};

/// The cluster families.
pub static CLUSTER: ScopeFamilies = ScopeFamilies {
    allocatable: Family {
        name: "binpacking_cluster_allocatable",
        kind: Kind::Gauge,
        labels: &["resource"],
        help: "allocatable resources (node status.allocatable; cpu in cores, memory and storage in bytes, others in units) (cluster-wide)",
    },
    allocated: Family {
        name: "binpacking_cluster_allocated",
        kind: Kind::Gauge,
        labels: &["resource"],
        help: "sum of the requests of the pods counted on the nodes, as kube-scheduler accounts them (cpu in cores, memory and storage in bytes, others in units; pods = number of pods) (cluster-wide)",
    },
    daemonset_overhead: Family {
        name: "binpacking_cluster_daemonset_overhead",
        kind: Kind::Gauge,
        labels: &["resource"],
        help: "sum of the requests of DaemonSet pods (same units as allocated) (cluster-wide)",
    },
    daemonset_overhead_ratio: Family {
        name: "binpacking_cluster_daemonset_overhead_ratio",
        kind: Kind::Gauge,
        labels: &["resource"],
        help: "DaemonSet overhead divided by allocatable (0 when allocatable is 0) (cluster-wide)",
    },
    utilization_ratio: Family {
        name: "binpacking_cluster_utilization_ratio",
        kind: Kind::Gauge,
        labels: &["resource"],
        help: "allocated divided by allocatable (0 when allocatable is 0; above 1 when overcommitted) (cluster-wide)",
    },
    allocated_by_owner: Family {
        name: "binpacking_cluster_allocated_by_owner",
        kind: Kind::Gauge,
        labels: &["owner", "resource"],
        help: "allocated split by pod owner: workload (any controller but a DaemonSet, or none), daemonset, static (mirror pods) (cluster-wide)",
    },
    headroom_nodes: Some(Family {
        name: "binpacking_cluster_headroom_nodes",
        kind: Kind::Gauge,
        labels: &["resource"],
        help: "sum of free capacity divided by the largest node's allocatable: how many of its largest nodes the set could lose by this resource alone (below 1: an N-1 failure cannot be absorbed) (cluster-wide)",
    }),
    largest_free: Some(Family {
        name: "binpacking_cluster_largest_free",
        kind: Kind::Gauge,
        labels: &["resource"],
        help: "largest free amount (allocatable minus allocated) on one schedulable node (same units as allocated) (cluster-wide)",
    }),
    nodes_lower_bound: Some(Family {
        name: "binpacking_cluster_nodes_lower_bound",
        kind: Kind::Gauge,
        labels: &["resource"],
        help: "ceil(allocated / largest node allocatable): the fewest nodes the allocated requests need by this resource (cluster-wide)",
    }),
    stranded: Some(Family {
        name: "binpacking_cluster_stranded",
        kind: Kind::Gauge,
        labels: &["resource"],
        help: "free capacity on nodes where a pod of the average shape no longer fits: capacity that exists but cannot take a typical pod (same units as allocated) (cluster-wide)",
    }),
    shape_fit: Family {
        name: "binpacking_cluster_shape_fit",
        kind: Kind::Gauge,
        labels: &["shape"],
        help: "how many more pods of the reference shape fit into the free capacity, node by node (also bounded by free pod slots; cordoned nodes offer none; shape average = mean request of the counted non-DaemonSet pods) (cluster-wide)",
    },
    nodes: Some(Family {
        name: "binpacking_cluster_nodes",
        kind: Kind::Gauge,
        labels: &[],
        help: "number of nodes tracked",
    }),
    removable_nodes: Some(Family {
        name: "binpacking_cluster_removable_nodes",
        kind: Kind::Gauge,
        labels: &[],
        help: "node count minus the largest nodes_lower_bound over the tracked resources (never below 0): an upper estimate of the nodes compaction could free",
    }),
    reserved: Some(Family {
        name: "binpacking_cluster_reserved",
        kind: Kind::Gauge,
        labels: &["resource"],
        help: "capacity minus allocatable: what the kubelet reserves for the system and Kubernetes (same units as allocated) (cluster-wide)",
    }),
    limits: Family {
        name: "binpacking_cluster_limits",
        kind: Kind::Gauge,
        labels: &["resource"],
        help: "sum of the limits of the pods counted on the nodes, as kubectl describe node sums them (same units as allocated; a pod without a limit adds nothing: see unlimited_pods; not for pods) (cluster-wide)",
    },
    limits_ratio: Family {
        name: "binpacking_cluster_limits_ratio",
        kind: Kind::Gauge,
        labels: &["resource"],
        help: "limits divided by allocatable: how far the limits overcommit (0 when allocatable is 0; above 1 when overcommitted) (cluster-wide)",
    },
    unlimited_pods: Family {
        name: "binpacking_cluster_unlimited_pods",
        kind: Kind::Gauge,
        labels: &["resource"],
        help: "counted pods with a container that can use the resource without a limit for it (and no pod-level limit) (cluster-wide)",
    },
    usage: Family {
        name: "binpacking_cluster_usage",
        kind: Kind::Gauge,
        labels: &["resource"],
        help: "usage the nodes report through the resource metrics API: pods, system daemons and the OS (cpu in cores, memory in bytes; --usage) (cluster-wide)",
    },
    pod_usage: Family {
        name: "binpacking_cluster_pod_usage",
        kind: Kind::Gauge,
        labels: &["resource"],
        help: "usage of the counted pods with a sample in the resource metrics API (cpu in cores, memory in bytes; --usage) (cluster-wide)",
    },
    allocated_unused: Family {
        name: "binpacking_cluster_allocated_unused",
        kind: Kind::Gauge,
        labels: &["resource"],
        help: "sum over the counted pods with a usage sample of max(0, request - usage): capacity reserved and idle (same units as allocated; --usage) (cluster-wide)",
    },
};

/// The group families.
pub static GROUP: ScopeFamilies = ScopeFamilies {
    allocatable: Family {
        name: "binpacking_group_allocatable",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "resource"],
        help: "allocatable resources (node status.allocatable; cpu in cores, memory and storage in bytes, others in units) (per label group value)",
    },
    allocated: Family {
        name: "binpacking_group_allocated",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "resource"],
        help: "sum of the requests of the pods counted on the nodes, as kube-scheduler accounts them (cpu in cores, memory and storage in bytes, others in units; pods = number of pods) (per label group value)",
    },
    daemonset_overhead: Family {
        name: "binpacking_group_daemonset_overhead",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "resource"],
        help: "sum of the requests of DaemonSet pods (same units as allocated) (per label group value)",
    },
    daemonset_overhead_ratio: Family {
        name: "binpacking_group_daemonset_overhead_ratio",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "resource"],
        help: "DaemonSet overhead divided by allocatable (0 when allocatable is 0) (per label group value)",
    },
    utilization_ratio: Family {
        name: "binpacking_group_utilization_ratio",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "resource"],
        help: "allocated divided by allocatable (0 when allocatable is 0; above 1 when overcommitted) (per label group value)",
    },
    allocated_by_owner: Family {
        name: "binpacking_group_allocated_by_owner",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "owner", "resource"],
        help: "allocated split by pod owner: workload (any controller but a DaemonSet, or none), daemonset, static (mirror pods) (per label group value)",
    },
    headroom_nodes: Some(Family {
        name: "binpacking_group_headroom_nodes",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "resource"],
        help: "sum of free capacity divided by the largest node's allocatable: how many of its largest nodes the set could lose by this resource alone (below 1: an N-1 failure cannot be absorbed) (per label group value)",
    }),
    largest_free: Some(Family {
        name: "binpacking_group_largest_free",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "resource"],
        help: "largest free amount (allocatable minus allocated) on one schedulable node (same units as allocated) (per label group value)",
    }),
    nodes_lower_bound: Some(Family {
        name: "binpacking_group_nodes_lower_bound",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "resource"],
        help: "ceil(allocated / largest node allocatable): the fewest nodes the allocated requests need by this resource (per label group value)",
    }),
    stranded: Some(Family {
        name: "binpacking_group_stranded",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "resource"],
        help: "free capacity on nodes where a pod of the average shape no longer fits: capacity that exists but cannot take a typical pod (same units as allocated) (per label group value)",
    }),
    shape_fit: Family {
        name: "binpacking_group_shape_fit",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "shape"],
        help: "how many more pods of the reference shape fit into the free capacity, node by node (also bounded by free pod slots; cordoned nodes offer none; shape average = mean request of the counted non-DaemonSet pods) (per label group value)",
    },
    nodes: Some(Family {
        name: "binpacking_group_nodes",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value"],
        help: "number of nodes per label group value",
    }),
    removable_nodes: Some(Family {
        name: "binpacking_group_removable_nodes",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value"],
        help: "node count minus the largest nodes_lower_bound over the tracked resources (never below 0): an upper estimate of the nodes compaction could free",
    }),
    reserved: None,
    limits: Family {
        name: "binpacking_group_limits",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "resource"],
        help: "sum of the limits of the pods counted on the nodes, as kubectl describe node sums them (same units as allocated; a pod without a limit adds nothing: see unlimited_pods; not for pods) (per label group value)",
    },
    limits_ratio: Family {
        name: "binpacking_group_limits_ratio",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "resource"],
        help: "limits divided by allocatable: how far the limits overcommit (0 when allocatable is 0; above 1 when overcommitted) (per label group value)",
    },
    unlimited_pods: Family {
        name: "binpacking_group_unlimited_pods",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "resource"],
        help: "counted pods with a container that can use the resource without a limit for it (and no pod-level limit) (per label group value)",
    },
    usage: Family {
        name: "binpacking_group_usage",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "resource"],
        help: "usage the nodes report through the resource metrics API: pods, system daemons and the OS (cpu in cores, memory in bytes; --usage) (per label group value)",
    },
    pod_usage: Family {
        name: "binpacking_group_pod_usage",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "resource"],
        help: "usage of the counted pods with a sample in the resource metrics API (cpu in cores, memory in bytes; --usage) (per label group value)",
    },
    allocated_unused: Family {
        name: "binpacking_group_allocated_unused",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "resource"],
        help: "sum over the counted pods with a usage sample of max(0, request - usage): capacity reserved and idle (same units as allocated; --usage) (per label group value)",
    },
};

/// The node families.
pub static NODE: ScopeFamilies = ScopeFamilies {
    allocatable: Family {
        name: "binpacking_node_allocatable",
        kind: Kind::Gauge,
        labels: &["node", "resource"],
        help: "allocatable resources (node status.allocatable; cpu in cores, memory and storage in bytes, others in units) (per node)",
    },
    allocated: Family {
        name: "binpacking_node_allocated",
        kind: Kind::Gauge,
        labels: &["node", "resource"],
        help: "sum of the requests of the pods counted on the nodes, as kube-scheduler accounts them (cpu in cores, memory and storage in bytes, others in units; pods = number of pods) (per node)",
    },
    daemonset_overhead: Family {
        name: "binpacking_node_daemonset_overhead",
        kind: Kind::Gauge,
        labels: &["node", "resource"],
        help: "sum of the requests of DaemonSet pods (same units as allocated) (per node)",
    },
    daemonset_overhead_ratio: Family {
        name: "binpacking_node_daemonset_overhead_ratio",
        kind: Kind::Gauge,
        labels: &["node", "resource"],
        help: "DaemonSet overhead divided by allocatable (0 when allocatable is 0) (per node)",
    },
    utilization_ratio: Family {
        name: "binpacking_node_utilization_ratio",
        kind: Kind::Gauge,
        labels: &["node", "resource"],
        help: "allocated divided by allocatable (0 when allocatable is 0; above 1 when overcommitted) (per node)",
    },
    allocated_by_owner: Family {
        name: "binpacking_node_allocated_by_owner",
        kind: Kind::Gauge,
        labels: &["node", "owner", "resource"],
        help: "allocated split by pod owner: workload (any controller but a DaemonSet, or none), daemonset, static (mirror pods) (per node)",
    },
    headroom_nodes: None,
    largest_free: None,
    nodes_lower_bound: None,
    stranded: None,
    shape_fit: Family {
        name: "binpacking_node_shape_fit",
        kind: Kind::Gauge,
        labels: &["node", "shape"],
        help: "how many more pods of the reference shape fit into the free capacity, node by node (also bounded by free pod slots; cordoned nodes offer none; shape average = mean request of the counted non-DaemonSet pods) (per node)",
    },
    nodes: None,
    removable_nodes: None,
    reserved: Some(Family {
        name: "binpacking_node_reserved",
        kind: Kind::Gauge,
        labels: &["node", "resource"],
        help: "capacity minus allocatable: what the kubelet reserves for the system and Kubernetes (same units as allocated) (per node)",
    }),
    limits: Family {
        name: "binpacking_node_limits",
        kind: Kind::Gauge,
        labels: &["node", "resource"],
        help: "sum of the limits of the pods counted on the nodes, as kubectl describe node sums them (same units as allocated; a pod without a limit adds nothing: see unlimited_pods; not for pods) (per node)",
    },
    limits_ratio: Family {
        name: "binpacking_node_limits_ratio",
        kind: Kind::Gauge,
        labels: &["node", "resource"],
        help: "limits divided by allocatable: how far the limits overcommit (0 when allocatable is 0; above 1 when overcommitted) (per node)",
    },
    unlimited_pods: Family {
        name: "binpacking_node_unlimited_pods",
        kind: Kind::Gauge,
        labels: &["node", "resource"],
        help: "counted pods with a container that can use the resource without a limit for it (and no pod-level limit) (per node)",
    },
    usage: Family {
        name: "binpacking_node_usage",
        kind: Kind::Gauge,
        labels: &["node", "resource"],
        help: "usage the nodes report through the resource metrics API: pods, system daemons and the OS (cpu in cores, memory in bytes; --usage) (per node)",
    },
    pod_usage: Family {
        name: "binpacking_node_pod_usage",
        kind: Kind::Gauge,
        labels: &["node", "resource"],
        help: "usage of the counted pods with a sample in the resource metrics API (cpu in cores, memory in bytes; --usage) (per node)",
    },
    allocated_unused: Family {
        name: "binpacking_node_allocated_unused",
        kind: Kind::Gauge,
        labels: &["node", "resource"],
        help: "sum over the counted pods with a usage sample of max(0, request - usage): capacity reserved and idle (same units as allocated; --usage) (per node)",
    },
};

/// The pending-pod families (cluster-wide only).
pub static PENDING: PendingFamilies = PendingFamilies {
    pods: Family {
        name: "binpacking_cluster_pending_pods",
        kind: Kind::Gauge,
        labels: &[],
        help: "number of non-terminal pods not bound to a node",
    },
    pods_fit: Family {
        name: "binpacking_cluster_pending_pods_fit",
        kind: Kind::Gauge,
        labels: &[],
        help: "how many of the pending pods fit into the current free capacity by requests and pod slots alone (first-fit decreasing; affinity and taints ignored; at most a bounded number of pending pods considered)",
    },
    requested: Family {
        name: "binpacking_cluster_pending_requested",
        kind: Kind::Gauge,
        labels: &["resource"],
        help: "sum of the requests of the pending pods (same units as allocated)",
    },
};

/// The exporter's own families.
pub static EXPORTER: ExporterFamilies = ExporterFamilies {
    build_info: Family {
        name: "binpacking_exporter_build_info",
        kind: Kind::Gauge,
        labels: &["version"],
        help: "build information of the exporter; the value is always 1",
    },
    watch_events: Family {
        name: "binpacking_exporter_watch_events_total",
        kind: Kind::Counter,
        labels: &["resource", "type"],
        help: "watch events applied to the cache, by resource and event type",
    },
    watch_restarts: Family {
        name: "binpacking_exporter_watch_restarts_total",
        kind: Kind::Counter,
        labels: &["resource"],
        help: "watch (re)starts with a full list, by resource",
    },
    watch_errors: Family {
        name: "binpacking_exporter_watch_errors_total",
        kind: Kind::Counter,
        labels: &["resource", "reason"],
        help: "errors of the watches, by resource and reason",
    },
    resync_drift: Family {
        name: "binpacking_exporter_resync_drift_total",
        kind: Kind::Counter,
        labels: &[],
        help: "node sums that differed from a recompute from the cached records at a resync",
    },
    invalid_quantities: Family {
        name: "binpacking_exporter_invalid_quantities_total",
        kind: Kind::Counter,
        labels: &["kind"],
        help: "quantities skipped because they were malformed, negative or out of range, by object kind",
    },
    scrape_duration: Family {
        name: "binpacking_exporter_scrape_duration_seconds",
        kind: Kind::Histogram,
        labels: &[],
        help: "time to build and encode one metrics response",
    },
    publishing: Family {
        name: "binpacking_exporter_publishing",
        kind: Kind::Gauge,
        labels: &[],
        help: "1 when this instance publishes the binpacking series",
    },
    ready: Family {
        name: "binpacking_exporter_ready",
        kind: Kind::Gauge,
        labels: &[],
        help: "1 once the node and pod watches completed their first list (as /readyz), else 0",
    },
    http_connections: Family {
        name: "binpacking_exporter_http_connections",
        kind: Kind::Gauge,
        labels: &[],
        help: "open HTTP connections",
    },
    http_connections_dropped: Family {
        name: "binpacking_exporter_http_connections_dropped_total",
        kind: Kind::Counter,
        labels: &["reason"],
        help: "HTTP connections the server ended early, by reason: refused (every connection \
               busy, no thread or file descriptor), evicted (oldest unfinished head or idle \
               connection, to admit a new one), deadline (head, idle or response time passed), \
               slow_writer (cut to bound the bytes being written)",
    },
    usage_polls: Family {
        name: "binpacking_exporter_usage_polls_total",
        kind: Kind::Counter,
        labels: &["result"],
        help: "polls of the resource metrics API (--usage), by result: ok, absent (not served: \
               no metrics-server), forbidden (RBAC: manifests/usage/), error",
    },
    scrape_figures: Family {
        name: "binpacking_exporter_scrape_figures_total",
        kind: Kind::Counter,
        labels: &["source"],
        help: "metrics responses by where their binpacking figures came from: rendered (from \
               the state) or reused (the text of the last response, the state unchanged since)",
    },
    scrape_node_blocks: Family {
        name: "binpacking_exporter_scrape_node_blocks_total",
        kind: Kind::Counter,
        labels: &["source"],
        help: "blocks of about 128 nodes in the node families of rendered metrics responses, by \
               source: rendered (a node of the block changed its figures, joined or left) or kept \
               (the block's text of an earlier response)",
    },
};

/// The per-namespace families (counted pods on the tracked nodes).
#[derive(Debug)]
pub struct NamespaceFamilies {
    /// `*_allocated`: the sum of the namespace's requests.
    pub allocated: Family,
    /// `*_limits`: the sum of the namespace's limits.
    pub limits: Family,
    /// `*_pods`: the namespace's counted pods.
    pub pods: Family,
    /// `*_pod_usage`: the namespace's counted pods' usage (`--usage`; not per group value).
    pub pod_usage: Option<Family>,
    /// `*_allocated_unused`: Σ max(0, request − usage) over them (`--usage`; not per group value).
    pub allocated_unused: Option<Family>,
}

impl NamespaceFamilies {
    /// The families, in order.
    pub fn families(&'static self) -> impl Iterator<Item = &'static Family> {
        let NamespaceFamilies {
            allocated,
            limits,
            pods,
            pod_usage,
            allocated_unused,
        } = self;
        [
            Some(allocated),
            Some(limits),
            Some(pods),
            pod_usage.as_ref(),
            allocated_unused.as_ref(),
        ]
        .into_iter()
        .flatten()
    }
}

/// `binpacking_namespace_*`.
pub static NAMESPACE: NamespaceFamilies = NamespaceFamilies {
    allocated: Family {
        name: "binpacking_namespace_allocated",
        kind: Kind::Gauge,
        labels: &["namespace", "resource"],
        help: "sum of the requests of the namespace's pods counted on the tracked nodes, as kube-scheduler accounts them (same units as allocated)",
    },
    limits: Family {
        name: "binpacking_namespace_limits",
        kind: Kind::Gauge,
        labels: &["namespace", "resource"],
        help: "sum of the limits of the namespace's pods counted on the tracked nodes (same units as allocated; not for pods)",
    },
    pods: Family {
        name: "binpacking_namespace_pods",
        kind: Kind::Gauge,
        labels: &["namespace"],
        help: "number of the namespace's pods counted on the tracked nodes",
    },
    pod_usage: Some(Family {
        name: "binpacking_namespace_pod_usage",
        kind: Kind::Gauge,
        labels: &["namespace", "resource"],
        help: "usage of the namespace's counted pods with a sample in the resource metrics API (cpu in cores, memory in bytes; --usage)",
    }),
    allocated_unused: Some(Family {
        name: "binpacking_namespace_allocated_unused",
        kind: Kind::Gauge,
        labels: &["namespace", "resource"],
        help: "sum over the namespace's counted pods with a usage sample of max(0, request - usage): capacity reserved and idle (same units as allocated; --usage)",
    }),
};

/// `binpacking_group_namespace_*` (with `--namespace-group-metrics`).
pub static GROUP_NAMESPACE: NamespaceFamilies = NamespaceFamilies {
    allocated: Family {
        name: "binpacking_group_namespace_allocated",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "namespace", "resource"],
        help: "sum of the requests of the namespace's pods counted on the group value's nodes (same units as allocated)",
    },
    limits: Family {
        name: "binpacking_group_namespace_limits",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "namespace", "resource"],
        help: "sum of the limits of the namespace's pods counted on the group value's nodes (same units as allocated; not for pods)",
    },
    pods: Family {
        name: "binpacking_group_namespace_pods",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "namespace"],
        help: "number of the namespace's pods counted on the group value's nodes",
    },
    pod_usage: None,
    allocated_unused: None,
};

/// The DRA device families of one scope: devices published, allocated, and their ratio.
#[derive(Debug)]
pub struct DeviceFamilies {
    /// `*_devices`: devices published in the current generation of their pools.
    pub devices: Family,
    /// `*_devices_allocated`: of those, devices an allocated ResourceClaim holds.
    pub allocated: Family,
    /// `*_devices_utilization_ratio`: allocated / published.
    pub utilization_ratio: Option<Family>,
}

impl DeviceFamilies {
    /// The families, in order.
    pub fn families(&'static self) -> impl Iterator<Item = &'static Family> {
        [
            Some(&self.devices),
            Some(&self.allocated),
            self.utilization_ratio.as_ref(),
        ]
        .into_iter()
        .flatten()
    }
}

/// `binpacking_cluster_devices*`: node-local devices of the tracked nodes and shared pools' devices.
pub static CLUSTER_DEVICES: DeviceFamilies = DeviceFamilies {
    devices: Family {
        name: "binpacking_cluster_devices",
        kind: Kind::Gauge,
        labels: &["driver"],
        help: "DRA devices published in ResourceSlices (current pool generation; node-local devices of the tracked nodes and shared pools) (cluster-wide)",
    },
    allocated: Family {
        name: "binpacking_cluster_devices_allocated",
        kind: Kind::Gauge,
        labels: &["driver"],
        help: "of the published DRA devices, those an allocated ResourceClaim holds (admin access excluded; a shared device counts once) (cluster-wide)",
    },
    utilization_ratio: Some(Family {
        name: "binpacking_cluster_devices_utilization_ratio",
        kind: Kind::Gauge,
        labels: &["driver"],
        help: "allocated DRA devices / published DRA devices (cluster-wide)",
    }),
};

/// `binpacking_pool_devices*`: shared pools (slices with a node selector or all nodes).
pub static POOL_DEVICES: DeviceFamilies = DeviceFamilies {
    devices: Family {
        name: "binpacking_pool_devices",
        kind: Kind::Gauge,
        labels: &["driver", "pool"],
        help: "DRA devices published in ResourceSlices (current pool generation) (per shared pool: devices not bound to one node)",
    },
    allocated: Family {
        name: "binpacking_pool_devices_allocated",
        kind: Kind::Gauge,
        labels: &["driver", "pool"],
        help: "of the published DRA devices, those an allocated ResourceClaim holds (admin access excluded; a shared device counts once) (per shared pool: devices not bound to one node)",
    },
    utilization_ratio: Some(Family {
        name: "binpacking_pool_devices_utilization_ratio",
        kind: Kind::Gauge,
        labels: &["driver", "pool"],
        help: "allocated DRA devices / published DRA devices (per shared pool: devices not bound to one node)",
    }),
};

/// `binpacking_group_devices*`: node-local devices per label group value.
pub static GROUP_DEVICES: DeviceFamilies = DeviceFamilies {
    devices: Family {
        name: "binpacking_group_devices",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "driver"],
        help: "DRA devices published in ResourceSlices (current pool generation) (per label group value: node-local devices)",
    },
    allocated: Family {
        name: "binpacking_group_devices_allocated",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "driver"],
        help: "of the published DRA devices, those an allocated ResourceClaim holds (admin access excluded; a shared device counts once) (per label group value: node-local devices)",
    },
    utilization_ratio: Some(Family {
        name: "binpacking_group_devices_utilization_ratio",
        kind: Kind::Gauge,
        labels: &["label_group", "label_group_value", "driver"],
        help: "allocated DRA devices / published DRA devices (per label group value: node-local devices)",
    }),
};

/// `binpacking_node_devices*`: node-local devices.
pub static NODE_DEVICES: DeviceFamilies = DeviceFamilies {
    devices: Family {
        name: "binpacking_node_devices",
        kind: Kind::Gauge,
        labels: &["node", "driver"],
        help: "DRA devices published in ResourceSlices (current pool generation) (per node: node-local devices)",
    },
    allocated: Family {
        name: "binpacking_node_devices_allocated",
        kind: Kind::Gauge,
        labels: &["node", "driver"],
        help: "of the published DRA devices, those an allocated ResourceClaim holds (admin access excluded; a shared device counts once) (per node: node-local devices)",
    },
    utilization_ratio: Some(Family {
        name: "binpacking_node_devices_utilization_ratio",
        kind: Kind::Gauge,
        labels: &["node", "driver"],
        help: "allocated DRA devices / published DRA devices (per node: node-local devices)",
    }),
};

/// `binpacking_device_class_devices*`: by DeviceClass, cluster-wide.
pub static CLASS_DEVICES: DeviceFamilies = DeviceFamilies {
    devices: Family {
        name: "binpacking_device_class_devices",
        kind: Kind::Gauge,
        labels: &["device_class"],
        help: "published DRA devices the DeviceClass selects (only classes whose selectors the exporter resolves: device.driver and device.attributes equality; a device may count for several classes) (cluster-wide)",
    },
    allocated: Family {
        name: "binpacking_device_class_devices_allocated",
        kind: Kind::Gauge,
        labels: &["device_class"],
        help: "published DRA devices allocated through a claim request for the DeviceClass (cluster-wide)",
    },
    utilization_ratio: None,
};

/// `binpacking_node_device_class_devices*`: by DeviceClass, per node.
pub static NODE_CLASS_DEVICES: DeviceFamilies = DeviceFamilies {
    devices: Family {
        name: "binpacking_node_device_class_devices",
        kind: Kind::Gauge,
        labels: &["node", "device_class"],
        help: "published DRA devices the DeviceClass selects (only classes whose selectors the exporter resolves: device.driver and device.attributes equality; a device may count for several classes) (per node: node-local devices)",
    },
    allocated: Family {
        name: "binpacking_node_device_class_devices_allocated",
        kind: Kind::Gauge,
        labels: &["node", "device_class"],
        help: "published DRA devices allocated through a claim request for the DeviceClass (per node: node-local devices)",
    },
    utilization_ratio: None,
};

/// `binpacking_device_class_info`.
pub static DEVICE_CLASS_INFO: Family = Family {
    name: "binpacking_device_class_info",
    kind: Kind::Gauge,
    labels: &["device_class", "extended_resource", "selectors"],
    help: "one per DeviceClass: the extended resource it backs explicitly (spec.extendedResourceName, empty if none; every class also backs deviceclass.resource.kubernetes.io/<class>) and whether its selectors are resolved by the exporter (resolved, unresolved)",
};

/// `binpacking_cluster_resource_claims`.
pub static RESOURCE_CLAIMS: Family = Family {
    name: "binpacking_cluster_resource_claims",
    kind: Kind::Gauge,
    labels: &["state"],
    help: "ResourceClaims by state: allocated (status.allocation set) or pending",
};

/// Every device family, in the order a scrape writes them.
pub fn device_families() -> impl Iterator<Item = &'static Family> {
    CLUSTER_DEVICES
        .families()
        .chain(CLASS_DEVICES.families())
        .chain([&DEVICE_CLASS_INFO, &RESOURCE_CLAIMS])
        .chain(POOL_DEVICES.families())
        .chain(GROUP_DEVICES.families())
        .chain(NODE_DEVICES.families())
        .chain(NODE_CLASS_DEVICES.families())
}

/// The families of the `prometheus` crate's process collector (Linux only), by name: their
/// types and HELP texts are the crate's, not ours.
pub static PROCESS: &[&str] = &[
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_max_fds",
    "process_virtual_memory_bytes",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
    "process_threads",
];

/// Every family in the catalogue (all but the process collector's): the binpacking families
/// (cache age, leader status, cluster, pending, group, node), then the exporter's own.
pub fn families() -> impl Iterator<Item = &'static Family> {
    [&CACHE_AGE, &LEADER_STATUS, &USAGE_AGE]
        .into_iter()
        .chain(CLUSTER.families())
        .chain(PENDING.families())
        .chain(GROUP.families())
        .chain(GROUP_NAMESPACE.families())
        .chain(NAMESPACE.families())
        .chain(NODE.families())
        .chain(device_families())
        .chain(EXPORTER.families())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_start_with_binpacking() {
        let mut names: Vec<&str> = families().map(|f| f.name).collect();
        assert!(
            names.iter().all(|n| n.starts_with("binpacking_")),
            "{names:?}"
        );
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a name is listed twice");
    }

    #[test]
    fn counters_and_only_counters_end_in_total() {
        for f in families() {
            assert_eq!(
                f.name.ends_with("_total"),
                f.kind == Kind::Counter,
                "{}",
                f.name
            );
        }
    }

    #[test]
    fn each_scope_names_its_families_and_leads_with_its_labels() {
        for (scope, prefix, labels) in [
            (&CLUSTER, "binpacking_cluster_", &[][..]),
            (
                &GROUP,
                "binpacking_group_",
                &["label_group", "label_group_value"][..],
            ),
            (&NODE, "binpacking_node_", &["node"][..]),
        ] {
            for f in scope.families() {
                assert!(f.name.starts_with(prefix), "{}", f.name);
                assert!(f.labels.starts_with(labels), "{}", f.name);
                assert_eq!(f.kind, Kind::Gauge, "{}", f.name);
            }
        }
    }

    /// The family of `scope` whose name ends like `name` after the scope's prefix.
    fn same_family(
        scope: &'static ScopeFamilies,
        prefix: &str,
        family: &str,
    ) -> Option<&'static Family> {
        scope
            .families()
            .find(|f| f.name.strip_prefix(prefix) == Some(family))
    }

    #[test]
    fn a_family_of_several_scopes_has_one_help_text_but_for_the_scope() {
        let scopes = [
            (&CLUSTER, "binpacking_cluster_", " (cluster-wide)"),
            (&GROUP, "binpacking_group_", " (per label group value)"),
            (&NODE, "binpacking_node_", " (per node)"),
        ];
        let mut compared = 0;
        for (scope, prefix, suffix) in scopes {
            for f in scope.families() {
                let Some(family) = f.name.strip_prefix(prefix) else {
                    continue;
                };
                let help = f.help.strip_suffix(suffix).unwrap_or(f.help);
                for (other, other_prefix, other_suffix) in scopes {
                    if let Some(o) = same_family(other, other_prefix, family) {
                        let other_help = o.help.strip_suffix(other_suffix).unwrap_or(o.help);
                        // `*_nodes` counts nodes of different sets, and says so.
                        if family != "nodes" {
                            assert_eq!(help, other_help, "{} and {}", f.name, o.name);
                        }
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 30, "{compared}");
    }

    #[test]
    fn the_node_scope_has_no_set_figures_and_the_group_scope_no_reserved() {
        assert!(NODE.headroom_nodes.is_none() && NODE.removable_nodes.is_none());
        assert!(NODE.nodes.is_none() && GROUP.reserved.is_none());
        assert_eq!(CLUSTER.families().count(), 20);
    }
}

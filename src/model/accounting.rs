//! kube-scheduler's pod request accounting for pods bound to a node.
//!
//! Owns `docs/ACCOUNTING.md` §2 (how `PodInfo.CalculateResource` → `PodRequests` totals one pod),
//! §6 (which pods count on a node) and §8 (node allocatable): the slim inputs read from Pod
//! `spec` / `status` and Node `status` (decoded by `ingest::decode`), and the rule. Pure: no I/O,
//! no Kubernetes client types. Arithmetic stays in exact `i128` nano-units until one ⌈⌉ per pod
//! and resource (cpu → millicores, everything else → units), then saturates into `u64`; it never
//! wraps or panics.

use std::fmt;

use serde::Deserialize;

use crate::model::quantity::{milli_ceil, units_ceil, QuantityError};
use crate::model::resources::{ContainerName, ResourceList, ResourceName, TrackedResources};

/// A quantity that could not be used: it was skipped as if absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadQuantity {
    /// Where it was, e.g. `spec.containers[app].resources.requests.cpu`.
    pub field: String,
    /// The value as found (non-string JSON is shown in short).
    pub value: String,
    /// Why it was refused; negative values are `QuantityError::Negative`.
    pub error: QuantityError,
}

impl fmt::Display for BadQuantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}: {}", self.field, self.value, self.error)
    }
}

/// Phase of a pod; only `Succeeded` and `Failed` stop it counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum PodPhase {
    /// Accepted; possibly bound and pulling images.
    Pending,
    /// Bound and running.
    Running,
    /// Terminal: all containers exited successfully.
    Succeeded,
    /// Terminal: some container failed, or the pod was evicted.
    Failed,
    /// The node stopped reporting.
    Unknown,
    /// A phase this code does not know; not terminal.
    #[serde(other)]
    Other,
}

/// One container or init container, as far as accounting needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerInput {
    /// `name`, matched against container statuses.
    pub name: ContainerName,
    /// `restartPolicy == "Always"`: on an init container, a sidecar.
    pub restart_policy_always: bool,
    /// `resources.requests`.
    pub requests: ResourceList,
    /// `resources.limits`.
    pub limits: ResourceList,
}

/// The parts of a Pod's `spec` that accounting reads; every other field is skipped unread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodSpecInput {
    /// `nodeName`: the node the pod is bound to.
    pub node_name: Option<String>,
    /// `containers`.
    pub containers: Vec<ContainerInput>,
    /// `initContainers`, in declaration order (sidecars included).
    pub init_containers: Vec<ContainerInput>,
    /// `overhead`, set from the `RuntimeClass` at admission; `None` when absent or empty. Boxed
    /// because it is rare: every pod of a page is held at once, so bytes per pod count.
    pub overhead: Option<Box<ResourceList>>,
    /// `resources.requests`: pod-level requests; `None` when absent or empty (boxed likewise).
    pub pod_requests: Option<Box<ResourceList>>,
    /// `resources.limits`: pod-level limits; `None` when absent or empty.
    pub pod_limits: Option<Box<ResourceList>>,
    /// Quantities skipped while decoding, in document order.
    pub bad_quantities: Vec<BadQuantity>,
}

/// One container status, as far as the in-place resize rule needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerStatusInput {
    /// `name`, matched against the spec's containers.
    pub name: ContainerName,
    /// Whether `resources` is present (even empty): without it 1.33–1.36 do not consult the
    /// status.
    pub resources_present: bool,
    /// `resources.requests` (what the kubelet applied); `None` when absent or `null`.
    pub requests: Option<ResourceList>,
    /// `allocatedResources` (what the kubelet admitted); `None` when absent or `null`.
    pub allocated: Option<ResourceList>,
    /// `resources.limits` (what the kubelet applied).
    pub limits: ResourceList,
}

/// The pod-level `status.resources.requests` and `status.allocatedResources` (KEP-5419, filled
/// by kubelets with `InPlacePodLevelResourcesVerticalScaling`, 1.36+): the applied and admitted
/// pod totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodLevelStatus {
    /// Whether `resources` is present (even without `requests`).
    pub resources_present: bool,
    /// `resources.requests`; `None` when absent or `null`.
    pub requests: Option<ResourceList>,
    /// `allocatedResources`; `None` when absent or `null`.
    pub allocated: Option<ResourceList>,
}

/// The parts of a Pod's `status` that accounting reads; every other field is skipped unread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodStatusInput {
    /// `phase`.
    pub phase: Option<PodPhase>,
    /// The first `PodResizePending` condition has reason `Infeasible`.
    pub resize_infeasible: bool,
    /// `containerStatuses`.
    pub container_statuses: Vec<ContainerStatusInput>,
    /// `initContainerStatuses`.
    pub init_container_statuses: Vec<ContainerStatusInput>,
    /// Pod-level `resources` / `allocatedResources`; `None` when both are absent. Boxed: only
    /// pods on 1.36+ kubelets carry them.
    pub pod_level: Option<Box<PodLevelStatus>>,
    /// Quantities skipped while decoding, in document order.
    pub bad_quantities: Vec<BadQuantity>,
}

impl PodSpecInput {
    /// Empties every field, keeping the container lists' capacity (a decoder reuses one value
    /// for every pod).
    pub fn clear(&mut self) {
        let PodSpecInput {
            node_name,
            containers,
            init_containers,
            overhead,
            pod_requests,
            pod_limits,
            bad_quantities,
        } = self;
        *node_name = None;
        containers.clear();
        init_containers.clear();
        *overhead = None;
        *pod_requests = None;
        *pod_limits = None;
        bad_quantities.clear();
    }
}

impl PodStatusInput {
    /// Empties every field, keeping the container status lists' capacity.
    pub fn clear(&mut self) {
        let PodStatusInput {
            phase,
            resize_infeasible,
            container_statuses,
            init_container_statuses,
            pod_level,
            bad_quantities,
        } = self;
        *phase = None;
        *resize_infeasible = false;
        container_statuses.clear();
        init_container_statuses.clear();
        *pod_level = None;
        bad_quantities.clear();
    }

    /// The status the helper's name-keyed map would hold: init statuses are inserted last.
    fn container_status(&self, name: ContainerName) -> Option<&ContainerStatusInput> {
        let named = |s: &&ContainerStatusInput| s.name == name;
        self.init_container_statuses
            .iter()
            .rev()
            .find(named)
            .or_else(|| self.container_statuses.iter().rev().find(named))
    }
}

/// The parts of a Node's `status` that accounting reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStatusInput {
    /// `allocatable`; `None` when the whole map is absent.
    pub allocatable: Option<ResourceList>,
    /// `capacity`.
    pub capacity: ResourceList,
    /// Quantities skipped while decoding, in document order.
    pub bad_quantities: Vec<BadQuantity>,
}

/// The kube-scheduler feature gates (and release rules) that change accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub struct AccountingOptions {
    /// `PodLevelResources`: honour `spec.resources.requests` (on by default from 1.34).
    pub pod_level_resources: bool,
    /// `InPlacePodVerticalScaling`: consult container statuses (on by default from 1.33).
    pub use_status_resources: bool,
    /// `InPlacePodLevelResourcesVerticalScaling`: consult the pod-level status (on by default
    /// from 1.36; `docs/ACCOUNTING.md` §16).
    pub pod_level_status: bool,
    /// The 1.37 rule: with status use, the container total is the maximum of the spec, actuated
    /// and allocated sums instead of a sum of per-container maxima (§16).
    pub max_of_sums: bool,
}

impl AccountingOptions {
    /// Every gate on: the rules of Kubernetes 1.37.
    pub const ALL: AccountingOptions = AccountingOptions {
        pod_level_resources: true,
        use_status_resources: true,
        pod_level_status: true,
        max_of_sums: true,
    };
}

/// Whether kube-scheduler holds the pod on a node: `nodeName` is set and the phase is not
/// terminal (terminating and `Unknown` pods still count).
#[must_use]
pub fn counts_on_node(spec: &PodSpecInput, status: &PodStatusInput) -> bool {
    spec.node_name
        .as_deref()
        .is_some_and(|node| !node.is_empty())
        && !is_terminal(status)
}

/// Phase `Succeeded` or `Failed`: the scheduler's pod informer filters such pods out.
#[must_use]
pub fn is_terminal(status: &PodStatusInput) -> bool {
    matches!(status.phase, Some(PodPhase::Succeeded | PodPhase::Failed))
}

/// The pod's contribution to `NodeInfo.Requested`, per tracked resource in report order, in the
/// scheduler's integer units (cpu millicores, others units); `pods` is 1 for every pod.
#[must_use]
pub fn pod_requests(
    spec: &PodSpecInput,
    status: &PodStatusInput,
    tracked: &TrackedResources,
    opts: AccountingOptions,
) -> Box<[u64]> {
    let mut out = Vec::with_capacity(tracked.names().len());
    pod_requests_into(spec, status, tracked, opts, &mut out);
    out.into_boxed_slice()
}

/// [`pod_requests`] appended to `out` (a decoder reuses one vector for every pod).
pub fn pod_requests_into(
    spec: &PodSpecInput,
    status: &PodStatusInput,
    tracked: &TrackedResources,
    opts: AccountingOptions,
    out: &mut Vec<u64>,
) {
    out.extend(tracked.names().iter().map(|name| match name {
        ResourceName::Pods => 1,
        _ => scheduler_units(name, derive(spec, status, name, opts).nanos),
    }));
}

/// A pod's limits per tracked resource in report order (scheduler units; 0 where no container
/// and no pod-level limit names the resource, and for `pods`), by component-helpers'
/// `PodLimits` as `kubectl describe node` sums them (`docs/ACCOUNTING.md` §14), and the bit mask
/// of the resources for which the pod is unlimited (bit `i` for tracked resource `i`; only the
/// first [`UNLIMITED_BITS`] resources are flagged).
#[must_use]
pub fn pod_limits(
    spec: &PodSpecInput,
    status: &PodStatusInput,
    tracked: &TrackedResources,
    opts: AccountingOptions,
) -> (Box<[u64]>, u32) {
    let mut limits = Vec::with_capacity(tracked.names().len());
    let unlimited = pod_limits_into(spec, status, tracked, opts, &mut limits);
    (limits.into_boxed_slice(), unlimited)
}

/// [`pod_limits`] appended to `out`; returns the unlimited mask.
pub fn pod_limits_into(
    spec: &PodSpecInput,
    status: &PodStatusInput,
    tracked: &TrackedResources,
    opts: AccountingOptions,
    out: &mut Vec<u64>,
) -> u32 {
    let mut unlimited = 0u32;
    out.extend(tracked.names().iter().enumerate().map(|(i, name)| {
        if *name == ResourceName::Pods {
            return 0;
        }
        let (nanos, open) = derive_limit(spec, status, name, opts);
        if open && i < UNLIMITED_BITS {
            unlimited |= 1 << i;
        }
        scheduler_units(name, nanos.unwrap_or(0))
    }));
    unlimited
}

/// How many tracked resources the unlimited mask of [`pod_limits`] covers.
pub const UNLIMITED_BITS: usize = 32;

/// Whether a container without a limit for `name` can use it without bound: cpu, memory and
/// ephemeral-storage can; an extended resource or hugepages is used only when requested, and
/// then API validation makes its limit equal the request.
fn unbounded_without_limit(name: &ResourceName, c: &ContainerInput) -> bool {
    matches!(
        name,
        ResourceName::Cpu | ResourceName::Memory | ResourceName::EphemeralStorage
    ) || c.requests.get(name).is_some()
}

/// `PodLimits` (component-helpers, 1.33–1.35) for a single resource: the pod's limit (`None`
/// when no container and no pod-level limit names it) and whether some container that can use
/// the resource has no limit for it (and no pod-level limit bounds the pod).
fn derive_limit(
    spec: &PodSpecInput,
    status: &PodStatusInput,
    name: &ResourceName,
    opts: AccountingOptions,
) -> (Option<i128>, bool) {
    let infeasible = opts.use_status_resources && status.resize_infeasible;
    // determineContainerLimits: max(spec, status.resources.limits), or status alone when the
    // resize is infeasible; status only where `resources` is present.
    let effective = |c: &ContainerInput, status_allowed: bool| -> Option<i128> {
        let from_spec = c.limits.get(name);
        match (opts.use_status_resources && status_allowed)
            .then(|| status.container_status(c.name))
            .flatten()
            .filter(|cs| cs.resources_present)
        {
            None => from_spec,
            Some(cs) if infeasible => cs.limits.get(name),
            Some(cs) => match (from_spec, cs.limits.get(name)) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
        }
    };
    let mut open = false;
    let mut sum: Option<i128> = None;
    let add = |sum: &mut Option<i128>, v: i128| *sum = Some(sum.unwrap_or(0).saturating_add(v));
    for c in &spec.containers {
        match effective(c, true) {
            Some(v) => add(&mut sum, v),
            None => open |= unbounded_without_limit(name, c),
        }
    }
    let mut sidecars: Option<i128> = None;
    let mut init_max: Option<i128> = None;
    for init in &spec.init_containers {
        let limit = effective(init, init.restart_policy_always);
        if limit.is_none() {
            open |= unbounded_without_limit(name, init);
        }
        let candidate = if init.restart_policy_always {
            if let Some(v) = limit {
                add(&mut sum, v);
                add(&mut sidecars, v);
            }
            sidecars
        } else {
            match (limit, sidecars) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
            }
        };
        if let Some(c) = candidate {
            init_max = Some(init_max.map_or(c, |m| m.max(c)));
        }
    }
    let mut limit = match (sum, init_max) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    if opts.pod_level_resources && name.is_supported_at_pod_level() {
        if let Some(pod_level) = spec.pod_limits.as_ref().and_then(|l| l.get(name)) {
            limit = Some(pod_level);
            open = false;
        }
    }
    // Overhead is added to limits that exist and are not zero.
    if let Some(v) = limit.filter(|v| *v != 0) {
        let overhead = spec.overhead.as_ref().map_or(0, |l| l.nanos(name));
        limit = Some(v.saturating_add(overhead));
    }
    (limit, open)
}

/// Node allocatable per tracked resource (cpu millicores, others units, `pods` as
/// `allocatable.pods`). Capacity stands in only when the whole allocatable map is absent, as the
/// API server's defaulting would have copied it.
#[must_use]
pub fn node_allocatable(status: &NodeStatusInput, tracked: &TrackedResources) -> Box<[u64]> {
    let list = status.allocatable.as_ref().unwrap_or(&status.capacity);
    tracked
        .names()
        .iter()
        .map(|name| scheduler_units(name, list.nanos(name)))
        .collect()
}

/// Node capacity per tracked resource, in the same units as [`node_allocatable`].
#[must_use]
pub fn node_capacity(status: &NodeStatusInput, tracked: &TrackedResources) -> Box<[u64]> {
    tracked
        .names()
        .iter()
        .map(|name| scheduler_units(name, status.capacity.nanos(name)))
        .collect()
}

/// The node's pod slots: `allocatable.pods` (capacity when allocatable is absent), whether or not
/// `pods` is a tracked resource.
#[must_use]
pub fn node_pod_slots(status: &NodeStatusInput) -> u64 {
    let list = status.allocatable.as_ref().unwrap_or(&status.capacity);
    scheduler_units(&ResourceName::Pods, list.nanos(&ResourceName::Pods))
}

/// One line for debug logs saying, per tracked resource, what determined the pod's value,
/// e.g. `cpu=2100m from spec.initContainers[0] +overhead; memory=0; pods=1`.
#[must_use]
pub fn explain(
    spec: &PodSpecInput,
    status: &PodStatusInput,
    tracked: &TrackedResources,
    opts: AccountingOptions,
) -> String {
    let mut parts: Vec<String> = tracked
        .names()
        .iter()
        .map(|name| {
            if *name == ResourceName::Pods {
                return "pods=1".to_owned();
            }
            let d = derive(spec, status, name, opts);
            let unit = if *name == ResourceName::Cpu { "m" } else { "" };
            let mut line = format!("{name}={}{unit}", scheduler_units(name, d.nanos));
            match d.source {
                Source::PodLevel => line.push_str(" from pod-level requests"),
                Source::PodStatus => line.push_str(" from pod-level status"),
                Source::InitContainer(index) => {
                    line.push_str(" from spec.initContainers[");
                    line.push_str(&index.to_string());
                    line.push(']');
                }
                Source::Containers if d.nanos > d.overhead_nanos => {
                    line.push_str(" from containers");
                }
                Source::Containers => {}
            }
            if d.overhead_nanos > 0 {
                line.push_str(" +overhead");
            }
            if d.status_changed {
                line.push_str(" (resize status)");
            }
            line
        })
        .collect();
    if opts.use_status_resources && status.resize_infeasible {
        parts.push(if opts.max_of_sums {
            "resize infeasible: spec ignored".to_owned()
        } else {
            "resize infeasible: spec ignored where status has resources".to_owned()
        });
    }
    parts.join("; ")
}

/// Saturating `MilliValue()` for cpu and `Value()` for everything else.
fn scheduler_units(name: &ResourceName, nanos: i128) -> u64 {
    let units = if *name == ResourceName::Cpu {
        milli_ceil(nanos)
    } else {
        units_ceil(nanos)
    };
    u64::try_from(units.max(0)).unwrap_or(u64::MAX)
}

/// What set a resource's pod total.
#[derive(Clone, Copy)]
enum Source {
    /// Regular containers plus sidecars (also when nothing was requested).
    Containers,
    /// A regular init container (plus the sidecars started before it), by index: names are
    /// kept only as hashes.
    InitContainer(usize),
    /// `spec.resources.requests` (or, from 1.36, the pod-level status).
    PodLevel,
    /// The pod-level status totals standing for the containers' (1.37).
    PodStatus,
}

/// One resource's exact pod total and how it came about.
struct Derivation {
    nanos: i128,
    source: Source,
    overhead_nanos: i128,
    /// In-place resize status moved some container's effective request away from its spec.
    status_changed: bool,
}

/// `PodRequests` (component-helpers, 1.33–1.37) for a single resource. Every step is keywise, so
/// resources are independent and a missing key is 0 (`docs/ACCOUNTING.md` §2 steps 1–7, §16).
fn derive(
    spec: &PodSpecInput,
    status: &PodStatusInput,
    name: &ResourceName,
    opts: AccountingOptions,
) -> Derivation {
    let infeasible = opts.use_status_resources && status.resize_infeasible;
    let mut status_changed = false;
    let (mut nanos, mut source) = if opts.use_status_resources && opts.max_of_sums {
        let (nanos, source, changed) = max_of_sums(spec, status, name, opts, infeasible);
        status_changed = changed;
        (nanos, source)
    } else {
        // 1.33–1.36: each container's max(spec, actual, allocated), where its status has
        // `resources` and it is a regular container or a sidecar.
        aggregate(spec, |c, status_allowed| {
            let from_spec = c.requests.nanos(name);
            let Some(cs) = (opts.use_status_resources && status_allowed)
                .then(|| status.container_status(c.name))
                .flatten()
                .filter(|cs| cs.resources_present)
            else {
                return from_spec;
            };
            let from_status =
                listed(cs.requests.as_ref(), name).max(listed(cs.allocated.as_ref(), name));
            let nanos = if infeasible {
                from_status
            } else {
                from_spec.max(from_status)
            };
            status_changed |= nanos != from_spec;
            nanos
        })
    };

    if opts.pod_level_resources && name.is_supported_at_pod_level() {
        if let Some(pod_level) = pod_level_request(spec, status, name, opts, infeasible) {
            (nanos, source) = (pod_level, Source::PodLevel);
        }
    }
    let overhead_nanos = spec.overhead.as_ref().map_or(0, |l| l.nanos(name));
    Derivation {
        nanos: nanos.saturating_add(overhead_nanos),
        source,
        overhead_nanos,
        status_changed,
    }
}

/// A list's value for `name`; an absent list or key is 0.
fn listed(list: Option<&ResourceList>, name: &ResourceName) -> i128 {
    list.map_or(0, |l| l.nanos(name))
}

/// `aggregateContainerResourcesByFn` for one resource: regular containers and sidecars summed,
/// then the larger of that and the init peak (a regular init container plus the sidecars
/// declared before it). `value` gets each container and whether it is a regular container or a
/// sidecar.
fn aggregate(
    spec: &PodSpecInput,
    mut value: impl FnMut(&ContainerInput, bool) -> i128,
) -> (i128, Source) {
    let mut total = spec
        .containers
        .iter()
        .fold(0_i128, |sum, c| sum.saturating_add(value(c, true)));
    let mut sidecars = 0_i128;
    let mut init_peak: Option<(i128, usize)> = None;
    for (index, init) in spec.init_containers.iter().enumerate() {
        let nanos = value(init, init.restart_policy_always);
        let candidate = if init.restart_policy_always {
            total = total.saturating_add(nanos);
            sidecars = sidecars.saturating_add(nanos);
            sidecars
        } else {
            nanos.saturating_add(sidecars)
        };
        if init_peak.is_none_or(|(peak, _)| candidate > peak) {
            init_peak = Some((candidate, index));
        }
    }
    match init_peak {
        Some((peak, init)) if peak > total => (peak, Source::InitContainer(init)),
        _ => (total, Source::Containers),
    }
}

/// The 1.37 container total with status use (`AggregateContainerRequests`): max(Σ spec,
/// Σ actuated, Σ allocated), each Σ by [`aggregate`] with the status of every container (init
/// containers too), or the pod-level status totals when `pod_level_status` is on and the kubelet
/// reported both. Infeasible: the spec sum is left out, and so is the spec fallback of a
/// container without status. Returns the total, its source and whether status moved it.
fn max_of_sums(
    spec: &PodSpecInput,
    status: &PodStatusInput,
    name: &ResourceName,
    opts: AccountingOptions,
    infeasible: bool,
) -> (i128, Source, bool) {
    let (spec_total, spec_source) = aggregate(spec, |c, _| c.requests.nanos(name));
    let pod_totals = status
        .pod_level
        .as_deref()
        .filter(|_| opts.pod_level_status)
        .and_then(|p| Some((p.requests.as_ref()?, p.allocated.as_ref()?)));
    let (actuated, allocated) = if let Some((actuated, allocated)) = pod_totals {
        (
            (actuated.nanos(name), Source::PodStatus),
            (allocated.nanos(name), Source::PodStatus),
        )
    } else {
        let from_spec = |c: &ContainerInput| {
            if infeasible {
                0
            } else {
                c.requests.nanos(name)
            }
        };
        // containerAllocatedRequests: allocatedResources, else the spec.
        let allocated = aggregate(spec, |c, _| {
            match status
                .container_status(c.name)
                .and_then(|cs| cs.allocated.as_ref())
            {
                Some(list) => list.nanos(name),
                None => from_spec(c),
            }
        });
        // containerActuatedRequests: resources.requests, else allocatedResources, else the spec.
        let actuated = aggregate(spec, |c, _| {
            match status
                .container_status(c.name)
                .and_then(|cs| cs.requests.as_ref().or(cs.allocated.as_ref()))
            {
                Some(list) => list.nanos(name),
                None => from_spec(c),
            }
        });
        (actuated, allocated)
    };
    let mut best = if infeasible {
        actuated
    } else {
        (spec_total, spec_source)
    };
    for candidate in [actuated, allocated] {
        if candidate.0 > best.0 {
            best = candidate;
        }
    }
    (best.0, best.1, best.0 != spec_total)
}

/// The pod-level request for a supported key, when `IsPodLevelRequestsSet`:
/// `spec.resources.requests`, or with the pod-level status (1.36+) the maximum of it,
/// `status.resources.requests` and `status.allocatedResources`, both less the overhead (clamped
/// at 0; it is added back once), the spec left out when the resize is infeasible. `None` leaves
/// the container total.
fn pod_level_request(
    spec: &PodSpecInput,
    status: &PodStatusInput,
    name: &ResourceName,
    opts: AccountingOptions,
    infeasible: bool,
) -> Option<i128> {
    let requests = spec.pod_requests.as_deref()?;
    if !requests.iter().any(|(n, _)| n.is_supported_at_pod_level()) {
        return None;
    }
    let from_spec = requests.get(name);
    let Some(pod_status) = status
        .pod_level
        .as_deref()
        .filter(|_| opts.pod_level_status && opts.use_status_resources)
    else {
        return from_spec;
    };
    let overhead = spec.overhead.as_ref().map_or(0, |l| l.nanos(name));
    let less_overhead = |list: Option<&ResourceList>| {
        list.and_then(|l| l.get(name))
            .map(|v| v.saturating_sub(overhead).max(0))
    };
    [
        from_spec.filter(|_| !infeasible),
        less_overhead(pod_status.requests.as_ref()),
        less_overhead(pod_status.allocated.as_ref()),
    ]
    .into_iter()
    .flatten()
    .max()
}

// Decoding: visitors fill the input types straight from the JSON, so a pod costs one `Vec` per
// non-empty container (status) list and nothing per container or resource list. Unknown keys
// are skipped with `IgnoredAny` (no allocation); `null` and missing fields both mean absent; a
// field repeated in one object fails it, as serde's derived decoders do, while a repeated
// resource name keeps its last value, as Go's map decoding does. Refused quantities are pushed
// to the object's `bad_quantities` as they are met, under a path relative to their container
// until its name (which may come last) is known.

#[cfg(test)]
#[path = "accounting_tests.rs"]
pub(crate) mod tests;

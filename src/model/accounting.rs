//! kube-scheduler's pod request accounting for pods bound to a node.
//!
//! Owns `ACCOUNTING.md` §2 (how `PodInfo.CalculateResource` → `PodRequests` totals one pod),
//! §6 (which pods count on a node) and §8 (node allocatable), plus the slim inputs decoded
//! straight from Pod `spec` / `status` and Node `status` JSON. Pure: no I/O, no Kubernetes
//! client types. Arithmetic stays in exact `i128` nano-units until one ⌈⌉ per pod and resource
//! (cpu → millicores, everything else → units), then saturates into `u64`; it never wraps or
//! panics. Decoding never fails on a bad quantity: the value is skipped and recorded.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::model::quantity::{milli_ceil, parse_non_negative_nanos, units_ceil, QuantityError};

/// The three visitor methods of a field that may be `null` or absent, as Go decodes it: `null`
/// is `$empty`, anything else is read by `$method` with this visitor.
macro_rules! null_is_empty {
    ($de:lifetime, $empty:expr, $method:ident) => {
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($empty)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($empty)
        }
        fn visit_some<D: Deserializer<$de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.$method(self)
        }
    };
}
pub(crate) use null_is_empty;

/// A resource name as it appears in requests and allocatable; the common names do not allocate.
/// It compares, hashes and borrows as its string, so `names.join(",")` and `name == "cpu"` work.
#[derive(Debug, Clone)]
pub enum ResourceName {
    /// `cpu`, accounted in millicores.
    Cpu,
    /// `memory`, in bytes.
    Memory,
    /// `ephemeral-storage`, in bytes.
    EphemeralStorage,
    /// `pods`: a count of pods, never a pod's request.
    Pods,
    /// Any other name: `hugepages-*`, extended `domain/name` resources, …
    Other(Box<str>),
}

impl ResourceName {
    /// The name as Kubernetes spells it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Cpu => "cpu",
            Self::Memory => "memory",
            Self::EphemeralStorage => "ephemeral-storage",
            Self::Pods => "pods",
            Self::Other(name) => name,
        }
    }

    /// `IsSupportedPodLevelResource`: the keys `spec.resources.requests` may override.
    fn is_supported_at_pod_level(&self) -> bool {
        match self {
            Self::Cpu | Self::Memory => true,
            Self::Other(name) => name.starts_with("hugepages-"),
            Self::EphemeralStorage | Self::Pods => false,
        }
    }

    /// Whether `Resource.Add` keeps the name: the four built-ins and `IsScalarResourceName`.
    fn is_accounted_by_scheduler(&self) -> bool {
        match self {
            Self::Other(name) => {
                is_extended_resource_name(name)
                    || name.starts_with("hugepages-")
                    || name.contains("kubernetes.io/")
                    || name.starts_with("attachable-volumes-")
            }
            Self::Cpu | Self::Memory | Self::EphemeralStorage | Self::Pods => true,
        }
    }
}

impl From<&str> for ResourceName {
    fn from(name: &str) -> Self {
        match name {
            "cpu" => Self::Cpu,
            "memory" => Self::Memory,
            "ephemeral-storage" => Self::EphemeralStorage,
            "pods" => Self::Pods,
            other => Self::Other(other.into()),
        }
    }
}

impl PartialEq for ResourceName {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ResourceName {}

impl PartialEq<&str> for ResourceName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Hash for ResourceName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Borrow<str> for ResourceName {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResourceName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = ResourceName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a resource name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ResourceName, E> {
                Ok(ResourceName::from(v))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// `IsExtendedResourceName`: not native (has a `/` outside `kubernetes.io/`) and a qualified
/// name once prefixed with `requests.` (valid DNS-1123 subdomain prefix, name part ≤ 63).
fn is_extended_resource_name(name: &str) -> bool {
    if name.contains("kubernetes.io/") || name.starts_with("requests.") {
        return false;
    }
    let Some((domain, short)) = name.split_once('/') else {
        return false;
    };
    let short_ok = !short.is_empty()
        && short.len() <= 63
        && short
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c))
        && short.starts_with(|c: char| c.is_ascii_alphanumeric())
        && short.ends_with(|c: char| c.is_ascii_alphanumeric());
    let domain_ok = "requests.".len() + domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'-'))
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    short_ok && domain_ok
}

/// The names with an inline slot in every [`ResourceList`], by slot: nearly every container
/// list holds only these, so decoding one allocates nothing.
static BUILTIN: [ResourceName; 3] = [
    ResourceName::Cpu,
    ResourceName::Memory,
    ResourceName::EphemeralStorage,
];

impl ResourceName {
    /// The inline slot of a built-in name (also when spelled as `Other`).
    fn slot(&self) -> Option<usize> {
        match self {
            Self::Cpu => Some(0),
            Self::Memory => Some(1),
            Self::EphemeralStorage => Some(2),
            Self::Pods => None,
            Self::Other(name) => BUILTIN.iter().position(|b| b.as_str() == &**name),
        }
    }
}

/// Exact quantities in nano-units keyed by resource name, as decoded. The built-in names live
/// in fixed slots with presence bits (absent and present-0 differ for pod-level requests and
/// allocatable); other names go to a `Vec` that stays unallocated when there are none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceList {
    /// Values of the names in [`BUILTIN`], by slot; 0 where absent, so equality is by content.
    builtin: [i128; BUILTIN.len()],
    /// Bit `i` set when slot `i` is present.
    present: u8,
    /// Every other name, in decode order (small: linear scans).
    other: Vec<(ResourceName, i128)>,
}

impl ResourceList {
    /// The quantity for `name` in nano-units, if the key is present.
    #[must_use]
    pub fn get(&self, name: &ResourceName) -> Option<i128> {
        match name.slot() {
            Some(slot) => (self.present & (1 << slot) != 0).then_some(self.builtin[slot]),
            None => self
                .other
                .iter()
                .find(|(n, _)| n == name)
                .map(|&(_, nanos)| nanos),
        }
    }

    /// Every entry: the present built-in names (cpu, memory, ephemeral-storage), then the other
    /// names in decode order.
    pub fn iter(&self) -> impl Iterator<Item = (&ResourceName, i128)> {
        BUILTIN
            .iter()
            .zip(self.builtin)
            .enumerate()
            .filter(|&(slot, _)| self.present & (1 << slot) != 0)
            .map(|(_, entry)| entry)
            .chain(self.other.iter().map(|(name, nanos)| (name, *nanos)))
    }

    /// Whether no key is present.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.present == 0 && self.other.is_empty()
    }

    /// Missing keys count as zero: every value is non-negative, so sums and maxima agree.
    fn nanos(&self, name: &ResourceName) -> i128 {
        self.get(name).unwrap_or(0)
    }

    /// Keeps, per key, the larger of the two values (a key in one list only keeps its value).
    fn merge_max(&mut self, other: ResourceList) {
        if self.is_empty() {
            *self = other;
            return;
        }
        for (name, nanos) in other.iter() {
            let max = self.get(name).map_or(nanos, |mine| mine.max(nanos));
            self.insert(name.clone(), max);
        }
    }

    /// Boxed when not empty, for the rare lists kept out of line.
    fn boxed(self) -> Option<Box<ResourceList>> {
        (!self.is_empty()).then(|| Box::new(self))
    }

    /// Like decoding a Go map, a repeated key keeps its last value.
    fn insert(&mut self, name: ResourceName, nanos: i128) {
        if let Some(slot) = name.slot() {
            self.builtin[slot] = nanos;
            self.present |= 1 << slot;
            return;
        }
        match self.other.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = nanos,
            None => self.other.push((name, nanos)),
        }
    }
}

/// A container name as a 64-bit FNV-1a hash: all that matching a status to its container needs,
/// and it costs neither an allocation nor 63 bytes of text per container (a collision between
/// two names of one pod has odds of 2⁻⁶⁴). Bad-quantity paths get the text while decoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContainerName(u64);

impl From<&str> for ContainerName {
    fn from(name: &str) -> Self {
        Self(name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        }))
    }
}

impl Default for ContainerName {
    /// A missing name is the empty name, as Go would decode it.
    fn default() -> Self {
        Self::from("")
    }
}

impl fmt::Debug for ContainerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContainerName({:#018x})", self.0)
    }
}

/// Bytes of a container name kept while its container decodes, for bad-quantity paths: a DNS
/// label's maximum, so every valid name is whole.
const NAME_TEXT: usize = 63;

/// A container name being decoded: its hash, and its text on the stack for bad-quantity paths.
struct DecodedName {
    name: ContainerName,
    len: usize,
    truncated: bool,
    text: [u8; NAME_TEXT],
}

impl DecodedName {
    fn new(name: &str) -> Self {
        let mut len = name.len().min(NAME_TEXT);
        while !name.is_char_boundary(len) {
            len -= 1;
        }
        let mut text = [0; NAME_TEXT];
        text[..len].copy_from_slice(&name.as_bytes()[..len]);
        Self {
            name: ContainerName::from(name),
            len,
            truncated: len < name.len(),
            text,
        }
    }
}

impl Default for DecodedName {
    fn default() -> Self {
        Self::new("")
    }
}

impl fmt::Display for DecodedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.text[..self.len]).unwrap_or_default())?;
        if self.truncated {
            f.write_str("…")?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for DecodedName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = DecodedName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a container name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DecodedName, E> {
                Ok(DecodedName::new(v))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

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
    /// Quantities skipped while decoding, in document order.
    pub bad_quantities: Vec<BadQuantity>,
}

/// One container status, as far as the in-place resize rule needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerStatusInput {
    /// `name`, matched against the spec's containers.
    pub name: ContainerName,
    /// Whether `resources` is present (even empty): without it the status is not consulted.
    pub resources_present: bool,
    /// Keywise maximum of `resources.requests` (what the kubelet applied) and
    /// `allocatedResources` (what it admitted): the only way the resize rule reads them, so one
    /// list is kept instead of two.
    pub requests: ResourceList,
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
    /// Quantities skipped while decoding, in document order.
    pub bad_quantities: Vec<BadQuantity>,
}

impl PodStatusInput {
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

/// Which resources the exporter reports, in order; `pods` is the count of counted pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedResources(Box<[ResourceName]>);

/// Why a list of resource names cannot be tracked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackedResourceError {
    /// kube-scheduler drops the name, so it would always read 0.
    #[error(
        "resource `{0}` is never accounted by kube-scheduler (use cpu, memory, \
         ephemeral-storage, pods, hugepages-<size> or an extended domain/name resource)"
    )]
    NotAccounted(String),
    /// The name is listed more than once.
    #[error("resource `{0}` is listed twice")]
    Duplicate(String),
}

impl TrackedResources {
    /// Validates names such as `["cpu", "memory", "nvidia.com/gpu", "pods"]`, keeping their order.
    ///
    /// # Errors
    ///
    /// A name kube-scheduler never accounts (it would always read 0), or a repeated name.
    pub fn new<I, S>(names: I) -> Result<Self, TrackedResourceError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut tracked: Vec<ResourceName> = Vec::new();
        for name in names {
            let name = name.as_ref();
            let resource = ResourceName::from(name);
            if !resource.is_accounted_by_scheduler() {
                return Err(TrackedResourceError::NotAccounted(name.to_owned()));
            }
            if tracked.contains(&resource) {
                return Err(TrackedResourceError::Duplicate(name.to_owned()));
            }
            tracked.push(resource);
        }
        Ok(Self(tracked.into()))
    }

    /// How many resources are tracked.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no resource is tracked.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tracked names, in report order.
    #[must_use]
    pub fn names(&self) -> &[ResourceName] {
        &self.0
    }

    /// The position of `name` in report order.
    #[must_use]
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.0.iter().position(|n| n.as_str() == name)
    }
}

/// The kube-scheduler feature gates that change accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountingOptions {
    /// `PodLevelResources`: honour `spec.resources.requests` (on by default from 1.34).
    pub pod_level_resources: bool,
    /// `InPlacePodVerticalScaling`: consult container statuses (on by default from 1.33).
    pub use_status_resources: bool,
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
    tracked
        .names()
        .iter()
        .map(|name| match name {
            ResourceName::Pods => 1,
            _ => scheduler_units(name, derive(spec, status, name, opts).nanos),
        })
        .collect()
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
        parts.push("resize infeasible: spec ignored where status has resources".to_owned());
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
enum Source {
    /// Regular containers plus sidecars (also when nothing was requested).
    Containers,
    /// A regular init container (plus the sidecars started before it), by index: names are
    /// kept only as hashes.
    InitContainer(usize),
    /// `spec.resources.requests`.
    PodLevel,
}

/// One resource's exact pod total and how it came about.
struct Derivation {
    nanos: i128,
    source: Source,
    overhead_nanos: i128,
    /// In-place resize status moved some container's effective request away from its spec.
    status_changed: bool,
}

/// `PodRequests` (component-helpers, 1.33–1.35) for a single resource. Every step is keywise, so
/// resources are independent and a missing key is 0 (`ACCOUNTING.md` §2 steps 1–7).
fn derive(
    spec: &PodSpecInput,
    status: &PodStatusInput,
    name: &ResourceName,
    opts: AccountingOptions,
) -> Derivation {
    let infeasible = opts.use_status_resources && status.resize_infeasible;
    let mut status_changed = false;
    let mut effective = |c: &ContainerInput, status_allowed: bool| {
        let from_spec = c.requests.nanos(name);
        let Some(cs) = (opts.use_status_resources && status_allowed)
            .then(|| status.container_status(c.name))
            .flatten()
            .filter(|cs| cs.resources_present)
        else {
            return from_spec;
        };
        let from_status = cs.requests.nanos(name);
        let nanos = if infeasible {
            from_status
        } else {
            from_spec.max(from_status)
        };
        status_changed |= nanos != from_spec;
        nanos
    };

    let mut total = spec
        .containers
        .iter()
        .fold(0_i128, |sum, c| sum.saturating_add(effective(c, true)));
    let mut sidecars = 0_i128;
    let mut init_peak: Option<(i128, usize)> = None;
    for (index, init) in spec.init_containers.iter().enumerate() {
        let nanos = effective(init, init.restart_policy_always);
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
    let (mut nanos, mut source) = match init_peak {
        Some((peak, init)) if peak > total => (peak, Source::InitContainer(init)),
        _ => (total, Source::Containers),
    };

    if opts.pod_level_resources && name.is_supported_at_pod_level() {
        if let Some(pod_level) = spec.pod_requests.as_ref().and_then(|l| l.get(name)) {
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

// Decoding: visitors fill the input types straight from the JSON, so a pod costs one `Vec` per
// non-empty container (status) list and nothing per container or resource list. Unknown keys
// are skipped with `IgnoredAny` (no allocation); `null` and missing fields both mean absent; a
// field repeated in one object fails it, as serde's derived decoders do, while a repeated
// resource name keeps its last value, as Go's map decoding does. Refused quantities are pushed
// to the object's `bad_quantities` as they are met, under a path relative to their container
// until its name (which may come last) is known.

/// Collects list elements on the stack first, so the `Vec` is allocated once at its exact size:
/// musl's allocator maps and unmaps whole groups of equal-sized blocks, and a `Vec` grown to
/// capacity 4 for one container made the decode of a page of pods mostly `mmap`/`munmap`.
struct ExactVec<T> {
    head: [T; 8],
    len: usize,
    tail: Vec<T>,
}

impl<T: Default> Default for ExactVec<T> {
    fn default() -> Self {
        Self {
            head: Default::default(),
            len: 0,
            tail: Vec::new(),
        }
    }
}

impl<T: Default> ExactVec<T> {
    fn push(&mut self, value: T) {
        match self.head.get_mut(self.len) {
            Some(slot) => {
                *slot = value;
                self.len += 1;
            }
            None => self.tail.push(value),
        }
    }

    fn into_vec(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len + self.tail.len());
        out.extend(self.head[..self.len].iter_mut().map(std::mem::take));
        out.append(&mut self.tail);
        out
    }
}

/// Declares the keys of interest of one JSON object as an enum (plus `Other`) decoded from the
/// key's bytes: keys are only compared with ASCII names, so serde_json's UTF-8 check of every key
/// at the levels decoded (about a tenth of the decode) is skipped. Escaped keys still unescape.
macro_rules! field_keys {
    ($name:ident { $($variant:ident = $key:literal,)+ }) => {
        enum $name {
            $($variant,)+
            Other,
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct KeyVisitor;
                impl Visitor<'_> for KeyVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a field name")
                    }
                    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<$name, E> {
                        Ok(match v {
                            $($key => $name::$variant,)+
                            _ => $name::Other,
                        })
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        self.visit_bytes(v.as_bytes())
                    }
                }
                deserializer.deserialize_bytes(KeyVisitor)
            }
        }
    };
}

/// Fails on a field seen twice in one object.
fn first_time<E: de::Error>(seen: &mut bool, field: &'static str) -> Result<(), E> {
    if std::mem::replace(seen, true) {
        return Err(E::duplicate_field(field));
    }
    Ok(())
}

/// Puts `list[name].` in front of the container-relative paths of the quantities in `bad`.
fn prefix_container(bad: &mut [BadQuantity], list: &str, name: &DecodedName) {
    for b in bad {
        b.field = format!("{list}[{name}].{}", b.field);
    }
}

field_keys! {
    SpecKey {
        NodeName = b"nodeName",
        Containers = b"containers",
        InitContainers = b"initContainers",
        Overhead = b"overhead",
        Resources = b"resources",
    }
}

impl<'de> Deserialize<'de> for PodSpecInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(SpecVisitor)
    }
}

struct SpecVisitor;

impl<'de> Visitor<'de> for SpecVisitor {
    type Value = PodSpecInput;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a pod spec")
    }
    null_is_empty!('de, PodSpecInput::default(), deserialize_map);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PodSpecInput, A::Error> {
        let mut spec = PodSpecInput::default();
        let mut seen = [false; 5];
        while let Some(key) = map.next_key::<SpecKey>()? {
            let bad = &mut spec.bad_quantities;
            match key {
                SpecKey::NodeName => {
                    first_time(&mut seen[0], "nodeName")?;
                    spec.node_name = map.next_value()?;
                }
                SpecKey::Containers => {
                    first_time(&mut seen[1], "containers")?;
                    spec.containers = map.next_value_seed(ContainersSeed {
                        list: "spec.containers",
                        bad,
                    })?;
                }
                SpecKey::InitContainers => {
                    first_time(&mut seen[2], "initContainers")?;
                    spec.init_containers = map.next_value_seed(ContainersSeed {
                        list: "spec.initContainers",
                        bad,
                    })?;
                }
                SpecKey::Overhead => {
                    first_time(&mut seen[3], "overhead")?;
                    spec.overhead = map
                        .next_value_seed(ListSeed {
                            path: "spec.overhead",
                            bad,
                        })?
                        .and_then(ResourceList::boxed);
                }
                SpecKey::Resources => {
                    first_time(&mut seen[4], "resources")?;
                    spec.pod_requests = map
                        .next_value_seed(ResourcesSeed {
                            requests_path: "spec.resources.requests",
                            bad,
                        })?
                        .and_then(ResourceList::boxed);
                }
                SpecKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(spec)
    }
}

/// `containers` or `initContainers`; `null` is empty.
struct ContainersSeed<'b> {
    list: &'static str,
    bad: &'b mut Vec<BadQuantity>,
}

impl<'de> DeserializeSeed<'de> for ContainersSeed<'_> {
    type Value = Vec<ContainerInput>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ContainersSeed<'_> {
    type Value = Vec<ContainerInput>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of containers")
    }
    null_is_empty!('de, Vec::new(), deserialize_seq);
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut containers = ExactVec::default();
        while let Some(c) = seq.next_element_seed(ContainerSeed {
            list: self.list,
            bad: &mut *self.bad,
        })? {
            containers.push(c);
        }
        Ok(containers.into_vec())
    }
}

field_keys! {
    ContainerKey {
        Name = b"name",
        RestartPolicy = b"restartPolicy",
        Resources = b"resources",
    }
}

#[derive(Deserialize)]
enum RestartPolicy {
    Always,
    #[serde(other)]
    Other,
}

/// One container of a list.
struct ContainerSeed<'b> {
    list: &'static str,
    bad: &'b mut Vec<BadQuantity>,
}

impl<'de> DeserializeSeed<'de> for ContainerSeed<'_> {
    type Value = ContainerInput;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ContainerSeed<'_> {
    type Value = ContainerInput;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a container")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ContainerInput, A::Error> {
        let start = self.bad.len();
        let mut c = ContainerInput::default();
        let mut name = DecodedName::default();
        let mut seen = [false; 3];
        while let Some(key) = map.next_key::<ContainerKey>()? {
            match key {
                ContainerKey::Name => {
                    first_time(&mut seen[0], "name")?;
                    name = map.next_value::<Option<_>>()?.unwrap_or_default();
                    c.name = name.name;
                }
                ContainerKey::RestartPolicy => {
                    first_time(&mut seen[1], "restartPolicy")?;
                    c.restart_policy_always =
                        matches!(map.next_value()?, Some(RestartPolicy::Always));
                }
                ContainerKey::Resources => {
                    first_time(&mut seen[2], "resources")?;
                    c.requests = map
                        .next_value_seed(ResourcesSeed {
                            requests_path: "resources.requests",
                            bad: &mut *self.bad,
                        })?
                        .unwrap_or_default();
                }
                ContainerKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        prefix_container(&mut self.bad[start..], self.list, &name);
        Ok(c)
    }
}

field_keys! {
    ResourcesKey {
        Requests = b"requests",
    }
}

/// A `resources` object down to its requests: `None` when `null`, empty without `requests`.
struct ResourcesSeed<'b> {
    requests_path: &'static str,
    bad: &'b mut Vec<BadQuantity>,
}

impl<'de> DeserializeSeed<'de> for ResourcesSeed<'_> {
    type Value = Option<ResourceList>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ResourcesSeed<'_> {
    type Value = Option<ResourceList>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("resource requirements")
    }
    null_is_empty!('de, None, deserialize_map);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut requests = ResourceList::default();
        let mut seen = false;
        while let Some(key) = map.next_key::<ResourcesKey>()? {
            match key {
                ResourcesKey::Requests => {
                    first_time(&mut seen, "requests")?;
                    requests = map
                        .next_value_seed(ListSeed {
                            path: self.requests_path,
                            bad: &mut *self.bad,
                        })?
                        .unwrap_or_default();
                }
                ResourcesKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(requests))
    }
}

/// A `ResourceList` object: `None` when `null`; refused values are recorded under `path`.
struct ListSeed<'b> {
    path: &'static str,
    bad: &'b mut Vec<BadQuantity>,
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = Option<ResourceList>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = Option<ResourceList>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of resource names to quantities")
    }
    null_is_empty!('de, None, deserialize_map);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut list = ResourceList::default();
        while let Some((name, QuantityValue(value))) = map.next_entry::<ResourceName, _>()? {
            match value {
                Ok(nanos) => list.insert(name, nanos),
                Err(Refused { value, error }) => self.bad.push(BadQuantity {
                    field: format!("{}.{name}", self.path),
                    value,
                    error,
                }),
            }
        }
        Ok(Some(list))
    }
}

/// A quantity value that was refused, with its text.
struct Refused {
    value: String,
    error: QuantityError,
}

/// One quantity value. Like Go's `Quantity.UnmarshalJSON` it accepts strings (trimmed),
/// numbers, and `null` as zero; anything else is refused without failing the decode.
struct QuantityValue(Result<i128, Refused>);

impl<'de> Deserialize<'de> for QuantityValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = QuantityValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<QuantityValue, E> {
                Ok(QuantityValue(parse_non_negative_nanos(v.trim()).map_err(
                    |error| Refused {
                        value: v.to_owned(),
                        error,
                    },
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<QuantityValue, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<QuantityValue, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<QuantityValue, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_unit<E: de::Error>(self) -> Result<QuantityValue, E> {
                Ok(QuantityValue(Ok(0)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<QuantityValue, E> {
                Ok(refused(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<QuantityValue, A::Error> {
                IgnoredAny.visit_seq(seq)?;
                Ok(refused("[…]".to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<QuantityValue, A::Error> {
                IgnoredAny.visit_map(map)?;
                Ok(refused("{…}".to_owned()))
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

fn refused(value: String) -> QuantityValue {
    QuantityValue(Err(Refused {
        value,
        error: QuantityError::Format,
    }))
}

field_keys! {
    StatusKey {
        Phase = b"phase",
        Conditions = b"conditions",
        ContainerStatuses = b"containerStatuses",
        InitContainerStatuses = b"initContainerStatuses",
    }
}

impl<'de> Deserialize<'de> for PodStatusInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(StatusVisitor)
    }
}

struct StatusVisitor;

impl<'de> Visitor<'de> for StatusVisitor {
    type Value = PodStatusInput;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a pod status")
    }
    null_is_empty!('de, PodStatusInput::default(), deserialize_map);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PodStatusInput, A::Error> {
        let mut status = PodStatusInput::default();
        let mut seen = [false; 4];
        while let Some(key) = map.next_key::<StatusKey>()? {
            let bad = &mut status.bad_quantities;
            match key {
                StatusKey::Phase => {
                    first_time(&mut seen[0], "phase")?;
                    status.phase = map.next_value()?;
                }
                StatusKey::Conditions => {
                    first_time(&mut seen[1], "conditions")?;
                    status.resize_infeasible = map.next_value_seed(ResizeInfeasibleSeed)?;
                }
                StatusKey::ContainerStatuses => {
                    first_time(&mut seen[2], "containerStatuses")?;
                    status.container_statuses = map.next_value_seed(ContainerStatusesSeed {
                        list: "status.containerStatuses",
                        bad,
                    })?;
                }
                StatusKey::InitContainerStatuses => {
                    first_time(&mut seen[3], "initContainerStatuses")?;
                    status.init_container_statuses =
                        map.next_value_seed(ContainerStatusesSeed {
                            list: "status.initContainerStatuses",
                            bad,
                        })?;
                }
                StatusKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(status)
    }
}

field_keys! {
    ConditionKey {
        Type = b"type",
        Reason = b"reason",
    }
}

/// One pod condition, as far as the resize rule reads it.
struct ConditionWire {
    kind: Option<ConditionType>,
    reason: Option<ConditionReason>,
}

impl<'de> Deserialize<'de> for ConditionWire {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ConditionVisitor;
        impl<'de> Visitor<'de> for ConditionVisitor {
            type Value = ConditionWire;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a pod condition")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ConditionWire, A::Error> {
                let mut condition = ConditionWire {
                    kind: None,
                    reason: None,
                };
                let mut seen = [false; 2];
                while let Some(key) = map.next_key::<ConditionKey>()? {
                    match key {
                        ConditionKey::Type => {
                            first_time(&mut seen[0], "type")?;
                            condition.kind = map.next_value()?;
                        }
                        ConditionKey::Reason => {
                            first_time(&mut seen[1], "reason")?;
                            condition.reason = map.next_value()?;
                        }
                        ConditionKey::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(condition)
            }
        }
        deserializer.deserialize_map(ConditionVisitor)
    }
}

#[derive(PartialEq, Deserialize)]
enum ConditionType {
    PodResizePending,
    #[serde(other)]
    Other,
}

#[derive(PartialEq, Deserialize)]
enum ConditionReason {
    Infeasible,
    #[serde(other)]
    Other,
}

/// `conditions`, down to whether the first `PodResizePending` one has reason `Infeasible`.
struct ResizeInfeasibleSeed;

impl<'de> DeserializeSeed<'de> for ResizeInfeasibleSeed {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ResizeInfeasibleSeed {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of pod conditions")
    }
    null_is_empty!('de, false, deserialize_seq);
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut first_pending = None;
        while let Some(c) = seq.next_element::<ConditionWire>()? {
            if first_pending.is_none() && c.kind == Some(ConditionType::PodResizePending) {
                first_pending = Some(c.reason == Some(ConditionReason::Infeasible));
            }
        }
        Ok(first_pending.unwrap_or(false))
    }
}

/// `containerStatuses` or `initContainerStatuses`; `null` is empty.
struct ContainerStatusesSeed<'b> {
    list: &'static str,
    bad: &'b mut Vec<BadQuantity>,
}

impl<'de> DeserializeSeed<'de> for ContainerStatusesSeed<'_> {
    type Value = Vec<ContainerStatusInput>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ContainerStatusesSeed<'_> {
    type Value = Vec<ContainerStatusInput>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of container statuses")
    }
    null_is_empty!('de, Vec::new(), deserialize_seq);
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut statuses = ExactVec::default();
        while let Some(s) = seq.next_element_seed(ContainerStatusSeed {
            list: self.list,
            bad: &mut *self.bad,
        })? {
            statuses.push(s);
        }
        Ok(statuses.into_vec())
    }
}

field_keys! {
    ContainerStatusKey {
        Name = b"name",
        Resources = b"resources",
        AllocatedResources = b"allocatedResources",
    }
}

/// One container status of a list.
struct ContainerStatusSeed<'b> {
    list: &'static str,
    bad: &'b mut Vec<BadQuantity>,
}

impl<'de> DeserializeSeed<'de> for ContainerStatusSeed<'_> {
    type Value = ContainerStatusInput;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ContainerStatusSeed<'_> {
    type Value = ContainerStatusInput;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a container status")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ContainerStatusInput, A::Error> {
        let start = self.bad.len();
        let mut s = ContainerStatusInput::default();
        let mut name = DecodedName::default();
        let mut seen = [false; 3];
        while let Some(key) = map.next_key::<ContainerStatusKey>()? {
            match key {
                ContainerStatusKey::Name => {
                    first_time(&mut seen[0], "name")?;
                    name = map.next_value::<Option<_>>()?.unwrap_or_default();
                    s.name = name.name;
                }
                ContainerStatusKey::Resources => {
                    first_time(&mut seen[1], "resources")?;
                    let requests = map.next_value_seed(ResourcesSeed {
                        requests_path: "resources.requests",
                        bad: &mut *self.bad,
                    })?;
                    s.resources_present = requests.is_some();
                    s.requests.merge_max(requests.unwrap_or_default());
                }
                ContainerStatusKey::AllocatedResources => {
                    first_time(&mut seen[2], "allocatedResources")?;
                    let allocated = map.next_value_seed(ListSeed {
                        path: "allocatedResources",
                        bad: &mut *self.bad,
                    })?;
                    s.requests.merge_max(allocated.unwrap_or_default());
                }
                ContainerStatusKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        prefix_container(&mut self.bad[start..], self.list, &name);
        Ok(s)
    }
}

field_keys! {
    NodeStatusKey {
        Allocatable = b"allocatable",
        Capacity = b"capacity",
    }
}

impl<'de> Deserialize<'de> for NodeStatusInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(NodeStatusVisitor)
    }
}

struct NodeStatusVisitor;

impl<'de> Visitor<'de> for NodeStatusVisitor {
    type Value = NodeStatusInput;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a node status")
    }
    null_is_empty!('de, NodeStatusInput::default(), deserialize_map);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeStatusInput, A::Error> {
        let mut status = NodeStatusInput::default();
        let mut seen = [false; 2];
        while let Some(key) = map.next_key::<NodeStatusKey>()? {
            let bad = &mut status.bad_quantities;
            match key {
                NodeStatusKey::Allocatable => {
                    first_time(&mut seen[0], "allocatable")?;
                    status.allocatable = map.next_value_seed(ListSeed {
                        path: "status.allocatable",
                        bad,
                    })?;
                }
                NodeStatusKey::Capacity => {
                    first_time(&mut seen[1], "capacity")?;
                    status.capacity = map
                        .next_value_seed(ListSeed {
                            path: "status.capacity",
                            bad,
                        })?
                        .unwrap_or_default();
                }
                NodeStatusKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const VECTORS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/accounting-vectors.json"
    ));

    const ALL_GATES: AccountingOptions = AccountingOptions {
        pod_level_resources: true,
        use_status_resources: true,
    };

    fn tracked(names: &[&str]) -> TrackedResources {
        TrackedResources::new(names).unwrap()
    }

    fn decode(spec: Value, status: Value) -> (PodSpecInput, PodStatusInput) {
        (
            serde_json::from_value(spec).unwrap(),
            serde_json::from_value(status).unwrap(),
        )
    }

    fn requests(spec: Value, status: Value, names: &[&str]) -> Vec<u64> {
        let (spec, status) = decode(spec, status);
        pod_requests(&spec, &status, &tracked(names), ALL_GATES).into_vec()
    }

    /// `SetDefaults_Pod`: a container limit becomes the request where the request is missing.
    fn default_requests_from_limits(pod: &mut Value) {
        for list in ["containers", "initContainers"] {
            for c in pod["spec"][list].as_array_mut().into_iter().flatten() {
                let limits = c["resources"]["limits"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                for (name, limit) in limits {
                    if c["resources"]["requests"].get(&name).is_none() {
                        c["resources"]["requests"][&name] = limit;
                    }
                }
            }
        }
    }

    /// cpu, memory, ephemeral-storage, pods and every other name the vector mentions.
    fn tracked_for(vector: &Value) -> TrackedResources {
        let mut names: Vec<String> = ["cpu", "memory", "ephemeral-storage", "pods"]
            .map(String::from)
            .into();
        let expected = &vector["expected"];
        let maps = [
            &vector["node"]["allocatable"],
            &expected["node"]["allocatable"],
            &expected["node"]["allocated"],
        ]
        .into_iter()
        .chain(
            expected["pods"]
                .as_object()
                .unwrap()
                .values()
                .map(|p| &p["requests"]),
        );
        for map in maps {
            for name in map.as_object().into_iter().flat_map(|m| m.keys()) {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        TrackedResources::new(&names).unwrap()
    }

    fn compare(
        problems: &mut Vec<String>,
        what: &str,
        t: &TrackedResources,
        got: &[u64],
        want: &Value,
    ) {
        for (name, &got) in t.names().iter().zip(got) {
            let want = want.get(name.as_str()).map_or(0, |v| v.as_u64().unwrap());
            if got != want {
                problems.push(format!("{what} {name} = {got}, expected {want}"));
            }
        }
    }

    fn check_pod_vector(vector: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        let gate = |key: &str| vector["gates"].get(key).is_none_or(|on| on == true);
        let opts = AccountingOptions {
            pod_level_resources: gate("PodLevelResources"),
            use_status_resources: gate("InPlacePodVerticalScaling"),
        };
        let t = tracked_for(vector);
        let pods_at = t.index_of("pods").unwrap();
        let node_name = vector["node"]["name"].as_str().unwrap();
        let mut allocated = vec![0_u64; t.len()];
        let pods = vector["pods"].as_array().unwrap();
        for name in vector["expected"]["pods"].as_object().unwrap().keys() {
            if !pods.iter().any(|p| p["metadata"]["name"] == **name) {
                problems.push(format!("pod {name} is expected but not in the vector"));
            }
        }
        for pod in pods {
            let mut pod = pod.clone();
            if vector["as_submitted"] == true {
                default_requests_from_limits(&mut pod);
            }
            let name = pod["metadata"]["name"].as_str().unwrap().to_owned();
            let (spec, status) = decode(pod["spec"].take(), pod["status"].take());
            for bad in spec.bad_quantities.iter().chain(&status.bad_quantities) {
                problems.push(format!("pod {name}: unexpected bad quantity {bad}"));
            }
            let counted =
                counts_on_node(&spec, &status) && spec.node_name.as_deref() == Some(node_name);
            let got = pod_requests(&spec, &status, &t, opts);
            let want = &vector["expected"]["pods"][&name];
            if let Some(want_counted) = want["counted"].as_bool() {
                if counted != want_counted {
                    problems.push(format!(
                        "pod {name}: counted = {counted}, expected {want_counted}"
                    ));
                }
            }
            if let Some(want_requests) = want.get("requests") {
                let mut without_pods = got.to_vec();
                without_pods[pods_at] = 0;
                compare(
                    &mut problems,
                    &format!("pod {name} requests"),
                    &t,
                    &without_pods,
                    want_requests,
                );
            }
            if counted {
                for (sum, value) in allocated.iter_mut().zip(got.iter()) {
                    *sum = sum.saturating_add(*value);
                }
            }
        }
        compare(
            &mut problems,
            "node allocated",
            &t,
            &allocated,
            &vector["expected"]["node"]["allocated"],
        );
        let node: NodeStatusInput =
            serde_json::from_value(json!({ "allocatable": vector["node"]["allocatable"] }))
                .unwrap();
        for bad in &node.bad_quantities {
            problems.push(format!("node: unexpected bad quantity {bad}"));
        }
        if let Some(want) = vector["expected"]["node"].get("allocatable") {
            compare(
                &mut problems,
                "node allocatable",
                &t,
                &node_allocatable(&node, &t),
                want,
            );
        }
        problems
    }

    #[test]
    fn every_pod_vector_matches_kube_scheduler() {
        let vectors: Value = serde_json::from_str(VECTORS).unwrap();
        let vectors = vectors["pod_vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 41);
        let failures: Vec<String> = vectors
            .iter()
            .flat_map(|v| {
                let id = format!(
                    "{} {}",
                    v["id"].as_str().unwrap(),
                    v["name"].as_str().unwrap()
                );
                check_pod_vector(v)
                    .into_iter()
                    .map(move |p| format!("{id}: {p}"))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "pod vectors failed:\n{}",
            failures.join("\n")
        );
    }

    #[test]
    fn escaped_and_long_container_names_still_match_their_statuses() {
        // `from_str` hands escaped strings to the decoder as transient text, plain ones borrowed.
        let long_a = format!("{}-a", "x".repeat(70));
        let long_b = format!("{}-b", "x".repeat(70));
        let spec = format!(
            r#"{{"containers": [
                {{"name": "a\"b", "resources": {{"requests": {{"cpu": "1"}}}}}},
                {{"name": "caf\u00e9", "resources": {{"requests": {{"cpu": "1"}}}}}},
                {{"name": "{long_a}", "resources": {{"requests": {{"cpu": "1"}}}}}},
                {{"name": "plain", "resources": {{"requests": {{"cpu": "1"}}}}}}
            ]}}"#
        );
        let status = format!(
            r#"{{"containerStatuses": [
                {{"name": "a\u0022b", "resources": {{"requests": {{"cpu": "2"}}}}}},
                {{"name": "café", "resources": {{"requests": {{"cpu": "3"}}}}}},
                {{"name": "{long_b}", "resources": {{"requests": {{"cpu": "9"}}}}}},
                {{"name": "pl\u0061in", "resources": {{"requests": {{"cpu": "4"}}}}}}
            ]}}"#
        );
        let spec: PodSpecInput = serde_json::from_str(&spec).unwrap();
        let status: PodStatusInput = serde_json::from_str(&status).unwrap();
        // 2 + 3 + 1 (the long names differ after their 70 common bytes) + 4.
        assert_eq!(
            *pod_requests(&spec, &status, &tracked(&["cpu"]), ALL_GATES),
            [10_000]
        );
        let spec: PodSpecInput = serde_json::from_reader(
            br#"{"initContainers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}},
                {"name": "caf\u00e9", "resources": {"requests": {"cpu": "5", "memory": "?"}}}]}"#
                .as_slice(),
        )
        .unwrap();
        assert_eq!(
            explain(
                &spec,
                &PodStatusInput::default(),
                &tracked(&["cpu"]),
                ALL_GATES
            ),
            "cpu=5000m from spec.initContainers[1]",
            "names are kept only as hashes"
        );
        assert_eq!(
            spec.bad_quantities[0].field,
            "spec.initContainers[café].resources.requests.memory"
        );
    }

    #[test]
    fn repeated_fields_fail_the_object_but_repeated_resource_names_keep_the_last() {
        for spec in [
            r#"{"containers": [], "containers": []}"#,
            r#"{"nodeName": "a", "nodeName": "b"}"#,
            r#"{"containers": [{"name": "a", "name": "b"}]}"#,
            r#"{"containers": [{"resources": {"requests": {}, "requests": {}}}]}"#,
            r#"{"containers": [{"restartPolicy": "Always", "restartPolicy": null}]}"#,
        ] {
            assert!(
                serde_json::from_str::<PodSpecInput>(spec).is_err(),
                "{spec}"
            );
        }
        for status in [
            r#"{"phase": "Running", "phase": "Running"}"#,
            r#"{"conditions": [{"type": "PodResizePending", "type": "Other"}]}"#,
            r#"{"containerStatuses": [], "containerStatuses": []}"#,
            r#"{"containerStatuses": [{"allocatedResources": {}, "allocatedResources": {}}]}"#,
        ] {
            assert!(
                serde_json::from_str::<PodStatusInput>(status).is_err(),
                "{status}"
            );
        }
        assert!(
            serde_json::from_str::<NodeStatusInput>(r#"{"capacity": {}, "capacity": {}}"#).is_err()
        );
        let spec: PodSpecInput = serde_json::from_str(
            r#"{"containers": [{"name": "a", "resources": {"requests": {"cpu": "1", "memory": "2", "cpu": "bad", "cpu": "3", "x.io/a": "1", "x.io/a": "4"}}}]}"#,
        )
        .unwrap();
        let want = [
            ("cpu".to_owned(), 3),
            ("memory".to_owned(), 2),
            ("x.io/a".to_owned(), 4),
        ];
        let got: Vec<(String, i128)> = spec.containers[0]
            .requests
            .iter()
            .map(|(n, v)| (n.to_string(), v / 1_000_000_000))
            .collect();
        assert_eq!(got, want);
        assert_eq!(spec.bad_quantities.len(), 1);
    }

    #[test]
    fn bad_quantity_paths_name_the_container_whatever_the_key_order() {
        let (spec, status) = decode(
            json!({
                "initContainers": [
                    {"resources": {"requests": {"cpu": "x"}}, "name": "late"},
                    {"name": "early", "resources": {"requests": {"memory": "y"}}},
                    {"resources": {"requests": {"memory": "z"}}},
                ],
                "resources": {"requests": {"cpu": "-1"}},
            }),
            json!({"initContainerStatuses": [
                {"allocatedResources": {"cpu": "q"}, "resources": {"requests": {"cpu": "r"}}, "name": "s"},
            ]}),
        );
        let fields = |bad: &[BadQuantity]| bad.iter().map(|b| b.field.clone()).collect::<Vec<_>>();
        assert_eq!(
            fields(&spec.bad_quantities),
            [
                "spec.initContainers[late].resources.requests.cpu",
                "spec.initContainers[early].resources.requests.memory",
                "spec.initContainers[].resources.requests.memory",
                "spec.resources.requests.cpu",
            ]
        );
        assert_eq!(
            fields(&status.bad_quantities),
            [
                "status.initContainerStatuses[s].allocatedResources.cpu",
                "status.initContainerStatuses[s].resources.requests.cpu",
            ],
            "document order"
        );
    }

    #[test]
    fn escaped_keys_are_recognised() {
        let spec = r#"{"node\u004eame": "n1", "c\u006fntainers": [{"n\u0061me": "a",
            "resources": {"requ\u0065sts": {"cpu": "1"}}}]}"#;
        let status = r#"{"c\u006fnditions": [{"typ\u0065": "PodResizePending", "reason": "Infeasible"}],
            "containerStatuses": [{"name": "a", "resources": {}, "allocatedR\u0065sources": {"cpu": "2"}}]}"#;
        let slice: (PodSpecInput, PodStatusInput) = (
            serde_json::from_str(spec).unwrap(),
            serde_json::from_str(status).unwrap(),
        );
        let value = decode(
            serde_json::from_str(spec).unwrap(),
            serde_json::from_str(status).unwrap(),
        );
        for (spec, status) in [slice, value] {
            assert_eq!(spec.node_name.as_deref(), Some("n1"));
            assert!(status.resize_infeasible);
            assert_eq!(
                *pod_requests(&spec, &status, &tracked(&["cpu"]), ALL_GATES),
                [2000]
            );
        }
    }

    #[test]
    fn null_names_and_lists_are_absent() {
        let (spec, status) = decode(
            json!({"nodeName": null, "containers": [{"name": null, "restartPolicy": null,
                "resources": {"requests": {"cpu": "1"}}}], "resources": null}),
            json!({"phase": null, "initContainerStatuses": null, "containerStatuses": [{"name": null,
                "resources": {"requests": null}, "allocatedResources": null}]}),
        );
        assert_eq!(spec.node_name, None);
        assert_eq!(status.phase, None);
        // Both names are empty, so the status (present, all zero) applies: max(1, 0) = 1.
        assert_eq!(
            *pod_requests(&spec, &status, &tracked(&["cpu"]), ALL_GATES),
            [1000]
        );
        assert!(status.container_statuses[0].resources_present);
        assert!(status.container_statuses[0].requests.is_empty());
    }

    #[test]
    fn sidecar_counts_toward_every_later_init_peak() {
        let spec = json!({
            "initContainers": [
                {"name": "sc", "restartPolicy": "Always", "resources": {"requests": {"cpu": "300m"}}},
                {"name": "init-a", "resources": {"requests": {"cpu": "500m"}}},
                {"name": "init-b", "resources": {"requests": {"cpu": "600m"}}},
            ],
            "containers": [{"name": "app", "resources": {"requests": {"cpu": "100m"}}}],
        });
        // Running: 100 + 300 = 400. Peaks: 300, 300+500, 300+600. A sidecar treated as a plain
        // init container would give 600; one seen only by the next init container, 800.
        assert_eq!(requests(spec, Value::Null, &["cpu"]), [900]);
    }

    #[test]
    fn infeasible_resize_drops_spec() {
        let spec = json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "4", "memory": "1Gi"}}}]});
        let statuses = json!([{
            "name": "a",
            "resources": {"requests": {"cpu": "1"}},
            "allocatedResources": {"cpu": "1", "memory": "1Gi"},
        }]);
        let infeasible =
            json!({"type": "PodResizePending", "status": "True", "reason": "Infeasible"});
        let deferred = json!({"type": "PodResizePending", "status": "True", "reason": "Deferred"});
        let cases = [
            ("infeasible", json!([infeasible]), [1000, 1_073_741_824]),
            ("deferred", json!([deferred]), [4000, 1_073_741_824]),
            (
                "only the first pending condition counts",
                json!([deferred, infeasible]),
                [4000, 1_073_741_824],
            ),
            (
                "in progress",
                json!([{"type": "PodResizeInProgress", "status": "True"}]),
                [4000, 1_073_741_824],
            ),
        ];
        for (case, conditions, want) in cases {
            let status = json!({"conditions": conditions, "containerStatuses": statuses});
            assert_eq!(
                requests(spec.clone(), status, &["cpu", "memory"]),
                want,
                "{case}"
            );
        }
    }

    #[test]
    fn status_without_resources_is_ignored() {
        let spec =
            json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "500m"}}}]});
        let cases = [
            (
                "no resources",
                json!({"name": "a", "allocatedResources": {"cpu": "2"}}),
                500,
            ),
            (
                "null resources",
                json!({"name": "a", "resources": null, "allocatedResources": {"cpu": "2"}}),
                500,
            ),
            (
                "empty resources",
                json!({"name": "a", "resources": {}, "allocatedResources": {"cpu": "2"}}),
                2000,
            ),
            (
                "other container",
                json!({"name": "b", "resources": {"requests": {"cpu": "2"}}}),
                500,
            ),
        ];
        for (case, entry, want) in cases {
            let status = json!({"containerStatuses": [entry]});
            assert_eq!(requests(spec.clone(), status, &["cpu"]), [want], "{case}");
        }
    }

    #[test]
    fn bad_quantity_is_skipped_and_recorded() {
        let (spec, status) = decode(
            json!({
                "containers": [{"resources": {"requests": {"cpu": "abc", "memory": "1Gi"}}, "name": "app"}],
                "overhead": {"cpu": "-100m", "memory": true},
            }),
            json!({"containerStatuses": [{"name": "app", "resources": {"requests": {}}, "allocatedResources": {"cpu": "1.5.5"}}]}),
        );
        let fields = |bad: &[BadQuantity]| {
            bad.iter()
                .map(|b| (b.field.clone(), b.value.clone(), b.error))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            fields(&spec.bad_quantities),
            [
                (
                    "spec.containers[app].resources.requests.cpu".into(),
                    "abc".into(),
                    QuantityError::Format
                ),
                (
                    "spec.overhead.cpu".into(),
                    "-100m".into(),
                    QuantityError::Negative
                ),
                (
                    "spec.overhead.memory".into(),
                    "true".into(),
                    QuantityError::Format
                ),
            ]
        );
        assert_eq!(
            fields(&status.bad_quantities),
            [(
                "status.containerStatuses[app].allocatedResources.cpu".into(),
                "1.5.5".into(),
                QuantityError::Format
            )]
        );
        let got = pod_requests(&spec, &status, &tracked(&["cpu", "memory"]), ALL_GATES);
        assert_eq!(*got, [0, 1_073_741_824]);
    }

    #[test]
    fn hundreds_of_containers_with_huge_values_saturate_without_panic() {
        let huge = json!({"name": "c", "resources": {"requests": {
            "cpu": "1e29", "memory": "8Ei", "nvidia.com/gpu": "170141183460469231731687303715"
        }}});
        let sidecar =
            json!({"name": "s", "restartPolicy": "Always", "resources": huge["resources"]});
        let spec = json!({
            "containers": vec![&huge; 300],
            "initContainers": ([vec![&sidecar; 300], vec![&huge; 300]].concat()),
            "overhead": huge["resources"]["requests"],
            "resources": {"requests": {"memory": "1e29"}},
        });
        let got = requests(
            spec,
            Value::Null,
            &["cpu", "memory", "nvidia.com/gpu", "pods"],
        );
        assert_eq!(got, [u64::MAX, u64::MAX, u64::MAX, 1]);
    }

    #[test]
    fn missing_allocatable_falls_back_to_capacity() {
        let t = tracked(&["cpu", "memory", "pods"]);
        let capacity = json!({"cpu": "4", "memory": "1Gi", "pods": "110"});
        let cases = [
            (
                "missing",
                json!({"capacity": capacity}),
                [4000, 1_073_741_824, 110],
            ),
            (
                "null",
                json!({"allocatable": null, "capacity": capacity}),
                [4000, 1_073_741_824, 110],
            ),
            (
                "empty map is present",
                json!({"allocatable": {}, "capacity": capacity}),
                [0, 0, 0],
            ),
            (
                "present",
                json!({"allocatable": {"cpu": "3920m"}, "capacity": capacity}),
                [3920, 0, 0],
            ),
            ("no status", Value::Null, [0, 0, 0]),
        ];
        for (case, status, want) in cases {
            let status: NodeStatusInput = serde_json::from_value(status).unwrap();
            assert_eq!(*node_allocatable(&status, &t), want, "{case}");
        }
        let status: NodeStatusInput =
            serde_json::from_value(json!({"allocatable": {"cpu": "1"}, "capacity": capacity}))
                .unwrap();
        assert_eq!(*node_capacity(&status, &t), [4000, 1_073_741_824, 110]);
    }

    #[test]
    fn untracked_resources_are_ignored() {
        let spec = json!({
            "containers": [{"name": "a", "resources": {"requests": {
                "cpu": "1", "memory": "1Gi", "example.com/foo": "3", "foo": "7"
            }}}],
            "resources": {"requests": {"memory": "2Gi"}},
        });
        assert_eq!(requests(spec.clone(), Value::Null, &["cpu"]), [1000]);
        assert_eq!(
            requests(spec, Value::Null, &["example.com/foo", "cpu"]),
            [3, 1000]
        );
    }

    #[test]
    fn tracked_resources_accept_only_names_the_scheduler_accounts() {
        let accepted = [
            "cpu",
            "memory",
            "ephemeral-storage",
            "pods",
            "hugepages-2Mi",
            "nvidia.com/gpu",
            "example.com/Foo_bar.baz",
            "kubernetes.io/batteries",
            "attachable-volumes-aws-ebs",
        ];
        let t = tracked(&accepted);
        assert_eq!(
            (t.len(), t.index_of("nvidia.com/gpu"), t.index_of("gpu")),
            (9, Some(5), None)
        );
        assert_eq!(t.names()[..3].join(","), "cpu,memory,ephemeral-storage");
        assert_eq!(t.names()[..2], ["cpu", "memory"]);
        assert_eq!(ResourceName::Other("cpu".into()), ResourceName::Cpu);
        for name in [
            "gpu",
            "storage",
            "requests.nvidia.com/gpu",
            "a/b/c",
            "Example.com/gpu",
            "example.com/",
            "/gpu",
            "-x.com/gpu",
            "x.com/-gpu",
        ] {
            let err = TrackedResources::new([name]).unwrap_err();
            assert_eq!(
                err,
                TrackedResourceError::NotAccounted(name.into()),
                "{name}"
            );
        }
        assert_eq!(
            TrackedResources::new(["cpu", "memory", "cpu"]),
            Err(TrackedResourceError::Duplicate("cpu".into()))
        );
    }

    #[test]
    fn pod_level_requests_override_only_supported_keys() {
        let spec = json!({
            "containers": [{"name": "a", "resources": {"requests": {
                "cpu": "500m", "ephemeral-storage": "1Gi", "hugepages-2Mi": "2Mi"
            }}}],
            "resources": {"requests": {"ephemeral-storage": "5Gi", "hugepages-2Mi": "4Mi"}},
            "overhead": {"hugepages-2Mi": "1"},
        });
        let names = ["cpu", "ephemeral-storage", "hugepages-2Mi"];
        assert_eq!(
            requests(spec.clone(), Value::Null, &names),
            [500, 1_073_741_824, 4_194_305]
        );
        let (spec, status) = decode(spec, Value::Null);
        let gate_off = AccountingOptions {
            pod_level_resources: false,
            ..ALL_GATES
        };
        assert_eq!(
            *pod_requests(&spec, &status, &tracked(&names), gate_off),
            [500, 1_073_741_824, 2_097_153]
        );
    }

    #[test]
    fn explain_mentions_the_dominating_container() {
        let (spec, status) = decode(
            json!({
                "initContainers": [{"name": "migrate", "resources": {"requests": {"cpu": "2"}}}],
                "containers": [{"name": "app", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}],
                "overhead": {"cpu": "100m"},
                "resources": {"requests": {"memory": "2Gi"}},
            }),
            json!({"containerStatuses": [{"name": "app", "resources": {"requests": {"memory": "3Gi"}}}]}),
        );
        let t = tracked(&["cpu", "memory", "ephemeral-storage", "pods"]);
        assert_eq!(
            explain(&spec, &status, &t, ALL_GATES),
            "cpu=2100m from spec.initContainers[0] +overhead; \
             memory=2147483648 from pod-level requests (resize status); ephemeral-storage=0; pods=1"
        );
    }

    #[test]
    fn explain_flags_an_infeasible_resize() {
        let (spec, status) = decode(
            json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "8"}}}]}),
            json!({
                "conditions": [{"type": "PodResizePending", "reason": "Infeasible"}],
                "containerStatuses": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}],
            }),
        );
        assert_eq!(
            explain(&spec, &status, &tracked(&["cpu"]), ALL_GATES),
            "cpu=1000m from containers (resize status); resize infeasible: spec ignored where status has resources"
        );
    }

    #[test]
    fn counts_on_node_needs_a_node_and_a_live_phase() {
        let cases = [
            (json!({"nodeName": "n1"}), json!({"phase": "Running"}), true),
            (json!({"nodeName": "n1"}), json!({"phase": "Pending"}), true),
            (json!({"nodeName": "n1"}), json!({"phase": "Unknown"}), true),
            (
                json!({"nodeName": "n1"}),
                json!({"phase": "SomethingNew"}),
                true,
            ),
            (json!({"nodeName": "n1"}), json!({}), true),
            (json!({"nodeName": "n1"}), Value::Null, true),
            (
                json!({"nodeName": "n1"}),
                json!({"phase": "Succeeded"}),
                false,
            ),
            (json!({"nodeName": "n1"}), json!({"phase": "Failed"}), false),
            (json!({"nodeName": ""}), json!({"phase": "Running"}), false),
            (
                json!({}),
                json!({"phase": "Running", "nominatedNodeName": "n1"}),
                false,
            ),
        ];
        for (spec, status, want) in cases {
            let case = format!("{spec} {status}");
            let (spec, status) = decode(spec, status);
            assert_eq!(counts_on_node(&spec, &status), want, "{case}");
        }
    }

    #[test]
    fn decoding_skips_unknown_fields_and_treats_null_as_absent() {
        let (spec, status) = decode(
            json!({
                "nodeName": "n1",
                "volumes": [{"name": "v", "emptyDir": {}}],
                "containers": null,
                "initContainers": [{"name": "i", "image": "x", "restartPolicy": null, "resources": null}],
                "overhead": null,
                "resources": {"limits": {"cpu": "1"}, "requests": null},
                "affinity": {"nodeAffinity": {"deep": [1, 2, {"x": null}]}},
            }),
            json!({"phase": "Running", "conditions": null, "podIP": "10.0.0.1", "containerStatuses": [{"name": "i", "ready": true}]}),
        );
        let want_spec = PodSpecInput {
            node_name: Some("n1".into()),
            init_containers: vec![ContainerInput {
                name: "i".into(),
                ..ContainerInput::default()
            }],
            ..PodSpecInput::default()
        };
        assert_eq!(spec, want_spec);
        assert_eq!(
            (status.phase, status.container_statuses.len()),
            (Some(PodPhase::Running), 1)
        );
        assert!(!status.container_statuses[0].resources_present);
    }

    #[test]
    fn quantities_decode_like_go_unmarshal_json() {
        let spec: PodSpecInput = serde_json::from_str(
            r#"{"overhead": {"cpu": 2, "memory": 1.5, "pods": null, "hugepages-2Mi": " 2Mi ", "x.io/a": "1", "x.io/a": "3"}}"#,
        )
        .unwrap();
        let overhead: Vec<(String, i128)> = spec
            .overhead
            .as_deref()
            .unwrap()
            .iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        let giga = 1_000_000_000;
        assert_eq!(
            overhead,
            [
                ("cpu".to_owned(), 2 * giga),
                ("memory".to_owned(), 1_500_000_000),
                ("pods".to_owned(), 0),
                ("hugepages-2Mi".to_owned(), 2 * 1_048_576 * giga),
                ("x.io/a".to_owned(), 3 * giga),
            ]
        );
        assert!(spec.bad_quantities.is_empty());
    }
}

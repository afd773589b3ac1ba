//! Resource names as the scheduler reads them and the set the exporter tracks: which names
//! kube-scheduler accounts (`IsScalarResourceName`, `docs/ACCOUNTING.md` §2 step 8 and §8), lists
//! of exact quantities keyed by name, container names as hashes, and the validated tracked set in
//! report order. Pure.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{self, Deserializer, Visitor};

use crate::model::names;
use serde::Deserialize;

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
    pub(crate) fn is_supported_at_pod_level(&self) -> bool {
        match self {
            Self::Cpu | Self::Memory => true,
            Self::Other(name) => name.starts_with("hugepages-"),
            Self::EphemeralStorage | Self::Pods => false,
        }
    }

    /// Whether `Resource.Add` keeps the name: the four built-ins and `IsScalarResourceName`.
    pub(crate) fn is_accounted_by_scheduler(&self) -> bool {
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
    name.contains('/')
        && !name.contains("kubernetes.io/")
        && !name.starts_with("requests.")
        && names::is_qualified_name(&format!("requests.{name}"))
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
    pub(crate) fn slot(&self) -> Option<usize> {
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
    pub(crate) fn nanos(&self, name: &ResourceName) -> i128 {
        self.get(name).unwrap_or(0)
    }

    /// Boxed when not empty, for the rare lists kept out of line.
    pub(crate) fn boxed(self) -> Option<Box<ResourceList>> {
        (!self.is_empty()).then(|| Box::new(self))
    }

    /// Like decoding a Go map, a repeated key keeps its last value.
    pub(crate) fn insert(&mut self, name: ResourceName, nanos: i128) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let t = TrackedResources::new(accepted).unwrap();
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
}

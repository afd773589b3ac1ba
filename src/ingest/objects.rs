//! Slim Kubernetes object types decoded straight from the API server's JSON: only the fields the
//! exporter needs survive decoding (no managedFields, annotations, env, probes …), so a watch
//! event costs a few small allocations instead of a whole k8s-openapi `Pod`. They implement
//! `kube::Resource` so kube-runtime's watcher can list and watch them; they are converted into
//! compact records at the edge and never stored. A pod is accounted while it is decoded: its spec
//! and status go into inputs the decoding thread reuses, and only its figures leave the decoder.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::{ClusterResourceScope, NamespaceResourceScope};
use kube::Resource;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::ingest::decode::{field_keys, first_time, null_is_empty, SpecSeed, StatusSeed};
use crate::model::accounting::{
    self, AccountingOptions, BadQuantity, NodeStatusInput, PodSpecInput, PodStatusInput,
};
use crate::model::resources::TrackedResources;
use crate::model::state::{Owner, PodFacts};

/// The annotation that marks the mirror pod of a static pod.
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// A Pod reduced to its record: accounted while it is decoded, under the accounting context of
/// the decoding thread ([`set_pod_accounting`]). The spec and status are decoded into inputs
/// the thread reuses for every pod, so a pod costs its key, resourceVersion, node name and
/// figures, not a copy of its containers.
#[derive(Debug, Clone)]
pub struct SlimPod {
    /// `namespace/name`, resourceVersion and the owner class only.
    pub metadata: PodMeta,
    /// The record; `None` for a pod in a terminal phase (it counts nowhere).
    pub facts: Option<PodFacts>,
    /// Quantities skipped while decoding (spec, then status), in document order.
    pub bad_quantities: Vec<BadQuantity>,
    /// `accounting::explain` for the pod, made only while debug logging is on.
    pub explanation: Option<String>,
}

/// What the pods decoded on a thread are accounted with: the tracked resources and the gates.
struct PodAccounting {
    tracked: TrackedResources,
    options: AccountingOptions,
}

/// The inputs one pod is decoded into, reused for the next; and its figures before they are
/// copied into the record.
#[derive(Default)]
struct PodScratch {
    spec: PodSpecInput,
    status: PodStatusInput,
    requests: Vec<u64>,
    limits: Vec<u64>,
}

/// The most containers per list the reused inputs keep room for between pods.
const SCRATCH_CONTAINERS: usize = 64;

thread_local! {
    static ACCOUNTING: RefCell<Option<PodAccounting>> = const { RefCell::new(None) };
    static SCRATCH: RefCell<PodScratch> = RefCell::new(PodScratch::default());
}

/// Sets how the pods decoded on this thread are accounted: the watch thread sets it before the
/// pod watch starts and again when the gates change (the pod watch then lists again). A pod
/// decoded on a thread without it fails to decode.
pub fn set_pod_accounting(tracked: &TrackedResources, options: AccountingOptions) {
    ACCOUNTING.with_borrow_mut(|a| {
        *a = Some(PodAccounting {
            tracked: tracked.clone(),
            options,
        });
    });
}

impl<'de> Deserialize<'de> for SlimPod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PodVisitor)
    }
}

field_keys! {
    PodKey {
        Metadata = b"metadata",
        Spec = b"spec",
        Status = b"status",
    }
}

struct PodVisitor;

impl<'de> Visitor<'de> for PodVisitor {
    type Value = SlimPod;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a pod")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SlimPod, A::Error> {
        ACCOUNTING.with_borrow(|accounting| {
            let accounting = accounting.as_ref().ok_or_else(|| {
                de::Error::custom(
                    "pods are decoded only on a thread with an accounting context \
                     (ingest::objects::set_pod_accounting)",
                )
            })?;
            // A pod decoded inside another one's decode (never, with these types) gets
            // inputs of its own instead of the shared ones.
            SCRATCH.with(|shared| match shared.try_borrow_mut() {
                Ok(mut scratch) => {
                    let pod = decode_pod(map, accounting, &mut scratch);
                    // Whether it decoded or not, nothing of the pod stays on the thread.
                    scratch.reset();
                    pod
                }
                Err(_) => decode_pod(map, accounting, &mut PodScratch::default()),
            })
        })
    }
}

impl PodScratch {
    /// Empties the inputs for the next pod; a pod with hundreds of containers does not leave
    /// lists that size behind.
    fn reset(&mut self) {
        self.spec.clear();
        self.status.clear();
        self.spec.containers.shrink_to(SCRATCH_CONTAINERS);
        self.spec.init_containers.shrink_to(SCRATCH_CONTAINERS);
        self.status.container_statuses.shrink_to(SCRATCH_CONTAINERS);
        self.status
            .init_container_statuses
            .shrink_to(SCRATCH_CONTAINERS);
    }
}

/// Decodes one pod's fields into `scratch` (empty: [`PodScratch::reset`]) and accounts it.
fn decode_pod<'de, A: MapAccess<'de>>(
    mut map: A,
    accounting: &PodAccounting,
    scratch: &mut PodScratch,
) -> Result<SlimPod, A::Error> {
    let PodScratch {
        spec,
        status,
        requests,
        limits,
    } = scratch;
    let mut metadata = None;
    let mut seen = [false; 3];
    while let Some(key) = map.next_key::<PodKey>()? {
        match key {
            PodKey::Metadata => {
                first_time(&mut seen[0], "metadata")?;
                metadata = Some(map.next_value_seed(PodMetaSeed)?);
            }
            PodKey::Spec => {
                first_time(&mut seen[1], "spec")?;
                map.next_value_seed(SpecSeed(spec))?;
            }
            PodKey::Status => {
                first_time(&mut seen[2], "status")?;
                map.next_value_seed(StatusSeed(status))?;
            }
            PodKey::Other => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    let metadata = metadata.unwrap_or_default();
    let (tracked, options) = (&accounting.tracked, accounting.options);
    // The explanation is logged by `ingest::records` (its target decides).
    let explained = log::log_enabled!(
        target: concat!(env!("CARGO_CRATE_NAME"), "::ingest::records"),
        log::Level::Debug
    );
    let counted = !accounting::is_terminal(status);
    let explanation =
        (explained && counted).then(|| accounting::explain(spec, status, tracked, options));
    let facts = counted.then(|| {
        requests.clear();
        limits.clear();
        accounting::pod_requests_into(spec, status, tracked, options, requests);
        let unlimited = accounting::pod_limits_into(spec, status, tracked, options, limits);
        PodFacts::new(
            spec.node_name.take().filter(|n| !n.is_empty()),
            requests,
            limits,
            unlimited,
            metadata.owner,
        )
    });
    let mut bad_quantities = std::mem::take(&mut spec.bad_quantities);
    bad_quantities.append(&mut status.bad_quantities);
    Ok(SlimPod {
        metadata,
        facts,
        bad_quantities,
        explanation,
    })
}

/// The pod's `metadata` (see [`pod_meta`]).
struct PodMetaSeed;

impl<'de> DeserializeSeed<'de> for PodMetaSeed {
    type Value = PodMeta;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<PodMeta, D::Error> {
        pod_meta(d)
    }
}

/// Pod metadata kept: `namespace/name`, the kube `ObjectMeta` with only resourceVersion, and the
/// owner class.
#[derive(Debug, Clone)]
pub struct PodMeta {
    /// For kube's watcher, which reads only `resourceVersion` (kube-runtime 5 `watcher.rs`);
    /// name and namespace are left out, as they live in `key`.
    pub meta: ObjectMeta,
    /// `namespace/name`, built once while decoding from the borrowed input text.
    pub key: String,
    /// Workload, DaemonSet or static (mirror) pod.
    pub owner: Owner,
}

impl Default for PodMeta {
    fn default() -> Self {
        Self {
            meta: ObjectMeta::default(),
            key: pod_key(None, None),
            owner: Owner::default(),
        }
    }
}

/// `namespace/name` in one allocation of the exact size (absent parts are empty).
fn pod_key(namespace: Option<&str>, name: Option<&str>) -> String {
    let (namespace, name) = (namespace.unwrap_or_default(), name.unwrap_or_default());
    let mut key = String::with_capacity(namespace.len() + 1 + name.len());
    key.push_str(namespace);
    key.push('/');
    key.push_str(name);
    key
}

/// A Node reduced to allocatable, capacity, labels and cordon state.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SlimNode {
    /// Name, resourceVersion and labels.
    #[serde(deserialize_with = "node_meta")]
    pub metadata: ObjectMeta,
    /// `spec.unschedulable` only.
    pub spec: SlimNodeSpec,
    /// Allocatable and capacity.
    pub status: NodeStatusInput,
}

/// The one node spec field kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SlimNodeSpec {
    /// Cordoned.
    #[serde(deserialize_with = "null_as_default")]
    pub unschedulable: bool,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl SlimPod {
    /// `namespace/name`, the pod's key in the state.
    pub fn key(&self) -> &str {
        &self.metadata.key
    }
}

/// `kube::Resource` for a slim type: `(type, kind, plural, scope, group, version, path of its
/// ObjectMeta)`.
macro_rules! slim_resource {
    ($ty:ty, $kind:literal, $plural:literal, $scope:ty, $group:expr, $version:expr, $($meta:tt)+) => {
        impl Resource for $ty {
            type DynamicType = ();
            type Scope = $scope;

            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($group)
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($version)
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.$($meta)+
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.$($meta)+
            }
        }
    };
}

pub(crate) use slim_resource;

slim_resource!(
    SlimPod,
    "Pod",
    "pods",
    NamespaceResourceScope,
    "",
    "v1",
    metadata.meta
);
slim_resource!(
    SlimNode,
    "Node",
    "nodes",
    ClusterResourceScope,
    "",
    "v1",
    metadata
);

/// Which metadata fields a visitor keeps.
#[derive(Clone, Copy)]
enum MetaKind {
    Pod,
    Node,
}

struct MetaVisitor(MetaKind);

/// Metadata as decoded, before it is split into kube's `ObjectMeta` and our flags; name and
/// namespace borrow from the input when they have no escapes.
#[derive(Default)]
struct DecodedMeta<'de> {
    meta: ObjectMeta,
    name: Option<Cow<'de, str>>,
    namespace: Option<Cow<'de, str>>,
    owner: Option<Owner>,
}

fn pod_meta<'de, D: Deserializer<'de>>(d: D) -> Result<PodMeta, D::Error> {
    let decoded = d.deserialize_option(OptionalMeta(MetaKind::Pod))?;
    Ok(PodMeta {
        key: pod_key(decoded.namespace.as_deref(), decoded.name.as_deref()),
        meta: decoded.meta,
        owner: decoded.owner.unwrap_or(Owner::Workload),
    })
}

fn node_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    let decoded = d.deserialize_option(OptionalMeta(MetaKind::Node))?;
    Ok(ObjectMeta {
        name: decoded.name.map(Cow::into_owned),
        ..decoded.meta
    })
}

/// Accepts `null` as empty metadata.
struct OptionalMeta(MetaKind);

impl<'de> Visitor<'de> for OptionalMeta {
    type Value = DecodedMeta<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("object metadata")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(DecodedMeta::default())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(DecodedMeta::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(MetaVisitor(self.0))
    }
}

impl<'de> Visitor<'de> for MetaVisitor {
    type Value = DecodedMeta<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("object metadata")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = DecodedMeta::default();
        while let Some(key) = map.next_key::<MetaKey>()? {
            match (key, self.0) {
                (MetaKey::Name, _) => out.name = map.next_value_seed(Text)?,
                (MetaKey::Namespace, MetaKind::Pod) => out.namespace = map.next_value_seed(Text)?,
                (MetaKey::ResourceVersion, _) => out.meta.resource_version = map.next_value()?,
                (MetaKey::OwnerReferences, MetaKind::Pod) => {
                    let owner = map.next_value_seed(OwnerSeed)?;
                    if out.owner != Some(Owner::Static) {
                        out.owner = owner;
                    }
                }
                (MetaKey::Annotations, MetaKind::Pod) => {
                    if map.next_value_seed(HasKey(MIRROR_ANNOTATION))? {
                        out.owner = Some(Owner::Static);
                    }
                }
                (MetaKey::Labels, MetaKind::Node) => out.meta.labels = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// Metadata keys of interest; every other key is skipped without allocating.
enum MetaKey {
    Name,
    Namespace,
    ResourceVersion,
    OwnerReferences,
    Annotations,
    Labels,
    Other,
}

impl<'de> Deserialize<'de> for MetaKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = MetaKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a metadata field name")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<MetaKey, E> {
                Ok(match v {
                    b"name" => MetaKey::Name,
                    b"namespace" => MetaKey::Namespace,
                    b"resourceVersion" => MetaKey::ResourceVersion,
                    b"ownerReferences" => MetaKey::OwnerReferences,
                    b"annotations" => MetaKey::Annotations,
                    b"labels" => MetaKey::Labels,
                    _ => MetaKey::Other,
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MetaKey, E> {
                self.visit_bytes(v.as_bytes())
            }
        }
        // Bytes, not str: the key is only compared with ASCII names, so serde_json's UTF-8
        // check is not needed.
        d.deserialize_bytes(KeyVisitor)
    }
}

/// Decodes `ownerReferences` into the owner class of the controller reference (DaemonSet, Node
/// for mirror pods, anything else a workload); `None` without a controller reference.
struct OwnerSeed;

impl<'de> DeserializeSeed<'de> for OwnerSeed {
    type Value = Option<Owner>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OwnerSeed {
    type Value = Option<Owner>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of owner references")
    }
    null_is_empty!('de, None, deserialize_seq);
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        #[derive(Deserialize)]
        struct OwnerRef<'a> {
            #[serde(default, borrow)]
            kind: Option<Cow<'a, str>>,
            #[serde(default)]
            controller: Option<bool>,
        }
        let mut owner = None;
        while let Some(r) = seq.next_element::<OwnerRef<'_>>()? {
            if r.controller == Some(true) {
                owner = Some(match r.kind.as_deref() {
                    Some("DaemonSet") => Owner::DaemonSet,
                    Some("Node") => Owner::Static,
                    _ => Owner::Workload,
                });
            }
        }
        Ok(owner)
    }
}

/// Whether a JSON object has a given key; values are skipped.
struct HasKey(&'static str);

impl<'de> DeserializeSeed<'de> for HasKey {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for HasKey {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }
    null_is_empty!('de, false, deserialize_map);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(is_key) = map.next_key_seed(IsKey(self.0))? {
            found |= is_key;
            map.next_value::<IgnoredAny>()?;
        }
        Ok(found)
    }
}

/// Whether a map key is the given one; compared in place, never copied.
struct IsKey(&'static str);

impl<'de> DeserializeSeed<'de> for IsKey {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for IsKey {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

/// An optional string, borrowed from the input when it has no escapes (serde_json `from_slice`)
/// and copied only otherwise.
struct Text;

impl<'de> DeserializeSeed<'de> for Text {
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Text {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    null_is_empty!('de, None, deserialize_str);
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::accounting::{pod_limits, pod_requests};
    use serde_json::Value;

    /// Accounting with every gate on, cpu, memory and pods: what the pod tests below decode
    /// under.
    fn accounting() {
        let tracked = TrackedResources::new(["cpu", "memory", "pods"]).unwrap();
        set_pod_accounting(&tracked, AccountingOptions::ALL);
    }

    /// Every pod of both vector files.
    fn vector_pods() -> Vec<Value> {
        [
            include_str!("../../tests/fixtures/accounting-vectors.json"),
            include_str!("../../tests/fixtures/accounting-vectors-137.json"),
        ]
        .into_iter()
        .flat_map(|text| {
            let file: Value = serde_json::from_str(text).unwrap();
            file["pod_vectors"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|v| v["pods"].as_array().unwrap().clone())
                .collect::<Vec<_>>()
        })
        .collect()
    }

    #[test]
    fn pods_decoded_one_after_another_get_the_records_of_pods_decoded_alone() {
        let pods = vector_pods();
        assert!(pods.len() > 50, "{} pods", pods.len());
        let tracked = TrackedResources::new([
            "cpu",
            "memory",
            "ephemeral-storage",
            "pods",
            "hugepages-2Mi",
            "nvidia.com/gpu",
            "example.com/foo",
        ])
        .unwrap();
        let mut checked = 0;
        // Every combination of the four gates; the pods forwards and backwards, so each is
        // decoded after larger and smaller ones into the same reused inputs.
        for gates in 0..16u8 {
            let options = AccountingOptions {
                pod_level_resources: gates & 1 != 0,
                use_status_resources: gates & 2 != 0,
                pod_level_status: gates & 4 != 0,
                max_of_sums: gates & 8 != 0,
            };
            set_pod_accounting(&tracked, options);
            for pod in pods.iter().chain(pods.iter().rev()) {
                let text = serde_json::to_vec(pod).unwrap();
                let decoded: SlimPod = serde_json::from_slice(&text).unwrap();
                let spec: PodSpecInput = serde_json::from_value(pod["spec"].clone()).unwrap();
                let status: PodStatusInput = serde_json::from_value(pod["status"].clone()).unwrap();
                let alone = (!accounting::is_terminal(&status)).then(|| {
                    let (limits, unlimited) = pod_limits(&spec, &status, &tracked, options);
                    PodFacts::new(
                        spec.node_name.clone().filter(|n| !n.is_empty()),
                        &pod_requests(&spec, &status, &tracked, options),
                        &limits,
                        unlimited,
                        decoded.metadata.owner,
                    )
                });
                assert_eq!(decoded.facts, alone, "gates {gates:04b}: {pod}");
                let bad: Vec<_> = spec
                    .bad_quantities
                    .iter()
                    .chain(&status.bad_quantities)
                    .cloned()
                    .collect();
                assert_eq!(decoded.bad_quantities, bad, "{pod}");
                checked += 1;
            }
        }
        assert_eq!(checked, 16 * 2 * pods.len());
    }

    #[test]
    fn a_pod_decoded_after_a_bigger_one_keeps_nothing_of_it() {
        accounting();
        let big: SlimPod = serde_json::from_str(
            r#"{"metadata":{"name":"big","namespace":"ns"},"spec":{"nodeName":"n1",
            "overhead":{"cpu":"1"},"resources":{"requests":{"cpu":"9"}},
            "containers":[{"name":"a","resources":{"requests":{"cpu":"2","memory":"1Gi"}}},
                          {"name":"b","resources":{"requests":{"cpu":"3","memory":"x"}}}],
            "initContainers":[{"name":"i","resources":{"requests":{"cpu":"7"}}}]},
            "status":{"phase":"Running","containerStatuses":[{"name":"a","resources":{"requests":{"cpu":"4"}}}]}}"#,
        )
        .unwrap();
        assert_eq!(big.bad_quantities.len(), 1, "memory \"x\"");
        let small: SlimPod = serde_json::from_str(
            r#"{"metadata":{"name":"small","namespace":"ns"},"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"100m"}}}]}}"#,
        )
        .unwrap();
        let facts = small.facts.unwrap();
        assert_eq!(facts.node, None, "not bound: no node name left over");
        assert_eq!(facts.requests(), [100, 0, 1]);
        assert!(small.bad_quantities.is_empty());
    }

    #[test]
    fn a_pod_with_hundreds_of_containers_leaves_no_large_lists_on_the_thread() {
        accounting();
        let containers: Vec<Value> = (0..300)
            .map(|i| serde_json::json!({"name": format!("c{i}"), "resources": {"requests": {"cpu": "1m"}}}))
            .collect();
        let pod = serde_json::json!({"metadata": {"name": "wide", "namespace": "ns"},
            "spec": {"nodeName": "n", "containers": containers, "initContainers": containers},
            "status": {"containerStatuses": containers}});
        let decoded: SlimPod = serde_json::from_value(pod).unwrap();
        assert_eq!(
            decoded.facts.unwrap().requests()[0],
            300,
            "the sum of 300 × 1m"
        );
        SCRATCH.with_borrow(|s| {
            for capacity in [
                s.spec.containers.capacity(),
                s.spec.init_containers.capacity(),
                s.status.container_statuses.capacity(),
            ] {
                assert!(capacity <= SCRATCH_CONTAINERS, "{capacity}");
            }
            assert!(s.spec.node_name.is_none() && s.spec.containers.is_empty());
        });
    }

    #[test]
    fn terminal_pods_have_no_record_and_pods_need_an_accounting_context() {
        accounting();
        let done: SlimPod = serde_json::from_str(
            r#"{"metadata":{"name":"p","namespace":"ns"},"spec":{"nodeName":"n"},"status":{"phase":"Succeeded"}}"#,
        )
        .unwrap();
        assert!(done.facts.is_none());
        let err = std::thread::spawn(|| {
            serde_json::from_str::<SlimPod>(r#"{"metadata":{"name":"p"}}"#)
                .unwrap_err()
                .to_string()
        })
        .join()
        .unwrap();
        assert!(err.contains("accounting context"), "{err}");
    }

    #[test]
    fn pod_metadata_keeps_only_identity_and_owner() {
        accounting();
        let pod: SlimPod = serde_json::from_str(
            r#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","namespace":"ns",
            "resourceVersion":"42","labels":{"a":"b"},"annotations":{"x":"y"},
            "managedFields":[{"manager":"kubectl"}],
            "ownerReferences":[{"kind":"DaemonSet","name":"ds","controller":true}]},
            "spec":{"nodeName":"n1","containers":[]},"status":{"phase":"Running"}}"#,
        )
        .unwrap();
        assert_eq!(pod.key(), "ns/p");
        assert_eq!(pod.metadata.meta.resource_version.as_deref(), Some("42"));
        assert_eq!(pod.metadata.owner, Owner::DaemonSet);
        assert!(pod.metadata.meta.labels.is_none());
        assert!(pod.metadata.meta.annotations.is_none());
        assert!(
            pod.metadata.meta.name.is_none() && pod.metadata.meta.namespace.is_none(),
            "kube's watcher reads only resourceVersion; the key holds namespace/name"
        );
    }

    #[test]
    fn pod_key_is_namespace_slash_name_whatever_the_encoding() {
        accounting();
        let cases = [
            (r#"{"metadata":{"name":"p","namespace":"ns"}}"#, "ns/p"),
            (r#"{"metadata":{"n\u0061me":"p","namespace":"ns"}}"#, "ns/p"),
            (r#"{"metadata":{"namespace":"ns","name":"p"}}"#, "ns/p"),
            (
                r#"{"metadata":{"name":"a\"b","namespace":"n\u00e9"}}"#,
                "né/a\"b",
            ),
            (
                r#"{"metadata":{"name":"p","name":"q","namespace":"ns"}}"#,
                "ns/q",
            ),
            (r#"{"metadata":{"name":"p","namespace":null}}"#, "/p"),
            (r#"{"metadata":{"name":"p"}}"#, "/p"),
            (r#"{"metadata":null}"#, "/"),
            ("{}", "/"),
        ];
        for (json, want) in cases {
            let from_slice: SlimPod = serde_json::from_slice(json.as_bytes()).unwrap();
            let from_reader: SlimPod = serde_json::from_reader(json.as_bytes()).unwrap();
            assert_eq!(from_slice.key(), want, "{json}");
            assert_eq!(from_reader.key(), want, "{json}");
        }
    }

    #[test]
    fn mirror_pods_are_static_whatever_the_order_of_fields() {
        accounting();
        for meta in [
            r#"{"annotations":{"kubernetes.io/config.mirror":"abc"},"ownerReferences":[{"kind":"Node","controller":true}]}"#,
            r#"{"ownerReferences":[{"kind":"ReplicaSet","controller":true}],"annotations":{"kubernetes.io/config.mirror":"abc"}}"#,
            r#"{"ownerReferences":[{"kind":"Node","controller":true}]}"#,
        ] {
            let pod: SlimPod = serde_json::from_str(&format!(r#"{{"metadata":{meta}}}"#)).unwrap();
            assert_eq!(pod.metadata.owner, Owner::Static, "{meta}");
        }
        let pod: SlimPod =
            serde_json::from_str(r#"{"metadata":{"ownerReferences":[{"kind":"DaemonSet"}]}}"#)
                .unwrap();
        assert_eq!(
            pod.metadata.owner,
            Owner::Workload,
            "not a controller reference"
        );
    }

    #[test]
    fn nodes_keep_labels_and_cordon_state_and_accept_nulls() {
        let node: SlimNode = serde_json::from_str(
            r#"{"metadata":{"name":"n1","resourceVersion":"7","labels":{"zone":"a"},"annotations":null},
            "spec":{"unschedulable":true,"taints":[{"key":"k","effect":"NoSchedule"}]},
            "status":{"allocatable":{"cpu":"4","memory":"16Gi","pods":"110"}}}"#,
        )
        .unwrap();
        assert_eq!(node.metadata.name.as_deref(), Some("n1"));
        assert_eq!(node.metadata.labels.unwrap()["zone"], "a");
        assert!(node.spec.unschedulable);
        let node: SlimNode =
            serde_json::from_str(r#"{"metadata":null,"spec":{"unschedulable":null}}"#).unwrap();
        assert!(!node.spec.unschedulable);
    }
}

//! Decoding Pod `spec` / `status` and Node `status` JSON straight into the accounting inputs
//! (`model::accounting`): only the fields accounting reads survive, every other field is skipped
//! unread, and a bad quantity is skipped and recorded instead of failing the object. Keys are
//! compared as bytes (no UTF-8 check of every key), and container names are hashed as they are
//! read. Pod spec and status decode into values the caller keeps between pods
//! (`SpecSeed`, `StatusSeed`): their container lists are cleared and refilled, so decoding a
//! pod allocates nothing for its containers.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::model::accounting::{
    BadQuantity, ContainerInput, ContainerStatusInput, NodeStatusInput, PodSpecInput,
    PodStatusInput,
};
use crate::model::quantity::{parse_requested_nanos, QuantityError, Range};
use crate::model::resources::{ContainerName, ResourceList, ResourceName};

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
pub(crate) use field_keys;

/// Fails on a field seen twice in one object.
pub(crate) fn first_time<E: de::Error>(seen: &mut bool, field: &'static str) -> Result<(), E> {
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
        let mut spec = PodSpecInput::default();
        SpecSeed(&mut spec).deserialize(deserializer)?;
        Ok(spec)
    }
}

/// Decodes a pod spec into `self.0`, which must be cleared ([`PodSpecInput::clear`]): its
/// container lists keep their capacity from the pod before.
pub(crate) struct SpecSeed<'a>(pub &'a mut PodSpecInput);

impl<'de> DeserializeSeed<'de> for SpecSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for SpecSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a pod spec")
    }
    null_is_empty!('de, (), deserialize_map);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let spec = self.0;
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
                    map.next_value_seed(ContainersSeed {
                        list: "spec.containers",
                        bad,
                        out: &mut spec.containers,
                    })?;
                }
                SpecKey::InitContainers => {
                    first_time(&mut seen[2], "initContainers")?;
                    map.next_value_seed(ContainersSeed {
                        list: "spec.initContainers",
                        bad,
                        out: &mut spec.init_containers,
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
                    if let Some(r) = map.next_value_seed(ResourcesSeed {
                        path: "spec.resources",
                        bad,
                    })? {
                        spec.pod_requests = r.requests.and_then(ResourceList::boxed);
                        spec.pod_limits = r.limits.boxed();
                    }
                }
                SpecKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `containers` or `initContainers`, appended to `out`; `null` is empty.
struct ContainersSeed<'b> {
    list: &'static str,
    bad: &'b mut Vec<BadQuantity>,
    out: &'b mut Vec<ContainerInput>,
}

impl<'de> DeserializeSeed<'de> for ContainersSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ContainersSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of containers")
    }
    null_is_empty!('de, (), deserialize_seq);
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(c) = seq.next_element_seed(ContainerSeed {
            list: self.list,
            bad: &mut *self.bad,
        })? {
            self.out.push(c);
        }
        Ok(())
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
                    let r = map
                        .next_value_seed(ResourcesSeed {
                            path: "resources",
                            bad: &mut *self.bad,
                        })?
                        .unwrap_or_default();
                    c.requests = r.requests.unwrap_or_default();
                    c.limits = r.limits;
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
        Limits = b"limits",
    }
}

/// The requests and limits of a `resources` object; `requests` is `None` when absent or `null`
/// (the 1.37 resize rule tells that from empty).
#[derive(Default)]
struct Requirements {
    requests: Option<ResourceList>,
    limits: ResourceList,
}

/// A `resources` object down to its requests and limits: `None` when `null`, empty lists
/// without them. `path` is the object's path (`resources`, `spec.resources`).
struct ResourcesSeed<'b> {
    path: &'static str,
    bad: &'b mut Vec<BadQuantity>,
}

impl ResourcesSeed<'_> {
    fn list_path(&self, list: &str) -> &'static str {
        match (self.path, list) {
            ("spec.resources", "requests") => "spec.resources.requests",
            ("spec.resources", _) => "spec.resources.limits",
            ("status.resources", "requests") => "status.resources.requests",
            ("status.resources", _) => "status.resources.limits",
            (_, "requests") => "resources.requests",
            _ => "resources.limits",
        }
    }
}

impl<'de> DeserializeSeed<'de> for ResourcesSeed<'_> {
    type Value = Option<Requirements>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ResourcesSeed<'_> {
    type Value = Option<Requirements>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("resource requirements")
    }
    null_is_empty!('de, None, deserialize_map);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Requirements::default();
        let mut seen = [false; 2];
        while let Some(key) = map.next_key::<ResourcesKey>()? {
            match key {
                ResourcesKey::Requests => {
                    first_time(&mut seen[0], "requests")?;
                    out.requests = map.next_value_seed(ListSeed {
                        path: self.list_path("requests"),
                        bad: &mut *self.bad,
                    })?;
                }
                ResourcesKey::Limits => {
                    first_time(&mut seen[1], "limits")?;
                    out.limits = map
                        .next_value_seed(ListSeed {
                            path: self.list_path("limits"),
                            bad: &mut *self.bad,
                        })?
                        .unwrap_or_default();
                }
                ResourcesKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(out))
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
                Ok((nanos, Range::Exact)) => list.insert(name, nanos),
                // Kept, saturated, and flagged like a refused one (counted and logged once).
                Ok((nanos, Range::Saturated)) => {
                    self.bad.push(BadQuantity {
                        field: format!("{}.{name}", self.path),
                        value: "beyond the exact range".to_owned(),
                        error: QuantityError::Overflow,
                    });
                    list.insert(name, nanos);
                }
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
struct QuantityValue(Result<(i128, Range), Refused>);

impl<'de> Deserialize<'de> for QuantityValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = QuantityValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<QuantityValue, E> {
                Ok(QuantityValue(parse_requested_nanos(v.trim()).map_err(
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
                Ok(QuantityValue(Ok((0, Range::Exact))))
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
        Resources = b"resources",
        AllocatedResources = b"allocatedResources",
    }
}

impl<'de> Deserialize<'de> for PodStatusInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut status = PodStatusInput::default();
        StatusSeed(&mut status).deserialize(deserializer)?;
        Ok(status)
    }
}

/// Decodes a pod status into `self.0`, which must be cleared ([`PodStatusInput::clear`]): its
/// container status lists keep their capacity from the pod before.
pub(crate) struct StatusSeed<'a>(pub &'a mut PodStatusInput);

impl<'de> DeserializeSeed<'de> for StatusSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for StatusSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a pod status")
    }
    null_is_empty!('de, (), deserialize_map);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let status = self.0;
        let mut seen = [false; 6];
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
                    map.next_value_seed(ContainerStatusesSeed {
                        list: "status.containerStatuses",
                        bad,
                        out: &mut status.container_statuses,
                    })?;
                }
                StatusKey::InitContainerStatuses => {
                    first_time(&mut seen[3], "initContainerStatuses")?;
                    map.next_value_seed(ContainerStatusesSeed {
                        list: "status.initContainerStatuses",
                        bad,
                        out: &mut status.init_container_statuses,
                    })?;
                }
                StatusKey::Resources => {
                    first_time(&mut seen[4], "resources")?;
                    if let Some(r) = map.next_value_seed(ResourcesSeed {
                        path: "status.resources",
                        bad,
                    })? {
                        let pod_level = status.pod_level.get_or_insert_with(Box::default);
                        pod_level.resources_present = true;
                        pod_level.requests = r.requests;
                    }
                }
                StatusKey::AllocatedResources => {
                    first_time(&mut seen[5], "allocatedResources")?;
                    if let Some(list) = map.next_value_seed(ListSeed {
                        path: "status.allocatedResources",
                        bad,
                    })? {
                        status.pod_level.get_or_insert_with(Box::default).allocated = Some(list);
                    }
                }
                StatusKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
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

/// `containerStatuses` or `initContainerStatuses`, appended to `out`; `null` is empty.
struct ContainerStatusesSeed<'b> {
    list: &'static str,
    bad: &'b mut Vec<BadQuantity>,
    out: &'b mut Vec<ContainerStatusInput>,
}

impl<'de> DeserializeSeed<'de> for ContainerStatusesSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ContainerStatusesSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of container statuses")
    }
    null_is_empty!('de, (), deserialize_seq);
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(s) = seq.next_element_seed(ContainerStatusSeed {
            list: self.list,
            bad: &mut *self.bad,
        })? {
            self.out.push(s);
        }
        Ok(())
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
                    let r = map.next_value_seed(ResourcesSeed {
                        path: "resources",
                        bad: &mut *self.bad,
                    })?;
                    s.resources_present = r.is_some();
                    let r = r.unwrap_or_default();
                    s.requests = r.requests;
                    s.limits = r.limits;
                }
                ContainerStatusKey::AllocatedResources => {
                    first_time(&mut seen[2], "allocatedResources")?;
                    s.allocated = map.next_value_seed(ListSeed {
                        path: "allocatedResources",
                        bad: &mut *self.bad,
                    })?;
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
#[path = "decode_tests.rs"]
mod tests;

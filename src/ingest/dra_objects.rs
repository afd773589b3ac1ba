//! Slim `resource.k8s.io/v1` objects (ResourceSlice, ResourceClaim, DeviceClass) decoded from the
//! API server's JSON with only the fields the device ledger reads (no attributes, capacities,
//! configs or managedFields survive decoding), and their conversion into the model's inputs at
//! the edge. They implement `kube::Resource` so kube-runtime's watcher lists and watches them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::core::{ClusterResourceScope, NamespaceResourceScope};
use kube::Resource;
use serde::{Deserialize, Deserializer};

use crate::ingest::objects::slim_resource;
use crate::model::devices::{
    attribute_key, AttributeValue, ClaimInput, ClassInput, DeviceInput, ResultInput, SliceInput,
    SliceScope,
};

/// The API group and version watched.
pub const GROUP: &str = "resource.k8s.io";
/// The version of [`GROUP`] watched (GA since Kubernetes 1.34).
pub const VERSION: &str = "v1";

/// Name, namespace, resourceVersion and creationTimestamp only.
fn light_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct Light {
        name: Option<String>,
        namespace: Option<String>,
        resource_version: Option<String>,
        creation_timestamp: Option<Time>,
    }
    let light = Option::<Light>::deserialize(d)?.unwrap_or_default();
    Ok(ObjectMeta {
        name: light.name,
        namespace: light.namespace,
        resource_version: light.resource_version,
        creation_timestamp: light.creation_timestamp,
        ..ObjectMeta::default()
    })
}

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A ResourceSlice reduced to its driver, pool, node scope and device names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SlimResourceSlice {
    /// Name and resourceVersion.
    #[serde(deserialize_with = "light_meta")]
    pub metadata: ObjectMeta,
    /// The spec fields kept.
    #[serde(deserialize_with = "null_default")]
    pub spec: SliceSpec,
}

/// `spec` of a ResourceSlice.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SliceSpec {
    /// `driver`.
    #[serde(deserialize_with = "null_default")]
    pub driver: String,
    /// `pool`.
    #[serde(deserialize_with = "null_default")]
    pub pool: SlicePool,
    /// `nodeName`.
    pub node_name: Option<String>,
    /// `perDeviceNodeSelection`.
    pub per_device_node_selection: Option<bool>,
    /// `devices`.
    #[serde(deserialize_with = "null_default")]
    pub devices: Vec<SliceDevice>,
}

/// `spec.pool`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SlicePool {
    /// `name`.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// `generation`.
    #[serde(deserialize_with = "null_default")]
    pub generation: i64,
}

/// One device: its name, attributes and, with per-device node selection, its node.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SliceDevice {
    /// `name`.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// `nodeName`.
    pub node_name: Option<String>,
    /// `attributes` (kept only as keys in the record).
    #[serde(deserialize_with = "null_default")]
    pub attributes: BTreeMap<String, Attribute>,
}

/// One attribute's value: exactly one of its fields is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Attribute {
    /// `string`.
    pub string: Option<String>,
    /// `bool`.
    pub bool: Option<bool>,
    /// `int`.
    pub int: Option<i64>,
    /// `version`.
    pub version: Option<String>,
}

impl Attribute {
    fn value(self) -> Option<AttributeValue> {
        if let Some(v) = self.string {
            Some(AttributeValue::String(v))
        } else if let Some(v) = self.bool {
            Some(AttributeValue::Bool(v))
        } else if let Some(v) = self.int {
            Some(AttributeValue::Int(v))
        } else {
            self.version.map(AttributeValue::Version)
        }
    }
}

/// A ResourceClaim reduced to its requests' classes and its allocation results.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SlimResourceClaim {
    /// Name, namespace and resourceVersion.
    #[serde(deserialize_with = "light_meta")]
    pub metadata: ObjectMeta,
    /// The spec fields kept.
    #[serde(deserialize_with = "null_default")]
    pub spec: ClaimSpec,
    /// The status fields kept.
    #[serde(deserialize_with = "null_default")]
    pub status: ClaimStatus,
}

/// `spec` of a claim.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ClaimSpec {
    /// `devices`.
    #[serde(deserialize_with = "null_default")]
    pub devices: ClaimDevices,
}

/// `spec.devices`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ClaimDevices {
    /// `requests`.
    #[serde(deserialize_with = "null_default")]
    pub requests: Vec<DeviceRequest>,
}

/// One request: its name and class (`exactly`), or its subrequests (`firstAvailable`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DeviceRequest {
    /// `name`.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// `exactly`.
    pub exactly: Option<ClassRef>,
    /// `firstAvailable`.
    #[serde(deserialize_with = "null_default")]
    pub first_available: Vec<ClassRef>,
}

/// The class of a request or subrequest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClassRef {
    /// A subrequest's `name` (empty for `exactly`).
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// `deviceClassName`.
    #[serde(deserialize_with = "null_default")]
    pub device_class_name: String,
}

/// `status` of a claim.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ClaimStatus {
    /// `allocation`.
    pub allocation: Option<Allocation>,
}

/// `status.allocation`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Allocation {
    /// `devices`.
    #[serde(deserialize_with = "null_default")]
    pub devices: AllocatedDevices,
}

/// `status.allocation.devices`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AllocatedDevices {
    /// `results`.
    #[serde(deserialize_with = "null_default")]
    pub results: Vec<AllocationResult>,
}

/// One allocated device.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AllocationResult {
    /// `request` (`name` or `name/subrequest`).
    #[serde(deserialize_with = "null_default")]
    pub request: String,
    /// `driver`.
    #[serde(deserialize_with = "null_default")]
    pub driver: String,
    /// `pool`.
    #[serde(deserialize_with = "null_default")]
    pub pool: String,
    /// `device`.
    #[serde(deserialize_with = "null_default")]
    pub device: String,
    /// `adminAccess`.
    pub admin_access: Option<bool>,
}

/// A DeviceClass reduced to its CEL selectors and extended resource name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SlimDeviceClass {
    /// Name and resourceVersion.
    #[serde(deserialize_with = "light_meta")]
    pub metadata: ObjectMeta,
    /// The spec fields kept.
    #[serde(deserialize_with = "null_default")]
    pub spec: ClassSpec,
}

/// `spec` of a DeviceClass.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClassSpec {
    /// `selectors`.
    #[serde(deserialize_with = "null_default")]
    pub selectors: Vec<Selector>,
    /// `extendedResourceName`.
    pub extended_resource_name: Option<String>,
}

/// One selector (only CEL exists in v1).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Selector {
    /// `cel`.
    pub cel: Option<CelSelector>,
}

/// `cel`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CelSelector {
    /// `expression`.
    #[serde(deserialize_with = "null_default")]
    pub expression: String,
}

impl SlimResourceSlice {
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// The name and the model's input: devices with their node scope.
    pub fn into_parts(self) -> (String, SliceInput) {
        let name = self.metadata.name.unwrap_or_default();
        let spec = self.spec;
        let per_device = spec.per_device_node_selection == Some(true);
        let scope = match spec.node_name {
            Some(node) if !node.is_empty() => SliceScope::Node(node),
            _ if per_device => SliceScope::PerDevice,
            _ => SliceScope::Shared,
        };
        let driver = spec.driver;
        let devices = spec
            .devices
            .into_iter()
            .map(|d| DeviceInput {
                attributes: d
                    .attributes
                    .into_iter()
                    .filter_map(|(name, a)| Some(attribute_key(&driver, &name, &a.value()?)))
                    .collect(),
                name: d.name,
                node: if per_device {
                    d.node_name.filter(|n| !n.is_empty())
                } else {
                    None
                },
            })
            .collect();
        let input = SliceInput {
            driver,
            pool: spec.pool.name,
            generation: spec.pool.generation,
            devices,
            scope,
        };
        (name, input)
    }
}

impl SlimResourceClaim {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!(
            "{}/{}",
            self.metadata.namespace.as_deref().unwrap_or_default(),
            self.metadata.name.as_deref().unwrap_or_default()
        )
    }

    /// The model's input: the results that hold a device, each with the class its request (or
    /// chosen subrequest) asked for.
    pub fn input(self) -> ClaimInput {
        let requests = self.spec.devices.requests;
        let class_of = |request: &str| -> Option<String> {
            let (name, sub) = match request.split_once('/') {
                Some((name, sub)) => (name, Some(sub)),
                None => (request, None),
            };
            let r = requests.iter().find(|r| r.name == name)?;
            let class = match sub {
                None => &r.exactly.as_ref()?.device_class_name,
                Some(sub) => {
                    &r.first_available
                        .iter()
                        .find(|s| s.name == sub)?
                        .device_class_name
                }
            };
            (!class.is_empty()).then(|| class.clone())
        };
        let Some(allocation) = self.status.allocation else {
            return ClaimInput::default();
        };
        ClaimInput {
            allocated: true,
            results: allocation
                .devices
                .results
                .into_iter()
                .filter(|r| r.admin_access != Some(true))
                .map(|r| ResultInput {
                    class: class_of(&r.request),
                    driver: r.driver,
                    pool: r.pool,
                    device: r.device,
                })
                .collect(),
        }
    }
}

impl SlimDeviceClass {
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// The model's input (a selector that is not CEL becomes an unresolvable empty one).
    pub fn input(&self) -> ClassInput {
        ClassInput {
            selectors: self
                .spec
                .selectors
                .iter()
                .map(|s| {
                    s.cel
                        .as_ref()
                        .map(|c| c.expression.clone())
                        .unwrap_or_default()
                })
                .collect(),
            extended_resource: self
                .spec
                .extended_resource_name
                .clone()
                .filter(|n| !n.is_empty()),
            created: self
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.as_second()),
        }
    }
}

slim_resource!(
    SlimResourceSlice,
    "ResourceSlice",
    "resourceslices",
    ClusterResourceScope,
    GROUP,
    VERSION,
    metadata
);
slim_resource!(
    SlimResourceClaim,
    "ResourceClaim",
    "resourceclaims",
    NamespaceResourceScope,
    GROUP,
    VERSION,
    metadata
);
slim_resource!(
    SlimDeviceClass,
    "DeviceClass",
    "deviceclasses",
    ClusterResourceScope,
    GROUP,
    VERSION,
    metadata
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_slice_keeps_driver_pool_node_and_device_names_only() {
        let slice: SlimResourceSlice = serde_json::from_value(json!({
            "apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
            "metadata": {"name": "node-a-gpu", "resourceVersion": "7",
                         "managedFields": [{"manager": "x"}]},
            "spec": {"driver": "gpu.example.com", "nodeName": "node-a",
                     "pool": {"name": "node-a", "generation": 3, "resourceSliceCount": 1},
                     "devices": [{"name": "gpu-0", "attributes": {"model": {"string": "A"}},
                                  "capacity": {"memory": {"value": "80Gi"}}},
                                 {"name": "gpu-1"}]}
        }))
        .unwrap();
        assert_eq!(slice.name(), "node-a-gpu");
        assert_eq!(slice.metadata.resource_version.as_deref(), Some("7"));
        let (name, input) = slice.into_parts();
        assert_eq!(name, "node-a-gpu");
        assert_eq!(input.scope, SliceScope::Node("node-a".into()));
        assert_eq!(
            (input.driver.as_str(), input.pool.as_str(), input.generation),
            ("gpu.example.com", "node-a", 3)
        );
        assert_eq!(
            input
                .devices
                .iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>(),
            ["gpu-0", "gpu-1"]
        );

        let shared: SlimResourceSlice = serde_json::from_value(json!({
            "metadata": {"name": "s"},
            "spec": {"driver": "d", "pool": {"name": "p", "generation": 1},
                     "perDeviceNodeSelection": true,
                     "devices": [{"name": "x", "nodeName": "n1"}, {"name": "y", "allNodes": true}]}
        }))
        .unwrap();
        let (_, input) = shared.into_parts();
        assert_eq!(input.scope, SliceScope::PerDevice);
        assert_eq!(input.devices[0].node.as_deref(), Some("n1"));
        assert_eq!(input.devices[1].node, None);
    }

    #[test]
    fn a_claims_results_carry_the_class_of_their_request_or_subrequest() {
        let claim: SlimResourceClaim = serde_json::from_value(json!({
            "metadata": {"name": "c", "namespace": "ns"},
            "spec": {"devices": {"requests": [
                {"name": "gpu", "exactly": {"deviceClassName": "gpu-class", "count": 2}},
                {"name": "nic", "firstAvailable": [
                    {"name": "fast", "deviceClassName": "fast-nic"},
                    {"name": "slow", "deviceClassName": "slow-nic"}]}
            ]}},
            "status": {"allocation": {"devices": {"results": [
                {"request": "gpu", "driver": "g", "pool": "p", "device": "d0"},
                {"request": "nic/slow", "driver": "n", "pool": "q", "device": "d1"},
                {"request": "gpu", "driver": "g", "pool": "p", "device": "d2", "adminAccess": true},
                {"request": "unknown", "driver": "g", "pool": "p", "device": "d3"}
            ]}}, "reservedFor": [{"resource": "pods", "name": "p", "uid": "u"}]}
        }))
        .unwrap();
        assert_eq!(claim.key(), "ns/c");
        let input = claim.input();
        assert!(input.allocated);
        let got: Vec<(&str, Option<&str>)> = input
            .results
            .iter()
            .map(|r| (r.device.as_str(), r.class.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("d0", Some("gpu-class")),
                ("d1", Some("slow-nic")),
                ("d3", None)
            ]
        );

        let pending: SlimResourceClaim =
            serde_json::from_value(json!({"metadata": {"name": "c"}, "status": null})).unwrap();
        assert_eq!(pending.input(), ClaimInput::default());
    }

    #[test]
    fn a_class_keeps_its_cel_expressions_and_extended_resource() {
        let class: SlimDeviceClass = serde_json::from_value(json!({
            "metadata": {"name": "gpu"},
            "spec": {"selectors": [{"cel": {"expression": "device.driver == \"g\""}}],
                     "extendedResourceName": "nvidia.com/gpu",
                     "config": [{"opaque": {"driver": "g", "parameters": {}}}]}
        }))
        .unwrap();
        assert_eq!(class.name(), "gpu");
        let input = class.input();
        assert_eq!(input.selectors, ["device.driver == \"g\""]);
        assert_eq!(input.extended_resource.as_deref(), Some("nvidia.com/gpu"));
    }
}

//! Stored API objects: a Node, Pod or DRA object serialized once into JSON bytes, plus the few fields the
//! server filters on (name, namespace, nodeName, phase, labels, resourceVersion).
//!
//! Why bytes: a list page or a watch event is then a concatenation of shared slices, which is what
//! lets 150,000 full-size pods list at well over 50,000 pods/s. This module never does I/O.

use serde_json::{Map, Value};

/// The resources the simulator serves: the core group's Nodes and Pods and, in
/// `resource.k8s.io/v1`, Dynamic Resource Allocation's ResourceSlices, ResourceClaims and
/// DeviceClasses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `v1/Node`, cluster scoped.
    Node,
    /// `v1/Pod`, namespaced.
    Pod,
    /// `resource.k8s.io/v1/ResourceSlice`, cluster scoped.
    ResourceSlice,
    /// `resource.k8s.io/v1/ResourceClaim`, namespaced.
    ResourceClaim,
    /// `resource.k8s.io/v1/DeviceClass`, cluster scoped.
    DeviceClass,
}

/// The API group of Dynamic Resource Allocation.
pub const DRA_GROUP: &str = "resource.k8s.io";

impl Kind {
    /// Every kind, in the store's order (and the order `GET /objects` lists them).
    pub const ALL: [Kind; 5] = [
        Kind::Node,
        Kind::Pod,
        Kind::DeviceClass,
        Kind::ResourceSlice,
        Kind::ResourceClaim,
    ];

    /// Position in [`Kind::ALL`] (the store keeps one map per kind).
    pub fn index(self) -> usize {
        match self {
            Kind::Node => 0,
            Kind::Pod => 1,
            Kind::DeviceClass => 2,
            Kind::ResourceSlice => 3,
            Kind::ResourceClaim => 4,
        }
    }

    /// The `kind` field value.
    pub fn kind_name(self) -> &'static str {
        match self {
            Kind::Node => "Node",
            Kind::Pod => "Pod",
            Kind::ResourceSlice => "ResourceSlice",
            Kind::ResourceClaim => "ResourceClaim",
            Kind::DeviceClass => "DeviceClass",
        }
    }

    /// The plural resource name used in URLs and RBAC messages.
    pub fn resource(self) -> &'static str {
        match self {
            Kind::Node => "nodes",
            Kind::Pod => "pods",
            Kind::ResourceSlice => "resourceslices",
            Kind::ResourceClaim => "resourceclaims",
            Kind::DeviceClass => "deviceclasses",
        }
    }

    /// The API group (empty for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Kind::Node | Kind::Pod => "",
            Kind::ResourceSlice | Kind::ResourceClaim | Kind::DeviceClass => DRA_GROUP,
        }
    }

    /// The `apiVersion` field value.
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::Node | Kind::Pod => "v1",
            Kind::ResourceSlice | Kind::ResourceClaim | Kind::DeviceClass => "resource.k8s.io/v1",
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(self) -> bool {
        matches!(self, Kind::Pod | Kind::ResourceClaim)
    }

    /// Parses a `kind` field value.
    pub fn from_kind_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.kind_name() == name)
    }

    /// Parses a plural resource name.
    pub fn from_resource(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.resource() == name)
    }
}

/// One immutable object version: serialized JSON plus its index fields.
#[derive(Debug)]
pub struct Object {
    /// Node or Pod.
    pub kind: Kind,
    /// Store key: `name` when cluster scoped, `namespace/name` when namespaced (etcd's key order).
    pub key: Box<str>,
    /// `metadata.name`.
    pub name: Box<str>,
    /// `metadata.namespace` (empty for nodes).
    pub namespace: Box<str>,
    /// `spec.nodeName` (pods: empty when unscheduled; ResourceSlices: empty unless node-local).
    pub node_name: Box<str>,
    /// `status.phase` (pods only).
    pub phase: Box<str>,
    /// `metadata.labels`, sorted by key.
    pub labels: Vec<(Box<str>, Box<str>)>,
    /// `metadata.resourceVersion`.
    pub resource_version: u64,
    /// The whole object as compact JSON.
    pub json: Box<[u8]>,
    /// Byte range of the resourceVersion digits inside `json`, so a copy with another
    /// resourceVersion (a DELETED event) is a splice rather than a re-serialization.
    rv_span: (usize, usize),
}

/// Builds the store key of an object.
pub fn object_key(kind: Kind, namespace: &str, name: &str) -> String {
    if kind.namespaced() {
        format!("{namespace}/{name}")
    } else {
        name.to_string()
    }
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = value;
    for p in path {
        match cur.get(p) {
            Some(v) => cur = v,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

impl Object {
    /// Turns a JSON value of a served kind into a stored object with the given resourceVersion.
    ///
    /// Sets `kind`, `apiVersion` and `metadata.resourceVersion`; pods without a namespace go to
    /// `default` (claims too). Fails on a missing name or an unsupported kind.
    pub fn from_value(mut value: Value, resource_version: u64) -> Result<Object, String> {
        let kind_name = str_at(&value, &["kind"]).to_string();
        let kind = Kind::from_kind_name(&kind_name)
            .ok_or_else(|| {
                format!("unsupported kind {kind_name:?} (Node, Pod, ResourceSlice, ResourceClaim or DeviceClass)")
            })?;
        let Some(root) = value.as_object_mut() else {
            return Err("object is not a JSON object".to_string());
        };
        root.insert("apiVersion".into(), Value::from(kind.api_version()));
        let metadata = root
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(metadata) = metadata.as_object_mut() else {
            return Err("metadata is not an object".to_string());
        };
        if kind.namespaced()
            && metadata
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
        {
            metadata.insert("namespace".into(), Value::from("default"));
        }
        if !kind.namespaced() {
            metadata.remove("namespace");
        }
        metadata.insert(
            "resourceVersion".into(),
            Value::from(resource_version.to_string()),
        );
        let name = str_at(&value, &["metadata", "name"]);
        if name.is_empty() {
            return Err(format!("{kind_name} without metadata.name"));
        }
        let namespace = str_at(&value, &["metadata", "namespace"]);
        let mut labels: Vec<(Box<str>, Box<str>)> = value
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.as_str().into(), v.as_str().unwrap_or("").into()))
                    .collect()
            })
            .unwrap_or_default();
        labels.sort();
        let json = serde_json::to_vec(&value).map_err(|e| format!("serialize: {e}"))?;
        let rv_span = find_rv_span(&json, resource_version);
        Ok(Object {
            kind,
            key: object_key(kind, namespace, name).into(),
            name: name.into(),
            namespace: namespace.into(),
            node_name: str_at(&value, &["spec", "nodeName"]).into(),
            phase: str_at(&value, &["status", "phase"]).into(),
            labels,
            resource_version,
            json: json.into_boxed_slice(),
            rv_span,
        })
    }

    /// Assembles an object from bytes that are already serialized (the generator's fast path);
    /// the caller guarantees the index fields match the bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        kind: Kind,
        namespace: &str,
        name: &str,
        node_name: &str,
        phase: &str,
        labels: Vec<(Box<str>, Box<str>)>,
        resource_version: u64,
        json: Vec<u8>,
        rv_span: (usize, usize),
    ) -> Object {
        Object {
            kind,
            key: object_key(kind, namespace, name).into(),
            name: name.into(),
            namespace: namespace.into(),
            node_name: node_name.into(),
            phase: phase.into(),
            labels,
            resource_version,
            json: json.into_boxed_slice(),
            rv_span,
        }
    }

    /// Parses the stored bytes back into a JSON value (for mutations and tables).
    pub fn to_value(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.json).map_err(|e| format!("stored object does not parse: {e}"))
    }

    /// The same content with another resourceVersion (DELETED events carry the deletion RV).
    pub fn with_resource_version(&self, resource_version: u64) -> Object {
        let (start, end) = self.rv_span;
        let digits = resource_version.to_string();
        let mut json = Vec::with_capacity(self.json.len() + digits.len());
        json.extend_from_slice(&self.json[..start]);
        json.extend_from_slice(digits.as_bytes());
        json.extend_from_slice(&self.json[end..]);
        Object {
            kind: self.kind,
            key: self.key.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            node_name: self.node_name.clone(),
            phase: self.phase.clone(),
            labels: self.labels.clone(),
            resource_version,
            json: json.into_boxed_slice(),
            rv_span: (start, start + digits.len()),
        }
    }

    /// The value of a label, if set.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|i| self.labels[i].1.as_ref())
    }
}

/// Fills `metadata.uid` and `metadata.creationTimestamp` when absent, as the API server does on
/// create.
pub fn fill_identity(value: &mut Value, uid: impl FnOnce() -> String, now: &str) {
    if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        if metadata
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            metadata.insert("uid".into(), Value::from(uid()));
        }
        if metadata
            .get("creationTimestamp")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            metadata.insert("creationTimestamp".into(), Value::from(now));
        }
    }
}

impl AsRef<[u8]> for Object {
    fn as_ref(&self) -> &[u8] {
        &self.json
    }
}

/// serde_json's map is sorted (no `preserve_order`), so `metadata` precedes `spec`/`status` and the
/// first unescaped `"resourceVersion":"N"` is the object's own; nested JSON strings such as
/// last-applied-configuration are escaped and cannot match.
fn find_rv_span(json: &[u8], resource_version: u64) -> (usize, usize) {
    let needle = format!("\"resourceVersion\":\"{resource_version}\"");
    let needle = needle.as_bytes();
    json.windows(needle.len())
        .position(|w| w == needle)
        .map_or((0, 0), |pos| {
            let start = pos + "\"resourceVersion\":\"".len();
            (
                start,
                start + needle.len() - "\"resourceVersion\":\"".len() - 1,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resource_version_splice_rewrites_only_the_metadata_field() {
        let pod = json!({"kind":"Pod","metadata":{"name":"p","annotations":{"a":"{\"resourceVersion\":\"7\"}"}},"spec":{"nodeName":"n1"},"status":{"phase":"Running"}});
        let obj = Object::from_value(pod, 7).unwrap();
        assert_eq!(&*obj.key, "default/p");
        let moved = obj.with_resource_version(1234);
        let v: Value = serde_json::from_slice(&moved.json).unwrap();
        assert_eq!(v["metadata"]["resourceVersion"], "1234");
        assert_eq!(
            v["metadata"]["annotations"]["a"],
            "{\"resourceVersion\":\"7\"}"
        );
        assert_eq!(&*moved.node_name, "n1");
    }

    #[test]
    fn objects_without_name_or_with_other_kinds_are_rejected() {
        assert!(Object::from_value(json!({"kind":"Pod","metadata":{}}), 1).is_err());
        assert!(Object::from_value(json!({"kind":"Service","metadata":{"name":"x"}}), 1).is_err());
    }
}

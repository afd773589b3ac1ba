//! `meta.k8s.io` Tables for kubectl: the columns kube-apiserver's printers produce for nodes
//! (NAME STATUS ROLES AGE VERSION ...), pods (NAME READY STATUS RESTARTS AGE ...) and the DRA
//! kinds (resourceslices NAME NODE DRIVER POOL AGE, resourceclaims NAME STATE AGE), with
//! `rows[].object` as PartialObjectMetadata, the whole object or nothing (`includeObject`). Pure.

use serde_json::{json, Value};

use crate::clock::{human_duration, parse_rfc3339};
use crate::object::{Kind, Object};

/// What `rows[].object` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// `PartialObjectMetadata` (the server default).
    Metadata,
    /// The full object.
    Object,
}

/// How a Table response is rendered.
#[derive(Debug, Clone, Copy)]
pub struct TableOptions {
    /// `meta.k8s.io/v1` or `meta.k8s.io/v1beta1`.
    pub api_version: &'static str,
    /// The `includeObject` choice.
    pub include: IncludeObject,
}

fn column(name: &str, format: &str, priority: u8, description: &str) -> Value {
    json!({"name": name, "type": "string", "format": format, "description": description, "priority": priority})
}

fn columns(kind: Kind) -> Value {
    let name = column("Name", "name", 0, "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names");
    let age = column("Age", "", 0, "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata");
    match kind {
        Kind::Node => json!([
            name,
            column("Status", "", 0, "The status of the node"),
            column("Roles", "", 0, "The roles of the node"),
            age,
            column("Version", "", 0, "Kubelet Version reported by the node."),
            column("Internal-IP", "", 1, "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses"),
            column("External-IP", "", 1, "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses"),
            column("OS-Image", "", 1, "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
            column("Kernel-Version", "", 1, "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
            column("Container-Runtime", "", 1, "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
        ]),
        Kind::Pod => json!([
            name,
            column("Ready", "", 0, "The aggregate readiness state of this pod for accepting traffic."),
            column("Status", "", 0, "The aggregate status of the containers in this pod."),
            column("Restarts", "", 0, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
            age,
            column("IP", "", 1, "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."),
            column("Node", "", 1, "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename"),
            column("Nominated Node", "", 1, "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled."),
            column("Readiness Gates", "", 1, "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates"),
        ]),
        Kind::ResourceSlice => json!([
            name,
            column("Node", "", 0, "NodeName identifies the node which provides the resources in this pool."),
            column("Driver", "", 0, "Driver identifies the DRA driver providing the capacity information."),
            column("Pool", "", 0, "Pool describes the pool that this ResourceSlice belongs to."),
            age,
        ]),
        Kind::ResourceClaim => json!([
            name,
            column("State", "", 0, "A summary of the claim's state: pending, allocated, reserved, deleted."),
            age,
        ]),
        Kind::DeviceClass => json!([name, age]),
    }
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(x) => cur = x,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

fn or_none(text: &str) -> String {
    if text.is_empty() {
        "<none>".into()
    } else {
        text.to_string()
    }
}

fn age(v: &Value, now: i64) -> String {
    parse_rfc3339(s(v, &["metadata", "creationTimestamp"]))
        .map_or_else(|| "<unknown>".into(), |t| human_duration(now - t))
}

fn arr<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(x) => cur = x,
            None => return &[],
        }
    }
    cur.as_array().map_or(&[], Vec::as_slice)
}

fn node_cells(v: &Value, now: i64) -> Value {
    let ready = arr(v, &["status", "conditions"])
        .iter()
        .find(|c| s(c, &["type"]) == "Ready");
    let mut status = match ready.map(|c| s(c, &["status"])) {
        Some("True") => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if v.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<String> = Vec::new();
    if let Some(labels) = v.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, val) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.push(role.to_string());
                }
            } else if k == "kubernetes.io/role" {
                if let Some(r) = val.as_str().filter(|r| !r.is_empty()) {
                    roles.push(r.to_string());
                }
            }
        }
    }
    roles.sort();
    roles.dedup();
    let address = |t: &str| {
        arr(v, &["status", "addresses"])
            .iter()
            .find(|a| s(a, &["type"]) == t)
            .map_or_else(|| "<none>".to_string(), |a| s(a, &["address"]).to_string())
    };
    json!([
        s(v, &["metadata", "name"]),
        status,
        if roles.is_empty() {
            "<none>".to_string()
        } else {
            roles.join(",")
        },
        age(v, now),
        s(v, &["status", "nodeInfo", "kubeletVersion"]),
        address("InternalIP"),
        address("ExternalIP"),
        or_none(s(v, &["status", "nodeInfo", "osImage"])),
        or_none(s(v, &["status", "nodeInfo", "kernelVersion"])),
        or_none(s(v, &["status", "nodeInfo", "containerRuntimeVersion"])),
    ])
}

fn count(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

/// The READY / STATUS / RESTARTS logic of kubectl's pod printer, trimmed to what the simulator
/// generates (no readiness-gate or last-restart suffixes).
fn pod_cells(v: &Value, now: i64) -> Value {
    let phase = s(v, &["status", "phase"]);
    let mut reason = if s(v, &["status", "reason"]).is_empty() {
        phase.to_string()
    } else {
        s(v, &["status", "reason"]).to_string()
    };
    let init_specs = arr(v, &["spec", "initContainers"]);
    let sidecar = |name: &str| {
        init_specs
            .iter()
            .any(|c| s(c, &["name"]) == name && s(c, &["restartPolicy"]) == "Always")
    };
    let mut total = arr(v, &["spec", "containers"]).len()
        + init_specs
            .iter()
            .filter(|c| s(c, &["restartPolicy"]) == "Always")
            .count();
    if total == 0 {
        total = 1;
    }
    let mut ready = 0;
    let mut restarts = 0;
    let mut initializing = false;
    for (i, st) in arr(v, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        restarts += count(st, "restartCount");
        let name = s(st, &["name"]);
        if sidecar(name) {
            if st.get("ready").and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = st.pointer("/state/terminated") {
            if count(t, "exitCode") == 0 {
                continue;
            }
            reason = format!(
                "Init:{}",
                if s(t, &["reason"]).is_empty() {
                    format!("ExitCode:{}", count(t, "exitCode"))
                } else {
                    s(t, &["reason"]).to_string()
                }
            );
        } else if let Some(w) = st
            .pointer("/state/waiting")
            .filter(|w| !s(w, &["reason"]).is_empty() && s(w, &["reason"]) != "PodInitializing")
        {
            reason = format!("Init:{}", s(w, &["reason"]));
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }
    if !initializing {
        let mut has_running = false;
        for st in arr(v, &["status", "containerStatuses"]).iter().rev() {
            restarts += count(st, "restartCount");
            if let Some(w) = st
                .pointer("/state/waiting")
                .filter(|w| !s(w, &["reason"]).is_empty())
            {
                reason = s(w, &["reason"]).to_string();
            } else if let Some(t) = st.pointer("/state/terminated") {
                reason = if s(t, &["reason"]).is_empty() {
                    format!("ExitCode:{}", count(t, "exitCode"))
                } else {
                    s(t, &["reason"]).to_string()
                };
            } else if st.pointer("/state/running").is_some()
                && st.get("ready").and_then(Value::as_bool) == Some(true)
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = "Running".into();
        }
    }
    if v.pointer("/metadata/deletionTimestamp").is_some() {
        reason = if s(v, &["status", "reason"]) == "NodeLost" {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    json!([
        s(v, &["metadata", "name"]),
        format!("{ready}/{total}"),
        reason,
        restarts.to_string(),
        age(v, now),
        or_none(s(v, &["status", "podIP"])),
        or_none(s(v, &["spec", "nodeName"])),
        or_none(s(v, &["status", "nominatedNodeName"])),
        "<none>",
    ])
}

/// One table row for an object.
fn row(obj: &Object, options: TableOptions, now: i64) -> Value {
    let Ok(v) = obj.to_value() else {
        return json!({"cells": [obj.name.as_ref()]});
    };
    let cells = match obj.kind {
        Kind::Node => node_cells(&v, now),
        Kind::Pod => pod_cells(&v, now),
        Kind::ResourceSlice => json!([
            s(&v, &["metadata", "name"]),
            or_none(s(&v, &["spec", "nodeName"])),
            s(&v, &["spec", "driver"]),
            s(&v, &["spec", "pool", "name"]),
            age(&v, now),
        ]),
        Kind::ResourceClaim => {
            let mut state = Vec::new();
            if v.pointer("/status/allocation").is_some() {
                state.push("allocated");
            }
            if !arr(&v, &["status", "reservedFor"]).is_empty() {
                state.push("reserved");
            }
            let state = if state.is_empty() {
                "pending".to_string()
            } else {
                state.join(",")
            };
            json!([s(&v, &["metadata", "name"]), state, age(&v, now)])
        }
        Kind::DeviceClass => json!([s(&v, &["metadata", "name"]), age(&v, now)]),
    };
    match options.include {
        IncludeObject::None => json!({"cells": cells}),
        IncludeObject::Metadata => json!({"cells": cells, "object": {
            "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v.get("metadata").cloned().unwrap_or(Value::Null)}}),
        IncludeObject::Object => json!({"cells": cells, "object": v}),
    }
}

/// A Table of `objects`; `with_columns` is false for watch events after the first, as the real
/// server leaves them out to save bandwidth and kubectl reuses the last ones.
pub fn render(
    kind: Kind,
    objects: &[&Object],
    rv: Option<u64>,
    next: Option<&str>,
    options: TableOptions,
    with_columns: bool,
    now: i64,
) -> Vec<u8> {
    let mut metadata = serde_json::Map::new();
    if let Some(rv) = rv {
        metadata.insert("resourceVersion".into(), Value::from(rv.to_string()));
    }
    if let Some(next) = next {
        metadata.insert("continue".into(), Value::from(next));
    }
    let table = json!({
        "kind": "Table",
        "apiVersion": options.api_version,
        "metadata": metadata,
        "columnDefinitions": if with_columns { columns(kind) } else { Value::Null },
        "rows": objects.iter().map(|o| row(o, options, now)).collect::<Vec<_>>(),
    });
    serde_json::to_vec(&table).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_rows_show_readiness_status_and_restarts_like_kubectl() {
        let pod = Object::from_value(json!({"kind":"Pod","metadata":{"name":"web","namespace":"a","creationTimestamp":"2025-01-01T00:00:00Z"},
            "spec":{"nodeName":"n1","containers":[{"name":"a"},{"name":"b"}],"initContainers":[{"name":"sc","restartPolicy":"Always"},{"name":"init"}]},
            "status":{"phase":"Running","podIP":"10.0.0.5",
              "initContainerStatuses":[{"name":"sc","ready":true,"restartCount":1,"state":{"running":{}}},{"name":"init","ready":false,"restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}],
              "containerStatuses":[{"name":"a","ready":true,"restartCount":2,"state":{"running":{}}},{"name":"b","ready":false,"restartCount":0,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}}), 5).unwrap();
        let opts = TableOptions {
            api_version: "meta.k8s.io/v1",
            include: IncludeObject::Metadata,
        };
        let t: Value = serde_json::from_slice(&render(
            Kind::Pod,
            &[&pod],
            Some(5),
            None,
            opts,
            true,
            1_735_689_600 + 3 * 86400,
        ))
        .unwrap();
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "web",
                "2/3",
                "CrashLoopBackOff",
                "3",
                "3d",
                "10.0.0.5",
                "n1",
                "<none>",
                "<none>"
            ])
        );
        assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "a");
        assert_eq!(t["columnDefinitions"][0]["name"], "Name");
    }

    #[test]
    fn node_rows_show_cordon_and_roles() {
        let node = Object::from_value(json!({"kind":"Node","metadata":{"name":"cp-1","labels":{"node-role.kubernetes.io/control-plane":""}},
            "spec":{"unschedulable":true},"status":{"conditions":[{"type":"Ready","status":"True"}],"nodeInfo":{"kubeletVersion":"v1.34.2"}}}), 3).unwrap();
        let opts = TableOptions {
            api_version: "meta.k8s.io/v1",
            include: IncludeObject::None,
        };
        let t: Value =
            serde_json::from_slice(&render(Kind::Node, &[&node], None, None, opts, false, 0))
                .unwrap();
        assert_eq!(t["rows"][0]["cells"][1], "Ready,SchedulingDisabled");
        assert_eq!(t["rows"][0]["cells"][2], "control-plane");
        assert!(t["columnDefinitions"].is_null());
    }
}

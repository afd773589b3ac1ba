//! A planned pod rendered as the full-size v1 Pod a real API server returns: containers and init
//! containers with env, probes and resources, tolerations, volumes, owner references, status for
//! its variant (conditions, container states, resize, eviction), last-applied-configuration and
//! managedFields. `PodVars` holds everything that differs between two pods of one template.
//!
//! Pure: it plans nothing and knows nothing of templates (`template.rs` builds on it).

use serde_json::{json, Map, Value};

use crate::clock::rfc3339;
use crate::rng::Rng;

use super::planned::{NodePlan, PodPlan, Variant};
use super::workloads::{Ctr, Owner, Placement, Quantities, Workload};

fn quantities(list: &[(&str, &str)]) -> Value {
    Value::Object(
        list.iter()
            .map(|(k, v)| ((*k).to_string(), Value::from(*v)))
            .collect(),
    )
}

/// The "f:" tree managedFields would show for a container list.
fn container_fields(cs: &[Ctr]) -> Value {
    let mut m = Map::new();
    m.insert(".".into(), json!({}));
    for c in cs {
        m.insert(format!("k:{{\"name\":\"{}\"}}", c.name), json!({
            ".": {}, "f:env": {".": {}, "k:{\"name\":\"POD_NAME\"}": {".": {}, "f:name": {}, "f:valueFrom": {".": {}, "f:fieldRef": {}}}, "k:{\"name\":\"LOG_LEVEL\"}": {".": {}, "f:name": {}, "f:value": {}}},
            "f:image": {}, "f:imagePullPolicy": {}, "f:livenessProbe": {".": {}, "f:failureThreshold": {}, "f:httpGet": {".": {}, "f:path": {}, "f:port": {}, "f:scheme": {}}, "f:periodSeconds": {}},
            "f:name": {}, "f:resources": {".": {}, "f:limits": {}, "f:requests": {}}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}, "f:volumeMounts": {}
        }));
    }
    Value::Object(m)
}

/// Everything that differs between two pods of the same workload and variant. Rendering a pod
/// with placeholder values gives a template; a real pod is the template with these values spliced
/// in, which is what makes 150,000 full-size pods cheap.
#[derive(Debug, Clone, Default)]
pub(super) struct PodVars {
    /// `metadata.name`.
    pub(super) name: String,
    uid: String,
    owner: String,
    owner_uid: String,
    job_uid: String,
    /// `spec.nodeName` (empty when unscheduled).
    pub(super) node: String,
    node_ip: String,
    pod_ip: String,
    rv: String,
    ordinal: String,
    created: String,
    started: String,
    running_since: String,
    finished: String,
    resized_at: String,
    deletion: String,
    container_ids: Vec<String>,
}

/// Number of scalar fields of `PodVars` before the container IDs.
const SCALAR_VARS: usize = 16;

impl PodVars {
    /// The placeholder `@@N@@` of every field, for building a template (`node` empty when
    /// the template is of unscheduled pods).
    pub(super) fn placeholders(containers: usize, node: bool) -> PodVars {
        let p = |i: usize| format!("@@{i}@@");
        PodVars {
            name: p(0),
            uid: p(1),
            owner: p(2),
            owner_uid: p(3),
            job_uid: p(4),
            node: if node { p(5) } else { String::new() },
            node_ip: p(6),
            pod_ip: p(7),
            rv: p(8),
            ordinal: p(9),
            created: p(10),
            started: p(11),
            running_since: p(12),
            finished: p(13),
            resized_at: p(14),
            deletion: p(15),
            container_ids: (0..containers).map(|i| p(SCALAR_VARS + i)).collect(),
        }
    }

    /// The values in placeholder order: the scalar fields, then the container IDs.
    pub(super) fn values(&self) -> Vec<&str> {
        let mut v = vec![
            self.name.as_str(),
            &self.uid,
            &self.owner,
            &self.owner_uid,
            &self.job_uid,
            &self.node,
            &self.node_ip,
            &self.pod_ip,
            &self.rv,
            &self.ordinal,
            &self.created,
            &self.started,
            &self.running_since,
            &self.finished,
            &self.resized_at,
            &self.deletion,
        ];
        v.extend(self.container_ids.iter().map(String::as_str));
        v
    }

    /// Real values for one pod; the random draws happen in a fixed order.
    pub(super) fn for_pod(plan: &PodPlan, nodes: &[NodePlan], rng: &mut Rng, rv: u64) -> PodVars {
        let node = plan.node.map(|n| &nodes[n]);
        let w = plan.workload;
        let containers = w.containers.len() + w.init.len();
        PodVars {
            name: plan.name.clone(),
            uid: rng.uuid(),
            owner: plan.owner_name.clone(),
            owner_uid: rng.uuid(),
            job_uid: rng.uuid(),
            node: node.map_or_else(String::new, |n| n.name.clone()),
            node_ip: node.map_or_else(String::new, |n| n.ip.clone()),
            pod_ip: if matches!(w.owner, Owner::DaemonSet | Owner::Mirror) {
                node.map_or_else(String::new, |n| n.ip.clone())
            } else {
                plan.ip.clone()
            },
            rv: rv.to_string(),
            ordinal: plan.ordinal.to_string(),
            created: rfc3339(plan.created),
            started: rfc3339(plan.created + 2),
            running_since: rfc3339(plan.created + 9),
            finished: rfc3339(plan.created + 300),
            resized_at: rfc3339(plan.created + 86_400),
            deletion: rfc3339(plan.created + 40 * 86_400),
            container_ids: (0..containers).map(|_| rng.hex(64)).collect(),
        }
    }
}

/// A stable digest per image, as a registry would report it.
fn image_digest(image: &str) -> String {
    let hash = image.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    Rng::new(hash).hex(64)
}

fn api_access_volume(hash: &str) -> String {
    format!("kube-api-access-{}", hash.get(..5).unwrap_or(hash))
}

fn render_container(
    c: &Ctr,
    w: &Workload,
    hash: &str,
    init: bool,
    requests_override: Option<&[(&str, &str)]>,
) -> Value {
    let requests = requests_override.unwrap_or(c.requests);
    let mut resources = Map::new();
    if !c.limits.is_empty() {
        resources.insert("limits".into(), quantities(c.limits));
    }
    if !requests.is_empty() {
        resources.insert("requests".into(), quantities(requests));
    }
    let mut v = json!({
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
            {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}},
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector.observability.svc.cluster.local:4317"},
            {"name": "OTEL_SERVICE_NAME", "value": w.name},
            {"name": "GOMAXPROCS", "valueFrom": {"resourceFieldRef": {"divisor": "0", "resource": "limits.cpu"}}},
            {"name": "TEAM", "value": w.team}
        ],
        "image": c.image,
        "imagePullPolicy": "IfNotPresent",
        "name": c.name,
        "resources": resources,
        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": true, "runAsNonRoot": w.owner != Owner::DaemonSet},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "volumeMounts": [
            {"mountPath": "/etc/config", "name": "config", "readOnly": true},
            {"mountPath": "/tmp", "name": "tmp"},
            {"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": api_access_volume(hash), "readOnly": true}
        ]
    });
    if c.port > 0 && !init {
        v["ports"] = json!([{"containerPort": c.port, "name": "http", "protocol": "TCP"}]);
        v["livenessProbe"] = json!({"failureThreshold": 3, "httpGet": {"path": "/healthz", "port": c.port, "scheme": "HTTP"}, "initialDelaySeconds": 10, "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1});
        v["readinessProbe"] = json!({"failureThreshold": 3, "httpGet": {"path": "/ready", "port": c.port, "scheme": "HTTP"}, "periodSeconds": 5, "successThreshold": 1, "timeoutSeconds": 1});
    }
    if c.sidecar {
        v["restartPolicy"] = json!("Always");
        v["startupProbe"] = json!({"failureThreshold": 600, "httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"}, "periodSeconds": 1, "successThreshold": 1, "timeoutSeconds": 3});
    }
    v
}

fn qos_class(w: &Workload) -> &'static str {
    let all: Vec<&Ctr> = w.containers.iter().chain(w.init.iter()).collect();
    if all
        .iter()
        .all(|c| c.requests.is_empty() && c.limits.is_empty())
        && w.pod_resources.is_none()
    {
        "BestEffort"
    } else if all
        .iter()
        .all(|c| !c.limits.is_empty() && c.limits == c.requests)
    {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn owner_reference(w: &Workload, vars: &PodVars) -> Option<Value> {
    let (api, kind) = match w.owner {
        Owner::ReplicaSet => ("apps/v1", "ReplicaSet"),
        Owner::StatefulSet => ("apps/v1", "StatefulSet"),
        Owner::DaemonSet => ("apps/v1", "DaemonSet"),
        Owner::Job | Owner::CronJob => ("batch/v1", "Job"),
        Owner::Mirror => ("v1", "Node"),
    };
    let mut r = json!({"apiVersion": api, "kind": kind, "name": vars.owner, "uid": vars.owner_uid});
    if w.owner != Owner::Mirror {
        r["blockOwnerDeletion"] = json!(true);
    }
    r["controller"] = json!(true);
    Some(r)
}

/// The resize scenario of a variant: (spec requests of the first container, condition type, reason).
fn resize_of(variant: Variant) -> Option<(Quantities, &'static str, &'static str)> {
    match variant {
        Variant::ResizeDeferred => Some((
            &[("cpu", "2"), ("memory", "1Gi")],
            "PodResizePending",
            "Deferred",
        )),
        Variant::ResizeInfeasible => Some((
            &[("cpu", "64"), ("memory", "1Gi")],
            "PodResizePending",
            "Infeasible",
        )),
        Variant::ResizeInProgress => Some((
            &[("cpu", "50m"), ("memory", "64Mi")],
            "PodResizeInProgress",
            "",
        )),
        _ => None,
    }
}

#[allow(clippy::too_many_lines)]
/// A pod of workload `w` in `variant` as JSON, with `vars` spliced in; `total_nodes` goes into
/// the Unschedulable message.
pub(super) fn render_pod(
    w: &Workload,
    variant: Variant,
    hash: &str,
    vars: &PodVars,
    total_nodes: usize,
) -> Value {
    let scheduled = !vars.node.is_empty();
    let mut labels = json!({"app.kubernetes.io/name": w.name, "app.kubernetes.io/instance": w.name, "app.kubernetes.io/part-of": w.team, "team": w.team});
    match w.owner {
        Owner::ReplicaSet => labels["pod-template-hash"] = json!(hash),
        Owner::DaemonSet => {
            labels["controller-revision-hash"] = json!(hash);
            labels["pod-template-generation"] = json!("3");
        }
        Owner::StatefulSet => {
            labels["controller-revision-hash"] = json!(format!("{}-{hash}", w.name));
            labels["statefulset.kubernetes.io/pod-name"] = json!(vars.name);
            labels["apps.kubernetes.io/pod-index"] = json!(vars.ordinal);
        }
        Owner::Job | Owner::CronJob => {
            labels["batch.kubernetes.io/controller-uid"] = json!(vars.job_uid);
            labels["batch.kubernetes.io/job-name"] = json!(vars.owner);
            labels["controller-uid"] = json!(vars.job_uid);
            labels["job-name"] = json!(vars.owner);
        }
        Owner::Mirror => labels = json!({"component": w.name, "tier": "control-plane"}),
    }
    let resized = resize_of(variant);
    let containers: Vec<Value> = w
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            render_container(
                c,
                w,
                hash,
                false,
                if i == 0 { resized.map(|r| r.0) } else { None },
            )
        })
        .collect();
    let init: Vec<Value> = w
        .init
        .iter()
        .map(|c| render_container(c, w, hash, true, None))
        .collect();
    let restart_policy = match w.owner {
        Owner::Job => "Never",
        Owner::CronJob => "OnFailure",
        _ => "Always",
    };
    let tolerations = match w.placement {
        Placement::Everywhere | Placement::ControlPlane => json!([{"operator": "Exists"}]),
        placement => {
            let mut t = vec![
                json!({"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300}),
                json!({"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}),
            ];
            if placement == Placement::Gpu {
                t.push(
                    json!({"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}),
                );
            }
            Value::Array(t)
        }
    };
    let sa = if w.owner == Owner::Mirror {
        "default"
    } else {
        w.name
    };
    let mut spec = json!({
        "containers": containers,
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": true,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": match w.priority_class { "system-node-critical" => 2_000_001_000, "system-cluster-critical" => 2_000_000_000, _ => 0 },
        "restartPolicy": restart_policy,
        "schedulerName": "default-scheduler",
        "securityContext": {"fsGroup": 65534, "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
        "serviceAccount": sa,
        "serviceAccountName": sa,
        "terminationGracePeriodSeconds": 30,
        "tolerations": tolerations,
        "volumes": [
            {"configMap": {"defaultMode": 420, "name": format!("{}-config", w.name)}, "name": "config"},
            {"emptyDir": {"sizeLimit": "500Mi"}, "name": "tmp"},
            {"name": api_access_volume(hash), "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
                {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}
            ]}}
        ]
    });
    if !init.is_empty() {
        spec["initContainers"] = Value::Array(init);
    }
    if !w.priority_class.is_empty() {
        spec["priorityClassName"] = json!(w.priority_class);
    }
    if scheduled {
        spec["nodeName"] = json!(vars.node);
    }
    match w.placement {
        Placement::Gpu => spec["nodeSelector"] = json!({"eks.amazonaws.com/nodegroup": "gpu"}),
        Placement::Memory => {
            spec["nodeSelector"] = json!({"eks.amazonaws.com/nodegroup": "memory"})
        }
        Placement::Everywhere | Placement::Workers => {
            spec["nodeSelector"] = json!({"kubernetes.io/os": "linux"})
        }
        Placement::ControlPlane => {}
    }
    if w.owner == Owner::DaemonSet && scheduled {
        spec["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [vars.node]}]}]}}});
    }
    if w.owner == Owner::StatefulSet {
        spec["hostname"] = json!(vars.name);
        spec["subdomain"] = json!(w.name);
    }
    if let Some((class, cpu, memory)) = w.runtime_class {
        spec["runtimeClassName"] = json!(class);
        spec["overhead"] = json!({"cpu": cpu, "memory": memory});
    }
    if let Some((requests, limits)) = w.pod_resources {
        spec["resources"] = json!({"requests": quantities(requests), "limits": quantities(limits)});
    }

    let phase = match variant {
        Variant::Unscheduled | Variant::ContainerCreating => "Pending",
        Variant::Succeeded => "Succeeded",
        Variant::Failed | Variant::Evicted => "Failed",
        _ => "Running",
    };
    let running = phase == "Running";
    let terminal = matches!(phase, "Succeeded" | "Failed");
    let ready = running && variant != Variant::CrashLoop;
    let cond = |t: &str, s: bool| json!({"lastProbeTime": null, "lastTransitionTime": vars.running_since, "status": if s { "True" } else { "False" }, "type": t});
    let mut status = Map::new();
    let mut conditions = Vec::new();
    if scheduled {
        conditions.push(cond(
            "PodReadyToStartContainers",
            variant != Variant::ContainerCreating && !terminal,
        ));
        let mut initialized = cond("Initialized", true);
        if phase == "Succeeded" {
            initialized["reason"] = json!("PodCompleted");
        }
        conditions.push(initialized);
        let mut r = cond("Ready", ready);
        let mut cr = cond("ContainersReady", ready);
        if !ready {
            let reason = if terminal {
                "PodCompleted"
            } else {
                "ContainersNotReady"
            };
            r["reason"] = json!(reason);
            cr["reason"] = json!(reason);
        }
        conditions.push(r);
        conditions.push(cr);
        conditions.push(cond("PodScheduled", true));
        if let Some((_, ctype, reason)) = resized {
            let mut c = json!({"lastProbeTime": null, "lastTransitionTime": vars.resized_at, "status": "True", "type": ctype});
            if !reason.is_empty() {
                c["reason"] = json!(reason);
                c["message"] = json!(if reason == "Infeasible" {
                    "Node didn't have enough capacity: cpu, requested: 64000, capacity: 7910"
                } else {
                    "Node didn't have enough resource: cpu, requested: 2000, used: 7200, capacity: 7910"
                });
            }
            conditions.push(c);
        }
    } else {
        let wanted = match w.placement {
            Placement::Gpu => "Insufficient nvidia.com/gpu",
            Placement::Memory => "Insufficient hugepages-2Mi",
            _ => "Insufficient cpu",
        };
        conditions.push(json!({"lastProbeTime": null, "lastTransitionTime": vars.created, "message": format!("0/{total_nodes} nodes are available: {total_nodes} {wanted}. preemption: 0/{total_nodes} nodes are available: {total_nodes} No preemption victims found for incoming pod."), "reason": "Unschedulable", "status": "False", "type": "PodScheduled"}));
    }
    status.insert("conditions".into(), Value::Array(conditions));
    if scheduled {
        status.insert("hostIP".into(), json!(vars.node_ip));
        status.insert("hostIPs".into(), json!([{"ip": vars.node_ip}]));
        if variant != Variant::ContainerCreating {
            status.insert("podIP".into(), json!(vars.pod_ip));
            status.insert("podIPs".into(), json!([{"ip": vars.pod_ip}]));
        }
        status.insert("startTime".into(), json!(vars.created));
        let first_name = w.containers[0].name;
        let state_of = |c: &Ctr, init: bool, id: &str| -> Value {
            let terminated = |code: u8, reason: &str, finished: &str| json!({"terminated": {"containerID": format!("containerd://{id}"), "exitCode": code, "finishedAt": finished, "reason": reason, "startedAt": vars.started}});
            match variant {
                Variant::ContainerCreating => json!({"waiting": {"reason": "ContainerCreating"}}),
                Variant::Succeeded => terminated(0, "Completed", &vars.finished),
                Variant::Failed if !init => terminated(137, "Error", &vars.finished),
                Variant::Evicted if !init => {
                    terminated(137, "ContainerStatusUnknown", &vars.finished)
                }
                Variant::CrashLoop if !init && c.name == first_name => {
                    json!({"waiting": {"message": format!("back-off 5m0s restarting failed container={} pod={}", c.name, vars.name), "reason": "CrashLoopBackOff"}})
                }
                _ if init && !c.sidecar => terminated(0, "Completed", &vars.started),
                _ => json!({"running": {"startedAt": vars.running_since}}),
            }
        };
        let live = running || variant == Variant::CrashLoop;
        let cstatus = |c: &Ctr, init: bool, id: &str, status_requests: &[(&str, &str)]| -> Value {
            let crashing = variant == Variant::CrashLoop && c.name == first_name && !init;
            let up = live && (!init || c.sidecar);
            let mut v = json!({
                "containerID": format!("containerd://{id}"),
                "image": c.image,
                "imageID": format!("{}@sha256:{}", c.image.split(':').next().unwrap_or(c.image), image_digest(c.image)),
                "lastState": {},
                "name": c.name,
                "ready": up && !crashing,
                "restartCount": if crashing { 17 } else { 0 },
                "started": up,
                "state": state_of(c, init, id),
                "volumeMounts": [{"mountPath": "/etc/config", "name": "config", "readOnly": true, "recursiveReadOnly": "Disabled"}]
            });
            if variant == Variant::ContainerCreating {
                if let Some(o) = v.as_object_mut() {
                    o.remove("containerID");
                    o.insert("imageID".into(), json!(""));
                }
            }
            // The kubelet reports applied and admitted resources of running containers; during a
            // resize they hold the old size while the spec has the new one.
            if up && variant != Variant::ContainerCreating {
                let mut resources = Map::new();
                if !c.limits.is_empty() {
                    resources.insert("limits".into(), quantities(c.limits));
                }
                if !status_requests.is_empty() {
                    resources.insert("requests".into(), quantities(status_requests));
                }
                v["resources"] = Value::Object(resources);
                if !status_requests.is_empty() {
                    v["allocatedResources"] = quantities(status_requests);
                }
            }
            v
        };
        let ids = &vars.container_ids;
        let id = |i: usize| ids.get(i).map_or("", String::as_str);
        let statuses: Vec<Value> = w
            .containers
            .iter()
            .enumerate()
            .map(|(i, c)| cstatus(c, false, id(i), c.requests))
            .collect();
        let init_statuses: Vec<Value> = w
            .init
            .iter()
            .enumerate()
            .map(|(j, c)| cstatus(c, true, id(w.containers.len() + j), c.requests))
            .collect();
        status.insert("containerStatuses".into(), Value::Array(statuses));
        if !init_statuses.is_empty() {
            status.insert("initContainerStatuses".into(), Value::Array(init_statuses));
        }
    }
    if variant == Variant::Evicted {
        status.insert("message".into(), json!("The node was low on resource: memory. Threshold quantity: 100Mi, available: 91572Ki. Container app was using 1765104Ki, request is 512Mi, has larger consumption of memory."));
        status.insert("reason".into(), json!("Evicted"));
    }
    status.insert("phase".into(), json!(phase));
    status.insert("qosClass".into(), json!(qos_class(w)));

    let mut annotations = json!({
        "kubectl.kubernetes.io/last-applied-configuration": last_applied(w, &spec),
        "kubectl.kubernetes.io/default-container": w.containers[0].name,
    });
    if w.containers.iter().any(|c| c.port > 0) {
        annotations["prometheus.io/scrape"] = json!("true");
        annotations["prometheus.io/port"] = json!(w.containers[0].port.to_string());
    }
    if w.init.iter().any(|c| c.sidecar && c.name == "istio-proxy") {
        annotations["sidecar.istio.io/status"] = json!("{\"initContainers\":[\"istio-init\"],\"containers\":null,\"volumes\":[\"workload-socket\",\"credential-socket\",\"workload-certs\",\"istio-envoy\",\"istio-data\",\"istio-podinfo\",\"istio-token\",\"istiod-ca-cert\"],\"imagePullSecrets\":null,\"revision\":\"default\"}");
    }
    if w.owner == Owner::Mirror {
        annotations["kubernetes.io/config.hash"] = json!(hash);
        annotations["kubernetes.io/config.mirror"] = json!(hash);
        annotations["kubernetes.io/config.seen"] =
            json!(format!("{}.551288000Z", vars.created.trim_end_matches('Z')));
        annotations["kubernetes.io/config.source"] = json!("file");
    }
    let mut metadata = json!({
        "annotations": annotations,
        "creationTimestamp": vars.created,
        "labels": labels,
        "managedFields": [
            {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {
                "f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/default-container": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}, "f:generateName": {}, "f:labels": {".": {}, "f:app.kubernetes.io/instance": {}, "f:app.kubernetes.io/name": {}, "f:team": {}}, "f:ownerReferences": {".": {}, "k:{\"uid\":\"owner\"}": {}}},
                "f:spec": {"f:containers": container_fields(w.containers), "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}, "f:tolerations": {}, "f:volumes": {".": {}, "k:{\"name\":\"config\"}": {".": {}, "f:configMap": {".": {}, "f:defaultMode": {}, "f:name": {}}, "f:name": {}}, "k:{\"name\":\"tmp\"}": {".": {}, "f:emptyDir": {".": {}, "f:sizeLimit": {}}, "f:name": {}}}}},
             "manager": if w.owner == Owner::Mirror { "kubelet" } else { "kube-controller-manager" },
             "operation": "Update", "time": vars.created},
            {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:conditions": {"k:{\"type\":\"ContainersReady\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}, "k:{\"type\":\"Initialized\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}, "k:{\"type\":\"PodReadyToStartContainers\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}, "k:{\"type\":\"Ready\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}}, "f:containerStatuses": {}, "f:hostIP": {}, "f:hostIPs": {}, "f:phase": {}, "f:podIP": {}, "f:podIPs": {".": {}, "k:{\"ip\":\"10.0.0.1\"}": {".": {}, "f:ip": {}}}, "f:startTime": {}}},
             "manager": "kubelet", "operation": "Update", "subresource": "status", "time": vars.running_since}
        ],
        "name": vars.name,
        "namespace": w.namespace,
        "resourceVersion": vars.rv,
        "uid": vars.uid,
    });
    if let Some(owner) = owner_reference(w, vars) {
        metadata["ownerReferences"] = json!([owner]);
    }
    if !matches!(w.owner, Owner::Mirror | Owner::StatefulSet) {
        metadata["generateName"] = json!(format!("{}-", vars.owner));
    }
    if variant == Variant::Terminating {
        metadata["deletionTimestamp"] = json!(vars.deletion);
        metadata["deletionGracePeriodSeconds"] = json!(30);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status})
}

fn last_applied(w: &Workload, spec: &Value) -> String {
    // What a user would have applied: the containers' essentials, not the defaulted spec.
    let essentials = |list: &Value| -> Value {
        Value::Array(list.as_array().map_or_else(Vec::new, |cs| {
            cs.iter()
                .map(|c| json!({"name": c["name"], "image": c["image"], "ports": c.get("ports").cloned().unwrap_or(json!([])), "resources": c["resources"]}))
                .collect()
        }))
    };
    let mut applied = json!({"containers": essentials(&spec["containers"]), "serviceAccountName": spec["serviceAccountName"]});
    if spec.get("initContainers").is_some() {
        applied["initContainers"] = essentials(&spec["initContainers"]);
    }
    let manifest = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"annotations": {}, "labels": {"app.kubernetes.io/name": w.name, "team": w.team}, "name": w.name, "namespace": w.namespace}, "spec": applied});
    serde_json::to_string(&manifest).unwrap_or_default()
}

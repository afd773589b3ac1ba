//! A planned node rendered as the full-size v1 Node a real API server returns: AWS-like labels,
//! taints, capacity and allocatable of its pool, conditions for its state, images and node info,
//! managedFields.
//!
//! Pure: the same plan, index and seed give the same bytes; it plans nothing.

use serde_json::{json, Value};

use crate::clock::rfc3339;
use crate::rng::Rng;

use super::planned::{NodePlan, NodeState};

/// The kubelet version every node reports.
const KUBELET_VERSION: &str = "v1.34.2";

/// The label an edge-case node carries, with its reason as the value.
pub const EDGE_CASE_LABEL: &str = "kube-sim.local/edge-case";

/// The node's labels: AWS-like topology and instance labels, its pool and role, GPU labels.
fn node_labels(plan: &NodePlan, index: usize) -> Value {
    let pool = plan.pool;
    let mut labels = json!({
        "beta.kubernetes.io/arch": pool.arch, "beta.kubernetes.io/instance-type": pool.instance, "beta.kubernetes.io/os": "linux",
        "eks.amazonaws.com/capacityType": if pool.name == "compute" { "SPOT" } else { "ON_DEMAND" },
        "eks.amazonaws.com/nodegroup": pool.name, "eks.amazonaws.com/nodegroup-image": "ami-0c2b8ca1dad447f8a",
        "failure-domain.beta.kubernetes.io/region": "us-east-1", "failure-domain.beta.kubernetes.io/zone": plan.zone,
        "k8s.io/cloud-provider-aws": "a94967527effcefb5f5829f529c0a1b9", "kubernetes.io/arch": pool.arch,
        "kubernetes.io/hostname": plan.name, "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": pool.instance, "topology.ebs.csi.aws.com/zone": plan.zone,
        "topology.k8s.aws/zone-id": format!("use1-az{}", index % 3 + 1),
        "topology.kubernetes.io/region": "us-east-1", "topology.kubernetes.io/zone": plan.zone,
    });
    if plan.control_plane {
        labels["node-role.kubernetes.io/control-plane"] = json!("");
    } else {
        labels[format!("node-role.kubernetes.io/{}", pool.name)] = json!("");
    }
    if pool.gpus > 0 {
        labels["nvidia.com/gpu.present"] = json!("true");
        labels["nvidia.com/gpu.product"] = json!("NVIDIA-A10G");
    }
    if let Some(edge) = plan.edge {
        labels[EDGE_CASE_LABEL] = json!(edge.reason());
    }
    labels
}

/// The node's taints (pool taint, then those of its state) and whether it is cordoned.
fn node_taints(plan: &NodePlan, heartbeat: &str) -> (Vec<Value>, bool) {
    let mut taints = Vec::new();
    if let Some((key, value, effect)) = plan.pool.taint {
        let mut t = json!({"key": key, "effect": effect});
        if !value.is_empty() {
            t["value"] = json!(value);
        }
        taints.push(t);
    }
    match plan.state {
        NodeState::NotReady => {
            taints.push(json!({"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAddedAt": heartbeat}));
            taints.push(json!({"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": heartbeat}));
            (taints, false)
        }
        NodeState::Cordoned => {
            taints.push(json!({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": heartbeat}));
            (taints, true)
        }
        NodeState::Ready => (taints, false),
    }
}

/// The pool's capacity and allocatable as the kubelet reports them (before any edge case). A
/// node whose GPUs DRA manages reports none, but the scheduler sees its devices as
/// `nvidia.com/gpu` (KEP-5004's extended resource backed by devices): `scheduler_view` says
/// which of the two to give.
fn node_resources(plan: &NodePlan, scheduler_view: bool) -> (Value, Value) {
    let pool = plan.pool;
    let mut capacity = json!({"cpu": pool.capacity_cpu, "ephemeral-storage": "83873772Ki", "hugepages-1Gi": "0", "hugepages-2Mi": pool.hugepages_2mi, "memory": pool.capacity_memory, "pods": pool.pods});
    let mut allocatable = json!({"cpu": pool.allocatable_cpu, "ephemeral-storage": "76224326324", "hugepages-1Gi": "0", "hugepages-2Mi": pool.hugepages_2mi, "memory": pool.allocatable_memory, "pods": pool.pods});
    let gpus = match plan.dra_gpus {
        0 => pool.gpus,
        dra if scheduler_view => dra,
        _ => 0,
    };
    if gpus > 0 {
        capacity["nvidia.com/gpu"] = json!(gpus.to_string());
        allocatable["nvidia.com/gpu"] = json!(gpus.to_string());
    }
    (capacity, allocatable)
}

/// What the scheduler reads of node `index` as it stood when pods were placed (name, labels,
/// taints, cordon, capacity and allocatable): the same pieces `render_node` assembles.
pub(super) fn node_for_placement(plan: &NodePlan, index: usize) -> Value {
    let (taints, unschedulable) = node_taints(plan, "");
    let (capacity, allocatable) = node_resources(plan, true);
    json!({
        "metadata": {"name": plan.name, "labels": node_labels(plan, index)},
        "spec": {"taints": taints, "unschedulable": unschedulable},
        "status": {"capacity": capacity, "allocatable": allocatable},
    })
}

/// Node `index` of the plan as JSON, with its own PRNG from `seed` and the resourceVersion `rv`.
pub(super) fn render_node(plan: &NodePlan, index: usize, seed: u64, rv: u64) -> Value {
    let mut rng = Rng::for_item(seed, 1, index as u64);
    let instance_id = format!("i-0{}", rng.hex(16));
    let pool = plan.pool;
    let created = rfc3339(plan.created);
    let heartbeat = rfc3339(plan.created + 30 * 86_400);
    let labels = node_labels(plan, index);
    let (taints, unschedulable) = node_taints(plan, &heartbeat);
    let mut spec = json!({
        "podCIDR": format!("10.244.{}.0/24", index % 256), "podCIDRs": [format!("10.244.{}.0/24", index % 256)],
        "providerID": format!("aws:///{}/{instance_id}", plan.zone),
    });
    if unschedulable {
        spec["unschedulable"] = json!(true);
    }
    let (ready_status, ready_reason, ready_message) = match plan.state {
        NodeState::NotReady => (
            "Unknown",
            "NodeStatusUnknown",
            "Kubelet stopped posting node status.",
        ),
        NodeState::Cordoned | NodeState::Ready => {
            ("True", "KubeletReady", "kubelet is posting ready status")
        }
    };
    if !taints.is_empty() {
        spec["taints"] = Value::Array(taints);
    }
    let (capacity, mut allocatable) = node_resources(plan, false);
    // An allocatable that shrank after its pods were placed (a kubelet restarted with a larger
    // system reservation): the one way a real node shows more cpu requested than allocatable.
    if let Some(cpu) = &plan.shrunk_allocatable_cpu {
        allocatable["cpu"] = json!(cpu);
    }
    let condition = |t: &str, status: &str, reason: &str, message: &str| json!({"lastHeartbeatTime": heartbeat, "lastTransitionTime": created, "message": message, "reason": reason, "status": status, "type": t});
    let images: Vec<Value> = [
        ("602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni-init", "v1.20.4", 62_982_633u64),
        ("602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni", "v1.20.4", 48_710_521),
        ("registry.k8s.io/kube-proxy", "v1.34.2", 30_851_302),
        ("quay.io/prometheus/node-exporter", "v1.9.1", 12_877_421),
        ("cr.fluentbit.io/fluent/fluent-bit", "4.0.3", 37_561_109),
        ("public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver", "v1.45.0", 38_261_022),
        ("docker.io/library/nginx", "1.29", 72_223_946),
        ("docker.io/envoyproxy/envoy", "v1.35.1", 62_003_811),
        ("docker.io/istio/proxyv2", "1.27.1", 98_201_331),
        ("ghcr.io/acme/checkout-api", "4.12.0", 154_301_223),
        ("docker.io/library/redis", "8.2", 52_399_187),
        ("docker.io/library/busybox", "1.37", 2_160_406),
        ("registry.k8s.io/pause", "3.10", 320_368),
    ]
    .iter()
    .map(|(repo, tag, size)| {
        let digest = Rng::for_item(seed, 2, *size).hex(64);
        json!({"names": [format!("{repo}@sha256:{digest}"), format!("{repo}:{tag}")], "sizeBytes": size})
    })
    .collect();
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "annotations": {
                "alpha.kubernetes.io/provided-node-ip": plan.ip,
                "csi.volume.kubernetes.io/nodeid": format!("{{\"ebs.csi.aws.com\":\"{instance_id}\"}}"),
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true"
            },
            "creationTimestamp": created,
            "labels": labels,
            "managedFields": [
                {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:alpha.kubernetes.io/provided-node-ip": {}, "f:volumes.kubernetes.io/controller-managed-attach-detach": {}},
                    "f:labels": {".": {}, "f:beta.kubernetes.io/arch": {}, "f:beta.kubernetes.io/os": {}, "f:kubernetes.io/arch": {}, "f:kubernetes.io/hostname": {}, "f:kubernetes.io/os": {}, "f:node.kubernetes.io/instance-type": {}, "f:topology.kubernetes.io/region": {}, "f:topology.kubernetes.io/zone": {}}}, "f:spec": {"f:providerID": {}}},
                 "manager": "kubelet", "operation": "Update", "time": created},
                {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:annotations": {"f:node.alpha.kubernetes.io/ttl": {}}}, "f:spec": {"f:podCIDR": {}, "f:podCIDRs": {".": {}, "v:\"10.244.0.0/24\"": {}}}},
                 "manager": "kube-controller-manager", "operation": "Update", "time": created},
                {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:allocatable": {"f:cpu": {}, "f:ephemeral-storage": {}, "f:memory": {}}, "f:conditions": {"k:{\"type\":\"DiskPressure\"}": {"f:lastHeartbeatTime": {}}, "k:{\"type\":\"MemoryPressure\"}": {"f:lastHeartbeatTime": {}}, "k:{\"type\":\"PIDPressure\"}": {"f:lastHeartbeatTime": {}}, "k:{\"type\":\"Ready\"}": {"f:lastHeartbeatTime": {}, "f:lastTransitionTime": {}, "f:message": {}, "f:reason": {}, "f:status": {}}}, "f:images": {}, "f:nodeInfo": {"f:bootID": {}, "f:kernelVersion": {}}}},
                 "manager": "kubelet", "operation": "Update", "subresource": "status", "time": heartbeat}
            ],
            "name": plan.name,
            "resourceVersion": rv.to_string(),
            "uid": rng.uuid()
        },
        "spec": spec,
        "status": {
            "addresses": [{"address": plan.ip, "type": "InternalIP"}, {"address": plan.name, "type": "InternalDNS"}, {"address": plan.name, "type": "Hostname"}],
            "allocatable": allocatable,
            "capacity": capacity,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", ready_status, ready_reason, ready_message)
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "images": images,
            "nodeInfo": {
                "architecture": pool.arch, "bootID": rng.uuid(), "containerRuntimeVersion": "containerd://2.1.4",
                "kernelVersion": "6.12.46-66.121.amzn2023.x86_64", "kubeProxyVersion": KUBELET_VERSION, "kubeletVersion": KUBELET_VERSION,
                "machineID": rng.hex(32), "operatingSystem": "linux", "osImage": "Amazon Linux 2023.8.20250915",
                "systemUUID": format!("ec2{}", &rng.uuid()[3..])
            }
        }
    })
}

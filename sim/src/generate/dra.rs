//! Dynamic Resource Allocation (`resource.k8s.io/v1`) objects of the generated cluster, and the
//! builders churn uses for new ones: DeviceClasses, node-local ResourceSlices (a GPU driver
//! publishing a node's GPUs, pool = node name), a shared pool of NICs (`rack-a`, one slice per
//! zone selecting that zone's GPU nodes), ResourceClaims (KEP-5004 extended-resource claims for
//! pods asking for `nvidia.com/gpu` on a node that does not advertise it, claims of pods that
//! name a claim, one with `firstAvailable`, one pending) and what those pods carry.
//!
//! Placement is decided before (`plan.rs`, `place.rs`): a DRA-managed node's devices are its
//! `nvidia.com/gpu` to the scheduler, so a node never gets more devices allocated than it
//! publishes; this file picks the devices, in name order, one device once. Pure and
//! deterministic: every name and UID comes from the seed.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::object::Object;
use crate::rng::Rng;

use super::planned::{NodePlan, PodPlan, Variant};
use super::pools::ZONES;
use super::workloads::Placement;

/// The GPU driver (and the DeviceClass selecting its devices).
pub const GPU_DRIVER: &str = "gpu.nvidia.com";
/// The NIC driver of the shared pool (and its DeviceClass).
pub const NIC_DRIVER: &str = "nic.example.com";
/// The shared pool of NICs.
pub const SHARED_POOL: &str = "rack-a";
/// NICs per slice of the shared pool.
const NICS_PER_SLICE: usize = 16;
/// The extended resource the GPU DeviceClass stands for (KEP-5004).
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// The share of the devices the benchmark option allocates, per mille.
const BENCH_ALLOCATED_PER_MILLE: usize = 700;

/// The three DeviceClasses: the GPU class (with its extended resource), the NIC class, and a
/// class whose selector reads a device attribute (which the exporter cannot resolve).
pub fn device_classes(created: &str, rng: &mut Rng) -> Vec<Value> {
    let class = |name: &str, expression: &str, extended: Option<&str>, uid: String| {
        let mut spec = json!({"selectors": [{"cel": {"expression": expression}}]});
        if let Some(resource) = extended {
            spec["extendedResourceName"] = json!(resource);
        }
        json!({"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass",
            "metadata": {"name": name, "uid": uid, "creationTimestamp": created, "generation": 1},
            "spec": spec})
    };
    vec![
        // The NVIDIA DRA driver's own class: its selector reads a device attribute.
        class(
            GPU_DRIVER,
            "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'gpu'",
            Some(GPU_RESOURCE),
            rng.uuid(),
        ),
        class(
            NIC_DRIVER,
            "device.driver == \"nic.example.com\"",
            None,
            rng.uuid(),
        ),
        class(
            "gpu-a100-80gb",
            "device.driver == \"gpu.nvidia.com\" && device.attributes[\"gpu.nvidia.com\"].productName == \"A100-80GB\"",
            None,
            rng.uuid(),
        ),
        // A selector the exporter cannot resolve (a quantity comparison).
        class(
            "gpu-large-memory",
            "device.driver == 'gpu.nvidia.com' && device.capacity['gpu.nvidia.com'].memory.compareTo(quantity('40Gi')) >= 0",
            None,
            rng.uuid(),
        ),
    ]
}

/// The node-local slice a GPU driver publishes for `node`: devices `gpu-0..gpu-{devices-1}`,
/// pool = node name, named `<node>-gpu.nvidia.com-<5 chars>` (the kubelet plugin's
/// generateName).
pub fn node_slice(
    node: &str,
    node_uid: &str,
    devices: usize,
    generation: u64,
    created: &str,
    rng: &mut Rng,
) -> Value {
    let devices: Vec<Value> = (0..devices)
        .map(|i| {
            json!({"name": format!("gpu-{i}"),
                "attributes": {"type": {"string": "gpu"}, "index": {"int": i}, "productName": {"string": "NVIDIA A10G"},
                    "driverVersion": {"version": "570.172.8"}, "uuid": {"string": format!("GPU-{}", rng.uuid())}},
                "capacity": {"memory": {"value": "24Gi"}}})
        })
        .collect();
    json!({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
        "metadata": {"name": format!("{node}-{GPU_DRIVER}-{}", rng.suffix(5)), "generateName": format!("{node}-{GPU_DRIVER}-"),
            "uid": rng.uuid(), "creationTimestamp": created, "generation": 1,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid, "controller": true}]},
        "spec": {"driver": GPU_DRIVER, "nodeName": node,
            "pool": {"name": node, "generation": generation, "resourceSliceCount": 1},
            "devices": devices}})
}

/// The node selector of the shared pool's slice for `zone`: that zone's GPU nodes.
fn zone_selector(zone: &str) -> Value {
    json!({"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "eks.amazonaws.com/nodegroup", "operator": "In", "values": ["gpu"]},
        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]}]}]})
}

/// Slice `index` (0 or 1) of the shared NIC pool: `nic-{16 index}..`, for the GPU nodes of zone
/// `index`, named `nic.example.com-rack-a-<5 chars>`.
fn shared_slice(index: usize, created: &str, rng: &mut Rng) -> Value {
    let devices: Vec<Value> = (index * NICS_PER_SLICE..(index + 1) * NICS_PER_SLICE)
        .map(|i| {
            json!({"name": format!("nic-{i}"),
                "attributes": {"model": {"string": "ConnectX-7"}, "rack": {"string": SHARED_POOL}, "port": {"int": i}},
                "capacity": {"bandwidth": {"value": "400G"}}})
        })
        .collect();
    json!({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
        "metadata": {"name": format!("{NIC_DRIVER}-{SHARED_POOL}-{}", rng.suffix(5)), "generateName": format!("{NIC_DRIVER}-{SHARED_POOL}-"),
            "uid": rng.uuid(), "creationTimestamp": created, "generation": 1},
        "spec": {"driver": NIC_DRIVER, "nodeSelector": zone_selector(ZONES[index]),
            "pool": {"name": SHARED_POOL, "generation": 1, "resourceSliceCount": 2},
            "devices": devices}})
}

/// The node selector of an allocation from a node-local pool.
pub fn node_allocation_selector(node: &str) -> Value {
    json!({"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]})
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Per container asking for GPUs: (index, name, count), from requests or else limits.
pub fn gpu_requests(pod: &Value) -> Vec<(usize, String, u64)> {
    let Some(containers) = pod.pointer("/spec/containers").and_then(Value::as_array) else {
        return Vec::new();
    };
    containers
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let count = ["requests", "limits"].iter().find_map(|k| {
                c.pointer(&format!("/resources/{k}"))
                    .and_then(|r| r.get(GPU_RESOURCE))
                    .and_then(Value::as_str)
                    .and_then(|q| q.parse::<u64>().ok())
            })?;
            (count > 0).then(|| (i, str_at(c, "/name").to_string(), count))
        })
        .collect()
}

/// One allocated device: (request name, driver, pool, device).
pub type Allocated = (String, String, String, String);

/// Sets a claim's allocation (results and node selector) and reserves it for `pod`.
pub fn allocate(claim: &mut Value, results: &[Allocated], node_selector: Value, pod: &Value) {
    let results: Vec<Value> = results
        .iter()
        .map(|(request, driver, pool, device)| {
            json!({"request": request, "driver": driver, "pool": pool, "device": device})
        })
        .collect();
    claim["status"] = json!({
        "allocation": {"devices": {"results": results}, "nodeSelector": node_selector},
        "reservedFor": [{"resource": "pods", "name": str_at(pod, "/metadata/name"), "uid": str_at(pod, "/metadata/uid")}]
    });
}

/// Drops a claim's allocation and reservations (its pod is gone or done).
pub fn deallocate(claim: &mut Value) {
    if let Some(m) = claim.as_object_mut() {
        m.remove("status");
    }
}

fn claim_metadata(pod: &Value, name: &str, generate_name: &str, uid: String) -> Value {
    json!({"name": name, "generateName": generate_name, "namespace": str_at(pod, "/metadata/namespace"),
        "uid": uid, "creationTimestamp": str_at(pod, "/metadata/creationTimestamp"),
        "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": str_at(pod, "/metadata/name"),
            "uid": str_at(pod, "/metadata/uid"), "controller": true, "blockOwnerDeletion": true}]})
}

/// The claim the scheduler creates for a pod asking for `nvidia.com/gpu` on a node that does
/// not advertise it (KEP-5004), allocated `devices` (one per GPU, in container order) of the
/// node's pool; `<pod>-extended-resources-<5 chars>`. Also sets the pod's
/// `status.extendedResourceClaimStatus`. None when the pod asks for no GPU or `devices` are
/// too few.
pub fn extended_claim(
    pod: &mut Value,
    node: &str,
    devices: &[String],
    rng: &mut Rng,
) -> Option<Value> {
    let wanted = gpu_requests(pod);
    let total: u64 = wanted.iter().map(|(_, _, n)| n).sum();
    if total == 0 || (devices.len() as u64) < total {
        return None;
    }
    let pod_name = str_at(pod, "/metadata/name").to_string();
    let name = format!("{pod_name}-extended-resources-{}", rng.suffix(5));
    let mut requests = Vec::new();
    let mut mappings = Vec::new();
    let mut results = Vec::new();
    let mut next = devices.iter();
    for (i, container, count) in &wanted {
        let request = format!("container-{i}-request-0");
        requests.push(json!({"name": request, "exactly": {"deviceClassName": GPU_DRIVER, "allocationMode": "ExactCount", "count": count}}));
        mappings.push(json!({"containerName": container, "resourceName": GPU_RESOURCE, "requestName": request}));
        for device in next.by_ref().take(usize::try_from(*count).unwrap_or(0)) {
            results.push((
                request.clone(),
                GPU_DRIVER.to_string(),
                node.to_string(),
                device.clone(),
            ));
        }
    }
    let mut metadata = claim_metadata(
        pod,
        &name,
        &format!("{pod_name}-extended-resources-"),
        rng.uuid(),
    );
    metadata["annotations"] = json!({"resource.kubernetes.io/extended-resource-claim": "true"});
    let mut claim = json!({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": metadata,
        "spec": {"devices": {"requests": requests}}});
    allocate(&mut claim, &results, node_allocation_selector(node), pod);
    pod["status"]["extendedResourceClaimStatus"] =
        json!({"resourceClaimName": name, "requestMappings": mappings});
    Some(claim)
}

/// A claim a pod names in `spec.resourceClaims` (as a ResourceClaimTemplate would make it):
/// one device of `class`, `<pod>-<pod claim>-<5 chars>`, unallocated; with `first_available`
/// the request is `firstAvailable` (an A100 80GB if any, else any GPU: request `gpu/any`).
/// Adds the claim to the pod's spec (first container), and its status.
pub fn pod_claim(
    pod: &mut Value,
    pod_claim: &str,
    class: &str,
    first_available: bool,
    rng: &mut Rng,
) -> Value {
    let pod_name = str_at(pod, "/metadata/name").to_string();
    let name = format!("{pod_name}-{pod_claim}-{}", rng.suffix(5));
    let request = if first_available {
        json!({"name": pod_claim, "firstAvailable": [
            {"name": "a100-80gb", "deviceClassName": "gpu-a100-80gb", "allocationMode": "ExactCount", "count": 1},
            {"name": "any", "deviceClassName": class, "allocationMode": "ExactCount", "count": 1}]})
    } else {
        json!({"name": pod_claim, "exactly": {"deviceClassName": class, "allocationMode": "ExactCount", "count": 1}})
    };
    let mut metadata = claim_metadata(pod, &name, &format!("{pod_name}-{pod_claim}-"), rng.uuid());
    metadata["annotations"] = json!({"resource.kubernetes.io/pod-claim-name": pod_claim});
    let entry = json!({"name": pod_claim, "resourceClaimName": name});
    match pod
        .pointer_mut("/spec/resourceClaims")
        .and_then(Value::as_array_mut)
    {
        Some(list) => list.push(entry.clone()),
        None => pod["spec"]["resourceClaims"] = json!([entry.clone()]),
    }
    match pod
        .pointer_mut("/status/resourceClaimStatuses")
        .and_then(Value::as_array_mut)
    {
        Some(list) => list.push(entry),
        None => pod["status"]["resourceClaimStatuses"] = json!([entry]),
    }
    if let Some(resources) = pod.pointer_mut("/spec/containers/0/resources") {
        match resources.get_mut("claims").and_then(Value::as_array_mut) {
            Some(list) => list.push(json!({"name": pod_claim})),
            None => resources["claims"] = json!([{"name": pod_claim}]),
        }
    }
    json!({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": metadata,
        "spec": {"devices": {"requests": [request]}}})
}

/// The request name an allocation result of a `pod_claim` carries.
pub fn result_request(claim: &Value) -> String {
    let request = claim.pointer("/spec/devices/requests/0");
    let name = request.map_or("", |r| str_at(r, "/name"));
    match request
        .and_then(|r| r.get("firstAvailable"))
        .and_then(Value::as_array)
    {
        Some(subs) => format!("{name}/{}", subs.last().map_or("", |s| str_at(s, "/name"))),
        None => name.to_string(),
    }
}

/// The first DeviceClass a claim's first request names.
pub fn claim_class(claim: &Value) -> String {
    let request = claim.pointer("/spec/devices/requests/0");
    request
        .and_then(|r| {
            r.pointer("/exactly/deviceClassName")
                .or_else(|| r.pointer("/firstAvailable/1/deviceClassName"))
        })
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// Removes `nvidia.com/gpu` from a pod's container requests and limits (its GPU now comes from
/// a claim it names).
pub fn strip_gpu_requests(pod: &mut Value) {
    if let Some(containers) = pod
        .pointer_mut("/spec/containers")
        .and_then(Value::as_array_mut)
    {
        for c in containers {
            for k in ["requests", "limits"] {
                if let Some(m) = c
                    .pointer_mut(&format!("/resources/{k}"))
                    .and_then(Value::as_object_mut)
                {
                    m.remove(GPU_RESOURCE);
                }
            }
        }
    }
}

fn reparse(object: &Object, change: impl FnOnce(&mut Value)) -> Result<Object, String> {
    let mut value = object.to_value()?;
    change(&mut value);
    Object::from_value(value, object.resource_version)
}

/// Adds the DRA objects to a generated cluster (`objects` = nodes then pods, in plan order):
/// DeviceClasses, slices, claims, after everything else (the next resourceVersions), and the
/// claim fields of the pods that use them. With `devices_per_node` > 0, every worker node that
/// is not DRA-managed also publishes that many devices, about 70 % allocated through one
/// claim reserved for the node's first pod.
pub(super) fn add_dra(
    nodes: &[NodePlan],
    pods: &[PodPlan],
    objects: &mut Vec<Object>,
    seed: u64,
    devices_per_node: usize,
) -> Result<(), String> {
    let mut rng = Rng::for_item(seed, 21, 0);
    let birth = objects
        .first()
        .and_then(|o| o.to_value().ok())
        .map(|v| str_at(&v, "/metadata/creationTimestamp").to_string())
        .unwrap_or_default();
    let mut extra: Vec<Value> = device_classes(&birth, &mut rng);
    let node_uid = |objects: &[Object], n: usize| -> Result<(String, String), String> {
        let v = objects[n].to_value()?;
        Ok((
            str_at(&v, "/metadata/uid").to_string(),
            str_at(&v, "/metadata/creationTimestamp").to_string(),
        ))
    };
    // Free devices per node (next index) and per shared slice.
    let mut next_gpu: BTreeMap<usize, usize> = BTreeMap::new();
    for (n, node) in nodes.iter().enumerate() {
        let devices = if node.dra_gpus > 0 {
            usize::try_from(node.dra_gpus).unwrap_or(0)
        } else if devices_per_node > 0 && !node.control_plane {
            devices_per_node
        } else {
            continue;
        };
        let (uid, created) = node_uid(objects, n)?;
        let mut node_rng = Rng::for_item(seed, 22, n as u64);
        extra.push(node_slice(
            &node.name,
            &uid,
            devices,
            1,
            &created,
            &mut node_rng,
        ));
        next_gpu.insert(n, 0);
    }
    if nodes.iter().any(|n| n.pool.gpus > 0) {
        for i in 0..2 {
            extra.push(shared_slice(i, &birth, &mut rng));
        }
    }
    let mut next_nic = [0usize; 2];
    let offset = nodes.len();
    let counting = |p: &PodPlan| {
        p.node.is_some()
            && !matches!(
                p.variant,
                Variant::Succeeded | Variant::Failed | Variant::Evicted
            )
    };
    let mut claims: Vec<Value> = Vec::new();
    let (mut gpu_pods, mut nic_claims, mut pending_done) = (0usize, 0usize, false);
    for (p, plan) in pods.iter().enumerate() {
        let gpu_workload = plan.workload.placement == Placement::Gpu;
        if !pending_done
            && gpu_workload
            && plan.node.is_none()
            && plan.variant == Variant::Unscheduled
        {
            pending_done = true;
            let mut claim_rng = Rng::for_item(seed, 23, p as u64);
            objects[offset + p] = reparse(&objects[offset + p], |pod| {
                claims.push(pod_claim(pod, "nic", NIC_DRIVER, false, &mut claim_rng));
            })?;
            continue;
        }
        let Some(n) = plan.node.filter(|_| counting(plan) && gpu_workload) else {
            continue;
        };
        let node = &nodes[n];
        let mut claim_rng = Rng::for_item(seed, 23, p as u64);
        let mut new_claims = Vec::new();
        let mut failed = None;
        let nic_slot = ZONES
            .iter()
            .position(|z| *z == node.zone)
            .filter(|&z| z < 2 && next_nic[z] < NICS_PER_SLICE && nic_claims < 3);
        let dra = node.dra_gpus > 0;
        if !dra && nic_slot.is_none() {
            continue;
        }
        let used = next_gpu.get(&n).copied().unwrap_or(0);
        let k = gpu_pods;
        if dra {
            gpu_pods += 1;
        }
        let mut taken = 0;
        objects[offset + p] = reparse(&objects[offset + p], |pod| {
            if dra {
                let wanted: u64 = gpu_requests(pod).iter().map(|(_, _, c)| c).sum();
                let devices: Vec<String> = (used..used + usize::try_from(wanted).unwrap_or(0))
                    .map(|i| format!("gpu-{i}"))
                    .collect();
                if k % 5 == 3 {
                    // This one names its own claim (a ResourceClaimTemplate's) instead.
                    strip_gpu_requests(pod);
                    let mut claim = pod_claim(pod, "gpu", GPU_DRIVER, false, &mut claim_rng);
                    let request = result_request(&claim);
                    allocate(
                        &mut claim,
                        &[(
                            request,
                            GPU_DRIVER.into(),
                            node.name.clone(),
                            format!("gpu-{used}"),
                        )],
                        node_allocation_selector(&node.name),
                        pod,
                    );
                    taken = 1;
                    new_claims.push(claim);
                } else if let Some(claim) =
                    extended_claim(pod, &node.name, &devices, &mut claim_rng)
                {
                    taken = devices.len();
                    new_claims.push(claim);
                    let spare = used + taken < usize::try_from(node.dra_gpus).unwrap_or(0);
                    if k == 0 && spare {
                        // The first also names a claim of its own for one more GPU, asked
                        // for with `firstAvailable` (an A100 80GB if any, else any GPU).
                        let mut claim = pod_claim(pod, "gpu", GPU_DRIVER, true, &mut claim_rng);
                        let request = result_request(&claim);
                        allocate(
                            &mut claim,
                            &[(
                                request,
                                GPU_DRIVER.into(),
                                node.name.clone(),
                                format!("gpu-{}", used + taken),
                            )],
                            node_allocation_selector(&node.name),
                            pod,
                        );
                        taken += 1;
                        new_claims.push(claim);
                    }
                } else {
                    failed = Some(format!("no GPU devices left for pod {}", plan.name));
                }
            }
            if let Some(z) = nic_slot {
                let mut claim = pod_claim(pod, "nic", NIC_DRIVER, false, &mut claim_rng);
                let request = result_request(&claim);
                allocate(
                    &mut claim,
                    &[(
                        request,
                        NIC_DRIVER.into(),
                        SHARED_POOL.into(),
                        format!("nic-{}", z * NICS_PER_SLICE + next_nic[z]),
                    )],
                    zone_selector(ZONES[z]),
                    pod,
                );
                new_claims.push(claim);
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        if let Some(z) = nic_slot {
            next_nic[z] += 1;
            nic_claims += 1;
        }
        if dra {
            next_gpu.insert(n, used + taken);
        }
        claims.extend(new_claims);
    }
    if devices_per_node > 0 {
        let mut first_pod: BTreeMap<usize, usize> = BTreeMap::new();
        for (p, plan) in pods.iter().enumerate() {
            if let Some(n) = plan.node.filter(|_| counting(plan)) {
                first_pod.entry(n).or_insert(p);
            }
        }
        let allocated = (devices_per_node * BENCH_ALLOCATED_PER_MILLE + 500) / 1000;
        for (n, node) in nodes.iter().enumerate() {
            if node.dra_gpus > 0 || node.control_plane || allocated == 0 {
                continue;
            }
            let mut claim_rng = Rng::for_item(seed, 24, n as u64);
            let pod = match first_pod.get(&n) {
                Some(&p) => objects[offset + p].to_value()?,
                None => json!({"metadata": {"name": node.name, "namespace": "default"}}),
            };
            let stem = format!("{}-bench-", str_at(&pod, "/metadata/name"));
            let name = format!("{stem}{}", claim_rng.suffix(5));
            let mut metadata = claim_metadata(&pod, &name, &stem, claim_rng.uuid());
            if let Some(m) = metadata.as_object_mut() {
                m.remove("ownerReferences");
            }
            let mut claim = json!({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": metadata,
                "spec": {"devices": {"requests": [{"name": "gpus", "exactly": {"deviceClassName": GPU_DRIVER, "allocationMode": "ExactCount", "count": allocated}}]}}});
            let results: Vec<Allocated> = (0..allocated)
                .map(|i| {
                    (
                        "gpus".into(),
                        GPU_DRIVER.into(),
                        node.name.clone(),
                        format!("gpu-{i}"),
                    )
                })
                .collect();
            allocate(
                &mut claim,
                &results,
                node_allocation_selector(&node.name),
                &pod,
            );
            if !first_pod.contains_key(&n) {
                if let Some(status) = claim.get_mut("status").and_then(Value::as_object_mut) {
                    status.remove("reservedFor");
                }
            }
            claims.push(claim);
        }
    }
    extra.extend(claims);
    let first = u64::try_from(objects.len()).unwrap_or(0) + 2;
    for (rv, value) in (first..).zip(extra) {
        objects.push(Object::from_value(value, rv)?);
    }
    Ok(())
}

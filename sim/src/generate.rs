//! A deterministic, realistic cluster from a seed: node pools across three zones (control plane,
//! general, compute, memory with hugepages, GPU, arm64), cordoned / NotReady / tainted nodes,
//! DaemonSet pods on every node, mirror pods on control-plane nodes, and workloads that cover every
//! accounting case of `shared/ACCOUNTING.md` (sidecars, init containers, overhead, pod-level
//! resources, in-place resize status, terminal and unscheduled pods, extended resources) with
//! varied quantity spellings. Objects are full-size, as a real API server returns them.
//!
//! Planning (names, placement, variants) is sequential and cheap; rendering each object to JSON
//! is the expensive part and runs on every core, each item with its own PRNG so the bytes do not
//! depend on the thread split.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::thread;

use serde_json::{json, Map, Value};

use crate::clock::rfc3339;
use crate::object::{Kind, Object};
use crate::rng::Rng;

/// 2025-10-06T08:00:00Z: the simulated cluster's birth; generated timestamps are fixed offsets
/// from it so that the same seed gives the same bytes.
const CLUSTER_BIRTH: i64 = 1_759_737_600;

/// The kubelet version every node reports.
pub const KUBELET_VERSION: &str = "v1.34.2";

const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

/// A list of (resource name, quantity) pairs as written in a manifest.
type Quantities = &'static [(&'static str, &'static str)];

/// A node pool: instance shape and what makes it special.
struct Pool {
    name: &'static str,
    instance: &'static str,
    arch: &'static str,
    capacity_cpu: &'static str,
    allocatable_cpu: &'static str,
    allocatable_milli: u64,
    capacity_memory: &'static str,
    allocatable_memory: &'static str,
    pods: &'static str,
    gpus: u64,
    hugepages_2mi: &'static str,
    hugepages_mi: u64,
    taint: Option<(&'static str, &'static str, &'static str)>,
}

const CONTROL_PLANE: Pool = Pool {
    name: "control-plane",
    instance: "m6i.xlarge",
    arch: "amd64",
    capacity_cpu: "4",
    allocatable_cpu: "3920m",
    allocatable_milli: 3920,
    capacity_memory: "16101900Ki",
    allocatable_memory: "15409676Ki",
    pods: "110",
    gpus: 0,
    hugepages_2mi: "0",
    hugepages_mi: 0,
    taint: Some(("node-role.kubernetes.io/control-plane", "", "NoSchedule")),
};

const POOLS: [Pool; 5] = [
    Pool {
        name: "general",
        instance: "m6i.2xlarge",
        arch: "amd64",
        capacity_cpu: "8",
        allocatable_cpu: "7910m",
        allocatable_milli: 7910,
        capacity_memory: "32386848Ki",
        allocatable_memory: "31482152Ki",
        pods: "110",
        gpus: 0,
        hugepages_2mi: "0",
        hugepages_mi: 0,
        taint: None,
    },
    Pool {
        name: "gpu",
        instance: "g5.2xlarge",
        arch: "amd64",
        capacity_cpu: "8",
        allocatable_cpu: "7910m",
        allocatable_milli: 7910,
        capacity_memory: "32386848Ki",
        allocatable_memory: "31482152Ki",
        pods: "58",
        gpus: 1,
        hugepages_2mi: "0",
        hugepages_mi: 0,
        taint: Some(("nvidia.com/gpu", "present", "NoSchedule")),
    },
    Pool {
        name: "memory",
        instance: "r6i.4xlarge",
        arch: "amd64",
        capacity_cpu: "16",
        allocatable_cpu: "15.89",
        allocatable_milli: 15890,
        capacity_memory: "131596252Ki",
        allocatable_memory: "127.5Gi",
        pods: "234",
        gpus: 0,
        hugepages_2mi: "2Gi",
        hugepages_mi: 2048,
        taint: None,
    },
    Pool {
        name: "compute",
        instance: "c6i.4xlarge",
        arch: "amd64",
        capacity_cpu: "16",
        allocatable_cpu: "15890m",
        allocatable_milli: 15890,
        capacity_memory: "32386840Ki",
        allocatable_memory: "31482144Ki",
        pods: "234",
        gpus: 0,
        hugepages_2mi: "0",
        hugepages_mi: 0,
        taint: None,
    },
    Pool {
        name: "arm",
        instance: "m7g.2xlarge",
        arch: "arm64",
        capacity_cpu: "8",
        allocatable_cpu: "7910m",
        allocatable_milli: 7910,
        capacity_memory: "32315584Ki",
        allocatable_memory: "31411008Ki",
        pods: "110",
        gpus: 0,
        hugepages_2mi: "0",
        hugepages_mi: 0,
        taint: None,
    },
];

/// Pool index by weight (per mille), after the first workers cover every pool once.
const POOL_WEIGHTS: [u64; 5] = [600, 60, 120, 150, 70];

/// What a node looks like beyond its pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeState {
    Ready,
    Cordoned,
    NotReady,
}

struct NodePlan {
    name: String,
    ip: String,
    pool: &'static Pool,
    zone: &'static str,
    state: NodeState,
    created: i64,
    control_plane: bool,
}

/// Who owns the pods of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    Mirror,
}

/// One container (or init container) of a workload template.
struct Ctr {
    name: &'static str,
    image: &'static str,
    requests: &'static [(&'static str, &'static str)],
    limits: &'static [(&'static str, &'static str)],
    port: u16,
    /// Init containers only: `restartPolicy: Always` (a sidecar).
    sidecar: bool,
}

const fn ctr(
    name: &'static str,
    image: &'static str,
    requests: &'static [(&'static str, &'static str)],
    limits: &'static [(&'static str, &'static str)],
    port: u16,
) -> Ctr {
    Ctr {
        name,
        image,
        requests,
        limits,
        port,
        sidecar: false,
    }
}

const fn sidecar(
    name: &'static str,
    image: &'static str,
    requests: &'static [(&'static str, &'static str)],
    limits: &'static [(&'static str, &'static str)],
) -> Ctr {
    Ctr {
        name,
        image,
        requests,
        limits,
        port: 15090,
        sidecar: true,
    }
}

/// Which nodes a workload's pods may run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Untainted worker pools.
    Workers,
    /// GPU nodes (tolerates the GPU taint, requests a GPU).
    Gpu,
    /// Memory nodes (hugepages).
    Memory,
    /// Control-plane nodes only.
    ControlPlane,
    /// Every node (DaemonSets).
    Everywhere,
}

struct Workload {
    namespace: &'static str,
    name: &'static str,
    owner: Owner,
    containers: &'static [Ctr],
    init: &'static [Ctr],
    placement: Placement,
    /// `spec.overhead` (set by the RuntimeClass admission plugin).
    runtime_class: Option<(&'static str, &'static str, &'static str)>,
    /// Pod-level `spec.resources` requests and limits.
    pod_resources: Option<(Quantities, Quantities)>,
    priority_class: &'static str,
    weight: u64,
    team: &'static str,
}

const fn wl(
    namespace: &'static str,
    name: &'static str,
    owner: Owner,
    containers: &'static [Ctr],
    weight: u64,
    team: &'static str,
) -> Workload {
    Workload {
        namespace,
        name,
        owner,
        containers,
        init: &[],
        placement: Placement::Workers,
        runtime_class: None,
        pod_resources: None,
        priority_class: "",
        weight,
        team,
    }
}

const DAEMONSETS: [Workload; 5] = [
    Workload { placement: Placement::Everywhere, priority_class: "system-node-critical",
        ..wl("kube-system", "kube-proxy", Owner::DaemonSet, &[ctr("kube-proxy", "registry.k8s.io/kube-proxy:v1.34.2", &[("cpu", "100m")], &[], 0)], 0, "platform") },
    Workload { placement: Placement::Everywhere, priority_class: "system-node-critical",
        init: &[ctr("aws-vpc-cni-init", "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni-init:v1.20.4", &[("cpu", "25m")], &[], 0)],
        ..wl("kube-system", "aws-node", Owner::DaemonSet, &[
            ctr("aws-node", "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1.20.4", &[("cpu", "25m")], &[], 61678),
            ctr("aws-eks-nodeagent", "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon/aws-network-policy-agent:v1.2.7", &[("cpu", "25m")], &[], 8162),
        ], 0, "platform") },
    Workload { placement: Placement::Everywhere, priority_class: "system-node-critical",
        ..wl("monitoring", "node-exporter", Owner::DaemonSet, &[
            ctr("node-exporter", "quay.io/prometheus/node-exporter:v1.9.1", &[("cpu", "102m"), ("memory", "180Mi")], &[("cpu", "250m"), ("memory", "180Mi")], 9100),
            ctr("kube-rbac-proxy", "quay.io/brancz/kube-rbac-proxy:v0.19.1", &[("cpu", "10m"), ("memory", "20Mi")], &[("cpu", "20m"), ("memory", "40Mi")], 8443),
        ], 0, "observability") },
    Workload { placement: Placement::Everywhere, priority_class: "system-node-critical",
        ..wl("logging", "fluent-bit", Owner::DaemonSet, &[ctr("fluent-bit", "cr.fluentbit.io/fluent/fluent-bit:4.0.3", &[("cpu", "50m"), ("memory", "64Mi")], &[("memory", "256Mi")], 2020)], 0, "observability") },
    Workload { placement: Placement::Everywhere, priority_class: "system-node-critical",
        ..wl("kube-system", "ebs-csi-node", Owner::DaemonSet, &[
            ctr("ebs-plugin", "public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver:v1.45.0", &[("cpu", "10m"), ("memory", "40Mi")], &[("memory", "256Mi")], 9808),
            ctr("node-driver-registrar", "public.ecr.aws/eks-distro/kubernetes-csi/node-driver-registrar:v2.14.0", &[("cpu", "10m"), ("memory", "40Mi")], &[("memory", "256Mi")], 0),
            ctr("liveness-probe", "public.ecr.aws/eks-distro/kubernetes-csi/livenessprobe:v2.16.0", &[("cpu", "10m"), ("memory", "40Mi")], &[("memory", "256Mi")], 0),
        ], 0, "platform") },
];

const MIRRORS: [Workload; 4] = [
    Workload {
        placement: Placement::ControlPlane,
        priority_class: "system-node-critical",
        ..wl(
            "kube-system",
            "kube-apiserver",
            Owner::Mirror,
            &[ctr(
                "kube-apiserver",
                "registry.k8s.io/kube-apiserver:v1.34.2",
                &[("cpu", "250m")],
                &[],
                6443,
            )],
            0,
            "platform",
        )
    },
    Workload {
        placement: Placement::ControlPlane,
        priority_class: "system-node-critical",
        ..wl(
            "kube-system",
            "etcd",
            Owner::Mirror,
            &[ctr(
                "etcd",
                "registry.k8s.io/etcd:3.6.4-0",
                &[("cpu", "100m"), ("memory", "100Mi")],
                &[],
                2381,
            )],
            0,
            "platform",
        )
    },
    Workload {
        placement: Placement::ControlPlane,
        priority_class: "system-node-critical",
        ..wl(
            "kube-system",
            "kube-controller-manager",
            Owner::Mirror,
            &[ctr(
                "kube-controller-manager",
                "registry.k8s.io/kube-controller-manager:v1.34.2",
                &[("cpu", "200m")],
                &[],
                10257,
            )],
            0,
            "platform",
        )
    },
    Workload {
        placement: Placement::ControlPlane,
        priority_class: "system-node-critical",
        ..wl(
            "kube-system",
            "kube-scheduler",
            Owner::Mirror,
            &[ctr(
                "kube-scheduler",
                "registry.k8s.io/kube-scheduler:v1.34.2",
                &[("cpu", "100m")],
                &[],
                10259,
            )],
            0,
            "platform",
        )
    },
];

const ISTIO_INIT: Ctr = ctr(
    "istio-init",
    "docker.io/istio/proxyv2:1.27.1",
    &[("cpu", "10m"), ("memory", "40Mi")],
    &[("cpu", "2"), ("memory", "1Gi")],
    0,
);
const ISTIO_PROXY: Ctr = sidecar(
    "istio-proxy",
    "docker.io/istio/proxyv2:1.27.1",
    &[("cpu", "100m"), ("memory", "128Mi")],
    &[("cpu", "2"), ("memory", "1Gi")],
);

/// Every workload gets at least one pod (in this order) before the weighted fill.
const WORKLOADS: [Workload; 19] = [
    Workload {
        priority_class: "system-cluster-critical",
        ..wl(
            "kube-system",
            "coredns",
            Owner::ReplicaSet,
            &[ctr(
                "coredns",
                "registry.k8s.io/coredns/coredns:v1.12.3",
                &[("cpu", "100m"), ("memory", "70Mi")],
                &[("memory", "170Mi")],
                53,
            )],
            2,
            "platform",
        )
    },
    Workload {
        priority_class: "system-cluster-critical",
        ..wl(
            "kube-system",
            "metrics-server",
            Owner::ReplicaSet,
            &[ctr(
                "metrics-server",
                "registry.k8s.io/metrics-server/metrics-server:v0.8.0",
                &[("cpu", "100m"), ("memory", "200Mi")],
                &[],
                10250,
            )],
            1,
            "platform",
        )
    },
    wl(
        "ingress-nginx",
        "ingress-nginx-controller",
        Owner::ReplicaSet,
        &[ctr(
            "controller",
            "registry.k8s.io/ingress-nginx/controller:v1.13.2",
            &[("cpu", "100m"), ("memory", "90Mi")],
            &[],
            443,
        )],
        3,
        "platform",
    ),
    Workload {
        init: &[
            ctr(
                "init-config-reloader",
                "quay.io/prometheus-operator/prometheus-config-reloader:v0.85.0",
                &[("cpu", "10m"), ("memory", "50Mi")],
                &[("cpu", "10m"), ("memory", "50Mi")],
                0,
            ),
            sidecar(
                "config-reloader",
                "quay.io/prometheus-operator/prometheus-config-reloader:v0.85.0",
                &[("cpu", "10m"), ("memory", "50Mi")],
                &[("cpu", "10m"), ("memory", "50Mi")],
            ),
        ],
        ..wl(
            "monitoring",
            "prometheus-k8s",
            Owner::StatefulSet,
            &[ctr(
                "prometheus",
                "quay.io/prometheus/prometheus:v3.5.0",
                &[("cpu", "1"), ("memory", "1.5Gi")],
                &[("memory", "4Gi")],
                9090,
            )],
            1,
            "observability",
        )
    },
    wl(
        "monitoring",
        "kube-state-metrics",
        Owner::ReplicaSet,
        &[ctr(
            "kube-state-metrics",
            "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0",
            &[("cpu", "10m"), ("memory", "190Mi")],
            &[("memory", "250Mi")],
            8080,
        )],
        1,
        "observability",
    ),
    Workload {
        init: &[ISTIO_INIT, ISTIO_PROXY],
        ..wl(
            "checkout",
            "checkout-api",
            Owner::ReplicaSet,
            &[ctr(
                "checkout-api",
                "ghcr.io/acme/checkout-api:4.12.0",
                &[("cpu", "0.5"), ("memory", "512M")],
                &[("cpu", "1"), ("memory", "1Gi")],
                8080,
            )],
            10,
            "checkout",
        )
    },
    Workload {
        init: &[ISTIO_INIT, ISTIO_PROXY],
        ..wl(
            "checkout",
            "cart",
            Owner::ReplicaSet,
            &[ctr(
                "cart",
                "ghcr.io/acme/cart:2.3.1",
                &[("cpu", "200m"), ("memory", "256Mi")],
                &[("memory", "512Mi")],
                8080,
            )],
            6,
            "checkout",
        )
    },
    Workload {
        pod_resources: Some((
            &[("cpu", "1"), ("memory", "1.5Gi")],
            &[("cpu", "2"), ("memory", "2Gi")],
        )),
        ..wl(
            "payments",
            "payments-api",
            Owner::ReplicaSet,
            &[
                ctr(
                    "payments-api",
                    "ghcr.io/acme/payments-api:7.0.3",
                    &[("cpu", "300m")],
                    &[],
                    8443,
                ),
                ctr(
                    "audit-shipper",
                    "ghcr.io/acme/audit-shipper:1.4.0",
                    &[],
                    &[],
                    0,
                ),
            ],
            6,
            "payments",
        )
    },
    Workload {
        runtime_class: Some(("kata-qemu", "250m", "160Mi")),
        ..wl(
            "sandbox",
            "untrusted-runner",
            Owner::ReplicaSet,
            &[ctr(
                "runner",
                "ghcr.io/acme/sandbox-runner:0.9.2",
                &[("cpu", "500m"), ("memory", "1Gi")],
                &[("cpu", "500m"), ("memory", "1Gi")],
                0,
            )],
            2,
            "ci",
        )
    },
    Workload {
        placement: Placement::Gpu,
        ..wl(
            "ml",
            "inference",
            Owner::ReplicaSet,
            &[ctr(
                "triton",
                "nvcr.io/nvidia/tritonserver:25.08-py3",
                &[("cpu", "4"), ("memory", "16Gi"), ("nvidia.com/gpu", "1")],
                &[("nvidia.com/gpu", "1"), ("memory", "16Gi")],
                8000,
            )],
            4,
            "ml",
        )
    },
    Workload {
        placement: Placement::Memory,
        ..wl(
            "network",
            "dpdk-router",
            Owner::StatefulSet,
            &[ctr(
                "router",
                "ghcr.io/acme/dpdk-router:3.1.0",
                &[("cpu", "2"), ("memory", "1Gi"), ("hugepages-2Mi", "512Mi")],
                &[("cpu", "2"), ("memory", "1Gi"), ("hugepages-2Mi", "512Mi")],
                0,
            )],
            2,
            "network",
        )
    },
    wl(
        "default",
        "legacy-app",
        Owner::ReplicaSet,
        &[ctr(
            "legacy",
            "docker.io/library/tomcat:9.0",
            &[("cpu", "500m"), ("memory", "128974848")],
            &[("cpu", "500m"), ("memory", "128974848")],
            8080,
        )],
        2,
        "legacy",
    ),
    wl(
        "default",
        "sleeper",
        Owner::ReplicaSet,
        &[ctr(
            "sleeper",
            "docker.io/library/busybox:1.37",
            &[],
            &[],
            0,
        )],
        1,
        "legacy",
    ),
    wl(
        "web",
        "frontend",
        Owner::ReplicaSet,
        &[ctr(
            "nginx",
            "docker.io/library/nginx:1.29",
            &[
                ("cpu", "100m"),
                ("memory", "128Mi"),
                ("ephemeral-storage", "1Gi"),
            ],
            &[("memory", "256Mi"), ("ephemeral-storage", "2Gi")],
            80,
        )],
        40,
        "web",
    ),
    wl(
        "web",
        "api-gateway",
        Owner::ReplicaSet,
        &[ctr(
            "envoy",
            "docker.io/envoyproxy/envoy:v1.35.1",
            &[("cpu", "250m"), ("memory", "256Mi")],
            &[("memory", "512Mi")],
            8080,
        )],
        16,
        "web",
    ),
    wl(
        "data",
        "postgres",
        Owner::StatefulSet,
        &[
            ctr(
                "postgres",
                "docker.io/library/postgres:17.6",
                &[("cpu", "2"), ("memory", "4Gi")],
                &[("memory", "4Gi")],
                5432,
            ),
            ctr(
                "exporter",
                "quay.io/prometheuscommunity/postgres-exporter:v0.17.1",
                &[("cpu", "10m"), ("memory", "32Mi")],
                &[],
                9187,
            ),
        ],
        2,
        "data",
    ),
    wl(
        "data",
        "redis",
        Owner::StatefulSet,
        &[ctr(
            "redis",
            "docker.io/library/redis:8.2",
            &[("cpu", "0.5"), ("memory", "1e9")],
            &[("memory", "1e9")],
            6379,
        )],
        3,
        "data",
    ),
    Workload {
        init: &[ctr(
            "wait-for-db",
            "docker.io/library/busybox:1.37",
            &[("cpu", "10m"), ("memory", "16Mi")],
            &[],
            0,
        )],
        ..wl(
            "batch",
            "report-generator",
            Owner::CronJob,
            &[ctr(
                "report",
                "ghcr.io/acme/reports:2.8.0",
                &[("cpu", "200m"), ("memory", "500M")],
                &[("memory", "1Gi")],
                0,
            )],
            10,
            "analytics",
        )
    },
    wl(
        "batch",
        "db-migrate",
        Owner::Job,
        &[ctr(
            "migrate",
            "ghcr.io/acme/migrate:1.19.0",
            &[("cpu", "100m"), ("memory", "64Mi")],
            &[],
            0,
        )],
        2,
        "data",
    ),
];

/// Pod status variants, applied to the first regular pods in this order (so a small cluster has
/// each one), then at random with small probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Variant {
    Running,
    ResizeDeferred,
    ResizeInfeasible,
    ResizeInProgress,
    Unscheduled,
    Terminating,
    ContainerCreating,
    Evicted,
    CrashLoop,
    Succeeded,
    Failed,
}

const FORCED_VARIANTS: [Variant; 8] = [
    Variant::ResizeDeferred,
    Variant::ResizeInfeasible,
    Variant::ResizeInProgress,
    Variant::Unscheduled,
    Variant::Terminating,
    Variant::ContainerCreating,
    Variant::Evicted,
    Variant::CrashLoop,
];

struct PodPlan {
    workload: &'static Workload,
    name: String,
    owner_name: String,
    template_hash: String,
    node: Option<usize>,
    variant: Variant,
    created: i64,
    ip: String,
    ordinal: usize,
}

fn node_name(i: usize) -> (String, String) {
    let a = i / 250 % 256;
    let b = i % 250 + 4;
    let net = 16 + (i / 64_000) % 200;
    (
        format!("ip-10-{net}-{a}-{b}.ec2.internal"),
        format!("10.{net}.{a}.{b}"),
    )
}

fn plan_nodes(count: usize, rng: &mut Rng) -> Vec<NodePlan> {
    let control_planes = match count {
        0..=3 => 0,
        4..=49 => 1,
        _ => 3,
    };
    let mut nodes = Vec::with_capacity(count);
    for i in 0..count {
        let (name, ip) = node_name(i);
        let control_plane = i < control_planes;
        let worker = i - control_planes.min(i);
        let pool = if control_plane {
            &CONTROL_PLANE
        } else if worker < POOLS.len() {
            &POOLS[worker]
        } else {
            let mut roll = rng.below(1000);
            let mut chosen = &POOLS[0];
            for (p, w) in POOLS.iter().zip(POOL_WEIGHTS) {
                if roll < w {
                    chosen = p;
                    break;
                }
                roll -= w;
            }
            chosen
        };
        // One cordoned and one NotReady node early on, then about 1% of each.
        let state = if control_plane {
            NodeState::Ready
        } else if worker == 5 || (worker > 8 && rng.chance(10)) {
            NodeState::Cordoned
        } else if worker == 7 || (worker > 8 && rng.chance(5)) {
            NodeState::NotReady
        } else {
            NodeState::Ready
        };
        nodes.push(NodePlan {
            name,
            ip,
            pool,
            zone: ZONES[i % ZONES.len()],
            state,
            created: CLUSTER_BIRTH + i64::try_from(i).unwrap_or(0) * 11,
            control_plane,
        });
    }
    nodes
}

/// Placement bookkeeping: requested milli-CPU, free GPUs and free hugepages per node.
struct Capacity {
    cpu_milli: Vec<u64>,
    gpus: Vec<u64>,
    hugepages_mi: Vec<u64>,
}

fn cpu_milli(q: &str) -> u64 {
    if let Some(m) = q.strip_suffix('m') {
        m.parse().unwrap_or(0)
    } else {
        q.parse::<f64>().map_or(0, |c| (c * 1000.0).ceil() as u64)
    }
}

fn pod_cpu_milli(w: &Workload) -> u64 {
    if let Some((req, _)) = w.pod_resources {
        if let Some((_, q)) = req.iter().find(|(k, _)| *k == "cpu") {
            return cpu_milli(q);
        }
    }
    let sum: u64 = w
        .containers
        .iter()
        .chain(w.init.iter().filter(|c| c.sidecar))
        .flat_map(|c| c.requests.iter())
        .filter(|(k, _)| *k == "cpu")
        .map(|(_, q)| cpu_milli(q))
        .sum();
    sum + w.runtime_class.map_or(0, |(_, c, _)| cpu_milli(c))
}

fn eligible(node: &NodePlan, placement: Placement) -> bool {
    match placement {
        Placement::Everywhere => true,
        Placement::ControlPlane => node.control_plane,
        Placement::Gpu => node.pool.gpus > 0,
        Placement::Memory => node.pool.hugepages_mi > 0,
        Placement::Workers => {
            !node.control_plane && node.pool.taint.is_none() && node.state != NodeState::NotReady
        }
    }
}

/// Picks a node: the least loaded of four random eligible candidates (power of choices keeps
/// nodes balanced without a full scan); GPU and hugepage pods need a free device.
fn place(
    w: &Workload,
    nodes: &[NodePlan],
    by_placement: &BTreeMap<u8, Vec<usize>>,
    cap: &mut Capacity,
    rng: &mut Rng,
) -> Option<usize> {
    let candidates = by_placement.get(&(w.placement as u8))?;
    if candidates.is_empty() {
        return None;
    }
    let cpu = pod_cpu_milli(w);
    let best = match w.placement {
        Placement::Gpu | Placement::Memory => {
            let start = rng.index(candidates.len());
            let need_huge = if w.placement == Placement::Memory {
                512
            } else {
                0
            };
            let need_gpu = u64::from(w.placement == Placement::Gpu);
            (0..candidates.len())
                .map(|k| candidates[(start + k) % candidates.len()])
                .find(|&n| {
                    cap.gpus[n] >= need_gpu
                        && cap.hugepages_mi[n] >= need_huge
                        && nodes[n].state == NodeState::Ready
                })
                .inspect(|&n| {
                    cap.gpus[n] -= need_gpu;
                    cap.hugepages_mi[n] -= need_huge;
                })?
        }
        _ => (0..4)
            .map(|_| candidates[rng.index(candidates.len())])
            .min_by_key(|&n| cap.cpu_milli[n] * 1000 / nodes[n].pool.allocatable_milli)?,
    };
    cap.cpu_milli[best] += cpu;
    Some(best)
}

fn pick_workload(rng: &mut Rng) -> &'static Workload {
    let total: u64 = WORKLOADS.iter().map(|w| w.weight).sum();
    let mut roll = rng.below(total);
    for w in &WORKLOADS {
        if roll < w.weight {
            return w;
        }
        roll -= w.weight;
    }
    &WORKLOADS[0]
}

fn random_variant(w: &Workload, rng: &mut Rng) -> Variant {
    if matches!(w.owner, Owner::Job | Owner::CronJob) {
        return match rng.below(100) {
            0..=79 => Variant::Succeeded,
            80..=89 => Variant::Failed,
            _ => Variant::Running,
        };
    }
    match rng.below(1000) {
        0..=3 => Variant::ResizeDeferred,
        4..=5 => Variant::ResizeInfeasible,
        6..=8 => Variant::ResizeInProgress,
        9..=13 => Variant::Unscheduled,
        14..=17 => Variant::Terminating,
        18..=20 => Variant::ContainerCreating,
        21..=25 => Variant::Evicted,
        26..=29 => Variant::CrashLoop,
        _ => Variant::Running,
    }
}

fn plan_pods(nodes: &[NodePlan], pods: usize, rng: &mut Rng) -> Vec<PodPlan> {
    let mut by_placement: BTreeMap<u8, Vec<usize>> = BTreeMap::new();
    for placement in [
        Placement::Workers,
        Placement::Gpu,
        Placement::Memory,
        Placement::ControlPlane,
        Placement::Everywhere,
    ] {
        by_placement.insert(
            placement as u8,
            (0..nodes.len())
                .filter(|&n| eligible(&nodes[n], placement))
                .collect(),
        );
    }
    let mut cap = Capacity {
        cpu_milli: vec![0; nodes.len()],
        gpus: nodes.iter().map(|n| n.pool.gpus).collect(),
        hugepages_mi: nodes.iter().map(|n| n.pool.hugepages_mi).collect(),
    };
    let mut plans: Vec<PodPlan> = Vec::with_capacity(pods);
    // Random suffixes collide now and then at 150,000 pods; names must stay unique per namespace.
    let mut used: HashSet<String> = HashSet::with_capacity(pods);
    let mut unique = |ns: &str, stem: &str, rng: &mut Rng| loop {
        let name = format!("{stem}-{}", rng.suffix(5));
        if used.insert(format!("{ns}/{name}")) {
            break name;
        }
    };
    // DaemonSets first (as many as fit in half the pod budget), then mirror pods.
    let daemonsets = if nodes.is_empty() {
        0
    } else {
        (pods / (2 * nodes.len())).min(DAEMONSETS.len())
    };
    let mut hashes: BTreeMap<&str, String> = BTreeMap::new();
    for ds in &DAEMONSETS[..daemonsets] {
        let hash = rng.suffix(10).chars().take(10).collect::<String>();
        for (n, node) in nodes.iter().enumerate() {
            cap.cpu_milli[n] += pod_cpu_milli(ds);
            plans.push(PodPlan {
                workload: ds,
                name: unique(ds.namespace, ds.name, rng),
                owner_name: ds.name.to_string(),
                template_hash: hash.clone(),
                node: Some(n),
                variant: Variant::Running,
                created: node.created + 40,
                ip: node.ip.clone(),
                ordinal: 0,
            });
        }
    }
    for (n, node) in nodes.iter().enumerate().filter(|(_, n)| n.control_plane) {
        for m in &MIRRORS {
            if plans.len() >= pods {
                break;
            }
            cap.cpu_milli[n] += pod_cpu_milli(m);
            plans.push(PodPlan {
                workload: m,
                name: format!("{}-{}", m.name, node.name),
                owner_name: node.name.clone(),
                template_hash: rng.hex(32),
                node: Some(n),
                variant: Variant::Running,
                created: node.created + 5,
                ip: node.ip.clone(),
                ordinal: 0,
            });
        }
    }
    let mut ordinals: BTreeMap<&str, usize> = BTreeMap::new();
    let mut jobs: BTreeMap<&str, usize> = BTreeMap::new();
    let mut regular = 0usize;
    let mut pod_ip = 0u64;
    while plans.len() < pods {
        let w = if regular < WORKLOADS.len() {
            &WORKLOADS[regular]
        } else {
            pick_workload(rng)
        };
        let variant = if let Some(v) = FORCED_VARIANTS
            .get(regular.wrapping_sub(WORKLOADS.len()))
            .filter(|_| regular >= WORKLOADS.len())
        {
            *v
        } else if regular < WORKLOADS.len() && matches!(w.owner, Owner::Job | Owner::CronJob) {
            if w.owner == Owner::Job {
                Variant::Failed
            } else {
                Variant::Succeeded
            }
        } else {
            random_variant(w, rng)
        };
        regular += 1;
        let hash = hashes
            .entry(w.name)
            .or_insert_with(|| rng.suffix(10))
            .clone();
        let node = if variant == Variant::Unscheduled {
            None
        } else {
            place(w, nodes, &by_placement, &mut cap, rng)
        };
        let variant = if node.is_none() {
            Variant::Unscheduled
        } else {
            variant
        };
        let (name, owner_name, ordinal) = match w.owner {
            Owner::StatefulSet => {
                let o = ordinals.entry(w.name).or_insert(0);
                *o += 1;
                (format!("{}-{}", w.name, *o - 1), w.name.to_string(), *o - 1)
            }
            Owner::Job | Owner::CronJob => {
                let j = jobs.entry(w.name).or_insert(0);
                *j += 1;
                let job = if w.owner == Owner::CronJob {
                    format!("{}-{}", w.name, 29_340_000 + *j * 60)
                } else {
                    format!("{}-{}", w.name, *j)
                };
                (unique(w.namespace, &job, rng), job, 0)
            }
            _ => (
                unique(w.namespace, &format!("{}-{hash}", w.name), rng),
                format!("{}-{hash}", w.name),
                0,
            ),
        };
        pod_ip += 1;
        let created = CLUSTER_BIRTH + 3600 + i64::try_from(rng.below(30 * 86_400)).unwrap_or(0);
        plans.push(PodPlan {
            workload: w,
            name,
            owner_name,
            template_hash: hash,
            node,
            variant,
            created,
            ip: format!(
                "10.{}.{}.{}",
                100 + (pod_ip >> 16) % 100,
                (pod_ip >> 8) & 255,
                pod_ip & 255
            ),
            ordinal,
        });
    }
    plans
}

fn quantities(list: &[(&str, &str)]) -> Value {
    Value::Object(
        list.iter()
            .map(|(k, v)| ((*k).to_string(), Value::from(*v)))
            .collect(),
    )
}

fn render_node(plan: &NodePlan, index: usize, seed: u64, rv: u64) -> Value {
    let mut rng = Rng::for_item(seed, 1, index as u64);
    let instance_id = format!("i-0{}", rng.hex(16));
    let pool = plan.pool;
    let created = rfc3339(plan.created);
    let heartbeat = rfc3339(plan.created + 30 * 86_400);
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
    let mut taints = Vec::new();
    if let Some((key, value, effect)) = pool.taint {
        let mut t = json!({"key": key, "effect": effect});
        if !value.is_empty() {
            t["value"] = json!(value);
        }
        taints.push(t);
    }
    let mut spec = json!({
        "podCIDR": format!("10.244.{}.0/24", index % 256), "podCIDRs": [format!("10.244.{}.0/24", index % 256)],
        "providerID": format!("aws:///{}/{instance_id}", plan.zone),
    });
    let (ready_status, ready_reason, ready_message) = match plan.state {
        NodeState::NotReady => {
            taints.push(json!({"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAddedAt": heartbeat}));
            taints.push(json!({"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": heartbeat}));
            (
                "Unknown",
                "NodeStatusUnknown",
                "Kubelet stopped posting node status.",
            )
        }
        NodeState::Cordoned => {
            spec["unschedulable"] = json!(true);
            taints.push(json!({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": heartbeat}));
            ("True", "KubeletReady", "kubelet is posting ready status")
        }
        NodeState::Ready => ("True", "KubeletReady", "kubelet is posting ready status"),
    };
    if !taints.is_empty() {
        spec["taints"] = Value::Array(taints);
    }
    let mut capacity = json!({"cpu": pool.capacity_cpu, "ephemeral-storage": "83873772Ki", "hugepages-1Gi": "0", "hugepages-2Mi": pool.hugepages_2mi, "memory": pool.capacity_memory, "pods": pool.pods});
    let mut allocatable = json!({"cpu": pool.allocatable_cpu, "ephemeral-storage": "76224326324", "hugepages-1Gi": "0", "hugepages-2Mi": pool.hugepages_2mi, "memory": pool.allocatable_memory, "pods": pool.pods});
    if pool.gpus > 0 {
        capacity["nvidia.com/gpu"] = json!(pool.gpus.to_string());
        allocatable["nvidia.com/gpu"] = json!(pool.gpus.to_string());
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
struct PodVars {
    name: String,
    uid: String,
    owner: String,
    owner_uid: String,
    job_uid: String,
    node: String,
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
    fn placeholders(containers: usize, node: bool) -> PodVars {
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

    fn values(&self) -> Vec<&str> {
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
    fn for_pod(plan: &PodPlan, nodes: &[NodePlan], rng: &mut Rng, rv: u64) -> PodVars {
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
fn render_pod(
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

/// A pod rendered once with placeholders, split into literal segments and variable slots.
struct Template {
    /// `segments.len() == slots.len() + 1`.
    segments: Vec<Vec<u8>>,
    slots: Vec<usize>,
    labels: Vec<(String, String)>,
    phase: String,
    namespace: &'static str,
}

/// Splits serialized JSON on `@@N@@` markers.
fn split_template(bytes: &[u8]) -> (Vec<Vec<u8>>, Vec<usize>) {
    let mut segments = Vec::new();
    let mut slots = Vec::new();
    let mut current = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"@@") {
            let digits = bytes[i + 2..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits > 0 && bytes[i + 2 + digits..].starts_with(b"@@") {
                let n = std::str::from_utf8(&bytes[i + 2..i + 2 + digits])
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                segments.push(std::mem::take(&mut current));
                slots.push(n);
                i += digits + 4;
                continue;
            }
        }
        current.push(bytes[i]);
        i += 1;
    }
    segments.push(current);
    (segments, slots)
}

fn substitute(text: &str, values: &[&str]) -> String {
    let (segments, slots) = split_template(text.as_bytes());
    let mut out = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        out.extend_from_slice(seg);
        if let Some(v) = slots.get(i).and_then(|&s| values.get(s)) {
            out.extend_from_slice(v.as_bytes());
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Template {
    fn build(
        w: &Workload,
        variant: Variant,
        hash: &str,
        scheduled: bool,
        total_nodes: usize,
    ) -> Template {
        let vars = PodVars::placeholders(w.containers.len() + w.init.len(), scheduled);
        let value = render_pod(w, variant, hash, &vars, total_nodes);
        let labels = value["metadata"]["labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let phase = value["status"]["phase"].as_str().unwrap_or("").to_string();
        let (segments, slots) = split_template(&serde_json::to_vec(&value).unwrap_or_default());
        Template {
            segments,
            slots,
            labels,
            phase,
            namespace: w.namespace,
        }
    }

    /// The pod's bytes and stored object, without building a JSON tree.
    fn fill(&self, vars: &PodVars, rv: u64) -> Object {
        let values = vars.values();
        let mut json = Vec::with_capacity(self.segments.iter().map(Vec::len).sum::<usize>() + 600);
        let mut rv_span = (0, 0);
        for (i, seg) in self.segments.iter().enumerate() {
            json.extend_from_slice(seg);
            if let Some(&slot) = self.slots.get(i) {
                let value = values.get(slot).copied().unwrap_or("");
                if slot == 8 {
                    rv_span = (json.len(), json.len() + value.len());
                }
                json.extend_from_slice(value.as_bytes());
            }
        }
        let mut labels: Vec<(Box<str>, Box<str>)> = self
            .labels
            .iter()
            .map(|(k, v)| (k.as_str().into(), substitute(v, &values).into()))
            .collect();
        labels.sort();
        Object::from_parts(
            Kind::Pod,
            self.namespace,
            &vars.name,
            &vars.node,
            &self.phase,
            labels,
            rv,
            json,
            rv_span,
        )
    }
}

/// Generates `nodes` nodes and `pods` pods for `seed`, with resourceVersions 2, 3, ... in
/// (nodes, pods) order. The same arguments always give the same bytes.
pub fn generate(nodes: usize, pods: usize, seed: u64) -> Result<Vec<Object>, String> {
    let mut rng = Rng::new(seed);
    let node_plans = plan_nodes(nodes, &mut rng);
    let pod_plans = plan_pods(&node_plans, pods, &mut rng);
    // One template per (workload, variant, scheduled); mirror pods differ per node and are
    // rendered directly.
    let mut templates: HashMap<(usize, Variant, bool), Template> = HashMap::new();
    for plan in &pod_plans {
        if plan.workload.owner != Owner::Mirror {
            let key = (
                std::ptr::from_ref(plan.workload) as usize,
                plan.variant,
                plan.node.is_some(),
            );
            templates.entry(key).or_insert_with(|| {
                Template::build(
                    plan.workload,
                    plan.variant,
                    &plan.template_hash,
                    plan.node.is_some(),
                    node_plans.len(),
                )
            });
        }
    }
    let total = node_plans.len() + pod_plans.len();
    let threads = thread::available_parallelism()
        .map_or(2, usize::from)
        .clamp(1, 16);
    let chunk = total.div_ceil(threads).max(1);
    let render = |i: usize| -> Result<Object, String> {
        let rv = u64::try_from(i).unwrap_or(0) + 2;
        if i < node_plans.len() {
            return Object::from_value(render_node(&node_plans[i], i, seed, rv), rv);
        }
        let p = i - node_plans.len();
        let plan = &pod_plans[p];
        let mut rng = Rng::for_item(seed, 3, p as u64);
        let vars = PodVars::for_pod(plan, &node_plans, &mut rng, rv);
        let key = (
            std::ptr::from_ref(plan.workload) as usize,
            plan.variant,
            plan.node.is_some(),
        );
        match templates.get(&key) {
            Some(t) => Ok(t.fill(&vars, rv)),
            None => Object::from_value(
                render_pod(
                    plan.workload,
                    plan.variant,
                    &plan.template_hash,
                    &vars,
                    node_plans.len(),
                ),
                rv,
            ),
        }
    };
    let parts: Vec<Result<Vec<Object>, String>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let render = &render;
                scope.spawn(move || {
                    (t * chunk..((t + 1) * chunk).min(total))
                        .map(render)
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a generator thread panicked".into()))
            })
            .collect()
    });
    let mut objects = Vec::with_capacity(total);
    for part in parts {
        objects.extend(part?);
    }
    Ok(objects)
}

/// A fresh pod for churn: one of the regular workloads on `node` (None = unscheduled).
pub fn churn_pod(seed: u64, n: u64, node: Option<(&str, &str)>, now: i64) -> Value {
    let mut rng = Rng::for_item(seed, 7, n);
    let w = pick_workload(&mut rng);
    let hash = Rng::for_item(seed, 8, 0).suffix(10);
    let node_plans = [NodePlan {
        name: node.map_or_else(String::new, |(name, _)| name.to_string()),
        ip: node.map_or_else(String::new, |(_, ip)| ip.to_string()),
        pool: &POOLS[0],
        zone: ZONES[0],
        state: NodeState::Ready,
        created: now,
        control_plane: false,
    }];
    let owner_name = if matches!(w.owner, Owner::Job | Owner::CronJob) {
        format!("{}-c{n}", w.name)
    } else {
        format!("{}-{hash}", w.name)
    };
    let plan = PodPlan {
        workload: w,
        name: format!("{owner_name}-{}", rng.suffix(5)),
        owner_name,
        template_hash: hash.clone(),
        node: node.map(|_| 0),
        variant: if node.is_some() {
            Variant::Running
        } else {
            Variant::Unscheduled
        },
        created: now,
        ip: format!("10.{}.{}.{}", 200 + n % 50, (n >> 8) & 255, n & 255),
        ordinal: usize::try_from(n).unwrap_or(0),
    };
    let vars = PodVars::for_pod(&plan, &node_plans, &mut rng, 0);
    let mut v = render_pod(w, plan.variant, &hash, &vars, 1);
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    v
}

pub fn churn_node(seed: u64, n: u64, now: i64) -> Value {
    let i = 100_000 + usize::try_from(n % 100_000).unwrap_or(0);
    let (name, ip) = node_name(i);
    let plan = NodePlan {
        name: name.replace("ip-", "churn-"),
        ip,
        pool: &POOLS[0],
        zone: ZONES[i % 3],
        state: NodeState::Ready,
        created: now,
        control_plane: false,
    };
    let mut v = render_node(&plan, i, seed ^ 0xC4A2, 0);
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
        let a = generate(12, 200, 42).unwrap();
        let b = generate(12, 200, 42).unwrap();
        let c = generate(12, 200, 43).unwrap();
        assert_eq!(a.len(), 212);
        assert!(a.iter().zip(&b).all(|(x, y)| x.json == y.json));
        assert!(a.iter().zip(&c).any(|(x, y)| x.json != y.json));
    }

    #[test]
    fn pods_are_full_size_and_parse_back() {
        let objs = generate(10, 300, 1).unwrap();
        let pods: Vec<&Object> = objs
            .iter()
            .filter(|o| o.kind == crate::object::Kind::Pod)
            .collect();
        assert_eq!(pods.len(), 300);
        let avg = pods.iter().map(|p| p.json.len()).sum::<usize>() / pods.len();
        assert!((5_000..12_000).contains(&avg), "average pod size {avg}");
        for o in &objs {
            o.to_value().unwrap();
        }
    }
}

#[cfg(test)]
mod template_tests {
    use super::*;

    #[test]
    fn templated_pods_are_byte_identical_to_directly_rendered_ones() {
        let mut rng = Rng::new(5);
        let nodes = plan_nodes(12, &mut rng);
        let plans = plan_pods(&nodes, 400, &mut rng);
        let mut checked = HashSet::new();
        for (i, plan) in plans
            .iter()
            .enumerate()
            .filter(|(_, p)| p.workload.owner != Owner::Mirror)
        {
            let key = (plan.workload.name, plan.variant, plan.node.is_some());
            if !checked.insert(key) {
                continue;
            }
            let vars = PodVars::for_pod(plan, &nodes, &mut Rng::for_item(5, 3, i as u64), 77);
            let direct = Object::from_value(
                render_pod(
                    plan.workload,
                    plan.variant,
                    &plan.template_hash,
                    &vars,
                    nodes.len(),
                ),
                77,
            )
            .unwrap();
            let templated = Template::build(
                plan.workload,
                plan.variant,
                &plan.template_hash,
                plan.node.is_some(),
                nodes.len(),
            )
            .fill(&vars, 77);
            assert_eq!(
                String::from_utf8_lossy(&templated.json),
                String::from_utf8_lossy(&direct.json),
                "{key:?}"
            );
            assert_eq!(templated.labels, direct.labels);
            assert_eq!(
                (&templated.key, &templated.node_name, &templated.phase),
                (&direct.key, &direct.node_name, &direct.phase)
            );
            assert_eq!(
                templated.with_resource_version(9).json,
                direct.with_resource_version(9).json
            );
        }
        assert!(checked.len() > 20);
    }
}

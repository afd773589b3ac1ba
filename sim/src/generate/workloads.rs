//! The workload catalogue of the generated cluster: DaemonSets, control-plane mirror pods and
//! the regular workloads, each with its containers (sidecars and init containers included),
//! placement, RuntimeClass overhead, pod-level resources, priority and draw weight, so that every
//! accounting case of `shared/ACCOUNTING.md` appears.
//!
//! Data only: no randomness, no JSON; planning picks from it (`plan.rs`), rendering reads it.

/// A list of (resource name, quantity) pairs as written in a manifest.
pub(super) type Quantities = &'static [(&'static str, &'static str)];

/// Who owns the pods of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    /// A Deployment's ReplicaSet (`name-<hash>-<suffix>`).
    ReplicaSet,
    /// A StatefulSet (`name-<ordinal>`).
    StatefulSet,
    /// A DaemonSet (one pod per node).
    DaemonSet,
    /// A Job created by hand.
    Job,
    /// A Job created by a CronJob.
    CronJob,
    /// A static pod of the kubelet, owned by its Node.
    Mirror,
}

/// One container (or init container) of a workload template.
pub(super) struct Ctr {
    /// Container name.
    pub(super) name: &'static str,
    /// Image reference.
    pub(super) image: &'static str,
    /// `resources.requests`.
    pub(super) requests: &'static [(&'static str, &'static str)],
    /// `resources.limits`.
    pub(super) limits: &'static [(&'static str, &'static str)],
    /// The one container port (0 = none, and no probes).
    pub(super) port: u16,
    /// Init containers only: `restartPolicy: Always` (a sidecar).
    pub(super) sidecar: bool,
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
pub(super) enum Placement {
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

/// A workload: where its pods run, what they contain, how often one is drawn.
pub(super) struct Workload {
    /// Namespace of its pods.
    pub(super) namespace: &'static str,
    /// Workload name (the stem of its pod names).
    pub(super) name: &'static str,
    /// Who owns its pods.
    pub(super) owner: Owner,
    /// `spec.containers` (never empty).
    pub(super) containers: &'static [Ctr],
    /// `spec.initContainers`.
    pub(super) init: &'static [Ctr],
    /// Which nodes its pods may run on.
    pub(super) placement: Placement,
    /// `spec.overhead` (set by the RuntimeClass admission plugin).
    pub(super) runtime_class: Option<(&'static str, &'static str, &'static str)>,
    /// Pod-level `spec.resources` requests and limits.
    pub(super) pod_resources: Option<(Quantities, Quantities)>,
    /// `spec.priorityClassName` (empty = none).
    pub(super) priority_class: &'static str,
    /// Draw weight in the weighted fill.
    pub(super) weight: u64,
    /// The `team` label.
    pub(super) team: &'static str,
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

/// DaemonSets, as many as the pod budget allows, in this order.
pub(super) const DAEMONSETS: [Workload; 5] = [
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

/// Mirror pods of the control plane, on every control-plane node.
pub(super) const MIRRORS: [Workload; 4] = [
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

/// Static pods an operator dropped on a worker's kubelet after the scheduler had filled it (so
/// the node shows more requested than allocatable), by size; an edge-case node gets the smallest
/// that overflows it.
pub(super) const EDGE_STATIC_PODS: [Workload; 3] = [
    Workload {
        placement: Placement::ControlPlane,
        ..wl(
            "kube-system",
            "haproxy-lb",
            Owner::Mirror,
            &[ctr(
                "haproxy",
                "docker.io/library/haproxy:3.2",
                &[("cpu", "1"), ("memory", "512Mi")],
                &[],
                8404,
            )],
            0,
            "platform",
        )
    },
    Workload {
        placement: Placement::ControlPlane,
        ..wl(
            "kube-system",
            "envoy-edge",
            Owner::Mirror,
            &[ctr(
                "envoy",
                "docker.io/envoyproxy/envoy:v1.35.1",
                &[("cpu", "2"), ("memory", "1Gi")],
                &[],
                9901,
            )],
            0,
            "platform",
        )
    },
    Workload {
        placement: Placement::ControlPlane,
        ..wl(
            "kube-system",
            "squid-cache",
            Owner::Mirror,
            &[ctr(
                "squid",
                "docker.io/ubuntu/squid:6.10-24.10_beta",
                &[("cpu", "4"), ("memory", "4Gi")],
                &[],
                3128,
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
pub(super) const WORKLOADS: [Workload; 19] = [
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

//! The node pools of the generated cluster: instance shapes (capacity and allocatable as the
//! kubelet reports them), GPUs, hugepages and taints, the three zones, and how often each pool is
//! drawn.
//!
//! Data only: no randomness, no JSON; planning picks from it (`plan.rs`), rendering reads it.

/// The three availability zones; nodes take them in turn.
pub(super) const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

/// A node pool: instance shape and what makes it special.
pub(super) struct Pool {
    /// `eks.amazonaws.com/nodegroup` and the `node-role.kubernetes.io/<pool>` label.
    pub(super) name: &'static str,
    /// `node.kubernetes.io/instance-type`.
    pub(super) instance: &'static str,
    /// `kubernetes.io/arch`.
    pub(super) arch: &'static str,
    /// `status.capacity.cpu`, as spelled by the kubelet.
    pub(super) capacity_cpu: &'static str,
    /// `status.allocatable.cpu`, as spelled by the kubelet.
    pub(super) allocatable_cpu: &'static str,
    /// `status.capacity.memory`.
    pub(super) capacity_memory: &'static str,
    /// `status.allocatable.memory`.
    pub(super) allocatable_memory: &'static str,
    /// `status.allocatable.pods`.
    pub(super) pods: &'static str,
    /// `nvidia.com/gpu` devices per node.
    pub(super) gpus: u64,
    /// `hugepages-2Mi` capacity, as spelled by the kubelet.
    pub(super) hugepages_2mi: &'static str,
    /// The pool's taint: (key, value, effect).
    pub(super) taint: Option<(&'static str, &'static str, &'static str)>,
}

/// The control-plane pool (the first nodes of a cluster of four nodes or more).
pub(super) const CONTROL_PLANE: Pool = Pool {
    name: "control-plane",
    instance: "m6i.xlarge",
    arch: "amd64",
    capacity_cpu: "4",
    allocatable_cpu: "3920m",
    capacity_memory: "16101900Ki",
    allocatable_memory: "15409676Ki",
    pods: "110",
    gpus: 0,
    hugepages_2mi: "0",
    taint: Some(("node-role.kubernetes.io/control-plane", "", "NoSchedule")),
};

/// The worker pools, in the order the first workers cover them.
pub(super) const POOLS: [Pool; 5] = [
    Pool {
        name: "general",
        instance: "m6i.2xlarge",
        arch: "amd64",
        capacity_cpu: "8",
        allocatable_cpu: "7910m",
        capacity_memory: "32386848Ki",
        allocatable_memory: "31482152Ki",
        pods: "110",
        gpus: 0,
        hugepages_2mi: "0",
        taint: None,
    },
    Pool {
        name: "gpu",
        instance: "g5.2xlarge",
        arch: "amd64",
        capacity_cpu: "8",
        allocatable_cpu: "7910m",
        capacity_memory: "32386848Ki",
        allocatable_memory: "31482152Ki",
        pods: "58",
        gpus: 1,
        hugepages_2mi: "0",
        taint: Some(("nvidia.com/gpu", "present", "NoSchedule")),
    },
    Pool {
        name: "memory",
        instance: "r6i.4xlarge",
        arch: "amd64",
        capacity_cpu: "16",
        allocatable_cpu: "15.89",
        capacity_memory: "131596252Ki",
        allocatable_memory: "127.5Gi",
        pods: "234",
        gpus: 0,
        hugepages_2mi: "2Gi",
        taint: None,
    },
    Pool {
        name: "compute",
        instance: "c6i.4xlarge",
        arch: "amd64",
        capacity_cpu: "16",
        allocatable_cpu: "15890m",
        capacity_memory: "32386840Ki",
        allocatable_memory: "31482144Ki",
        pods: "234",
        gpus: 0,
        hugepages_2mi: "0",
        taint: None,
    },
    Pool {
        name: "arm",
        instance: "m7g.2xlarge",
        arch: "arm64",
        capacity_cpu: "8",
        allocatable_cpu: "7910m",
        capacity_memory: "32315584Ki",
        allocatable_memory: "31411008Ki",
        pods: "110",
        gpus: 0,
        hugepages_2mi: "0",
        taint: None,
    },
];

/// Pool index by weight (per mille), after the first workers cover every pool once.
pub(super) const POOL_WEIGHTS: [u64; 5] = [600, 60, 120, 150, 70];

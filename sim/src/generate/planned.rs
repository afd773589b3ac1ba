//! What the planner decides, as plain records: one node as planned (name, pool, zone, state,
//! edge case) and one pod (workload, node, status variant). The planner (`plan.rs`), the placer
//! (`place.rs`) and the renderers (`node.rs`, `pod.rs`) share them; this file imports only the
//! catalogue.

use super::pools::Pool;
use super::workloads::Workload;

/// What a node looks like beyond its pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NodeState {
    /// Schedulable and Ready.
    Ready,
    /// Ready but `spec.unschedulable` (kubectl cordon).
    Cordoned,
    /// The kubelet stopped posting status (unreachable taints).
    NotReady,
}

/// Why a node shows more requested than allocatable on purpose (its
/// `kube-sim.local/edge-case` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EdgeCase {
    /// The kubelet restarted with a larger reservation after the scheduler had filled the node.
    AllocatableShrank,
    /// An operator dropped a static pod on the node; the scheduler never accounted it.
    StaticPod,
}

impl EdgeCase {
    /// The label value.
    pub(super) fn reason(self) -> &'static str {
        match self {
            EdgeCase::AllocatableShrank => "allocatable-shrank",
            EdgeCase::StaticPod => "static-pod",
        }
    }
}

/// One node as planned: enough to place pods on it and to render it.
pub(super) struct NodePlan {
    /// Node name (`ip-10-16-0-4.ec2.internal`).
    pub(super) name: String,
    /// InternalIP.
    pub(super) ip: String,
    /// Its pool.
    pub(super) pool: &'static Pool,
    /// Its zone.
    pub(super) zone: &'static str,
    /// Ready, cordoned or NotReady.
    pub(super) state: NodeState,
    /// Creation time, Unix seconds.
    pub(super) created: i64,
    /// A control-plane node (taint, mirror pods).
    pub(super) control_plane: bool,
    /// Over-committed on purpose, and why.
    pub(super) edge: Option<EdgeCase>,
    /// For `EdgeCase::AllocatableShrank`: the allocatable cpu the node reports now.
    pub(super) shrunk_allocatable_cpu: Option<String>,
    /// GPUs managed by Dynamic Resource Allocation (0 = none): the node does not advertise
    /// `nvidia.com/gpu` and publishes this many devices in a node-local ResourceSlice instead.
    pub(super) dra_gpus: u64,
}

/// Pod status variants, applied to the first regular pods in this order (so a small cluster has
/// each one), then at random with small probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Variant {
    /// Running and Ready.
    Running,
    /// A resize the node cannot fit now (`PodResizePending`, Deferred).
    ResizeDeferred,
    /// A resize the node can never fit (`PodResizePending`, Infeasible).
    ResizeInfeasible,
    /// A resize being applied (`PodResizeInProgress`).
    ResizeInProgress,
    /// Pending without a node (Unschedulable).
    Unscheduled,
    /// Running with a `deletionTimestamp`.
    Terminating,
    /// Pending on a node, containers not started yet.
    ContainerCreating,
    /// Failed with reason Evicted.
    Evicted,
    /// Running, its first container in CrashLoopBackOff.
    CrashLoop,
    /// Completed (jobs).
    Succeeded,
    /// Failed with exit code 137.
    Failed,
}

/// One pod as planned: enough to render it (with `PodVars`).
pub(super) struct PodPlan {
    /// Its workload.
    pub(super) workload: &'static Workload,
    /// `metadata.name`.
    pub(super) name: String,
    /// The owner's name (ReplicaSet, Job, node of a mirror pod, ...).
    pub(super) owner_name: String,
    /// `pod-template-hash` / `controller-revision-hash` (config hash for mirror pods).
    pub(super) template_hash: String,
    /// Index of its node in the node plans; None = unscheduled.
    pub(super) node: Option<usize>,
    /// Its status variant.
    pub(super) variant: Variant,
    /// Creation time, Unix seconds.
    pub(super) created: i64,
    /// Pod IP (host IP for DaemonSet and mirror pods).
    pub(super) ip: String,
    /// StatefulSet ordinal (0 otherwise).
    pub(super) ordinal: usize,
}

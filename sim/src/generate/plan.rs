//! Planning the generated cluster: node names, pools, zones and states; then pods: DaemonSets on
//! every node, mirror pods on control-plane nodes, one pod of every workload and every status
//! variant, then a weighted fill, each placed on the least loaded of a few candidate nodes.
//!
//! Sequential and cheap, driven by one PRNG in a fixed order so the same seed gives the same plan.
//! It renders no JSON (`node.rs`, `pod.rs` do).

use std::collections::{BTreeMap, HashSet};

use crate::rng::Rng;

use super::pools::{Pool, CONTROL_PLANE, POOLS, POOL_WEIGHTS, ZONES};
use super::workloads::{Owner, Placement, Workload, DAEMONSETS, MIRRORS, WORKLOADS};

/// 2025-10-06T08:00:00Z: the simulated cluster's birth; generated timestamps are fixed offsets
/// from it so that the same seed gives the same bytes.
const CLUSTER_BIRTH: i64 = 1_759_737_600;

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

/// The variants every cluster shows at least once, given to the first pods after one pod of
/// each workload.
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

/// Name and InternalIP of node `i`, AWS-style.
pub(super) fn node_name(i: usize) -> (String, String) {
    let a = i / 250 % 256;
    let b = i % 250 + 4;
    let net = 16 + (i / 64_000) % 200;
    (
        format!("ip-10-{net}-{a}-{b}.ec2.internal"),
        format!("10.{net}.{a}.{b}"),
    )
}

/// `count` nodes: control planes first (none, one or three), then every worker pool once,
/// then pools by weight; one cordoned and one NotReady node early on, then about 1% of each.
pub(super) fn plan_nodes(count: usize, rng: &mut Rng) -> Vec<NodePlan> {
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

/// A regular workload drawn by weight.
pub(super) fn pick_workload(rng: &mut Rng) -> &'static Workload {
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

/// Exactly `pods` pods on `nodes`: DaemonSets, mirror pods, one pod of each workload, one of
/// each forced variant, then the weighted fill.
pub(super) fn plan_pods(nodes: &[NodePlan], pods: usize, rng: &mut Rng) -> Vec<PodPlan> {
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

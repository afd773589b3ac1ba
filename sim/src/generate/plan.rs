//! Planning the generated cluster: node names, pools, zones, states and the few edge-case nodes;
//! then pods, each placed as kube-scheduler's filters would (`place.rs`): DaemonSets on every
//! node first, mirror pods on control-plane nodes, one pod of every workload and every status
//! variant, then a fill drawn from a mix sized to the cluster; a pod that fits nowhere stays
//! Pending. Last, the edge cases: a static pod the scheduler never saw, an allocatable that
//! shrank after placement.
//!
//! Sequential and cheap, driven by one PRNG in a fixed order so the same seed gives the same plan.
//! It renders no JSON (`node.rs`, `pod.rs` do).

use std::collections::{BTreeMap, HashSet};

use crate::rng::Rng;

use super::place::Placer;
use super::planned::{EdgeCase, NodePlan, NodeState, PodPlan, Variant};
use super::pools::{CONTROL_PLANE, POOLS, POOL_WEIGHTS, ZONES};
use super::workloads::{Owner, Workload, DAEMONSETS, EDGE_STATIC_PODS, MIRRORS, WORKLOADS};

/// 2025-10-06T08:00:00Z: the simulated cluster's birth; generated timestamps are fixed offsets
/// from it so that the same seed gives the same bytes.
const CLUSTER_BIRTH: i64 = 1_759_737_600;

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

/// GPUs of a node whose GPUs Dynamic Resource Allocation manages.
pub(super) const DRA_GPUS_PER_NODE: u64 = 8;

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
/// then pools by weight; one cordoned and one NotReady node early on, then about 1% of each;
/// 1 % of the nodes (at least one) edge cases, picked among the Ready general-pool nodes;
/// every other GPU node has its GPUs (`DRA_GPUS_PER_NODE` of them) managed by DRA.
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
            edge: None,
            shrunk_allocatable_cpu: None,
            dra_gpus: 0,
        });
    }
    // Every other GPU node (the first one included) has its GPUs managed by DRA; no draw, so
    // the rest of the plan does not move.
    for (k, node) in nodes.iter_mut().filter(|n| n.pool.gpus > 0).enumerate() {
        if k % 2 == 0 {
            node.dra_gpus = DRA_GPUS_PER_NODE;
        }
    }
    let mut candidates: Vec<usize> = (0..nodes.len())
        .filter(|&n| {
            !nodes[n].control_plane
                && nodes[n].pool.name == "general"
                && nodes[n].state == NodeState::Ready
        })
        .collect();
    for k in 0..(count / 100).max(1).min(candidates.len()) {
        let n = candidates.swap_remove(rng.index(candidates.len()));
        nodes[n].edge = Some(if k % 2 == 0 {
            EdgeCase::AllocatableShrank
        } else {
            EdgeCase::StaticPod
        });
    }
    nodes
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

/// A regular workload drawn by `weights` (in `WORKLOADS` order), by index.
pub(super) fn draw(weights: &[u64], rng: &mut Rng) -> usize {
    let mut roll = rng.below(weights.iter().sum());
    for (i, &weight) in weights.iter().enumerate() {
        if roll < weight {
            return i;
        }
        roll -= weight;
    }
    0
}

/// The mirror pod of static pod `w` on node `n`, created `after` seconds after the node.
fn mirror_pod(
    w: &'static Workload,
    n: usize,
    node: &NodePlan,
    after: i64,
    rng: &mut Rng,
) -> PodPlan {
    PodPlan {
        workload: w,
        name: format!("{}-{}", w.name, node.name),
        owner_name: node.name.clone(),
        template_hash: rng.hex(32),
        node: Some(n),
        variant: Variant::Running,
        created: node.created + after,
        ip: node.ip.clone(),
        ordinal: 0,
    }
}

/// Exactly `pods` pods on `nodes`, each placed only where kube-scheduler's filters would put it
/// (else Pending): DaemonSets on every node first, mirror pods, one pod of each workload, one of
/// each forced variant, then the fill; last, the static pods of edge-case nodes. Fills in the
/// allocatable of the nodes whose allocatable shrank after placement. Returns the plans and
/// the weights the fill drew workloads with.
pub(super) fn plan_pods(
    nodes: &mut [NodePlan],
    pods: usize,
    rng: &mut Rng,
) -> Result<(Vec<PodPlan>, Vec<u64>), String> {
    let mut placer = Placer::new(nodes, rng)?;
    let statics = nodes
        .iter()
        .filter(|n| n.edge == Some(EdgeCase::StaticPod))
        .count()
        .min(pods);
    let budget = pods - statics;
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
        (budget / (2 * nodes.len())).min(DAEMONSETS.len())
    };
    let mut hashes: BTreeMap<&str, String> = BTreeMap::new();
    for ds in &DAEMONSETS[..daemonsets] {
        let hash = rng.suffix(10).chars().take(10).collect::<String>();
        for (n, node) in nodes.iter().enumerate() {
            if !placer.put(n, ds, Variant::Running, false)? {
                continue;
            }
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
            if plans.len() >= budget {
                break;
            }
            placer.put(n, m, Variant::Running, true)?;
            plans.push(mirror_pod(m, n, node, 5, rng));
        }
    }
    let weights = placer.mix(budget.saturating_sub(plans.len()))?;
    // A few pods of the fill may stay Pending for want of room, as in a real cluster; past that
    // the planner draws another workload (the mix is its to choose).
    let pending_allowed = (budget.saturating_sub(plans.len()) / 100).max(1);
    let mut pending = 0usize;
    let mut ordinals: BTreeMap<&str, usize> = BTreeMap::new();
    let mut jobs: BTreeMap<&str, usize> = BTreeMap::new();
    let mut regular = 0usize;
    let mut pod_ip = 0u64;
    while plans.len() < budget {
        let catalogue = regular < WORKLOADS.len() + FORCED_VARIANTS.len();
        let mut w = if regular < WORKLOADS.len() {
            &WORKLOADS[regular]
        } else {
            &WORKLOADS[draw(&weights, rng)]
        };
        let mut variant = if let Some(v) = FORCED_VARIANTS
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
        let mut node = None;
        for attempt in 0..8 {
            if attempt > 0 {
                w = &WORKLOADS[draw(&weights, rng)];
                variant = random_variant(w, rng);
            }
            if variant == Variant::Unscheduled {
                break;
            }
            node = placer.place(w, variant, rng)?;
            if node.is_some() || catalogue || pending < pending_allowed {
                break;
            }
        }
        if node.is_none() && variant != Variant::Unscheduled {
            pending += 1;
        }
        let variant = if node.is_none() {
            Variant::Unscheduled
        } else {
            variant
        };
        let hash = hashes
            .entry(w.name)
            .or_insert_with(|| rng.suffix(10))
            .clone();
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
    for (n, node) in nodes.iter_mut().enumerate() {
        match node.edge {
            Some(EdgeCase::StaticPod) if plans.len() < pods => {
                // The smallest static pod that takes the node past its allocatable cpu.
                let (allocated, allocatable) = placer.cpu(n);
                let mut chosen = &EDGE_STATIC_PODS[EDGE_STATIC_PODS.len() - 1];
                for s in &EDGE_STATIC_PODS {
                    if allocated + placer.cpu_request(s, Variant::Running)? > allocatable {
                        chosen = s;
                        break;
                    }
                }
                placer.put(n, chosen, Variant::Running, true)?;
                plans.push(mirror_pod(chosen, n, node, 20 * 86_400, rng));
            }
            Some(EdgeCase::AllocatableShrank) => {
                let (allocated, _) = placer.cpu(n);
                node.shrunk_allocatable_cpu = Some(format!("{}m", (allocated * 85 / 100).max(1)));
            }
            _ => {}
        }
    }
    Ok((plans, weights))
}

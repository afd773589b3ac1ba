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
//!
//! The parts, each in its own file: the catalogue (`pools.rs`, `workloads.rs`), the planner
//! (`plan.rs`, its records in `planned.rs`, placement in `place.rs`), the renderers (`node.rs`,
//! `pod.rs`, `dra.rs` for Dynamic Resource Allocation) and the pod templates (`template.rs`). This
//! file runs them in order and makes the objects churn adds later.

mod dra;
mod node;
mod place;
mod plan;
mod planned;
mod pod;
mod pools;
mod template;
mod workloads;

use std::collections::HashMap;
use std::thread;

use serde_json::Value;

use crate::object::Object;
use crate::rng::Rng;

pub use dra::{
    allocate, claim_class, deallocate, extended_claim, gpu_requests, node_allocation_selector,
    node_slice, pod_claim, result_request, strip_gpu_requests, Allocated, GPU_DRIVER, GPU_RESOURCE,
    NIC_DRIVER, SHARED_POOL,
};
pub use node::EDGE_CASE_LABEL;

use node::render_node;
use plan::{draw, node_name, plan_nodes, plan_pods};
use planned::{NodePlan, NodeState, PodPlan, Variant};
use pod::{render_pod, PodVars};
use pools::{POOLS, ZONES};
use template::Template;
use workloads::{Owner, Workload, DAEMONSETS, WORKLOADS};

/// The regular workloads' draw weights (in catalogue order) a generated cluster was sized with;
/// churn creates pods from the same mix, so the cluster keeps its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix(Vec<u64>);

impl Mix {
    /// The catalogue's own weights (for a cluster loaded from a scenario file).
    pub fn catalogue() -> Mix {
        Mix(WORKLOADS.iter().map(|w| w.weight).collect())
    }

    /// A regular workload drawn by the weights, by index (see [`workload_named`]).
    pub fn draw(&self, rng: &mut Rng) -> usize {
        draw(&self.0, rng)
    }
}

/// A generated cluster: its objects and the mix its regular pods were drawn from.
pub struct Cluster {
    /// Nodes, then pods, with resourceVersions 2, 3, ...
    pub objects: Vec<Object>,
    /// The mix of the fill.
    pub mix: Mix,
}

/// Generates `nodes` nodes and `pods` pods for `seed`, with resourceVersions 2, 3, ... in
/// (nodes, pods, DRA objects) order. The same arguments always give the same bytes.
pub fn generate(nodes: usize, pods: usize, seed: u64) -> Result<Cluster, String> {
    generate_with(nodes, pods, seed, 0)
}

/// [`generate`], and with `dra_devices_per_node` > 0 every worker node not managed by the DRA
/// scenario also publishes that many GPU devices, about 70 % of them allocated (benchmarks).
pub fn generate_with(
    nodes: usize,
    pods: usize,
    seed: u64,
    dra_devices_per_node: usize,
) -> Result<Cluster, String> {
    let mut rng = Rng::new(seed);
    let mut node_plans = plan_nodes(nodes, &mut rng);
    let (pod_plans, weights) = plan_pods(&mut node_plans, pods, &mut rng)?;
    let node_plans = node_plans;
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
    dra::add_dra(
        &node_plans,
        &pod_plans,
        &mut objects,
        seed,
        dra_devices_per_node,
    )?;
    Ok(Cluster {
        objects,
        mix: Mix(weights),
    })
}

/// Index of the regular workload whose pods carry `app.kubernetes.io/name=name`.
pub fn workload_named(name: &str) -> Option<usize> {
    WORKLOADS.iter().position(|w| w.name == name)
}

/// Whether the pods of regular workload `workload` are a Job's (they run to completion).
pub fn completes(workload: usize) -> bool {
    WORKLOADS
        .get(workload)
        .is_some_and(|w| matches!(w.owner, Owner::Job | Owner::CronJob))
}

/// A node plan for a pod rendered outside the planner.
fn lone_node(node: Option<(&str, &str)>, now: i64) -> NodePlan {
    NodePlan {
        name: node.map_or_else(String::new, |(name, _)| name.to_string()),
        ip: node.map_or_else(String::new, |(_, ip)| ip.to_string()),
        pool: &POOLS[0],
        zone: ZONES[0],
        state: NodeState::Ready,
        created: now,
        control_plane: false,
        edge: None,
        shrunk_allocatable_cpu: None,
        dra_gpus: 0,
    }
}

fn churn_render(
    w: &'static Workload,
    plan: &PodPlan,
    node: Option<(&str, &str)>,
    rng: &mut Rng,
    now: i64,
) -> Value {
    let vars = PodVars::for_pod(plan, &[lone_node(node, now)], rng, 0);
    let mut v = render_pod(w, plan.variant, &plan.template_hash, &vars, 1);
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    v
}

/// A fresh pod for churn: regular workload number `workload` (see [`workload_named`]) on `node`
/// (None = Pending, unschedulable).
pub fn churn_pod(
    seed: u64,
    n: u64,
    workload: usize,
    node: Option<(&str, &str)>,
    now: i64,
) -> Value {
    let mut rng = Rng::for_item(seed, 7, n);
    let w = WORKLOADS.get(workload).unwrap_or(&WORKLOADS[0]);
    let hash = Rng::for_item(seed, 8, 0).suffix(10);
    let owner_name = if matches!(w.owner, Owner::Job | Owner::CronJob) {
        format!("{}-c{n}", w.name)
    } else {
        format!("{}-{hash}", w.name)
    };
    let plan = PodPlan {
        workload: w,
        name: format!("{owner_name}-{}", rng.suffix(5)),
        owner_name,
        template_hash: hash,
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
    churn_render(w, &plan, node, &mut rng, now)
}

/// The pod DaemonSet `daemonset` (one of the catalogue's, by name) runs on a node churn added;
/// None for another name.
pub fn churn_daemon_pod(
    seed: u64,
    n: u64,
    daemonset: &str,
    node: (&str, &str),
    now: i64,
) -> Option<Value> {
    let (i, w) = DAEMONSETS
        .iter()
        .enumerate()
        .find(|(_, d)| d.name == daemonset)?;
    let mut rng = Rng::for_item(seed, 9, n.wrapping_mul(8) + i as u64);
    let plan = PodPlan {
        workload: w,
        name: format!("{}-{}", w.name, rng.suffix(5)),
        owner_name: w.name.to_string(),
        template_hash: Rng::for_item(seed, 10, i as u64).suffix(10),
        node: Some(0),
        variant: Variant::Running,
        created: now,
        ip: node.1.to_string(),
        ordinal: 0,
    };
    Some(churn_render(w, &plan, Some(node), &mut rng, now))
}

/// A fresh node of pool `pool` (general when unknown) for churn, named `churn-10-…` after slot
/// 100,000 + `n` mod 100,000.
pub fn churn_node(seed: u64, n: u64, pool: &str, now: i64) -> Value {
    let i = 100_000 + usize::try_from(n % 100_000).unwrap_or(0);
    let (name, ip) = node_name(i);
    let plan = NodePlan {
        name: name.replace("ip-", "churn-"),
        ip,
        pool: POOLS.iter().find(|p| p.name == pool).unwrap_or(&POOLS[0]),
        zone: ZONES[i % 3],
        ..lone_node(None, now)
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
    use crate::object::Kind;
    use crate::schedule::{Accounting, CPU, SPREAD};

    /// One node: its edge-case label, allocated and allocatable in `schedule::RESOURCES` order.
    type Placed = (Option<String>, Vec<u64>, Box<[u64]>);

    /// Every node, and the pending pod count.
    fn placement(objects: &[Object]) -> (Vec<Placed>, usize) {
        let acct = Accounting::new().unwrap();
        let mut nodes = std::collections::BTreeMap::new();
        let mut pending = 0;
        for o in objects.iter().filter(|o| o.kind == Kind::Node) {
            let v = o.to_value().unwrap();
            let alloc = acct.node_allocatable(&v).unwrap();
            let edge = o.label(EDGE_CASE_LABEL).map(str::to_string);
            nodes.insert(o.name.to_string(), (edge, vec![0; alloc.len()], alloc));
        }
        // A DRA-managed node's GPUs are its published devices.
        for o in objects.iter().filter(|o| o.kind == Kind::ResourceSlice) {
            let v = o.to_value().unwrap();
            if let Some(node) = nodes.get_mut(&*o.node_name) {
                if node.2[4] == 0 {
                    node.2[4] = v["spec"]["devices"].as_array().unwrap().len() as u64;
                }
            }
        }
        for o in objects.iter().filter(|o| o.kind == Kind::Pod) {
            let d = acct.pod_bytes(&o.json).unwrap();
            if o.node_name.is_empty() && !matches!(&*o.phase, "Succeeded" | "Failed") {
                pending += 1;
            }
            if d.counts {
                let used = &mut nodes.get_mut(&*o.node_name).unwrap().1;
                for (u, r) in used.iter_mut().zip(d.requests.iter()) {
                    *u += r;
                }
            }
        }
        (nodes.into_values().collect(), pending)
    }

    #[test]
    fn pods_are_placed_only_where_they_fit_except_on_labelled_edge_case_nodes() {
        for (nodes, pods) in [(12, 400), (10, 300), (60, 1800), (3, 40)] {
            let objects = generate(nodes, pods, 1).unwrap().objects;
            let (placed, pending) = placement(&objects);
            let mut edge = 0;
            let (mut used_cpu, mut alloc_cpu) = (0, 0);
            let mut tightest = Vec::new();
            for (label, used, alloc) in &placed {
                used_cpu += used[CPU];
                alloc_cpu += alloc[CPU];
                let over = used.iter().zip(alloc.iter()).any(|(u, a)| u > a);
                if label.is_some() {
                    edge += 1;
                } else {
                    assert!(
                        !over,
                        "{used:?} > {alloc:?} on a node without an edge-case label"
                    );
                }
                tightest.push(
                    (0..SPREAD)
                        .map(|i| used[i] as f64 / alloc[i].max(1) as f64)
                        .fold(0.0, f64::max),
                );
            }
            tightest.sort_by(f64::total_cmp);
            eprintln!(
                "{nodes}/{pods}: cluster cpu {:.1} %, pending {pending}, edge cases {edge}, tightest {:?}",
                used_cpu as f64 * 100.0 / alloc_cpu as f64,
                tightest.iter().map(|t| (t * 100.0).round()).collect::<Vec<_>>()
            );
            assert!(
                edge >= 1 && edge <= (nodes / 100).max(1),
                "{edge} edge cases"
            );
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
        let a = generate(12, 200, 42).unwrap().objects;
        let b = generate(12, 200, 42).unwrap().objects;
        let c = generate(12, 200, 43).unwrap().objects;
        assert_eq!(
            a.iter()
                .filter(|o| matches!(o.kind, Kind::Node | Kind::Pod))
                .count(),
            212
        );
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(&b).all(|(x, y)| x.json == y.json));
        assert!(a.iter().zip(&c).any(|(x, y)| x.json != y.json));
    }

    #[test]
    fn the_dra_scenario_is_there_and_keeps_its_promises() {
        for (nodes, pods, per_node) in [(12, 400, 0), (60, 1800, 0), (30, 600, 8), (3, 40, 0)] {
            let objects = generate_with(nodes, pods, 7, per_node).unwrap().objects;
            crate::invariants::check_dra(&objects).unwrap();
            let count = |k: Kind| objects.iter().filter(|o| o.kind == k).count();
            assert_eq!(count(Kind::DeviceClass), 4);
            let claims: Vec<Value> = objects
                .iter()
                .filter(|o| o.kind == Kind::ResourceClaim)
                .map(|o| o.to_value().unwrap())
                .collect();
            let name = |c: &Value| c["metadata"]["name"].as_str().unwrap().to_string();
            if nodes >= 12 {
                assert!(count(Kind::ResourceSlice) >= 3, "{nodes}: slices");
                assert!(
                    claims
                        .iter()
                        .any(|c| name(c).contains("-extended-resources-")),
                    "{nodes}: extended claims"
                );
                assert!(
                    claims.iter().any(|c| c["status"]["allocation"].is_null()),
                    "{nodes}: a pending claim"
                );
                assert!(
                    claims
                        .iter()
                        .any(
                            |c| c["status"]["allocation"]["devices"]["results"][0]["request"]
                                .as_str()
                                .unwrap_or("")
                                .contains('/')
                        ),
                    "{nodes}: firstAvailable"
                );
            }
            if per_node > 0 {
                assert!(claims.iter().any(|c| name(c).contains("-bench-")));
            }
        }
    }

    #[test]
    fn pods_are_full_size_and_parse_back() {
        let objs = generate(10, 300, 1).unwrap().objects;
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

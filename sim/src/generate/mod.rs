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
//! (`plan.rs`), the renderers (`node.rs`, `pod.rs`) and the pod templates (`template.rs`). This
//! file runs them in order and makes the objects churn adds later.

mod node;
mod plan;
mod pod;
mod pools;
mod template;
mod workloads;

use std::collections::HashMap;
use std::thread;

use serde_json::Value;

use crate::object::Object;
use crate::rng::Rng;

use node::render_node;
use plan::{
    node_name, pick_workload, plan_nodes, plan_pods, NodePlan, NodeState, PodPlan, Variant,
};
use pod::{render_pod, PodVars};
use pools::{POOLS, ZONES};
use template::Template;
use workloads::Owner;

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

/// A fresh general-pool node for churn, named `churn-10-…` after slot 100,000 + `n` mod 100,000.
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

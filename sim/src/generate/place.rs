//! The planner's scheduler. Per planned node: its allocatable (the exporter's accounting of the
//! node the renderer will produce), what is allocated so far, and a target fill; per workload:
//! the nodes its `nodeSelector`, affinity and tolerations admit, and its demand per status
//! variant (the exporter's accounting of the pod the renderer will produce). A pod is placed
//! only where it fits (`schedule.rs`); among fitting candidates the one furthest below its target
//! wins, so nodes end up unevenly but realistically full. It also sizes the workload mix so that
//! the requested pod count fills the cluster to its targets (`mix`).
//!
//! Sequential and deterministic (driven by the planner's PRNG); it renders no output JSON.

use std::collections::{HashMap, HashSet};

use crate::rng::Rng;
use crate::schedule::{fits, tightest_ratio, Accounting, Constraints, NodeFacts, CPU};

use super::node::node_for_placement;
use super::planned::{NodePlan, Variant};
use super::pod::{render_pod, PodVars};
use super::workloads::{Owner, Workload, WORKLOADS};

/// Share of the targets' room the regular pods are sized to fill: a little slack, so that the
/// random draws of the last pods still find room.
const FILL: f64 = 0.97;

/// Share of the free devices (GPUs, hugepages) the pods needing them may take.
const DEVICE_FILL: f64 = 0.85;

/// Identity of a catalogue entry (they are `static`s).
fn id(w: &Workload) -> usize {
    std::ptr::from_ref(w) as usize
}

/// Bookkeeping of the planned placement.
pub(super) struct Placer {
    facts: Vec<NodeFacts>,
    allocatable: Vec<Box<[u64]>>,
    used: Vec<Vec<u64>>,
    target: Vec<f64>,
    accounting: Accounting,
    node_count: usize,
    /// (workload, variant) → index into `demands`.
    demand_of: HashMap<(usize, Variant), usize>,
    demands: Vec<(Box<[u64]>, bool)>,
    /// workload → index into `eligible`.
    eligible_of: HashMap<usize, usize>,
    eligible: Vec<Vec<usize>>,
    /// Demands that fitted nowhere once: the cluster only fills up while planning, so they never
    /// will.
    full: HashSet<(usize, Variant)>,
}

impl Placer {
    /// Every node empty, each with a target fill: most between 40 % and 90 % of their tightest
    /// resource, about 3 % nearly empty (just added), about 3 % full; edge-case nodes are filled
    /// as far as they go.
    pub(super) fn new(nodes: &[NodePlan], rng: &mut Rng) -> Result<Placer, String> {
        let accounting = Accounting::new()?;
        let mut facts = Vec::with_capacity(nodes.len());
        let mut allocatable = Vec::with_capacity(nodes.len());
        for (i, plan) in nodes.iter().enumerate() {
            let node = node_for_placement(plan, i);
            facts.push(NodeFacts::of_node(&node)?);
            allocatable.push(accounting.node_allocatable(&node)?);
        }
        let target = nodes
            .iter()
            .map(|plan| {
                let u = rng.below(1000) as f64 / 1000.0;
                if plan.edge.is_some() {
                    1.0
                } else {
                    match rng.below(1000) {
                        0..=19 => 0.05 + 0.15 * u,
                        20..=59 => 0.95 + 0.05 * u,
                        _ => 0.50 + 0.42 * u,
                    }
                }
            })
            .collect();
        Ok(Placer {
            used: allocatable.iter().map(|a| vec![0; a.len()]).collect(),
            facts,
            allocatable,
            target,
            accounting,
            node_count: nodes.len(),
            demand_of: HashMap::new(),
            demands: Vec::new(),
            eligible_of: HashMap::new(),
            eligible: Vec::new(),
            full: HashSet::new(),
        })
    }

    /// Index of the demand of a pod of `w` in `variant`, rendered and accounted once.
    fn demand(&mut self, w: &Workload, variant: Variant) -> Result<usize, String> {
        if let Some(&i) = self.demand_of.get(&(id(w), variant)) {
            return Ok(i);
        }
        let vars = PodVars::placeholders(w.containers.len() + w.init.len(), true);
        let pod = render_pod(w, variant, "0000000000", &vars, self.node_count);
        let d = self.accounting.pod(&pod)?;
        self.demands.push((d.requests, d.counts));
        let i = self.demands.len() - 1;
        self.demand_of.insert((id(w), variant), i);
        Ok(i)
    }

    /// Index of the list of nodes that admit pods of `w` (resources aside), in node order.
    fn eligible(&mut self, w: &Workload) -> Result<usize, String> {
        if let Some(&i) = self.eligible_of.get(&id(w)) {
            return Ok(i);
        }
        let vars = PodVars::placeholders(w.containers.len() + w.init.len(), false);
        let constraints = Constraints::of_pod(&render_pod(
            w,
            Variant::Running,
            "0",
            &vars,
            self.node_count,
        ))?;
        let nodes = (0..self.facts.len())
            .filter(|&n| self.facts[n].admits(&constraints))
            .collect();
        self.eligible.push(nodes);
        let i = self.eligible.len() - 1;
        self.eligible_of.insert(id(w), i);
        Ok(i)
    }

    fn consume(&mut self, node: usize, demand: usize) {
        let (requests, counts) = &self.demands[demand];
        if *counts {
            for (u, r) in self.used[node].iter_mut().zip(requests.iter()) {
                *u = u.saturating_add(*r);
            }
        }
    }

    /// A pod that goes to `node` without the scheduler: a DaemonSet pod (when the node admits
    /// and fits it; false otherwise) or, with `force`, a static pod the kubelet runs anyway.
    pub(super) fn put(
        &mut self,
        node: usize,
        w: &Workload,
        variant: Variant,
        force: bool,
    ) -> Result<bool, String> {
        let d = self.demand(w, variant)?;
        if !force {
            let e = self.eligible(w)?;
            if self.eligible[e].binary_search(&node).is_err()
                || !fits(
                    &self.used[node],
                    &self.demands[d].0,
                    &self.allocatable[node],
                )
            {
                return Ok(false);
            }
        }
        self.consume(node, d);
        Ok(true)
    }

    /// Places a pod of `w` in `variant`: a terminal pod on any node that admits it (it holds
    /// nothing); a counting pod on the best of four random admitting nodes it fits, else the
    /// first fitting node from a random start, else nowhere (Pending).
    pub(super) fn place(
        &mut self,
        w: &Workload,
        variant: Variant,
        rng: &mut Rng,
    ) -> Result<Option<usize>, String> {
        let d = self.demand(w, variant)?;
        let e = self.eligible(w)?;
        let candidates = &self.eligible[e];
        if candidates.is_empty() {
            return Ok(None);
        }
        let (requests, counts) = &self.demands[d];
        if !*counts {
            return Ok(Some(candidates[rng.index(candidates.len())]));
        }
        if self.full.contains(&(id(w), variant)) {
            return Ok(None);
        }
        let mut best: Option<(f64, usize)> = None;
        for _ in 0..4 {
            let n = candidates[rng.index(candidates.len())];
            if fits(&self.used[n], requests, &self.allocatable[n]) {
                let score = tightest_ratio(&self.used[n], requests, &self.allocatable[n])
                    / self.target[n].max(0.01);
                if best.is_none_or(|(s, _)| score < s) {
                    best = Some((score, n));
                }
            }
        }
        let chosen = best.map(|(_, n)| n).or_else(|| {
            let start = rng.index(candidates.len());
            (0..candidates.len())
                .map(|k| candidates[(start + k) % candidates.len()])
                .find(|&n| fits(&self.used[n], requests, &self.allocatable[n]))
        });
        match chosen {
            Some(n) => {
                self.consume(n, d);
                Ok(Some(n))
            }
            None => {
                self.full.insert((id(w), variant));
                Ok(None)
            }
        }
    }

    /// Allocated cpu (millicores) and allocatable cpu of a node.
    pub(super) fn cpu(&self, node: usize) -> (u64, u64) {
        (self.used[node][CPU], self.allocatable[node][CPU])
    }

    /// The cpu (millicores) a counting pod of `w` in `variant` requests.
    pub(super) fn cpu_request(&mut self, w: &Workload, variant: Variant) -> Result<u64, String> {
        let d = self.demand(w, variant)?;
        Ok(self.demands[d].0[CPU])
    }

    /// How many pods of `w` the free devices (GPUs, hugepages) of its nodes still take; None
    /// when it requests no device.
    fn device_slots(&mut self, w: &Workload) -> Result<Option<u64>, String> {
        let d = self.demand(w, Variant::Running)?;
        let e = self.eligible(w)?;
        let requests = &self.demands[d].0;
        // ephemeral-storage (index 3) is not a device; GPUs and hugepages follow it.
        let devices: Vec<usize> = (4..requests.len()).filter(|&i| requests[i] > 0).collect();
        if devices.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            self.eligible[e]
                .iter()
                .map(|&n| {
                    devices
                        .iter()
                        .map(|&i| {
                            self.allocatable[n][i].saturating_sub(self.used[n][i]) / requests[i]
                        })
                        .min()
                        .unwrap_or(0)
                })
                .sum(),
        ))
    }

    /// Draw weights for the regular workloads (in `WORKLOADS` order) such that `regular` pods
    /// fill the cluster to about its targets: pods needing devices limited to the free devices,
    /// and the cpu-heavy workloads drawn more or less often so that the mean cpu of a pod on
    /// the general workers matches the room left there.
    pub(super) fn mix(&mut self, regular: usize) -> Result<Vec<u64>, String> {
        let r = regular.max(1) as f64;
        let total: f64 = WORKLOADS.iter().map(|w| w.weight as f64).sum();
        let mut expected: Vec<f64> = WORKLOADS
            .iter()
            .map(|w| r * w.weight as f64 / total)
            .collect();
        let mut device = vec![false; WORKLOADS.len()];
        let mut general = vec![false; self.facts.len()];
        for (i, w) in WORKLOADS.iter().enumerate() {
            if let Some(slots) = self.device_slots(w)? {
                device[i] = true;
                expected[i] = expected[i].min(DEVICE_FILL * slots as f64);
            } else {
                let e = self.eligible(w)?;
                for &n in &self.eligible[e] {
                    general[n] = true;
                }
            }
        }
        // Counting cpu of a drawn pod: most Job pods have completed.
        let mut cpu = Vec::with_capacity(WORKLOADS.len());
        for w in &WORKLOADS {
            let share = if matches!(w.owner, Owner::Job | Owner::CronJob) {
                0.1
            } else {
                0.99
            };
            cpu.push(self.cpu_request(w, Variant::Running)? as f64 * share);
        }
        let room: f64 = (0..self.facts.len())
            .filter(|&n| general[n])
            .map(|n| {
                (self.target[n] * self.allocatable[n][CPU] as f64 - self.used[n][CPU] as f64)
                    .max(0.0)
            })
            .sum();
        let mut budget = room * FILL;
        for (i, w) in WORKLOADS.iter().enumerate().filter(|(i, _)| device[*i]) {
            let e = self.eligible(w)?;
            if self.eligible[e].iter().all(|&n| general[n]) {
                budget -= expected[i] * cpu[i];
            }
        }
        let rest = r
            - (0..WORKLOADS.len())
                .filter(|&i| device[i])
                .map(|i| expected[i])
                .sum::<f64>();
        if rest > 0.0 {
            let mean = (budget / rest).max(0.0);
            let (mut below, mut above) = (0.0, 0.0);
            for i in (0..WORKLOADS.len()).filter(|&i| !device[i]) {
                if cpu[i] <= mean {
                    below += expected[i] * (mean - cpu[i]);
                } else {
                    above += expected[i] * (cpu[i] - mean);
                }
            }
            let heavy = if above > 0.0 {
                (below / above).clamp(0.01, 50.0)
            } else {
                1.0
            };
            let drawn: f64 = (0..WORKLOADS.len())
                .filter(|&i| !device[i])
                .map(|i| {
                    if cpu[i] <= mean {
                        expected[i]
                    } else {
                        expected[i] * heavy
                    }
                })
                .sum();
            let scale = if drawn > 0.0 { rest / drawn } else { 1.0 };
            for i in (0..WORKLOADS.len()).filter(|&i| !device[i]) {
                let factor = if cpu[i] <= mean { 1.0 } else { heavy };
                expected[i] *= factor * scale;
            }
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(expected
            .iter()
            .map(|e| (e / r * 1_000_000.0).round().max(0.0) as u64)
            .collect())
    }
}

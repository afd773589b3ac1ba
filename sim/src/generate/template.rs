//! Pod templates: a pod rendered once per (workload, variant, scheduled) with placeholder values,
//! split into literal byte segments and variable slots; filling one with a pod's `PodVars` gives
//! the same bytes as rendering that pod directly, which is what makes 150,000 full-size pods
//! cheap.
//!
//! Pure byte work: it decides nothing about what a pod contains (`pod.rs` does).

use crate::object::{Kind, Object};

use super::planned::Variant;
use super::pod::{render_pod, PodVars};
use super::workloads::Workload;

/// A pod rendered once with placeholders, split into literal segments and variable slots.
pub(super) struct Template {
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
    /// Renders a pod of `w` in `variant` with placeholders and splits it.
    pub(super) fn build(
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
    pub(super) fn fill(&self, vars: &PodVars, rv: u64) -> Object {
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::generate::plan::{plan_nodes, plan_pods};
    use crate::generate::workloads::Owner;
    use crate::rng::Rng;

    #[test]
    fn templated_pods_are_byte_identical_to_directly_rendered_ones() {
        let mut rng = Rng::new(5);
        let mut nodes = plan_nodes(12, &mut rng);
        let (plans, _) = plan_pods(&mut nodes, 400, &mut rng).unwrap();
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

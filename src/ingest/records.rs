//! Kubernetes objects become compact records here, pods and nodes alike, the moment their watch
//! event arrives: a pod's request vector by the scheduler's rule (computed while the pod is
//! decoded, `ingest::objects`), a node's allocatable, capacity, pod slots and the label values
//! its groups need. Bad quantities are counted and logged once
//! per object and field. Nothing else keeps an object.

use std::collections::HashSet;

use crate::cache::Cache;
use crate::ingest::objects::{SlimNode, SlimPod};
use crate::model::accounting::{self, BadQuantity};
use crate::model::quantity::QuantityError;
use crate::model::state::{NodeRecord, PodFacts};

/// Objects whose bad quantities were already logged, so each is logged once (bounded).
#[derive(Default)]
pub struct Warned(HashSet<String>);

impl Warned {
    /// Whether `what` is seen for the first time (then it is remembered).
    pub fn first_time(&mut self, what: String) -> bool {
        if self.0.len() >= 10_000 {
            self.0.clear();
        }
        self.0.insert(what)
    }
}

/// Takes a pod's record (made while it was decoded, `ingest::objects`), logging (once) and
/// counting its bad quantities: `None` when it counts nowhere (terminal).
pub fn pod_facts(pod: &mut SlimPod, cache: &Cache, warned: &mut Warned) -> Option<PodFacts> {
    for b in &pod.bad_quantities {
        cache
            .metrics
            .bad_quantities
            .with_label_values(&["pod"])
            .inc();
        if warned.first_time(format!("pod/{}/{}", pod.key(), b.field)) {
            log::warn!(
                "{} pod={} field={} value={:?} error={}",
                verdict(b),
                pod.key(),
                b.field,
                b.value,
                b.error
            );
        }
    }
    let facts = pod.facts.take();
    match (&facts, &pod.explanation) {
        (None, _) => log::debug!("pod not counted: terminal phase pod={}", pod.key()),
        (Some(f), Some(explanation)) => log::debug!(
            "pod accounted pod={} node={} {explanation}",
            pod.key(),
            f.node.as_deref().unwrap_or("<unbound>"),
        ),
        (Some(_), None) => {}
    }
    facts
}

/// Converts a node into its record at the edge, logging (once) and counting its bad quantities.
pub fn node_record(node: &SlimNode, cache: &Cache, warned: &mut Warned) -> NodeRecord {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    for b in &node.status.bad_quantities {
        cache
            .metrics
            .bad_quantities
            .with_label_values(&["node"])
            .inc();
        if warned.first_time(format!("node/{name}/{}", b.field)) {
            log::warn!(
                "{} node={name} field={} value={:?} error={}",
                verdict(b),
                b.field,
                b.value,
                b.error
            );
        }
    }
    let labels = node.metadata.labels.as_ref();
    NodeRecord {
        allocatable: accounting::node_allocatable(&node.status, &cache.resources),
        capacity: accounting::node_capacity(&node.status, &cache.resources),
        labels: cache
            .label_groups
            .keys()
            .iter()
            .map(|k| labels.and_then(|l| l.get(k)).map(|v| v.as_str().into()))
            .collect(),
        pod_slots: accounting::node_pod_slots(&node.status),
        unschedulable: node.spec.unschedulable,
    }
}

/// What happened to a flagged quantity: saturated (out of range) or skipped (invalid).
fn verdict(b: &BadQuantity) -> &'static str {
    if b.error == QuantityError::Overflow {
        "saturating an out-of-range quantity"
    } else {
        "skipping invalid quantity"
    }
}

//! Kubernetes objects become compact records here, pods and nodes alike, the moment their watch
//! event arrives: a pod's request vector by the scheduler's rule, a node's allocatable, capacity,
//! pod slots and the label values its groups need. Bad quantities are counted and logged once
//! per object and field. Nothing else keeps an object.

use std::collections::HashSet;

use crate::cache::Cache;
use crate::ingest::objects::{SlimNode, SlimPod};
use crate::model::accounting::{self, AccountingOptions, BadQuantity};
use crate::model::quantity::QuantityError;
use crate::model::resources::TrackedResources;
use crate::model::state::{NodeRecord, PodFacts};

/// The compact record of a pod: `None` when it counts nowhere (Succeeded or Failed).
pub fn pod_record(
    pod: &SlimPod,
    tracked: &TrackedResources,
    options: AccountingOptions,
) -> Option<PodFacts> {
    if accounting::is_terminal(&pod.status) {
        return None;
    }
    let requests = accounting::pod_requests(&pod.spec, &pod.status, tracked, options);
    let (limits, unlimited) = accounting::pod_limits(&pod.spec, &pod.status, tracked, options);
    Some(PodFacts::new(
        pod.spec.node_name.clone().filter(|n| !n.is_empty()),
        &requests,
        &limits,
        unlimited,
        pod.metadata.owner,
    ))
}

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

/// Converts a pod into its record at the edge, logging (once) and counting its bad quantities:
/// `None` when it counts nowhere (terminal).
pub fn pod_facts(
    pod: &SlimPod,
    cache: &Cache,
    options: AccountingOptions,
    warned: &mut Warned,
) -> Option<PodFacts> {
    let bad = pod
        .spec
        .bad_quantities
        .iter()
        .chain(&pod.status.bad_quantities);
    for b in bad {
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
    let facts = pod_record(pod, &cache.resources, options);
    if facts.is_none() {
        log::debug!("pod not counted: terminal phase pod={}", pod.key());
    } else if log::log_enabled!(log::Level::Debug) {
        let node = pod.spec.node_name.as_deref().unwrap_or("<unbound>");
        log::debug!(
            "pod accounted pod={} node={node} {}",
            pod.key(),
            accounting::explain(&pod.spec, &pod.status, &cache.resources, options)
        );
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

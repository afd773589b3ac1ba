//! One-shot output (`--once`, or invoked as the kubectl plugin `kubectl-binpacking`): the
//! per-node, group and cluster figures of a snapshot as an 80-column table with bars, as JSON
//! carrying the same numbers as the metrics, or as the Prometheus exposition. Pure.

use std::fmt::Write;

use serde_json::{json, Map, Value};

use crate::views::amount::{human, ratio};
use crate::views::snapshot::{Snapshot, Totals};

/// Output formats of the one-shot mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Human table with bars.
    Table,
    /// JSON document.
    Json,
    /// Prometheus text exposition.
    Prometheus,
}

/// Width of a bar's inside, in characters.
const BAR: usize = 14;

/// A text bar: `#` DaemonSets, `=` other pods, `.` free; `!` at the end when overcommitted.
fn bar(t: &Totals, r: usize) -> String {
    let util = ratio(t.allocated[r], t.allocatable[r]);
    let ds = ratio(t.daemonset(r), t.allocatable[r]).min(1.0);
    // f is clamped to [0, 1], so the cell count is within 0..=BAR.
    let cells = |f: f64| {
        (0..=BAR)
            .rev()
            .find(|&n| n as f64 <= (f * BAR as f64).round())
            .unwrap_or(0)
    };
    let ds_cells = cells(ds);
    let used = cells(util.min(1.0)).max(ds_cells);
    let mut s = String::with_capacity(BAR + 2);
    s.push('[');
    s.push_str(&"#".repeat(ds_cells));
    s.push_str(&"=".repeat(used - ds_cells));
    s.push_str(&".".repeat(BAR - used));
    s.push(if util > 1.0 { '!' } else { ']' });
    s
}

fn row(out: &mut String, name: &str, resource: &str, t: &Totals, r: usize) {
    let amount = format!(
        "{} / {}",
        human(resource, t.allocated[r]),
        human(resource, t.allocatable[r])
    );
    let pct = format!("{:.0}%", ratio(t.allocated[r], t.allocatable[r]) * 100.0);
    let _ = writeln!(
        out,
        "{:<22} {:<14} {:>17} {:>5} {}",
        clip(name, 22),
        clip(resource, 14),
        clip(&amount, 17),
        pct,
        bar(t, r)
    );
}

/// Cuts a string to `width` characters, marking the cut with `~`.
fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let mut c: String = s.chars().take(width - 1).collect();
        c.push('~');
        c
    }
}

/// The table: cluster, then each group value, then every node (by name). Lines ≤ 80 columns.
pub fn table(snapshot: &Snapshot, resources: &[String]) -> String {
    let mut out = String::new();
    let header = |out: &mut String, first: &str| {
        let _ = writeln!(
            out,
            "{first:<22} {:<14} {:>17} {:>5} #daemonset =pods",
            "RESOURCE", "ALLOCATED / ALLOC", "UTIL"
        );
    };
    let _ = writeln!(
        out,
        "cluster: {} nodes, {} pods counted, {} pending",
        snapshot.cluster.nodes, snapshot.cluster.pods, snapshot.pending.pods
    );
    header(&mut out, "CLUSTER");
    for (r, resource) in resources.iter().enumerate() {
        row(&mut out, "cluster", resource, &snapshot.cluster, r);
    }
    let mut last_group = None;
    for g in &snapshot.groups {
        if last_group != Some(&g.label_group) {
            out.push('\n');
            let _ = writeln!(out, "group {}", clip(&g.label_group, 74));
            header(&mut out, "VALUE");
            last_group = Some(&g.label_group);
        }
        for (r, resource) in resources.iter().enumerate() {
            let name = if r == 0 { g.value.as_str() } else { "" };
            row(&mut out, name, resource, &g.totals, r);
        }
    }
    out.push('\n');
    header(&mut out, "NODE");
    for n in &snapshot.nodes {
        for (r, resource) in resources.iter().enumerate() {
            let name = if r > 0 {
                String::new()
            } else if n.unschedulable {
                format!("{} (cordoned)", n.name)
            } else {
                n.name.clone()
            };
            row(&mut out, &name, resource, &n.totals, r);
        }
    }
    out
}

/// A number in metric units: cpu millicores become cores; exact integers stay integers.
fn metric_value(resource: &str, value: u128) -> Value {
    if resource == "cpu" {
        json!(value as f64 / 1000.0)
    } else {
        u64::try_from(value).map_or_else(|_| json!(value as f64), |v| json!(v))
    }
}

fn resources_json(t: &Totals, resources: &[String]) -> Value {
    let mut map = Map::new();
    for (r, resource) in resources.iter().enumerate() {
        map.insert(
            resource.clone(),
            json!({
                "allocated": metric_value(resource, t.allocated[r]),
                "allocatable": metric_value(resource, t.allocatable[r]),
                "utilization_ratio": ratio(t.allocated[r], t.allocatable[r]),
                "daemonset_overhead": metric_value(resource, t.daemonset(r)),
                "daemonset_overhead_ratio": ratio(t.daemonset(r), t.allocatable[r]),
            }),
        );
    }
    Value::Object(map)
}

/// The JSON document: the same numbers as the metrics (cpu in cores, bytes, units).
pub fn json(snapshot: &Snapshot, resources: &[String]) -> String {
    let doc = json!({
        "cluster": {
            "nodes": snapshot.cluster.nodes,
            "pods": snapshot.cluster.pods,
            "pending_pods": snapshot.pending.pods,
            "resources": resources_json(&snapshot.cluster, resources),
        },
        "groups": snapshot.groups.iter().map(|g| json!({
            "label_group": g.label_group,
            "label_group_value": g.value,
            "nodes": g.totals.nodes,
            "resources": resources_json(&g.totals, resources),
        })).collect::<Vec<_>>(),
        "nodes": snapshot.nodes.iter().map(|n| json!({
            "node": n.name,
            "unschedulable": n.unschedulable,
            "pods": n.totals.pods,
            "resources": resources_json(&n.totals, resources),
        })).collect::<Vec<_>>(),
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::label_groups::LabelGroups;
    use crate::model::state::tests::{node, pod};
    use crate::model::state::{ClusterState, Owner};

    fn snapshot() -> Snapshot {
        let mut s = ClusterState::new(2);
        let mut n = node(&[4000, 16 << 30]);
        n.labels = vec![Some("a-very-long-zone-name-that-will-not-fit".into())].into_boxed_slice();
        s.apply_node("a-node-with-an-extremely-long-name-indeed", n);
        s.apply_node("b", node(&[1000, 1 << 30]));
        s.apply_pod("x/p", pod(Some("b"), &[1500, 1 << 29], Owner::Workload));
        s.apply_pod(
            "x/d",
            pod(
                Some("a-node-with-an-extremely-long-name-indeed"),
                &[1000, 0],
                Owner::DaemonSet,
            ),
        );
        Snapshot::take(&s, &LabelGroups::new(&[vec!["zone".into()]]), 0)
    }

    #[test]
    fn the_table_fits_80_columns_and_shows_bars() {
        let resources = ["cpu".to_owned(), "memory".to_owned()];
        let t = table(&snapshot(), &resources);
        for line in t.lines() {
            assert!(
                line.chars().count() <= 80,
                "{} columns: {line}",
                line.chars().count()
            );
        }
        assert!(t.contains("1.5 / 1"), "{t}");
        assert!(t.contains("150% [==============!"), "{t}");
        assert!(t.contains("[####..........]"), "{t}");
        assert!(t.contains("a-node-with-an-extrem~"));
    }

    #[test]
    fn json_carries_metric_units() {
        let resources = ["cpu".to_owned(), "memory".to_owned()];
        let v: Value = serde_json::from_str(&json(&snapshot(), &resources)).unwrap();
        assert_eq!(v["cluster"]["resources"]["cpu"]["allocated"], json!(2.5));
        assert_eq!(
            v["cluster"]["resources"]["memory"]["allocatable"],
            json!(17_u64 << 30)
        );
        assert_eq!(v["nodes"][1]["node"], "b");
        assert_eq!(
            v["nodes"][1]["resources"]["cpu"]["utilization_ratio"],
            json!(1.5)
        );
        assert_eq!(v["groups"].as_array().unwrap().len(), 2);
    }
}

//! Hand-encoded Prometheus text exposition (format 0.0.4) of a [`Snapshot`]: metric names and
//! HELP texts live here. Families come in name order and series in label order, so the same
//! state always gives the same bytes. Values are exact integers until the last step: CPU is
//! printed as cores from millicores by decimal formatting, never through a float.

use std::fmt::Write;

use crate::snapshot::{Snapshot, Totals};

/// Content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What to encode besides the snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// Tracked resource names, in the order of the snapshot's vectors.
    pub resources: &'a [String],
    /// Whether per-node families are exported.
    pub node_metrics: bool,
    /// Whether label groups are configured (group families are exported even when empty).
    pub label_groups: bool,
    /// Seconds since the stalest watch last heard from the API server; `None` before any.
    pub cache_age_seconds: Option<f64>,
}

/// A family of per-resource series: name suffix, HELP, and how to get the value from totals.
struct Family {
    suffix: &'static str,
    help: &'static str,
    value: fn(&Totals, usize, bool, &mut String),
}

const RESOURCE_FAMILIES: &[Family] = &[
    Family {
        suffix: "allocatable",
        help: "allocatable resources (node status.allocatable; cpu in cores, memory and storage in bytes, others in units)",
        value: |t, r, cpu, out| write_amount(out, t.allocatable[r], cpu),
    },
    Family {
        suffix: "allocated",
        help: "sum of the requests of the pods counted on the nodes, as kube-scheduler accounts them (cpu in cores, memory and storage in bytes, others in units; pods = number of pods)",
        value: |t, r, cpu, out| write_amount(out, t.allocated[r], cpu),
    },
    Family {
        suffix: "daemonset_overhead",
        help: "sum of the requests of DaemonSet pods (same units as allocated)",
        value: |t, r, cpu, out| write_amount(out, t.daemonset(r), cpu),
    },
    Family {
        suffix: "daemonset_overhead_ratio",
        help: "DaemonSet overhead divided by allocatable (0 when allocatable is 0)",
        value: |t, r, _, out| write_ratio(out, t.daemonset(r), t.allocatable[r]),
    },
    Family {
        suffix: "utilization_ratio",
        help: "allocated divided by allocatable (0 when allocatable is 0; above 1 when overcommitted)",
        value: |t, r, _, out| write_ratio(out, t.allocated[r], t.allocatable[r]),
    },
];

/// Encodes the binpacking families into `out` (appending).
pub fn encode(snapshot: &Snapshot, opts: &Options<'_>, out: &mut String) {
    // Resources in name order, so series are sorted by label value.
    let mut order: Vec<usize> = (0..opts.resources.len()).collect();
    order.sort_by(|&a, &b| opts.resources[a].cmp(&opts.resources[b]));

    header(
        out,
        "binpacking_cache_age_seconds",
        "seconds since the stalest watch (nodes or pods) last received an event or bookmark from the API server",
    );
    out.push_str("binpacking_cache_age_seconds ");
    write_float(out, opts.cache_age_seconds.unwrap_or(0.0));
    out.push('\n');

    for family in RESOURCE_FAMILIES {
        header_scoped(out, "cluster", family, "cluster-wide");
        for &r in &order {
            let _ = write!(out, "binpacking_cluster_{}{{resource=\"", family.suffix);
            escape_into(out, &opts.resources[r]);
            out.push_str("\"} ");
            (family.value)(&snapshot.cluster, r, is_cpu(&opts.resources[r]), out);
            out.push('\n');
        }
    }
    header(out, "binpacking_cluster_nodes", "number of nodes tracked");
    let _ = writeln!(out, "binpacking_cluster_nodes {}", snapshot.cluster.nodes);

    if opts.label_groups {
        for family in RESOURCE_FAMILIES {
            header_scoped(out, "group", family, "per label group value");
            for group in &snapshot.groups {
                for &r in &order {
                    let _ = write!(out, "binpacking_group_{}{{label_group=\"", family.suffix);
                    escape_into(out, &group.label_group);
                    out.push_str("\",label_group_value=\"");
                    escape_into(out, &group.value);
                    out.push_str("\",resource=\"");
                    escape_into(out, &opts.resources[r]);
                    out.push_str("\"} ");
                    (family.value)(&group.totals, r, is_cpu(&opts.resources[r]), out);
                    out.push('\n');
                }
            }
        }
        header(
            out,
            "binpacking_group_nodes",
            "number of nodes per label group value",
        );
        for group in &snapshot.groups {
            out.push_str("binpacking_group_nodes{label_group=\"");
            escape_into(out, &group.label_group);
            out.push_str("\",label_group_value=\"");
            escape_into(out, &group.value);
            let _ = writeln!(out, "\"}} {}", group.totals.nodes);
        }
    }

    if opts.node_metrics {
        for family in RESOURCE_FAMILIES {
            header_scoped(out, "node", family, "per node");
            for node in &snapshot.nodes {
                for &r in &order {
                    let _ = write!(out, "binpacking_node_{}{{node=\"", family.suffix);
                    escape_into(out, &node.name);
                    out.push_str("\",resource=\"");
                    escape_into(out, &opts.resources[r]);
                    out.push_str("\"} ");
                    (family.value)(&node.totals, r, is_cpu(&opts.resources[r]), out);
                    out.push('\n');
                }
            }
        }
    }
}

fn is_cpu(resource: &str) -> bool {
    resource == "cpu"
}

fn header(out: &mut String, name: &str, help: &str) {
    let _ = write!(out, "# HELP {name} ");
    escape_help_into(out, help);
    let _ = writeln!(out, "\n# TYPE {name} gauge");
}

fn header_scoped(out: &mut String, scope: &str, family: &Family, scope_desc: &str) {
    let name = format!("binpacking_{scope}_{}", family.suffix);
    header(out, &name, &format!("{} ({scope_desc})", family.help));
}

/// Writes an exact amount: millicores as cores for cpu, plain integers otherwise.
fn write_amount(out: &mut String, value: u128, cpu: bool) {
    if !cpu {
        let _ = write!(out, "{value}");
        return;
    }
    let (whole, frac) = (value / 1000, value % 1000);
    if frac == 0 {
        let _ = write!(out, "{whole}");
    } else {
        let digits = format!("{frac:03}");
        let _ = write!(out, "{whole}.{}", digits.trim_end_matches('0'));
    }
}

/// Writes `num / den`, or 0 when `den` is 0.
fn write_ratio(out: &mut String, num: u128, den: u128) {
    let ratio = if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    };
    write_float(out, ratio);
}

/// Writes a float in a form Prometheus parses; non-finite values are spelled as Prometheus does.
fn write_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Escapes a label value: backslash, double quote and newline.
pub fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Escapes HELP text: backslash and newline.
fn escape_help_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::LabelGroups;
    use crate::state::tests::{node, pod};
    use crate::state::{ClusterState, Owner};

    fn amount(value: u128, cpu: bool) -> String {
        let mut s = String::new();
        write_amount(&mut s, value, cpu);
        s
    }

    #[test]
    fn cpu_millicores_print_as_exact_cores() {
        assert_eq!(amount(3920, true), "3.92");
        assert_eq!(amount(1000, true), "1");
        assert_eq!(amount(1, true), "0.001");
        assert_eq!(amount(10, true), "0.01");
        assert_eq!(amount(0, true), "0");
        assert_eq!(amount(16_674_762_752, false), "16674762752");
        assert_eq!(
            amount(u128::from(u64::MAX) * 3, false),
            "55340232221128654845"
        );
    }

    #[test]
    fn ratios_are_zero_without_allocatable_and_never_non_finite() {
        let mut s = String::new();
        write_ratio(&mut s, 5, 0);
        s.push(' ');
        write_ratio(&mut s, 1, 4);
        s.push(' ');
        write_ratio(&mut s, 3, 2);
        assert_eq!(s, "0 0.25 1.5");
        let mut s = String::new();
        write_float(&mut s, f64::NAN);
        assert_eq!(s, "NaN");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut s = String::new();
        escape_into(&mut s, "a\\b\"c\nd");
        assert_eq!(s, r#"a\\b\"c\nd"#);
    }

    fn sample() -> (ClusterState, LabelGroups) {
        let groups = LabelGroups::new(&[vec!["zone".into()]]);
        let mut s = ClusterState::new(2);
        let mut n = node(&[16_674_762_752, 3920]);
        n.labels = vec![Some("z\"1".into())].into_boxed_slice();
        s.apply_node("n\n1", n);
        s.apply_node("n0", node(&[0, 0]));
        s.apply_pod(
            "a/p",
            pod(Some("n\n1"), &[402_653_184, 750], Owner::Workload),
        );
        s.apply_pod("a/d", pod(Some("n\n1"), &[0, 100], Owner::DaemonSet));
        (s, groups)
    }

    fn render(node_metrics: bool) -> String {
        let (s, groups) = sample();
        let resources = ["memory".to_owned(), "cpu".to_owned()];
        let mut out = String::new();
        encode(
            &Snapshot::take(&s, &groups),
            &Options {
                resources: &resources,
                node_metrics,
                label_groups: true,
                cache_age_seconds: Some(1.5),
            },
            &mut out,
        );
        out
    }

    #[test]
    fn exposition_has_each_family_once_sorted_and_escaped() {
        let out = render(true);
        for line in [
            "binpacking_cache_age_seconds 1.5",
            "binpacking_cluster_allocated{resource=\"cpu\"} 0.85",
            "binpacking_cluster_allocated{resource=\"memory\"} 402653184",
            "binpacking_cluster_nodes 2",
            "binpacking_group_nodes{label_group=\"zone\",label_group_value=\"z\\\"1\"} 1",
            "binpacking_group_nodes{label_group=\"zone\",label_group_value=\"<none>\"} 1",
            "binpacking_node_allocated{node=\"n\\n1\",resource=\"cpu\"} 0.85",
            "binpacking_node_daemonset_overhead{node=\"n\\n1\",resource=\"cpu\"} 0.1",
            "binpacking_node_utilization_ratio{node=\"n0\",resource=\"cpu\"} 0",
            "binpacking_node_daemonset_overhead_ratio{node=\"n\\n1\",resource=\"memory\"} 0",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
        let types: Vec<&str> = out.lines().filter(|l| l.starts_with("# TYPE")).collect();
        let mut unique = types.clone();
        unique.dedup();
        assert_eq!(types.len(), unique.len());
        assert_eq!(types.len(), 1 + 5 + 1 + 6 + 5);
        // Series of one family appear in label order: cpu before memory, "n\n1" before "n0".
        let node_allocated: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("binpacking_node_allocated{"))
            .collect();
        assert_eq!(node_allocated.len(), 4);
        assert!(node_allocated[0].contains("n\\n1") && node_allocated[0].contains("cpu"));
        assert!(node_allocated[3].contains("n0") && node_allocated[3].contains("memory"));
        assert_eq!(out, render(true), "same state, same bytes");
    }

    #[test]
    fn node_families_are_absent_when_disabled() {
        let out = render(false);
        assert!(!out.contains("binpacking_node_"));
        assert!(out.contains("binpacking_cluster_allocated"));
    }
}

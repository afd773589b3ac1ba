//! The devices of `--once` (table, wide, JSON) and the live page: cluster-wide by driver and by
//! DeviceClass, shared pools and nodes, allocated against published. Pure text from the
//! snapshot's [`DeviceFigures`]; nothing when the DRA objects are not watched.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::model::devices::Count;
use crate::views::snapshot::{DeviceFigures, Snapshot};

/// Columns of the device table right of the name: allocated, published, percentage.
const NUMBERS: usize = 3 * 10;

/// The device figures when there is something to show: DRA watched and some driver, class or
/// claim present.
pub fn shown(snapshot: &Snapshot) -> Option<&DeviceFigures> {
    snapshot.devices.as_ref().filter(|d| !d.is_empty())
}

/// One row: what it is (a label), its count, and whether its published figure is known.
pub struct Row {
    /// `cluster DRIVER`, `class NAME`, `pool DRIVER/POOL`, `node NAME DRIVER`.
    pub name: String,
    /// Allocated and published.
    pub count: Count,
    /// False for an unresolved class: its published devices are not counted.
    pub published_known: bool,
}

/// The rows, in the order the table and the page show them.
pub fn rows(snapshot: &Snapshot, devices: &DeviceFigures) -> Vec<Row> {
    let mut rows = Vec::new();
    for (driver, count) in &devices.cluster.drivers {
        rows.push(Row {
            name: format!("cluster {driver}"),
            count: *count,
            published_known: true,
        });
    }
    for class in &devices.classes {
        let count = devices
            .cluster
            .classes
            .iter()
            .find(|(n, _)| *n == class.name)
            .map_or_else(Count::default, |(_, c)| *c);
        let backs = class
            .extended_resource
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        rows.push(Row {
            name: format!("class {}{backs}", class.name),
            count,
            published_known: class.resolved,
        });
    }
    for (driver, pool, place) in &devices.pools {
        let count = place.total();
        rows.push(Row {
            name: format!("pool {driver}/{pool}"),
            count,
            published_known: true,
        });
    }
    for (i, place) in &devices.nodes {
        for (driver, count) in &place.drivers {
            rows.push(Row {
                name: format!("node {} {driver}", snapshot.nodes[*i].name),
                count: *count,
                published_known: true,
            });
        }
    }
    rows
}

/// `allocated / published` as a whole percentage (half up), or `-` when not known.
pub fn percent(row: &Row) -> String {
    if !row.published_known || row.count.published == 0 {
        return "-".to_owned();
    }
    // Rounded half up in integers: 5 of 8 is 63%.
    let (allocated, published) = (
        u128::from(row.count.allocated),
        u128::from(row.count.published),
    );
    format!("{}%", (allocated * 200 + published) / (2 * published))
}

/// The device section of the `--once` table: empty without device figures. Every name whole; a
/// name too long for its column stands on its own line, so lines stay within 80 columns.
pub fn table(snapshot: &Snapshot) -> String {
    let Some(devices) = shown(snapshot) else {
        return String::new();
    };
    let rows = rows(snapshot, devices);
    let mut out = String::new();
    let (allocated, pending) = devices.claims;
    let _ = writeln!(
        out,
        "\ndevices (DRA): {allocated} claims allocated, {pending} pending"
    );
    let name_width = 80 - NUMBERS;
    let _ = writeln!(
        out,
        "{:<name_width$}{:>10}{:>10}{:>10}",
        "DEVICES", "ALLOCATED", "PUBLISHED", "USED"
    );
    for row in &rows {
        let published = if row.published_known {
            row.count.published.to_string()
        } else {
            "-".to_owned()
        };
        let name = if row.name.chars().count() >= name_width {
            let _ = writeln!(out, "{}", row.name);
            ""
        } else {
            row.name.as_str()
        };
        let _ = writeln!(
            out,
            "{name:<name_width$}{:>10}{published:>10}{:>10}",
            row.count.allocated,
            percent(row)
        );
    }
    out
}

/// The devices for `--once --output json` (`null` without device figures).
pub fn json(snapshot: &Snapshot) -> Value {
    let Some(devices) = shown(snapshot) else {
        return Value::Null;
    };
    let counts = |counts: &[(String, Count)], key: &str| -> Vec<Value> {
        counts
            .iter()
            .map(|(name, c)| json!({key: name, "published": c.published, "allocated": c.allocated}))
            .collect()
    };
    json!({
        "claims": {"allocated": devices.claims.0, "pending": devices.claims.1},
        "drivers": counts(&devices.cluster.drivers, "driver"),
        "classes": devices.classes.iter().map(|c| json!({
            "device_class": c.name,
            "resolved": c.resolved,
            "extended_resource": c.extended_resource,
        })).collect::<Vec<_>>(),
        "class_devices": devices.cluster.classes.iter().map(|(name, c)| {
            // An unresolved class's published devices are unknown, not 0.
            let resolved = devices.classes.iter().any(|k| k.name == *name && k.resolved);
            json!({"device_class": name, "published": resolved.then_some(c.published),
                   "allocated": c.allocated})
        }).collect::<Vec<_>>(),
        "pools": devices.pools.iter().map(|(driver, pool, place)| json!({
            "driver": driver,
            "pool": pool,
            "devices": counts(&place.drivers, "driver"),
        })).collect::<Vec<_>>(),
        "nodes": devices.nodes.iter().map(|(i, place)| json!({
            "node": snapshot.nodes[*i].name,
            "devices": counts(&place.drivers, "driver"),
            "class_devices": counts(&place.classes, "device_class"),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::devices::{ClassInfo, PlaceDevices};
    use crate::model::label_groups::LabelGroups;
    use crate::model::state::tests::node;
    use crate::model::state::ClusterState;

    const LONG: &str = "gpu-node-with-a-name-long-enough-to-need-a-line-of-its-own-x";

    fn count(published: u64, allocated: u64) -> Count {
        Count {
            published,
            allocated,
        }
    }

    fn snapshot() -> Snapshot {
        let mut state = ClusterState::new(1);
        state.apply_node(LONG, node(&[1000]));
        let mut s = Snapshot::take(&state, &LabelGroups::new(&[]), 0);
        s.devices = Some(DeviceFigures {
            cluster: PlaceDevices {
                drivers: vec![("gpu.example.com".into(), count(8, 6))],
                classes: vec![("gpu".into(), count(8, 5)), ("big".into(), count(0, 1))],
            },
            nodes: vec![(
                0,
                PlaceDevices {
                    drivers: vec![("gpu.example.com".into(), count(8, 6))],
                    classes: vec![],
                },
            )],
            classes: vec![
                ClassInfo {
                    name: "big".into(),
                    resolved: false,
                    extended_resource: None,
                },
                ClassInfo {
                    name: "gpu".into(),
                    resolved: true,
                    extended_resource: Some("nvidia.com/gpu".into()),
                },
            ],
            claims: (6, 1),
            ..DeviceFigures::default()
        });
        s
    }

    #[test]
    fn the_device_table_shows_every_place_whole_within_80_columns() {
        let text = table(&snapshot());
        assert!(text.contains("6 claims allocated, 1 pending"), "{text}");
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("{prefix} missing:\n{text}"))
                .split_whitespace()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            line("cluster gpu.example.com"),
            ["cluster", "gpu.example.com", "6", "8", "75%"]
        );
        assert_eq!(line("class big"), ["class", "big", "1", "-", "-"]);
        assert_eq!(
            line("class gpu"),
            ["class", "gpu", "(nvidia.com/gpu)", "5", "8", "63%"]
        );
        assert!(
            text.contains(&format!("node {LONG} gpu.example.com\n")),
            "{text}"
        );
        for l in text.lines() {
            assert!(l.chars().count() <= 80 || !l.contains("  "), "{l}");
        }
        assert_eq!(
            table(&Snapshot {
                devices: None,
                ..snapshot()
            }),
            ""
        );
    }

    #[test]
    fn the_device_json_carries_every_count() {
        let v = json(&snapshot());
        assert_eq!(v["claims"]["allocated"], 6);
        assert_eq!(v["drivers"][0]["published"], 8);
        assert_eq!(v["classes"][1]["extended_resource"], "nvidia.com/gpu");
        assert_eq!(v["nodes"][0]["devices"][0]["allocated"], 6);
        assert_eq!(v["class_devices"][1]["device_class"], "big");
        assert_eq!(
            v["class_devices"][1]["published"],
            Value::Null,
            "unresolved: unknown"
        );
        assert_eq!(v["class_devices"][0]["published"], 8);
    }
}

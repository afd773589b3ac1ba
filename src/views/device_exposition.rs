//! Hand-encoded exposition of the DRA device figures ([`DeviceFigures`]): cluster-wide by driver
//! and by DeviceClass, the classes, the claims, shared pools, label group values and nodes. Names
//! and HELP texts come from the [`catalogue`]; the value writers and escaping are the main
//! exposition's. Written after the resource families, only once the DRA objects are watched and
//! listed, so a cluster without DRA gets exactly the bytes it got before. Series are sorted by
//! their labels (places in order, drivers and classes by name within each).

use std::collections::BTreeSet;

use crate::model::devices::Count;
use crate::views::catalogue::{
    self, DeviceFamilies, Family, CLASS_DEVICES, CLUSTER_DEVICES, GROUP_DEVICES,
    NODE_CLASS_DEVICES, NODE_DEVICES, POOL_DEVICES,
};
use crate::views::device_report;
use crate::views::exposition::{
    escape_into, group_labels, header, write_int, write_ratio, Families,
};
use crate::views::snapshot::{DeviceFigures, Snapshot};

/// One place (the cluster, a pool, a group value, a node): its escaped label prefix (`node="x",`)
/// and its counts by driver or class name.
struct Place<'a> {
    labels: String,
    counts: &'a [(String, Count)],
}

/// Appends the device families of `snapshot` (nothing without device figures or when
/// `families.devices` is off). `label_groups`: whether label groups are configured.
pub fn encode(snapshot: &Snapshot, families: Families, label_groups: bool, out: &mut Vec<u8>) {
    // A cluster that serves DRA without using it gets exactly the bytes it got before.
    let Some(devices) = device_report::shown(snapshot).filter(|_| families.devices) else {
        return;
    };
    let cluster = [Place {
        labels: String::new(),
        counts: &devices.cluster.drivers,
    }];
    write_scope(out, &CLUSTER_DEVICES, "driver", &cluster, |_| true);
    write_classes(out, devices);
    write_claims(out, devices.claims);

    // A shared pool belongs to one driver: `driver="D",` is the place, the pool the name.
    let pools: Vec<(String, [(String, Count); 1])> = devices
        .pools
        .iter()
        .map(|(driver, pool, place)| {
            let mut labels = String::from("driver=\"");
            escape_into(&mut labels, driver);
            labels.push_str("\",");
            let count = place.total();
            (labels, [(pool.clone(), count)])
        })
        .collect();
    let pools: Vec<Place<'_>> = pools
        .iter()
        .map(|(labels, counts)| Place {
            labels: labels.clone(),
            counts,
        })
        .collect();
    write_scope(out, &POOL_DEVICES, "pool", &pools, |_| true);

    if label_groups {
        let groups: Vec<Place<'_>> = snapshot
            .groups
            .iter()
            .zip(&devices.groups)
            .map(|(g, place)| Place {
                labels: group_labels(&g.label_group, &g.value),
                counts: &place.drivers,
            })
            .collect();
        write_scope(out, &GROUP_DEVICES, "driver", &groups, |_| true);
    }

    if families.node {
        let node_label = |i: usize| {
            let mut labels = String::from("node=\"");
            escape_into(&mut labels, &snapshot.nodes[i].name);
            labels.push_str("\",");
            labels
        };
        let by_driver: Vec<Place<'_>> = devices
            .nodes
            .iter()
            .map(|(i, place)| Place {
                labels: node_label(*i),
                counts: &place.drivers,
            })
            .collect();
        write_scope(out, &NODE_DEVICES, "driver", &by_driver, |_| true);
        let by_class: Vec<Place<'_>> = devices
            .nodes
            .iter()
            .map(|(i, place)| Place {
                labels: node_label(*i),
                counts: &place.classes,
            })
            .collect();
        let resolved = resolved_classes(devices);
        write_scope(
            out,
            &NODE_CLASS_DEVICES,
            "device_class",
            &by_class,
            |class| resolved.contains(class),
        );
    }
}

/// The classes whose published devices are counted.
fn resolved_classes(devices: &DeviceFigures) -> BTreeSet<&str> {
    devices
        .classes
        .iter()
        .filter(|c| c.resolved)
        .map(|c| c.name.as_str())
        .collect()
}

/// The families of one scope: per place, one series per name; `published` says for which names
/// the published count is known (resolved classes).
fn write_scope(
    out: &mut Vec<u8>,
    families: &'static DeviceFamilies,
    label: &str,
    places: &[Place<'_>],
    published: impl Fn(&str) -> bool,
) {
    let series = |out: &mut Vec<u8>, family: &Family, value: &dyn Fn(&mut Vec<u8>, Count)| {
        let wanted = |name: &str| family.name == families.allocated.name || published(name);
        // A family without a series is not announced either.
        if !places
            .iter()
            .any(|p| p.counts.iter().any(|(name, _)| wanted(name)))
        {
            return;
        }
        header(out, family);
        for place in places {
            for (name, count) in place.counts {
                if wanted(name) {
                    series_start(out, family, &place.labels, label, name);
                    value(out, *count);
                    out.push(b'\n');
                }
            }
        }
    };
    series(out, &families.devices, &|out, c| {
        write_int(out, u128::from(c.published));
    });
    series(out, &families.allocated, &|out, c| {
        write_int(out, u128::from(c.allocated));
    });
    if let Some(ratio) = &families.utilization_ratio {
        series(out, ratio, &|out, c| {
            write_ratio(out, u128::from(c.allocated), u128::from(c.published));
        });
    }
}

/// Cluster-wide by class (every known class, and classes only claims still name), and the
/// class info.
fn write_classes(out: &mut Vec<u8>, devices: &DeviceFigures) {
    let mut names: BTreeSet<&str> = devices.classes.iter().map(|c| c.name.as_str()).collect();
    names.extend(devices.cluster.classes.iter().map(|(n, _)| n.as_str()));
    let counts: Vec<(String, Count)> = names
        .iter()
        .map(|name| {
            let count = devices
                .cluster
                .classes
                .iter()
                .find(|(n, _)| n == name)
                .map_or_else(Count::default, |(_, c)| *c);
            ((*name).to_owned(), count)
        })
        .collect();
    let place = [Place {
        labels: String::new(),
        counts: &counts,
    }];
    let resolved = resolved_classes(devices);
    write_scope(out, &CLASS_DEVICES, "device_class", &place, |class| {
        resolved.contains(class)
    });
    let info = &catalogue::DEVICE_CLASS_INFO;
    if devices.classes.is_empty() {
        return;
    }
    header(out, info);
    for class in &devices.classes {
        let mut labels = String::from("device_class=\"");
        escape_into(&mut labels, &class.name);
        labels.push_str("\",extended_resource=\"");
        escape_into(
            &mut labels,
            class.extended_resource.as_deref().unwrap_or_default(),
        );
        labels.push_str("\",selectors=\"");
        labels.push_str(if class.resolved {
            "resolved"
        } else {
            "unresolved"
        });
        labels.push('"');
        out.extend_from_slice(info.name.as_bytes());
        out.push(b'{');
        out.extend_from_slice(labels.as_bytes());
        out.extend_from_slice(b"} 1\n");
    }
}

/// `binpacking_cluster_resource_claims{state}`.
fn write_claims(out: &mut Vec<u8>, (allocated, pending): (u64, u64)) {
    let family = &catalogue::RESOURCE_CLAIMS;
    header(out, family);
    for (state, n) in [("allocated", allocated), ("pending", pending)] {
        out.extend_from_slice(family.name.as_bytes());
        out.extend_from_slice(b"{state=\"");
        out.extend_from_slice(state.as_bytes());
        out.extend_from_slice(b"\"} ");
        write_int(out, u128::from(n));
        out.push(b'\n');
    }
}

/// `name{<place labels><label>="<value>"} `.
fn series_start(out: &mut Vec<u8>, family: &Family, labels: &str, label: &str, value: &str) {
    out.extend_from_slice(family.name.as_bytes());
    out.push(b'{');
    out.extend_from_slice(labels.as_bytes());
    out.extend_from_slice(label.as_bytes());
    out.extend_from_slice(b"=\"");
    let mut escaped = String::new();
    escape_into(&mut escaped, value);
    out.extend_from_slice(escaped.as_bytes());
    out.extend_from_slice(b"\"} ");
}

//! The live page served at `/`: a server-rendered view of the bin-packing (no JavaScript, no
//! external assets, refreshes itself every few seconds): cluster summary per resource, every label
//! group value, and nodes as rows of horizontal bars (allocated vs allocatable per resource, the
//! DaemonSet share drawn apart), sorted by utilization, with the numbers as text. Large clusters
//! show the most and least packed nodes and can be filtered by group value, so the page stays
//! small. Each bar carries a mark where the limits reach (orange, at the right edge in red when
//! they overcommit) and, with `--usage`, where the pods' real usage is (black). The top
//! namespaces by requests follow the groups. Pure rendering; everything that comes from outside
//! is escaped.

use std::fmt::Write;

use crate::model::health::Health;
use crate::model::resources::TrackedResources;
use crate::model::usage::USAGE_RESOURCES;
use crate::views::amount::{human, ratio};
use crate::views::device_report;
use crate::views::snapshot::{NamespaceFigures, NodeFigures, Snapshot, Totals};

/// Nodes shown at each end (most and least packed) when the node list is long.
pub const EDGE_NODES: usize = 25;

/// Namespaces shown, those requesting the largest share of the cluster first.
pub const TOP_NAMESPACES: usize = 10;

/// Seconds between automatic refreshes.
const REFRESH_SECONDS: u32 = 5;

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Decodes one `application/x-www-form-urlencoded` value (`+` and `%XX`); bad escapes are kept.
pub fn url_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(value.get(i + 1..i + 3).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of a query parameter of a request URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (url_decode(k) == name).then(|| url_decode(v))
    })
}

/// Everything the page shows.
pub struct View<'a> {
    /// The tracked resources, in vector order.
    pub resources: &'a TrackedResources,
    /// The metrics path, linked from the page.
    pub metrics_path: &'a str,
    /// Watch health.
    pub health: &'a Health,
    /// The figures.
    pub snapshot: &'a Snapshot,
    /// `label_group=value` to restrict the node list to, from the `group` query parameter.
    pub filter: Option<String>,
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#111}\
h1{font-size:1.4em;margin:0}h2{font-size:1.1em;margin:1.4em 0 .4em}\
table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;vertical-align:middle}\
th{font-weight:600;border-bottom:1px solid #ccc}tr:nth-child(even) td{background:#f6f6f6}\
.bar{display:inline-block;position:relative;width:140px;height:10px;background:#e3e3e3;\
vertical-align:middle;white-space:nowrap;overflow:hidden}.bar i{display:inline-block;height:10px}\
.bar b{position:absolute;top:0;width:2px;height:10px;margin-left:-1px}.lim{background:#e69a00}\
.lim.over{background:#d83b2f}.use{background:#111}\
.ds{background:#8a6fd1}.wl{background:#2f7ed8}.over .wl{background:#d83b2f}\
.num{font-variant-numeric:tabular-nums;white-space:nowrap}.muted{color:#666}\
.notready{color:#b00}";

/// Renders the page.
pub fn render(view: &View<'_>) -> String {
    let snap = view.snapshot;
    let resources: Vec<&str> = view
        .resources
        .names()
        .iter()
        .map(crate::model::resources::ResourceName::as_str)
        .collect();
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\
         <title>Cluster bin-packing</title><style>{STYLE}</style></head><body>\n\
         <h1>Cluster bin-packing</h1>\n<p class=\"muted\">"
    );
    let ready = view.health.readiness();
    if ready.is_ok() {
        let _ = write!(
            out,
            "{} nodes · {} pods counted · {} pending · ",
            snap.cluster.nodes, snap.cluster.pods, snap.pending.pods,
        );
    }
    let _ = write!(
        out,
        "cache age {:.1}s · ",
        view.health.cache_age().as_secs_f64()
    );
    match &ready {
        Ok(()) => out.push_str("ready"),
        Err(reason) => {
            out.push_str("<span class=\"notready\">not ready: ");
            escape_html(&mut out, reason);
            out.push_str("</span>");
        }
    }
    out.push_str(" · exporter ");
    escape_html(&mut out, env!("CARGO_PKG_VERSION"));
    if let Some(version) = view.health.server_version() {
        out.push_str(" · api server ");
        escape_html(&mut out, &version);
    }
    out.push_str(" · <a href=\"");
    escape_html(&mut out, view.metrics_path);
    out.push_str(
        "\">metrics</a> · <a href=\"/sync\">sync</a> · <a href=\"/readyz\">readyz</a></p>\n",
    );
    if ready.is_err() {
        // Before the first complete list the figures would be zeros, not the cluster.
        out.push_str(
            "<p class=\"notready\">No figures until the node and pod watches completed their \
             first list.</p>\n</body></html>\n",
        );
        return out;
    }

    out.push_str("<h2>Cluster</h2>\n<table><tr><th>resource</th><th colspan=\"2\">allocated / allocatable</th><th>DaemonSets</th></tr>\n");
    for (r, name) in resources.iter().enumerate() {
        out.push_str("<tr><td>");
        escape_html(&mut out, name);
        out.push_str("</td>");
        cell(&mut out, snap, name, &snap.cluster, r);
        let _ = writeln!(
            out,
            "<td class=\"num\">{}</td></tr>",
            human(name, snap.cluster.daemonset(r))
        );
    }
    out.push_str("</table>\n");
    let legend = legend(snap);

    if !snap.groups.is_empty() {
        out.push_str(
            "<h2>Label groups</h2>\n<table><tr><th>group</th><th>value</th><th>nodes</th>",
        );
        for name in &resources {
            out.push_str("<th>");
            escape_html(&mut out, name);
            out.push_str("</th>");
        }
        out.push_str("</tr>\n");
        for g in &snap.groups {
            out.push_str("<tr><td>");
            escape_html(&mut out, &g.label_group);
            out.push_str("</td><td><a href=\"/?group=");
            escape_html(
                &mut out,
                &url_encode(&format!("{}={}", g.label_group, g.value)),
            );
            out.push_str("\">");
            escape_html(&mut out, &g.value);
            let _ = write!(out, "</a></td><td class=\"num\">{}</td>", g.totals.nodes);
            for (r, name) in resources.iter().enumerate() {
                cell(&mut out, snap, name, &g.totals, r);
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
    }

    namespaces_and_devices(&mut out, snap, &resources);
    nodes_section(&mut out, view, &resources, &legend);
    out.push_str("</body></html>\n");
    out
}

/// What the bars show, for the line above the node table.
fn legend(snap: &Snapshot) -> String {
    let mut legend = String::from(
        "bars: <span style=\"color:#8a6fd1\">■</span> DaemonSets, \
         <span style=\"color:#2f7ed8\">■</span> other pods, \
         <span style=\"color:#e69a00\">|</span> limits",
    );
    if snap.usage_newest.is_some() {
        legend.push_str(", <b>|</b> used (metrics API)");
    }
    legend
}

/// The sections between the groups and the nodes: the namespaces, then the devices (when watched).
fn namespaces_and_devices(out: &mut String, snap: &Snapshot, resources: &[&str]) {
    namespaces_section(out, snap, resources);
    devices_section(out, snap);
}

/// The namespaces requesting the largest share of the cluster's allocatable (their highest over
/// the resources), with their pods, requests, limits and, with `--usage`, usage.
fn namespaces_section(out: &mut String, snap: &Snapshot, resources: &[&str]) {
    if snap.namespaces.is_empty() {
        return;
    }
    let share = |ns: &NamespaceFigures| {
        (0..ns.allocated.len())
            .map(|r| ratio(ns.allocated[r], snap.cluster.allocatable[r]))
            .fold(0.0, f64::max)
    };
    let mut top: Vec<&NamespaceFigures> = snap.namespaces.iter().collect();
    top.sort_by(|a, b| share(b).total_cmp(&share(a)).then(a.name.cmp(&b.name)));
    top.truncate(TOP_NAMESPACES);
    let _ =
        write!(
        out,
        "<h2>Namespaces</h2>\n<p class=\"muted\">{} of {} namespaces, the largest share of the \
         cluster first: requested (limits{})</p>\n<table><tr><th>namespace</th><th>pods</th>",
        top.len(),
        snap.namespaces.len(),
        if snap.usage_newest.is_some() { "; used" } else { "" }
    );
    for name in resources {
        out.push_str("<th>");
        escape_html(out, name);
        out.push_str("</th>");
    }
    out.push_str("</tr>\n");
    for ns in top {
        out.push_str("<tr><td>");
        escape_html(out, &ns.name);
        let _ = write!(out, "</td><td class=\"num\">{}</td>", ns.pods);
        for (r, name) in resources.iter().enumerate() {
            let _ = write!(out, "<td class=\"num\">{}", human(name, ns.allocated[r]));
            if *name != "pods" {
                let _ = write!(out, " ({}", human(name, ns.limits[r]));
                if let Some(slot) = usage_slot(snap, name).filter(|_| ns.usage.sampled()) {
                    let _ = write!(out, "; {}", human(name, u128::from(ns.usage.pods[slot])));
                }
                out.push(')');
            }
            out.push_str("</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// DRA devices (when watched): cluster-wide by driver and class, and shared pools, allocated
/// against published; how many nodes publish devices.
fn devices_section(out: &mut String, snap: &Snapshot) {
    let Some(devices) = device_report::shown(snap) else {
        return;
    };
    let _ = write!(
        out,
        "<h2>Devices (DRA)</h2>\n<p class=\"muted\">nodes with devices: {}; claims: {} \
         allocated, {} pending</p>\n<table><tr><th>devices</th><th>allocated</th>\
         <th>published</th><th>used</th></tr>\n",
        devices.nodes.len(),
        devices.claims.0,
        devices.claims.1
    );
    for row in device_report::rows(snap, devices)
        .iter()
        .filter(|r| !r.name.starts_with("node "))
    {
        out.push_str("<tr><td>");
        escape_html(out, &row.name);
        let published = if row.published_known {
            row.count.published.to_string()
        } else {
            "-".to_owned()
        };
        let _ = writeln!(
            out,
            "</td><td class=\"num\">{}</td><td class=\"num\">{published}</td>\
             <td class=\"num\">{}</td></tr>",
            row.count.allocated,
            device_report::percent(row)
        );
    }
    out.push_str("</table>\n");
}

/// The usage pair index of a resource, when usage is attached and it has usage.
fn usage_slot(snap: &Snapshot, resource: &str) -> Option<usize> {
    snap.usage_newest?;
    USAGE_RESOURCES.iter().position(|u| *u == resource)
}

fn nodes_section(out: &mut String, view: &View<'_>, resources: &[&str], legend: &str) {
    let snap = view.snapshot;
    let group_index = view.filter.as_deref().and_then(|f| {
        let (label_group, value) = f.split_once('=')?;
        let g = snap
            .groups
            .iter()
            .find(|g| g.label_group == label_group)?
            .group;
        Some((g, value.to_owned()))
    });
    let mut nodes: Vec<&NodeFigures> = snap
        .nodes
        .iter()
        .filter(|n| {
            group_index
                .as_ref()
                .is_none_or(|(g, v)| n.group_values.get(*g) == Some(v))
        })
        .collect();
    nodes.sort_by(|a, b| {
        peak(&b.totals)
            .total_cmp(&peak(&a.totals))
            .then(a.name.cmp(&b.name))
    });
    out.push_str("<h2>Nodes</h2>\n");
    if view.filter.is_some() || !snap.groups.is_empty() {
        out.push_str("<form method=\"get\" action=\"/\"><label>group <select name=\"group\"><option value=\"\">all nodes</option>");
        for g in &snap.groups {
            let key = format!("{}={}", g.label_group, g.value);
            out.push_str("<option value=\"");
            escape_html(out, &key);
            out.push('"');
            if view.filter.as_deref() == Some(key.as_str()) {
                out.push_str(" selected");
            }
            out.push('>');
            escape_html(out, &key);
            out.push_str("</option>");
        }
        out.push_str("</select></label> <button>show</button></form>\n");
    }
    let total = nodes.len();
    let shown: Vec<(&NodeFigures, bool)> = if total > 2 * EDGE_NODES {
        nodes[..EDGE_NODES]
            .iter()
            .map(|n| (*n, false))
            .chain(std::iter::once((nodes[EDGE_NODES], true)))
            .chain(nodes[total - EDGE_NODES..].iter().map(|n| (*n, false)))
            .collect()
    } else {
        nodes.iter().map(|n| (*n, false)).collect()
    };
    let _ = write!(out, "<p class=\"muted\">{total} nodes");
    if let Some(f) = &view.filter {
        out.push_str(" in ");
        escape_html(out, f);
    }
    if total > 2 * EDGE_NODES {
        let _ = write!(
            out,
            "; showing the {EDGE_NODES} most and {EDGE_NODES} least packed (by their highest utilization)"
        );
    } else {
        out.push_str(", most packed first (by their highest utilization)");
    }
    out.push_str("; ");
    out.push_str(legend);
    out.push_str("</p>\n<table><tr><th>node</th>");
    for name in resources {
        out.push_str("<th colspan=\"2\">");
        escape_html(out, name);
        out.push_str("</th>");
    }
    out.push_str("</tr>\n");
    for (node, gap) in shown {
        if gap {
            let _ = writeln!(
                out,
                "<tr><td colspan=\"{}\" class=\"muted\">… {} more nodes …</td></tr>",
                1 + 2 * resources.len(),
                total - 2 * EDGE_NODES
            );
            continue;
        }
        out.push_str("<tr><td>");
        escape_html(out, &node.name);
        if node.unschedulable {
            out.push_str(" <span class=\"muted\">(cordoned)</span>");
        }
        out.push_str("</td>");
        for (r, name) in resources.iter().enumerate() {
            cell(out, snap, name, &node.totals, r);
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// The highest utilization of a node over its resources.
fn peak(t: &Totals) -> f64 {
    (0..t.allocated.len())
        .map(|r| ratio(t.allocated[r], t.allocatable[r]))
        .fold(0.0, f64::max)
}

/// Two cells: the text `allocated / allocatable (pct)` and the bar, with its limits mark (not
/// for `pods`) and, with usage attached, its usage mark.
fn cell(out: &mut String, snap: &Snapshot, resource: &str, t: &Totals, r: usize) {
    let (allocated, allocatable) = (t.allocated[r], t.allocatable[r]);
    let util = ratio(allocated, allocatable);
    let ds = ratio(t.daemonset(r), allocatable).min(1.0);
    let others = (util.min(1.0) - ds).max(0.0);
    let limits = (resource != "pods").then(|| ratio(t.limits[r], allocatable));
    let used = usage_slot(snap, resource)
        .filter(|_| t.usage.sampled())
        .map(|slot| ratio(u128::from(t.usage.pods[slot]), allocatable));
    let _ = write!(
        out,
        "<td class=\"num\">{} / {} ({:.0}%)</td><td><span class=\"bar{}\" title=\"{:.1}% allocated, {:.1}% by DaemonSets",
        human(resource, allocated),
        human(resource, allocatable),
        util * 100.0,
        if util > 1.0 { " over" } else { "" },
        util * 100.0,
        ds * 100.0,
    );
    if let Some(l) = limits {
        let _ = write!(out, ", limits {:.1}%", l * 100.0);
    }
    if let Some(u) = used {
        let _ = write!(out, ", used {:.1}%", u * 100.0);
    }
    let _ = write!(
        out,
        "\"><i class=\"ds\" style=\"width:{:.1}%\"></i><i class=\"wl\" style=\"width:{:.1}%\"></i>",
        ds * 100.0,
        others * 100.0
    );
    if let Some(l) = limits.filter(|l| *l > 0.0) {
        let _ = write!(
            out,
            "<b class=\"lim{}\" style=\"left:{:.1}%\"></b>",
            if l > 1.0 { " over" } else { "" },
            l.min(1.0) * 100.0
        );
    }
    if let Some(u) = used {
        let _ = write!(
            out,
            "<b class=\"use\" style=\"left:{:.1}%\"></b>",
            u.min(1.0) * 100.0
        );
    }
    out.push_str("</span></td>");
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Flags;
    use crate::config::Config;
    use crate::model::label_groups::LabelGroups;
    use crate::model::state::tests::{node, pod};
    use crate::model::state::{ClusterState, Owner};

    fn config() -> Config {
        let flags: Flags = argh::FromArgs::from_args(
            &["x"],
            &["--resources", "cpu,memory", "--label-group", "zone"],
        )
        .unwrap();
        Config::from_flags(&flags).unwrap()
    }

    fn page(nodes: usize, filter: Option<&str>) -> String {
        let mut s = ClusterState::new(2);
        for i in 0..nodes {
            let mut n = node(&[4000, 1 << 34]);
            n.labels =
                vec![Some(if i % 2 == 0 { "even" } else { "<odd>" }.into())].into_boxed_slice();
            s.apply_node(&format!("node-{i:04}"), n);
            let cpu = u64::try_from(i % 40).unwrap() * 100;
            s.apply_pod(
                &format!("p/{i}"),
                pod(
                    Some(&format!("node-{i:04}")),
                    &[cpu, 1 << 30],
                    Owner::Workload,
                ),
            );
            s.apply_pod(
                &format!("d/{i}"),
                pod(Some(&format!("node-{i:04}")), &[100, 0], Owner::DaemonSet),
            );
        }
        let snap = Snapshot::take(&s, &LabelGroups::new(&[vec!["zone".into()]]), 0);
        let config = config();
        let health = Health::new();
        health.synced(crate::model::health::WatchKind::Nodes);
        health.synced(crate::model::health::WatchKind::Pods);
        render(&View {
            resources: &config.resources,
            metrics_path: &config.metrics_path,
            health: &health,
            snapshot: &snap,
            filter: filter.map(str::to_owned),
        })
    }

    #[test]
    fn before_the_first_list_the_page_shows_the_reason_and_no_figures() {
        let s = ClusterState::new(2);
        let snap = Snapshot::take(&s, &LabelGroups::new(&[]), 0);
        let config = config();
        let html = render(&View {
            resources: &config.resources,
            metrics_path: &config.metrics_path,
            health: &Health::new(),
            snapshot: &snap,
            filter: None,
        });
        assert!(html.contains("not ready: nodes watch has not completed its first list"));
        assert!(html.contains("No figures until"));
        assert!(!html.contains("<h2>Cluster</h2>") && !html.contains("0 nodes"));
    }

    #[test]
    fn html_special_characters_are_escaped() {
        let mut out = String::new();
        escape_html(&mut out, "<script>alert('x\"&')</script>");
        assert_eq!(
            out,
            "&lt;script&gt;alert(&#39;x&quot;&amp;&#39;)&lt;/script&gt;"
        );
        let p = page(4, None);
        assert!(p.contains("&lt;odd&gt;") && !p.contains("<odd>"));
    }

    #[test]
    fn nodes_are_sorted_by_utilization_with_numbers_as_text() {
        let p = page(6, None);
        // node-0005 has 500m + 100m of 4 cores, the most packed of six.
        let first = p.find("node-0005").unwrap();
        assert!(first < p.find("node-0000").unwrap());
        assert!(p.contains("0.6 / 4 (15%)"));
        assert!(p.contains("http-equiv=\"refresh\""));
        assert!(!p.contains("<script"));
    }

    #[test]
    fn large_clusters_show_both_ends_and_filter_by_group() {
        let p = page(5000, None);
        assert!(p.len() < 120_000, "{} bytes", p.len());
        assert!(p.contains("4950 more nodes"));
        let filtered = page(5000, Some("zone=<odd>"));
        assert!(filtered.contains("2500 nodes in zone=&lt;odd&gt;"));
        assert!(
            !filtered.contains("node-0000<"),
            "even nodes are filtered out"
        );
    }

    #[test]
    fn bars_mark_limits_and_usage_and_the_top_namespaces_are_listed() {
        use crate::model::state::PodFacts;
        use crate::model::usage::{UsageTable, UsageTotals};
        let mut s = ClusterState::new(2);
        s.apply_node("n", node(&[4000, 1 << 34]));
        // 1 core requested, 6 cores of limits: overcommitted 150 %.
        s.apply_pod(
            "big/a",
            Some(PodFacts::new(
                Some("n".into()),
                &[1000, 1 << 30],
                &[6000, 1 << 31],
                0,
                Owner::Workload,
            )),
        );
        s.apply_pod("small/b", pod(Some("n"), &[100, 1 << 20], Owner::Workload));
        let mut snap = Snapshot::take(&s, &LabelGroups::new(&[]), 0);
        let config = config();
        let health = Health::new();
        health.synced(crate::model::health::WatchKind::Nodes);
        health.synced(crate::model::health::WatchKind::Pods);
        let html = |snap: &Snapshot| {
            render(&View {
                resources: &config.resources,
                metrics_path: &config.metrics_path,
                health: &health,
                snapshot: snap,
                filter: None,
            })
        };
        let plain = html(&snap);
        assert!(plain.contains("<b class=\"lim over\" style=\"left:100.0%\"></b>"));
        assert!(plain.contains("limits 150.0%") && !plain.contains("class=\"use\""));
        let big = plain.find("<tr><td>big</td>").unwrap();
        assert!(
            big < plain.find("<tr><td>small</td>").unwrap(),
            "largest first"
        );
        assert!(plain.contains("<h2>Namespaces</h2>") && plain.contains("2 of 2 namespaces"));

        let sampled = UsageTotals {
            pods: [2000, 1 << 30],
            pods_sampled: 2,
            ..UsageTotals::default()
        };
        snap.attach_usage(&UsageTable {
            newest: 1,
            nodes: [("n".into(), sampled)].into_iter().collect(),
            namespaces: [("big".into(), sampled)].into_iter().collect(),
            ..UsageTable::default()
        });
        let with_usage = html(&snap);
        assert!(with_usage.contains("<b class=\"use\" style=\"left:50.0%\"></b>"));
        assert!(with_usage.contains("used 50.0%") && with_usage.contains("used (metrics API)"));
        assert!(
            with_usage.contains("1 (6; 2)"),
            "big: cpu requested (limits; used)"
        );
    }

    #[test]
    fn query_parameters_are_decoded() {
        assert_eq!(
            query_param("/?group=zone%3Da+b&x=1", "group").as_deref(),
            Some("zone=a b")
        );
        assert_eq!(query_param("/?x=1", "group"), None);
        assert_eq!(url_decode("%zz%4"), "%zz%4");
    }
}

//! One-shot output (`--once`, or invoked as the kubectl plugin `kubectl-binpacking`): the
//! cluster, label group, node and namespace figures of a snapshot as a table with bars that keeps
//! every name whole within 80 columns, as a wide table, as CSV, or as JSON carrying the same
//! numbers as the metrics (the Prometheus exposition is encoded by `exposition`). Pure: the caller
//! turns its flags into a [`ReportOptions`]; nothing here knows how they are spelled.

use std::fmt::Write;

use serde_json::{json, Map, Value};

use crate::model::usage::{UsageTotals, USAGE_RESOURCES};
use crate::views::amount::{human, ratio};
use crate::views::device_report;
use crate::views::snapshot::{NamespaceFigures, Snapshot, Totals};

/// Output formats of the one-shot mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Human table with bars, within 80 columns.
    Table,
    /// The table with limits, free and pods columns, as wide as its contents.
    Wide,
    /// Comma-separated values (RFC 4180 quoting), one row per entry of the table.
    Csv,
    /// JSON document.
    Json,
    /// Prometheus text exposition.
    Prometheus,
}

/// Order of the entries within each section of the table and the CSV (`--sort`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// By name, as the snapshot keeps them.
    #[default]
    Name,
    /// Highest utilization of the first tracked resource first (namespaces: highest allocated).
    Utilization,
    /// Most free (allocatable − allocated) of the first tracked resource first.
    Free,
}

/// What the table and the CSV list below the cluster total (`--group-by`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum GroupBy {
    /// Every label group's values, then every node.
    #[default]
    Node,
    /// Every namespace with counted pods: allocated, limits and pods.
    Namespace,
    /// The values of the one label group named by its keys joined by `,`.
    LabelGroup(String),
}

/// How the table and the CSV are laid out.
#[derive(Debug, Clone, Copy)]
pub struct ReportOptions<'a> {
    /// Tracked resource names, in report order.
    pub resources: &'a [String],
    /// Order of the entries within a section.
    pub sort: Sort,
    /// The sections below the cluster total.
    pub group_by: &'a GroupBy,
}

/// The widest the table gets, but for a name longer than this on its own line.
const COLUMNS: usize = 80;

/// Width of a bar's inside, in characters.
const BAR: usize = 14;

/// What an entry describes (the CSV's `scope` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Cluster,
    Group,
    Node,
    Namespace,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Cluster => "cluster",
            Scope::Group => "group",
            Scope::Node => "node",
            Scope::Namespace => "namespace",
        }
    }
}

/// One resource's figures in an entry, in scheduler units (cpu in millicores).
struct Figure<'a> {
    resource: &'a str,
    allocated: u128,
    /// `None` for a namespace: it owns no nodes, so it has no allocatable, overhead or free.
    allocatable: Option<u128>,
    daemonset: u128,
    /// `None` for `pods`, which has no limits.
    limits: Option<u128>,
    /// Counted pods without a limit (`None` where `limits` is).
    unlimited: Option<u128>,
    /// With `--usage`, for cpu and memory of an entry with a sample: the counted pods' usage
    /// and their requests left unused.
    usage: Option<(u128, u128)>,
}

/// The pods' usage and allocated-unused of `resource`, when the entry was sampled (only a
/// snapshot with usage attached has samples).
fn usage_of(usage: &UsageTotals, resource: &str) -> Option<(u128, u128)> {
    let slot = USAGE_RESOURCES.iter().position(|u| *u == resource)?;
    usage
        .sampled()
        .then(|| (u128::from(usage.pods[slot]), u128::from(usage.unused[slot])))
}

/// A number of the JSON and the CSV.
enum Number {
    /// An amount in the resource's scheduler unit.
    Amount(u128),
    /// An amount that may be negative (free on an overcommitted node).
    Signed(i128),
    /// A plain count.
    Count(u128),
    /// A ratio.
    Ratio(f64),
}

impl Figure<'_> {
    fn of_totals<'a>(t: &Totals, resources: &'a [String]) -> Vec<Figure<'a>> {
        resources
            .iter()
            .enumerate()
            .map(|(r, resource)| {
                let limited = resource != "pods";
                Figure {
                    resource,
                    allocated: t.allocated[r],
                    allocatable: Some(t.allocatable[r]),
                    daemonset: t.daemonset(r),
                    limits: limited.then(|| t.limits[r]),
                    unlimited: limited.then(|| t.unlimited[r]),
                    usage: usage_of(&t.usage, resource),
                }
            })
            .collect()
    }

    fn of_namespace<'a>(ns: &NamespaceFigures, resources: &'a [String]) -> Vec<Figure<'a>> {
        resources
            .iter()
            .enumerate()
            .map(|(r, resource)| Figure {
                resource,
                allocated: ns.allocated[r],
                allocatable: None,
                daemonset: 0,
                limits: (resource != "pods").then(|| ns.limits[r]),
                unlimited: None,
                usage: usage_of(&ns.usage, resource),
            })
            .collect()
    }

    /// Allocatable − allocated, negative when overcommitted.
    fn free(&self) -> Option<i128> {
        let signed = |v: u128| i128::try_from(v).unwrap_or(i128::MAX);
        self.allocatable
            .map(|a| signed(a).saturating_sub(signed(self.allocated)))
    }

    /// The figures of the JSON and the CSV in the order of [`FIELDS`], `None` where the entry
    /// has no such figure.
    fn numbers(&self) -> [Option<Number>; FIELDS.len()] {
        let a = self.allocatable;
        [
            Some(Number::Amount(self.allocated)),
            a.map(Number::Amount),
            a.map(|a| Number::Ratio(ratio(self.allocated, a))),
            a.map(|_| Number::Amount(self.daemonset)),
            a.map(|a| Number::Ratio(ratio(self.daemonset, a))),
            self.limits.map(Number::Amount),
            a.zip(self.limits).map(|(a, l)| Number::Ratio(ratio(l, a))),
            self.unlimited.map(Number::Count),
            self.free().map(Number::Signed),
            self.usage.map(|(used, _)| Number::Amount(used)),
            self.usage.map(|(_, unused)| Number::Amount(unused)),
        ]
    }
}

/// A node, a group value, a namespace or the cluster, with one figure per tracked resource.
struct Entry<'a> {
    scope: Scope,
    /// The label group's keys (groups only).
    label_group: &'a str,
    /// Empty for the cluster.
    name: &'a str,
    /// Nodes only.
    unschedulable: Option<bool>,
    /// Nodes counted (not for namespaces).
    nodes: Option<u64>,
    pods: u64,
    figures: Vec<Figure<'a>>,
}

impl<'a> Entry<'a> {
    fn of_totals(
        scope: Scope,
        label_group: &'a str,
        name: &'a str,
        t: &Totals,
        resources: &'a [String],
    ) -> Entry<'a> {
        Entry {
            scope,
            label_group,
            name,
            unschedulable: None,
            nodes: Some(t.nodes),
            pods: t.pods,
            figures: Figure::of_totals(t, resources),
        }
    }

    /// The name as the table shows it.
    fn display_name(&self) -> String {
        match (self.scope, self.unschedulable) {
            (Scope::Cluster, _) => "cluster".to_owned(),
            (_, Some(true)) => format!("{} (cordoned)", self.name),
            _ => self.name.to_owned(),
        }
    }
}

/// Entries under one header: the cluster, one label group, the nodes or the namespaces.
struct Section<'a> {
    /// What the entries are.
    scope: Scope,
    /// A line above the header (the label group's keys).
    title: Option<String>,
    /// Header of the name column.
    first: &'static str,
    entries: Vec<Entry<'a>>,
}

/// The sections `options` asks for, each sorted.
fn sections<'a>(snapshot: &'a Snapshot, options: &ReportOptions<'a>) -> Vec<Section<'a>> {
    let resources = options.resources;
    let mut sections = vec![Section {
        scope: Scope::Cluster,
        title: None,
        first: "CLUSTER",
        entries: vec![Entry::of_totals(
            Scope::Cluster,
            "",
            "",
            &snapshot.cluster,
            resources,
        )],
    }];
    let groups = |only: Option<&str>, sections: &mut Vec<Section<'a>>| {
        for g in &snapshot.groups {
            if only.is_some_and(|name| name != g.label_group) {
                continue;
            }
            let entry =
                Entry::of_totals(Scope::Group, &g.label_group, &g.value, &g.totals, resources);
            match sections.last_mut() {
                Some(s)
                    if s.entries
                        .last()
                        .is_some_and(|e| e.label_group == g.label_group) =>
                {
                    s.entries.push(entry);
                }
                _ => sections.push(Section {
                    scope: Scope::Group,
                    title: Some(format!("group {}", g.label_group)),
                    first: "VALUE",
                    entries: vec![entry],
                }),
            }
        }
    };
    match options.group_by {
        GroupBy::Node => {
            groups(None, &mut sections);
            sections.push(Section {
                scope: Scope::Node,
                title: None,
                first: "NODE",
                entries: snapshot
                    .nodes
                    .iter()
                    .map(|n| Entry {
                        unschedulable: Some(n.unschedulable),
                        ..Entry::of_totals(Scope::Node, "", &n.name, &n.totals, resources)
                    })
                    .collect(),
            });
        }
        GroupBy::LabelGroup(name) => {
            let before = sections.len();
            groups(Some(name), &mut sections);
            if sections.len() == before {
                sections.push(Section {
                    scope: Scope::Group,
                    title: Some(format!("group {name}")),
                    first: "VALUE",
                    entries: Vec::new(),
                });
            }
        }
        GroupBy::Namespace => sections.push(Section {
            scope: Scope::Namespace,
            title: None,
            first: "NAMESPACE",
            entries: snapshot
                .namespaces
                .iter()
                .map(|ns| Entry {
                    scope: Scope::Namespace,
                    label_group: "",
                    name: &ns.name,
                    unschedulable: None,
                    nodes: None,
                    pods: ns.pods,
                    figures: Figure::of_namespace(ns, resources),
                })
                .collect(),
        }),
    }
    for section in &mut sections {
        sort(&mut section.entries, options.sort);
    }
    sections
}

/// Sorts by `sort` on the first resource, ties by name (entries arrive sorted by name).
fn sort(entries: &mut [Entry<'_>], sort: Sort) {
    let first = |e: &Entry<'_>| {
        e.figures
            .first()
            .map(|f| (f.allocated, f.allocatable, f.free()))
    };
    let load = |e: &Entry<'_>| match first(e) {
        Some((allocated, Some(allocatable), _)) => ratio(allocated, allocatable),
        Some((allocated, None, _)) => allocated as f64,
        None => 0.0,
    };
    let by_name = |a: &Entry<'_>, b: &Entry<'_>| a.name.cmp(b.name);
    match sort {
        Sort::Name => entries.sort_by(by_name),
        Sort::Utilization => {
            entries.sort_by(|a, b| load(b).total_cmp(&load(a)).then_with(|| by_name(a, b)));
        }
        Sort::Free => {
            let free = |e: &Entry<'_>| first(e).and_then(|(_, _, free)| free);
            entries.sort_by(|a, b| free(b).cmp(&free(a)).then_with(|| by_name(a, b)));
        }
    }
}

/// A column of the table after the name column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Resource,
    AllocatedOfAllocatable,
    Allocated,
    Allocatable,
    Util,
    Limits,
    LimitsPercent,
    Used,
    Free,
    Pods,
    Bar,
}

/// How many [`Column`]s there are.
const COLUMN_KINDS: usize = Column::Bar as usize + 1;

/// The table's columns for the cluster, groups and nodes.
const TABLE: &[Column] = &[
    Column::Resource,
    Column::AllocatedOfAllocatable,
    Column::Util,
    Column::Bar,
];

/// `--output wide`'s columns for the cluster, groups and nodes (`USED` only with `--usage`).
const WIDE: &[Column] = &[
    Column::Resource,
    Column::Allocated,
    Column::Allocatable,
    Column::Util,
    Column::Limits,
    Column::LimitsPercent,
    Column::Used,
    Column::Free,
    Column::Pods,
    Column::Bar,
];

/// Columns of namespaces (table and wide): they own no nodes, so no allocatable, free or bar
/// (`USED` only in wide with `--usage`).
const NAMESPACE: &[Column] = &[
    Column::Resource,
    Column::Allocated,
    Column::Limits,
    Column::Used,
    Column::Pods,
];

impl Column {
    fn header(self) -> &'static str {
        match self {
            Column::Resource => "RESOURCE",
            Column::AllocatedOfAllocatable => "ALLOCATED / ALLOC",
            Column::Allocated => "ALLOCATED",
            Column::Allocatable => "ALLOCATABLE",
            Column::Util => "UTIL",
            Column::Limits => "LIMITS",
            Column::LimitsPercent => "LIM%",
            Column::Used => "USED",
            Column::Free => "FREE",
            Column::Pods => "PODS",
            Column::Bar => "#daemonset =pods",
        }
    }

    /// The narrowest the column gets: its header, or `1000%` for UTIL so it never touches the
    /// amount before it.
    fn min_width(self) -> usize {
        match self {
            Column::Util => 5,
            other => other.header().len(),
        }
    }

    fn left_aligned(self) -> bool {
        matches!(self, Column::Resource | Column::Bar)
    }

    /// The cell of figure `i` of `entry`; `-` where the entry has no such figure.
    fn cell(self, entry: &Entry<'_>, i: usize, f: &Figure<'_>) -> String {
        let none = || "-".to_owned();
        let amount = |v: u128| human(f.resource, v);
        let percent = |num: u128, den: u128| format!("{:.0}%", ratio(num, den) * 100.0);
        match self {
            Column::Resource => f.resource.to_owned(),
            Column::AllocatedOfAllocatable => format!(
                "{} / {}",
                amount(f.allocated),
                f.allocatable.map_or_else(none, amount)
            ),
            Column::Allocated => amount(f.allocated),
            Column::Allocatable => f.allocatable.map_or_else(none, amount),
            Column::Util => f.allocatable.map_or_else(none, |a| percent(f.allocated, a)),
            Column::Limits => f.limits.map_or_else(none, amount),
            Column::LimitsPercent => f
                .allocatable
                .zip(f.limits)
                .map_or_else(none, |(a, l)| percent(l, a)),
            Column::Used => f.usage.map_or_else(none, |(used, _)| amount(used)),
            Column::Free => f.free().map_or_else(none, |v| {
                let sign = if v < 0 { "-" } else { "" };
                format!("{sign}{}", amount(v.unsigned_abs()))
            }),
            Column::Pods if i == 0 => entry.pods.to_string(),
            Column::Pods => String::new(),
            Column::Bar => f.allocatable.map_or_else(String::new, |a| bar(f, a)),
        }
    }
}

/// A text bar: `#` DaemonSets, `=` other pods, `.` free; `!` at the end when overcommitted.
fn bar(f: &Figure<'_>, allocatable: u128) -> String {
    let util = ratio(f.allocated, allocatable);
    let ds = ratio(f.daemonset, allocatable).min(1.0);
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

/// An entry's cells: its name, then one line of cells per figure.
struct Block {
    name: String,
    lines: Vec<Vec<String>>,
}

/// Column widths: the name column's, and each [`Column`]'s (the widest of its header and cells).
struct Layout {
    name: usize,
    columns: [usize; COLUMN_KINDS],
}

impl Layout {
    /// Writes one line: the name padded to its column (or `name` alone when it is wider), then
    /// the cells; no trailing blanks.
    fn line(&self, out: &mut String, name: &str, columns: &[Column], cells: &[String]) {
        let start = out.len();
        let _ = write!(out, "{name:<width$}", width = self.name);
        for (&column, cell) in columns.iter().zip(cells) {
            let width = self.columns[column as usize];
            let _ = if column.left_aligned() {
                write!(out, " {cell:<width$}")
            } else {
                write!(out, " {cell:>width$}")
            };
        }
        let end = out[start..].trim_end().len() + start;
        out.truncate(end);
        out.push('\n');
    }
}

/// The table (`wide` = `--output wide`): sections of entries, each entry's name on its first
/// figure line, or on a line of its own when it is wider than the name column. Without `wide`
/// the name column is what 80 columns leave, so only a name longer than 80 characters passes
/// them (or a resource name longer than about 30: the figures alone would not fit, and resource
/// names are kept whole too); with `wide` it is as wide as the longest name and every name stays
/// on its line.
/// The columns of a section: `USED` only in wide with usage attached.
fn columns(scope: Scope, wide: bool, usage: bool) -> Vec<Column> {
    let columns = match (scope, wide) {
        (Scope::Namespace, _) => NAMESPACE,
        (_, true) => WIDE,
        (_, false) => TABLE,
    };
    columns
        .iter()
        .copied()
        .filter(|&c| usage || c != Column::Used)
        .collect()
}

fn render(snapshot: &Snapshot, options: &ReportOptions<'_>, wide: bool) -> String {
    let sections = sections(snapshot, options);
    let usage = wide && snapshot.usage_newest.is_some();
    let columns_of = |s: &Section<'_>| columns(s.scope, wide, usage);
    let blocks: Vec<Vec<Block>> = sections
        .iter()
        .map(|s| {
            let columns = columns_of(s);
            s.entries
                .iter()
                .map(|e| Block {
                    name: e.display_name(),
                    lines: e
                        .figures
                        .iter()
                        .enumerate()
                        .map(|(i, f)| columns.iter().map(|c| c.cell(e, i, f)).collect())
                        .collect(),
                })
                .collect()
        })
        .collect();

    let mut layout = Layout {
        name: 0,
        columns: [0; COLUMN_KINDS],
    };
    for (section, blocks) in sections.iter().zip(&blocks) {
        let columns = columns_of(section);
        for (i, &column) in columns.iter().enumerate() {
            let cells = blocks.iter().flat_map(|b| &b.lines).map(|l| &l[i]);
            let width = cells
                .map(|c| c.chars().count())
                .chain([column.min_width()])
                .max()
                .unwrap_or(0);
            let slot = &mut layout.columns[column as usize];
            *slot = (*slot).max(width);
        }
    }
    let headers = sections.iter().map(|s| s.first.len()).max().unwrap_or(0);
    let longest = blocks
        .iter()
        .flatten()
        .map(|b| b.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(headers);
    layout.name = if wide {
        longest
    } else {
        let room = sections
            .iter()
            .map(|s| {
                let rest: usize = columns_of(s)
                    .iter()
                    .map(|&c| 1 + layout.columns[c as usize])
                    .sum();
                COLUMNS.saturating_sub(rest)
            })
            .min()
            .unwrap_or(COLUMNS);
        longest.min(room).max(headers)
    };

    let mut out = String::new();
    let _ = writeln!(
        out,
        "cluster: {} nodes, {} pods counted, {} pending",
        snapshot.cluster.nodes, snapshot.cluster.pods, snapshot.pending.pods
    );
    for (n, (section, blocks)) in sections.iter().zip(&blocks).enumerate() {
        if n > 0 {
            out.push('\n');
        }
        if let Some(title) = &section.title {
            let _ = writeln!(out, "{title}");
        }
        let columns = columns_of(section);
        let headers: Vec<String> = columns.iter().map(|c| c.header().to_owned()).collect();
        layout.line(&mut out, section.first, &columns, &headers);
        for block in blocks {
            let own_line = block.name.chars().count() > layout.name;
            if own_line {
                let _ = writeln!(out, "{}", block.name);
            }
            for (i, cells) in block.lines.iter().enumerate() {
                let name = if i == 0 && !own_line { &block.name } else { "" };
                layout.line(&mut out, name, &columns, cells);
            }
        }
    }
    out.push_str(&device_report::table(snapshot));
    out
}

/// The table: the cluster, then each label group's values and every node (or what `group_by`
/// asks for), every name whole; lines ≤ 80 columns but for a name longer than that (see
/// `render` for resource names).
pub fn table(snapshot: &Snapshot, options: &ReportOptions<'_>) -> String {
    render(snapshot, options, false)
}

/// The table with allocated and allocatable apart and limits, free and pods added, as wide as
/// its contents (`--output wide`).
pub fn wide(snapshot: &Snapshot, options: &ReportOptions<'_>) -> String {
    render(snapshot, options, true)
}

/// The figure keys of the JSON and the CSV, in the order of [`Figure::numbers`].
const FIELDS: [&str; 11] = [
    "allocated",
    "allocatable",
    "utilization_ratio",
    "daemonset_overhead",
    "daemonset_overhead_ratio",
    "limits",
    "limits_ratio",
    "unlimited_pods",
    "free",
    "pod_usage",
    "allocated_unused",
];

/// The CSV: one header row, then one row per entry of the table's sections (the cluster, then
/// label group values and nodes, or what `group_by` asks for), in the table's order. Columns:
/// `scope` (cluster, group, node, namespace), `label_group`, `name`, `unschedulable`, `nodes`,
/// `pods`, then per tracked resource `RESOURCE_FIGURE` for each key of the JSON (and `free`), in
/// the metrics' units; empty where an entry has no such figure. RFC 4180 quoting, LF line ends.
pub fn csv(snapshot: &Snapshot, options: &ReportOptions<'_>) -> String {
    let mut out = String::new();
    let mut header: Vec<String> = [
        "scope",
        "label_group",
        "name",
        "unschedulable",
        "nodes",
        "pods",
    ]
    .map(str::to_owned)
    .into();
    for resource in options.resources {
        header.extend(FIELDS.iter().map(|key| format!("{resource}_{key}")));
    }
    csv_row(&mut out, &header);
    for section in sections(snapshot, options) {
        for e in &section.entries {
            let mut row = vec![
                e.scope.as_str().to_owned(),
                e.label_group.to_owned(),
                e.name.to_owned(),
                e.unschedulable.map_or_else(String::new, |u| u.to_string()),
                e.nodes.map_or_else(String::new, |n| n.to_string()),
                e.pods.to_string(),
            ];
            for f in &e.figures {
                row.extend(
                    f.numbers()
                        .iter()
                        .map(|n| n.as_ref().map_or_else(String::new, |n| n.text(f.resource))),
                );
            }
            csv_row(&mut out, &row);
        }
    }
    out
}

/// Appends one CSV record: a field with a comma, quote or line break is quoted, its quotes doubled.
fn csv_row(out: &mut String, fields: &[String]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push('\n');
}

impl Number {
    /// Exact text in metric units: cpu in cores with up to three decimals, others as integers.
    fn text(&self, resource: &str) -> String {
        let amount = |v: u128| {
            if resource == "cpu" {
                let s = format!("{}.{:03}", v / 1000, v % 1000);
                s.trim_end_matches('0').trim_end_matches('.').to_owned()
            } else {
                v.to_string()
            }
        };
        match self {
            Number::Amount(v) => amount(*v),
            Number::Count(v) => v.to_string(),
            Number::Signed(v) => {
                let sign = if *v < 0 { "-" } else { "" };
                format!("{sign}{}", amount(v.unsigned_abs()))
            }
            Number::Ratio(r) => r.to_string(),
        }
    }

    /// The JSON number in metric units.
    fn value(&self, resource: &str) -> Value {
        match self {
            Number::Amount(v) => metric_value(resource, *v),
            Number::Count(v) => integer_value(*v),
            Number::Signed(v) if resource == "cpu" => json!(*v as f64 / 1000.0),
            Number::Signed(v) => i64::try_from(*v).map_or_else(|_| json!(*v as f64), |v| json!(v)),
            Number::Ratio(r) => json!(r),
        }
    }
}

/// A number in metric units: cpu millicores become cores; exact integers stay integers.
fn metric_value(resource: &str, value: u128) -> Value {
    if resource == "cpu" {
        json!(value as f64 / 1000.0)
    } else {
        integer_value(value)
    }
}

/// An integer, exact up to `u64::MAX`.
fn integer_value(value: u128) -> Value {
    u64::try_from(value).map_or_else(|_| json!(value as f64), |v| json!(v))
}

fn resources_json(figures: &[Figure<'_>]) -> Value {
    let mut map = Map::new();
    for f in figures {
        let mut fields = Map::new();
        for (key, number) in FIELDS.iter().zip(f.numbers()) {
            if let Some(n) = number {
                fields.insert((*key).to_owned(), n.value(f.resource));
            }
        }
        map.insert(f.resource.to_owned(), Value::Object(fields));
    }
    Value::Object(map)
}

/// The JSON document: the same numbers as the metrics (cpu in cores, bytes, units).
pub fn json(snapshot: &Snapshot, resources: &[String]) -> String {
    let totals = |t: &Totals| resources_json(&Figure::of_totals(t, resources));
    let mut doc = json!({
        "cluster": {
            "nodes": snapshot.cluster.nodes,
            "pods": snapshot.cluster.pods,
            "pending_pods": snapshot.pending.pods,
            "resources": totals(&snapshot.cluster),
        },
        "groups": snapshot.groups.iter().map(|g| json!({
            "label_group": g.label_group,
            "label_group_value": g.value,
            "nodes": g.totals.nodes,
            "resources": totals(&g.totals),
        })).collect::<Vec<_>>(),
        "nodes": snapshot.nodes.iter().map(|n| json!({
            "node": n.name,
            "unschedulable": n.unschedulable,
            "pods": n.totals.pods,
            "resources": totals(&n.totals),
        })).collect::<Vec<_>>(),
        "namespaces": snapshot.namespaces.iter().map(|ns| json!({
            "namespace": ns.name,
            "pods": ns.pods,
            "resources": resources_json(&Figure::of_namespace(ns, resources)),
        })).collect::<Vec<_>>(),
    });
    if device_report::shown(snapshot).is_some() {
        doc["devices"] = device_report::json(snapshot);
    }
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::label_groups::LabelGroups;
    use crate::model::state::tests::{node, pod};
    use crate::model::state::{ClusterState, Owner, PodFacts};

    const LONG: &str = "a-node-with-an-extremely-long-name-indeed-sixty-characters-x";
    const ZONE: &str = "a-very-long-zone-name-that-will-not-fit";

    /// Two nodes: LONG (zone ZONE, a DaemonSet pod) and `b` (overcommitted on cpu), pods in
    /// namespaces `x` and `y`; `y/l` has limits (unlimited for memory).
    fn snapshot() -> Snapshot {
        let mut s = ClusterState::new(2);
        let mut n = node(&[4000, 16 << 30]);
        n.labels = vec![Some(ZONE.into())].into_boxed_slice();
        s.apply_node(LONG, n);
        s.apply_node("b", node(&[1000, 1 << 30]));
        s.apply_pod("x/p", pod(Some("b"), &[1500, 1 << 29], Owner::Workload));
        s.apply_pod("x/d", pod(Some(LONG), &[1000, 0], Owner::DaemonSet));
        let limited = PodFacts::new(
            Some(LONG.into()),
            &[500, 1 << 30],
            &[2000, 0],
            0b10,
            Owner::Workload,
        );
        s.apply_pod("y/l", Some(limited));
        Snapshot::take(&s, &LabelGroups::new(&[vec!["zone".into()]]), 0)
    }

    fn resources() -> Vec<String> {
        vec!["cpu".to_owned(), "memory".to_owned()]
    }

    fn options<'a>(
        resources: &'a [String],
        sort: Sort,
        group_by: &'a GroupBy,
    ) -> ReportOptions<'a> {
        ReportOptions {
            resources,
            sort,
            group_by,
        }
    }

    /// The snapshot in `output` by name, with label groups and nodes.
    fn default_layout(output: fn(&Snapshot, &ReportOptions<'_>) -> String) -> String {
        let resources = resources();
        output(
            &snapshot(),
            &options(&resources, Sort::Name, &GroupBy::Node),
        )
    }

    fn assert_fits_80_columns(text: &str) {
        for line in text.lines() {
            let columns = line.chars().count();
            assert!(columns <= 80, "{columns} columns: {line}\n{text}");
        }
    }

    #[test]
    fn the_table_fits_80_columns_and_shows_bars() {
        let t = default_layout(table);
        assert_fits_80_columns(&t);
        assert!(t.contains("1.5 / 1"), "{t}");
        assert!(t.contains("150% [==============!"), "{t}");
        assert!(t.contains("38% [####=.........]"), "{t}");
        assert!(t.contains("\ngroup zone\nVALUE "), "{t}");
    }

    #[test]
    fn a_name_too_long_for_its_column_stands_whole_on_its_own_line() {
        let t = default_layout(table);
        let lines: Vec<&str> = t.lines().collect();
        let at = lines.iter().position(|l| *l == LONG).expect(&t);
        let figures = lines[at + 1];
        let indent = figures.len() - figures.trim_start().len();
        assert!(figures.trim_start().starts_with("cpu "), "{t}");
        assert!(indent > 20, "{t}");
        assert!(lines[at + 2].trim_start().starts_with("memory "), "{t}");
        // A short name keeps its line; a long label value gets one of its own.
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("b ") && l.contains(" cpu ")),
            "{t}"
        );
        assert!(lines.contains(&ZONE), "{t}");
        assert!(!t.contains('~'), "{t}");
    }

    #[test]
    fn wide_sets_allocated_allocatable_limits_and_free_apart_with_names_inline() {
        let t = default_layout(wide);
        let header = t.lines().find(|l| l.starts_with("NODE ")).expect(&t);
        let words: Vec<&str> = header.split_whitespace().collect();
        assert_eq!(
            words,
            [
                "NODE",
                "RESOURCE",
                "ALLOCATED",
                "ALLOCATABLE",
                "UTIL",
                "LIMITS",
                "LIM%",
                "FREE",
                "PODS",
                "#daemonset",
                "=pods"
            ]
        );
        let row = |name: &str| -> Vec<&str> {
            t.lines()
                .find(|l| l.starts_with(&format!("{name} ")))
                .expect(name)
                .split_whitespace()
                .collect()
        };
        assert_eq!(
            row(LONG)[..9],
            [LONG, "cpu", "1.5", "4", "38%", "2", "50%", "2.5", "2"]
        );
        assert_eq!(
            row("b")[..9],
            ["b", "cpu", "1.5", "1", "150%", "0", "0%", "-0.5", "1"]
        );
        assert!(t.contains(" memory "), "{t}");
    }

    #[test]
    fn csv_quotes_per_rfc_4180_and_carries_metric_units() {
        let mut s = ClusterState::new(1);
        let mut n = node(&[2500]);
        n.labels = vec![Some("a\"b".into()), Some("c".into())].into_boxed_slice();
        s.apply_node("n1", n);
        s.apply_pod("x/p", pod(Some("n1"), &[1250], Owner::Workload));
        let groups = LabelGroups::new(&[vec!["k1".into(), "k2".into()]]);
        let snap = Snapshot::take(&s, &groups, 0);
        let resources = vec!["cpu".to_owned()];
        let text = csv(&snap, &options(&resources, Sort::Name, &GroupBy::Node));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "scope,label_group,name,unschedulable,nodes,pods,cpu_allocated,cpu_allocatable,\
             cpu_utilization_ratio,cpu_daemonset_overhead,cpu_daemonset_overhead_ratio,\
             cpu_limits,cpu_limits_ratio,cpu_unlimited_pods,cpu_free,cpu_pod_usage,\
             cpu_allocated_unused"
        );
        assert_eq!(lines[1], "cluster,,,,1,1,1.25,2.5,0.5,0,0,0,0,0,1.25,,");
        assert_eq!(
            lines[2],
            "group,\"k1,k2\",\"a\"\"b,c\",,1,1,1.25,2.5,0.5,0,0,0,0,0,1.25,,"
        );
        assert_eq!(lines[3], "node,,n1,false,1,1,1.25,2.5,0.5,0,0,0,0,0,1.25,,");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn with_usage_wide_adds_a_used_column_and_csv_the_usage_figures() {
        use crate::model::usage::{UsageTable, UsageTotals};
        let mut s = ClusterState::new(1);
        s.apply_node("n1", node(&[2500]));
        s.apply_node("n2", node(&[2500]));
        s.apply_pod("x/p", pod(Some("n1"), &[1250], Owner::Workload));
        let resources = vec!["cpu".to_owned()];
        let mut snap = Snapshot::take(&s, &LabelGroups::default(), 0);
        let plain = wide(&snap, &options(&resources, Sort::Name, &GroupBy::Node));
        assert!(!plain.contains("USED"), "{plain}");
        let sampled = UsageTotals {
            pods: [500, 0],
            pods_sampled: 1,
            unused: [750, 0],
            ..UsageTotals::default()
        };
        snap.attach_usage(&UsageTable {
            newest: 1,
            nodes: [("n1".into(), sampled)].into_iter().collect(),
            namespaces: [("x".into(), sampled)].into_iter().collect(),
            ..UsageTable::default()
        });
        let table = wide(&snap, &options(&resources, Sort::Name, &GroupBy::Node));
        let header = table.lines().find(|l| l.starts_with("NODE")).expect(&table);
        assert!(
            header.contains(" LIM% ") && header.contains(" USED "),
            "{header}"
        );
        let n1 = table.lines().find(|l| l.starts_with("n1")).unwrap();
        let n2 = table.lines().find(|l| l.starts_with("n2")).unwrap();
        assert!(n1.contains(" 0.5 "), "{n1}");
        assert!(n2.contains(" - "), "no sample, no figure: {n2}");
        let text = csv(&snap, &options(&resources, Sort::Name, &GroupBy::Node));
        assert!(
            text.contains("node,,n1,false,1,1,1.25,2.5,0.5,0,0,0,0,0,1.25,0.5,0.75\n"),
            "{text}"
        );
        assert!(
            text.contains("node,,n2,false,1,0,0,2.5,0,0,0,0,0,0,2.5,,\n"),
            "{text}"
        );
        let ns = wide(&snap, &options(&resources, Sort::Name, &GroupBy::Namespace));
        assert!(
            ns.lines()
                .any(|l| l.starts_with("NAMESPACE") && l.contains("USED")),
            "{ns}"
        );
    }

    #[test]
    fn csv_of_namespaces_leaves_what_they_lack_empty() {
        let resources = vec!["cpu".to_owned(), "pods".to_owned()];
        let mut s = ClusterState::new(2);
        s.apply_node("n", node(&[4000, 110]));
        s.apply_pod("x/p", pod(Some("n"), &[100, 1], Owner::Workload));
        let snap = Snapshot::take(&s, &LabelGroups::default(), 0);
        let text = csv(&snap, &options(&resources, Sort::Name, &GroupBy::Namespace));
        let row = text
            .lines()
            .find(|l| l.starts_with("namespace,"))
            .expect(&text);
        assert_eq!(row, "namespace,,x,,,1,0.1,,,,,0,,,,,,1,,,,,,,,,,");
    }

    #[test]
    fn sort_orders_every_section_by_the_first_resource() {
        let mut s = ClusterState::new(1);
        for (name, cpu) in [("a", 1000), ("b", 4000), ("c", 2000)] {
            s.apply_node(name, node(&[cpu]));
        }
        s.apply_pod("x/p", pod(Some("a"), &[900], Owner::Workload));
        s.apply_pod("y/p", pod(Some("b"), &[1000], Owner::Workload));
        s.apply_pod("y/q", pod(Some("c"), &[500], Owner::Workload));
        let snap = Snapshot::take(&s, &LabelGroups::default(), 0);
        let resources = vec!["cpu".to_owned()];
        let names = |sort: Sort, group_by: &GroupBy| -> Vec<String> {
            let text = csv(&snap, &options(&resources, sort, group_by));
            text.lines()
                .skip(2)
                .map(|l| l.split(',').nth(2).unwrap_or_default().to_owned())
                .collect()
        };
        assert_eq!(names(Sort::Name, &GroupBy::Node), ["a", "b", "c"]);
        // 90%, 25%, 25%: ties by name.
        assert_eq!(names(Sort::Utilization, &GroupBy::Node), ["a", "b", "c"]);
        // 3, 1.5, 0.1 free.
        assert_eq!(names(Sort::Free, &GroupBy::Node), ["b", "c", "a"]);
        assert_eq!(names(Sort::Name, &GroupBy::Namespace), ["x", "y"]);
        assert_eq!(names(Sort::Utilization, &GroupBy::Namespace), ["y", "x"]);
        let t = table(&snap, &options(&resources, Sort::Free, &GroupBy::Node));
        let rows: Vec<&str> = t
            .lines()
            .skip_while(|l| !l.starts_with("NODE"))
            .skip(1)
            .map(|l| &l[..1])
            .collect();
        assert_eq!(rows, ["b", "c", "a"], "{t}");
    }

    #[test]
    fn group_by_lists_namespaces_or_one_label_group_instead_of_nodes() {
        let resources = resources();
        let snap = snapshot();
        let t = table(&snap, &options(&resources, Sort::Name, &GroupBy::Namespace));
        assert_fits_80_columns(&t);
        assert!(!t.contains("NODE"), "{t}");
        let header = t.lines().find(|l| l.starts_with("NAMESPACE")).expect(&t);
        assert_eq!(
            header.split_whitespace().collect::<Vec<_>>(),
            ["NAMESPACE", "RESOURCE", "ALLOCATED", "LIMITS", "PODS"]
        );
        let y: Vec<&str> = t
            .lines()
            .skip_while(|l| !l.starts_with("y "))
            .take(2)
            .collect();
        assert_eq!(
            y[0].split_whitespace().collect::<Vec<_>>(),
            ["y", "cpu", "0.5", "2", "1"]
        );
        assert_eq!(
            y[1].split_whitespace().collect::<Vec<_>>(),
            ["memory", "1Gi", "0"]
        );

        let zone = GroupBy::LabelGroup("zone".into());
        let t = table(&snap, &options(&resources, Sort::Name, &zone));
        assert!(t.contains("\ngroup zone\n") && !t.contains("NODE"), "{t}");
        assert!(t.lines().any(|l| l.starts_with(ZONE)), "{t}");
        assert!(t.lines().any(|l| l.starts_with("<none> ")), "{t}");
        let missing = GroupBy::LabelGroup("pool".into());
        let t = table(&snap, &options(&resources, Sort::Name, &missing));
        // No node has the label group's values yet: its header, no entries.
        let last: Vec<&str> = t.lines().rev().take(2).collect();
        assert!(
            last[0].starts_with("VALUE ") && last[1] == "group pool",
            "{t}"
        );
    }

    #[test]
    fn json_carries_metric_units_limits_and_namespaces() {
        let resources = resources();
        let v: Value = serde_json::from_str(&json(&snapshot(), &resources)).unwrap();
        assert_eq!(v["cluster"]["resources"]["cpu"]["allocated"], json!(3.0));
        assert_eq!(
            v["cluster"]["resources"]["memory"]["allocatable"],
            json!(17_u64 << 30)
        );
        assert_eq!(v["nodes"][1]["node"], "b");
        assert_eq!(
            v["nodes"][1]["resources"]["cpu"]["utilization_ratio"],
            json!(1.5)
        );
        assert_eq!(v["nodes"][1]["resources"]["cpu"]["free"], json!(-0.5));
        assert_eq!(v["nodes"][0]["resources"]["cpu"]["limits"], json!(2.0));
        assert_eq!(
            v["nodes"][0]["resources"]["memory"]["unlimited_pods"],
            json!(1)
        );
        assert_eq!(v["groups"].as_array().unwrap().len(), 2);
        assert_eq!(v["namespaces"][1]["namespace"], "y");
        assert_eq!(v["namespaces"][1]["pods"], 1);
        assert_eq!(
            v["namespaces"][1]["resources"]["cpu"],
            json!({"allocated": 0.5, "limits": 2.0})
        );
    }
}

//! The catalogue (`src/views/catalogue.rs`) is the one place metric names are written: every
//! family the exposition and the operational metrics publish is in it with the same type, HELP
//! text and label names; every catalogued family is published; each name stands whole in the
//! catalogue's source, and no source file assembles one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kube_cluster_binpacking_exporter::self_metrics::SelfMetrics;
use kube_cluster_binpacking_exporter::views::catalogue::{self, Family, Kind};
use kube_cluster_binpacking_exporter::views::exposition;

/// What an exposition says about one family: HELP, TYPE and the label names of each series.
#[derive(Debug, Default)]
struct Exposed {
    help: Option<String>,
    kind: Option<String>,
    label_sets: Vec<Vec<String>>,
}

/// Reads a text exposition (format 0.0.4) into families by name.
fn parse(text: &str) -> BTreeMap<String, Exposed> {
    let mut families: BTreeMap<String, Exposed> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let help = help.replace("\\n", "\n").replace("\\\\", "\\");
            families.entry(name.to_owned()).or_default().help = Some(help);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            families.entry(name.to_owned()).or_default().kind = Some(kind.to_owned());
        } else if !line.is_empty() && !line.starts_with('#') {
            let (name, labels) = series(line);
            // A histogram's series carry suffixes and `le`; they belong to the family.
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .filter_map(|suffix| name.strip_suffix(suffix))
                .find(|base| {
                    families
                        .get(*base)
                        .is_some_and(|f| f.kind.as_deref() == Some("histogram"))
                })
                .unwrap_or(name);
            let labels = labels.into_iter().filter(|l| l != "le").collect();
            families
                .get_mut(family)
                .unwrap_or_else(|| panic!("series before its family's header: {line}"))
                .label_sets
                .push(labels);
        }
    }
    families
}

/// The name and label names of one series line.
fn series(line: &str) -> (&str, Vec<String>) {
    let Some(open) = line.find('{') else {
        return (line.split_once(' ').unwrap().0, Vec::new());
    };
    let mut names = Vec::new();
    let mut rest = &line[open + 1..];
    while !rest.starts_with('}') {
        let (name, after) = rest.split_once("=\"").unwrap();
        names.push(name.to_owned());
        // Skip the quoted value, minding escaped quotes and backslashes.
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().unwrap() {
                (_, '\\') => {
                    chars.next();
                }
                (i, '"') => break i,
                _ => {}
            }
        };
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    (&line[..open], names)
}

/// How series carry their label names.
#[derive(Clone, Copy)]
enum LabelOrder {
    /// The hand-encoded exposition writes them in the catalogue's order.
    Catalogue,
    /// The `prometheus` crate writes them sorted by name.
    Sorted,
}

/// Fails unless each exposed family is catalogued with the same HELP, type and labels.
fn assert_catalogued(exposed: &BTreeMap<String, Exposed>, order: LabelOrder) {
    let catalogue: BTreeMap<&str, &Family> = catalogue::families().map(|f| (f.name, f)).collect();
    for (name, got) in exposed {
        let want = catalogue
            .get(name.as_str())
            .unwrap_or_else(|| panic!("{name} is published but not in the catalogue"));
        assert_eq!(got.help.as_deref(), Some(want.help), "HELP of {name}");
        assert_eq!(
            got.kind.as_deref(),
            Some(want.kind.as_str()),
            "TYPE of {name}"
        );
        assert!(!got.label_sets.is_empty(), "{name} has no series");
        let mut want_labels = want.labels.to_vec();
        if let LabelOrder::Sorted = order {
            want_labels.sort_unstable();
        }
        for labels in &got.label_sets {
            assert_eq!(labels, &want_labels, "labels of {name}");
        }
    }
}

fn golden() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden.prom");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn every_family_of_the_golden_exposition_is_catalogued_and_every_binpacking_family_is_in_it() {
    let exposed = parse(&golden());
    assert_catalogued(&exposed, LabelOrder::Catalogue);
    let exporter: Vec<&str> = catalogue::EXPORTER.families().map(|f| f.name).collect();
    for family in catalogue::families() {
        if [catalogue::LEADER_STATUS.name, catalogue::USAGE_AGE.name].contains(&family.name)
            || exporter.contains(&family.name)
        {
            continue;
        }
        assert!(
            exposed.contains_key(family.name),
            "{} is catalogued but not in the golden exposition",
            family.name
        );
    }
}

#[test]
fn leader_status_and_cache_age_are_exposed_as_catalogued() {
    let mut out = Vec::new();
    exposition::encode_leader_status(true, &mut out);
    exposition::encode_cache_age(3.0, &mut out);
    exposition::encode_usage_age(12.5, &mut out);
    let exposed = parse(&String::from_utf8(out).unwrap());
    assert_catalogued(&exposed, LabelOrder::Catalogue);
    assert!(exposed.contains_key(catalogue::LEADER_STATUS.name));
    assert!(exposed.contains_key(catalogue::CACHE_AGE.name));
    assert!(exposed.contains_key(catalogue::USAGE_AGE.name));
}

#[test]
fn the_operational_families_are_exposed_as_catalogued() {
    let metrics = SelfMetrics::new("1.2.3").unwrap();
    // Families with labels show only once a series exists.
    metrics
        .watch_events
        .with_label_values(&["pods", "apply"])
        .inc();
    metrics.watch_restarts.with_label_values(&["nodes"]).inc();
    metrics
        .watch_errors
        .with_label_values(&["pods", "expired"])
        .inc();
    metrics.bad_quantities.with_label_values(&["pod"]).inc();
    metrics.usage_polls.with_label_values(&["ok"]).inc();
    metrics.scrape_figures.with_label_values(&["reused"]).inc();
    metrics
        .scrape_node_blocks
        .with_label_values(&["kept"])
        .inc();
    metrics.scrape_duration.observe(0.01);
    let mut out = Vec::new();
    metrics.encode(&mut out);
    let mut exposed = parse(&String::from_utf8(out).unwrap());
    let process: Vec<String> = exposed
        .keys()
        .filter(|name| name.starts_with("process_"))
        .cloned()
        .collect();
    if cfg!(target_os = "linux") {
        let mut listed: Vec<&str> = catalogue::PROCESS.to_vec();
        listed.sort_unstable();
        assert_eq!(process, listed, "catalogue::PROCESS");
    }
    exposed.retain(|name, _| !name.starts_with("process_"));
    assert_catalogued(&exposed, LabelOrder::Sorted);
    for family in catalogue::EXPORTER.families() {
        assert!(
            exposed.contains_key(family.name),
            "{} is catalogued but not registered",
            family.name
        );
    }
}

#[test]
fn the_catalogue_kinds_are_the_exposition_type_words() {
    assert_eq!(Kind::Gauge.as_str(), "gauge");
    assert_eq!(Kind::Counter.as_str(), "counter");
    assert_eq!(Kind::Histogram.as_str(), "histogram");
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn each_name_is_written_whole_in_the_catalogue_source() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/views/catalogue.rs");
    let source = std::fs::read_to_string(path).unwrap();
    for family in catalogue::families() {
        let literal = ["name: \"", family.name, "\","].concat();
        assert_eq!(
            source.matches(&literal).count(),
            1,
            "`{literal}` should stand once in src/views/catalogue.rs, so a grep lands on it"
        );
    }
    for name in catalogue::PROCESS {
        assert!(source.contains(&["\"", name, "\""].concat()), "{name}");
    }
}

#[test]
fn no_source_file_assembles_a_metric_name() {
    // The shapes an assembled name takes: a format string starting with the prefix, or the
    // prefix followed by a placeholder. Names are written whole in the catalogue instead.
    let forbidden = [
        ["format!(\"", "binpacking_"].concat(),
        ["concat!(\"", "binpacking_"].concat(),
        ["\"binpacking_", "{"].concat(),
    ];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = rust_files(&src);
    assert!(files.len() > 10, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            for pattern in &forbidden {
                assert!(
                    !line.contains(pattern.as_str()),
                    "{}:{}: a metric name is assembled ({pattern}); write it whole in \
                     src/views/catalogue.rs",
                    file.display(),
                    number + 1
                );
            }
        }
    }
}

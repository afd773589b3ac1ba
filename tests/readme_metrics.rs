//! The metric table of `README.md` (section `## Metrics`) names every family of the catalogue
//! (`src/views/catalogue.rs`), one whole name a row, with the catalogue's label names, and
//! nothing else: the `process_*` row stands for the process collector's families.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

use kube_cluster_binpacking_exporter::views::catalogue;

/// The rows of the README's metric table: family name → label names.
fn readme_table() -> BTreeMap<String, Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let (_, section) = readme.split_once("\n## Metrics\n").expect("## Metrics");
    let section = section.split("\n## ").next().unwrap();
    let (_, table) = section
        .split_once("| family | labels | meaning |\n|---|---|---|\n")
        .expect("the metric table");
    let mut rows = BTreeMap::new();
    for line in table.lines().take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 3, "a row has family, labels, meaning: {line}");
        let name = cells[0]
            .strip_prefix('`')
            .and_then(|c| c.strip_suffix('`'))
            .filter(|n| !n.contains('`') && !n.contains(','))
            .unwrap_or_else(|| panic!("one whole family name in backticks a row: {line}"));
        let labels: Vec<String> = cells[1]
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(ToOwned::to_owned)
            .collect();
        assert!(
            rows.insert(name.to_owned(), labels).is_none(),
            "{name} has two rows"
        );
    }
    assert!(rows.len() > 40, "table not found whole: {rows:?}");
    rows
}

#[test]
fn every_catalogued_family_has_a_readme_row_with_its_labels() {
    let rows = readme_table();
    for family in catalogue::families() {
        let labels = rows
            .get(family.name)
            .unwrap_or_else(|| panic!("{} is missing from the README table", family.name));
        assert_eq!(labels, family.labels, "labels of {} in README", family.name);
    }
}

#[test]
fn every_readme_row_names_a_catalogued_family() {
    let catalogued: Vec<&str> = catalogue::families().map(|f| f.name).collect();
    for (name, labels) in readme_table() {
        if let Some(prefix) = name.strip_suffix('*') {
            assert_eq!(prefix, "process_", "the only wildcard row is process_*");
            assert!(labels.is_empty());
            assert!(catalogue::PROCESS.iter().all(|p| p.starts_with(prefix)));
            continue;
        }
        assert!(
            catalogued.contains(&name.as_str()),
            "{name} is in the README table but not in src/views/catalogue.rs"
        );
    }
}

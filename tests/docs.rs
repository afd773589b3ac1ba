//! The documents the code relies on: every `docs/ACCOUNTING.md` section that a source file cites
//! (`§N`) exists in the repository's copy.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

#[test]
fn every_accounting_section_the_code_cites_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/ACCOUNTING.md")).unwrap();
    let sections: Vec<u32> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .filter_map(|l| l.split('.').next()?.parse().ok())
        .collect();
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    let mut cited = 0;
    for (path, text) in &files {
        for line in text.lines().filter(|l| l.contains("ACCOUNTING.md")) {
            assert!(
                line.contains("docs/ACCOUNTING.md"),
                "{path}: {line:?} names no path"
            );
            for part in line.split('§').skip(1) {
                let number: String = part.chars().take_while(char::is_ascii_digit).collect();
                let n: u32 = number
                    .parse()
                    .unwrap_or_else(|_| panic!("{path}: {line:?}"));
                assert!(
                    sections.contains(&n),
                    "{path} cites §{n}, which docs/ACCOUNTING.md lacks"
                );
                cited += 1;
            }
        }
    }
    assert!(cited >= 5, "only {cited} citations found");
}

#[test]
fn the_readme_tour_names_every_source_file_and_only_files_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let tour = readme
        .split("## Development")
        .nth(1)
        .and_then(|t| t.split("\n## ").next())
        .expect("a Development section");
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    for (path, _) in &files {
        let name = Path::new(path).file_name().unwrap().to_str().unwrap();
        if ["mod.rs", "lib.rs"].contains(&name) || name.ends_with("_tests.rs") {
            continue;
        }
        let folder = Path::new(path)
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            tour.contains(&format!("`{name}`")),
            "the tour does not name {path}"
        );
        if folder != "src" {
            assert!(
                tour.contains(&format!("`src/{folder}/`")),
                "the tour has no paragraph for src/{folder}/"
            );
        }
    }
    // Every `*.rs` the tour names exists somewhere under src/.
    for word in tour
        .split('`')
        .filter(|w| Path::new(w).extension().is_some_and(|e| e == "rs") && !w.contains('/'))
    {
        assert!(
            files.iter().any(|(p, _)| p.ends_with(&format!("/{word}"))),
            "the tour names {word}, which is not in src/"
        );
    }
}

//! In-process ingest benchmark (Criterion-style: warm-up, repeated samples, median): recorded
//! pod list pages from the cluster simulator, decoded and accounted the way the exporter does
//! (each pod accounted while it is decoded → compact records), against serde_json's skip-parse
//! floor (`IgnoredAny`) on the same bytes. Prints MB/s per core for both and their ratio. Build it for the musl target
//! (`make bench` does) to measure with the shipped binary's allocator.
//!
//! `cargo bench --bench ingest -- [PODS]` (default 15,000 pods; needs target/*/kube-sim).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Instant;

mod common;

use common::{http, spawn_sim};
use kube::core::ObjectList;
use kube_cluster_binpacking_exporter::ingest::objects::{set_pod_accounting, SlimPod};
use kube_cluster_binpacking_exporter::model::accounting::AccountingOptions;
use kube_cluster_binpacking_exporter::model::resources::TrackedResources;
use serde::de::IgnoredAny;

/// Records the pod list pages (limit 500) of a generated cluster.
fn record_pages(pods: usize) -> Vec<Vec<u8>> {
    let nodes = (pods / 30).max(10).to_string();
    let (mut child, api, _) = spawn_sim(&[
        "--nodes",
        &nodes,
        "--pods",
        &pods.to_string(),
        "--seed",
        "3",
    ]);
    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let path = format!("/api/v1/pods?limit=500&continue={token}");
        let page = http(&api, "GET", &path, "Accept: application/json\r\n").body;
        let v: serde_json::Value = serde_json::from_slice(&page).unwrap();
        v["metadata"]["continue"]
            .as_str()
            .unwrap_or("")
            .clone_into(&mut token);
        pages.push(page);
        if token.is_empty() {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    pages
}

/// Runs `f` over all pages `samples` times after a warm-up; returns the median seconds per pass.
fn measure(pages: &[Vec<u8>], samples: usize, mut f: impl FnMut(&[u8]) -> usize) -> f64 {
    for page in pages {
        black_box(f(page));
    }
    let mut times: Vec<f64> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            for page in pages {
                black_box(f(page));
            }
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let pods: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(15_000);
    let pages = record_pages(pods);
    let bytes: usize = pages.iter().map(Vec::len).sum();
    let tracked = TrackedResources::new(["cpu", "memory", "pods"]).unwrap();
    let options = AccountingOptions {
        pod_level_resources: true,
        use_status_resources: true,
        pod_level_status: false,
        max_of_sums: false,
    };
    // Pods are accounted while they are decoded, as on the exporter's watch thread.
    set_pod_accounting(&tracked, options);
    let samples = 9;
    // INGEST_PROFILE=1: only the decode under test, many passes (for perf).
    if std::env::var_os("INGEST_PROFILE").is_some() {
        for _ in 0..40 {
            for page in &pages {
                let list: ObjectList<SlimPod> = serde_json::from_slice(page).unwrap();
                black_box(
                    list.items
                        .iter()
                        .filter_map(|p| p.facts.as_ref().map(|f| (p.key(), f)))
                        .count(),
                );
            }
        }
        return;
    }

    let floor = measure(&pages, samples, |page| {
        serde_json::from_slice::<IgnoredAny>(page)
            .map(|_| 1)
            .unwrap()
    });
    let ours = measure(&pages, samples, |page| {
        let list: ObjectList<SlimPod> = serde_json::from_slice(page).unwrap();
        list.items
            .iter()
            .filter_map(|p| p.facts.as_ref().map(|f| (p.key(), f)))
            .count()
    });
    let mb = bytes as f64 / 1e6;
    let per_pod = bytes as f64 / pods as f64;
    println!("ingest: {pods} pods, {} pages, {mb:.1} MB of pod JSON ({per_pod:.0} B/pod), median of {samples}", pages.len());
    println!(
        "  serde_json skip-parse floor: {:>7.0} MB/s  {:>8.0} pods/s",
        mb / floor,
        pods as f64 / floor
    );
    println!(
        "  decode + account (ours):     {:>7.0} MB/s  {:>8.0} pods/s",
        mb / ours,
        pods as f64 / ours
    );
    println!("  ratio to the floor:          {:>7.2}", floor / ours);
}

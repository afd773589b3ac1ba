//! In-process scrape benchmark: a cluster state of 5,000 nodes and 150,000 pods (and the same
//! nodes with 10× fewer pods), then snapshot → capacity figures → exposition → gzip, timed stage by
//! stage over repeated runs (median and p99). Shows that the scrape is O(nodes), not O(pods).
//!
//! `cargo bench --bench scrape`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use kube_cluster_binpacking_exporter::model::label_groups::LabelGroups;
use kube_cluster_binpacking_exporter::model::state::{ClusterState, NodeRecord, Owner, PodFacts};
use kube_cluster_binpacking_exporter::serve::buffers::{SharedBody, Spares};
use kube_cluster_binpacking_exporter::serve::gzip::Deflated;
use kube_cluster_binpacking_exporter::serve::node_text::NodeText;
use kube_cluster_binpacking_exporter::views::capacity::{self, Shape};
use kube_cluster_binpacking_exporter::views::exposition::{
    encode, encode_head, Families, Layout, Options,
};
use kube_cluster_binpacking_exporter::views::snapshot::Snapshot;

fn cluster(nodes: usize, pods: usize, pending: usize) -> ClusterState {
    let mut s = ClusterState::new(2);
    for n in 0..nodes {
        s.apply_node(
            &format!("ip-10-16-{}-{}.ec2.internal", n / 250, n % 250),
            NodeRecord {
                allocatable: vec![3920, 16_274_762_752].into(),
                capacity: vec![4000, 16_674_762_752].into(),
                labels: vec![Some(format!("us-east-1{}", ["a", "b", "c"][n % 3]).into())].into(),
                pod_slots: 110,
                unschedulable: n % 97 == 0,
            },
        );
    }
    for p in 0..pods + pending {
        let n = p % nodes;
        let node = (p < pods).then(|| format!("ip-10-16-{}-{}.ec2.internal", n / 250, n % 250));
        let owner = if p % 10 == 0 {
            Owner::DaemonSet
        } else {
            Owner::Workload
        };
        s.apply_pod(
            &format!("ns-{}/pod-{p}", p % 50),
            Some(PodFacts::new(
                node,
                &[50 + (p as u64 % 7) * 25, 64 << 20],
                &[100 + (p as u64 % 7) * 50, 128 << 20],
                u32::from(p % 5 == 0),
                owner,
            )),
        );
    }
    s
}

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[(v.len() * 99 / 100).min(v.len() - 1)])
}

static SPARES: Spares<u8> = Spares::new(2);

fn run(label: &str, state: &ClusterState) {
    let groups = LabelGroups::new(&[vec!["topology.kubernetes.io/zone".into()]]);
    let resources = vec!["cpu".to_owned(), "memory".to_owned()];
    let shapes = [Shape {
        name: "small".into(),
        requests: vec![250, 256 << 20],
    }];
    let all = Families::ALL;
    let limit = capacity::pending_limit(state.counts().nodes);
    let (mut snap_t, mut cap_t, mut enc_t, mut base_t, mut gz_t) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut sizes = (0, 0, 0);
    let runs = std::env::var("SCRAPE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    for _ in 0..runs {
        let t = Instant::now();
        let snapshot = Snapshot::take(state, &groups, limit);
        snap_t.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let cap = capacity::compute(&snapshot, &shapes);
        cap_t.push(t.elapsed().as_secs_f64() * 1e3);
        let opts = |families| Options {
            resources: &resources,
            families,
            label_groups: true,
            cache_age_seconds: Some(1.0),
        };
        let t = Instant::now();
        // Buffers are reused from scrape to scrape, as the server does.
        let mut out = SPARES.take(12 << 20);
        encode(&snapshot, Some(&cap), &opts(all), &mut out);
        enc_t.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let mut base = SPARES.take(6 << 20);
        encode(&snapshot, None, &opts(Families::BASE), &mut base);
        base_t.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&out).unwrap();
        let gz = gz.finish().unwrap();
        gz_t.push(t.elapsed().as_secs_f64() * 1e3);
        sizes = (out.len(), base.len(), gz.len());
        black_box(&gz);
        SPARES.give_back(out);
        SPARES.give_back(base);
    }
    let f = |v: Vec<f64>| {
        let (p50, p99) = stats(v);
        format!("{p50:>6.2} / {p99:>6.2} ms")
    };
    println!(
        "{label}: {} nodes, {} pods",
        state.counts().nodes,
        state.counts().pods
    );
    println!("  snapshot              {}", f(snap_t));
    println!("  capacity figures      {}", f(cap_t));
    println!(
        "  encode, all families  {}  ({} KB)",
        f(enc_t),
        sizes.0 / 1000
    );
    println!(
        "  encode, base families {}  ({} KB)",
        f(base_t),
        sizes.1 / 1000
    );
    println!(
        "  gzip level 1          {}  ({} KB)",
        f(gz_t),
        sizes.2 / 1000
    );
}

/// A scrape after `changed` nodes each got one more pod, as the server renders it: snapshot,
/// capacity figures, and the figures' text with the node families' text kept per block of nodes
/// (only the blocks of changed nodes rendered again), plain and deflated; against the whole text
/// rendered and deflated from scratch.
fn run_changed(state: &mut ClusterState, runs: usize) {
    let groups = LabelGroups::new(&[vec!["topology.kubernetes.io/zone".into()]]);
    let resources = vec!["cpu".to_owned(), "memory".to_owned()];
    let shapes = [Shape {
        name: "small".into(),
        requests: vec![250, 256 << 20],
    }];
    let names: Vec<String> = Snapshot::take(state, &groups, 0)
        .nodes
        .iter()
        .map(|n| n.name.clone())
        .collect();
    let mut rng = 0x9e37_79b9_u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut added = 0u64;
    println!(
        "changed state, {} nodes: snapshot + capacity + figures' text, after one pod on each of N nodes",
        names.len()
    );
    // SCRAPE_CHANGED=N measures N changed nodes only (for a profiler).
    let only: Option<usize> = std::env::var("SCRAPE_CHANGED")
        .ok()
        .and_then(|v| v.parse().ok());
    let counts = only.map_or_else(|| vec![0, 1, 10, 100, 1000, names.len()], |n| vec![n]);
    for changed in counts {
        // Plain and gzip with the kept node text, and gzip of the whole text rendered from
        // scratch (the server before the node text was kept).
        let mut times = [vec![], vec![], vec![]];
        let mut rendered = [0usize; 3];
        let mut sizes = [0usize; 3];
        // SCRAPE_MODE=0|1|2: that one only (for a profiler).
        let mode: Option<usize> = std::env::var("SCRAPE_MODE")
            .ok()
            .and_then(|v| v.parse().ok());
        for e in 0..3 {
            if mode.is_some_and(|m| m != e) {
                times[e].push(0.0);
                continue;
            }
            let mut kept = NodeText::default();
            for run in 0..=runs {
                for _ in 0..changed {
                    let node = &names[(next() % names.len() as u64) as usize];
                    added += 1;
                    state.apply_pod(
                        &format!("bench/added-{added}"),
                        Some(PodFacts::new(
                            Some(node.clone()),
                            &[10, 1 << 20],
                            &[10, 1 << 20],
                            0,
                            Owner::Workload,
                        )),
                    );
                }
                let t = Instant::now();
                let (work, size) =
                    changed_scrape(e, state, &groups, &resources, &shapes, &mut kept);
                sizes[e] = size;
                // The first render of each encoding renders every block: not counted.
                if run > 0 {
                    times[e].push(t.elapsed().as_secs_f64() * 1e3);
                    rendered[e] += work;
                }
            }
        }
        let [plain, gzip, scratch] = times.map(stats);
        println!(
            "  {changed:>5} nodes changed  plain {:>6.2} / {:>6.2} ms  gzip {:>6.2} / {:>6.2} ms  (from scratch {:>6.2} / {:>6.2} ms)  {} / {} nodes rendered per scrape; {} KB / {} KB (from scratch {} KB)",
            plain.0,
            plain.1,
            gzip.0,
            gzip.1,
            scratch.0,
            scratch.1,
            rendered[0] / runs,
            rendered[1] / runs,
            sizes[0] / 1000,
            sizes[1] / 1000,
            sizes[2] / 1000,
        );
    }
}

/// One scrape of `state` in mode `e` (0: plain with the kept node text, 1: gzip with it, 2: gzip
/// of the whole text rendered from scratch): nodes rendered and bytes.
fn changed_scrape(
    e: usize,
    state: &ClusterState,
    groups: &LabelGroups,
    resources: &[String],
    shapes: &[Shape],
    kept: &mut NodeText,
) -> (usize, usize) {
    let size;
    let limit = capacity::pending_limit(state.counts().nodes);
    let snapshot = Snapshot::take(state, groups, limit);
    let cap = capacity::compute(&snapshot, shapes);
    let opts = Options {
        resources,
        families: Families::ALL,
        label_groups: true,
        cache_age_seconds: None,
    };
    let layout = Layout::new(&snapshot, Some(&cap), &opts);
    let mut text = SPARES.take(if e == 1 { 1 << 20 } else { 12 << 20 });
    let work = match e {
        0 => {
            encode_head(&layout, &snapshot, Some(&cap), &opts, &mut text);
            let work = kept.plain(&layout, &snapshot, Some(&cap), &mut text);
            size = text.len();
            // The text becomes the body the next plain scrape copies unchanged
            // lines from, as the server keeps it.
            let body = Arc::new(SharedBody::new(std::mem::take(&mut text), &SPARES));
            kept.keep_plain(&body);
            work.nodes_rendered
        }
        1 => {
            encode_head(&layout, &snapshot, Some(&cap), &opts, &mut text);
            let mut whole = kept.deflate(&text).unwrap();
            let work = kept
                .deflated(&layout, &snapshot, Some(&cap), &mut whole)
                .unwrap();
            size = whole.len();
            black_box(&whole);
            work.nodes_rendered
        }
        _ => {
            encode(&snapshot, Some(&cap), &opts, &mut text);
            let whole = Deflated::of(&text).unwrap();
            size = whole.len();
            black_box(&whole);
            snapshot.nodes.len()
        }
    };
    SPARES.give_back(text);
    (work, size)
}

fn main() {
    if std::env::var_os("SCRAPE_CHANGED").is_none() {
        run("large", &cluster(5000, 150_000, 1000));
        run("large, 10x fewer pods", &cluster(5000, 15_000, 100));
    }
    let runs = std::env::var("SCRAPE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    run_changed(&mut cluster(5000, 150_000, 1000), runs);
}

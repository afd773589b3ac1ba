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
use std::time::Instant;

use kube_cluster_binpacking_exporter::model::label_groups::LabelGroups;
use kube_cluster_binpacking_exporter::model::state::{ClusterState, NodeRecord, Owner, PodFacts};
use kube_cluster_binpacking_exporter::serve::buffers::Spares;
use kube_cluster_binpacking_exporter::views::capacity::{self, Shape};
use kube_cluster_binpacking_exporter::views::exposition::{encode, Families, Options};
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

fn main() {
    run("large", &cluster(5000, 150_000, 1000));
    run("large, 10x fewer pods", &cluster(5000, 15_000, 100));
}

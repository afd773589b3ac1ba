//! The exposition of a fixed state is byte-identical to `tests/fixtures/golden.prom` (which
//! `make check-metrics` lints with promtool). Regenerate only on purpose: `make golden`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kube_cluster_binpacking_exporter::model::devices::{
    ClaimInput, ClassInput, DeviceInput, ResultInput, SliceInput, SliceScope,
};
use kube_cluster_binpacking_exporter::model::label_groups::LabelGroups;
use kube_cluster_binpacking_exporter::model::state::{ClusterState, NodeRecord, Owner, PodFacts};
use kube_cluster_binpacking_exporter::model::usage::{UsageTable, UsageTotals};
use kube_cluster_binpacking_exporter::views::capacity::{self, Shape};
use kube_cluster_binpacking_exporter::views::device_exposition;
use kube_cluster_binpacking_exporter::views::exposition::{encode, Families, Options};
use kube_cluster_binpacking_exporter::views::snapshot::Snapshot;

fn node(alloc: &[u64], zone: Option<&str>, pool: Option<&str>) -> NodeRecord {
    NodeRecord {
        allocatable: alloc.into(),
        capacity: alloc.iter().map(|v| v + v / 10).collect(),
        labels: vec![zone.map(Into::into), pool.map(Into::into)].into_boxed_slice(),
        pod_slots: alloc[3],
        unschedulable: false,
    }
}

/// A bound pod whose limits are its requests doubled (cpu, memory only; GPUs as requested),
/// unlimited for the resources in `unlimited` (a bit mask).
#[allow(clippy::unnecessary_wraps)]
fn pod(node: &str, requests: &[u64], owner: Owner, unlimited: u32) -> Option<PodFacts> {
    let limits: Vec<u64> = requests
        .iter()
        .enumerate()
        .map(|(r, &v)| match r {
            0 | 1 if unlimited & (1 << r) == 0 => v * 2,
            2 => v,
            _ => 0,
        })
        .collect();
    Some(PodFacts::new(
        Some(node.to_owned()),
        requests,
        &limits,
        unlimited,
        owner,
    ))
}

/// A usage poll (`--usage`): cpu and memory per node and namespace; node-b has no sample of its
/// own, "odd" none at all.
fn usage_poll() -> UsageTable {
    let usage = |node: [u64; 2], nodes_sampled, pods: [u64; 2], pods_sampled, unused| UsageTotals {
        node,
        nodes_sampled,
        pods,
        pods_sampled,
        unused,
    };
    UsageTable {
        newest: 1_796_403_030,
        nodes: [
            (
                "node-a",
                usage(
                    [1250, 2_000_000_000],
                    1,
                    [600, 300_000_000],
                    2,
                    [251, 236_870_912],
                ),
            ),
            (
                "node-b",
                usage([0, 0], 0, [3900, 17_000_000_000], 2, [400, 134_217_728]),
            ),
        ]
        .into_iter()
        .map(|(n, u)| (n.into(), u))
        .collect(),
        namespaces: [
            (
                "web",
                usage([0, 0], 0, [500, 200_000_000], 1, [250, 202_653_184]),
            ),
            ("ml", usage([0, 0], 0, [3800, 17_000_000_000], 1, [200, 0])),
        ]
        .into_iter()
        .map(|(n, u)| (n.into(), u))
        .collect(),
        ..UsageTable::default()
    }
}

/// DRA: node-a publishes 4 GPUs (generation 2; generation 1's 8 are stale) and advertises no
/// `nvidia.com/gpu`, which the class `gpu.example.com` backs; a shared NIC pool; claims through a
/// resolved, an unresolved and a NIC class, and a pending one.
fn add_devices(s: &mut ClusterState, resources: &[String]) {
    s.track_devices(resources.to_vec());
    let slice = |driver: &str, pool: &str, generation, node: Option<&str>, n| SliceInput {
        driver: driver.into(),
        pool: pool.into(),
        generation,
        scope: node.map_or(SliceScope::Shared, |n| SliceScope::Node(n.into())),
        devices: (0..n)
            .map(|i| DeviceInput {
                name: format!("dev-{i}"),
                node: None,
                attributes: Vec::new(),
            })
            .collect(),
    };
    let claim = |driver: &str, pool: &str, device: &str, class: &str| ClaimInput {
        allocated: true,
        results: vec![ResultInput {
            driver: driver.into(),
            pool: pool.into(),
            device: device.into(),
            class: Some(class.into()),
        }],
    };
    let class = |expression: &str, extended: Option<&str>| ClassInput {
        selectors: vec![expression.into()],
        extended_resource: extended.map(Into::into),
        created: None,
    };
    let d = s.devices_mut();
    // Each watch's first list completed (empty; the figures are published only then).
    d.begin_slice_relist();
    d.finish_slice_relist();
    d.begin_claim_relist();
    d.finish_claim_relist();
    d.begin_class_relist();
    d.finish_class_relist();
    d.apply_slice(
        "node-a-gpu-2",
        slice("gpu.example.com", "node-a", 2, Some("node-a"), 4),
    );
    d.apply_slice(
        "node-a-gpu-1",
        slice("gpu.example.com", "node-a", 1, Some("node-a"), 8),
    );
    d.apply_slice("rack-1-a", slice("nic.example.com", "rack-1", 1, None, 6));
    d.apply_class(
        "gpu.example.com",
        &class(
            "device.driver == \"gpu.example.com\"",
            Some("nvidia.com/gpu"),
        ),
    );
    d.apply_class(
        "big-gpu",
        &class(
            "device.driver == \"gpu.example.com\" && device.capacity[\"gpu.example.com\"].memory.compareTo(quantity(\"80Gi\")) >= 0",
            None,
        ),
    );
    d.apply_class("nic", &class("device.driver == 'nic.example.com'", None));
    d.apply_claim(
        "web/a-gpu",
        &claim("gpu.example.com", "node-a", "dev-0", "gpu.example.com"),
    );
    d.apply_claim(
        "ml/big",
        &claim("gpu.example.com", "node-a", "dev-3", "big-gpu"),
    );
    d.apply_claim(
        "web/nic",
        &claim("nic.example.com", "rack-1", "dev-5", "nic"),
    );
    d.apply_claim("web/waiting", &ClaimInput::default());
    s.settle();
}

fn render() -> String {
    // resources: cpu (millicores), memory (bytes), nvidia.com/gpu, pods
    let resources: Vec<String> = ["cpu", "memory", "nvidia.com/gpu", "pods"]
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut s = ClusterState::new(resources.len());
    s.keep_namespaces_per_node();
    s.apply_node(
        "node-a",
        node(&[3920, 16_674_762_752, 0, 110], Some("eu-1a"), Some("web")),
    );
    s.apply_node(
        "node-b",
        node(&[7910, 32_000_000_000, 2, 110], Some("eu-1b"), Some("gpu")),
    );
    s.apply_node(
        "odd \"name\"\\",
        node(&[1000, 1_000_000_000, 0, 10], None, Some("a\nb")),
    );
    s.apply_pod(
        "web/a",
        pod("node-a", &[750, 402_653_184, 0, 1], Owner::Workload, 0),
    );
    s.apply_pod("web/b", pod("node-a", &[1, 1, 0, 1], Owner::Workload, 0b10));
    s.apply_pod(
        "sys/ds-a",
        pod("node-a", &[100, 134_217_728, 0, 1], Owner::DaemonSet, 0),
    );
    s.apply_pod(
        "sys/ds-b",
        pod("node-b", &[100, 134_217_728, 0, 1], Owner::DaemonSet, 0),
    );
    s.apply_pod(
        "ml/train",
        pod(
            "node-b",
            &[4000, 16_000_000_000, 2, 1],
            Owner::Workload,
            0b01,
        ),
    );
    s.apply_pod(
        "sys/static",
        pod("node-b", &[250, 0, 0, 1], Owner::Static, 0b11),
    );
    s.apply_pod(
        "web/pending",
        Some(PodFacts::new(
            None,
            &[500, 1_073_741_824, 0, 1],
            &[1000, 2_147_483_648, 0, 0],
            0,
            Owner::Workload,
        )),
    );
    add_devices(&mut s, &resources);
    let groups = LabelGroups::new(&[vec!["zone".into()], vec!["zone".into(), "pool".into()]]);
    let mut snapshot = Snapshot::take_into(&s, &groups, 100, true, Vec::new());
    snapshot.attach_usage(&usage_poll());
    let shapes = [Shape {
        name: "small".into(),
        requests: vec![500, 1_073_741_824, 0, 0],
    }];
    let capacity = capacity::compute(&snapshot, &shapes);
    let mut out = Vec::new();
    encode(
        &snapshot,
        Some(&capacity),
        &Options {
            resources: &resources,
            families: Families::ALL,
            label_groups: true,
            cache_age_seconds: Some(2.5),
        },
        &mut out,
    );
    device_exposition::encode(&snapshot, Families::ALL, true, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn exposition_matches_the_golden_file() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden.prom");
    let got = render();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path).expect("golden file (make golden)");
    assert_eq!(
        got, want,
        "exposition changed; if intended, run `make golden` and review the diff"
    );
}

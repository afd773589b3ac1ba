//! The accounting rule on every vector of `tests/fixtures/accounting-vectors.json` and
//! `accounting-vectors-137.json` (under each Kubernetes version a vector lists) and on hand-made
//! pods.

use super::*;
use crate::model::resources::{ResourceList, ResourceName, TrackedResources};
use serde_json::{json, Value};

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/accounting-vectors.json"
));

const VECTORS_137: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/accounting-vectors-137.json"
));

/// The 1.34/1.35 defaults, the options most tests assume.
pub(crate) const ALL_GATES: AccountingOptions = AccountingOptions {
    pod_level_resources: true,
    use_status_resources: true,
    pod_level_status: false,
    max_of_sums: false,
};

/// The minor versions a vector without `versions` holds for.
const VERSIONS: [&str; 5] = ["1.33", "1.34", "1.35", "1.36", "1.37"];

/// The defaults of a minor version (as `gates_for` resolves `auto`), overridden by the vector's
/// `gates`.
fn options_for(version: &str, gates: &Value) -> AccountingOptions {
    let minor: u32 = version.strip_prefix("1.").unwrap().parse().unwrap();
    let gate = |key: &str, since: u32| gates.get(key).map_or(minor >= since, |on| on == true);
    AccountingOptions {
        pod_level_resources: gate("PodLevelResources", 34),
        use_status_resources: gate("InPlacePodVerticalScaling", 33),
        pod_level_status: gate("InPlacePodLevelResourcesVerticalScaling", 36),
        max_of_sums: gate("MaxOfSums", 37),
    }
}

pub(crate) fn tracked(names: &[&str]) -> TrackedResources {
    TrackedResources::new(names).unwrap()
}

pub(crate) fn decode(spec: Value, status: Value) -> (PodSpecInput, PodStatusInput) {
    (
        serde_json::from_value(spec).unwrap(),
        serde_json::from_value(status).unwrap(),
    )
}

fn requests(spec: Value, status: Value, names: &[&str]) -> Vec<u64> {
    let (spec, status) = decode(spec, status);
    pod_requests(&spec, &status, &tracked(names), ALL_GATES).into_vec()
}

/// `SetDefaults_Pod`: a container limit becomes the request where the request is missing.
fn default_requests_from_limits(pod: &mut Value) {
    for list in ["containers", "initContainers"] {
        for c in pod["spec"][list].as_array_mut().into_iter().flatten() {
            let limits = c["resources"]["limits"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for (name, limit) in limits {
                if c["resources"]["requests"].get(&name).is_none() {
                    c["resources"]["requests"][&name] = limit;
                }
            }
        }
    }
}

/// cpu, memory, ephemeral-storage, pods and every other name the vector mentions.
fn tracked_for(vector: &Value) -> TrackedResources {
    let mut names: Vec<String> = ["cpu", "memory", "ephemeral-storage", "pods"]
        .map(String::from)
        .into();
    let expected = &vector["expected"];
    let maps = [
        &vector["node"]["allocatable"],
        &expected["node"]["allocatable"],
        &expected["node"]["allocated"],
    ]
    .into_iter()
    .chain(
        expected["pods"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| &p["requests"]),
    );
    for map in maps {
        for name in map.as_object().into_iter().flat_map(|m| m.keys()) {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    TrackedResources::new(&names).unwrap()
}

fn compare(
    problems: &mut Vec<String>,
    what: &str,
    t: &TrackedResources,
    got: &[u64],
    want: &Value,
) {
    for (name, &got) in t.names().iter().zip(got) {
        let want = want.get(name.as_str()).map_or(0, |v| v.as_u64().unwrap());
        if got != want {
            problems.push(format!("{what} {name} = {got}, expected {want}"));
        }
    }
}

/// The vector under every version it lists, each problem prefixed with the version.
fn check_pod_vector(vector: &Value) -> Vec<String> {
    let versions: Vec<&str> = vector.get("versions").map_or(VERSIONS.to_vec(), |v| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect()
    });
    versions
        .into_iter()
        .flat_map(|version| {
            check_pod_vector_under(vector, options_for(version, &vector["gates"]))
                .into_iter()
                .map(move |p| format!("{version}: {p}"))
        })
        .collect()
}

fn check_pod_vector_under(vector: &Value, opts: AccountingOptions) -> Vec<String> {
    let mut problems = Vec::new();
    let t = tracked_for(vector);
    let pods_at = t.index_of("pods").unwrap();
    let node_name = vector["node"]["name"].as_str().unwrap();
    let mut allocated = vec![0_u64; t.len()];
    let pods = vector["pods"].as_array().unwrap();
    for name in vector["expected"]["pods"].as_object().unwrap().keys() {
        if !pods.iter().any(|p| p["metadata"]["name"] == **name) {
            problems.push(format!("pod {name} is expected but not in the vector"));
        }
    }
    for pod in pods {
        let mut pod = pod.clone();
        if vector["as_submitted"] == true {
            default_requests_from_limits(&mut pod);
        }
        let name = pod["metadata"]["name"].as_str().unwrap().to_owned();
        let (spec, status) = decode(pod["spec"].take(), pod["status"].take());
        for bad in spec.bad_quantities.iter().chain(&status.bad_quantities) {
            problems.push(format!("pod {name}: unexpected bad quantity {bad}"));
        }
        let counted =
            counts_on_node(&spec, &status) && spec.node_name.as_deref() == Some(node_name);
        let got = pod_requests(&spec, &status, &t, opts);
        let want = &vector["expected"]["pods"][&name];
        if let Some(want_counted) = want["counted"].as_bool() {
            if counted != want_counted {
                problems.push(format!(
                    "pod {name}: counted = {counted}, expected {want_counted}"
                ));
            }
        }
        if let Some(want_requests) = want.get("requests") {
            let mut without_pods = got.to_vec();
            without_pods[pods_at] = 0;
            compare(
                &mut problems,
                &format!("pod {name} requests"),
                &t,
                &without_pods,
                want_requests,
            );
        }
        if counted {
            for (sum, value) in allocated.iter_mut().zip(got.iter()) {
                *sum = sum.saturating_add(*value);
            }
        }
    }
    compare(
        &mut problems,
        "node allocated",
        &t,
        &allocated,
        &vector["expected"]["node"]["allocated"],
    );
    let node: NodeStatusInput =
        serde_json::from_value(json!({ "allocatable": vector["node"]["allocatable"] })).unwrap();
    for bad in &node.bad_quantities {
        problems.push(format!("node: unexpected bad quantity {bad}"));
    }
    if let Some(want) = vector["expected"]["node"].get("allocatable") {
        compare(
            &mut problems,
            "node allocatable",
            &t,
            &node_allocatable(&node, &t),
            want,
        );
    }
    problems
}

fn check_vector_file(text: &str, count: usize) {
    let vectors: Value = serde_json::from_str(text).unwrap();
    let vectors = vectors["pod_vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), count);
    let failures: Vec<String> = vectors
        .iter()
        .flat_map(|v| {
            let id = format!(
                "{} {}",
                v["id"].as_str().unwrap(),
                v["name"].as_str().unwrap()
            );
            check_pod_vector(v)
                .into_iter()
                .map(move |p| format!("{id}: {p}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "pod vectors failed:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_pod_vector_matches_kube_scheduler_1_33_to_1_37() {
    check_vector_file(VECTORS, 41);
}

#[test]
fn every_1_36_and_1_37_vector_matches_kube_scheduler() {
    check_vector_file(VECTORS_137, 17);
}

#[test]
fn sidecar_counts_toward_every_later_init_peak() {
    let spec = json!({
        "initContainers": [
            {"name": "sc", "restartPolicy": "Always", "resources": {"requests": {"cpu": "300m"}}},
            {"name": "init-a", "resources": {"requests": {"cpu": "500m"}}},
            {"name": "init-b", "resources": {"requests": {"cpu": "600m"}}},
        ],
        "containers": [{"name": "app", "resources": {"requests": {"cpu": "100m"}}}],
    });
    // Running: 100 + 300 = 400. Peaks: 300, 300+500, 300+600. A sidecar treated as a plain
    // init container would give 600; one seen only by the next init container, 800.
    assert_eq!(requests(spec, Value::Null, &["cpu"]), [900]);
}

#[test]
fn infeasible_resize_drops_spec() {
    let spec = json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "4", "memory": "1Gi"}}}]});
    let statuses = json!([{
        "name": "a",
        "resources": {"requests": {"cpu": "1"}},
        "allocatedResources": {"cpu": "1", "memory": "1Gi"},
    }]);
    let infeasible = json!({"type": "PodResizePending", "status": "True", "reason": "Infeasible"});
    let deferred = json!({"type": "PodResizePending", "status": "True", "reason": "Deferred"});
    let cases = [
        ("infeasible", json!([infeasible]), [1000, 1_073_741_824]),
        ("deferred", json!([deferred]), [4000, 1_073_741_824]),
        (
            "only the first pending condition counts",
            json!([deferred, infeasible]),
            [4000, 1_073_741_824],
        ),
        (
            "in progress",
            json!([{"type": "PodResizeInProgress", "status": "True"}]),
            [4000, 1_073_741_824],
        ),
    ];
    for (case, conditions, want) in cases {
        let status = json!({"conditions": conditions, "containerStatuses": statuses});
        assert_eq!(
            requests(spec.clone(), status, &["cpu", "memory"]),
            want,
            "{case}"
        );
    }
}

#[test]
fn status_without_resources_is_ignored() {
    let spec = json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "500m"}}}]});
    let cases = [
        (
            "no resources",
            json!({"name": "a", "allocatedResources": {"cpu": "2"}}),
            500,
        ),
        (
            "null resources",
            json!({"name": "a", "resources": null, "allocatedResources": {"cpu": "2"}}),
            500,
        ),
        (
            "empty resources",
            json!({"name": "a", "resources": {}, "allocatedResources": {"cpu": "2"}}),
            2000,
        ),
        (
            "other container",
            json!({"name": "b", "resources": {"requests": {"cpu": "2"}}}),
            500,
        ),
    ];
    for (case, entry, want) in cases {
        let status = json!({"containerStatuses": [entry]});
        assert_eq!(requests(spec.clone(), status, &["cpu"]), [want], "{case}");
    }
}

#[test]
fn bad_quantity_is_skipped_and_recorded() {
    let (spec, status) = decode(
        json!({
            "containers": [{"resources": {"requests": {"cpu": "abc", "memory": "1Gi"}}, "name": "app"}],
            "overhead": {"cpu": "-100m", "memory": true},
        }),
        json!({"containerStatuses": [{"name": "app", "resources": {"requests": {}}, "allocatedResources": {"cpu": "1.5.5"}}]}),
    );
    let fields = |bad: &[BadQuantity]| {
        bad.iter()
            .map(|b| (b.field.clone(), b.value.clone(), b.error))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        fields(&spec.bad_quantities),
        [
            (
                "spec.containers[app].resources.requests.cpu".into(),
                "abc".into(),
                QuantityError::Format
            ),
            (
                "spec.overhead.cpu".into(),
                "-100m".into(),
                QuantityError::Negative
            ),
            (
                "spec.overhead.memory".into(),
                "true".into(),
                QuantityError::Format
            ),
        ]
    );
    assert_eq!(
        fields(&status.bad_quantities),
        [(
            "status.containerStatuses[app].allocatedResources.cpu".into(),
            "1.5.5".into(),
            QuantityError::Format
        )]
    );
    let got = pod_requests(&spec, &status, &tracked(&["cpu", "memory"]), ALL_GATES);
    assert_eq!(*got, [0, 1_073_741_824]);
}

#[test]
fn hundreds_of_containers_with_huge_values_saturate_without_panic() {
    let huge = json!({"name": "c", "resources": {"requests": {
        "cpu": "1e29", "memory": "8Ei", "nvidia.com/gpu": "170141183460469231731687303715"
    }}});
    let sidecar = json!({"name": "s", "restartPolicy": "Always", "resources": huge["resources"]});
    let spec = json!({
        "containers": vec![&huge; 300],
        "initContainers": ([vec![&sidecar; 300], vec![&huge; 300]].concat()),
        "overhead": huge["resources"]["requests"],
        "resources": {"requests": {"memory": "1e29"}},
    });
    let got = requests(
        spec,
        Value::Null,
        &["cpu", "memory", "nvidia.com/gpu", "pods"],
    );
    assert_eq!(got, [u64::MAX, u64::MAX, u64::MAX, 1]);
}

#[test]
fn missing_allocatable_falls_back_to_capacity() {
    let t = tracked(&["cpu", "memory", "pods"]);
    let capacity = json!({"cpu": "4", "memory": "1Gi", "pods": "110"});
    let cases = [
        (
            "missing",
            json!({"capacity": capacity}),
            [4000, 1_073_741_824, 110],
        ),
        (
            "null",
            json!({"allocatable": null, "capacity": capacity}),
            [4000, 1_073_741_824, 110],
        ),
        (
            "empty map is present",
            json!({"allocatable": {}, "capacity": capacity}),
            [0, 0, 0],
        ),
        (
            "present",
            json!({"allocatable": {"cpu": "3920m"}, "capacity": capacity}),
            [3920, 0, 0],
        ),
        ("no status", Value::Null, [0, 0, 0]),
    ];
    for (case, status, want) in cases {
        let status: NodeStatusInput = serde_json::from_value(status).unwrap();
        assert_eq!(*node_allocatable(&status, &t), want, "{case}");
    }
    let status: NodeStatusInput =
        serde_json::from_value(json!({"allocatable": {"cpu": "1"}, "capacity": capacity})).unwrap();
    assert_eq!(*node_capacity(&status, &t), [4000, 1_073_741_824, 110]);
}

#[test]
fn untracked_resources_are_ignored() {
    let spec = json!({
        "containers": [{"name": "a", "resources": {"requests": {
            "cpu": "1", "memory": "1Gi", "example.com/foo": "3", "foo": "7"
        }}}],
        "resources": {"requests": {"memory": "2Gi"}},
    });
    assert_eq!(requests(spec.clone(), Value::Null, &["cpu"]), [1000]);
    assert_eq!(
        requests(spec, Value::Null, &["example.com/foo", "cpu"]),
        [3, 1000]
    );
}

#[test]
fn pod_level_requests_override_only_supported_keys() {
    let spec = json!({
        "containers": [{"name": "a", "resources": {"requests": {
            "cpu": "500m", "ephemeral-storage": "1Gi", "hugepages-2Mi": "2Mi"
        }}}],
        "resources": {"requests": {"ephemeral-storage": "5Gi", "hugepages-2Mi": "4Mi"}},
        "overhead": {"hugepages-2Mi": "1"},
    });
    let names = ["cpu", "ephemeral-storage", "hugepages-2Mi"];
    assert_eq!(
        requests(spec.clone(), Value::Null, &names),
        [500, 1_073_741_824, 4_194_305]
    );
    let (spec, status) = decode(spec, Value::Null);
    let gate_off = AccountingOptions {
        pod_level_resources: false,
        ..ALL_GATES
    };
    assert_eq!(
        *pod_requests(&spec, &status, &tracked(&names), gate_off),
        [500, 1_073_741_824, 2_097_153]
    );
}

#[test]
fn explain_mentions_the_dominating_container() {
    let (spec, status) = decode(
        json!({
            "initContainers": [{"name": "migrate", "resources": {"requests": {"cpu": "2"}}}],
            "containers": [{"name": "app", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}],
            "overhead": {"cpu": "100m"},
            "resources": {"requests": {"memory": "2Gi"}},
        }),
        json!({"containerStatuses": [{"name": "app", "resources": {"requests": {"memory": "3Gi"}}}]}),
    );
    let t = tracked(&["cpu", "memory", "ephemeral-storage", "pods"]);
    assert_eq!(
        explain(&spec, &status, &t, ALL_GATES),
        "cpu=2100m from spec.initContainers[0] +overhead; \
         memory=2147483648 from pod-level requests (resize status); ephemeral-storage=0; pods=1"
    );
}

#[test]
fn pod_level_status_is_kept_only_when_present() {
    let (_, status) = decode(Value::Null, json!({"phase": "Running", "resources": null}));
    assert_eq!(status.pod_level, None);
    let (_, status) = decode(
        Value::Null,
        json!({
            "resources": {"limits": {"cpu": "2"}},
            "allocatedResources": {"cpu": "1", "memory": "x"},
            "containerStatuses": [{"name": "a", "resources": {}, "allocatedResources": {}}],
        }),
    );
    let pod_level = status.pod_level.as_deref().unwrap();
    assert!(pod_level.resources_present && pod_level.requests.is_none());
    assert_eq!(
        pod_level
            .allocated
            .as_ref()
            .map(|l| l.nanos(&ResourceName::Cpu)),
        Some(1_000_000_000)
    );
    let cs = &status.container_statuses[0];
    assert_eq!(
        (
            cs.requests.as_ref(),
            cs.allocated.as_ref().map(ResourceList::is_empty)
        ),
        (None, Some(true))
    );
    let fields: Vec<&str> = status
        .bad_quantities
        .iter()
        .map(|b| b.field.as_str())
        .collect();
    assert_eq!(fields, ["status.allocatedResources.memory"]);
}

#[test]
fn explain_names_the_pod_level_status_on_1_37() {
    let (spec, status) = decode(
        json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "500m"}}}]}),
        json!({"resources": {"requests": {"cpu": "1"}}, "allocatedResources": {"cpu": "1"}}),
    );
    let opts = AccountingOptions {
        pod_level_status: true,
        max_of_sums: true,
        ..ALL_GATES
    };
    assert_eq!(
        explain(&spec, &status, &tracked(&["cpu"]), opts),
        "cpu=1000m from pod-level status (resize status)"
    );
    assert_eq!(
        explain(&spec, &status, &tracked(&["cpu"]), ALL_GATES),
        "cpu=500m from containers"
    );
}

#[test]
fn explain_flags_an_infeasible_resize() {
    let (spec, status) = decode(
        json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "8"}}}]}),
        json!({
            "conditions": [{"type": "PodResizePending", "reason": "Infeasible"}],
            "containerStatuses": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}],
        }),
    );
    assert_eq!(
        explain(&spec, &status, &tracked(&["cpu"]), ALL_GATES),
        "cpu=1000m from containers (resize status); resize infeasible: spec ignored where status has resources"
    );
}

#[test]
fn counts_on_node_needs_a_node_and_a_live_phase() {
    let cases = [
        (json!({"nodeName": "n1"}), json!({"phase": "Running"}), true),
        (json!({"nodeName": "n1"}), json!({"phase": "Pending"}), true),
        (json!({"nodeName": "n1"}), json!({"phase": "Unknown"}), true),
        (
            json!({"nodeName": "n1"}),
            json!({"phase": "SomethingNew"}),
            true,
        ),
        (json!({"nodeName": "n1"}), json!({}), true),
        (json!({"nodeName": "n1"}), Value::Null, true),
        (
            json!({"nodeName": "n1"}),
            json!({"phase": "Succeeded"}),
            false,
        ),
        (json!({"nodeName": "n1"}), json!({"phase": "Failed"}), false),
        (json!({"nodeName": ""}), json!({"phase": "Running"}), false),
        (
            json!({}),
            json!({"phase": "Running", "nominatedNodeName": "n1"}),
            false,
        ),
    ];
    for (spec, status, want) in cases {
        let case = format!("{spec} {status}");
        let (spec, status) = decode(spec, status);
        assert_eq!(counts_on_node(&spec, &status), want, "{case}");
    }
}

const LIMIT_VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/limits-vectors.json"
));

#[test]
fn every_limit_vector_matches_pod_limits() {
    let vectors: Value = serde_json::from_str(LIMIT_VECTORS).unwrap();
    let names = ["cpu", "memory", "nvidia.com/gpu"];
    let tracked = tracked(&names);
    let mut failures = Vec::new();
    for v in vectors["vectors"].as_array().unwrap() {
        let gates = &v["gates"];
        let opts = AccountingOptions {
            pod_level_resources: gates["PodLevelResources"].as_bool().unwrap_or(true),
            use_status_resources: gates["InPlacePodVerticalScaling"].as_bool().unwrap_or(true),
            ..ALL_GATES
        };
        let (spec, status) = decode(v["pod"]["spec"].clone(), v["pod"]["status"].clone());
        assert!(spec.bad_quantities.is_empty() && status.bad_quantities.is_empty());
        let (limits, unlimited) = pod_limits(&spec, &status, &tracked, opts);
        let want: Vec<u64> = names
            .iter()
            .map(|n| v["expected"]["limits"][n].as_u64().unwrap())
            .collect();
        let want_unlimited: Vec<&str> = v["expected"]["unlimited"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        let got_unlimited: Vec<&str> = names
            .iter()
            .enumerate()
            .filter(|(i, _)| unlimited & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect();
        if limits.to_vec() != want || got_unlimited != want_unlimited {
            failures.push(format!(
                "{} {}: limits {limits:?} want {want:?}, unlimited {got_unlimited:?} want {want_unlimited:?}",
                v["id"], v["name"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

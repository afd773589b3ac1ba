//! Decoding: names, repeated and escaped keys, nulls, bad quantities and Go's number forms.

use super::*;
use crate::model::accounting::tests::{decode, tracked, ALL_GATES};
use crate::model::accounting::{explain, pod_requests, PodPhase};
use serde_json::json;

#[test]
fn escaped_and_long_container_names_still_match_their_statuses() {
    // `from_str` hands escaped strings to the decoder as transient text, plain ones borrowed.
    let long_a = format!("{}-a", "x".repeat(70));
    let long_b = format!("{}-b", "x".repeat(70));
    let spec = format!(
        r#"{{"containers": [
            {{"name": "a\"b", "resources": {{"requests": {{"cpu": "1"}}}}}},
            {{"name": "caf\u00e9", "resources": {{"requests": {{"cpu": "1"}}}}}},
            {{"name": "{long_a}", "resources": {{"requests": {{"cpu": "1"}}}}}},
            {{"name": "plain", "resources": {{"requests": {{"cpu": "1"}}}}}}
        ]}}"#
    );
    let status = format!(
        r#"{{"containerStatuses": [
            {{"name": "a\u0022b", "resources": {{"requests": {{"cpu": "2"}}}}}},
            {{"name": "café", "resources": {{"requests": {{"cpu": "3"}}}}}},
            {{"name": "{long_b}", "resources": {{"requests": {{"cpu": "9"}}}}}},
            {{"name": "pl\u0061in", "resources": {{"requests": {{"cpu": "4"}}}}}}
        ]}}"#
    );
    let spec: PodSpecInput = serde_json::from_str(&spec).unwrap();
    let status: PodStatusInput = serde_json::from_str(&status).unwrap();
    // 2 + 3 + 1 (the long names differ after their 70 common bytes) + 4.
    assert_eq!(
        *pod_requests(&spec, &status, &tracked(&["cpu"]), ALL_GATES),
        [10_000]
    );
    let spec: PodSpecInput = serde_json::from_reader(
        br#"{"initContainers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}},
            {"name": "caf\u00e9", "resources": {"requests": {"cpu": "5", "memory": "?"}}}]}"#
            .as_slice(),
    )
    .unwrap();
    assert_eq!(
        explain(
            &spec,
            &PodStatusInput::default(),
            &tracked(&["cpu"]),
            ALL_GATES
        ),
        "cpu=5000m from spec.initContainers[1]",
        "names are kept only as hashes"
    );
    assert_eq!(
        spec.bad_quantities[0].field,
        "spec.initContainers[café].resources.requests.memory"
    );
}

#[test]
fn repeated_fields_fail_the_object_but_repeated_resource_names_keep_the_last() {
    for spec in [
        r#"{"containers": [], "containers": []}"#,
        r#"{"nodeName": "a", "nodeName": "b"}"#,
        r#"{"containers": [{"name": "a", "name": "b"}]}"#,
        r#"{"containers": [{"resources": {"requests": {}, "requests": {}}}]}"#,
        r#"{"containers": [{"restartPolicy": "Always", "restartPolicy": null}]}"#,
    ] {
        assert!(
            serde_json::from_str::<PodSpecInput>(spec).is_err(),
            "{spec}"
        );
    }
    for status in [
        r#"{"phase": "Running", "phase": "Running"}"#,
        r#"{"conditions": [{"type": "PodResizePending", "type": "Other"}]}"#,
        r#"{"containerStatuses": [], "containerStatuses": []}"#,
        r#"{"containerStatuses": [{"allocatedResources": {}, "allocatedResources": {}}]}"#,
    ] {
        assert!(
            serde_json::from_str::<PodStatusInput>(status).is_err(),
            "{status}"
        );
    }
    assert!(
        serde_json::from_str::<NodeStatusInput>(r#"{"capacity": {}, "capacity": {}}"#).is_err()
    );
    let spec: PodSpecInput = serde_json::from_str(
        r#"{"containers": [{"name": "a", "resources": {"requests": {"cpu": "1", "memory": "2", "cpu": "bad", "cpu": "3", "x.io/a": "1", "x.io/a": "4"}}}]}"#,
    )
    .unwrap();
    let want = [
        ("cpu".to_owned(), 3),
        ("memory".to_owned(), 2),
        ("x.io/a".to_owned(), 4),
    ];
    let got: Vec<(String, i128)> = spec.containers[0]
        .requests
        .iter()
        .map(|(n, v)| (n.to_string(), v / 1_000_000_000))
        .collect();
    assert_eq!(got, want);
    assert_eq!(spec.bad_quantities.len(), 1);
}

#[test]
fn bad_quantity_paths_name_the_container_whatever_the_key_order() {
    let (spec, status) = decode(
        json!({
            "initContainers": [
                {"resources": {"requests": {"cpu": "x"}}, "name": "late"},
                {"name": "early", "resources": {"requests": {"memory": "y"}}},
                {"resources": {"requests": {"memory": "z"}}},
            ],
            "resources": {"requests": {"cpu": "-1"}},
        }),
        json!({"initContainerStatuses": [
            {"allocatedResources": {"cpu": "q"}, "resources": {"requests": {"cpu": "r"}}, "name": "s"},
        ]}),
    );
    let fields = |bad: &[BadQuantity]| bad.iter().map(|b| b.field.clone()).collect::<Vec<_>>();
    assert_eq!(
        fields(&spec.bad_quantities),
        [
            "spec.initContainers[late].resources.requests.cpu",
            "spec.initContainers[early].resources.requests.memory",
            "spec.initContainers[].resources.requests.memory",
            "spec.resources.requests.cpu",
        ]
    );
    assert_eq!(
        fields(&status.bad_quantities),
        [
            "status.initContainerStatuses[s].allocatedResources.cpu",
            "status.initContainerStatuses[s].resources.requests.cpu",
        ],
        "document order"
    );
}

#[test]
fn escaped_keys_are_recognised() {
    let spec = r#"{"node\u004eame": "n1", "c\u006fntainers": [{"n\u0061me": "a",
        "resources": {"requ\u0065sts": {"cpu": "1"}}}]}"#;
    let status = r#"{"c\u006fnditions": [{"typ\u0065": "PodResizePending", "reason": "Infeasible"}],
        "containerStatuses": [{"name": "a", "resources": {}, "allocatedR\u0065sources": {"cpu": "2"}}]}"#;
    let slice: (PodSpecInput, PodStatusInput) = (
        serde_json::from_str(spec).unwrap(),
        serde_json::from_str(status).unwrap(),
    );
    let value = decode(
        serde_json::from_str(spec).unwrap(),
        serde_json::from_str(status).unwrap(),
    );
    for (spec, status) in [slice, value] {
        assert_eq!(spec.node_name.as_deref(), Some("n1"));
        assert!(status.resize_infeasible);
        assert_eq!(
            *pod_requests(&spec, &status, &tracked(&["cpu"]), ALL_GATES),
            [2000]
        );
    }
}

#[test]
fn null_names_and_lists_are_absent() {
    let (spec, status) = decode(
        json!({"nodeName": null, "containers": [{"name": null, "restartPolicy": null,
            "resources": {"requests": {"cpu": "1"}}}], "resources": null}),
        json!({"phase": null, "initContainerStatuses": null, "containerStatuses": [{"name": null,
            "resources": {"requests": null}, "allocatedResources": null}]}),
    );
    assert_eq!(spec.node_name, None);
    assert_eq!(status.phase, None);
    // Both names are empty, so the status (present, all zero) applies: max(1, 0) = 1.
    assert_eq!(
        *pod_requests(&spec, &status, &tracked(&["cpu"]), ALL_GATES),
        [1000]
    );
    assert!(status.container_statuses[0].resources_present);
    assert_eq!(status.container_statuses[0].requests, None);
    assert_eq!(status.container_statuses[0].allocated, None);
}

#[test]
fn decoding_skips_unknown_fields_and_treats_null_as_absent() {
    let (spec, status) = decode(
        json!({
            "nodeName": "n1",
            "volumes": [{"name": "v", "emptyDir": {}}],
            "containers": null,
            "initContainers": [{"name": "i", "image": "x", "restartPolicy": null, "resources": null}],
            "overhead": null,
            "resources": {"limits": {"cpu": "1"}, "requests": null},
            "affinity": {"nodeAffinity": {"deep": [1, 2, {"x": null}]}},
        }),
        json!({"phase": "Running", "conditions": null, "podIP": "10.0.0.1", "containerStatuses": [{"name": "i", "ready": true}]}),
    );
    let mut pod_limits = ResourceList::default();
    pod_limits.insert(ResourceName::Cpu, 1_000_000_000);
    let want_spec = PodSpecInput {
        node_name: Some("n1".into()),
        init_containers: vec![ContainerInput {
            name: "i".into(),
            ..ContainerInput::default()
        }],
        pod_limits: Some(Box::new(pod_limits)),
        ..PodSpecInput::default()
    };
    assert_eq!(spec, want_spec);
    assert_eq!(
        (status.phase, status.container_statuses.len()),
        (Some(PodPhase::Running), 1)
    );
    assert!(!status.container_statuses[0].resources_present);
}

#[test]
fn quantities_decode_like_go_unmarshal_json() {
    let spec: PodSpecInput = serde_json::from_str(
        r#"{"overhead": {"cpu": 2, "memory": 1.5, "pods": null, "hugepages-2Mi": " 2Mi ", "x.io/a": "1", "x.io/a": "3"}}"#,
    )
    .unwrap();
    let overhead: Vec<(String, i128)> = spec
        .overhead
        .as_deref()
        .unwrap()
        .iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    let giga = 1_000_000_000;
    assert_eq!(
        overhead,
        [
            ("cpu".to_owned(), 2 * giga),
            ("memory".to_owned(), 1_500_000_000),
            ("pods".to_owned(), 0),
            ("hugepages-2Mi".to_owned(), 2 * 1_048_576 * giga),
            ("x.io/a".to_owned(), 3 * giga),
        ]
    );
    assert!(spec.bad_quantities.is_empty());
}

#[test]
fn a_quantity_beyond_the_exact_range_saturates_and_is_flagged_not_zeroed() {
    let (spec, status) = decode(
        json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "1e30", "memory": "1Gi"}}}]}),
        json!({"phase": "Running"}),
    );
    assert_eq!(spec.bad_quantities.len(), 1);
    assert_eq!(spec.bad_quantities[0].error, QuantityError::Overflow);
    assert_eq!(
        spec.bad_quantities[0].field,
        "spec.containers[a].resources.requests.cpu"
    );
    let requests = pod_requests(&spec, &status, &tracked(&["cpu", "memory"]), ALL_GATES);
    assert_eq!(&requests[..], &[u64::MAX, 1 << 30]);
}

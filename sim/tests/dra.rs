//! Dynamic Resource Allocation (`resource.k8s.io/v1`) against the real binary: discovery,
//! get/list/paging/watch of ResourceSlices, ResourceClaims and DeviceClasses, `--no-dra` and
//! `POST /dra-api`, denied resources, republishing a pool, and the benchmark scale option.

mod common;

use std::time::{Duration, Instant};

use common::{names, Sim};
use serde_json::Value;

const DRA: &str = "/apis/resource.k8s.io/v1";

#[test]
fn discovery_lists_the_dra_group_with_its_three_resources() {
    let sim = Sim::start(&["--nodes", "12", "--pods", "300"]);
    let apis = sim.get_json("/apis");
    let group = apis["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "resource.k8s.io")
        .expect("resource.k8s.io in /apis");
    assert_eq!(group["preferredVersion"]["version"], "v1");
    let list = sim.get_json(DRA);
    assert_eq!(list["kind"], "APIResourceList");
    let mut resources: Vec<(String, bool)> = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["verbs"], serde_json::json!(["get", "list", "watch"]));
            (
                r["name"].as_str().unwrap().to_string(),
                r["namespaced"].as_bool().unwrap(),
            )
        })
        .collect();
    resources.sort();
    assert_eq!(
        resources,
        [
            ("deviceclasses".to_string(), false),
            ("resourceclaims".to_string(), true),
            ("resourceslices".to_string(), false)
        ]
    );
}

#[test]
fn dra_objects_list_page_get_and_watch_like_pods() {
    let sim = Sim::start(&[
        "--nodes",
        "12",
        "--pods",
        "300",
        "--dra-devices-per-node",
        "4",
    ]);
    let classes = sim.get_json(&format!("{DRA}/deviceclasses"));
    assert_eq!(classes["kind"], "DeviceClassList");
    assert_eq!(classes["apiVersion"], "resource.k8s.io/v1");
    assert_eq!(
        names(&classes),
        [
            "/gpu-a100-80gb",
            "/gpu-large-memory",
            "/gpu.nvidia.com",
            "/nic.example.com"
        ]
    );
    let gpu = sim.get_json(&format!("{DRA}/deviceclasses/gpu.nvidia.com"));
    assert_eq!(gpu["spec"]["extendedResourceName"], "nvidia.com/gpu");
    let missing = sim.get(&format!("{DRA}/deviceclasses/nope"));
    assert_eq!(missing.status, 404);
    // Paging: every slice exactly once, at one resourceVersion.
    let all = names(&sim.get_json(&format!("{DRA}/resourceslices")));
    assert!(all.len() > 4, "{all:?}");
    let mut seen = Vec::new();
    let mut page = sim.get_json(&format!("{DRA}/resourceslices?limit=3"));
    loop {
        seen.extend(names(&page));
        let Some(token) = page["metadata"]["continue"]
            .as_str()
            .filter(|t| !t.is_empty())
        else {
            break;
        };
        page = sim.get_json(&format!("{DRA}/resourceslices?limit=3&continue={token}"));
    }
    assert_eq!(seen, all);
    let slice = sim.get_json(&format!("{DRA}/resourceslices/{}", &all[0][1..]));
    assert_eq!(slice["kind"], "ResourceSlice");
    // Claims are namespaced.
    let claims = sim.get_json(&format!("{DRA}/resourceclaims"));
    let first = &claims["items"][0]["metadata"];
    let ns = first["namespace"].as_str().unwrap();
    let name = first["name"].as_str().unwrap();
    let one = sim.get_json(&format!("{DRA}/namespaces/{ns}/resourceclaims/{name}"));
    assert_eq!(one["metadata"]["name"], name);
    let in_ns = sim.get_json(&format!("{DRA}/namespaces/{ns}/resourceclaims"));
    assert!(in_ns["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["metadata"]["namespace"] == ns));
    // A watch with bookmarks sees a republish: the new generation added, the old deleted.
    let rv = sim.rv();
    let mut watch = sim.watch(&format!(
        "{DRA}/resourceslices?watch=1&resourceVersion={rv}&allowWatchBookmarks=true"
    ));
    let pool = &slice["spec"]["pool"];
    let driver = slice["spec"]["driver"].as_str().unwrap();
    let reply = sim.control(
        "POST",
        &format!(
            "/dra/republish?driver={driver}&pool={}",
            pool["name"].as_str().unwrap()
        ),
        b"",
    );
    assert_eq!(
        reply["generation"],
        pool["generation"].as_u64().unwrap() + 1
    );
    let events: Vec<Value> = watch.collect(Duration::from_secs(2));
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let added = types.iter().position(|t| *t == "ADDED").unwrap();
    let deleted = types.iter().position(|t| *t == "DELETED").unwrap();
    assert!(added < deleted, "{types:?}");
    assert_eq!(
        events[added]["object"]["spec"]["pool"]["generation"],
        reply["generation"]
    );
    // Too old a resourceVersion is 410, as for pods.
    sim.control("POST", "/faults/compact?mode=http", b"");
    let gone = sim.get(&format!(
        "{DRA}/resourceslices?watch=1&resourceVersion={rv}"
    ));
    assert_eq!(gone.status, 410);
}

#[test]
fn without_dra_the_group_is_absent_and_denials_apply() {
    let sim = Sim::start(&["--nodes", "6", "--pods", "60", "--no-dra"]);
    assert!(sim.get_json("/apis")["groups"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(sim.get(DRA).status, 404);
    assert_eq!(sim.get(&format!("{DRA}/resourceslices")).status, 404);
    sim.control("POST", "/dra-api?mode=on", b"");
    assert_eq!(sim.get(&format!("{DRA}/resourceslices")).status, 200);
    for resource in ["resourceslices", "resourceclaims", "deviceclasses"] {
        sim.control("POST", &format!("/faults/deny?resource={resource}"), b"");
        let denied = sim.get(&format!("{DRA}/{resource}"));
        assert_eq!(denied.status, 403, "{resource}");
        assert!(
            denied.text().contains("resource.k8s.io"),
            "{}",
            denied.text()
        );
        sim.control("POST", &format!("/faults/allow?resource={resource}"), b"");
        assert_eq!(sim.get(&format!("{DRA}/{resource}")).status, 200);
    }
}

#[test]
fn dra_devices_per_node_at_5000_nodes_generates_quickly() {
    let started = Instant::now();
    let sim = Sim::start(&[
        "--nodes",
        "5000",
        "--pods",
        "20000",
        "--dra-devices-per-node",
        "8",
    ]);
    let ready = started.elapsed();
    let state = sim.control("GET", "/state", b"");
    eprintln!(
        "5000 nodes x 8 devices: ready in {:.2} s, {} slices, {} claims",
        ready.as_secs_f64(),
        state["resourceSlices"],
        state["resourceClaims"]
    );
    assert!(state["resourceSlices"].as_u64().unwrap() >= 4900);
}

//! The list/watch protocol against the real binary: paging, resume, bookmarks, 410 in both
//! modes, streaming lists, selector transitions, Status errors and Tables.

mod common;

use std::time::Duration;

use common::{names, request, Sim, Watch};
use serde_json::{json, Value};

#[allow(clippy::unwrap_used)]
fn pod(ns: &str, name: &str, phase: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":name,"namespace":ns,"labels":{"app":"probe"}},
        "spec":{"nodeName":"","containers":[{"name":"c","image":"busybox"}]},"status":{"phase":phase}})).unwrap()
}

#[test]
fn paged_lists_are_a_consistent_snapshot_under_concurrent_changes() {
    let sim = Sim::start(&["--nodes", "5", "--pods", "200"]);
    let before = names(&sim.get_json("/api/v1/pods"));
    assert_eq!(before.len(), 200);
    let mut seen = Vec::new();
    let mut page = sim.get_json("/api/v1/pods?limit=37");
    let first_rv = page["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let mut changes = 0;
    let mut deleted: Vec<String> = Vec::new();
    loop {
        seen.extend(names(&page));
        // Change the cluster between pages: delete one not yet seen, add one that sorts last.
        let victim = before
            .iter()
            .rev()
            .find(|n| !seen.contains(n) && !deleted.contains(n))
            .cloned();
        if let Some(v) = victim {
            deleted.push(v.clone());
            let (ns, name) = v.split_once('/').unwrap();
            sim.control("DELETE", &format!("/objects/pods/{ns}/{name}"), b"");
        }
        sim.control(
            "POST",
            "/objects",
            &pod("zzz", &format!("late-{changes}"), "Running"),
        );
        changes += 1;
        let Some(token) = page["metadata"]["continue"]
            .as_str()
            .filter(|t| !t.is_empty())
        else {
            break;
        };
        page = sim.get_json(&format!("/api/v1/pods?limit=37&continue={token}"));
        assert_eq!(
            page["metadata"]["resourceVersion"].as_str().unwrap(),
            first_rv
        );
    }
    assert_eq!(
        seen, before,
        "the pages must add up to the list at the first page's resourceVersion"
    );
    assert!(changes >= 5);
    let now = names(&sim.get_json("/api/v1/pods"));
    assert_ne!(now, before);
}

#[test]
fn continue_tokens_older_than_history_and_bad_parameters_get_status_errors() {
    let sim = Sim::start(&["--nodes", "3", "--pods", "50"]);
    let page = sim.get_json("/api/v1/pods?limit=10");
    let token = page["metadata"]["continue"].as_str().unwrap().to_string();
    sim.control("POST", "/objects", &pod("default", "x", "Running"));
    sim.control("POST", "/faults/compact", b"");
    let r = sim.get(&format!("/api/v1/pods?limit=10&continue={token}"));
    assert_eq!(r.status, 410);
    assert_eq!(r.json()["reason"], "Expired");
    let r = sim.get(&format!(
        "/api/v1/pods?limit=10&continue={token}&resourceVersion=5"
    ));
    assert_eq!(r.status, 400);
    let r = sim.get("/api/v1/pods?continue=garbage");
    assert_eq!(
        (r.status, r.json()["reason"].as_str().unwrap().to_string()),
        (400, "BadRequest".to_string())
    );
    let r = sim.get("/api/v1/pods?fieldSelector=spec.restartPolicy%3DAlways");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "field label not supported: spec.restartPolicy"
    );
    assert_eq!(
        sim.get("/api/v1/nodes?fieldSelector=spec.nodeName%3Dx")
            .status,
        400
    );
    assert_eq!(
        sim.get("/api/v1/pods?labelSelector=a%20in%20()").status,
        400
    );
    let r = sim.get("/api/v1/namespaces/default/pods/nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["kind"], "Status");
    assert_eq!(r.json()["message"], "pods \"nope\" not found");
    let r = sim.get(&format!(
        "/api/v1/pods?resourceVersion={}&resourceVersionMatch=Exact",
        sim.rv() - 1
    ));
    assert_eq!(
        r.status, 410,
        "exact reads before the compaction are expired"
    );
}

#[test]
fn lists_filter_by_label_field_and_namespace_and_honour_exact_versions() {
    let sim = Sim::start(&["--nodes", "4", "--pods", "120"]);
    let all = sim.get_json("/api/v1/pods");
    assert_eq!(all["kind"], "PodList");
    assert_eq!(all["items"][0]["kind"], "Pod");
    assert_eq!(all["items"][0]["apiVersion"], "v1");
    let count = |f: &dyn Fn(&Value) -> bool| {
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| f(p))
            .count()
    };
    let redis = sim.get_json(
        "/api/v1/pods?labelSelector=app.kubernetes.io%2Fname%20in%20(redis,postgres),team",
    );
    assert_eq!(
        redis["items"].as_array().unwrap().len(),
        count(&|p| matches!(
            p["metadata"]["labels"]["app.kubernetes.io/name"].as_str(),
            Some("redis" | "postgres")
        ))
    );
    let live =
        sim.get_json("/api/v1/pods?fieldSelector=status.phase!%3DSucceeded,status.phase!%3DFailed");
    assert_eq!(
        live["items"].as_array().unwrap().len(),
        count(&|p| !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed")))
    );
    let unscheduled = sim.get_json("/api/v1/pods?fieldSelector=spec.nodeName%3D");
    assert_eq!(
        unscheduled["items"].as_array().unwrap().len(),
        count(&|p| p["spec"]["nodeName"].is_null())
    );
    let ns = sim.get_json("/api/v1/namespaces/kube-system/pods");
    assert_eq!(
        ns["items"].as_array().unwrap().len(),
        count(&|p| p["metadata"]["namespace"] == "kube-system")
    );
    let one_node = sim.get_json("/api/v1/nodes?limit=1");
    let node_name = one_node["items"][0]["metadata"]["name"].as_str().unwrap();
    assert_eq!(
        sim.get_json(&format!("/api/v1/nodes/{node_name}"))["metadata"]["name"],
        node_name
    );
    let rv = sim.rv();
    sim.control("POST", "/objects", &pod("default", "after", "Running"));
    let exact = sim.get_json(&format!(
        "/api/v1/pods?resourceVersion={rv}&resourceVersionMatch=Exact"
    ));
    assert_eq!(exact["items"].as_array().unwrap().len(), 120);
    assert_eq!(
        sim.get_json("/api/v1/pods?resourceVersion=0")["items"]
            .as_array()
            .unwrap()
            .len(),
        121
    );
}

#[test]
fn watch_resumes_from_a_resource_version_in_order() {
    let sim = Sim::start(&["--nodes", "2", "--pods", "20"]);
    let rv = sim.rv();
    sim.control("POST", "/objects", &pod("default", "w1", "Pending"));
    sim.control("POST", "/pods/default/w1/bind?node=n9", b"");
    sim.control("DELETE", "/objects/pods/default/w1", b"");
    let mut w = sim.watch(&format!(
        "/api/v1/pods?watch=true&resourceVersion={rv}&timeoutSeconds=2"
    ));
    assert_eq!(w.status, 200);
    let events = w.collect(Duration::from_secs(10));
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
    assert_eq!(events[1]["object"]["spec"]["nodeName"], "n9");
    let rvs: Vec<u64> = events
        .iter()
        .map(|e| {
            e["object"]["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(rvs.windows(2).all(|p| p[0] < p[1]), "{rvs:?}");
    assert!(
        w.ended,
        "timeoutSeconds ends the stream with the terminating chunk"
    );
}

#[test]
fn bookmarks_arrive_periodically_when_allowed() {
    let sim = Sim::start(&[
        "--nodes",
        "2",
        "--pods",
        "10",
        "--bookmark-interval",
        "200ms",
    ]);
    let rv = sim.rv();
    let mut w = sim.watch(&format!(
        "/api/v1/nodes?watch=1&allowWatchBookmarks=true&resourceVersion={rv}"
    ));
    let e = w.next(Duration::from_secs(5)).expect("a bookmark");
    assert_eq!(e["type"], "BOOKMARK");
    assert_eq!(e["object"]["kind"], "Node");
    assert_eq!(e["object"]["metadata"]["resourceVersion"], rv.to_string());
    assert_eq!(sim.control("GET", "/state", b"")["watches"], 1);
    sim.control("POST", "/faults/close-watches", b"");
    assert!(w
        .collect(Duration::from_secs(5))
        .iter()
        .all(|e| e["type"] == "BOOKMARK"));
    assert!(w.ended, "close-watches ends the stream cleanly");
}

#[test]
fn an_expired_resource_version_gets_410_as_an_event_or_as_http() {
    let sim = Sim::start(&["--nodes", "2", "--pods", "10"]);
    let old = sim.rv();
    sim.control("POST", "/objects", &pod("default", "a", "Running"));
    let mut open = sim.watch(&format!("/api/v1/pods?watch=true&resourceVersion={old}"));
    sim.control("POST", "/faults/compact", b"");
    open.collect(Duration::from_secs(5));
    assert!(open.ended, "compaction closes open watches");
    let mut w = sim.watch(&format!("/api/v1/pods?watch=true&resourceVersion={old}"));
    assert_eq!(w.status, 200);
    let events = w.collect(Duration::from_secs(5));
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["code"], 410);
    assert_eq!(events[0]["object"]["reason"], "Expired");
    assert!(w.ended);
    sim.control("POST", "/faults/compact?mode=http", b"");
    let w = sim.watch(&format!("/api/v1/pods?watch=true&resourceVersion={old}"));
    assert_eq!(w.status, 410);
    let status: Value = serde_json::from_slice(&w.body).unwrap();
    assert_eq!(
        (status["kind"].as_str(), status["reason"].as_str()),
        (Some("Status"), Some("Expired"))
    );
    // A watch from the current version still works.
    let mut fresh = sim.watch(&format!(
        "/api/v1/pods?watch=true&resourceVersion={}&timeoutSeconds=1",
        sim.rv()
    ));
    assert_eq!(fresh.status, 200);
    assert!(fresh.collect(Duration::from_secs(5)).is_empty());
}

#[test]
fn a_small_history_expires_watchers_that_fall_behind() {
    let sim = Sim::start(&["--nodes", "2", "--pods", "10", "--history", "3"]);
    let rv = sim.rv();
    for i in 0..5 {
        sim.control(
            "POST",
            "/objects",
            &pod("default", &format!("p{i}"), "Running"),
        );
    }
    let events = sim
        .watch(&format!("/api/v1/pods?watch=true&resourceVersion={rv}"))
        .collect(Duration::from_secs(5));
    assert_eq!(events[0]["object"]["code"], 410);
    let recent = sim
        .watch(&format!(
            "/api/v1/pods?watch=true&resourceVersion={}&timeoutSeconds=1",
            rv + 3
        ))
        .collect(Duration::from_secs(5));
    assert_eq!(recent.len(), 2);
}

#[test]
fn streaming_list_sends_every_object_then_the_initial_events_end_bookmark() {
    let sim = Sim::start(&["--nodes", "3", "--pods", "90"]);
    let rv = sim.rv();
    let mut w = sim.watch("/api/v1/pods?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&resourceVersion=&timeoutSeconds=30");
    let mut added = 0;
    loop {
        let e = w
            .next(Duration::from_secs(10))
            .expect("stream ended before the bookmark");
        match e["type"].as_str().unwrap() {
            "ADDED" => added += 1,
            "BOOKMARK" => {
                assert_eq!(
                    e["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
                    "true"
                );
                assert_eq!(e["object"]["metadata"]["resourceVersion"], rv.to_string());
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(added, 90);
    sim.control("POST", "/objects", &pod("default", "new", "Running"));
    let e = w.next(Duration::from_secs(5)).unwrap();
    assert_eq!(
        (e["type"].as_str(), e["object"]["metadata"]["name"].as_str()),
        (Some("ADDED"), Some("new"))
    );
    let bad = request(
        sim.api,
        "GET",
        "/api/v1/pods?watch=true&sendInitialEvents=true",
        &[],
        b"",
    );
    assert_eq!(bad.status, 422);
}

#[test]
fn selector_transitions_turn_into_deleted_and_added() {
    let sim = Sim::start(&["--nodes", "2", "--pods", "10"]);
    sim.control("POST", "/objects", &pod("default", "job", "Running"));
    let rv = sim.rv();
    let mut w = sim.watch(&format!("/api/v1/pods?watch=true&resourceVersion={rv}&fieldSelector=status.phase!%3DSucceeded,metadata.namespace%3Ddefault"));
    sim.control("POST", "/pods/default/job/phase?phase=Succeeded", b"");
    let e = w.next(Duration::from_secs(5)).unwrap();
    assert_eq!(e["type"], "DELETED");
    assert_eq!(e["object"]["metadata"]["name"], "job");
    assert_eq!(
        e["object"]["status"]["phase"], "Running",
        "DELETED carries the last matching state"
    );
    assert_eq!(
        e["object"]["metadata"]["resourceVersion"],
        (rv + 1).to_string(),
        "at the event's version"
    );
    sim.control("POST", "/pods/default/job/phase?phase=Running", b"");
    let e = w.next(Duration::from_secs(5)).unwrap();
    assert_eq!(
        (e["type"].as_str(), e["object"]["status"]["phase"].as_str()),
        (Some("ADDED"), Some("Running"))
    );
    sim.control("POST", "/objects", &pod("other", "elsewhere", "Running"));
    sim.control("POST", "/pods/default/job/bind?node=n1", b"");
    let e = w.next(Duration::from_secs(5)).unwrap();
    assert_eq!(
        (e["type"].as_str(), e["object"]["spec"]["nodeName"].as_str()),
        (Some("MODIFIED"), Some("n1"))
    );
}

#[test]
fn kubectl_style_requests_get_tables() {
    let sim = Sim::start(&["--nodes", "3", "--pods", "40"]);
    let accept = [("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")];
    let t = request(sim.api, "GET", "/api/v1/nodes?limit=500", &accept, b"").json();
    assert_eq!(t["kind"], "Table");
    let cols: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(&cols[..5], ["Name", "Status", "Roles", "Age", "Version"]);
    assert_eq!(t["rows"].as_array().unwrap().len(), 3);
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    let t = request(
        sim.api,
        "GET",
        "/api/v1/pods?limit=10&includeObject=Object",
        &accept,
        b"",
    )
    .json();
    let cols: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(&cols[..5], ["Name", "Ready", "Status", "Restarts", "Age"]);
    assert_eq!(t["rows"][0]["object"]["kind"], "Pod");
    assert!(t["metadata"]["continue"].as_str().is_some());
    let mut w = Watch::open(
        sim.api,
        &format!("/api/v1/pods?watch=true&resourceVersion={}", sim.rv()),
        &accept,
    );
    sim.control("POST", "/objects", &pod("default", "t1", "Running"));
    sim.control("POST", "/objects", &pod("default", "t2", "Running"));
    let first = w.next(Duration::from_secs(5)).unwrap();
    let second = w.next(Duration::from_secs(5)).unwrap();
    assert_eq!(first["object"]["kind"], "Table");
    assert!(first["object"]["columnDefinitions"].is_array());
    assert!(
        second["object"]["columnDefinitions"].is_null(),
        "only the first watch event carries columns"
    );
    assert_eq!(second["object"]["rows"][0]["cells"][0], "t2");
}

#[test]
fn discovery_documents_describe_nodes_and_pods() {
    let sim = Sim::start(&["--nodes", "1", "--pods", "1"]);
    let v = sim.get_json("/version");
    assert_eq!(
        (
            v["gitVersion"].as_str(),
            v["major"].as_str(),
            v["minor"].as_str()
        ),
        (Some("v1.34.2"), Some("1"), Some("34"))
    );
    assert_eq!(sim.get_json("/api")["versions"], json!(["v1"]));
    let r = sim.get_json("/api/v1");
    let res: Vec<(&str, bool)> = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["name"].as_str().unwrap(),
                x["namespaced"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(res, [("nodes", false), ("pods", true)]);
    assert_eq!(sim.get_json("/apis")["kind"], "APIGroupList");
    assert_eq!(sim.get("/apis/apps/v1/deployments").status, 404);
    assert_eq!(
        request(sim.api, "DELETE", "/api/v1/nodes", &[], b"").status,
        405
    );
}

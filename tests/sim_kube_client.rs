//! The simulator seen by a real kube-rs client: full k8s-openapi `Pod` and `Node` objects decode
//! from it, and kube-runtime's watcher pages through the initial list, watches, resumes from the
//! bookmark's resourceVersion after a closed stream (no re-list), and re-lists after a 410.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines
)]

mod common;

use std::time::Duration;

use common::{pod, Sim};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::ListParams;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use serde_json::Value;

async fn client(sim: &Sim) -> Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(&sim.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    Client::try_from(config).unwrap()
}

fn watch_requests(sim: &Sim) -> Vec<Value> {
    sim.requests()
        .into_iter()
        .filter(|r| r["resource"] == "pods")
        .collect()
}

fn query_param(request: &Value, name: &str) -> Option<String> {
    request["query"].as_str()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

/// The next watcher event within a deadline.
async fn next<S>(stream: &mut S) -> Event<Pod>
where
    S: futures::Stream<Item = watcher::Result<Event<Pod>>> + Unpin,
{
    loop {
        match tokio::time::timeout(Duration::from_secs(15), stream.next()).await {
            Ok(Some(Ok(event))) => return event,
            // kube's bare watcher retries without backoff; the errors are expected here.
            Ok(Some(Err(_))) => {}
            Ok(None) => panic!("watcher ended"),
            Err(elapsed) => panic!("no watcher event within 15 s ({elapsed})"),
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn full_objects_decode_and_the_watcher_pages_resumes_and_relists() {
    let sim = Sim::start(&[
        "--nodes",
        "6",
        "--pods",
        "120",
        "--bookmark-interval",
        "200ms",
    ]);
    let client = client(&sim).await;

    // Real, full-size objects decode into k8s-openapi's types.
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());
    let node_list = nodes.list(&ListParams::default()).await.unwrap();
    assert_eq!(node_list.items.len(), 6);
    assert!(node_list.items[0]
        .status
        .as_ref()
        .unwrap()
        .allocatable
        .as_ref()
        .unwrap()
        .contains_key("pods"));
    let pod_list = pods.list(&ListParams::default()).await.unwrap();
    assert_eq!(pod_list.items.len(), 120);
    assert!(pod_list
        .items
        .iter()
        .any(|p| p.metadata.managed_fields.is_some()));

    // The watcher pages through the initial list (limit 50: three pages).
    sim.post("/requests/reset", "");
    let mut stream =
        watcher::watcher(pods.clone(), watcher::Config::default().page_size(50)).boxed();
    assert!(matches!(next(&mut stream).await, Event::Init));
    let mut listed = 0;
    loop {
        match next(&mut stream).await {
            Event::InitApply(_) => listed += 1,
            Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(listed, 120);
    let lists: Vec<Value> = watch_requests(&sim)
        .into_iter()
        .filter(|r| r["watch"] == false)
        .collect();
    assert_eq!(lists.len(), 3, "{lists:?}");
    assert!(lists
        .iter()
        .skip(1)
        .all(|r| query_param(r, "continue").is_some()));

    // It watches: a change arrives as Apply.
    sim.apply(&pod("watched", "new-pod", None, "100m", "64Mi", None));
    loop {
        if let Event::Apply(p) = next(&mut stream).await {
            if p.metadata.name.as_deref() == Some("new-pod") {
                break;
            }
        }
    }
    let state = sim.get_json("/state");
    let last_event_rv: u64 = match &state["resourceVersion"] {
        Value::String(s) => s.parse().unwrap(),
        v => v.as_u64().unwrap(),
    };

    // Bookmarks advance its resourceVersion: after unrelated node traffic (not matched by this
    // pod watch) and a few bookmark periods, a closed stream is resumed from a newer version,
    // without a re-list.
    sim.apply(&common::node("extra-node", "zone-9", "1", "1Gi", None));
    tokio::time::sleep(Duration::from_millis(800)).await;
    sim.post("/requests/reset", "");
    sim.post("/faults/close-watches", "");
    sim.apply(&pod("watched", "after-close", None, "100m", "64Mi", None));
    loop {
        match next(&mut stream).await {
            Event::Apply(p) if p.metadata.name.as_deref() == Some("after-close") => break,
            Event::Init => panic!("a closed stream must not cause a re-list"),
            _ => {}
        }
    }
    let after: Vec<Value> = watch_requests(&sim);
    assert!(
        after.iter().all(|r| r["watch"] == true),
        "no list after a closed stream: {after:?}"
    );
    let resumed_rv: u64 = query_param(&after[0], "resourceVersion")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        resumed_rv > last_event_rv,
        "resumed from {resumed_rv}, bookmarks should have moved it past {last_event_rv}"
    );

    // 410: while the API is unreachable, a change happens and history is compacted past the
    // watcher's resourceVersion; when it reconnects it gets 410 and starts over with a full list.
    sim.post("/faults/refuse?seconds=1.5", "");
    sim.apply(&pod("watched", "during-outage", None, "100m", "64Mi", None));
    sim.post("/faults/compact", "");
    let mut relisted = 0;
    loop {
        match next(&mut stream).await {
            Event::InitApply(_) => relisted += 1,
            Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(relisted, 123);
}

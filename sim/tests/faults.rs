//! Fault injection and the request log against the real binary.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Sim;

#[test]
fn injected_errors_hit_exactly_the_next_requests() {
    let sim = Sim::start(&["--nodes", "2", "--pods", "5"]);
    sim.control("POST", "/faults/errors?status=500&count=2", b"");
    for _ in 0..2 {
        let r = sim.get("/api/v1/pods");
        assert_eq!(r.status, 500);
        assert_eq!(r.json()["reason"], "InternalError");
    }
    assert_eq!(sim.get("/api/v1/pods").status, 200);
    sim.control(
        "POST",
        "/faults/errors?status=429&count=1&retry_after=7",
        b"",
    );
    let r = sim.get("/api/v1/nodes");
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Retry-After"), Some("7"));
    assert_eq!(r.json()["reason"], "TooManyRequests");
    let log = sim.control("GET", "/requests", b"");
    let statuses: Vec<u64> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [500, 500, 200, 429]);
    assert_eq!(log[3]["resource"], "nodes");
    assert_eq!(log[3]["watch"], false);
    sim.control("POST", "/requests/reset", b"");
    sim.get("/api/v1/pods?limit=3&labelSelector=team");
    let log = sim.control("GET", "/requests", b"");
    assert_eq!(log.as_array().unwrap().len(), 1);
    assert_eq!(log[0]["query"], "limit=3&labelSelector=team");
    assert_eq!(log[0]["path"], "/api/v1/pods");
}

#[test]
fn a_denied_resource_is_forbidden_until_allowed() {
    let sim = Sim::start(&["--nodes", "2", "--pods", "5"]);
    sim.control("POST", "/faults/deny?resource=pods", b"");
    let r = sim.get("/api/v1/pods");
    assert_eq!(r.status, 403);
    let s = r.json();
    assert_eq!(s["reason"], "Forbidden");
    let msg = s["message"].as_str().unwrap();
    assert!(
        msg.starts_with("pods is forbidden: User \"system:serviceaccount:"),
        "{msg}"
    );
    assert!(
        msg.ends_with("cannot list resource \"pods\" in API group \"\" at the cluster scope"),
        "{msg}"
    );
    assert_eq!(sim.get("/api/v1/pods?watch=true").status, 403);
    assert_eq!(sim.get("/api/v1/nodes").status, 200);
    sim.control("POST", "/faults/allow?resource=pods", b"");
    assert_eq!(sim.get("/api/v1/pods").status, 200);
}

#[test]
fn refusing_connections_drops_everything_then_recovers_on_the_same_port() {
    let sim = Sim::start(&["--nodes", "2", "--pods", "5"]);
    let mut w = sim.watch(&format!(
        "/api/v1/pods?watch=true&resourceVersion={}",
        sim.rv()
    ));
    sim.control("POST", "/faults/refuse?seconds=1.5", b"");
    let started = Instant::now();
    w.collect(Duration::from_secs(3));
    assert!(
        w.ended || started.elapsed() < Duration::from_secs(3),
        "the open watch is dropped"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        TcpStream::connect_timeout(&sim.api, Duration::from_secs(1)).is_err(),
        "connections are refused"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if TcpStream::connect_timeout(&sim.api, Duration::from_secs(1)).is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the API never came back");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(started.elapsed() >= Duration::from_millis(1400));
    assert_eq!(sim.get("/api/v1/pods").status, 200);
}

#[test]
fn latency_delays_every_api_response() {
    let sim = Sim::start(&["--nodes", "2", "--pods", "5"]);
    sim.control("POST", "/faults/latency?ms=300", b"");
    let t = Instant::now();
    assert_eq!(sim.get("/version").status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    sim.control("POST", "/faults/latency?ms=0", b"");
    let t = Instant::now();
    sim.get("/version");
    assert!(t.elapsed() < Duration::from_millis(250));
}

#[test]
fn churn_changes_the_cluster_at_a_bounded_rate_and_stops() {
    let sim = Sim::start(&["--nodes", "6", "--pods", "100", "--seed", "9"]);
    let rv = sim.rv();
    sim.control("POST", "/churn?rate=50", b"");
    std::thread::sleep(Duration::from_millis(1000));
    sim.control("POST", "/churn?rate=0", b"");
    std::thread::sleep(Duration::from_millis(100));
    let after = sim.rv();
    let changes = after - rv;
    // About 50 operations; a node removal also deletes that node's pods (pod GC), so the
    // number of resourceVersion changes may exceed the operations.
    assert!(
        (20..=200).contains(&changes),
        "{changes} changes in about a second at 50/s"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sim.rv(), after, "rate 0 stops churn");
}

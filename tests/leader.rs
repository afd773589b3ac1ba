//! High availability: two replicas elect one leader on a Lease in the simulator. Only the leader
//! publishes binpacking series; the standby publishes `binpacking_leader_status 0` and the cache
//! age. A killed leader is replaced within one lease duration; a stopped one releases the Lease
//! and is replaced at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{small_cluster, wait_until, Exporter, Sim, TempDir};

const LEASE: Duration = Duration::from_secs(3);

fn replica(sim: &Sim, identity: &str) -> Exporter {
    Exporter::start(
        &sim.kubeconfig,
        &[
            "--leader-election",
            "--leader-election-namespace",
            "monitoring",
            "--leader-election-lease-duration",
            "3s",
            "--leader-election-renew-deadline",
            "2s",
            "--leader-election-retry-period",
            "500ms",
            "--leader-election-identity",
            identity,
        ],
    )
}

fn status(e: &Exporter) -> Option<f64> {
    e.metrics().get("binpacking_leader_status", &[])
}

fn publishes_everything(e: &Exporter) -> bool {
    let m = e.metrics();
    m.get("binpacking_leader_status", &[]) == Some(1.0)
        && m.get("binpacking_cluster_allocated", &[("resource", "cpu")]) == Some(1.95)
}

fn stands_by(e: &Exporter) -> bool {
    let m = e.metrics();
    m.get("binpacking_leader_status", &[]) == Some(0.0)
        && m.get("binpacking_cache_age_seconds", &[]).is_some()
        && m.family("binpacking_cluster_allocated").is_empty()
        && m.family("binpacking_node_allocated").is_empty()
}

#[test]
fn one_leader_publishes_and_a_standby_takes_over_within_a_lease_duration() {
    let dir = TempDir::new("ha");
    let path = dir.path("scenario.json");
    std::fs::write(&path, small_cluster().to_string()).unwrap();
    let sim = Sim::start(&["--scenario", path.to_str().unwrap()]);
    let a = replica(&sim, "replica-a");
    a.wait_ready(Duration::from_secs(30));
    assert!(
        wait_until(Duration::from_secs(10), || publishes_everything(&a)),
        "a never led"
    );
    let mut b = replica(&sim, "replica-b");
    b.wait_ready(Duration::from_secs(30));
    assert!(
        wait_until(Duration::from_secs(5), || stands_by(&b)),
        "b: {:?}",
        status(&b)
    );
    // Still exactly one leader a few retry periods later.
    std::thread::sleep(Duration::from_secs(2));
    assert!(publishes_everything(&a) && stands_by(&b));

    // The leader dies without releasing: the standby takes over within one lease duration
    // (plus a retry period).
    a.signal("KILL");
    let killed = Instant::now();
    assert!(
        wait_until(Duration::from_secs(10), || publishes_everything(&b)),
        "b never took over"
    );
    let failover = killed.elapsed();
    eprintln!("failover after SIGKILL: {failover:?}");
    assert!(
        failover <= LEASE + Duration::from_millis(1500),
        "failover took {failover:?}"
    );
    drop(a);

    // A new replica stands by; a stopped leader releases the Lease for an immediate takeover.
    let c = replica(&sim, "replica-c");
    c.wait_ready(Duration::from_secs(30));
    assert!(wait_until(Duration::from_secs(5), || stands_by(&c)));
    b.signal("TERM");
    let stopped = Instant::now();
    assert!(b.child.wait().unwrap().success());
    assert!(
        wait_until(Duration::from_secs(10), || publishes_everything(&c)),
        "c never took over"
    );
    let handover = stopped.elapsed();
    eprintln!("handover after SIGTERM: {handover:?}");
    assert!(
        handover < LEASE,
        "a released lease is taken over before it would expire: {handover:?}"
    );
    let requests = sim.requests();
    assert!(requests.iter().any(|r| r["resource"] == "leases"));
}

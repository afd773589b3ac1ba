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

/// Whether a replica publishes the cache-derived series now (`None` when it does not answer).
fn publishing(addr: &str) -> Option<bool> {
    use std::io::{Read, Write};
    let addr: std::net::SocketAddr = addr.parse().ok()?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut body = Vec::new();
    s.read_to_end(&mut body).ok()?;
    let text = String::from_utf8_lossy(&body);
    text.starts_with("HTTP/1.1 200")
        .then(|| text.contains("\nbinpacking_cluster_allocated{"))
}

/// One replica of the failover test: its own bearer token, so the simulator can fail it alone.
struct Replica {
    exporter: Exporter,
    token: &'static str,
    _dir: TempDir,
}

fn start_replica(sim: &Sim, token: &'static str, generation: usize) -> Replica {
    let dir = TempDir::new(token);
    let port: u16 = sim.api.rsplit(':').next().unwrap().parse().unwrap();
    let kubeconfig = common::kubeconfig_for_port(&dir, port, token);
    let identity = format!("{token}-{generation}");
    let exporter = Exporter::start(
        &kubeconfig,
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
            &identity,
        ],
    );
    exporter.wait_ready(Duration::from_secs(30));
    Replica {
        exporter,
        token,
        _dir: dir,
    }
}

#[test]
#[allow(clippy::too_many_lines)]
fn through_twenty_failovers_two_replicas_never_publish_at_once() {
    const RETRY: Duration = Duration::from_millis(500);
    let dir = TempDir::new("failover");
    let path = dir.path("scenario.json");
    std::fs::write(&path, small_cluster().to_string()).unwrap();
    let sim = Sim::start(&["--scenario", path.to_str().unwrap()]);
    let mut replicas = [
        start_replica(&sim, "token-a", 0),
        start_replica(&sim, "token-b", 0),
    ];
    let addrs = std::sync::Arc::new(std::sync::Mutex::new([
        replicas[0].exporter.addr.clone(),
        replicas[1].exporter.addr.clone(),
    ]));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Every 100 ms: does each replica publish?
    let sampling = {
        let (addrs, stop) = (addrs.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let [a, b] = addrs.lock().unwrap().clone();
                let at = Instant::now();
                let (pa, pb) = (publishing(&a), publishing(&b));
                samples.push((at, (pa == Some(true), pb == Some(true)), (pa, pb)));
                std::thread::sleep(Duration::from_millis(100).saturating_sub(at.elapsed()));
            }
            samples
        })
    };
    let leader = |addrs: &[String; 2]| -> Option<usize> {
        let p = [publishing(&addrs[0]), publishing(&addrs[1])];
        match p {
            [Some(true), Some(false) | None] => Some(0),
            [Some(false) | None, Some(true)] => Some(1),
            _ => None,
        }
    };
    let kinds = [
        "lease requests hang",
        "killed",
        "api server down",
        "partitioned",
    ];
    let mut takeovers = Vec::new();
    for round in 0..20 {
        let kind = kinds[round % kinds.len()];
        let mut current = None;
        assert!(
            wait_until(Duration::from_secs(15), || {
                current = leader(&addrs.lock().unwrap());
                current.is_some()
            }),
            "round {round}: no single leader"
        );
        let old = current.unwrap();
        let new = 1 - old;
        let token = replicas[old].token;
        match kind {
            "lease requests hang" => {
                sim.post(
                    &format!("/faults/client?token={token}&mode=hang&resource=leases"),
                    "",
                );
            }
            "killed" => replicas[old].exporter.signal("KILL"),
            "api server down" => {
                sim.post(&format!("/faults/client?token={token}&mode=cut"), "");
            }
            _ => {
                sim.post(&format!("/faults/client?token={token}&mode=hang"), "");
            }
        }
        let failed = Instant::now();
        let took_over = wait_until(Duration::from_secs(15), || {
            publishing(&addrs.lock().unwrap()[new]) == Some(true)
        });
        assert!(
            took_over,
            "round {round} ({kind}): the standby never took over"
        );
        takeovers.push((kind, failed.elapsed()));
        // Recover the old leader as a standby.
        if kind == "killed" {
            replicas[old] = start_replica(&sim, token, round + 1);
            addrs.lock().unwrap()[old] = replicas[old].exporter.addr.clone();
        } else {
            sim.post(&format!("/faults/client?token={token}&mode=clear"), "");
        }
        assert!(
            wait_until(Duration::from_secs(15), || {
                let m = replicas[old].exporter.metrics();
                m.get("binpacking_exporter_ready", &[]) == Some(1.0)
                    && m.get("binpacking_leader_status", &[]) == Some(0.0)
            }),
            "round {round}: the old leader did not stand by again"
        );
        // Let the sampler see the new leader for a while before the next failure.
        std::thread::sleep(Duration::from_millis(500));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let samples = sampling.join().unwrap();
    let both: Vec<_> = samples.iter().filter(|(_, (a, b), _)| *a && *b).collect();
    assert!(
        both.is_empty(),
        "two replicas published at once {} times",
        both.len()
    );
    // The longest stretch with neither publishing, between two samples where one did.
    let mut longest = Duration::ZERO;
    let mut last_published: Option<Instant> = None;
    for (at, (a, b), _) in &samples {
        if *a || *b {
            if let Some(last) = last_published {
                let gap = at.saturating_duration_since(last);
                longest = longest.max(gap);
            }
            last_published = Some(*at);
        }
    }
    eprintln!(
        "{} samples, 0 with two publishers; longest gap {longest:?}; takeovers: {takeovers:?}",
        samples.len()
    );
    // A lease duration plus a retry period, plus one sampling period of slack.
    assert!(
        longest <= LEASE + RETRY + Duration::from_millis(200),
        "a gap of {longest:?} with no publisher"
    );
}

//! Misbehaving HTTP clients against the real exporter, each followed by a check that /healthz
//! and /metrics answer within a second: malformed request lines, oversized headers, bodies on
//! GET, 200 concurrent scrapes (all answered), 100 idle connections, and clients that ask for a
//! large /metrics and never read it; two rounds, and the second does not grow memory. The
//! attacks of the table, with real tools and a prober, are in `http_hostile.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{http, Exporter, Sim};

/// /healthz and /metrics both answer 200 within a second.
fn responsive(exporter: &Exporter, what: &str) {
    for path in ["/healthz", "/metrics"] {
        let start = Instant::now();
        let r = http(&exporter.addr, "GET", path, &[], b"");
        let took = start.elapsed();
        assert_eq!(r.status, 200, "{path} after {what}");
        assert!(
            took < Duration::from_secs(1),
            "{path} took {took:?} after {what}"
        );
    }
}

fn raw(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

#[test]
fn hostile_clients_do_not_stop_health_or_scrapes_and_memory_stays_bounded() {
    // 2,000 nodes: a /metrics body of a few MB, larger than socket buffers.
    let sim = Sim::start(&["--nodes", "2000", "--pods", "4000"]);
    let exporter = Exporter::start(&sim.kubeconfig, &["--resources", "cpu,memory,pods"]);
    exporter.wait_ready(Duration::from_secs(60));
    let size = exporter.get("/metrics").body.len();
    assert!(size > 1_000_000, "{size} bytes");
    let baseline = exporter.rss_mib().unwrap();

    let first = abuse(&exporter);
    let after_first = exporter.rss_mib().unwrap();
    let second = abuse(&exporter);
    let after_second = exporter.rss_mib().unwrap();
    eprintln!(
        "RSS: {baseline:.1} MiB before, {after_first:.1} after one round of abuse, {after_second:.1} after two; \
         concurrent scrapes answered 200: {first}/200 and {second}/200"
    );
    // Bounded: a second round of the same abuse does not grow memory further (allocator arenas of
    // the first round are reused), and the first stays within a fixed margin.
    assert!(
        after_first < baseline + 64.0,
        "RSS grew from {baseline:.1} to {after_first:.1} MiB"
    );
    assert!(
        after_second < after_first + 16.0,
        "RSS kept growing: {after_first:.1} then {after_second:.1} MiB"
    );
    assert!(exporter
        .stderr
        .text()
        .lines()
        .all(|l| !l.contains("panicked")));
}

/// One round of every abuse; returns how many of 200 concurrent scrapes answered 200.
fn abuse(exporter: &Exporter) -> usize {
    // Malformed request lines and binary junk.
    for junk in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"\x00\x01\x02\xff\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"\r\n\r\n",
    ] {
        let _ = raw(&exporter.addr, junk);
    }
    responsive(exporter, "malformed requests");

    // Oversized headers: 20 requests with an 8 MiB header line each.
    let huge = vec![b'a'; 8 << 20];
    for _ in 0..20 {
        let mut req = b"GET /healthz HTTP/1.1\r\nX-Big: ".to_vec();
        req.extend_from_slice(&huge);
        req.extend_from_slice(b"\r\n\r\n");
        let _ = raw(&exporter.addr, &req);
    }
    // Too many headers.
    let mut many = b"GET /healthz HTTP/1.1\r\n".to_vec();
    for i in 0..5000 {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let _ = raw(&exporter.addr, &many);
    responsive(exporter, "oversized headers");

    // A body on GET is never read: the answer comes, then the connection closes.
    let r = http(&exporter.addr, "GET", "/healthz", &[], b"0123456789");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Connection"), Some("close"));

    // 100 idle connections held open.
    let idle: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(&exporter.addr).unwrap())
        .collect();
    responsive(exporter, "100 idle connections");

    // Clients that ask for /metrics and never read the body.
    let stalled: Vec<TcpStream> = (0..10)
        .map(|_| {
            let mut s = TcpStream::connect(&exporter.addr).unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    responsive(exporter, "10 clients that never read /metrics");

    // 200 concurrent scrapes.
    let addr = exporter.addr.clone();
    let scrapes: Vec<_> = (0..200)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                http(
                    &addr,
                    "GET",
                    "/metrics",
                    &[("Accept-Encoding", "gzip")],
                    b"",
                )
                .status
            })
        })
        .collect();
    let statuses: Vec<u16> = scrapes.into_iter().map(|t| t.join().unwrap()).collect();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    // Concurrent scrapes share the bodies being built: every one is answered.
    assert_eq!(ok, 200, "{statuses:?}");
    responsive(exporter, "200 concurrent scrapes");

    drop(idle);
    drop(stalled);
    ok
}

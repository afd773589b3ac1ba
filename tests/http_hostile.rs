//! Hostile HTTP clients against the real exporter at 2,000 nodes (a metrics body of a few MB):
//! every attack of the issue "An HTTP front that no client can take down", one after another,
//! with real tools (Debian's `slowhttptest` in modes -H, -B and -X, and `wrk`) and hand-made
//! clients for the rest. During each attack a prober asks `/healthz` (1 s timeout) and `/metrics`
//! (3 s) every 0.5 s; at least 99 % of the probes must succeed, the process must not exit and its
//! resident memory must stay at or below 160 MiB. In CI the tools are installed by `.ci/run` and
//! a missing tool fails the test; elsewhere it is skipped with a note.
//!
//! `HOSTILE_EXPORTER_BIN=path` runs the same attacks against another build (the release before
//! the hardening, for BENCHMARKS.md), and `HOSTILE_REPORT=path` writes the table there; with
//! either set, nothing is asserted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    clippy::needless_pass_by_value
)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{have, Exporter, Sim};

/// How long each attack runs while the prober probes.
const ATTACK: Duration = Duration::from_secs(12);
/// Probe period and timeouts, as the issue gives them.
const PROBE_EVERY: Duration = Duration::from_millis(500);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);
const METRICS_TIMEOUT: Duration = Duration::from_secs(3);
/// The memory bound (the manifest's limit is 192 Mi).
const RSS_LIMIT_MIB: f64 = 160.0;

/// One GET with a deadline for the whole exchange; true for a 200 with a whole body.
fn probe(addr: SocketAddr, path: &str, timeout: Duration, min_body: usize) -> bool {
    let deadline = Instant::now() + timeout;
    let Ok(mut s) = TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let left = || deadline.saturating_duration_since(Instant::now());
    if s.set_write_timeout(Some(left().max(Duration::from_millis(1))))
        .is_err()
    {
        return false;
    }
    if s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .is_err()
    {
        return false;
    }
    let mut raw = Vec::new();
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let rest = left();
        if rest.is_zero() || s.set_read_timeout(Some(rest)).is_err() {
            return false;
        }
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(_) => return false,
        }
    }
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    raw.starts_with(b"HTTP/1.1 200") && raw.len() - end - 4 >= min_body
}

/// What the prober and the memory sampler saw during one attack.
#[derive(Default, Clone)]
struct Seen {
    probes: usize,
    ok: usize,
    peak_rss: f64,
    exited: bool,
}

/// Probes and samples until `stop`; returns what it saw.
fn watch(
    exporter: Arc<Mutex<Exporter>>,
    addr: SocketAddr,
    min_body: usize,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Seen> {
    std::thread::spawn(move || {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let sampler = {
            let (exporter, stop, seen) = (exporter.clone(), stop.clone(), seen.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let (rss, alive) = {
                        let mut e = exporter.lock().unwrap();
                        (e.rss_mib(), e.alive())
                    };
                    let mut s = seen.lock().unwrap();
                    s.peak_rss = s.peak_rss.max(rss.unwrap_or(0.0));
                    s.exited |= !alive;
                    drop(s);
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        while !stop.load(Ordering::SeqCst) {
            let started = Instant::now();
            // Both probes at once, as two independent clients would.
            let health = std::thread::spawn(move || probe(addr, "/healthz", HEALTH_TIMEOUT, 3));
            let metrics = probe(addr, "/metrics", METRICS_TIMEOUT, min_body);
            let health = health.join().unwrap_or(false);
            let mut s = seen.lock().unwrap();
            s.probes += 2;
            s.ok += usize::from(health) + usize::from(metrics);
            drop(s);
            std::thread::sleep(PROBE_EVERY.saturating_sub(started.elapsed()));
        }
        sampler.join().unwrap();
        let s = seen.lock().unwrap().clone();
        s
    })
}

/// An attack: started with the exporter's address, stopped (and cleaned up) when dropped.
type Attack = Box<dyn Fn(SocketAddr, Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>>>;

/// Runs `attack` against the exporter for [`ATTACK`] while watching; returns what was seen.
fn during(
    exporter: &Arc<Mutex<Exporter>>,
    addr: SocketAddr,
    min_body: usize,
    attack: &Attack,
) -> Seen {
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch(exporter.clone(), addr, min_body, stop.clone());
    let attackers = attack(addr, stop.clone());
    std::thread::sleep(ATTACK);
    stop.store(true, Ordering::SeqCst);
    for a in attackers {
        let _ = a.join();
    }
    watcher.join().unwrap()
}

/// Repeats `round` until `stop`, pausing `every` between rounds.
fn repeat(
    stop: Arc<AtomicBool>,
    every: Duration,
    mut round: impl FnMut() + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            round();
            std::thread::sleep(every);
        }
    })
}

/// Sends `bytes` on a new connection and keeps it until `stop` (a client that never reads).
fn hold(addr: SocketAddr, bytes: Vec<u8>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(mut s) = TcpStream::connect(addr) else {
            return;
        };
        let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
        let _ = s.write_all(&bytes);
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

/// The attacks of the issue's table, by name.
fn attacks(
    addr: SocketAddr,
    tools: Arc<Mutex<Vec<Child>>>,
    have: impl Fn(&str) -> bool,
) -> Vec<(&'static str, Attack)> {
    let url = format!("http://{addr}");
    let mut list: Vec<(&'static str, Attack)> = vec![
        (
            "GET /healthz with Content-Length: 2^64-1, repeated",
            Box::new(|addr, stop| {
                vec![repeat(stop, Duration::from_millis(100), move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                    let _ = s.write_all(
                        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\n",
                    );
                    let _ = s.read(&mut [0u8; 512]);
                })]
            }),
        ),
        (
            "300 connections per second that send a request and reset",
            Box::new(|addr, stop| {
                vec![repeat(stop, Duration::from_secs(1), move || {
                    for _ in 0..300 {
                        let socket = socket2::Socket::new(
                            socket2::Domain::IPV4,
                            socket2::Type::STREAM,
                            None,
                        )
                        .unwrap();
                        if socket.connect(&addr.into()).is_ok() {
                            let _ =
                                (&socket).write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
                            let _ = socket.set_linger(Some(Duration::ZERO));
                        }
                    }
                })]
            }),
        ),
        (
            "50 connections with Content-Length: 1000000 and no body",
            Box::new(|addr, stop| {
                (0..50)
                    .map(|i| {
                        let path = if i % 2 == 0 { "/healthz" } else { "/metrics" };
                        let head = format!(
                            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
                        );
                        hold(addr, head.into_bytes(), stop.clone())
                    })
                    .collect()
            }),
        ),
        (
            "GET /metrics + 300 pipelined GET /, never read (3 connections)",
            Box::new(|addr, stop| {
                let mut bytes = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
                for _ in 0..300 {
                    bytes.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                }
                (0..3)
                    .map(|_| hold(addr, bytes.clone(), stop.clone()))
                    .collect()
            }),
        ),
        (
            "40 clients that request /metrics and never read",
            Box::new(|addr, stop| {
                (0..40)
                    .map(|_| {
                        hold(
                            addr,
                            b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
                            stop.clone(),
                        )
                    })
                    .collect()
            }),
        ),
        (
            "150 connections x 99 headers of 16,000 bytes, head never finished",
            Box::new(|addr, stop| {
                (0..150)
                    .map(|_| {
                        let mut head = b"GET /metrics HTTP/1.1\r\n".to_vec();
                        for i in 0..99 {
                            head.extend_from_slice(format!("X-{i}: ").as_bytes());
                            head.extend(std::iter::repeat_n(b'a', 16_000));
                            head.extend_from_slice(b"\r\n");
                        }
                        hold(addr, head, stop.clone())
                    })
                    .collect()
            }),
        ),
    ];
    let mut tool = |name: &'static str, program: &'static str, args: Vec<String>| {
        if !have(program) {
            return;
        }
        let tools = tools.clone();
        list.push((
            name,
            Box::new(move |_, _| {
                let child = Command::new(program)
                    .args(&args)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start the attack tool");
                tools.lock().unwrap().push(child);
                Vec::new()
            }),
        ));
    };
    let secs = ATTACK.as_secs().to_string();
    tool(
        "slowhttptest -H (slowloris, 700 connections at 100/s)",
        "slowhttptest",
        vec![
            "-H".into(),
            "-c".into(),
            "700".into(),
            "-r".into(),
            "100".into(),
            "-i".into(),
            "5".into(),
            "-l".into(),
            secs.clone(),
            "-u".into(),
            format!("{url}/"),
        ],
    );
    tool(
        "slowhttptest -B (slow body, 700 connections at 100/s)",
        "slowhttptest",
        vec![
            "-B".into(),
            "-c".into(),
            "700".into(),
            "-r".into(),
            "100".into(),
            "-i".into(),
            "5".into(),
            "-s".into(),
            "65536".into(),
            "-l".into(),
            secs.clone(),
            "-u".into(),
            format!("{url}/metrics"),
        ],
    );
    tool(
        "slowhttptest -X (slow read of /metrics, 200 connections)",
        "slowhttptest",
        vec![
            "-X".into(),
            "-c".into(),
            "200".into(),
            "-r".into(),
            "100".into(),
            "-w".into(),
            "32".into(),
            "-y".into(),
            "64".into(),
            "-n".into(),
            "1".into(),
            "-z".into(),
            "32".into(),
            "-k".into(),
            "3".into(),
            "-l".into(),
            secs.clone(),
            "-u".into(),
            format!("{url}/metrics"),
        ],
    );
    tool(
        "wrk load on /metrics (32 connections)",
        "wrk",
        vec![
            "-t1".into(),
            "-c32".into(),
            format!("-d{secs}s"),
            "-H".into(),
            "Accept-Encoding: gzip".into(),
            format!("{url}/metrics"),
        ],
    );
    list
}

#[test]
fn no_client_takes_the_exporter_down() {
    let other = std::env::var_os("HOSTILE_EXPORTER_BIN");
    let report = std::env::var_os("HOSTILE_REPORT");
    let asserting = other.is_none() && report.is_none();
    let sim = Sim::start(&["--nodes", "2000", "--pods", "4000"]);
    let bin = other.map_or_else(common::exporter_bin, std::path::PathBuf::from);
    let start = || {
        let exporter =
            Exporter::start_bin(&bin, &sim.kubeconfig, &["--resources", "cpu,memory,pods"]);
        exporter.wait_ready(Duration::from_secs(60));
        let size = exporter.get("/metrics").body.len();
        assert!(
            size > 1_000_000,
            "a body of {size} bytes is too small for the test"
        );
        let addr: SocketAddr = exporter.addr.parse().unwrap();
        (Arc::new(Mutex::new(exporter)), addr, size)
    };
    let (mut exporter, mut addr, mut size) = start();
    let tools = Arc::new(Mutex::new(Vec::new()));
    let mut rows =
        vec!["| attack | probes ok | peak RSS (MiB) | exited |\n|---|---|---|---|".to_owned()];
    let mut failures = Vec::new();
    let count = attacks(addr, tools.clone(), have).len();
    for index in 0..count {
        let (name, attack) = attacks(addr, tools.clone(), have).swap_remove(index);
        let seen = during(&exporter, addr, size / 2, &attack);
        // A tool started by the attack is stopped with it.
        for mut tool in tools.lock().unwrap().drain(..) {
            let _ = tool.kill();
            let _ = tool.wait();
        }
        let share = 100.0 * seen.ok as f64 / seen.probes.max(1) as f64;
        let row = format!(
            "| {name} | {}/{} ({share:.1} %) | {:.1} | {} |",
            seen.ok,
            seen.probes,
            seen.peak_rss,
            if seen.exited { "yes" } else { "no" }
        );
        eprintln!("{row}");
        rows.push(row);
        if share < 99.0 || seen.exited || seen.peak_rss > RSS_LIMIT_MIB {
            failures.push(name);
        }
        if seen.exited || share < 50.0 {
            if asserting {
                break;
            }
            // Measuring another build: a fresh process for the next attack.
            (exporter, addr, size) = start();
        }
        // Let the server settle (deadlines of the last attack's connections) before the next.
        std::thread::sleep(Duration::from_secs(2));
    }
    let table = rows.join("\n");
    if let Some(path) = report {
        std::fs::write(path, format!("{table}\n")).unwrap();
    }
    if asserting {
        let text = exporter.lock().unwrap().stderr.text();
        assert!(!text.contains("panicked"), "{text}");
        assert!(failures.is_empty(), "failed: {failures:?}\n{table}");
    }
}

//! Shared by the benchmarks: the simulator binary, starting it, and a minimal HTTP/1.1 client.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The simulator built with `cargo build --profile fast -p kube-sim`.
pub fn sim_binary() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fast/kube-sim");
    assert!(
        p.exists(),
        "run `cargo build --profile fast -p kube-sim` first"
    );
    p
}

/// Starts the simulator with `args`; returns it and its `api` and `control` addresses.
pub fn spawn_sim(args: &[&str]) -> (Child, String, String) {
    let mut child = Command::new(sim_binary())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=http://")))
            .unwrap()
            .to_owned()
    };
    let (api, control) = (field("api"), field("control"));
    (child, api, control)
}

/// A response: status and de-chunked body.
pub struct Http {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One request with `Connection: close`; `headers` are extra `Name: value\r\n` lines.
pub fn http(addr: &str, method: &str, path: &str, headers: &str) -> Http {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n{headers}\r\n").unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len().saturating_sub(4));
    let head = String::from_utf8_lossy(&raw[..end.min(raw.len())]).to_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = &raw[(end + 4).min(raw.len())..];
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_vec()
    };
    Http { status, body }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&rest[nl + 2..nl + 2 + size]);
        rest = &rest[nl + 4 + size..];
    }
    out
}

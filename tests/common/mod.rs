//! Test harness: starts the bundled cluster simulator (`kube-sim`) and the real exporter binary on
//! 127.0.0.1 port 0, speaks HTTP/1.1 with a tiny std client, and parses the text exposition.
//! Every wait is bounded.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::format_push_string,
    clippy::while_let_loop
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Path of a workspace binary next to the test executable (target/<profile>/NAME), built on
/// demand when `make build` did not run first.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--workspace", "--bins"])
            .status()
            .expect("cargo build");
        assert!(status.success(), "building {name} failed");
    }
    path
}

/// The exporter binary under test.
pub fn exporter_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kube-cluster-binpacking-exporter"))
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let mut p = std::env::temp_dir();
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        p.push(format!("binpacking-test-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Lines a child wrote to a stream, collected by a thread.
#[derive(Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn collect(stream: impl Read + Send + 'static) -> Lines {
        let lines = Lines::default();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                sink.0.lock().unwrap().push(line);
            }
        });
        lines
    }
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    pub fn text(&self) -> String {
        self.all().join("\n")
    }
    /// Waits until a line satisfies `f` and returns it.
    pub fn wait_for(&self, timeout: Duration, f: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(l) = self.all().into_iter().find(|l| f(l)) {
                return Some(l);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// A running simulator.
pub struct Sim {
    child: Child,
    pub api: String,
    pub control: String,
    pub kubeconfig: PathBuf,
    pub stderr: Lines,
    _dir: TempDir,
}

impl Sim {
    /// Starts `kube-sim` with extra arguments; waits for its listening line.
    pub fn start(args: &[&str]) -> Sim {
        Sim::start_bin(&workspace_bin("kube-sim"), args)
    }

    /// [`Sim::start`] with another build of the simulator (e.g. `target/fast/kube-sim`).
    pub fn start_bin(bin: &Path, args: &[&str]) -> Sim {
        let dir = TempDir::new("sim");
        let kubeconfig = dir.path("kubeconfig");
        let mut child = Command::new(bin)
            .args(args)
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kube-sim");
        let stderr = Lines::collect(child.stderr.take().unwrap());
        let stdout = Lines::collect(child.stdout.take().unwrap());
        let line = stdout
            .wait_for(Duration::from_secs(300), |l| {
                l.starts_with("kube-sim listening")
            })
            .unwrap_or_else(|| panic!("kube-sim did not start: {}", stderr.text()));
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
                .trim_start_matches("http://")
                .to_owned()
        };
        Sim {
            api: field("api"),
            control: field("control"),
            kubeconfig,
            stderr,
            child,
            _dir: dir,
        }
    }

    /// POST to the control interface; returns the body. Panics on a non-2xx answer.
    pub fn post(&self, path: &str, body: &str) -> String {
        let r = http(&self.control, "POST", path, &[], body.as_bytes());
        assert!(
            r.status / 100 == 2,
            "POST {path} -> {} {}",
            r.status,
            r.text()
        );
        r.text()
    }

    /// DELETE on the control interface.
    pub fn delete(&self, path: &str) {
        let r = http(&self.control, "DELETE", path, &[], b"");
        assert!(
            r.status / 100 == 2,
            "DELETE {path} -> {} {}",
            r.status,
            r.text()
        );
    }

    /// GET on the control interface, parsed as JSON.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let r = http(&self.control, "GET", path, &[], b"");
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        serde_json::from_slice(&r.body).expect("json")
    }

    /// Creates or replaces an object.
    pub fn apply(&self, object: &serde_json::Value) {
        self.post("/objects", &object.to_string());
    }

    /// The API requests the simulator saw since the last reset.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.get_json("/requests")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running exporter.
pub struct Exporter {
    pub child: Child,
    pub addr: String,
    pub stderr: Lines,
}

impl Exporter {
    /// Starts the exporter against a kubeconfig with extra flags; waits until it serves HTTP.
    pub fn start(kubeconfig: &Path, args: &[&str]) -> Exporter {
        Exporter::start_bin(&exporter_bin(), kubeconfig, args)
    }

    /// [`Exporter::start`] with another build of the exporter (e.g. an older release).
    pub fn start_bin(bin: &Path, kubeconfig: &Path, args: &[&str]) -> Exporter {
        let mut child = Command::new(bin)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["--metrics-addr", "127.0.0.1:0"])
            .args(args)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start exporter");
        let stderr = Lines::collect(child.stderr.take().unwrap());
        let line = stderr
            .wait_for(Duration::from_secs(30), |l| {
                l.contains("serving metrics addr=")
            })
            .unwrap_or_else(|| panic!("exporter did not start: {}", stderr.text()));
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .unwrap()
            .to_owned();
        Exporter {
            child,
            addr,
            stderr,
        }
    }

    /// Resident memory of the process, in MiB (None once it exited).
    pub fn rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kb: f64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())?;
        Some(kb / 1024.0)
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn get(&self, path: &str) -> Response {
        http(&self.addr, "GET", path, &[], b"")
    }

    /// Waits for `/readyz` to answer 200.
    pub fn wait_ready(&self, timeout: Duration) {
        let ok = wait_until(timeout, || self.get("/readyz").status == 200);
        assert!(
            ok,
            "exporter not ready: {}\nlogs:\n{}",
            self.get("/readyz").text(),
            self.stderr.text()
        );
    }

    /// Scrapes and parses the metrics.
    pub fn metrics(&self) -> Metrics {
        let r = self.get("/metrics");
        assert_eq!(r.status, 200);
        Metrics::parse(&r.text())
    }

    /// Sends a signal by name with kill(1).
    pub fn signal(&self, sig: &str) {
        Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request with `Connection: close`; reads the whole response (chunked or not).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    http_waiting(addr, method, path, headers, body, Duration::from_secs(30))
}

/// [`http`] that waits up to `timeout` between reads (for a slow control request).
pub fn http_waiting(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Response {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(timeout)).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw, method == "HEAD")
}

fn parse_response(raw: &[u8], head: bool) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head_text = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head_text.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked && !head {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = data.windows(2).position(|w| w == b"\r\n") else {
            break;
        };
        let size_text = String::from_utf8_lossy(&data[..nl]);
        let size =
            usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        data = &data[nl + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

/// A free loopback port (bound then released; the tests start a server on it soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes a kubeconfig for `http://127.0.0.1:PORT` with a bearer token; returns its path.
pub fn kubeconfig_for_port(dir: &TempDir, port: u16, token: &str) -> PathBuf {
    let path = dir.path("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\n\
             users:\n- name: u\n  user:\n    token: {token}\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n\
             current-context: x\n"
        ),
    )
    .unwrap();
    path
}

/// A seeded generator for randomized tests (fastrand's, deterministic per seed).
pub struct Rng(fastrand::Rng);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(fastrand::Rng::with_seed(seed))
    }
    pub fn next(&mut self) -> u64 {
        self.0.u64(..)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.u64(0..n)
    }
    pub fn index(&mut self, len: usize) -> usize {
        self.0.usize(0..len)
    }
}

/// Polls `f` every 50 ms until it is true or the timeout passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A parsed exposition: series (name plus sorted labels) → value, and the HELP/TYPE lines.
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    pub series: BTreeMap<String, f64>,
    pub types: Vec<String>,
}

impl Metrics {
    pub fn parse(text: &str) -> Metrics {
        let mut m = Metrics::default();
        for line in text.lines() {
            if let Some(t) = line.strip_prefix("# TYPE ") {
                m.types.push(t.to_owned());
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("series value");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            };
            m.series.insert(series.to_owned(), value);
        }
        m
    }

    /// The value of `name{labels}`; labels given as pairs in any order.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.series.get(&series_key(name, labels)).copied()
    }

    /// Every series of a family.
    pub fn family(&self, name: &str) -> Vec<(&String, f64)> {
        self.series
            .iter()
            .filter(|(k, _)| k.as_str() == name || k.starts_with(&format!("{name}{{")))
            .map(|(k, v)| (k, *v))
            .collect()
    }
}

/// The exposition key of a series; label order follows the exporter's (as given).
pub fn series_key(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return name.to_owned();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{name}{{{}}}", inner.join(","))
}

// ---- a small hand-computable cluster ----

use serde_json::{json, Value};

pub fn node(name: &str, zone: &str, cpu: &str, memory: &str, gpus: Option<&str>) -> Value {
    let mut allocatable = json!({"cpu": cpu, "memory": memory, "pods": "110"});
    if let Some(g) = gpus {
        allocatable["nvidia.com/gpu"] = json!(g);
    }
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone, "kubernetes.io/hostname": name}},
        "status": {"allocatable": allocatable, "capacity": allocatable},
    })
}

pub fn pod(
    ns: &str,
    name: &str,
    node: Option<&str>,
    cpu: &str,
    memory: &str,
    owner: Option<&str>,
) -> Value {
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"containers": [{"name": "app", "image": "nginx", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]},
        "status": {"phase": "Running"},
    });
    if let Some(n) = node {
        p["spec"]["nodeName"] = json!(n);
    }
    if let Some(kind) = owner {
        p["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": kind, "name": "owner", "uid": "u1", "controller": true}]);
    }
    p
}

/// Three nodes and a few pods whose sums are easy to compute by hand.
pub fn small_cluster() -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": [
        node("node-a", "zone-1", "4", "8Gi", None),
        node("node-b", "zone-1", "2", "4Gi", None),
        node("node-c", "zone-2", "8", "32Gi", Some("2")),
        pod("web", "web-1", Some("node-a"), "500m", "1Gi", Some("ReplicaSet")),
        pod("web", "web-2", Some("node-a"), "250m", "512Mi", Some("ReplicaSet")),
        pod("kube-system", "agent-a", Some("node-a"), "100m", "128Mi", Some("DaemonSet")),
        pod("kube-system", "agent-c", Some("node-c"), "100m", "128Mi", Some("DaemonSet")),
        pod("batch", "job-1", Some("node-c"), "1", "2Gi", Some("Job")),
        pod("web", "pending-1", None, "300m", "1Gi", Some("ReplicaSet")),
    ]})
}

/// `stem` padded with `-x…` to 60 characters (a node name as long as an EKS one and more).
pub fn name_of_60(stem: &str) -> String {
    let mut name = format!("{stem}-");
    while name.len() < 60 {
        name.push('x');
    }
    name.truncate(60);
    name
}

/// Four nodes whose names are 60 characters (the second cordoned) in two zones with long names,
/// and pods in `web` and in a namespace whose name is 60 characters.
pub fn long_name_cluster() -> Value {
    let names: Vec<String> = (0..4)
        .map(|i| name_of_60(&format!("ip-10-0-{i}-104.eu-west-1.compute.internal")))
        .collect();
    let zones = [
        "eu-west-1a-a-zone-name-longer-than-its-column",
        "eu-west-1b-a-zone-name-longer-than-its-column",
    ];
    let team = name_of_60("team-payments-settlement-batch");
    let mut items = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut n = node(name, zones[i % 2], "4", "16Gi", (i == 3).then_some("1"));
        if i == 1 {
            n["spec"] = json!({"unschedulable": true});
        }
        items.push(n);
    }
    items.extend([
        pod(
            "web",
            "web-1",
            Some(&names[0]),
            "1500m",
            "2Gi",
            Some("ReplicaSet"),
        ),
        pod(
            "web",
            "web-2",
            Some(&names[2]),
            "500m",
            "1Gi",
            Some("ReplicaSet"),
        ),
        pod(&team, "settle-1", Some(&names[3]), "3", "12Gi", Some("Job")),
        pod(
            "kube-system",
            "agent",
            Some(&names[0]),
            "100m",
            "128Mi",
            Some("DaemonSet"),
        ),
    ]);
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

/// `pod` with container limits.
pub fn with_limits(mut pod: Value, cpu: &str, memory: &str) -> Value {
    pod["spec"]["containers"][0]["resources"]["limits"] = json!({"cpu": cpu, "memory": memory});
    pod
}

/// RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks; a record
/// ends at LF or CRLF outside quotes.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') => {
                assert!(field.is_empty(), "a quote inside an unquoted field: {text}");
                quoted = true;
            }
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => assert_eq!(chars.peek(), Some(&'\n'), "a bare CR"),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (_, c) => field.push(c),
        }
    }
    assert!(!quoted, "an unterminated quote");
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

// ---- test certificates (openssl) ----

/// A throwaway PKI made with the `openssl` command: a CA, a server certificate for 127.0.0.1
/// and localhost, and a client certificate, all P-256, valid for two days.
pub struct Pki {
    pub dir: TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        let pki = Pki {
            dir: TempDir::new("pki"),
        };
        pki.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=binpacking-test-ca",
        ]);
        pki.issue(
            "server",
            "server-1",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        );
        pki.issue("client", "prometheus", "extendedKeyUsage=clientAuth\n");
        pki
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path(name).display().to_string()
    }

    /// Issues `NAME.crt`/`NAME.key` with common name `cn` and the given extensions; the files
    /// are replaced by a rename, as a Secret volume or cert-manager would.
    pub fn issue(&self, name: &str, cn: &str, extensions: &str) {
        std::fs::write(self.dir.path(&format!("{name}.ext")), extensions).unwrap();
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key.new"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{name}.crt.new"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ]);
        for ext in ["key", "crt"] {
            std::fs::rename(
                self.dir.path(&format!("{name}.{ext}.new")),
                self.dir.path(&format!("{name}.{ext}")),
            )
            .unwrap();
        }
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir.0)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `tests/independent/figures.py RESOURCES` over `input` (the simulator's `/objects`, with its
/// metrics lists for the usage figures): the independent computation the end-to-end tests
/// compare the exporter with.
pub fn independent_figures(input: &serde_json::Value, resources: &str) -> serde_json::Value {
    independent("figures.py", input, resources)
}

/// Runs `tests/independent/SCRIPT RESOURCES` on `input`; its JSON output.
pub fn independent(script: &str, input: &serde_json::Value, resources: &str) -> serde_json::Value {
    let script = format!("{}/tests/independent/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        .args([script.as_str(), resources])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A published value in scheduler units (cpu cores back to millicores), rounded.
pub fn units(m: &Metrics, family: &str, labels: &[(&str, &str)], resource: &str) -> Option<i64> {
    let mut l = labels.to_vec();
    l.push(("resource", resource));
    let v = m.get(family, &l)?;
    let v = if resource == "cpu" { v * 1000.0 } else { v };
    #[allow(clippy::cast_possible_truncation)]
    Some(v.round() as i64)
}

/// Whether a command is on PATH; in CI a missing one fails the test, elsewhere it is skipped
/// with a note.
pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is required in CI (.ci/run installs it)"
        );
        eprintln!("\n*** SKIPPED: `{tool}` is not installed ***\n");
    }
    found
}

/// Runs curl with `args`; returns (exit code, HTTP status or 0, body).
pub fn curl(args: &[&str]) -> (i32, u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (
        out.status.code().unwrap_or(-1),
        code.trim().parse().unwrap_or(0),
        body.to_owned(),
    )
}

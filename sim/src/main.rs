//! kube-sim: a fake Kubernetes API server (nodes and pods) for the exporter's demo, integration
//! tests and benchmarks. This file is the I/O shell: flags → validated config → cluster → the two
//! listeners → the one "listening" line on stdout; everything else logs to stderr.

mod api;
mod churn;
mod clock;
mod control;
mod faults;
mod format;
mod generate;
mod http;
mod leases;
mod object;
mod paging;
mod request_log;
mod rng;
mod select;
mod status;
mod store;
mod table;
mod watch;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argh::FromArgs;
use serde_json::Value;

use crate::api::Api;
use crate::churn::Churn;
use crate::control::Control;
use crate::faults::Faults;
use crate::http::Server;
use crate::leases::Leases;
use crate::object::{fill_identity, Object};
use crate::request_log::RequestLog;
use crate::rng::Rng;
use crate::store::Store;

/// kube-sim: a fake Kubernetes API server serving nodes and pods (list, get, watch, Tables for
/// kubectl) from a generated or loaded cluster, with a control interface for tests. Binds
/// loopback addresses only. Prints one line when ready:
/// `kube-sim listening api=http://HOST:PORT control=http://HOST:PORT2`.
#[derive(FromArgs, Debug)]
struct Flags {
    /// number of nodes to generate (default 10)
    #[argh(option, default = "10")]
    nodes: usize,
    /// number of pods to generate (default 300)
    #[argh(option, default = "300")]
    pods: usize,
    /// seed of the generated cluster and of churn (default 1); same seed, same bytes
    #[argh(option, default = "1")]
    seed: u64,
    /// load the cluster from FILE (a JSON `List` of Nodes and Pods, as `kubectl get -o json`
    /// prints) instead of generating it
    #[argh(option)]
    scenario: Option<String>,
    /// churn events per second from the start (pod creates, deletes, rebinds, phase changes,
    /// node additions and removals); 0 = none (default)
    #[argh(option, default = "0.0")]
    churn: f64,
    /// API listen address, loopback only; port 0 picks a free port (default 127.0.0.1:0)
    #[argh(option, default = "String::from(\"127.0.0.1:0\")")]
    listen: String,
    /// control interface listen address, loopback only (default 127.0.0.1:0)
    #[argh(option, default = "String::from(\"127.0.0.1:0\")")]
    control_listen: String,
    /// write a kubeconfig pointing at the API (token kube-sim-token) to PATH before printing the
    /// listening line
    #[argh(option)]
    kubeconfig_out: Option<String>,
    /// period of BOOKMARK events on watches with allowWatchBookmarks, e.g. 500ms, 1s, 5s, 2m
    /// (default 5s)
    #[argh(option, default = "String::from(\"5s\")")]
    bookmark_interval: String,
    /// number of events kept for watch resume and consistent paging; older resourceVersions get
    /// 410 Expired (default 100000)
    #[argh(option, default = "100_000")]
    history: usize,
}

/// Validated configuration.
struct Config {
    nodes: usize,
    pods: usize,
    seed: u64,
    scenario: Option<String>,
    churn: f64,
    listen: SocketAddr,
    control_listen: SocketAddr,
    kubeconfig_out: Option<String>,
    bookmark_interval: Duration,
    history: usize,
}

/// What went wrong, and which exit code it maps to.
enum Failure {
    /// Bad flags (exit 2).
    Usage(String),
    /// Anything at run time (exit 1).
    Runtime(String),
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?} (use e.g. 500ms, 1s, 2m)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("invalid duration unit in {text:?} (ms, s, m or h)")),
    };
    if !(0.001..=86_400.0).contains(&secs) {
        return Err(format!("duration {text:?} out of range (1ms to 24h)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn loopback(flag: &str, text: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = text
        .parse()
        .map_err(|_| format!("--{flag} {text:?} is not IP:PORT (for example 127.0.0.1:0)"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "--{flag} {text:?} is not a loopback address; kube-sim only binds 127.0.0.1 (or ::1)"
        ));
    }
    Ok(addr)
}

impl Flags {
    fn validate(self) -> Result<Config, String> {
        if !self.churn.is_finite() || self.churn < 0.0 {
            return Err("--churn must be a non-negative number".into());
        }
        Ok(Config {
            nodes: self.nodes,
            pods: self.pods,
            seed: self.seed,
            scenario: self.scenario,
            churn: self.churn,
            listen: loopback("listen", &self.listen)?,
            control_listen: loopback("control-listen", &self.control_listen)?,
            kubeconfig_out: self.kubeconfig_out,
            bookmark_interval: parse_duration(&self.bookmark_interval)?,
            history: self.history,
        })
    }
}

fn load_scenario(path: &str, seed: u64) -> Result<Vec<Object>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read scenario {path}: {e}"))?;
    let value: Value =
        serde_json::from_slice(&text).map_err(|e| format!("scenario {path} is not JSON: {e}"))?;
    let items = match value.get("items").and_then(Value::as_array) {
        Some(items) => items.clone(),
        None => vec![value],
    };
    let mut rng = Rng::new(seed ^ 0x5CE7_A410);
    let now = clock::rfc3339(clock::now_unix());
    items
        .into_iter()
        .enumerate()
        .map(|(i, mut item)| {
            fill_identity(&mut item, || rng.uuid(), &now);
            Object::from_value(item, u64::try_from(i).unwrap_or(0) + 2)
                .map_err(|e| format!("scenario {path} item {i}: {e}"))
        })
        .collect()
}

fn kubeconfig(api: SocketAddr) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-sim\n  cluster:\n    server: http://{api}\ncontexts:\n- name: kube-sim\n  context:\n    cluster: kube-sim\n    user: kube-sim\n    namespace: default\ncurrent-context: kube-sim\nusers:\n- name: kube-sim\n  user:\n    token: kube-sim-token\npreferences: {{}}\n"
    )
}

fn run(config: Config) -> Result<(), Failure> {
    let started = Instant::now();
    let objects = match &config.scenario {
        Some(path) => load_scenario(path, config.seed).map_err(Failure::Runtime)?,
        None => {
            generate::generate(config.nodes, config.pods, config.seed).map_err(Failure::Runtime)?
        }
    };
    let count = objects.len();
    let bytes: usize = objects.iter().map(|o| o.json.len()).sum();
    let store = Arc::new(Store::new(config.history));
    store.load(objects);
    let counts = store.counts();
    eprintln!(
        "kube-sim: cluster ready nodes={} pods={} objects={count} bytes={bytes} resourceVersion={} elapsed_ms={}",
        counts.nodes,
        counts.pods,
        counts.rv,
        started.elapsed().as_millis()
    );
    let faults = Arc::new(Faults::default());
    let requests = Arc::new(RequestLog::default());
    let open_watches = Arc::new(AtomicUsize::new(0));
    let api = Arc::new(Api {
        store: store.clone(),
        faults: faults.clone(),
        requests: requests.clone(),
        bookmark_interval: config.bookmark_interval,
        open_watches: open_watches.clone(),
        leases: Leases::default(),
    });
    let api_listener = TcpListener::bind(config.listen)
        .map_err(|e| Failure::Runtime(format!("cannot listen on {}: {e}", config.listen)))?;
    let control_listener = TcpListener::bind(config.control_listen).map_err(|e| {
        Failure::Runtime(format!("cannot listen on {}: {e}", config.control_listen))
    })?;
    let api_server = Server::start(api_listener, api, "api")
        .map_err(|e| Failure::Runtime(format!("cannot start the API server: {e}")))?;
    let churn = Churn::start(store.clone(), config.seed, config.churn)
        .map_err(|e| Failure::Runtime(format!("cannot start churn: {e}")))?;
    let control = Arc::new(Control {
        store,
        faults,
        requests,
        api_server: api_server.clone(),
        open_watches,
        churn,
        uids: Mutex::new(Rng::new(config.seed ^ 0xC0_47_20_11)),
    });
    let control_server = Server::start(control_listener, control, "control")
        .map_err(|e| Failure::Runtime(format!("cannot start the control server: {e}")))?;
    if let Some(path) = &config.kubeconfig_out {
        std::fs::write(path, kubeconfig(api_server.addr()))
            .map_err(|e| Failure::Runtime(format!("cannot write kubeconfig {path}: {e}")))?;
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "kube-sim listening api=http://{} control=http://{}",
        api_server.addr(),
        control_server.addr()
    )
    .and_then(|()| stdout.flush())
    .map_err(|e| Failure::Runtime(format!("cannot write to stdout: {e}")))?;
    drop(stdout);
    // The servers run on their own threads; the process lives until it is signalled.
    loop {
        std::thread::park();
    }
}

fn main() -> ExitCode {
    let flags: Flags = argh::from_env();
    let result = flags.validate().map_err(Failure::Usage).and_then(run);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("kube-sim: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(message)) => {
            eprintln!("kube-sim: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_the_documented_forms() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn only_loopback_addresses_are_accepted() {
        assert!(loopback("listen", "127.0.0.1:0").is_ok());
        assert!(loopback("listen", "[::1]:8080").is_ok());
        assert!(loopback("listen", "0.0.0.0:8080").is_err());
        assert!(loopback("listen", "192.168.1.2:80").is_err());
        assert!(loopback("listen", "localhost").is_err());
    }
}

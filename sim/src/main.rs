//! kube-sim: a fake Kubernetes API server (nodes and pods) for the exporter's demo, integration
//! tests and benchmarks. This file is the shell: flags → validated `Config` → `launch::start`
//! (cluster, listeners, churn) → the one "listening" line on stdout; everything else logs to
//! stderr. Usage errors exit 2, run-time errors 1.
//!
//! It holds no simulator logic: every part lives in the library (`lib.rs`).

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use argh::FromArgs;

use kube_sim::launch::{self, Config};

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
    /// serve no resource metrics API (metrics.k8s.io answers 404, as on a cluster without
    /// metrics-server); the control interface's POST /metrics-api?mode=on turns it on
    #[argh(switch)]
    no_metrics_api: bool,
    /// serve no Dynamic Resource Allocation API (resource.k8s.io answers 404 and is not in
    /// /apis, as on a cluster without DRA); the control interface's POST /dra-api?mode=on turns
    /// it on
    #[argh(switch)]
    no_dra: bool,
    /// for benchmarks: every worker node also publishes a node-local ResourceSlice of N devices
    /// (driver gpu.nvidia.com), about 70 % of them allocated through claims (default 0 = only
    /// the DRA scenario)
    #[argh(option, default = "0")]
    dra_devices_per_node: usize,
}

/// What went wrong, and which exit code it maps to.
enum Failure {
    /// Bad flags (exit 2).
    Usage(String),
    /// Anything at run time (exit 1).
    Runtime(String),
}

/// A bookmark period: the exporter's duration grammar (`500ms`, `1s`, `2m`), 1 ms to 24 h.
fn bookmark_interval(text: &str) -> Result<Duration, String> {
    let period = kube_cluster_binpacking_exporter::model::duration::parse_duration(text).map_err(
        |reason| format!("invalid duration {text:?}: {reason} (use e.g. 500ms, 1s, 2m)"),
    )?;
    if !(Duration::from_millis(1)..=Duration::from_secs(86_400)).contains(&period) {
        return Err(format!("duration {text:?} out of range (1ms to 24h)"));
    }
    Ok(period)
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
        if self.dra_devices_per_node > 1024 {
            return Err("--dra-devices-per-node must be at most 1024".into());
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
            bookmark_interval: bookmark_interval(&self.bookmark_interval)?,
            history: self.history,
            metrics_api: !self.no_metrics_api,
            dra: !self.no_dra,
            dra_devices_per_node: self.dra_devices_per_node,
        })
    }
}

fn run(config: &Config) -> Result<(), Failure> {
    let simulator = launch::start(config).map_err(Failure::Runtime)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "kube-sim listening api=http://{} control=http://{}",
        simulator.api.addr(),
        simulator.control.addr()
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
    let result = flags
        .validate()
        .map_err(Failure::Usage)
        .and_then(|config| run(&config));
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
        assert_eq!(
            bookmark_interval("500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(bookmark_interval("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(bookmark_interval("2m").unwrap(), Duration::from_secs(120));
        assert!(bookmark_interval("5 parsecs").is_err());
        assert!(bookmark_interval("0s").is_err());
        assert!(bookmark_interval("25h").is_err());
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

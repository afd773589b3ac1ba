//! Starting a simulator from a validated `Config`: the cluster (generated from the seed, or loaded
//! from a scenario file), the store, the API and control listeners, churn, and the kubeconfig.
//!
//! The wiring and nothing else: it parses no flags (the binary's `main.rs` does) and prints no
//! ready line (the caller does, once `start` returns); what each part does lives in its module.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api::Api;
use crate::churn::Churn;
use crate::clock;
use crate::control::Control;
use crate::faults::Faults;
use crate::generate;
use crate::http::Server;
use crate::leases::Leases;
use crate::metrics_api::MetricsApi;
use crate::object::{fill_identity, Object};
use crate::request_log::RequestLog;
use crate::rng::Rng;
use crate::store::Store;

/// Validated configuration.
pub struct Config {
    /// Nodes to generate.
    pub nodes: usize,
    /// Pods to generate (exactly this many).
    pub pods: usize,
    /// Seed of the generated cluster and of churn.
    pub seed: u64,
    /// A `List` file to load instead of generating.
    pub scenario: Option<String>,
    /// Churn events per second from the start.
    pub churn: f64,
    /// API address (loopback).
    pub listen: SocketAddr,
    /// Control interface address (loopback).
    pub control_listen: SocketAddr,
    /// Where to write a kubeconfig pointing at the API.
    pub kubeconfig_out: Option<String>,
    /// Period of BOOKMARK events on watches that allow them.
    pub bookmark_interval: Duration,
    /// Events kept for watch resume and consistent paging.
    pub history: usize,
    /// Serve the resource metrics API from the start.
    pub metrics_api: bool,
    /// Serve `resource.k8s.io/v1` (Dynamic Resource Allocation) from the start.
    pub dra: bool,
    /// Devices of the node-local ResourceSlice every worker node publishes on top of the DRA
    /// scenario (0 = only the scenario), for benchmarks.
    pub dra_devices_per_node: usize,
}

/// A running simulator: both listeners serve on their own threads until the process ends.
pub struct Simulator {
    /// The Kubernetes API listener.
    pub api: Arc<Server>,
    /// The control interface listener.
    pub control: Arc<Server>,
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

/// Builds the cluster, binds both listeners, starts churn and writes the kubeconfig; logs the
/// cluster's size to stderr. The error says what could not be done.
pub fn start(config: &Config) -> Result<Simulator, String> {
    let started = Instant::now();
    let (objects, mix) = match &config.scenario {
        Some(path) => (
            load_scenario(path, config.seed)?,
            generate::Mix::catalogue(),
        ),
        None => {
            let cluster = generate::generate_with(
                config.nodes,
                config.pods,
                config.seed,
                config.dra_devices_per_node,
            )?;
            (cluster.objects, cluster.mix)
        }
    };
    let count = objects.len();
    let bytes: usize = objects.iter().map(|o| o.json.len()).sum();
    let store = Arc::new(Store::new(config.history));
    store.load(objects);
    let counts = store.counts();
    eprintln!(
        "kube-sim: cluster ready nodes={} pods={} resourceslices={} resourceclaims={} objects={count} bytes={bytes} resourceVersion={} elapsed_ms={}",
        counts.nodes,
        counts.pods,
        counts.resource_slices,
        counts.resource_claims,
        counts.rv,
        started.elapsed().as_millis()
    );
    let faults = Arc::new(Faults::default());
    let requests = Arc::new(RequestLog::default());
    let open_watches = Arc::new(AtomicUsize::new(0));
    let metrics = Arc::new(MetricsApi::default());
    let dra = Arc::new(AtomicBool::new(config.dra));
    if !config.metrics_api {
        metrics.set_mode(crate::metrics_api::Mode::Off);
    }
    let api = Arc::new(Api {
        store: store.clone(),
        faults: faults.clone(),
        requests: requests.clone(),
        bookmark_interval: config.bookmark_interval,
        open_watches: open_watches.clone(),
        leases: Leases::default(),
        metrics: metrics.clone(),
        dra: dra.clone(),
    });
    let api_listener = TcpListener::bind(config.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let control_listener = TcpListener::bind(config.control_listen)
        .map_err(|e| format!("cannot listen on {}: {e}", config.control_listen))?;
    let api_server = Server::start(api_listener, api, "api")
        .map_err(|e| format!("cannot start the API server: {e}"))?;
    let churn = Churn::start(store.clone(), config.seed, config.churn, mix)
        .map_err(|e| format!("cannot start churn: {e}"))?;
    let control = Arc::new(Control {
        store,
        faults,
        requests,
        api_server: api_server.clone(),
        open_watches,
        metrics,
        dra,
        churn,
        uids: Mutex::new(Rng::new(config.seed ^ 0xC0_47_20_11)),
    });
    let control_server = Server::start(control_listener, control, "control")
        .map_err(|e| format!("cannot start the control server: {e}"))?;
    if let Some(path) = &config.kubeconfig_out {
        std::fs::write(path, kubeconfig(api_server.addr()))
            .map_err(|e| format!("cannot write kubeconfig {path}: {e}"))?;
    }
    Ok(Simulator {
        api: api_server,
        control: control_server,
    })
}

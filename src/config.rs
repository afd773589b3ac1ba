//! The validated configuration: every setting in typed form, built by `cli` from the flags and
//! read by the stages. It holds data only (no parsing, no I/O) and imports nothing above
//! `views` and `model`, so any stage may read it and none depends on how flags are spelled.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::logging::LogFormat;
use crate::model::election::ElectionConfig;
use crate::model::resources::TrackedResources;
use crate::views::capacity::Shape;
use crate::views::exposition::Families;
use crate::views::report::{GroupBy, Output, Sort};

/// Paths the HTTP side serves besides the metrics path.
pub const RESERVED_PATHS: [&str; 4] = ["/", "/healthz", "/readyz", "/sync"];

/// A scheduler feature gate as the user set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Follow the API server's version.
    Auto,
    /// Forced on.
    On,
    /// Forced off.
    Off,
}

impl Gate {
    /// The gate's value for a server of the given minor version (1.x).
    pub fn resolve(self, server_minor: Option<u32>, on_since_minor: u32) -> bool {
        match self {
            Gate::On => true,
            Gate::Off => false,
            // An unknown version is treated as current (1.37): every gate is on.
            Gate::Auto => server_minor.is_none_or(|minor| minor >= on_since_minor),
        }
    }
}

/// `--usage`: how often the resource metrics API is polled and how old a sample may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageConfig {
    /// `--usage-interval`.
    pub interval: Duration,
    /// `--usage-max-age`: older samples (and a last poll older than this) are not exported.
    pub max_age: Duration,
}

/// Validated configuration: everything the exporter needs, in typed form.
#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools)]
pub struct Config {
    /// Explicit kubeconfig path, if given.
    pub kubeconfig: Option<PathBuf>,
    /// Address the HTTP server binds.
    pub metrics_addr: SocketAddr,
    /// Path of the metrics endpoint, starting with `/`.
    pub metrics_path: String,
    /// Tracked resources, in flag order.
    pub resources: TrackedResources,
    /// Label groups: each is a list of node label keys.
    pub label_groups: Vec<Vec<String>>,
    /// Server-side label selector for nodes.
    pub node_selector: Option<String>,
    /// Which metric families are exported.
    pub families: Families,
    /// Usage polling (`--usage`), off when `None`.
    pub usage: Option<UsageConfig>,
    /// Reference shapes (`--shape`).
    pub shapes: Vec<Shape>,
    /// Page size of initial lists (`None` = unpaged).
    pub list_page_size: Option<u32>,
    /// Initial state by streaming list instead of paged lists.
    pub streaming_list: bool,
    /// Period of the local resync (`None` = disabled).
    pub resync_period: Option<Duration>,
    /// PodLevelResources gate.
    pub pod_level_resources: Gate,
    /// InPlacePodVerticalScaling gate.
    pub in_place_resize: Gate,
    /// InPlacePodLevelResourcesVerticalScaling gate (pod-level resize status, 1.36+).
    pub pod_level_resize: Gate,
    /// The 1.37 resize rule: max of the spec, actuated and allocated sums.
    pub max_of_sums: Gate,
    /// HTTP worker threads.
    pub http_workers: usize,
    /// Web configuration file (TLS, basic auth), read at start and whenever it changes.
    pub web_config_file: Option<PathBuf>,
    /// Leader election settings (namespace may be empty = detect at start).
    pub leader_election: Option<ElectionConfig>,
    /// Log level.
    pub log_level: log::LevelFilter,
    /// Log format.
    pub log_format: LogFormat,
    /// Diagnose and exit.
    pub check: bool,
    /// One-shot mode: `Some(output)` with `--once` (or as kubectl-binpacking).
    pub once: Option<Output>,
    /// Order of the one-shot table's and CSV's entries.
    pub sort: Sort,
    /// What the one-shot table and CSV list below the cluster total (a label group named here
    /// is among `label_groups`).
    pub group_by: GroupBy,
    /// How long the one-shot mode waits for the first sync.
    pub sync_timeout: Duration,
}

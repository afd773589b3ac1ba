//! kube-sim as a library: a fake Kubernetes API server (nodes and pods, with Leases for leader
//! election) that `kubectl` and kube-rs watchers cannot tell from a real kube-apiserver, and a
//! control interface that drives it. The `kube-sim` binary is `launch::start` behind flags.
//!
//! How the modules stand, each importing only those listed after it (no module imports one above
//! it, no two import each other):
//!
//! - wiring: `launch` (config → cluster → listeners);
//! - the two listeners: `control` (objects, faults, churn switch, request log), `api` (routing,
//!   get/list, Statuses) with `watch` (event streams), `leases` and `metrics_api` (the resource
//!   metrics API's usage model);
//! - background change: `churn`, with `ledger` (the scheduler's view of the store);
//! - the cluster: `generate` (catalogue, planner, renderers, templates), `store` (objects,
//!   resourceVersions, history), `schedule` (the scheduler's filters with the exporter's
//!   accounting, for placing pods), `select` (label and field selectors);
//! - what answers are made of: `format` (Accept negotiation), `table` (kubectl Tables),
//!   `status` (Status objects), `paging` (continue tokens), `request_log`, `faults`,
//!   `invariants` (what DRA promises, checked on a cluster);
//! - the ground: `object` (stored objects), `http` (HTTP/1.1 server), `clock`, `rng`.

#![warn(missing_docs)]

pub mod api;
pub mod churn;
pub mod clock;
pub mod control;
pub mod faults;
pub mod format;
pub mod generate;
pub mod http;
pub mod invariants;
pub mod launch;
pub mod leases;
pub mod ledger;
pub mod metrics_api;
pub mod object;
pub mod paging;
pub mod request_log;
pub mod rng;
pub mod schedule;
pub mod select;
pub mod status;
pub mod store;
pub mod table;
pub mod watch;

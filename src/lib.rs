//! kube-cluster-binpacking-exporter: per node, label group and cluster, the kube-scheduler-exact
//! sum of pod requests against allocatable, from a watch cache, as Prometheus metrics.
//!
//! Data flows one way, and the folders follow it:
//!
//! ```text
//! watch events ─▶ compact records ─▶ cluster state ─▶ snapshot ─▶ text ─▶ HTTP
//!   ingest/          ingest/, model/     model/          views/     views/   serve/
//! ```
//!
//! - [`model`]: pure: quantities, resource names, the scheduler's rule, records, the state.
//! - [`ingest`]: I/O: the client, watchers, decoding, leader election.
//! - [`views`]: pure: snapshot, capacity figures, exposition, page, report.
//! - [`serve`]: I/O: the HTTP server, routes, scrape, TLS and auth.
//!
//! Shared by the stages, importing only `model` and `views`: [`cache`] (the watch cache both
//! threads hold), [`config`] (the validated configuration), [`self_metrics`] (the exporter's own
//! metrics), [`error`] and [`logging`]. [`cli`] turns flags into the configuration; the binary
//! (`main.rs`) wires it all. No file imports one above it, and none imports [`cli`].

pub mod cache;
pub mod cli;
pub mod config;
pub mod error;
pub mod ingest;
pub mod logging;
pub mod model;
pub mod self_metrics;
pub mod serve;
pub mod views;

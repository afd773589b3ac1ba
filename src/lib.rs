//! kube-cluster-binpacking-exporter: per node, label group and cluster, the kube-scheduler-exact
//! sum of pod requests against allocatable, from a watch cache, as Prometheus metrics.
//!
//! Data flows one way: watch events (`watch`, `objects`) → compact records (`accounting`,
//! `quantity`) → cluster state with running sums (`state`) → snapshot (`snapshot`) → text
//! (`exposition`) → HTTP (`http`). Pure modules never name tokio, kube's client or tiny_http.

pub mod accounting;
pub mod amount;
pub mod basic_auth;
pub mod buffers;
pub mod cache;
pub mod capacity;
pub mod check;
pub mod cli;
pub mod client;
pub mod error;
pub mod exposition;
pub mod health;
pub mod http;
pub mod label_selector;
pub mod leader;
pub mod logging;
pub mod objects;
pub mod page;
pub mod quantity;
pub mod report;
pub mod scrape;
pub mod self_metrics;
pub mod shared_bodies;
pub mod snapshot;
pub mod state;
pub mod watch;
pub mod web_config;
pub mod web_security;

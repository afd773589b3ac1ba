//! Pure views of the cluster state: the snapshot copied out under the lock, the capacity figures
//! derived from it, the catalogue of metric families, the Prometheus text exposition, the live
//! page and the one-shot report.
//! Imports `model` only: no I/O, no tokio, no tiny_http, so every view is tested without a
//! cluster or a socket.

pub mod amount;
pub mod capacity;
pub mod catalogue;
pub mod device_exposition;
pub mod device_report;
pub mod exposition;
pub mod page;
pub mod report;
pub mod snapshot;

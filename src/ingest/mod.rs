//! I/O at the edge, on the watch thread's current-thread tokio runtime: the Kubernetes client,
//! the node and pod watchers, decoding API JSON straight into compact records, leader election,
//! the usage poll (`--usage`) and the `--check` diagnosis. Imports `model` and the shared files (`cache`, `config`, `error`,
//! `self_metrics`); never `views` or `serve`.

pub mod check;
pub mod client;
pub mod decode;
pub mod dra_objects;
pub mod leader;
pub mod objects;
pub mod records;
pub mod usage;
pub mod watch;

//! Pure model of what the scheduler accounts: quantities as exact integers, resource names and
//! the tracked set, the scheduler's per-pod rule (`docs/ACCOUNTING.md`), the records and the
//! cluster state with running sums, watch health and leadership flags. Imports std and serde
//! only: never tokio, a Kubernetes client, tiny_http, or any other folder of this crate.

pub mod accounting;
pub mod devices;
pub mod duration;
pub mod election;
pub mod health;
pub mod label_groups;
pub mod label_selector;
pub mod names;
pub mod pod_keys;
pub mod quantity;
pub mod resources;
pub mod rows;
pub mod state;
pub mod usage;

//! stub until the real module lands
use serde::Deserialize;
#[derive(Debug, Clone)]
pub struct TrackedResources {
    names: Vec<String>,
}
impl TrackedResources {
    pub fn new(names: &[&str]) -> Self {
        Self {
            names: names.iter().map(|s| s.to_string()).collect(),
        }
    }
    pub fn len(&self) -> usize {
        self.names.len()
    }
    pub fn names(&self) -> &[String] {
        &self.names
    }
}
#[derive(Debug, Clone, Copy)]
pub struct AccountingOptions {
    pub pod_level_resources: bool,
    pub use_status_resources: bool,
}
#[derive(Debug, Clone)]
pub struct BadQuantity {
    pub field: String,
    pub value: String,
    pub error: String,
}
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSpecInput {
    pub node_name: Option<String>,
    #[serde(skip)]
    pub bad_quantities: Vec<BadQuantity>,
}
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PodStatusInput {
    pub phase: Option<String>,
    #[serde(skip)]
    pub bad_quantities: Vec<BadQuantity>,
}
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NodeStatusInput {
    #[serde(skip)]
    pub bad_quantities: Vec<BadQuantity>,
}
pub fn is_terminal(s: &PodStatusInput) -> bool {
    matches!(s.phase.as_deref(), Some("Succeeded" | "Failed"))
}
pub fn pod_requests(
    _: &PodSpecInput,
    _: &PodStatusInput,
    t: &TrackedResources,
    _: AccountingOptions,
) -> Box<[u64]> {
    vec![0; t.len()].into()
}
pub fn node_allocatable(_: &NodeStatusInput, t: &TrackedResources) -> Box<[u64]> {
    vec![0; t.len()].into()
}
pub fn node_capacity(_: &NodeStatusInput, t: &TrackedResources) -> Box<[u64]> {
    vec![0; t.len()].into()
}
pub fn explain(
    _: &PodSpecInput,
    _: &PodStatusInput,
    _: &TrackedResources,
    _: AccountingOptions,
) -> String {
    String::new()
}

//! Label groups (`--label-group`): lists of node label keys whose values group nodes, and the
//! group value of a node record. Pure.

use crate::model::state::NodeRecord;

/// The label value used when a node lacks a label of a group.
pub const MISSING_LABEL: &str = "<none>";

/// The configured label groups, with the distinct label keys they use.
#[derive(Debug, Clone, Default)]
pub struct LabelGroups {
    keys: Vec<String>,
    groups: Vec<(String, Vec<usize>)>,
}

impl LabelGroups {
    /// Builds the groups from lists of label keys (one list per `--label-group`).
    pub fn new(groups: &[Vec<String>]) -> LabelGroups {
        let mut keys: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for group in groups {
            let indices = group
                .iter()
                .map(|key| {
                    keys.iter().position(|k| k == key).unwrap_or_else(|| {
                        keys.push(key.clone());
                        keys.len() - 1
                    })
                })
                .collect();
            out.push((group.join(","), indices));
        }
        LabelGroups { keys, groups: out }
    }

    /// Distinct label keys, in the order node records store their values.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// Whether any group is configured.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// How many groups are configured.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// The name of group `g`: its label keys joined by `,`.
    pub fn name(&self, g: usize) -> &str {
        &self.groups[g].0
    }

    /// The group value of a node for group `g`: its label values joined by `,`.
    pub fn value_of(&self, g: usize, node: &NodeRecord) -> String {
        let mut value = String::new();
        for (i, &key) in self.groups[g].1.iter().enumerate() {
            if i > 0 {
                value.push(',');
            }
            value.push_str(
                node.labels
                    .get(key)
                    .and_then(|v| v.as_deref())
                    .unwrap_or(MISSING_LABEL),
            );
        }
        value
    }
}

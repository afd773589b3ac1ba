//! Field selectors (and the label selectors of the exporter's model): parsing the query-string
//! syntax kube-apiserver accepts and matching stored objects against it. Pure; errors are the
//! messages the real server puts in a 400 Status.

pub use kube_cluster_binpacking_exporter::model::label_selector::LabelSelector;

use crate::object::{Kind, Object};

/// The fields the simulator can select on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Namespace,
    NodeName,
    Phase,
}

/// A parsed `fieldSelector`: all terms must hold (comma = AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<(Field, bool, String)>,
}

/// Everything that decides whether an object belongs to a list or watch.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// From the URL (`/namespaces/NS/pods`); `None` = all namespaces.
    pub namespace: Option<String>,
    /// From `labelSelector`.
    pub labels: LabelSelector,
    /// From `fieldSelector`.
    pub fields: FieldSelector,
}

impl Filter {
    /// True when the object is selected.
    pub fn matches(&self, obj: &Object) -> bool {
        if let Some(ns) = &self.namespace {
            if *obj.namespace != **ns {
                return false;
            }
        }
        self.labels.matches(|key| obj.label(key)) && self.fields.matches(obj)
    }
}

/// Splits on commas that are not backslash-escaped, keeping escapes for the term parser.
fn split_unescaped(input: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut escaped = false;
    for c in input.chars() {
        if escaped {
            cur.push('\\');
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    if escaped {
        cur.push('\\');
    }
    parts.push(cur);
    parts
}

fn unescape(value: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(e @ ('\\' | ',' | '=' | '!')) => out.push(e),
                _ => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence in {value:?}"
                    ))
                }
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

impl FieldSelector {
    /// Parses `fieldSelector` for the given resource; unsupported fields are rejected the way
    /// kube-apiserver does ("field label not supported").
    pub fn parse(input: &str, kind: Kind) -> Result<FieldSelector, String> {
        let mut terms = Vec::new();
        if input.trim().is_empty() {
            return Ok(FieldSelector::default());
        }
        for term in split_unescaped(input, ',') {
            // The operator is the first unescaped `!=`, `==` or `=`.
            let bytes = term.as_bytes();
            let mut found = None;
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'!' if bytes.get(i + 1) == Some(&b'=') => {
                        found = Some((i, 2, true));
                        break;
                    }
                    b'=' if bytes.get(i + 1) == Some(&b'=') => {
                        found = Some((i, 2, false));
                        break;
                    }
                    b'=' => {
                        found = Some((i, 1, false));
                        break;
                    }
                    _ => i += 1,
                }
            }
            let Some((at, len, negate)) = found else {
                return Err(format!(
                    "invalid selector: '{input}'; can't understand '{term}'"
                ));
            };
            let key = term[..at].trim();
            let value = unescape(&term[at + len..])?;
            let field = match (kind, key) {
                (_, "metadata.name") => Field::Name,
                (Kind::Pod | Kind::ResourceClaim, "metadata.namespace") => Field::Namespace,
                (Kind::Pod | Kind::ResourceSlice, "spec.nodeName") => Field::NodeName,
                (Kind::Pod, "status.phase") => Field::Phase,
                _ => return Err(format!("field label not supported: {key}")),
            };
            terms.push((field, negate, value));
        }
        Ok(FieldSelector { terms })
    }

    /// True when every term holds.
    pub fn matches(&self, obj: &Object) -> bool {
        self.terms.iter().all(|(field, negate, value)| {
            let actual: &str = match field {
                Field::Name => &obj.name,
                Field::Namespace => &obj.namespace,
                Field::NodeName => &obj.node_name,
                Field::Phase => &obj.phase,
            };
            (actual == value) != *negate
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(labels: serde_json::Value, node: &str, phase: &str) -> Object {
        Object::from_value(
            json!({"kind":"Pod","metadata":{"name":"web-1","namespace":"shop","labels":labels},
                   "spec":{"nodeName":node},"status":{"phase":phase}}),
            1,
        )
        .unwrap()
    }

    #[test]
    fn field_selector_supports_the_scheduler_informer_query() {
        let running = pod(json!({}), "n1", "Running");
        let done = pod(json!({}), "n1", "Succeeded");
        let s = FieldSelector::parse("status.phase!=Succeeded,status.phase!=Failed", Kind::Pod)
            .unwrap();
        assert!(s.matches(&running));
        assert!(!s.matches(&done));
        assert!(FieldSelector::parse("spec.nodeName=n1", Kind::Pod)
            .unwrap()
            .matches(&running));
        assert!(!FieldSelector::parse("spec.nodeName==n2", Kind::Pod)
            .unwrap()
            .matches(&running));
        assert!(!FieldSelector::parse("spec.nodeName=", Kind::Pod)
            .unwrap()
            .matches(&running));
        assert!(
            FieldSelector::parse("metadata.namespace=shop,metadata.name=web-1", Kind::Pod)
                .unwrap()
                .matches(&running)
        );
    }

    #[test]
    fn unsupported_fields_get_the_real_servers_message() {
        assert_eq!(
            FieldSelector::parse("spec.restartPolicy=Always", Kind::Pod).unwrap_err(),
            "field label not supported: spec.restartPolicy"
        );
        assert_eq!(
            FieldSelector::parse("spec.nodeName=x", Kind::Node).unwrap_err(),
            "field label not supported: spec.nodeName"
        );
        assert!(FieldSelector::parse("metadata.name", Kind::Node).is_err());
        assert!(FieldSelector::parse("metadata.name=a\\,b", Kind::Node).is_ok());
    }
}

//! The response format a client asked for: plain JSON or a `meta.k8s.io` Table (v1 or v1beta1),
//! negotiated from the Accept header in the client's order, as kube-apiserver does for kubectl.
//!
//! Pure: it reads a header value and names a format; rendering is `table.rs`, answering is
//! `api.rs` and `watch.rs`.

use crate::table::{IncludeObject, TableOptions};

/// The response format chosen from the Accept header.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    /// Plain objects and lists.
    Json,
    /// meta.k8s.io Tables.
    Table(TableOptions),
}

/// Picks the first acceptable media type in the client's order (kubectl lists Table first).
pub fn negotiate(accept: Option<&str>, include: IncludeObject) -> Option<Format> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(Format::Json);
    };
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let params: Vec<(String, String)> = parts
            .filter_map(|p| {
                p.split_once('=')
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            })
            .collect();
        let param = |k: &str| {
            params
                .iter()
                .find(|(pk, _)| pk == k)
                .map(|(_, v)| v.as_str())
        };
        match media.as_str() {
            "application/json" => match (param("as"), param("g"), param("v")) {
                (None, _, _) => return Some(Format::Json),
                (Some("Table"), Some("meta.k8s.io"), Some("v1")) => {
                    return Some(Format::Table(TableOptions {
                        api_version: "meta.k8s.io/v1",
                        include,
                    }))
                }
                (Some("Table"), Some("meta.k8s.io"), Some("v1beta1")) => {
                    return Some(Format::Table(TableOptions {
                        api_version: "meta.k8s.io/v1beta1",
                        include,
                    }))
                }
                _ => {}
            },
            "*/*" | "application/*" => return Some(Format::Json),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_accept_header_gets_a_v1_table() {
        let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert!(
            matches!(negotiate(Some(accept), IncludeObject::Metadata), Some(Format::Table(t)) if t.api_version == "meta.k8s.io/v1")
        );
        assert!(matches!(
            negotiate(Some("application/json, */*"), IncludeObject::Metadata),
            Some(Format::Json)
        ));
        assert!(matches!(
            negotiate(None, IncludeObject::Metadata),
            Some(Format::Json)
        ));
        assert!(negotiate(
            Some("application/vnd.kubernetes.protobuf"),
            IncludeObject::Metadata
        )
        .is_none());
        assert!(matches!(
            negotiate(Some("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"), IncludeObject::Metadata),
            Some(Format::Json)
        ));
    }
}

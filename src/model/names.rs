//! Kubernetes names as the API validates them (apimachinery's `IsQualifiedName`,
//! `IsDNS1123Subdomain`, `IsValidLabelValue`): label keys, label values, extended resource names.
//! One copy for the exporter's flags, its resource rules and the simulator's selectors. Pure.

/// A DNS-1123 subdomain: dot-separated labels of lowercase alphanumerics and `-`, each starting
/// and ending alphanumeric, at most 253 bytes in all.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

/// The name part of a qualified name, and a non-empty label value: at most 63 bytes of
/// alphanumerics, `-`, `_` and `.`, starting and ending alphanumeric.
pub fn is_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// `IsQualifiedName`: an optional DNS-1123 subdomain prefix and `/`, then a name part (label
/// keys, annotation keys, extended resource names).
pub fn is_qualified_name(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => is_dns1123_subdomain(prefix) && is_name_part(name),
        None => is_name_part(s),
    }
}

/// `IsValidLabelValue`: empty, or a name part.
pub fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_name_part(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_follow_the_api_rules() {
        for good in [
            "zone",
            "topology.kubernetes.io/zone",
            "a.b/C_d-e.f",
            "x.io/9",
        ] {
            assert!(is_qualified_name(good), "{good}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a/",
            "/a",
            "A.io/x",
            "a..b/x",
            "a/b/c",
            &"x".repeat(64),
        ] {
            assert!(!is_qualified_name(bad), "{bad}");
        }
        assert!(is_dns1123_subdomain("a.".repeat(126).trim_end_matches('.')));
        assert!(!is_dns1123_subdomain(&"a".repeat(254)));
        assert!(is_label_value("") && is_label_value("v-1") && !is_label_value("v 1"));
    }
}

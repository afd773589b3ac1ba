//! Human-readable amounts for the page and the one-shot table: cpu in cores, byte resources with
//! binary suffixes, other resources as plain counts. Pure; the exposition keeps exact numbers.

/// Whether a resource is counted in bytes.
pub fn is_bytes(resource: &str) -> bool {
    resource == "memory" || resource == "ephemeral-storage" || resource.starts_with("hugepages-")
}

/// Formats an amount in the resource's scheduler unit (cpu millicores) for people.
pub fn human(resource: &str, value: u128) -> String {
    if resource == "cpu" {
        let cores = value as f64 / 1000.0;
        return trim(format!("{cores:.2}"));
    }
    if is_bytes(resource) {
        const UNITS: [&str; 6] = ["", "Ki", "Mi", "Gi", "Ti", "Pi"];
        let mut v = value as f64;
        let mut unit = 0;
        while v >= 1024.0 && unit < UNITS.len() - 1 {
            v /= 1024.0;
            unit += 1;
        }
        return format!("{}{}", trim(format!("{v:.1}")), UNITS[unit]);
    }
    value.to_string()
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// `num / den` as a ratio, 0 when `den` is 0.
pub fn ratio(num: u128, den: u128) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_like_kubectl() {
        assert_eq!(human("cpu", 3920), "3.92");
        assert_eq!(human("cpu", 4000), "4");
        assert_eq!(human("memory", 16_674_762_752), "15.5Gi");
        assert_eq!(human("memory", 512), "512");
        assert_eq!(human("hugepages-2Mi", 2 << 20), "2Mi");
        assert_eq!(human("nvidia.com/gpu", 2), "2");
        assert!(ratio(1, 0).abs() < f64::EPSILON);
    }
}

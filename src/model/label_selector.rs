//! Kubernetes label selectors as strings (`a=b,c!=d,e in (f,g),h notin (i),j,!k`): validation of
//! `--node-selector` before it is sent to the API server, and matching of label sets.
//! Pure: no I/O, no Kubernetes types.

use std::fmt;

/// Why a selector or key was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError(String);

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` / `key==value`.
    Equals(String, String),
    /// `key!=value` (also true when the key is absent).
    NotEquals(String, String),
    /// `key in (v1,v2)`.
    In(String, Vec<String>),
    /// `key notin (v1,v2)` (also true when the key is absent).
    NotIn(String, Vec<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    DoesNotExist(String),
}

impl Requirement {
    /// Whether a label set (looked up by `get`) satisfies this requirement.
    pub fn matches<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        match self {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        }
    }
}

/// Validates a whole selector.
pub fn validate(selector: &str) -> Result<(), SelectorError> {
    parse(selector).map(|_| ())
}

/// Parses a selector into its requirements (all must hold).
pub fn parse(selector: &str) -> Result<Vec<Requirement>, SelectorError> {
    let mut out = Vec::new();
    for term in split_terms(selector)? {
        out.push(parse_term(term.trim())?);
    }
    Ok(out)
}

/// Splits at commas that are not inside parentheses.
fn split_terms(selector: &str) -> Result<Vec<&str>, SelectorError> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0_i32, 0);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return Err(SelectorError("unbalanced parentheses".into()));
        }
    }
    if depth != 0 {
        return Err(SelectorError("unbalanced parentheses".into()));
    }
    terms.push(&selector[start..]);
    Ok(terms)
}

fn parse_term(term: &str) -> Result<Requirement, SelectorError> {
    if term.is_empty() {
        return Err(SelectorError("empty requirement".into()));
    }
    if let Some(key) = term.strip_prefix('!') {
        let key = key.trim();
        validate_key(key)?;
        return Ok(Requirement::DoesNotExist(key.to_owned()));
    }
    for (op, not) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((key, value)) = term.split_once(op) {
            let (key, value) = (key.trim(), value.trim());
            validate_key(key)?;
            validate_value(value)?;
            return Ok(if not {
                Requirement::NotEquals(key.to_owned(), value.to_owned())
            } else {
                Requirement::Equals(key.to_owned(), value.to_owned())
            });
        }
    }
    let mut words = term.splitn(2, char::is_whitespace);
    let key = words.next().unwrap_or_default();
    let rest = words.next().unwrap_or_default().trim_start();
    validate_key(key)?;
    if rest.is_empty() {
        return Ok(Requirement::Exists(key.to_owned()));
    }
    let (not, list) = if let Some(list) = rest.strip_prefix("notin") {
        (true, list)
    } else if let Some(list) = rest.strip_prefix("in") {
        (false, list)
    } else {
        return Err(SelectorError(format!(
            "{term:?}: expected =, ==, !=, in or notin after the key"
        )));
    };
    let inner = list
        .trim()
        .strip_prefix('(')
        .and_then(|l| l.strip_suffix(')'))
        .ok_or_else(|| SelectorError(format!("{term:?}: expected a (value,...) list")))?;
    let values = inner
        .split(',')
        .map(|v| {
            let v = v.trim();
            validate_value(v).map(|()| v.to_owned())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if not {
        Requirement::NotIn(key.to_owned(), values)
    } else {
        Requirement::In(key.to_owned(), values)
    })
}

/// Validates a label key: optional DNS-subdomain prefix (≤ 253) and `/`, then a name (≤ 63) of
/// alphanumerics, `-`, `_`, `.`, beginning and ending alphanumeric.
pub fn validate_key(key: &str) -> Result<(), SelectorError> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let ok = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix
                .split('.')
                .all(|l| is_name(l, &['-']) && l.len() <= 63);
        if !ok {
            return Err(SelectorError(format!(
                "invalid label key prefix {prefix:?}"
            )));
        }
    }
    if name.len() > 63 || !is_name(name, &['-', '_', '.']) {
        return Err(SelectorError(format!("invalid label key {key:?}")));
    }
    Ok(())
}

fn validate_value(value: &str) -> Result<(), SelectorError> {
    if value.is_empty() || (value.len() <= 63 && is_name(value, &['-', '_', '.'])) {
        Ok(())
    } else {
        Err(SelectorError(format!("invalid label value {value:?}")))
    }
}

fn is_name(s: &str, extra: &[char]) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_parses() {
        let r = parse("a=b, c==d,e!=f,g in (h, i),j notin (k),l,!m,x.io/y=z").unwrap();
        assert_eq!(r.len(), 8);
        assert_eq!(
            r[3],
            Requirement::In("g".into(), vec!["h".into(), "i".into()])
        );
        assert_eq!(r[6], Requirement::DoesNotExist("m".into()));
        assert_eq!(r[7], Requirement::Equals("x.io/y".into(), "z".into()));
    }

    #[test]
    fn malformed_selectors_are_rejected() {
        for bad in [
            "",
            "a in (b",
            "a in b",
            "a=(",
            "=b",
            "a=b,",
            "a b c",
            "-a=b",
            "a/=b",
            "a=b c",
            "a in ((b))",
        ] {
            assert!(validate(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn matching_follows_kubernetes_semantics() {
        let labels = [("zone", "a"), ("pool", "gpu")];
        let get = |k: &str| labels.iter().find(|(lk, _)| *lk == k).map(|(_, v)| *v);
        let sel = |s: &str| parse(s).unwrap().iter().all(|r| r.matches(get));
        assert!(sel("zone=a,pool in (gpu,cpu)"));
        assert!(sel("missing!=x"));
        assert!(sel("missing notin (x)"));
        assert!(!sel("zone notin (a)"));
        assert!(sel("!missing,zone"));
        assert!(!sel("pool=cpu"));
    }
}

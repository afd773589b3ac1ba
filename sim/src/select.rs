//! Label and field selectors: parsing the query-string syntax kube-apiserver accepts and matching
//! stored objects against it. Pure; errors are the messages the real server puts in a 400 Status.

use crate::object::{Kind, Object};

/// One label requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelOp {
    Exists,
    NotExists,
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    GreaterThan(i64),
    LessThan(i64),
}

/// A parsed `labelSelector`: all requirements must hold (comma = AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<(String, LabelOp)>,
}

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
        self.labels.matches(obj) && self.fields.matches(obj)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    Not,
    Eq,
    DoubleEq,
    NotEq,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
}

fn lex(input: &str) -> Vec<Token> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            c if c.is_whitespace() => i += 1,
            '!' if next == Some('=') => {
                out.push(Token::NotEq);
                i += 2;
            }
            '!' => {
                out.push(Token::Not);
                i += 1;
            }
            '=' if next == Some('=') => {
                out.push(Token::DoubleEq);
                i += 2;
            }
            '=' => {
                out.push(Token::Eq);
                i += 1;
            }
            '>' => {
                out.push(Token::Gt);
                i += 1;
            }
            '<' => {
                out.push(Token::Lt);
                i += 1;
            }
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            ',' => {
                out.push(Token::Comma);
                i += 1;
            }
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !"!=><(),".contains(chars[i])
                {
                    i += 1;
                }
                out.push(Token::Ident(chars[start..i].iter().collect()));
            }
        }
    }
    out
}

fn is_name_part(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn validate_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                let b = part.as_bytes();
                !b.is_empty()
                    && b[0].is_ascii_alphanumeric()
                    && b[b.len() - 1].is_ascii_alphanumeric()
                    && b.iter()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            })
    });
    if prefix_ok && is_name_part(name, 63) {
        Ok(())
    } else {
        Err(format!(
            "unable to parse requirement: key: Invalid value: {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ))
    }
}

fn validate_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_name_part(value, 63) {
        Ok(())
    } else {
        Err(format!(
            "unable to parse requirement: values[0]: Invalid value: {value:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ))
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn ident(&mut self, what: &str) -> Result<String, String> {
        match self.next() {
            Some(Token::Ident(s)) => Ok(s),
            other => Err(format!(
                "found '{}', expected: {what}",
                describe(other.as_ref())
            )),
        }
    }
    fn value(&mut self) -> Result<String, String> {
        // An empty value (`key=` at the end or before a comma) is valid.
        match self.peek() {
            Some(Token::Ident(_)) => self.ident("value"),
            None | Some(Token::Comma) => Ok(String::new()),
            other => Err(format!("found '{}', expected: identifier", describe(other))),
        }
    }
    fn set(&mut self) -> Result<Vec<String>, String> {
        match self.next() {
            Some(Token::Open) => {}
            other => {
                return Err(format!(
                    "found '{}', expected: '('",
                    describe(other.as_ref())
                ))
            }
        }
        let mut values = Vec::new();
        loop {
            match self.next() {
                Some(Token::Ident(s)) => {
                    validate_value(&s)?;
                    values.push(s);
                }
                Some(Token::Close) if values.is_empty() => {
                    return Err("for 'in', 'notin' operators, values set can't be empty".to_string())
                }
                other => {
                    return Err(format!(
                        "found '{}', expected: identifier",
                        describe(other.as_ref())
                    ))
                }
            }
            match self.next() {
                Some(Token::Comma) => {}
                Some(Token::Close) => return Ok(values),
                other => {
                    return Err(format!(
                        "found '{}', expected: ',' or ')'",
                        describe(other.as_ref())
                    ))
                }
            }
        }
    }
}

fn describe(token: Option<&Token>) -> String {
    match token {
        None => String::new(),
        Some(Token::Ident(s)) => s.clone(),
        Some(Token::Not) => "!".into(),
        Some(Token::Eq) => "=".into(),
        Some(Token::DoubleEq) => "==".into(),
        Some(Token::NotEq) => "!=".into(),
        Some(Token::Gt) => ">".into(),
        Some(Token::Lt) => "<".into(),
        Some(Token::Open) => "(".into(),
        Some(Token::Close) => ")".into(),
        Some(Token::Comma) => ",".into(),
    }
}

impl LabelSelector {
    /// Parses the `labelSelector` syntax (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`, `>`, `<`).
    pub fn parse(input: &str) -> Result<LabelSelector, String> {
        let mut p = Parser {
            tokens: lex(input),
            pos: 0,
        };
        let mut requirements = Vec::new();
        if p.peek().is_none() {
            return Ok(LabelSelector::default());
        }
        loop {
            let requirement = if p.peek() == Some(&Token::Not) {
                p.next();
                let key = p.ident("identifier")?;
                validate_key(&key)?;
                (key, LabelOp::NotExists)
            } else {
                let key = p.ident("identifier")?;
                validate_key(&key)?;
                let op = match p.peek().cloned() {
                    None | Some(Token::Comma) => LabelOp::Exists,
                    Some(Token::Eq | Token::DoubleEq) => {
                        p.next();
                        let v = p.value()?;
                        validate_value(&v)?;
                        LabelOp::Equals(v)
                    }
                    Some(Token::NotEq) => {
                        p.next();
                        let v = p.value()?;
                        validate_value(&v)?;
                        LabelOp::NotEquals(v)
                    }
                    Some(Token::Gt | Token::Lt) => {
                        let gt = p.next() == Some(Token::Gt);
                        let v = p.ident("value")?;
                        let n: i64 = v
                            .parse()
                            .map_err(|_| format!("unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer: {v:?}"))?;
                        if gt {
                            LabelOp::GreaterThan(n)
                        } else {
                            LabelOp::LessThan(n)
                        }
                    }
                    Some(Token::Ident(word)) if word == "in" => {
                        p.next();
                        LabelOp::In(p.set()?)
                    }
                    Some(Token::Ident(word)) if word == "notin" => {
                        p.next();
                        LabelOp::NotIn(p.set()?)
                    }
                    other => {
                        return Err(format!(
                            "found '{}', expected: in, notin, =, ==, !=, gt, lt",
                            describe(other.as_ref())
                        ))
                    }
                };
                (key, op)
            };
            requirements.push(requirement);
            match p.next() {
                None => break,
                Some(Token::Comma) if p.peek().is_some() => {}
                other => {
                    return Err(format!(
                        "found '{}', expected: ',' or 'end of string'",
                        describe(other.as_ref())
                    ))
                }
            }
        }
        Ok(LabelSelector { requirements })
    }

    /// True when every requirement holds for the object's labels.
    pub fn matches(&self, obj: &Object) -> bool {
        self.requirements.iter().all(|(key, op)| {
            let value = obj.label(key);
            match op {
                LabelOp::Exists => value.is_some(),
                LabelOp::NotExists => value.is_none(),
                LabelOp::Equals(v) => value == Some(v.as_str()),
                LabelOp::NotEquals(v) => value != Some(v.as_str()),
                LabelOp::In(vs) => value.is_some_and(|x| vs.iter().any(|v| v == x)),
                LabelOp::NotIn(vs) => value.is_none_or(|x| vs.iter().all(|v| v != x)),
                LabelOp::GreaterThan(n) => value
                    .and_then(|x| x.parse::<i64>().ok())
                    .is_some_and(|x| x > *n),
                LabelOp::LessThan(n) => value
                    .and_then(|x| x.parse::<i64>().ok())
                    .is_some_and(|x| x < *n),
            }
        })
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
                (Kind::Pod, "metadata.namespace") => Field::Namespace,
                (Kind::Pod, "spec.nodeName") => Field::NodeName,
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
    fn label_selector_operators_match_like_kubernetes() {
        let p = pod(
            json!({"app":"web","tier":"front","rank":"5"}),
            "n1",
            "Running",
        );
        let cases = [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("missing!=x", true),
            ("app in (web, api)", true),
            ("app notin (web)", false),
            ("missing notin (web)", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("app=web,tier=back", false),
            ("app=web, tier in (front)", true),
            ("rank>4,rank<6", true),
            ("rank>5", false),
            ("tier=", false),
        ];
        for (sel, want) in cases {
            let s = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(s.matches(&p), want, "{sel}");
        }
    }

    #[test]
    fn malformed_label_selectors_are_errors() {
        for sel in [
            "app in ()",
            "app in (a",
            "=x",
            "app=web,",
            "app notin x",
            "a b",
            "app=web!",
            "bad key!=x=y",
            "-x=1",
        ] {
            assert!(LabelSelector::parse(sel).is_err(), "{sel} should not parse");
        }
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

//! Kubernetes label selectors in the query-string syntax kube-apiserver accepts (`a=b,c!=d,e in
//! (f,g),h notin (i),j,!k,l>3`): parsing with the real server's error messages, and matching a
//! label set. Used to validate `--node-selector` before it is sent, and by the cluster simulator
//! to answer `labelSelector`. Pure.

use std::fmt;

use crate::model::names;

/// Why a selector given as a flag was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError(String);

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Validates a non-empty selector given as a flag.
pub fn validate(selector: &str) -> Result<(), SelectorError> {
    if selector.trim().is_empty() {
        return Err(SelectorError("empty selector".into()));
    }
    LabelSelector::parse(selector)
        .map(|_| ())
        .map_err(SelectorError)
}

/// Validates a label key (a qualified name), with the API server's message.
pub fn validate_key(key: &str) -> Result<(), String> {
    if names::is_qualified_name(key) {
        Ok(())
    } else {
        Err(format!(
            "unable to parse requirement: key: Invalid value: {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ))
    }
}

fn validate_value(value: &str) -> Result<(), String> {
    if names::is_label_value(value) {
        Ok(())
    } else {
        Err(format!(
            "unable to parse requirement: values[0]: Invalid value: {value:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ))
    }
}

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

    /// True when every requirement holds for the labels looked up by `label`.
    pub fn matches<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.requirements.iter().all(|(key, op)| {
            let value = label(key);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selector_operators_match_like_kubernetes() {
        let labels = [("app", "web"), ("tier", "front"), ("rank", "5")];
        let get = |k: &str| labels.iter().find(|(lk, _)| *lk == k).map(|(_, v)| *v);
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
            ("x.io/y=z", false),
        ];
        for (sel, want) in cases {
            let s = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(s.matches(get), want, "{sel}");
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
            "a in b",
            "a=(",
            "a/=b",
            "a=b c",
            "a in ((b))",
        ] {
            assert!(LabelSelector::parse(sel).is_err(), "{sel} should not parse");
            assert!(validate(sel).is_err(), "{sel} accepted as a flag");
        }
        assert!(validate("").is_err(), "an empty flag value is refused");
        assert!(validate("a=b, c==d,e!=f,g in (h, i),j notin (k),l,!m,x.io/y=z").is_ok());
    }
}

//! The web configuration file in the format the Prometheus exporters share (exporter-toolkit's
//! `--web.config.file`): `tls_server_config`, `basic_auth_users` (bcrypt hashes) and
//! `http_server_config.headers`. Pure: YAML text in, a validated [`WebConfig`] out; reading the
//! file and the certificates is the TLS layer's job. Every error names the field and says what is
//! allowed, and an option this exporter cannot honour is refused rather than ignored.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
    rate_limit: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    client_ca_file: Option<String>,
    client_ca: Option<String>,
    client_auth_type: Option<String>,
    #[serde(default)]
    client_allowed_sans: Vec<String>,
    min_version: Option<String>,
    max_version: Option<String>,
    #[serde(default)]
    cipher_suites: Vec<String>,
    prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    curve_preferences: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// Where PEM data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pem {
    /// A file, re-read when it changes.
    File(PathBuf),
    /// Inline in the web configuration.
    Inline(String),
}

/// The client certificate policy (Go's `tls.ClientAuthType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate is asked for.
    NoClientCert,
    /// A certificate is asked for, not required and not verified.
    RequestClientCert,
    /// A certificate is required, not verified.
    RequireAnyClientCert,
    /// A certificate is verified against the client CA when one is sent.
    VerifyClientCertIfGiven,
    /// A certificate is required and verified against the client CA.
    RequireAndVerifyClientCert,
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// An elliptic curve for the key exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// X25519.
    X25519,
    /// NIST P-256.
    P256,
    /// NIST P-384.
    P384,
}

/// The TLS 1.2 cipher suites that can be chosen (Go's names; TLS 1.3 suites are always on, as
/// in Go).
pub const CIPHER_SUITES: [&str; 6] = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// Validated TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The server's certificate chain.
    pub cert: Pem,
    /// The server's private key.
    pub key: Pem,
    /// CA certificates that sign client certificates.
    pub client_ca: Option<Pem>,
    /// The client certificate policy.
    pub client_auth: ClientAuth,
    /// Lowest protocol version accepted.
    pub min_version: TlsVersion,
    /// Highest protocol version accepted.
    pub max_version: TlsVersion,
    /// TLS 1.2 cipher suites by Go name, in preference order (empty = the defaults).
    pub cipher_suites: Vec<String>,
    /// Whether the server's order of cipher suites wins over the client's.
    pub prefer_server_cipher_suites: bool,
    /// Key exchange curves in preference order (empty = the defaults).
    pub curves: Vec<Curve>,
}

/// A validated web configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebConfig {
    /// TLS, when configured.
    pub tls: Option<TlsSettings>,
    /// Basic-auth users and their bcrypt hashes (empty = no authentication).
    pub users: BTreeMap<String, String>,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
}

/// Response headers the format allows, with the values each accepts (`None` = any).
const HEADERS: [(&str, Option<&[&str]>); 5] = [
    ("Content-Security-Policy", None),
    ("X-Frame-Options", Some(&["deny", "sameorigin"])),
    ("X-Content-Type-Options", Some(&["nosniff"])),
    ("X-XSS-Protection", None),
    ("Strict-Transport-Security", None),
];

/// Parses and validates a web configuration; relative file names are taken relative to
/// `base` (the directory of the configuration file, as exporter-toolkit does).
pub fn parse(text: &str, base: &std::path::Path) -> Result<WebConfig, String> {
    let raw: RawWebConfig = if text.trim().is_empty() {
        RawWebConfig::default()
    } else {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())?
    };
    if raw.rate_limit.is_some() {
        return Err("rate_limit is not supported by this exporter".into());
    }
    let tls = raw
        .tls_server_config
        .map(|t| tls_settings(t, base))
        .transpose()?;
    let mut headers = Vec::new();
    if let Some(http) = raw.http_server_config {
        if http.http2 == Some(true) {
            log::debug!("http_server_config.http2 is ignored: this exporter serves HTTP/1.1");
        }
        for (name, value) in http.headers {
            let Some((canonical, allowed)) = HEADERS
                .iter()
                .find(|(known, _)| known.eq_ignore_ascii_case(&name))
            else {
                return Err(format!(
                    "http_server_config.headers: {name:?} is not one of {}",
                    HEADERS.map(|(n, _)| n).join(", ")
                ));
            };
            if value.is_empty() {
                continue;
            }
            if let Some(allowed) = allowed {
                if !allowed.iter().any(|a| a.eq_ignore_ascii_case(&value)) {
                    return Err(format!(
                        "http_server_config.headers: {canonical} must be one of {}, not {value:?}",
                        allowed.join(", ")
                    ));
                }
            }
            if !value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
                return Err(format!(
                    "http_server_config.headers: {canonical} holds a character that cannot be sent"
                ));
            }
            headers.push(((*canonical).to_owned(), value));
        }
    }
    for (user, hash) in &raw.basic_auth_users {
        if user.is_empty() || user.contains(':') {
            return Err(format!(
                "basic_auth_users: {user:?} is not a valid user name (non-empty, no ':')"
            ));
        }
        check_bcrypt_hash(hash).map_err(|reason| format!("basic_auth_users.{user}: {reason}"))?;
    }
    Ok(WebConfig {
        tls,
        users: raw.basic_auth_users,
        headers,
    })
}

fn tls_settings(raw: RawTls, base: &std::path::Path) -> Result<TlsSettings, String> {
    let source = |file: Option<String>, inline: Option<String>, name: &str| match (file, inline) {
        (Some(_), Some(_)) => Err(format!(
            "tls_server_config: {name} and {name}_file are mutually exclusive"
        )),
        (Some(file), None) if !file.is_empty() => Ok(Some(Pem::File(base.join(file)))),
        (None, Some(inline)) if !inline.is_empty() => Ok(Some(Pem::Inline(inline))),
        _ => Ok(None),
    };
    let cert = source(raw.cert_file, raw.cert, "cert")?
        .ok_or("tls_server_config: missing cert_file (or cert)")?;
    let key = source(raw.key_file, raw.key, "key")?
        .ok_or("tls_server_config: missing key_file (or key)")?;
    let client_ca = source(raw.client_ca_file, raw.client_ca, "client_ca")?;
    let client_auth = match raw.client_auth_type.as_deref().unwrap_or("NoClientCert") {
        "NoClientCert" | "" => ClientAuth::NoClientCert,
        "RequestClientCert" => ClientAuth::RequestClientCert,
        "RequireAnyClientCert" => ClientAuth::RequireAnyClientCert,
        "VerifyClientCertIfGiven" => ClientAuth::VerifyClientCertIfGiven,
        "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerifyClientCert,
        other => {
            return Err(format!(
                "tls_server_config.client_auth_type: {other:?} is not one of NoClientCert, \
                 RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, \
                 RequireAndVerifyClientCert"
            ))
        }
    };
    let verifies = matches!(
        client_auth,
        ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
    );
    if verifies && client_ca.is_none() {
        return Err(format!(
            "tls_server_config: client_auth_type {client_auth:?} needs client_ca_file"
        ));
    }
    if !verifies && client_ca.is_some() {
        return Err(
            "tls_server_config: client_ca_file is set but client_auth_type does not \
                    verify client certificates (use RequireAndVerifyClientCert)"
                .into(),
        );
    }
    if !raw.client_allowed_sans.is_empty() {
        return Err(
            "tls_server_config.client_allowed_sans is not supported by this exporter".into(),
        );
    }
    let min_version = tls_version(raw.min_version.as_deref(), "min_version", TlsVersion::Tls12)?;
    let max_version = tls_version(raw.max_version.as_deref(), "max_version", TlsVersion::Tls13)?;
    if min_version > max_version {
        return Err("tls_server_config: min_version is above max_version".into());
    }
    for suite in &raw.cipher_suites {
        if !CIPHER_SUITES.contains(&suite.as_str()) {
            return Err(format!(
                "tls_server_config.cipher_suites: {suite:?} is not one of {}",
                CIPHER_SUITES.join(", ")
            ));
        }
    }
    let curves = raw
        .curve_preferences
        .iter()
        .map(|c| match c.as_str() {
            "X25519" => Ok(Curve::X25519),
            "CurveP256" => Ok(Curve::P256),
            "CurveP384" => Ok(Curve::P384),
            other => Err(format!(
                "tls_server_config.curve_preferences: {other:?} is not one of X25519, CurveP256, \
                 CurveP384"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TlsSettings {
        cert,
        key,
        client_ca,
        client_auth,
        min_version,
        max_version,
        cipher_suites: raw.cipher_suites,
        prefer_server_cipher_suites: raw.prefer_server_cipher_suites.unwrap_or(true),
        curves,
    })
}

fn tls_version(
    value: Option<&str>,
    field: &str,
    default: TlsVersion,
) -> Result<TlsVersion, String> {
    match value {
        None | Some("") => Ok(default),
        Some("TLS12") => Ok(TlsVersion::Tls12),
        Some("TLS13") => Ok(TlsVersion::Tls13),
        Some(old @ ("TLS10" | "TLS11")) => Err(format!(
            "tls_server_config.{field}: {old} is not supported (TLS 1.2 and 1.3 are)"
        )),
        Some(other) => Err(format!(
            "tls_server_config.{field}: {other:?} is not one of TLS12, TLS13"
        )),
    }
}

/// Checks the form of a bcrypt hash: `$2a$`, `$2b$` or `$2y$`, a cost of 04 to 31, then 53
/// characters of bcrypt's base64 (salt and digest).
pub fn check_bcrypt_hash(hash: &str) -> Result<(), String> {
    let bad = || {
        "not a bcrypt hash (expected $2y$NN$ and 53 characters, as htpasswd -nBC 10 prints)"
            .to_owned()
    };
    let rest = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|p| hash.strip_prefix(p))
        .ok_or_else(bad)?;
    let (cost, digest) = rest.split_once('$').ok_or_else(bad)?;
    let cost: u32 = cost.parse().map_err(|_| bad())?;
    if cost.to_string().len() > 2 || !(4..=31).contains(&cost) {
        return Err(bad());
    }
    if digest.len() != 53
        || !digest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
    {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const HASH: &str = "$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG";

    fn parsed(text: &str) -> Result<WebConfig, String> {
        parse(text, Path::new("/etc/web"))
    }

    #[test]
    fn an_empty_file_means_plain_http_without_authentication() {
        assert_eq!(parsed("").unwrap(), WebConfig::default());
        assert_eq!(parsed("{}\n").unwrap(), WebConfig::default());
    }

    #[test]
    fn a_full_configuration_is_read_with_files_relative_to_the_config() {
        let c = parsed(&format!(
            "tls_server_config:\n  cert_file: tls.crt\n  key_file: /abs/tls.key\n  \
             client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n  \
             min_version: TLS13\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n  \
             curve_preferences: [X25519, CurveP256]\n\
             http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n\
             basic_auth_users:\n  prometheus: '{HASH}'\n"
        ))
        .unwrap();
        let tls = c.tls.unwrap();
        assert_eq!(tls.cert, Pem::File("/etc/web/tls.crt".into()));
        assert_eq!(tls.key, Pem::File("/abs/tls.key".into()));
        assert_eq!(tls.client_ca, Some(Pem::File("/etc/web/ca.crt".into())));
        assert_eq!(tls.client_auth, ClientAuth::RequireAndVerifyClientCert);
        assert_eq!(
            (tls.min_version, tls.max_version),
            (TlsVersion::Tls13, TlsVersion::Tls13)
        );
        assert_eq!(tls.curves, [Curve::X25519, Curve::P256]);
        assert!(tls.prefer_server_cipher_suites);
        assert_eq!(c.users["prometheus"], HASH);
        assert_eq!(c.headers, [("X-Frame-Options".into(), "deny".into())]);
    }

    #[test]
    fn mistakes_are_refused_with_the_field_named() {
        for (text, says) in [
            ("tls_server_config:\n  key_file: k\n", "missing cert_file"),
            ("tls_server_config:\n  cert_file: c\n", "missing key_file"),
            ("tls_server_config:\n  cert_file: c\n  cert: x\n  key_file: k\n", "mutually exclusive"),
            ("tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: Maybe\n", "client_auth_type"),
            ("tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: RequireAndVerifyClientCert\n", "needs client_ca_file"),
            ("tls_server_config:\n  cert_file: c\n  key_file: k\n  client_ca_file: ca\n", "does not verify"),
            ("tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS10\n", "TLS10 is not supported"),
            ("tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS13\n  max_version: TLS12\n", "above max_version"),
            ("tls_server_config:\n  cert_file: c\n  key_file: k\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n", "cipher_suites"),
            ("tls_server_config:\n  cert_file: c\n  key_file: k\n  curve_preferences: [CurveP521]\n", "curve_preferences"),
            ("tls_server_config:\n  cert_file: c\n  key_file: k\n  client_allowed_sans: [a]\n", "client_allowed_sans"),
            ("basic_auth_users:\n  alice: plaintext\n", "basic_auth_users.alice: not a bcrypt hash"),
            ("http_server_config:\n  headers:\n    X-Powered-By: me\n", "is not one of"),
            ("http_server_config:\n  headers:\n    X-Frame-Options: allow\n", "must be one of"),
            ("rate_limit:\n  interval: 1s\n", "rate_limit is not supported"),
            ("tls_config:\n  cert_file: c\n", "tls_config"),
        ] {
            let err = parsed(text).unwrap_err();
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }

    #[test]
    fn bcrypt_hashes_are_recognised_by_their_form() {
        assert!(check_bcrypt_hash(HASH).is_ok());
        assert!(check_bcrypt_hash(&HASH.replace("$2y$", "$2b$")).is_ok());
        assert!(check_bcrypt_hash(&HASH.replace("$10$", "$03$")).is_err());
        assert!(check_bcrypt_hash(&HASH[..59]).is_err());
        assert!(check_bcrypt_hash("$1$abc").is_err());
    }
}

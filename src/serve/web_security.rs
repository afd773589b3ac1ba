//! TLS and basic authentication for the HTTP side, from `--web-config-file`: reads the file and
//! the certificate, key and client CA files it names, builds a rustls server configuration (the
//! rustls + ring kube-client already links), and re-reads all of them when any changes (checked
//! at most once a second, on a handshake or a request), so a certificate rotated by cert-manager
//! is served without a restart. A change that does not load keeps the last good configuration
//! and is logged. TLS cannot be switched on or off without a restart (the listener is set up
//! once); such a change is logged and ignored.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use crate::serve::basic_auth::BasicAuth;
use crate::serve::web_config::{self, ClientAuth, Curve, Pem, TlsSettings, TlsVersion, WebConfig};

/// How often the files are looked at for a change.
const RECHECK: Duration = Duration::from_secs(1);

/// What was loaded from the files.
struct Loaded {
    config: WebConfig,
    tls: Option<Arc<rustls::ServerConfig>>,
    auth: Option<Arc<BasicAuth>>,
    /// Size, modification time and inode of every file read, to notice a change.
    stamps: Vec<(PathBuf, Option<Stamp>)>,
    checked: Instant,
}

type Stamp = (u64, Option<SystemTime>, u64);

/// The web configuration in force, re-read when its files change.
pub struct WebSecurity {
    path: PathBuf,
    tls_at_start: bool,
    loaded: Mutex<Loaded>,
}

impl WebSecurity {
    /// Loads the web configuration file and everything it names; any error is returned with
    /// the file and field it concerns.
    pub fn load(path: &Path) -> Result<WebSecurity, String> {
        let loaded = load(path)?;
        Ok(WebSecurity {
            path: path.to_owned(),
            tls_at_start: loaded.tls.is_some(),
            loaded: Mutex::new(loaded),
        })
    }

    /// Whether the server speaks TLS.
    pub fn tls(&self) -> bool {
        self.tls_at_start
    }

    /// The current basic authentication, if users are configured.
    pub fn auth(&self) -> Option<Arc<BasicAuth>> {
        self.current(|l| l.auth.clone())
    }

    /// The extra response headers.
    pub fn headers(&self) -> Vec<(String, String)> {
        self.current(|l| l.config.headers.clone())
    }

    fn current<T>(&self, read: impl FnOnce(&Loaded) -> T) -> T {
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if loaded.checked.elapsed() >= RECHECK {
            loaded.checked = Instant::now();
            let changed = loaded
                .stamps
                .iter()
                .any(|(path, stamp)| stamp_of(path) != *stamp);
            if changed {
                match load(&self.path) {
                    Ok(fresh) if fresh.tls.is_some() != self.tls_at_start => {
                        log::warn!(
                            "web config: switching TLS on or off needs a restart; keeping the \
                             last configuration file={}",
                            self.path.display()
                        );
                        loaded.stamps = fresh.stamps;
                    }
                    Ok(fresh) => {
                        log::info!(
                            "web config reloaded (a file changed) file={}",
                            self.path.display()
                        );
                        *loaded = fresh;
                    }
                    Err(reason) => {
                        log::warn!(
                            "web config: a changed file does not load; keeping the last good \
                             configuration file={} error={reason}",
                            self.path.display()
                        );
                        // Not retried until a file changes again.
                        loaded.stamps = loaded
                            .stamps
                            .iter()
                            .map(|(path, _)| (path.clone(), stamp_of(path)))
                            .collect();
                    }
                }
            }
        }
        read(&loaded)
    }
}

impl tiny_http::Handshake for WebSecurity {
    fn accept(&self, socket: TcpStream) -> std::io::Result<Box<dyn tiny_http::Stream>> {
        let Some(config) = self.current(|l| l.tls.clone()) else {
            return Ok(Box::new(socket));
        };
        let session = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
        Ok(Box::new(rustls::StreamOwned::new(session, socket)))
    }
}

fn stamp_of(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok(), meta.ino()))
}

fn load(path: &Path) -> Result<Loaded, String> {
    let mut stamps = vec![(path.to_owned(), stamp_of(path))];
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    let config = web_config::parse(&text, base)?;
    let tls = match &config.tls {
        Some(settings) => {
            for pem in [
                Some(&settings.cert),
                Some(&settings.key),
                settings.client_ca.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                if let Pem::File(file) = pem {
                    stamps.push((file.clone(), stamp_of(file)));
                }
            }
            Some(Arc::new(server_config(settings)?))
        }
        None => None,
    };
    let auth = (!config.users.is_empty()).then(|| Arc::new(BasicAuth::new(config.users.clone())));
    Ok(Loaded {
        config,
        tls,
        auth,
        stamps,
        checked: Instant::now(),
    })
}

fn read_pem(pem: &Pem, what: &str) -> Result<Vec<u8>, String> {
    match pem {
        Pem::Inline(text) => Ok(text.clone().into_bytes()),
        Pem::File(path) => {
            std::fs::read(path).map_err(|e| format!("{what} {}: {e}", path.display()))
        }
    }
}

/// The rustls server configuration for validated TLS settings.
pub fn server_config(settings: &TlsSettings) -> Result<rustls::ServerConfig, String> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&read_pem(&settings.cert, "cert_file")?)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("cert_file: {e}"))?;
    if certs.is_empty() {
        return Err("cert_file: no certificate found".into());
    }
    let key = PrivateKeyDer::from_pem_slice(&read_pem(&settings.key, "key_file")?)
        .map_err(|e| format!("key_file: no private key found ({e})"))?;
    let provider = Arc::new(provider(settings));
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| (settings.min_version..=settings.max_version).contains(v))
    .map(|(_, v)| v)
    .collect();
    let verifier = client_verifier(settings, &provider)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| format!("cert_file and key_file: {e}"))?;
    config.ignore_client_order = settings.prefer_server_cipher_suites;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// ring's provider with the chosen TLS 1.2 suites and curves, in the chosen order.
fn provider(settings: &TlsSettings) -> CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    if !settings.cipher_suites.is_empty() {
        let rank = |suite: &rustls::SupportedCipherSuite| {
            let name = suite.suite().as_str().unwrap_or_default();
            settings.cipher_suites.iter().position(|s| s == name)
        };
        provider
            .cipher_suites
            .retain(|s| s.tls13().is_some() || rank(s).is_some());
        provider
            .cipher_suites
            .sort_by_key(|s| s.tls13().map_or(rank(s), |_| None));
    }
    if !settings.curves.is_empty() {
        use rustls::crypto::ring::kx_group;
        provider.kx_groups = settings
            .curves
            .iter()
            .map(|c| match c {
                Curve::X25519 => kx_group::X25519,
                Curve::P256 => kx_group::SECP256R1,
                Curve::P384 => kx_group::SECP384R1,
            })
            .collect();
    }
    provider
}

fn client_verifier(
    settings: &TlsSettings,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let roots = || -> Result<Arc<RootCertStore>, String> {
        let pem = settings
            .client_ca
            .as_ref()
            .ok_or("client_ca_file is required for this client_auth_type")?;
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&read_pem(pem, "client_ca_file")?) {
            let cert = cert.map_err(|e| format!("client_ca_file: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("client_ca_file: {e}"))?;
        }
        if roots.is_empty() {
            return Err("client_ca_file: no certificate found".into());
        }
        Ok(Arc::new(roots))
    };
    let webpki = |optional: bool| -> Result<Arc<dyn ClientCertVerifier>, String> {
        let builder = WebPkiClientVerifier::builder_with_provider(roots()?, provider.clone());
        let builder = if optional {
            builder.allow_unauthenticated()
        } else {
            builder
        };
        builder.build().map_err(|e| format!("client_ca_file: {e}"))
    };
    Ok(match settings.client_auth {
        ClientAuth::NoClientCert => WebPkiClientVerifier::no_client_auth(),
        ClientAuth::RequestClientCert => Arc::new(AnyClientCert {
            mandatory: false,
            provider: provider.clone(),
        }),
        ClientAuth::RequireAnyClientCert => Arc::new(AnyClientCert {
            mandatory: true,
            provider: provider.clone(),
        }),
        ClientAuth::VerifyClientCertIfGiven => webpki(true)?,
        ClientAuth::RequireAndVerifyClientCert => webpki(false)?,
    })
}

/// Go's `RequestClientCert` / `RequireAnyClientCert`: a client certificate is asked for (and
/// for the second, required) but not checked against any CA; the handshake signature is still
/// checked, so the client holds the certificate's key.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

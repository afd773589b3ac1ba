//! TLS and basic auth from `--web-config-file`, checked with real clients (`curl`, `openssl
//! s_client`) against the real exporter: the right password gets the metrics and a wrong one
//! 401 while the probes stay open; a required client certificate is enforced in the handshake;
//! a certificate replaced on disk is served without a restart; a broken web configuration stops
//! the exporter at start with the field named. Certificates come from a throwaway CA made with
//! `openssl`. Without curl or openssl the tests say so (CI installs both and fails instead).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{curl, have, small_cluster, wait_until, Exporter, Pki, Sim, TempDir};

fn hash(password: &str) -> String {
    bcrypt::hash_with_salt(password, 4, [3u8; 16])
        .unwrap()
        .format_for_version(bcrypt::Version::TwoY)
}

/// The simulator with the small cluster, and the exporter with `web` as its web configuration.
fn start(pki: &Pki, web: &str) -> (Sim, Exporter, TempDir) {
    let dir = TempDir::new("tls");
    let scenario = dir.path("scenario.json");
    std::fs::write(&scenario, small_cluster().to_string()).unwrap();
    let sim = Sim::start(&["--scenario", scenario.to_str().unwrap()]);
    let config = pki.dir.path("web.yml");
    std::fs::write(&config, web).unwrap();
    let exporter = Exporter::start(
        &sim.kubeconfig,
        &["--web-config-file", config.to_str().unwrap()],
    );
    (sim, exporter, dir)
}

fn url(exporter: &Exporter, path: &str) -> String {
    format!("https://{}{path}", exporter.addr)
}

#[test]
fn the_right_password_gets_the_metrics_a_wrong_one_401_and_probes_stay_open() {
    if !have("curl") || !have("openssl") {
        return;
    }
    let pki = Pki::new();
    let (_sim, exporter, _dir) = start(
        &pki,
        &format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n\
             basic_auth_users:\n  prometheus: '{}'\n",
            hash("s3cret")
        ),
    );
    let ca = pki.path("ca.crt");
    let ready = wait_until(Duration::from_secs(30), || {
        curl(&["--cacert", &ca, &url(&exporter, "/readyz")]).1 == 200
    });
    assert!(ready, "not ready over TLS: {}", exporter.stderr.text());
    // The probes need no credentials.
    assert_eq!(curl(&["--cacert", &ca, &url(&exporter, "/healthz")]).1, 200);
    let (_, status, body) = curl(&[
        "--cacert",
        &ca,
        "-u",
        "prometheus:s3cret",
        &url(&exporter, "/metrics"),
    ]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("binpacking_cluster_nodes 3"), "{body}");
    for credentials in [
        &["-u", "prometheus:wrong"][..],
        &["-u", "nobody:s3cret"],
        &[],
    ] {
        let mut args = vec!["--cacert", ca.as_str()];
        args.extend_from_slice(credentials);
        let target = url(&exporter, "/metrics");
        args.push(&target);
        let (_, status, body) = curl(&args);
        assert_eq!(status, 401, "{credentials:?}: {body}");
        assert!(!body.contains("binpacking_"), "{body}");
    }
    // Every other path needs the password too.
    assert_eq!(curl(&["--cacert", &ca, &url(&exporter, "/sync")]).1, 401);
    // Plain HTTP on the TLS port gets no answer.
    let (_, status, _) = curl(&[&format!("http://{}/healthz", exporter.addr)]);
    assert_ne!(status, 200);
}

#[test]
fn a_required_client_certificate_is_enforced_in_the_handshake() {
    if !have("curl") || !have("openssl") {
        return;
    }
    let pki = Pki::new();
    let (_sim, exporter, _dir) = start(
        &pki,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n",
    );
    let ca = pki.path("ca.crt");
    let (cert, key) = (pki.path("client.crt"), pki.path("client.key"));
    let with_cert = |path: &str| {
        curl(&[
            "--cacert",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
            &url(&exporter, path),
        ])
    };
    assert!(wait_until(Duration::from_secs(30), || with_cert("/readyz")
        .1
        == 200));
    let (_, status, body) = with_cert("/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("binpacking_cluster_nodes 3"));
    // Without a certificate the handshake fails: no HTTP status at all, also for the probes.
    let (code, status, _) = curl(&["--cacert", &ca, &url(&exporter, "/healthz")]);
    assert_eq!(status, 0);
    assert_ne!(code, 0);
    // A certificate from another CA fails the same way.
    let stranger = Pki::new();
    let (code, status, _) = curl(&[
        "--cacert",
        &ca,
        "--cert",
        &stranger.path("client.crt"),
        "--key",
        &stranger.path("client.key"),
        &url(&exporter, "/healthz"),
    ]);
    assert_eq!((status, code != 0), (0, true));
}

/// The subject of the certificate the server presents, read with `openssl s_client`.
fn served_subject(addr: &str) -> String {
    let shown = Command::new("openssl")
        .args(["s_client", "-connect", addr, "-servername", "localhost"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-subject"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    x509.stdin.take().unwrap().write_all(&shown.stdout).unwrap();
    String::from_utf8_lossy(&x509.wait_with_output().unwrap().stdout).into_owned()
}

#[test]
fn a_rotated_certificate_is_served_without_a_restart() {
    if !have("curl") || !have("openssl") {
        return;
    }
    let pki = Pki::new();
    let (_sim, mut exporter, _dir) = start(
        &pki,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    );
    assert!(served_subject(&exporter.addr).contains("server-1"));
    pki.issue(
        "server",
        "server-2",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    );
    let rotated = wait_until(Duration::from_secs(15), || {
        served_subject(&exporter.addr).contains("server-2")
    });
    assert!(rotated, "still serving {}", served_subject(&exporter.addr));
    assert_eq!(
        curl(&["--cacert", &pki.path("ca.crt"), &url(&exporter, "/healthz")]).1,
        200
    );
    assert!(exporter.alive(), "the exporter restarted or exited");
    assert!(exporter.stderr.text().contains("web config reloaded"));
}

#[test]
fn a_broken_web_configuration_stops_the_exporter_at_start_naming_the_field() {
    let dir = TempDir::new("web-bad");
    for (text, says) in [
        (
            "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n",
            "missing.crt",
        ),
        (
            "basic_auth_users:\n  alice: plaintext\n",
            "basic_auth_users.alice",
        ),
        ("tls_server_config:\n  cert_file: a\n", "missing key_file"),
    ] {
        let path = dir.path("web.yml");
        std::fs::write(&path, text).unwrap();
        let out = Command::new(common::exporter_bin())
            .args([
                "--kubeconfig",
                "/nonexistent",
                "--web-config-file",
                path.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("web config") && stderr.contains(says),
            "{stderr}"
        );
    }
}

//! The install manifests: each parses into its typed k8s-openapi struct without losing a field
//! (so a misspelled or unknown field fails), probes and ports match the server, RBAC grants only
//! list/watch on nodes and pods, the security context is locked down, the container arguments are
//! accepted by the exporter's own flag parser, and `kubectl kustomize` renders the set.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube_cluster_binpacking_exporter::cli::Flags;
use kube_cluster_binpacking_exporter::config::Config;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Parses into `T` and back; every field of the file must survive the round trip.
fn typed<T: DeserializeOwned + Serialize>(path: &str) -> T {
    let original = yaml(path);
    let parsed: T =
        serde_json::from_value(original.clone()).unwrap_or_else(|e| panic!("{path}: {e}"));
    let back = serde_json::to_value(&parsed).unwrap();
    let mut lost = Vec::new();
    missing_fields(&original, &back, "", &mut lost);
    assert!(
        lost.is_empty(),
        "{path}: unknown or misspelled fields {lost:?}"
    );
    parsed
}

fn missing_fields(original: &Value, back: &Value, at: &str, lost: &mut Vec<String>) {
    match (original, back) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let path = format!("{at}.{k}");
                match b.get(k) {
                    Some(w) => missing_fields(v, w, &path, lost),
                    None => lost.push(path),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                missing_fields(v, w, &format!("{at}[{i}]"), lost);
            }
        }
        _ => {}
    }
}

fn first_container(d: &Deployment) -> &k8s_openapi::api::core::v1::Container {
    &d.spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
}

fn kustomization_resources() -> Vec<String> {
    yaml("manifests/Kustomization")["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_manifest_is_a_typed_object_without_unknown_fields() {
    let _: Namespace = typed("manifests/namespace.yaml");
    let _: ServiceAccount = typed("manifests/serviceaccount.yaml");
    let _: ClusterRole = typed("manifests/clusterrole.yaml");
    let _: ClusterRoleBinding = typed("manifests/clusterrolebinding.yaml");
    let _: Deployment = typed("manifests/deployment.yaml");
    let _: Service = typed("manifests/service.yaml");
    let _: NetworkPolicy = typed("manifests/networkpolicy/networkpolicy.yaml");
    let mut files: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| Path::new(n).extension().is_some_and(|e| e == "yaml"))
            .collect();
    files.sort();
    let mut listed = kustomization_resources();
    listed.sort();
    assert_eq!(
        files, listed,
        "the Kustomization lists every manifest of the folder"
    );
}

#[test]
fn rbac_grants_only_list_and_watch_on_nodes_and_pods() {
    let role: ClusterRole = typed("manifests/clusterrole.yaml");
    let rules = role.rules.unwrap();
    assert_eq!(rules.len(), 1);
    let only = &rules[0];
    assert_eq!(only.api_groups.as_deref(), Some(&[String::new()][..]));
    assert_eq!(
        only.resources.as_deref(),
        Some(&["nodes".to_owned(), "pods".to_owned()][..])
    );
    assert_eq!(only.verbs, ["list", "watch"]);
    assert!(only.resource_names.is_none() && only.non_resource_urls.is_none());
    let binding: ClusterRoleBinding = typed("manifests/clusterrolebinding.yaml");
    let sa: ServiceAccount = typed("manifests/serviceaccount.yaml");
    assert_eq!(binding.role_ref.name, role.metadata.name.unwrap());
    let subject = &binding.subjects.unwrap()[0];
    assert_eq!(subject.kind, "ServiceAccount");
    assert_eq!(Some(&subject.name), sa.metadata.name.as_ref());
    assert_eq!(subject.namespace, sa.metadata.namespace);
}

#[test]
fn deployment_probes_ports_args_and_security_match_the_server() {
    let d: Deployment = typed("manifests/deployment.yaml");
    let spec = d.spec.unwrap();
    assert_eq!(spec.replicas, Some(1));
    let pod = spec.template.spec.unwrap();
    let sa: ServiceAccount = typed("manifests/serviceaccount.yaml");
    assert_eq!(pod.service_account_name, sa.metadata.name);
    let psc = pod.security_context.unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.run_as_user, Some(65532));
    assert_eq!(psc.seccomp_profile.unwrap().type_, "RuntimeDefault");
    assert_eq!(pod.containers.len(), 1);
    let c = &pod.containers[0];

    let args = kube_cluster_binpacking_exporter::cli::split_flag_values(c.args.as_ref().unwrap());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let flags: Flags = argh::FromArgs::from_args(&["exporter"], &args).expect("args parse");
    let config = Config::from_flags(&flags).expect("args validate");
    let port = c
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .find(|p| p.name.as_deref() == Some("metrics"))
        .unwrap();
    assert_eq!(i32::from(config.metrics_addr.port()), port.container_port);

    for (probe, path) in [
        (&c.liveness_probe, "/healthz"),
        (&c.readiness_probe, "/readyz"),
    ] {
        let get = probe.as_ref().unwrap().http_get.as_ref().unwrap();
        assert_eq!(get.path.as_deref(), Some(path));
        assert_eq!(
            serde_json::to_value(&get.port).unwrap(),
            serde_json::json!("metrics")
        );
    }
    let resources = c.resources.as_ref().unwrap();
    assert!(resources.requests.as_ref().unwrap().contains_key("memory"));
    assert!(resources.limits.as_ref().unwrap().contains_key("memory"));

    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.run_as_user, Some(65532));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        sc.capabilities.as_ref().unwrap().drop.as_deref(),
        Some(&["ALL".to_owned()][..])
    );
    assert!(sc.capabilities.as_ref().unwrap().add.is_none());
    assert_eq!(sc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
}

#[test]
fn service_and_service_monitor_point_at_the_metrics_port() {
    let s: Service = typed("manifests/service.yaml");
    let annotations = s.metadata.annotations.unwrap();
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/port"], "9101");
    assert_eq!(annotations["prometheus.io/path"], "/metrics");
    let spec = s.spec.unwrap();
    let port = &spec.ports.unwrap()[0];
    assert_eq!(port.port, 9101);
    assert_eq!(
        serde_json::to_value(&port.target_port).unwrap(),
        serde_json::json!("metrics")
    );
    let d: Deployment = typed("manifests/deployment.yaml");
    let pod_labels = d.spec.unwrap().template.metadata.unwrap().labels.unwrap();
    for (k, v) in spec.selector.unwrap() {
        assert_eq!(pod_labels.get(&k), Some(&v), "service selector {k}");
    }
    let sm = yaml("manifests/servicemonitor/servicemonitor.yaml");
    assert_eq!(sm["kind"], "ServiceMonitor");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
    let service_labels = s.metadata.labels.unwrap();
    for (k, v) in sm["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(service_labels.get(k).map(String::as_str), v.as_str());
    }
}

#[test]
fn the_ha_variant_adds_only_lease_rights_and_leader_election() {
    let role: k8s_openapi::api::rbac::v1::Role = typed("manifests/ha/role.yaml");
    let rules = role.rules.unwrap();
    assert_eq!(rules.len(), 2);
    for rule in &rules {
        assert_eq!(
            rule.api_groups.as_deref(),
            Some(&["coordination.k8s.io".to_owned()][..])
        );
        assert_eq!(rule.resources.as_deref(), Some(&["leases".to_owned()][..]));
    }
    // Reading and renewing are limited to the exporter's own Lease (the default name).
    let default_lease = Config::from_flags(
        &argh::FromArgs::from_args(&["exporter"], &["--leader-election"]).unwrap(),
    )
    .unwrap()
    .leader_election
    .unwrap()
    .lease_name;
    assert_eq!(rules[0].verbs, ["get", "update"]);
    assert_eq!(
        rules[0].resource_names.as_deref(),
        Some(&[default_lease][..])
    );
    assert_eq!(rules[1].verbs, ["create"]);
    assert!(rules[1].resource_names.is_none());
    let binding: k8s_openapi::api::rbac::v1::RoleBinding = typed("manifests/ha/rolebinding.yaml");
    assert_eq!(binding.role_ref.name, role.metadata.name.unwrap());
    assert_eq!(binding.subjects.unwrap()[0].name, "binpacking-exporter");

    let base: Deployment = typed("manifests/deployment.yaml");
    let ha: Deployment = typed("manifests/ha/deployment.yaml");
    assert_eq!(ha.spec.as_ref().unwrap().replicas, Some(2));
    let base_c = first_container(&base);
    let ha_c = first_container(&ha);
    let args = ha_c.args.clone().unwrap();
    assert!(args.contains(&"--leader-election".to_owned()));
    let parsed = kube_cluster_binpacking_exporter::cli::split_flag_values(&args);
    let parsed: Vec<&str> = parsed.iter().map(String::as_str).collect();
    let flags: Flags = argh::FromArgs::from_args(&["exporter"], &parsed).unwrap();
    assert!(Config::from_flags(&flags)
        .unwrap()
        .leader_election
        .is_some());
    // Everything else equals the base Deployment.
    let mut same = ha_c.clone();
    same.args.clone_from(&base_c.args);
    same.env = None;
    assert_eq!(&same, base_c);
}

#[test]
fn the_dra_variant_adds_only_list_and_watch_on_the_three_dra_resources() {
    let role: ClusterRole = typed("manifests/dra/clusterrole.yaml");
    let rules = role.rules.unwrap();
    assert_eq!(rules.len(), 1);
    let only = &rules[0];
    assert_eq!(
        only.api_groups.as_deref(),
        Some(&["resource.k8s.io".to_owned()][..])
    );
    let resources: Vec<&str> = only
        .resources
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    assert_eq!(
        resources,
        ["resourceslices", "resourceclaims", "deviceclasses"]
    );
    assert_eq!(only.verbs, ["list", "watch"]);
    assert!(only.resource_names.is_none() && only.non_resource_urls.is_none());
    let binding: ClusterRoleBinding = typed("manifests/dra/clusterrolebinding.yaml");
    let base_binding: ClusterRoleBinding = typed("manifests/clusterrolebinding.yaml");
    assert_eq!(binding.role_ref.name, role.metadata.name.unwrap());
    assert_eq!(binding.subjects, base_binding.subjects);
    // The exporter's own sentence for a refusal names this file.
    let watch = include_str!("../src/ingest/watch.rs");
    assert!(watch.contains("manifests/dra/clusterrole.yaml"));
}

#[test]
fn the_usage_variant_adds_only_metrics_api_list_rights_and_usage() {
    let role: ClusterRole = typed("manifests/usage/clusterrole.yaml");
    let rules = role.rules.unwrap();
    assert_eq!(rules.len(), 1);
    let only = &rules[0];
    assert_eq!(
        only.api_groups.as_deref(),
        Some(&["metrics.k8s.io".to_owned()][..])
    );
    assert_eq!(
        only.resources.as_deref(),
        Some(&["nodes".to_owned(), "pods".to_owned()][..])
    );
    assert_eq!(only.verbs, ["list"]);
    assert!(only.resource_names.is_none() && only.non_resource_urls.is_none());
    let binding: ClusterRoleBinding = typed("manifests/usage/clusterrolebinding.yaml");
    let base_binding: ClusterRoleBinding = typed("manifests/clusterrolebinding.yaml");
    assert_eq!(binding.role_ref.name, role.metadata.name.unwrap());
    assert_eq!(binding.subjects, base_binding.subjects);

    let base: Deployment = typed("manifests/deployment.yaml");
    let usage: Deployment = typed("manifests/usage/deployment.yaml");
    let c = first_container(&usage);
    let args = kube_cluster_binpacking_exporter::cli::split_flag_values(c.args.as_ref().unwrap());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let flags: Flags = argh::FromArgs::from_args(&["exporter"], &args).unwrap();
    assert!(Config::from_flags(&flags).unwrap().usage.is_some());
    // Everything else equals the base Deployment.
    let mut same = c.clone();
    same.args.clone_from(&first_container(&base).args);
    assert_eq!(&same, first_container(&base));
    assert_eq!(
        usage.spec.as_ref().unwrap().replicas,
        base.spec.as_ref().unwrap().replicas
    );
}

#[test]
fn the_tls_variant_serves_https_and_its_probes_need_no_password() {
    use k8s_openapi::api::core::v1::Secret;
    let secret: Secret = typed("manifests/tls/web-config.yaml");
    let web = &secret.string_data.as_ref().unwrap()["web.yml"];
    let config =
        kube_cluster_binpacking_exporter::serve::web_config::parse(web, Path::new("/")).unwrap();
    assert!(config.users.contains_key("prometheus"));
    let tls = config.tls.unwrap();
    let tls_d: Deployment = typed("manifests/tls/deployment.yaml");
    let c = first_container(&tls_d);
    let args = kube_cluster_binpacking_exporter::cli::split_flag_values(c.args.as_ref().unwrap());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let flags: Flags = argh::FromArgs::from_args(&["exporter"], &args).unwrap();
    let web_file = Config::from_flags(&flags).unwrap().web_config_file.unwrap();
    // Every file the exporter reads is in a mounted Secret.
    let pod = tls_d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let mounted = |file: &Path| {
        c.volume_mounts.as_ref().unwrap().iter().any(|m| {
            file.starts_with(&m.mount_path)
                && pod.volumes.as_ref().unwrap().iter().any(|v| {
                    v.name == m.name && v.secret.as_ref().is_some_and(|s| s.secret_name.is_some())
                })
        })
    };
    assert!(mounted(&web_file));
    for pem in [&tls.cert, &tls.key] {
        let kube_cluster_binpacking_exporter::serve::web_config::Pem::File(file) = pem else {
            panic!("inline PEM in the manifest");
        };
        assert!(mounted(file), "{} is not mounted", file.display());
    }
    // The probes speak HTTPS to paths that need no password.
    for (probe, path) in [
        (&c.liveness_probe, "/healthz"),
        (&c.readiness_probe, "/readyz"),
    ] {
        let get = probe.as_ref().unwrap().http_get.as_ref().unwrap();
        assert_eq!(get.scheme.as_deref(), Some("HTTPS"));
        assert_eq!(get.path.as_deref(), Some(path));
    }
    // Everything else equals the base Deployment.
    let base: Deployment = typed("manifests/deployment.yaml");
    let mut same = c.clone();
    same.args.clone_from(&first_container(&base).args);
    same.volume_mounts = None;
    for probe in [&mut same.liveness_probe, &mut same.readiness_probe] {
        probe.as_mut().unwrap().http_get.as_mut().unwrap().scheme = None;
    }
    assert_eq!(&same, first_container(&base));
}

#[test]
fn kubectl_kustomize_renders_the_manifests() {
    let Ok(out) = std::process::Command::new("kubectl")
        .args(["kustomize", "manifests"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "kubectl is required in CI"
        );
        eprintln!("SKIPPED: kubectl not installed");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for variant in [
        "manifests/ha",
        "manifests/tls",
        "manifests/usage",
        "manifests/dra",
    ] {
        let rendered = std::process::Command::new("kubectl")
            .args(["kustomize", variant])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(
            rendered.status.success(),
            "{variant}: {}",
            String::from_utf8_lossy(&rendered.stderr)
        );
    }
    let docs: Vec<Value> = serde_saphyr::from_str_multiple(&text).unwrap();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
}

//! The PrometheusRule for operator users carries exactly the rules of the plain rules file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

#[test]
fn the_prometheus_rule_matches_the_plain_rules() {
    let plain = yaml("alerts/binpacking-rules.yaml");
    let operator = yaml("alerts/prometheusrule.yaml");
    assert_eq!(operator["kind"], "PrometheusRule");
    assert_eq!(
        operator["spec"]["groups"], plain["groups"],
        "run `make alerts`"
    );
    let alerts: Vec<&str> = plain["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["alert"].as_str().unwrap())
        .collect();
    let tests = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts/binpacking-rules.test.yaml"),
    )
    .unwrap();
    for alert in alerts {
        assert!(
            tests.matches(&format!("alertname: {alert}")).count() >= 2,
            "{alert} needs firing and silent tests"
        );
    }
}

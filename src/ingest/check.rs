//! `--check`: a connectivity and permission diagnosis. Loads the kubeconfig, asks the API server
//! for its version, and confirms that nodes and pods can be listed and watched, printing one line
//! per step. The caller exits 0 when every step passed, 1 otherwise.

use futures::StreamExt;
use kube::api::{ListParams, WatchParams};
use kube::{Api, Client};

use crate::error::error_chain;
use crate::ingest::objects::{set_pod_accounting, SlimNode, SlimPod};
use crate::model::accounting::AccountingOptions;
use crate::model::resources::TrackedResources;

/// One step of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What was checked.
    pub what: String,
    /// `Ok(detail)` or `Err(reason)`.
    pub outcome: Result<String, String>,
}

impl Step {
    fn line(&self) -> String {
        match &self.outcome {
            Ok(detail) => format!("ok    {}: {detail}", self.what),
            Err(reason) => format!("FAIL  {}: {reason}", self.what),
        }
    }
}

/// Runs every step against the API server behind `client`.
pub async fn run(client: Client, source: &str, server: &str) -> Vec<Step> {
    let mut steps = vec![Step {
        what: "kubeconfig".into(),
        outcome: Ok(format!("{source} (server {server})")),
    }];
    let version = client.apiserver_version().await;
    let reachable = version.is_ok();
    steps.push(Step {
        what: "api server".into(),
        outcome: version
            .map(|v| format!("version {}", v.git_version))
            .map_err(|e| format!("not reachable: {}", error_chain(&e))),
    });
    if !reachable {
        return steps;
    }
    let nodes: Api<SlimNode> = Api::all(client.clone());
    let pods: Api<SlimPod> = Api::all(client);
    // Listed pods are decoded and accounted as the watch does it (a pod that cannot be decoded
    // fails the step); the figures themselves are not shown, so any resources and gates do.
    if let Ok(tracked) = TrackedResources::new(["cpu", "memory", "pods"]) {
        set_pod_accounting(&tracked, AccountingOptions::ALL);
    }
    steps.push(list_step(
        "list nodes",
        nodes.list(&ListParams::default().limit(1)).await,
    ));
    steps.push(watch_step("watch nodes", &nodes).await);
    steps.push(list_step(
        "list pods",
        pods.list(&ListParams::default().limit(1)).await,
    ));
    steps.push(watch_step("watch pods", &pods).await);
    steps
}

fn list_step<K>(what: &str, result: kube::Result<kube::api::ObjectList<K>>) -> Step
where
    K: Clone,
{
    Step {
        what: what.into(),
        outcome: result
            .map(|list| {
                let more = list
                    .metadata
                    .continue_
                    .as_deref()
                    .is_some_and(|c| !c.is_empty());
                format!(
                    "permitted ({}{} seen)",
                    list.items.len(),
                    if more { "+" } else { "" }
                )
            })
            .map_err(|e| describe(&e)),
    }
}

async fn watch_step<K>(what: &str, api: &Api<K>) -> Step
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let outcome = match api.watch(&WatchParams::default().timeout(1), "0").await {
        Ok(stream) => match stream.boxed().next().await {
            Some(Err(e)) => Err(describe(&e)),
            _ => Ok("permitted".into()),
        },
        Err(e) => Err(describe(&e)),
    };
    Step {
        what: what.into(),
        outcome,
    }
}

fn describe(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if status.code == 403 => {
            format!(
                "forbidden (RBAC must grant list and watch on nodes and pods): {}",
                status.message
            )
        }
        other => error_chain(other),
    }
}

/// The printed report and whether every step passed.
pub fn report(steps: &[Step]) -> (String, bool) {
    let mut out = String::new();
    for step in steps {
        out.push_str(&step.line());
        out.push('\n');
    }
    let ok = steps.iter().all(|s| s.outcome.is_ok()) && steps.len() >= 6;
    out.push_str(if ok {
        "check passed: the exporter can run with this configuration\n"
    } else {
        "check failed\n"
    });
    (out, ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_passes_only_when_every_step_ran_and_passed() {
        let ok = |w: &str| Step {
            what: w.into(),
            outcome: Ok("fine".into()),
        };
        let all: Vec<Step> = [
            "kubeconfig",
            "api server",
            "list nodes",
            "watch nodes",
            "list pods",
            "watch pods",
        ]
        .iter()
        .map(|w| ok(w))
        .collect();
        assert!(report(&all).1);
        assert!(!report(&all[..2]).1, "stopping early is a failure");
        let mut denied = all.clone();
        denied[4].outcome = Err("forbidden".into());
        let (text, passed) = report(&denied);
        assert!(!passed);
        assert!(text.contains("FAIL  list pods: forbidden"));
    }
}

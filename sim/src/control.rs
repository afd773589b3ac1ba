//! The control interface (its own loopback listener, JSON): apply and delete objects, mutate pods,
//! switch faults, read the request log and the state, run churn. Tests and demos drive the
//! simulator through these routes; their paths are a contract (see README.md).
//!
//! It flips switches and writes the store; it does not answer Kubernetes API requests (`api.rs`
//! does) and holds no state of its own beyond the UID generator.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::churn::{set_phase, Churn};
use crate::clock::{now_unix, rfc3339};
use crate::faults::{ClientFault, Faults};
use crate::http::{Exchange, Handler, Part, Request, Response, Server};
use crate::metrics_api::{MetricsApi, Mode};
use crate::object::{fill_identity, object_key, Kind};
use crate::request_log::RequestLog;
use crate::rng::Rng;
use crate::store::{MutateError, Store};

/// The control handler.
pub struct Control {
    /// The objects.
    pub store: Arc<Store>,
    /// Fault switches.
    pub faults: Arc<Faults>,
    /// The API request log.
    pub requests: Arc<RequestLog>,
    /// The API listener (for `refuse`).
    pub api_server: Arc<Server>,
    /// Open watch streams.
    pub open_watches: Arc<AtomicUsize>,
    /// The resource metrics API's switch.
    pub metrics: Arc<MetricsApi>,
    /// Whether the DRA API (`resource.k8s.io/v1`) is served.
    pub dra: Arc<AtomicBool>,
    /// Churn switch.
    pub churn: Arc<Churn>,
    /// UIDs for posted objects without one (deterministic from the seed).
    pub uids: Mutex<Rng>,
}

fn reply(status: u16, body: &Value) -> Response {
    Response::json(status, serde_json::to_vec(body).unwrap_or_default())
}

fn error(status: u16, message: &str) -> Response {
    reply(status, &json!({"error": message}))
}

fn rv_reply(rv: u64) -> Response {
    reply(200, &json!({"resourceVersion": rv.to_string()}))
}

impl Control {
    fn new_uid(&self) -> String {
        self.uids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .uuid()
    }

    fn apply(&self, body: &[u8]) -> Response {
        let value: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return error(400, &format!("body is not JSON: {e}")),
        };
        let items = if value
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"))
        {
            value
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        } else {
            vec![value]
        };
        let now = rfc3339(now_unix());
        let mut last = None;
        for mut item in items {
            fill_identity(&mut item, || self.new_uid(), &now);
            match self.store.upsert(item) {
                Ok(rv) => last = Some(rv),
                Err(e) => return error(400, &e),
            }
        }
        rv_reply(last.unwrap_or_else(|| self.store.current_rv()))
    }

    fn mutate_pod(&self, ns: &str, name: &str, change: impl FnOnce(&mut Value)) -> Response {
        match self
            .store
            .mutate(Kind::Pod, &object_key(Kind::Pod, ns, name), change)
        {
            Ok(rv) => rv_reply(rv),
            Err(MutateError::NotFound) => error(404, &format!("pod {ns}/{name} not found")),
            Err(MutateError::Invalid(e)) => error(400, &e),
        }
    }

    fn objects(&self) -> Response {
        let mut body = vec![Part::Owned(b"{\"kind\":\"List\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"\"},\"items\":[".to_vec())];
        let mut first = true;
        for kind in Kind::ALL {
            for obj in self.store.all(kind) {
                if !first {
                    body.push(Part::Static(b","));
                }
                first = false;
                body.push(Part::Shared(obj));
            }
        }
        body.push(Part::Static(b"]}"));
        Response {
            status: 200,
            headers: vec![("Content-Type", "application/json".into())],
            body,
        }
    }

    fn route(&self, req: &Request) -> Response {
        let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
        let param = |name: &str| req.param(name).unwrap_or("");
        let number = |name: &str| param(name).parse::<u64>().ok();
        match (req.method.as_str(), segments.as_slice()) {
            ("POST", ["objects"]) => self.apply(&req.body),
            ("GET", ["objects"]) => self.objects(),
            ("DELETE", ["objects", "nodes", name]) => match self.store.delete(Kind::Node, name) {
                Some(rv) => rv_reply(rv),
                None => error(404, &format!("node {name} not found")),
            },
            ("DELETE", ["objects", "pods", ns, name]) => match self
                .store
                .delete(Kind::Pod, &object_key(Kind::Pod, ns, name))
            {
                Some(rv) => rv_reply(rv),
                None => error(404, &format!("pod {ns}/{name} not found")),
            },
            ("DELETE", ["objects", "resourceclaims", ns, name]) => match self.store.delete(
                Kind::ResourceClaim,
                &object_key(Kind::ResourceClaim, ns, name),
            ) {
                Some(rv) => rv_reply(rv),
                None => error(404, &format!("resourceclaim {ns}/{name} not found")),
            },
            ("DELETE", ["objects", resource @ ("resourceslices" | "deviceclasses"), name]) => {
                let kind = Kind::from_resource(resource).unwrap_or(Kind::ResourceSlice);
                match self.store.delete(kind, name) {
                    Some(rv) => rv_reply(rv),
                    None => error(404, &format!("{resource} {name} not found")),
                }
            }
            ("POST", ["dra-api"]) => {
                let on = match param("mode") {
                    "on" => true,
                    "off" => false,
                    _ => return error(400, "mode must be on or off"),
                };
                self.dra.store(on, Ordering::Relaxed);
                reply(200, &json!({"mode": param("mode")}))
            }
            ("POST", ["dra", "republish"]) => {
                let (driver, pool) = (param("driver"), param("pool"));
                if driver.is_empty() || pool.is_empty() {
                    return error(400, "driver and pool are required");
                }
                match self.churn.republish(driver, pool) {
                    Ok(Some(generation)) => reply(
                        200,
                        &json!({"driver": driver, "pool": pool, "generation": generation, "resourceVersion": self.store.current_rv().to_string()}),
                    ),
                    Ok(None) => error(404, &format!("no pool {pool} of driver {driver}")),
                    Err(e) => error(500, &e),
                }
            }
            ("POST", ["pods", ns, name, "phase"]) => {
                let phase = param("phase");
                if !matches!(
                    phase,
                    "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown"
                ) {
                    return error(
                        400,
                        "phase must be Pending, Running, Succeeded, Failed or Unknown",
                    );
                }
                self.mutate_pod(ns, name, |v| set_phase(v, phase, &rfc3339(now_unix())))
            }
            ("POST", ["pods", ns, name, "bind"]) => {
                let node = param("node");
                self.mutate_pod(ns, name, |v| {
                    if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
                        if node.is_empty() {
                            spec.remove("nodeName");
                        } else {
                            spec.insert("nodeName".into(), json!(node));
                        }
                    }
                })
            }
            ("POST", ["faults", "close-watches"]) => {
                self.store.close_watches();
                reply(200, &json!({"closed": true}))
            }
            ("POST", ["faults", "errors"]) => {
                let (Some(status), Some(count)) = (number("status"), number("count")) else {
                    return error(400, "status and count are required integers");
                };
                let Ok(status) = u16::try_from(status) else {
                    return error(400, "status out of range");
                };
                if !(400..600).contains(&status) {
                    return error(400, "status must be 4xx or 5xx");
                }
                self.faults.set_errors(status, count, number("retry_after"));
                reply(200, &json!({"status": status, "count": count}))
            }
            ("POST", ["faults", "client"]) => {
                let token = param("token");
                if token.is_empty() {
                    return error(400, "token is required (the client's bearer token)");
                }
                let fault = match param("mode") {
                    "hang" => Some(ClientFault::Hang(
                        Some(param("resource").to_owned()).filter(|r| !r.is_empty()),
                    )),
                    "cut" => Some(ClientFault::Cut),
                    "clear" => None,
                    _ => return error(400, "mode must be hang, cut or clear"),
                };
                self.faults.set_client_fault(token, fault);
                reply(200, &json!({"token": token, "mode": param("mode")}))
            }
            ("POST", ["metrics-api"]) => {
                let mode = match param("mode") {
                    "on" => Mode::On,
                    "off" => Mode::Off,
                    "stale" => Mode::Stale,
                    _ => return error(400, "mode must be on, off or stale"),
                };
                self.metrics.set_mode(mode);
                reply(200, &json!({"mode": param("mode")}))
            }
            ("POST", ["version"]) => {
                let Some(minor) = number("minor").filter(|m| (20..=99).contains(m)) else {
                    return error(400, "minor is a required integer between 20 and 99");
                };
                self.faults.set_server_minor(minor);
                reply(200, &json!({"minor": minor}))
            }
            ("POST", ["faults", "latency"]) => {
                let Some(ms) = number("ms") else {
                    return error(400, "ms is a required integer");
                };
                self.faults.set_latency(ms);
                reply(200, &json!({"ms": ms}))
            }
            ("POST", ["faults", "compact"]) => {
                let http = match param("mode") {
                    "" | "event" => false,
                    "http" => true,
                    _ => return error(400, "mode must be event or http"),
                };
                self.faults.set_compact_as_http(http);
                self.store.compact();
                reply(
                    200,
                    &json!({"resourceVersion": self.store.current_rv().to_string(), "mode": if http { "http" } else { "event" }}),
                )
            }
            ("POST", ["faults", "refuse"]) => {
                let Some(secs) = param("seconds")
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 3600.0)
                else {
                    return error(400, "seconds must be a number between 0 and 3600");
                };
                self.api_server.refuse(Duration::from_secs_f64(secs));
                reply(200, &json!({"refusing_seconds": secs}))
            }
            ("POST", ["faults", verb @ ("deny" | "allow")]) => {
                let resource = param("resource");
                if Kind::from_resource(resource).is_none()
                    && !matches!(resource, "leases" | "metrics")
                {
                    return error(
                        400,
                        "resource must be pods, nodes, resourceslices, resourceclaims, deviceclasses, leases or metrics (metrics.k8s.io)",
                    );
                }
                self.faults.set_denied(resource, *verb == "deny");
                reply(
                    200,
                    &json!({"resource": resource, "denied": *verb == "deny"}),
                )
            }
            ("GET", ["requests"]) => Response::json(200, self.requests.to_json()),
            ("POST", ["requests", "reset"]) => {
                self.requests.clear();
                reply(200, &json!({"reset": true}))
            }
            ("POST", ["churn"]) => {
                let Some(rate) = param("rate")
                    .parse::<f64>()
                    .ok()
                    .filter(|r| r.is_finite() && *r >= 0.0)
                else {
                    return error(400, "rate must be a non-negative number");
                };
                self.churn.set_rate(rate);
                reply(200, &json!({"rate": self.churn.rate()}))
            }
            ("POST", ["churn", "steps"]) => {
                let Some(n) = number("n") else {
                    return error(400, "n is a required non-negative integer");
                };
                match self.churn.steps(n) {
                    Ok(applied) => reply(
                        200,
                        &json!({"applied": applied, "resourceVersion": self.store.current_rv().to_string()}),
                    ),
                    Err(e) => error(500, &e),
                }
            }
            ("GET", ["state"]) => {
                let c = self.store.counts();
                reply(
                    200,
                    &json!({"nodes": c.nodes, "pods": c.pods, "resourceSlices": c.resource_slices, "resourceClaims": c.resource_claims, "resourceVersion": c.rv.to_string(), "watches": self.open_watches.load(Ordering::Relaxed), "churnRate": self.churn.rate()}),
                )
            }
            _ => error(
                404,
                &format!("no control route {} {}", req.method, req.path),
            ),
        }
    }
}

impl Handler for Control {
    fn handle(&self, req: Request, ex: &mut Exchange<'_>) -> io::Result<()> {
        ex.send(self.route(&req))
    }
}

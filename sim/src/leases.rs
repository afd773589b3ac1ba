//! `coordination.k8s.io/v1` Leases, as much as leader election needs: get, create (409 when it
//! exists), replace with optimistic concurrency (409 on a stale resourceVersion), delete. Leases
//! live apart from the node and pod store and have their own resourceVersion counter.
//!
//! It answers lease paths only; faults (a denied `leases` resource) are applied by the API
//! handler, and it imports nothing of it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::http::{Request, Response};
use crate::status::status_response;

/// The Lease objects by (namespace, name).
#[derive(Default)]
pub struct Leases {
    objects: Mutex<HashMap<(String, String), Value>>,
    version: AtomicU64,
}

fn ok(code: u16, object: &Value) -> Response {
    Response::json(code, serde_json::to_vec(object).unwrap_or_default())
}

impl Leases {
    /// Handles a request under `/apis/coordination.k8s.io/v1/namespaces/NS/leases[/NAME]`;
    /// `None` when the path is not a lease path.
    pub fn handle(&self, req: &Request) -> Option<Response> {
        let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
        let (namespace, name) = match segments.as_slice() {
            ["apis", "coordination.k8s.io", "v1", "namespaces", ns, "leases"] => (*ns, None),
            ["apis", "coordination.k8s.io", "v1", "namespaces", ns, "leases", name] => {
                (*ns, Some(*name))
            }
            _ => return None,
        };
        let mut objects = self
            .objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(match (req.method.as_str(), name) {
            ("GET", Some(name)) => match objects.get(&(namespace.to_owned(), name.to_owned())) {
                Some(lease) => ok(200, lease),
                None => status_response(
                    404,
                    "NotFound",
                    &format!("leases.coordination.k8s.io \"{name}\" not found"),
                ),
            },
            ("POST", None) => {
                let Ok(mut lease) = serde_json::from_slice::<Value>(&req.body) else {
                    return Some(status_response(
                        400,
                        "BadRequest",
                        "the body is not a Lease",
                    ));
                };
                let Some(name) = lease["metadata"]["name"].as_str().map(str::to_owned) else {
                    return Some(status_response(422, "Invalid", "metadata.name is required"));
                };
                let key = (namespace.to_owned(), name.clone());
                if objects.contains_key(&key) {
                    return Some(status_response(
                        409,
                        "AlreadyExists",
                        &format!("leases.coordination.k8s.io \"{name}\" already exists"),
                    ));
                }
                self.stamp(&mut lease, namespace);
                objects.insert(key, lease.clone());
                ok(201, &lease)
            }
            ("PUT", Some(name)) => {
                let Ok(mut lease) = serde_json::from_slice::<Value>(&req.body) else {
                    return Some(status_response(
                        400,
                        "BadRequest",
                        "the body is not a Lease",
                    ));
                };
                let key = (namespace.to_owned(), name.to_owned());
                let Some(current) = objects.get(&key) else {
                    return Some(status_response(
                        404,
                        "NotFound",
                        &format!("leases.coordination.k8s.io \"{name}\" not found"),
                    ));
                };
                let sent = lease["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or_default();
                if !sent.is_empty()
                    && sent
                        != current["metadata"]["resourceVersion"]
                            .as_str()
                            .unwrap_or_default()
                {
                    return Some(status_response(
                        409,
                        "Conflict",
                        &format!("Operation cannot be fulfilled on leases.coordination.k8s.io \"{name}\": the object has been modified; please apply your changes to the latest version and try again"),
                    ));
                }
                self.stamp(&mut lease, namespace);
                objects.insert(key, lease.clone());
                ok(200, &lease)
            }
            ("DELETE", Some(name)) => {
                match objects.remove(&(namespace.to_owned(), name.to_owned())) {
                    Some(_) => status_response(200, "Success", "deleted"),
                    None => status_response(
                        404,
                        "NotFound",
                        &format!("leases.coordination.k8s.io \"{name}\" not found"),
                    ),
                }
            }
            _ => status_response(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on leases",
            ),
        })
    }

    fn stamp(&self, lease: &mut Value, namespace: &str) {
        let rv = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        lease["apiVersion"] = json!("coordination.k8s.io/v1");
        lease["kind"] = json!("Lease");
        lease["metadata"]["namespace"] = json!(namespace);
        lease["metadata"]["resourceVersion"] = json!(rv.to_string());
    }
}

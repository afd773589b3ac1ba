//! The Kubernetes API listener: discovery (`/version`, `/api`, `/api/v1`, `/apis`), nodes and
//! pods get/list (paging, resourceVersion semantics, selectors, Tables) and the hand-off to
//! `watch.rs`; every failure is a `Status` object with the real server's reason and code.
//!
//! Faults (injected errors, latency, denied resources) are applied here, before routing, and each
//! request is logged for `GET /requests`.
//!
//! It routes and validates; it does not build Status bodies (`status.rs`), render Tables
//! (`table.rs`), stream events (`watch.rs`) or change objects (only the control interface and
//! churn write to the store). Nothing below it imports it.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

use crate::clock::now_unix;
use crate::faults::{ClientFault, Faults, InjectedError, DEFAULT_MINOR};
use crate::format::{negotiate, Format};
use crate::http::{Exchange, Handler, Part, Request, Response};
use crate::leases::Leases;
use crate::metrics_api::MetricsApi;
use crate::object::{object_key, Kind, Object, DRA_GROUP};
use crate::paging::{decode_continue, encode_continue};
use crate::request_log::{LogEntry, RequestLog, RequestRecord};
use crate::select::{FieldSelector, Filter, LabelSelector};
use crate::status::{
    bad_request, expired_status, invalid_list_options, status_json, status_response, too_large,
};
use crate::store::{Store, VersionError};
use crate::table::{self, IncludeObject};
use crate::watch::{Start, WatchRequest, Watches};

/// The Kubernetes version the simulator claims to be.
pub const GIT_VERSION: &str = "v1.34.2";

/// The user named in 403 messages, as the exporter's service account would be.
const DENIED_USER: &str = "system:serviceaccount:monitoring:kube-cluster-binpacking-exporter";

/// How long a list or watch waits for a resourceVersion newer than the store (the real server's
/// watch cache waits 3 s, then answers 504 "Too large resource version").
const TOO_LARGE_WAIT: Duration = Duration::from_secs(3);

/// The API handler and what it shares with the control interface.
pub struct Api {
    /// The objects.
    pub store: Arc<Store>,
    /// Fault switches.
    pub faults: Arc<Faults>,
    /// The API request log.
    pub requests: Arc<RequestLog>,
    /// Period of BOOKMARK events on watches that allow them.
    pub bookmark_interval: Duration,
    /// Number of watch streams open now.
    pub open_watches: Arc<AtomicUsize>,
    /// Leases for leader election.
    pub leases: Leases,
    /// The resource metrics API (`metrics.k8s.io`), switchable.
    pub metrics: Arc<MetricsApi>,
    /// Whether `resource.k8s.io/v1` (Dynamic Resource Allocation) is served: when false its
    /// paths answer 404 and `/apis` leaves the group out, as on a cluster without DRA.
    pub dra: Arc<AtomicBool>,
}

fn injected(err: InjectedError) -> Response {
    let (reason, message) = match err.status {
        429 => ("TooManyRequests", "Too many requests, please try again later."),
        500 => ("InternalError", "Internal error occurred: injected by kube-sim"),
        503 => ("ServiceUnavailable", "The server is currently unable to handle the request"),
        504 => ("Timeout", "The server was unable to return a response in the time allotted, but may still be processing the request"),
        401 => ("Unauthorized", "Unauthorized"),
        403 => ("Forbidden", "forbidden: injected by kube-sim"),
        404 => ("NotFound", "the server could not find the requested resource"),
        409 => ("Conflict", "conflict: injected by kube-sim"),
        410 => ("Expired", "resource version expired: injected by kube-sim"),
        400 => ("BadRequest", "bad request: injected by kube-sim"),
        _ => ("InternalError", "injected by kube-sim"),
    };
    let mut details = None;
    let mut response = Response::json(err.status, Vec::new());
    if let Some(secs) = err.retry_after {
        response.headers.push(("Retry-After", secs.to_string()));
        details = Some(json!({"retryAfterSeconds": secs}));
    }
    response.body = vec![Part::Owned(status_json(
        err.status, reason, message, details,
    ))];
    response
}

/// The real server's answer to a path it does not serve.
fn not_found() -> Response {
    Response::json(
        404,
        status_json(
            404,
            "NotFound",
            "the server could not find the requested resource",
            Some(json!({})),
        ),
    )
}

fn is_true(value: Option<&str>) -> bool {
    matches!(value, Some("true" | "1" | "True"))
}

fn classify(path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["version"] => "version",
        ["apis", "coordination.k8s.io", "v1", "namespaces", _, "leases", ..] => "leases",
        ["apis", "metrics.k8s.io", ..] => "metrics",
        ["apis", "resource.k8s.io", "v1", "resourceslices", ..] => "resourceslices",
        ["apis", "resource.k8s.io", "v1", "deviceclasses", ..] => "deviceclasses",
        ["apis", "resource.k8s.io", "v1", "resourceclaims"]
        | ["apis", "resource.k8s.io", "v1", "namespaces", _, "resourceclaims", ..] => {
            "resourceclaims"
        }
        ["api"] | ["api", "v1"] | ["apis", ..] | ["openapi", ..] => "discovery",
        ["api", "v1", "nodes", ..] => "nodes",
        ["api", "v1", "pods"] | ["api", "v1", "namespaces", _, "pods", ..] => "pods",
        _ => "other",
    }
}

/// The parsed list/watch query.
struct Query<'a> {
    req: &'a Request,
}

impl Query<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.req.param(name).filter(|v| !v.is_empty())
    }
}

fn parse_rv(text: &str) -> Result<u64, Response> {
    text.parse::<u64>().map_err(|_| {
        bad_request(&format!(
            "invalid resource version {text:?}: must be an unsigned integer"
        ))
    })
}

impl Api {
    /// What a watch stream reads, lent for the length of one stream.
    fn watches(&self) -> Watches<'_> {
        Watches {
            store: &self.store,
            faults: &self.faults,
            bookmark_interval: self.bookmark_interval,
            open_watches: &self.open_watches,
        }
    }

    fn forbidden(kind: Kind, verb: &str, namespace: Option<&str>, name: Option<&str>) -> Response {
        let resource = kind.resource();
        let subject = name.map_or_else(|| resource.to_string(), |n| format!("{resource} \"{n}\""));
        let scope = namespace.map_or_else(
            || "at the cluster scope".to_string(),
            |ns| format!("in the namespace \"{ns}\""),
        );
        let group = kind.group();
        let message = format!("{subject} is forbidden: User \"{DENIED_USER}\" cannot {verb} resource \"{resource}\" in API group \"{group}\" {scope}");
        let mut details = json!({"kind": resource});
        if let (false, Some(map)) = (group.is_empty(), details.as_object_mut()) {
            map.insert("group".into(), Value::from(group));
        }
        if let (Some(n), Some(map)) = (name, details.as_object_mut()) {
            map.insert("name".into(), Value::from(n));
        }
        Response::json(403, status_json(403, "Forbidden", &message, Some(details)))
    }

    fn discovery(path: &str, host: &str, minor: u64, dra: bool) -> Option<Response> {
        let dra_version = json!({"groupVersion": "resource.k8s.io/v1", "version": "v1"});
        let dra_group = json!({"name": "resource.k8s.io", "versions": [dra_version], "preferredVersion": dra_version});
        let body = match path {
            "/version" => json!({
                "major": "1", "minor": minor.to_string(), "emulationMajor": "1",
                "emulationMinor": minor.to_string(), "minCompatibilityMajor": "1",
                "minCompatibilityMinor": minor.saturating_sub(1).to_string(),
                "gitVersion": if minor == DEFAULT_MINOR { GIT_VERSION.to_owned() } else { format!("v1.{minor}.0") },
                "gitCommit": "kube-sim", "gitTreeState": "clean",
                "buildDate": "2025-11-11T00:00:00Z", "goVersion": "go1.24.9", "compiler": "gc", "platform": "linux/amd64"
            }),
            "/api" => json!({
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]
            }),
            "/apis" => {
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": if dra { vec![dra_group] } else { Vec::new() }})
            }
            "/apis/resource.k8s.io" if dra => {
                let mut group = dra_group;
                group["kind"] = json!("APIGroup");
                group["apiVersion"] = json!("v1");
                group
            }
            "/apis/resource.k8s.io/v1" if dra => json!({
                "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "resource.k8s.io/v1",
                "resources": [
                    {"name": "deviceclasses", "singularName": "deviceclass", "namespaced": false, "kind": "DeviceClass",
                     "verbs": ["get", "list", "watch"]},
                    {"name": "resourceclaims", "singularName": "resourceclaim", "namespaced": true, "kind": "ResourceClaim",
                     "verbs": ["get", "list", "watch"]},
                    {"name": "resourceslices", "singularName": "resourceslice", "namespaced": false, "kind": "ResourceSlice",
                     "verbs": ["get", "list", "watch"]}
                ]
            }),
            "/api/v1" => json!({
                "kind": "APIResourceList", "groupVersion": "v1",
                "resources": [
                    {"name": "nodes", "singularName": "node", "namespaced": false, "kind": "Node",
                     "verbs": ["get", "list", "watch"], "shortNames": ["no"]},
                    {"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod",
                     "verbs": ["get", "list", "watch"], "shortNames": ["po"], "categories": ["all"]}
                ]
            }),
            "/healthz" | "/livez" | "/readyz" => return Some(Response::text(200, "ok")),
            _ => return None,
        };
        Some(Response::json(
            200,
            serde_json::to_vec(&body).unwrap_or_default(),
        ))
    }

    fn route(
        &self,
        req: &Request,
        log: &mut LogEntry<'_>,
        ex: &mut Exchange<'_>,
    ) -> io::Result<()> {
        if let Some(resp) = Self::discovery(
            req.path.trim_end_matches('/'),
            req.header("host").unwrap_or("127.0.0.1"),
            self.faults.server_minor(),
            self.dra.load(Ordering::Relaxed),
        ) {
            return ex.send(resp);
        }
        if let Some(resp) = self.leases.handle(req) {
            if self.faults.is_denied("leases") {
                return ex.send(status_response(403, "Forbidden", "leases.coordination.k8s.io is forbidden: User \"system:serviceaccount:binpacking-exporter:binpacking-exporter\" cannot use resource \"leases\" in API group \"coordination.k8s.io\""));
            }
            return ex.send(resp);
        }
        if req.path.starts_with("/apis/metrics.k8s.io/") {
            return ex.send(self.metrics_list(req));
        }
        let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
        let dra = self.dra.load(Ordering::Relaxed);
        let (kind, namespace, name) = match segments.as_slice() {
            ["apis", "resource.k8s.io", "v1", resource] if dra => {
                match Kind::from_resource(resource) {
                    Some(k) if k.group() == DRA_GROUP => (k, None, None),
                    _ => return ex.send(not_found()),
                }
            }
            ["apis", "resource.k8s.io", "v1", resource @ ("resourceslices" | "deviceclasses"), name]
                if dra =>
            {
                match Kind::from_resource(resource) {
                    Some(k) => (k, None, Some(*name)),
                    None => return ex.send(not_found()),
                }
            }
            ["apis", "resource.k8s.io", "v1", "namespaces", ns, "resourceclaims"] if dra => {
                (Kind::ResourceClaim, Some(*ns), None)
            }
            ["apis", "resource.k8s.io", "v1", "namespaces", ns, "resourceclaims", name] if dra => {
                (Kind::ResourceClaim, Some(*ns), Some(*name))
            }
            ["api", "v1", "nodes"] => (Kind::Node, None, None),
            ["api", "v1", "nodes", name] => (Kind::Node, None, Some(*name)),
            ["api", "v1", "pods"] => (Kind::Pod, None, None),
            ["api", "v1", "namespaces", ns, "pods"] => (Kind::Pod, Some(*ns), None),
            ["api", "v1", "namespaces", ns, "pods", name] => (Kind::Pod, Some(*ns), Some(*name)),
            _ => return ex.send(not_found()),
        };
        if req.method != "GET" && req.method != "HEAD" {
            let message = format!(
                "the server does not allow this method on the requested resource ({} {})",
                req.method,
                kind.resource()
            );
            return ex.send(status_response(405, "MethodNotAllowed", &message));
        }
        let watching = is_true(req.param("watch"));
        let verb = match (name, watching) {
            (_, true) => "watch",
            (Some(_), false) => "get",
            (None, false) => "list",
        };
        if self.faults.is_denied(kind.resource()) {
            return ex.send(Self::forbidden(kind, verb, namespace, name));
        }
        let include = match req.param("includeObject") {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        };
        let Some(format) = negotiate(req.header("accept"), include) else {
            let message = format!("only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io (asked for {:?})", req.header("accept").unwrap_or(""));
            return ex.send(status_response(406, "NotAcceptable", &message));
        };
        if let (Some(name), false) = (name, watching) {
            return ex.send(self.get_one(kind, namespace.unwrap_or(""), name, format));
        }
        let q = Query { req };
        let labels = match LabelSelector::parse(q.get("labelSelector").unwrap_or("")) {
            Ok(l) => l,
            Err(e) => return ex.send(bad_request(&e)),
        };
        let mut fields_text = q.get("fieldSelector").unwrap_or("").to_string();
        if let Some(n) = name {
            // A watch on one object is a watch with a name field selector.
            fields_text = if fields_text.is_empty() {
                format!("metadata.name={n}")
            } else {
                format!("{fields_text},metadata.name={n}")
            };
        }
        let fields = match FieldSelector::parse(&fields_text, kind) {
            Ok(f) => f,
            Err(e) => return ex.send(bad_request(&e)),
        };
        let filter = Filter {
            namespace: namespace.map(str::to_string),
            labels,
            fields,
        };
        if watching {
            return match self.watch_request(&q, kind, filter, format) {
                Ok(w) => self.watches().serve(w, log, ex),
                Err(resp) => ex.send(*resp),
            };
        }
        ex.send(self.list(&q, kind, &filter, format))
    }

    /// The resource metrics API: 403 when "metrics" is denied, 404 when switched off (as on a
    /// cluster without metrics-server) or for a path it does not serve.
    fn metrics_list(&self, req: &Request) -> Response {
        if self.faults.is_denied("metrics") {
            return status_response(403, "Forbidden", &format!("nodes.metrics.k8s.io is forbidden: User \"{DENIED_USER}\" cannot list resource \"nodes\" in API group \"metrics.k8s.io\" at the cluster scope"));
        }
        if req.method != "GET" {
            return status_response(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            );
        }
        match self.metrics.list(&self.store, &req.path) {
            Some(body) => Response::json(200, serde_json::to_vec(&body).unwrap_or_default()),
            None => status_response(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        }
    }

    fn get_one(&self, kind: Kind, namespace: &str, name: &str, format: Format) -> Response {
        let Some(obj) = self.store.get(kind, &object_key(kind, namespace, name)) else {
            let mut details = json!({"name": name, "kind": kind.resource()});
            let qualified = if kind.group().is_empty() {
                kind.resource().to_string()
            } else {
                details["group"] = json!(kind.group());
                format!("{}.{}", kind.resource(), kind.group())
            };
            return Response::json(
                404,
                status_json(
                    404,
                    "NotFound",
                    &format!("{qualified} \"{name}\" not found"),
                    Some(details),
                ),
            );
        };
        match format {
            Format::Json => {
                let mut resp = Response::json(200, Vec::new());
                resp.body = vec![Part::Shared(obj)];
                resp
            }
            Format::Table(opts) => Response::json(
                200,
                table::render(
                    kind,
                    &[&obj],
                    Some(obj.resource_version),
                    None,
                    opts,
                    true,
                    now_unix(),
                ),
            ),
        }
    }

    fn list(&self, q: &Query<'_>, kind: Kind, filter: &Filter, format: Format) -> Response {
        let limit = match q.get("limit").map(str::parse::<i64>) {
            None => 0,
            Some(Ok(n)) => usize::try_from(n.max(0)).unwrap_or(0),
            Some(Err(_)) => return bad_request("invalid value for limit: must be an integer"),
        };
        let rv_param = q.get("resourceVersion");
        let rv_match = q.get("resourceVersionMatch");
        let (at_rv, after) = if let Some(token) = q.get("continue") {
            if rv_param.is_some_and(|rv| rv != "0") {
                return bad_request(
                    "specifying resource version is not allowed when using continue",
                );
            }
            match decode_continue(token) {
                Ok((rv, key)) => (Some(rv), Some(key)),
                Err(e) => return bad_request(&e),
            }
        } else {
            match (rv_param, rv_match) {
                (None, Some(_)) => return invalid_list_options("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"),
                (Some("0"), Some("Exact")) => return invalid_list_options("resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""),
                (Some(rv), Some("Exact")) => match parse_rv(rv) {
                    Ok(n) => (Some(n), None),
                    Err(resp) => return resp,
                },
                (None | Some("0"), None | Some("NotOlderThan")) => (None, None),
                (Some(rv), None | Some("NotOlderThan")) => match parse_rv(rv) {
                    Ok(n) => {
                        if !self.store.wait_for_rv(n, TOO_LARGE_WAIT) {
                            return too_large(n, self.store.current_rv());
                        }
                        (None, None)
                    }
                    Err(resp) => return resp,
                },
                (_, Some(other)) => return invalid_list_options(&format!("resourceVersionMatch: Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\"")),
            }
        };
        let page = match self
            .store
            .list(kind, at_rv, after.as_deref(), limit, filter)
        {
            Ok(p) => p,
            Err(VersionError::Expired { .. }) if after.is_some() => {
                return Response::json(410, status_json(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.", None));
            }
            Err(VersionError::Expired { requested, oldest }) => {
                return Response::json(410, expired_status(requested, oldest));
            }
            Err(VersionError::TooLarge { requested, current }) => {
                return too_large(requested, current)
            }
        };
        let next = page
            .next_key
            .as_deref()
            .map(|k| encode_continue(page.rv, k));
        match format {
            Format::Table(opts) => {
                let refs: Vec<&Object> = page.items.iter().map(AsRef::as_ref).collect();
                Response::json(
                    200,
                    table::render(
                        kind,
                        &refs,
                        Some(page.rv),
                        next.as_deref(),
                        opts,
                        true,
                        now_unix(),
                    ),
                )
            }
            Format::Json => {
                let mut head = format!("{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{}\"", kind.kind_name(), kind.api_version(), page.rv);
                if let Some(next) = &next {
                    head.push_str(",\"continue\":\"");
                    head.push_str(next);
                    head.push('"');
                }
                head.push_str("},\"items\":[");
                let mut body = Vec::with_capacity(page.items.len() * 2 + 2);
                body.push(Part::Owned(head.into_bytes()));
                for (i, obj) in page.items.into_iter().enumerate() {
                    if i > 0 {
                        body.push(Part::Static(b","));
                    }
                    body.push(Part::Shared(obj));
                }
                body.push(Part::Static(b"]}"));
                Response {
                    status: 200,
                    headers: vec![("Content-Type", "application/json".into())],
                    body,
                }
            }
        }
    }

    fn watch_request(
        &self,
        q: &Query<'_>,
        kind: Kind,
        filter: Filter,
        format: Format,
    ) -> Result<WatchRequest, Box<Response>> {
        let rv_param = q.get("resourceVersion");
        let rv_match = q.get("resourceVersionMatch");
        let send_initial = q.get("sendInitialEvents");
        let bookmarks = is_true(q.get("allowWatchBookmarks"));
        let timeout = match q.get("timeoutSeconds").map(str::parse::<u64>) {
            None => Duration::from_secs(1800),
            Some(Ok(s)) => Duration::from_secs(s),
            Some(Err(_)) => {
                return Err(Box::new(bad_request(
                    "invalid value for timeoutSeconds: must be an integer",
                )))
            }
        };
        let numeric = |rv: &str| -> Result<u64, Box<Response>> {
            let n = parse_rv(rv).map_err(Box::new)?;
            if !self.store.wait_for_rv(n, TOO_LARGE_WAIT) {
                return Err(Box::new(too_large(n, self.store.current_rv())));
            }
            Ok(n)
        };
        let start = match send_initial {
            Some(flag) => {
                if rv_match != Some("NotOlderThan") {
                    return Err(Box::new(invalid_list_options("resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")));
                }
                if is_true(Some(flag)) {
                    if !bookmarks {
                        return Err(Box::new(invalid_list_options("allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true")));
                    }
                    if let Some(rv) = rv_param.filter(|rv| *rv != "0") {
                        numeric(rv)?;
                    }
                    Start::InitialEvents { end_bookmark: true }
                } else {
                    match rv_param {
                        None | Some("0") => Start::Now,
                        Some(rv) => Start::From(numeric(rv)?),
                    }
                }
            }
            None => {
                if rv_match.is_some() {
                    return Err(Box::new(invalid_list_options("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")));
                }
                match rv_param {
                    None | Some("0") => Start::InitialEvents {
                        end_bookmark: false,
                    },
                    Some(rv) => Start::From(numeric(rv)?),
                }
            }
        };
        Ok(WatchRequest {
            kind,
            filter,
            start,
            bookmarks,
            timeout,
            format,
        })
    }
}

impl Handler for Api {
    fn handle(&self, req: Request, ex: &mut Exchange<'_>) -> io::Result<()> {
        let mut log = self.requests.begin(RequestRecord {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.raw_query.clone(),
            resource: classify(&req.path),
            watch: is_true(req.param("watch")),
            status: 0,
        });
        let latency = self.faults.latency();
        if !latency.is_zero() {
            thread::sleep(latency);
        }
        let token = req
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_owned();
        let resource = classify(&req.path);
        loop {
            match self.faults.client_fault(&token, resource) {
                // Closed unanswered: the API server is down for this client.
                Some(ClientFault::Cut) => return Ok(()),
                // Held open until the fault is cleared or the client gives up.
                Some(ClientFault::Hang(_)) if !ex.peer_closed() => {
                    thread::sleep(Duration::from_millis(20));
                }
                Some(ClientFault::Hang(_)) => return Ok(()),
                None => break,
            }
        }
        let result = match self.faults.take_error() {
            Some(err) => ex.send(injected(err)),
            None => self.route(&req, &mut log, ex),
        };
        log.done(ex.status.unwrap_or(0));
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classified_by_resource() {
        assert_eq!(classify("/api/v1/namespaces/a/pods/b"), "pods");
        assert_eq!(classify("/api/v1/pods"), "pods");
        assert_eq!(classify("/api/v1/nodes/x"), "nodes");
        assert_eq!(classify("/version"), "version");
        assert_eq!(classify("/api/v1"), "discovery");
        assert_eq!(classify("/metrics"), "other");
        assert_eq!(
            classify("/apis/resource.k8s.io/v1/namespaces/a/resourceclaims/b"),
            "resourceclaims"
        );
        assert_eq!(
            classify("/apis/resource.k8s.io/v1/resourceslices"),
            "resourceslices"
        );
        assert_eq!(classify("/apis/resource.k8s.io/v1"), "discovery");
    }
}

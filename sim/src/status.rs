//! Kubernetes `Status` objects: the body of every failed API answer (and of a 410 ERROR watch
//! event), with the reasons, codes and messages kube-apiserver uses, so clients take the same
//! paths they would against a real server.
//!
//! Builds bytes and responses only: it decides nothing about when a request fails, and imports
//! nothing of the API's routing, watches or store.

use serde_json::{json, Value};

use crate::http::Response;

/// A Status object's bytes.
pub fn status_json(code: u16, reason: &str, message: &str, details: Option<Value>) -> Vec<u8> {
    let mut status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    if let (Some(details), Some(map)) = (details, status.as_object_mut()) {
        map.insert("details".into(), details);
    }
    serde_json::to_vec(&status).unwrap_or_default()
}

/// A Status response.
pub fn status_response(code: u16, reason: &str, message: &str) -> Response {
    Response::json(code, status_json(code, reason, message, None))
}

/// The 410 Status for a version older than the kept history.
pub fn expired_status(requested: u64, oldest: u64) -> Vec<u8> {
    status_json(
        410,
        "Expired",
        &format!("too old resource version: {requested} ({oldest})"),
        None,
    )
}

/// The 504 for a resourceVersion newer than the store reached in time (the real server's watch
/// cache answers "Too large resource version" after waiting).
pub fn too_large(requested: u64, current: u64) -> Response {
    let details = json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1});
    Response::json(
        504,
        status_json(
            504,
            "Timeout",
            &format!("Timeout: Too large resource version: {requested}, current: {current}"),
            Some(details),
        ),
    )
}

/// A 400 BadRequest Status.
pub fn bad_request(message: &str) -> Response {
    status_response(400, "BadRequest", message)
}

/// A 422 Invalid Status for list options that contradict each other.
pub fn invalid_list_options(message: &str) -> Response {
    let details = json!({"group": "meta.k8s.io", "kind": "ListOptions", "causes": [{"reason": "FieldValueForbidden", "message": message}]});
    Response::json(
        422,
        status_json(
            422,
            "Invalid",
            &format!("ListOptions.meta.k8s.io \"\" is invalid: {message}"),
            Some(details),
        ),
    )
}

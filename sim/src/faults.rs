//! Injected faults: what the control interface switches on (errors, latency, denied resources,
//! how expired watches are answered), what the API handler consults on every request.
//!
//! Holds switches only: the HTTP side effects live in `api.rs` and `watch.rs` (answers) and
//! `http.rs` (refusing connections); the request log is `request_log.rs`. It imports nothing of
//! the simulator.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
struct ErrorFault {
    status: u16,
    remaining: u64,
    retry_after: Option<u64>,
}

/// An error the next API request must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InjectedError {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After` seconds, when set.
    pub retry_after: Option<u64>,
}

/// What happens to the requests of one client (told apart by its bearer token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFault {
    /// Requests (for `resource`, or every request when `None`) are held open unanswered until
    /// the fault is cleared: a hung connection, a blackholed route.
    Hang(Option<String>),
    /// Every request's connection is closed unanswered: the API server is down for this client.
    Cut,
}

/// All fault switches.
pub struct Faults {
    errors: Mutex<Option<ErrorFault>>,
    latency_ms: AtomicU64,
    denied: Mutex<HashSet<String>>,
    compact_as_http: AtomicBool,
    clients: Mutex<HashMap<String, ClientFault>>,
    server_minor: AtomicU64,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            errors: Mutex::new(None),
            latency_ms: AtomicU64::new(0),
            denied: Mutex::new(HashSet::new()),
            compact_as_http: AtomicBool::new(false),
            clients: Mutex::new(HashMap::new()),
            server_minor: AtomicU64::new(DEFAULT_MINOR),
        }
    }
}

/// The minor version `/version` reports until told otherwise (Kubernetes 1.34).
pub const DEFAULT_MINOR: u64 = 34;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Faults {
    /// Answers the next `count` API requests with `status`.
    pub fn set_errors(&self, status: u16, count: u64, retry_after: Option<u64>) {
        *lock(&self.errors) = (count > 0).then_some(ErrorFault {
            status,
            remaining: count,
            retry_after,
        });
    }

    /// Consumes one injected error, if any are pending.
    pub fn take_error(&self) -> Option<InjectedError> {
        let mut errors = lock(&self.errors);
        let fault = errors.as_mut()?;
        let taken = InjectedError {
            status: fault.status,
            retry_after: fault.retry_after,
        };
        fault.remaining -= 1;
        if fault.remaining == 0 {
            *errors = None;
        }
        Some(taken)
    }

    /// Delays every API response (0 clears).
    pub fn set_latency(&self, ms: u64) {
        self.latency_ms.store(ms, Ordering::Relaxed);
    }

    /// The current API latency.
    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::Relaxed))
    }

    /// Forbids (or allows again) a resource.
    pub fn set_denied(&self, resource: &str, denied: bool) {
        let mut set = lock(&self.denied);
        if denied {
            set.insert(resource.to_string());
        } else {
            set.remove(resource);
        }
    }

    /// True when the resource is forbidden.
    pub fn is_denied(&self, resource: &str) -> bool {
        lock(&self.denied).contains(resource)
    }

    /// How expired watches are answered from now on: HTTP 410 (true) or a 410 ERROR event.
    pub fn set_compact_as_http(&self, http: bool) {
        self.compact_as_http.store(http, Ordering::Relaxed);
    }

    /// True when expired watches get an HTTP 410 instead of an ERROR event.
    pub fn compact_as_http(&self) -> bool {
        self.compact_as_http.load(Ordering::Relaxed)
    }

    /// Sets (or, with `None`, clears) the fault of the client with bearer token `token`.
    pub fn set_client_fault(&self, token: &str, fault: Option<ClientFault>) {
        let mut clients = lock(&self.clients);
        match fault {
            Some(fault) => clients.insert(token.to_owned(), fault),
            None => clients.remove(token),
        };
    }

    /// The fault that applies to a request of `token` for `resource`, if any.
    pub fn client_fault(&self, token: &str, resource: &str) -> Option<ClientFault> {
        let clients = lock(&self.clients);
        match clients.get(token)? {
            ClientFault::Hang(Some(only)) if only != resource => None,
            fault => Some(fault.clone()),
        }
    }

    /// Makes `/version` report Kubernetes 1.`minor` (a control-plane upgrade or downgrade).
    pub fn set_server_minor(&self, minor: u64) {
        self.server_minor.store(minor, Ordering::Relaxed);
    }

    /// The minor version `/version` reports.
    pub fn server_minor(&self) -> u64 {
        self.server_minor.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_faults_apply_to_their_token_and_resource_only() {
        let f = Faults::default();
        f.set_client_fault("a", Some(ClientFault::Hang(Some("leases".into()))));
        f.set_client_fault("b", Some(ClientFault::Cut));
        assert_eq!(
            f.client_fault("a", "leases"),
            Some(ClientFault::Hang(Some("leases".into())))
        );
        assert_eq!(f.client_fault("a", "pods"), None);
        assert_eq!(f.client_fault("b", "pods"), Some(ClientFault::Cut));
        assert_eq!(f.client_fault("c", "leases"), None);
        f.set_client_fault("b", None);
        assert_eq!(f.client_fault("b", "pods"), None);
    }

    #[test]
    fn injected_errors_run_out_after_count() {
        let f = Faults::default();
        f.set_errors(429, 2, Some(3));
        assert_eq!(
            f.take_error(),
            Some(InjectedError {
                status: 429,
                retry_after: Some(3)
            })
        );
        assert!(f.take_error().is_some());
        assert!(f.take_error().is_none());
    }
}

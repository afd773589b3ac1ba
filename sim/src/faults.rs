//! Injected faults: what the control interface switches on (errors, latency, denied resources,
//! how expired watches are answered), what the API handler consults on every request.
//!
//! Holds switches only: the HTTP side effects live in `api.rs` and `watch.rs` (answers) and
//! `http.rs` (refusing connections); the request log is `request_log.rs`. It imports nothing of
//! the simulator.

use std::collections::HashSet;
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

/// All fault switches.
#[derive(Default)]
pub struct Faults {
    errors: Mutex<Option<ErrorFault>>,
    latency_ms: AtomicU64,
    denied: Mutex<HashSet<String>>,
    compact_as_http: AtomicBool,
}

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
}

#[cfg(test)]
mod tests {
    use super::*;

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

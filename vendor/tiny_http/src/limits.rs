//! PATCH(binpacking-exporter): bounds on what one client can make the server hold.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Longest request line or header line, in bytes.
pub(crate) const MAX_LINE_BYTES: usize = 16 * 1024;
/// Most headers in one request.
pub(crate) const MAX_HEADERS: usize = 100;
/// Open connections (each holds one thread) beyond which new ones are closed at once.
pub(crate) const MAX_CONNECTIONS: usize = 512;
/// How long a connection may stay silent (idle keep-alive, slow headers).
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one write to a client that does not read may block.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Counts an open connection until dropped.
pub(crate) struct ConnectionGuard(Arc<AtomicUsize>);

impl ConnectionGuard {
    pub(crate) fn new(counter: Arc<AtomicUsize>) -> ConnectionGuard {
        counter.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(counter)
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

//! PATCH(binpacking-exporter): every bound on what one client can make the server hold: bytes,
//! time and threads. The numbers are the defaults; the server takes them from its
//! [`crate::ServerConfig`], so tests can tighten them.

use std::time::Duration;

/// Bounds of one server. Each one is enforced by the connection table's deadlines or by the
/// code that reads the head, never by a per-`read` timeout alone (a client that sends one byte
/// per timeout would defeat that).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections at most (each holds one thread). At the cap, a new connection replaces
    /// the oldest one that is still reading its head or idle between requests, else the oldest
    /// slow writer; only when every connection is waiting for a worker is the new one closed.
    pub max_connections: usize,
    /// Bytes of the whole request head: request line and every header together.
    pub max_head_bytes: usize,
    /// Headers in one request at most.
    pub max_headers: usize,
    /// From accept (TLS handshake included) or from the first byte of a kept-alive connection's
    /// next request to the end of its head.
    pub head_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// How long a request may wait for a worker's answer.
    pub answer_timeout: Duration,
    /// Time for any response, plus one second per `min_write_bytes_per_second` bytes of it: a
    /// client that reads slower than that loses the connection.
    pub write_timeout: Duration,
    /// The slowest reading rate a response is allowed (see `write_timeout`).
    pub min_write_bytes_per_second: usize,
    /// Bytes of distinct response bodies held by responses being written. A body shared by many
    /// responses counts once; beyond the bound, the response that started writing first is cut.
    pub max_writing_bytes: usize,
    /// Stack size of a connection thread.
    pub connection_stack_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 512,
            max_head_bytes: 16 * 1024,
            max_headers: 100,
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            answer_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
            min_write_bytes_per_second: 1024 * 1024,
            max_writing_bytes: 48 * 1024 * 1024,
            connection_stack_bytes: 256 * 1024,
        }
    }
}

impl Limits {
    /// The deadline of writing a response of `bytes`.
    pub(crate) fn write_time(&self, bytes: usize) -> Duration {
        let rate = self.min_write_bytes_per_second.max(1);
        self.write_timeout
            + Duration::from_millis((bytes as u64).saturating_mul(1000) / rate as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_larger_response_gets_proportionally_more_time() {
        let limits = Limits::default();
        assert_eq!(limits.write_time(0), Duration::from_secs(10));
        assert_eq!(limits.write_time(4 * 1024 * 1024), Duration::from_secs(14));
    }
}

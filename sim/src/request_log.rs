//! The API request log that `GET /requests` reports: one record per API request (method, path,
//! query, resource, watch, status), bounded so a long benchmark cannot exhaust memory.
//!
//! Holds records only: the API handler classifies a request and says when it is done, the control
//! interface reads and clears the log. It imports nothing of the simulator.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;

/// Requests kept in the log; older ones are dropped so a long benchmark cannot exhaust memory.
const MAX_RECORDS: usize = 500_000;

/// One API request as `GET /requests` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Decoded path.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// `nodes`, `pods`, `version`, `discovery` or `other`.
    pub resource: &'static str,
    /// True for watch requests.
    pub watch: bool,
    /// The HTTP status answered.
    pub status: u16,
}

/// The log of API requests, oldest first.
#[derive(Default)]
pub struct RequestLog {
    requests: Mutex<VecDeque<RequestRecord>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RequestLog {
    /// Appends to the request log.
    pub fn record(&self, record: RequestRecord) {
        let mut log = lock(&self.requests);
        if log.len() >= MAX_RECORDS {
            log.pop_front();
        }
        log.push_back(record);
    }

    /// The request log as a JSON array.
    pub fn to_json(&self) -> Vec<u8> {
        let log = lock(&self.requests);
        serde_json::to_vec(&*log).unwrap_or_else(|_| b"[]".to_vec())
    }

    /// Clears the request log.
    pub fn clear(&self) {
        lock(&self.requests).clear();
    }

    /// The entry of a request that has begun; its status is written when it is done.
    pub fn begin(&self, record: RequestRecord) -> LogEntry<'_> {
        LogEntry {
            log: self,
            record: Some(record),
        }
    }
}

/// Writes the request log entry once: when a stream starts, or when the request ends.
pub struct LogEntry<'a> {
    log: &'a RequestLog,
    record: Option<RequestRecord>,
}

impl LogEntry<'_> {
    /// Records the request with its status (only the first call counts).
    pub fn done(&mut self, status: u16) {
        if let Some(mut record) = self.record.take() {
            record.status = status;
            self.log.record(record);
        }
    }
}

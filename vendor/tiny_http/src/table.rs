//! PATCH(binpacking-exporter): the table of open connections. Every connection is registered
//! here with the phase it is in and the deadline of that phase; the reaper thread shuts the
//! socket of a connection whose deadline passed (a whole-head deadline, not a per-`read` one),
//! the accept loop makes room for a new connection by shutting the oldest evictable one, and a
//! response that would push the bytes being written over the bound cuts the oldest writer.
//! Shutting a socket down (from any thread) makes the blocked `read` or `write` of its own
//! thread return, so no connection can hold its thread past its deadline.

use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::limits::Limits;

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Reading a request head (the TLS handshake included).
    Head,
    /// Kept alive, waiting for the next request.
    Idle,
    /// Waiting for a worker's answer.
    Queued,
    /// Writing a response.
    Writing,
    /// Done; the write side is shut, the socket closes shortly.
    Closing,
}

/// A body being written: its identity (shared bodies have one) and its size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyKey {
    pub(crate) identity: usize,
    pub(crate) bytes: usize,
}

struct Entry {
    /// A handle on the socket, to shut it down from another thread.
    socket: TcpStream,
    phase: Phase,
    since: Instant,
    deadline: Option<Instant>,
    body: Option<BodyKey>,
    /// Shut down already: it no longer counts toward the connection cap.
    cut: bool,
}

impl Entry {
    fn cut(&mut self) {
        if !self.cut {
            // A socket the peer already reset answers with an error; it is closed either way.
            let _ = self.socket.shutdown(Shutdown::Both);
            self.cut = true;
        }
    }
}

#[derive(Default)]
struct Inner {
    entries: HashMap<u64, Entry>,
    next_id: u64,
    closing: bool,
}

/// Why connections ended early, counted since the start.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) evicted: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    pub(crate) writers_cut: AtomicU64,
}

/// The connection table.
#[derive(Default)]
pub(crate) struct Table {
    inner: Mutex<Inner>,
    /// Wakes the reaper when a deadline was set or the server closes.
    reaper: Condvar,
    pub(crate) counters: Counters,
}

/// Why a connection was not admitted.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Every connection is busy with a request (none may be evicted).
    Full,
    /// The socket could not be duplicated (out of file descriptors).
    Io(std::io::Error),
    /// The server is closing.
    Closing,
}

impl Table {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing in the table is left half-changed by a panic (there are none to begin with).
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a new connection in the [`Phase::Head`] phase, making room if the table is full.
    pub(crate) fn admit(
        &self,
        socket: &TcpStream,
        limits: &Limits,
        now: Instant,
    ) -> Result<u64, Refusal> {
        let handle = socket.try_clone().map_err(Refusal::Io)?;
        let mut inner = self.lock();
        if inner.closing {
            return Err(Refusal::Closing);
        }
        let live = inner.entries.values().filter(|e| !e.cut).count();
        if live >= limits.max_connections {
            match victim(&inner.entries, now) {
                Some(id) => {
                    if let Some(entry) = inner.entries.get_mut(&id) {
                        entry.cut();
                    }
                    self.counters.evicted.fetch_add(1, Ordering::Relaxed);
                }
                None => return Err(Refusal::Full),
            }
        }
        let id = inner.next_id;
        inner.next_id += 1;
        inner.entries.insert(
            id,
            Entry {
                socket: handle,
                phase: Phase::Head,
                since: now,
                deadline: Some(now + limits.head_timeout),
                body: None,
                cut: false,
            },
        );
        drop(inner);
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
        self.reaper.notify_one();
        Ok(id)
    }

    /// Moves a connection to `phase` with a deadline `timeout` from now. A writer holding `body`
    /// may cut older writers so that the distinct bodies being written stay within the bound.
    pub(crate) fn enter(
        &self,
        id: u64,
        phase: Phase,
        timeout: Option<Duration>,
        body: Option<BodyKey>,
        limits: &Limits,
    ) {
        let now = Instant::now();
        let mut inner = self.lock();
        let Some(entry) = inner.entries.get_mut(&id) else {
            return;
        };
        entry.phase = phase;
        entry.since = now;
        entry.deadline = timeout.map(|t| now + t);
        entry.body = body;
        if body.is_some() {
            self.bound_writers(&mut inner, id, limits.max_writing_bytes);
        }
        drop(inner);
        if timeout.is_some() {
            self.reaper.notify_one();
        }
    }

    /// Cuts the oldest writers (other than `keep`) while the distinct bodies being written hold
    /// more than `max_bytes`.
    fn bound_writers(&self, inner: &mut Inner, keep: u64, max_bytes: usize) {
        loop {
            let mut seen: Vec<usize> = Vec::new();
            let mut held = 0usize;
            let mut oldest: Option<(Instant, u64)> = None;
            for (&id, entry) in &inner.entries {
                let (false, Phase::Writing, Some(body)) = (entry.cut, entry.phase, entry.body)
                else {
                    continue;
                };
                if !seen.contains(&body.identity) {
                    seen.push(body.identity);
                    held = held.saturating_add(body.bytes);
                }
                if id != keep && oldest.is_none_or(|(since, _)| entry.since < since) {
                    oldest = Some((entry.since, id));
                }
            }
            if held <= max_bytes {
                return;
            }
            let Some((_, id)) = oldest else { return };
            if let Some(entry) = inner.entries.get_mut(&id) {
                entry.cut();
            }
            self.counters.writers_cut.fetch_add(1, Ordering::Relaxed);
            log::debug!("cut the oldest slow writer to bound the bytes being written");
        }
    }

    /// Shuts the write side of a connection (its response is complete) so the peer sees the end
    /// before the socket is closed.
    pub(crate) fn finish(&self, id: u64) {
        let mut inner = self.lock();
        if let Some(entry) = inner.entries.get_mut(&id) {
            entry.phase = Phase::Closing;
            entry.since = Instant::now();
            entry.deadline = None;
            entry.body = None;
            let _ = entry.socket.shutdown(Shutdown::Write);
        }
    }

    /// Removes a connection whose thread is done.
    pub(crate) fn leave(&self, id: u64) {
        self.lock().entries.remove(&id);
    }

    /// Cuts the oldest idle or head-reading connection (to free a file descriptor).
    pub(crate) fn evict_one(&self) -> bool {
        let mut inner = self.lock();
        let now = Instant::now();
        let Some(id) = victim(&inner.entries, now) else {
            return false;
        };
        if let Some(entry) = inner.entries.get_mut(&id) {
            entry.cut();
        }
        self.counters.evicted.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Open connections (not yet cut).
    pub(crate) fn open(&self) -> usize {
        self.lock().entries.values().filter(|e| !e.cut).count()
    }

    /// The reaper: cuts every connection whose deadline passed, sleeping until the next deadline
    /// (or until woken), and returns when the table closes.
    pub(crate) fn reap_until_closed(&self) {
        let mut inner = self.lock();
        loop {
            if inner.closing {
                return;
            }
            let now = Instant::now();
            let mut next: Option<Instant> = None;
            for entry in inner.entries.values_mut() {
                if entry.cut {
                    continue;
                }
                match entry.deadline {
                    Some(deadline) if deadline <= now => {
                        entry.cut();
                        self.counters.timed_out.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(deadline) => next = Some(next.map_or(deadline, |n| n.min(deadline))),
                    None => {}
                }
            }
            inner = match next {
                Some(next) => {
                    self.reaper
                        .wait_timeout(inner, next.saturating_duration_since(now))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .reaper
                    .wait(inner)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }

    /// Closes the table: every connection is cut and the reaper returns.
    pub(crate) fn close(&self) {
        let mut inner = self.lock();
        inner.closing = true;
        for entry in inner.entries.values_mut() {
            entry.cut();
        }
        drop(inner);
        self.reaper.notify_all();
    }
}

/// The connection to drop for a new one: the oldest that is reading a head, idle or closing;
/// else the writer that started first, if it has been writing for a second or more (a client
/// that reads at network speed is done by then).
fn victim(entries: &HashMap<u64, Entry>, now: Instant) -> Option<u64> {
    let oldest = |wanted: &dyn Fn(&Entry) -> bool| {
        entries
            .iter()
            .filter(|(_, e)| !e.cut && wanted(e))
            .min_by_key(|(_, e)| e.since)
            .map(|(&id, _)| id)
    };
    oldest(&|e| matches!(e.phase, Phase::Head | Phase::Idle | Phase::Closing)).or_else(|| {
        oldest(&|e| {
            e.phase == Phase::Writing
                && now.saturating_duration_since(e.since) >= Duration::from_secs(1)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn a_full_table_drops_the_oldest_unfinished_head_for_a_new_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let limits = Limits {
            max_connections: 2,
            ..Limits::default()
        };
        let table = Table::default();
        let t0 = Instant::now();
        let (c1, s1) = pair(&listener);
        let (_c2, s2) = pair(&listener);
        let (_c3, s3) = pair(&listener);
        let first = table.admit(&s1, &limits, t0).unwrap();
        let second = table
            .admit(&s2, &limits, t0 + Duration::from_millis(1))
            .unwrap();
        table.enter(second, Phase::Queued, None, None, &limits);
        table
            .admit(&s3, &limits, t0 + Duration::from_millis(2))
            .unwrap();
        assert_eq!(table.open(), 2);
        assert_eq!(table.counters.evicted.load(Ordering::Relaxed), 1);
        // The first connection's socket was shut down: its peer reads the end.
        use std::io::Read;
        let mut c1 = c1;
        assert_eq!(c1.read(&mut [0u8; 8]).unwrap(), 0);
        table.leave(first);
        assert_eq!(table.open(), 2);
    }

    #[test]
    fn a_table_of_busy_connections_refuses_a_new_one() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let limits = Limits {
            max_connections: 1,
            ..Limits::default()
        };
        let table = Table::default();
        let (_c1, s1) = pair(&listener);
        let (_c2, s2) = pair(&listener);
        let id = table.admit(&s1, &limits, Instant::now()).unwrap();
        table.enter(id, Phase::Queued, None, None, &limits);
        assert!(matches!(
            table.admit(&s2, &limits, Instant::now()),
            Err(Refusal::Full)
        ));
    }

    #[test]
    fn writers_beyond_the_byte_bound_lose_the_oldest_and_a_shared_body_counts_once() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let limits = Limits {
            max_writing_bytes: 100,
            ..Limits::default()
        };
        let table = Table::default();
        let mut ids = Vec::new();
        let mut keep = Vec::new();
        for _ in 0..3 {
            let (c, s) = pair(&listener);
            ids.push(table.admit(&s, &limits, Instant::now()).unwrap());
            keep.push((c, s));
        }
        let shared = BodyKey {
            identity: 1,
            bytes: 60,
        };
        table.enter(ids[0], Phase::Writing, None, Some(shared), &limits);
        std::thread::sleep(Duration::from_millis(2));
        table.enter(ids[1], Phase::Writing, None, Some(shared), &limits);
        assert_eq!(table.counters.writers_cut.load(Ordering::Relaxed), 0);
        std::thread::sleep(Duration::from_millis(2));
        let other = BodyKey {
            identity: 2,
            bytes: 60,
        };
        table.enter(ids[2], Phase::Writing, None, Some(other), &limits);
        // 120 bytes held: the oldest writers go until the bound holds (the shared body is
        // released only when its second writer is cut too).
        assert_eq!(table.counters.writers_cut.load(Ordering::Relaxed), 2);
        assert_eq!(table.open(), 1);
    }
}

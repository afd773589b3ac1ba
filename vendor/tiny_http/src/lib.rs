//! tiny_http 0.12.0 as kube-cluster-binpacking-exporter owns it: a small HTTP/1.1 server whose
//! caller owns the worker threads (`Server::recv` in a loop, `Server::unblock` to stop them).
//! PATCH(binpacking-exporter): the connection handling is rewritten so that no client can take
//! the server down (see `PATCHES.md`): one thread per connection, registered in a table with a
//! deadline for each phase (head, idle, writing) that a reaper enforces by shutting the socket;
//! a byte cap on the whole head; no request body is ever read; no pipelined read-ahead; at the
//! connection cap the oldest unfinished head or idle connection makes room for a new one;
//! responses are written by their connection's thread (never by a worker) under a deadline
//! scaled to their size, and the distinct bodies being written are bounded in bytes. An
//! optional early answer runs on the connection's thread (health checks never wait for a
//! worker), and an optional handshake wraps each socket (TLS). No `unwrap`, `expect` or panic is
//! reachable from the network.

#![forbid(unsafe_code)]
#![deny(
    rust_2018_idioms,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use common::{HTTPVersion, Header, HeaderField, Method, StatusCode};
pub use limits::Limits;
pub use request::Request;
pub use response::{Body, Response};

mod common;
mod connection;
mod head;
mod limits;
mod queue;
mod request;
mod response;
mod table;

use queue::Queue;
use table::{Refusal, Table};

/// A byte stream to one client: the TCP socket itself, or a TLS session over it.
pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// Wraps each accepted socket before its first byte is read (TLS). It must not block for long:
/// the handshake belongs in the stream's first reads, which run under the head deadline.
pub trait Handshake: Send + Sync {
    /// The stream to read requests from and write responses to.
    fn accept(&self, socket: TcpStream) -> io::Result<Box<dyn Stream>>;
}

/// Answers some requests on the connection's own thread, before they would be queued for a
/// worker: cheap answers only (health checks, refusals), which then never wait for a worker.
pub trait EarlyAnswer: Send + Sync {
    /// `Some` to answer now, `None` to queue the request for the workers.
    fn answer(&self, request: &Request) -> Option<Response>;
}

/// How a server runs.
#[derive(Clone, Default)]
pub struct ServerConfig {
    /// Bounds on connections, heads, time and bytes.
    pub limits: Limits,
    /// A TLS (or other) layer over each socket.
    pub tls: Option<Arc<dyn Handshake>>,
    /// Answers given on the connection's thread.
    pub early: Option<Arc<dyn EarlyAnswer>>,
}

/// Counts of what the server did with connections since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections open now.
    pub open: usize,
    /// Connections accepted.
    pub accepted: u64,
    /// New connections closed at once: the table was full of busy connections, a thread could
    /// not be started, or no file descriptor was left.
    pub refused: u64,
    /// Connections dropped to make room for a new one (oldest unfinished head or idle first).
    pub evicted: u64,
    /// Connections cut at their phase's deadline (head, idle or writing).
    pub timed_out: u64,
    /// Writers cut to keep the bytes being written within the bound.
    pub writers_cut: u64,
}

/// What the accept loop, the reaper, the connection threads and the workers share.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) table: Table,
    pub(crate) queue: Queue<Request>,
    closing: AtomicBool,
}

/// A running server: the accept loop and the reaper run on their own threads; requests that need
/// a worker come out of [`Server::recv`].
pub struct Server {
    shared: Arc<Shared>,
    addr: SocketAddr,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Server {
    /// Serves connections accepted on `listener`.
    pub fn from_listener(listener: TcpListener, config: ServerConfig) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config,
            table: Table::default(),
            queue: Queue::new(),
            closing: AtomicBool::new(false),
        });
        let reaper = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("http-reaper".into())
                .spawn(move || shared.table.reap_until_closed())?
        };
        let accept = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("http-accept".into())
                .spawn(move || accept_loop(&shared, &listener))?
        };
        Ok(Server {
            shared,
            addr,
            threads: Mutex::new(vec![reaper, accept]),
        })
    }

    /// The address the server listens on.
    pub fn server_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next request for a worker; blocks. An error after [`Server::unblock`].
    pub fn recv(&self) -> io::Result<Request> {
        self.shared
            .queue
            .pop(None)
            .ok_or_else(|| io::Error::other("unblocked"))
    }

    /// Like [`Server::recv`], waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> io::Result<Option<Request>> {
        Ok(self.shared.queue.pop(Some(timeout)))
    }

    /// Makes one thread blocked in [`Server::recv`] return an error.
    pub fn unblock(&self) {
        self.shared.queue.unblock();
    }

    /// What the server did with connections so far.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.table.counters;
        Stats {
            open: self.shared.table.open(),
            accepted: c.accepted.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            evicted: c.evicted.load(Ordering::Relaxed),
            timed_out: c.timed_out.load(Ordering::Relaxed),
            writers_cut: c.writers_cut.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.shared.table.close();
        // A connection to ourselves wakes the accept loop so it sees `closing`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        // The reaper returns at once; the accept thread is left to end on its own (joining it
        // would hang if the wake-up connection could not be made).
        let reaper =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner))
                .into_iter()
                .next();
        if let Some(reaper) = reaper {
            let _ = reaper.join();
        }
    }
}

/// Linux's "too many open files" (process and system).
fn out_of_descriptors(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(23 | 24))
}

/// Accepts connections until the server closes. An accept error never ends the loop: running out
/// of file descriptors drops the oldest evictable connection and backs off (5 ms doubling to
/// 1 s, as Go's net/http does); a connection reset before it was accepted is skipped.
fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    let mut backoff = Duration::ZERO;
    let mut last_warning: Option<Instant> = None;
    loop {
        let accepted = listener.accept();
        if shared.closing.load(Ordering::SeqCst) {
            return;
        }
        let (socket, peer) = match accepted {
            Ok(pair) => {
                backoff = Duration::ZERO;
                pair
            }
            Err(err) => {
                if out_of_descriptors(&err) {
                    shared.table.evict_one();
                }
                if last_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    log::warn!("http accept failed error={err}");
                    last_warning = Some(Instant::now());
                }
                backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                thread::sleep(backoff);
                continue;
            }
        };
        admit(shared, socket, peer);
    }
}

/// Registers a new connection and starts its thread, or closes it.
fn admit(shared: &Arc<Shared>, socket: TcpStream, peer: SocketAddr) {
    let limits = &shared.config.limits;
    let id = match shared.table.admit(&socket, limits, Instant::now()) {
        Ok(id) => id,
        Err(refusal) => {
            shared
                .table
                .counters
                .refused
                .fetch_add(1, Ordering::Relaxed);
            match refusal {
                Refusal::Full => log::debug!("every connection is busy; closing a new one"),
                Refusal::Io(err) => {
                    if out_of_descriptors(&err) {
                        shared.table.evict_one();
                    }
                    log::debug!("cannot register a connection error={err}");
                }
                Refusal::Closing => {}
            }
            return;
        }
    };
    let for_thread = shared.clone();
    let spawned = thread::Builder::new()
        .name("http-conn".into())
        .stack_size(limits.connection_stack_bytes)
        .spawn(move || connection::serve(&for_thread, id, socket, Some(peer)));
    if let Err(err) = spawned {
        shared.table.leave(id);
        shared
            .table
            .counters
            .refused
            .fetch_add(1, Ordering::Relaxed);
        log::warn!("cannot start a connection thread; closing the connection error={err}");
    }
}

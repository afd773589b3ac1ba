//! The HTTP side: a tiny_http server on our own listener, served by a small pool of worker threads
//! that we own, and the routing of `/`, the metrics path, `/healthz`, `/readyz` and `/sync`.
//! Routing ([`route`]) is pure and tested without sockets; the workers only move bytes.
//!
//! Bounds (with the patched tiny_http in `vendor/`): a request line or header over 16 KiB, or more
//! than 100 headers, ends the connection; at most 512 connections are open; a silent connection is
//! closed after 30 s; one write to a client that does not read gives up after 10 s. Large bodies
//! (scrapes) are written by short-lived writer threads, at most [`MAX_WRITERS`] at once, so
//! clients that never read cannot occupy the workers that answer `/healthz`.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crate::buffers::{self, Body};
use crate::cache::Cache;
use crate::cli::Config;
use crate::error::Error;
use crate::exposition;
use crate::health::WatchKind;
use crate::page;
use crate::scrape;

/// Bodies above this size are written off the worker threads (smaller ones fit socket buffers).
const INLINE_BODY_BYTES: usize = 64 * 1024;

/// Most large responses being written at once; beyond it a scrape gets 503 at once.
pub const MAX_WRITERS: usize = 16;

/// Large responses being written now.
static WRITERS: AtomicUsize = AtomicUsize::new(0);

/// Size of the last metrics body plus an eighth, the capacity of the next one.
static LAST_BODY_BYTES: AtomicUsize = AtomicUsize::new(0);

/// A response, before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// Content-Type header.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Reply {
    fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: body.into().into_bytes(),
        }
    }
}

/// Everything routing needs.
pub struct Site {
    /// The shared cache.
    pub cache: Arc<Cache>,
    /// The configuration.
    pub config: Arc<Config>,
}

const PATHS: &[&str] = &["/", "/healthz", "/readyz", "/sync"];

/// Routes one request. `HEAD` is answered like `GET` (tiny_http drops the body). The metrics
/// body is gzipped when `accept_gzip` (the client sent `Accept-Encoding: gzip`).
pub fn route(site: &Site, method: &str, url: &str, accept_gzip: bool) -> Reply {
    let path = url.split('?').next().unwrap_or_default();
    let known = PATHS.contains(&path) || path == site.config.metrics_path;
    if !known {
        return Reply::text(404, "not found\n");
    }
    if method != "GET" && method != "HEAD" {
        let mut reply = Reply::text(405, "method not allowed\n");
        reply.headers.push(("Allow", "GET, HEAD".into()));
        return reply;
    }
    match path {
        "/healthz" => Reply::text(200, "ok\n"),
        "/readyz" => match site.cache.health.readiness() {
            Ok(()) => Reply::text(200, "ok\n"),
            Err(reason) => Reply::text(503, format!("not ready: {reason}\n")),
        },
        "/sync" => Reply {
            status: 200,
            content_type: "application/json",
            headers: Vec::new(),
            body: sync_json(site).into_bytes(),
        },
        "/" => {
            let snapshot = scrape::snapshot(&site.cache, &site.config);
            let body = page::render(&page::View {
                config: &site.config,
                health: &site.cache.health,
                snapshot: &snapshot,
                filter: page::query_param(url, "group").filter(|g| !g.is_empty()),
            });
            site.cache.recycle(snapshot);
            Reply {
                status: 200,
                content_type: "text/html; charset=utf-8",
                headers: Vec::new(),
                body: body.into_bytes(),
            }
        }
        _ => {
            let reply = metrics(site);
            if accept_gzip {
                gzip(reply)
            } else {
                reply
            }
        }
    }
}

/// Compresses a reply at level 1: most of the size gain of level 6 at a tenth of the time.
fn gzip(mut reply: Reply) -> Reply {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(reply.body.len() / 8),
        flate2::Compression::fast(),
    );
    match encoder
        .write_all(&reply.body)
        .and_then(|()| encoder.finish())
    {
        Ok(body) => {
            buffers::SPARES.give_back(std::mem::replace(&mut reply.body, body));
            reply.headers.push(("Content-Encoding", "gzip".into()));
            reply.headers.push(("Vary", "Accept-Encoding".into()));
            reply
        }
        Err(err) => {
            log::warn!("gzip failed; sending plain text error={err}");
            reply
        }
    }
}

/// Whether an `Accept-Encoding` value admits gzip (`gzip;q=0` does not).
fn accepts_gzip(value: &str) -> bool {
    value.split(',').any(|part| {
        let mut fields = part.split(';').map(str::trim);
        let coding = fields.next().unwrap_or_default();
        let refused = fields.any(|f| {
            f.strip_prefix("q=")
                .and_then(|q| q.parse::<f64>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

/// The metrics response: binpacking families, then the operational ones.
fn metrics(site: &Site) -> Reply {
    let started = Instant::now();
    let snapshot = scrape::snapshot(&site.cache, &site.config);
    // Sized from the previous scrape so the body is not regrown (and copied) while encoding.
    let mut body = buffers::SPARES.take(LAST_BODY_BYTES.load(Ordering::Relaxed).max(64 * 1024));
    scrape::encode(&site.cache, &site.config, &snapshot, &mut body);
    site.cache.recycle(snapshot);
    site.cache
        .metrics
        .scrape_duration
        .observe(started.elapsed().as_secs_f64());
    let ready = site.cache.health.readiness().is_ok();
    site.cache.metrics.ready.set(i64::from(ready));
    site.cache.metrics.encode(&mut body);
    LAST_BODY_BYTES.store(body.len() + body.len() / 8, Ordering::Relaxed);
    Reply {
        status: 200,
        content_type: exposition::CONTENT_TYPE,
        headers: Vec::new(),
        body,
    }
}

/// `/sync`: per watch, synced flag, last activity age, object counts, last error.
fn sync_json(site: &Site) -> String {
    let h = &site.cache.health;
    let mut watches = serde_json::Map::new();
    for kind in [WatchKind::Nodes, WatchKind::Pods] {
        let w = h.watch(kind);
        watches.insert(
            kind.as_str().into(),
            serde_json::json!({
                "synced": w.synced(),
                "last_event_age_seconds": h.ever_heard(kind).then(|| h.age_of(kind).as_secs_f64()),
                "objects": w.objects(),
                "listed": w.listed(),
                "last_error": w.last_error(),
            }),
        );
    }
    let counts = site.cache.read().counts();
    let value = serde_json::json!({
        "ready": h.readiness().is_ok(),
        "server_version": h.server_version(),
        "resync_period_seconds": site.config.resync_period.map(|d| d.as_secs_f64()),
        "cache_age_seconds": h.cache_age().as_secs_f64(),
        "watches": watches,
        "counts": {
            "nodes": counts.nodes,
            "pods": counts.pods,
            "counted_pods": counts.counted_pods,
            "pending_pods": counts.pending_pods,
        },
    });
    let mut out = value.to_string();
    out.push('\n');
    out
}

/// A running server: its address and how to stop it.
pub struct Server {
    server: Arc<tiny_http::Server>,
    workers: Vec<JoinHandle<()>>,
    stopping: Arc<AtomicBool>,
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
}

/// A handle that stops the server from another thread.
#[derive(Clone)]
pub struct Stopper {
    server: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    workers: usize,
}

impl Stopper {
    /// Makes every worker return.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for _ in 0..self.workers {
            self.server.unblock();
        }
    }
}

impl Server {
    /// Binds the listener and starts the workers.
    pub fn start(site: Site) -> Result<Server, Error> {
        let addr = site.config.metrics_addr;
        let listener = TcpListener::bind(addr).map_err(|source| Error::Listen {
            addr: addr.to_string(),
            source,
        })?;
        let addr = listener.local_addr().map_err(|source| Error::Listen {
            addr: addr.to_string(),
            source,
        })?;
        let server =
            tiny_http::Server::from_listener(listener, None).map_err(|e| Error::Listen {
                addr: addr.to_string(),
                source: std::io::Error::other(e.to_string()),
            })?;
        let server = Arc::new(server);
        let stopping = Arc::new(AtomicBool::new(false));
        let site = Arc::new(site);
        let mut workers = Vec::new();
        for i in 0..site.config.http_workers {
            let (server, stopping, site) = (server.clone(), stopping.clone(), site.clone());
            let handle = std::thread::Builder::new()
                .name(format!("http-{i}"))
                .spawn(move || serve(&server, &stopping, &site))
                .map_err(|source| Error::Start {
                    what: "http worker",
                    source,
                })?;
            workers.push(handle);
        }
        Ok(Server {
            server,
            workers,
            stopping,
            addr,
        })
    }

    /// A handle to stop the server.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            server: self.server.clone(),
            stopping: self.stopping.clone(),
            workers: self.workers.len(),
        }
    }

    /// Waits for every worker to return.
    pub fn join(self) {
        for w in self.workers {
            if w.join().is_err() {
                log::error!("an http worker panicked");
            }
        }
    }
}

fn serve(server: &tiny_http::Server, stopping: &AtomicBool, site: &Site) {
    loop {
        let request = match server.recv() {
            Ok(request) => request,
            Err(err) => {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                log::warn!("http accept failed error={err}");
                continue;
            }
        };
        let method = request.method().as_str().to_owned();
        let gzip = request
            .headers()
            .iter()
            .any(|h| h.field.equiv("Accept-Encoding") && accepts_gzip(h.value.as_str()));
        let mut reply = route(site, &method, request.url(), gzip);
        if reply.body.len() > INLINE_BODY_BYTES {
            if WRITERS.fetch_add(1, Ordering::SeqCst) < MAX_WRITERS {
                let spawned =
                    std::thread::Builder::new()
                        .name("http-write".into())
                        .spawn(move || {
                            respond(request, reply);
                            WRITERS.fetch_sub(1, Ordering::SeqCst);
                        });
                if let Err(err) = spawned {
                    WRITERS.fetch_sub(1, Ordering::SeqCst);
                    log::warn!("cannot start a response writer error={err}");
                }
                continue;
            }
            WRITERS.fetch_sub(1, Ordering::SeqCst);
            log::warn!("too many slow scrape clients; answering 503");
            reply = Reply::text(503, "too many responses in flight\n");
        }
        respond(request, reply);
    }
}

/// Writes a reply; a client that went away is only logged at debug.
fn respond(request: tiny_http::Request, reply: Reply) {
    // Every body is whole before it is sent: a Content-Length (the scraper can size its buffer)
    // instead of tiny_http's chunked encoding above 32 KiB (three writes per 8 KiB chunk).
    let body = Body::new(reply.body, &buffers::SPARES);
    let length = body.len();
    let mut response = with_header(
        tiny_http::Response::new(reply.status.into(), Vec::new(), body, Some(length), None)
            .with_chunked_threshold(usize::MAX),
        "Content-Type",
        reply.content_type,
    );
    for (name, value) in &reply.headers {
        response = with_header(response, name, value);
    }
    if let Err(err) = request.respond(response) {
        log::debug!("http response not delivered error={err}");
    }
}

/// Adds a header; names and values are ours and ASCII, so a failure is only logged.
fn with_header<R: std::io::Read>(
    response: tiny_http::Response<R>,
    name: &str,
    value: &str,
) -> tiny_http::Response<R> {
    if let Ok(h) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
        response.with_header(h)
    } else {
        log::warn!("dropping invalid response header name={name}");
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_used_only_when_accepted() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, gzip;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip(""));
    }

    #[test]
    fn gzipped_replies_decompress_to_the_original() {
        use std::io::Read;
        let body = "binpacking_cluster_nodes 3\n".repeat(1000);
        let reply = gzip(Reply::text(200, body.clone()));
        assert!(reply.body.len() < body.len() / 10);
        assert!(reply.headers.contains(&("Content-Encoding", "gzip".into())));
        let mut out = String::new();
        flate2::read::GzDecoder::new(&reply.body[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, body);
    }
}

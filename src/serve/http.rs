//! The HTTP side: the vendored tiny_http server (hardened, see `vendor/tiny_http/PATCHES.md`) on
//! our own listener, a small pool of worker threads that we own, and the routing of `/`, the
//! metrics path, `/healthz`, `/readyz` and `/sync`. Routing ([`answer_early`], [`route`]) is pure
//! and tested without sockets; the workers only move bytes.
//!
//! Cheap answers (`/healthz`, `/readyz`, 401, 404, 405) are given on the connection's own thread
//! and never wait for a worker; the workers build `/`, the metrics and `/sync`. Concurrent scrapes
//! share one built metrics body ([`crate::serve::shared_bodies`]). Every connection's bounds (head
//! bytes and time, idle time, writing time scaled to the body, bytes being written, the
//! connection cap that drops the oldest unfinished head first) are the server's; see
//! [`tiny_http::Limits`].

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use tiny_http::Body;

use crate::cache::Cache;
use crate::config::Config;
use crate::error::Error;
use crate::self_metrics::HttpCounts;
use crate::serve::buffers::{self, SharedBody};
use crate::serve::gzip::{self, Deflated};
use crate::serve::reused_figures::ReusedFigures;
use crate::serve::scrape;
use crate::serve::shared_bodies::Flight;
use crate::serve::web_security::WebSecurity;
use crate::views::exposition;
use crate::views::page;

/// A response, before it is written.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// Content-Type header.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// Body bytes.
    pub body: Body,
}

impl Reply {
    fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: Body::Bytes(body.into().into_bytes()),
        }
    }

    /// The body's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.body.as_slice()
    }
}

/// Everything routing needs.
pub struct Site {
    /// The shared cache.
    pub cache: Arc<Cache>,
    /// The configuration.
    pub config: Arc<Config>,
    /// TLS and basic auth from `--web-config-file`.
    pub web: Option<Arc<WebSecurity>>,
    /// Metrics bodies being built, plain and gzipped.
    bodies: [Flight; 2],
    /// The figures' text of the last metrics body.
    figures: ReusedFigures,
}

impl Site {
    /// A site over a cache, its configuration and the web security, if any.
    pub fn new(cache: Arc<Cache>, config: Arc<Config>, web: Option<Arc<WebSecurity>>) -> Site {
        Site {
            cache,
            config,
            web,
            bodies: [Flight::default(), Flight::default()],
            figures: ReusedFigures::default(),
        }
    }
}

/// Paths that answer without authentication: probes must work without credentials, and they
/// tell nothing about the cluster.
const OPEN_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// The answers that need no worker: health and readiness, and refusals (401 without valid
/// credentials when basic auth is configured, 404, 405). `None`: a worker builds the answer
/// with [`route`].
pub fn answer_early(
    site: &Site,
    method: &str,
    url: &str,
    authorization: Option<&str>,
) -> Option<Reply> {
    let allowed = |site: &Site| {
        site.web
            .as_ref()
            .and_then(|w| w.auth())
            .is_none_or(|auth| auth.allows(authorization))
    };
    cheap(site, method, url, allowed)
}

fn cheap(site: &Site, method: &str, url: &str, allowed: impl Fn(&Site) -> bool) -> Option<Reply> {
    let path = url.split('?').next().unwrap_or_default();
    let get = method == "GET" || method == "HEAD";
    if get && OPEN_PATHS.contains(&path) {
        return Some(health(site, path));
    }
    if !allowed(site) {
        let mut reply = Reply::text(401, "unauthorized\n");
        reply.headers.push((
            "WWW-Authenticate",
            "Basic realm=\"binpacking-exporter\"".into(),
        ));
        return Some(reply);
    }
    let known = crate::config::RESERVED_PATHS.contains(&path) || path == site.config.metrics_path;
    if !known {
        return Some(Reply::text(404, "not found\n"));
    }
    if !get {
        let mut reply = Reply::text(405, "method not allowed\n");
        reply.headers.push(("Allow", "GET, HEAD".into()));
        return Some(reply);
    }
    None
}

fn health(site: &Site, path: &str) -> Reply {
    if path == "/readyz" {
        match site.cache.health.readiness() {
            Ok(()) => Reply::text(200, "ok\n"),
            Err(reason) => Reply::text(503, format!("not ready: {reason}\n")),
        }
    } else {
        Reply::text(200, "ok\n")
    }
}

/// Routes one request (authentication aside: [`answer_early`] checks it first). `HEAD` is
/// answered like `GET` (the server leaves the body out). The metrics body is gzipped when
/// `accept_gzip` (the client accepts gzip).
pub fn route(site: &Site, method: &str, url: &str, accept_gzip: bool) -> Reply {
    route_received(site, method, url, accept_gzip, Instant::now())
}

/// [`route`] for a request received at `received` (a metrics body built after that time is
/// shared with it).
fn route_received(
    site: &Site,
    method: &str,
    url: &str,
    accept_gzip: bool,
    received: Instant,
) -> Reply {
    if let Some(reply) = cheap(site, method, url, |_| true) {
        return reply;
    }
    let path = url.split('?').next().unwrap_or_default();
    match path {
        "/sync" => Reply {
            status: 200,
            content_type: "application/json",
            headers: Vec::new(),
            body: Body::Bytes(sync_json(site).into_bytes()),
        },
        "/" => {
            let snapshot = scrape::snapshot(&site.cache, &site.config);
            let body = page::render(&page::View {
                resources: &site.config.resources,
                metrics_path: &site.config.metrics_path,
                health: &site.cache.health,
                snapshot: &snapshot,
                filter: page::query_param(url, "group").filter(|g| !g.is_empty()),
            });
            scrape::recycle(snapshot);
            Reply {
                status: 200,
                content_type: "text/html; charset=utf-8",
                headers: Vec::new(),
                body: Body::Bytes(body.into_bytes()),
            }
        }
        _ => {
            let flight = &site.bodies[usize::from(accept_gzip)];
            let body = flight.join(received, || metrics(site, accept_gzip));
            let mut reply = Reply {
                status: 200,
                content_type: exposition::CONTENT_TYPE,
                headers: vec![("Vary", "Accept-Encoding".into())],
                body: Body::Shared(body.clone()),
            };
            if let Some(encoding) = body.encoding() {
                reply.headers.push(("Content-Encoding", encoding.into()));
            }
            reply
        }
    }
}

/// Whether an `Accept-Encoding` value admits gzip: an explicit `gzip` entry decides by its
/// weight (`gzip;q=0` refuses, in any case, also after `*`); without one, `*` decides.
pub fn accepts_gzip(value: &str) -> bool {
    let mut gzip = None;
    let mut any = None;
    for part in value.split(',') {
        let mut fields = part.split(';').map(str::trim);
        let coding = fields.next().unwrap_or_default();
        let weight = fields
            .filter_map(|f| {
                let (name, q) = f.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("q")
                    .then(|| q.trim().parse::<f64>().unwrap_or(0.0))
            })
            .next_back()
            .unwrap_or(1.0);
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(gzip.map_or(weight, |w: f64| w.min(weight)));
        } else if coding == "*" {
            any = Some(weight);
        }
    }
    gzip.or(any).is_some_and(|w| w > 0.0)
}

/// The metrics body, gzipped when `gzip`: the clock-driven families, the figures (reused while
/// the state is unchanged: [`ReusedFigures`]), then the operational families.
fn metrics(site: &Site, gzip: bool) -> SharedBody {
    let started = Instant::now();
    let mut clock = Vec::with_capacity(1024);
    let figures = scrape::encode_clock(&site.cache, &site.config, &mut clock).then(|| {
        let (key, render) = scrape::figures(&site.cache, &site.config);
        let (figures, source) = site.figures.get(key, gzip, render);
        site.cache
            .metrics
            .scrape_figures
            .with_label_values(&[source.as_str()])
            .inc();
        figures
    });
    site.cache
        .metrics
        .scrape_duration
        .observe(started.elapsed().as_secs_f64());
    let ready = site.cache.health.readiness().is_ok();
    site.cache.metrics.ready.set(i64::from(ready));
    let mut own = Vec::with_capacity(16 * 1024);
    site.cache.metrics.encode(&mut own);
    if gzip {
        let middle = match &figures {
            // Nothing between the clock-driven families and the operational ones.
            None => Some(None),
            // Unless deflating failed (logged): then the body goes plain.
            Some(f) => f.deflated.as_deref().map(Some),
        };
        if let Some(body) = middle.and_then(|m| spliced(&clock, m, &own)) {
            return body;
        }
        // Compressing failed (logged) and the figures were kept deflated only: the same
        // response in plain text.
        if figures.as_ref().is_some_and(|f| f.plain.is_none()) {
            return metrics(site, false);
        }
    }
    // Figures asked for in plain text (or kept so when deflating failed) have it.
    let text = figures.and_then(|f| f.plain.clone());
    let text: &[u8] = text.as_deref().map_or(&[], AsRef::as_ref);
    let mut body = buffers::SPARES.take(clock.len() + text.len() + own.len());
    body.extend_from_slice(&clock);
    body.extend_from_slice(text);
    body.extend_from_slice(&own);
    SharedBody::new(body, &buffers::SPARES)
}

/// A gzipped body of `clock`, the deflated figures and `own`; `None` if deflating failed.
fn spliced(clock: &[u8], figures: Option<&Deflated>, own: &[u8]) -> Option<SharedBody> {
    let mut body = buffers::SPARES.take(figures.map_or(0, Deflated::len) + own.len() / 4 + 4096);
    match gzip::gzip(clock, figures, own, &mut body) {
        Ok(()) => Some(SharedBody::new(body, &buffers::SPARES).encoded("gzip")),
        Err(err) => {
            log::warn!("gzip failed; sending plain text error={err}");
            None
        }
    }
}

/// `/sync`: per watch, synced flag, last activity age, object counts, last error.
fn sync_json(site: &Site) -> String {
    let h = &site.cache.health;
    let mut watches = serde_json::Map::new();
    for kind in h.required() {
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
    // Before the first complete list the counts would be zeros, not the cluster.
    let counts = h.readiness().is_ok().then(|| site.cache.read().counts());
    let value = serde_json::json!({
        "ready": h.readiness().is_ok(),
        "server_version": h.server_version(),
        "devices": format!("{:?}", h.device_watch()).to_lowercase(),
        "resync_period_seconds": site.config.resync_period.map(|d| d.as_secs_f64()),
        "cache_age_seconds": h.cache_age().as_secs_f64(),
        "watches": watches,
        "publishing": scrape::publishing(&site.cache),
        "counts": counts.map(|c| serde_json::json!({
            "nodes": c.nodes,
            "pods": c.pods,
            "counted_pods": c.counted_pods,
            "pending_pods": c.pending_pods,
        })),
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

/// Connections the kernel queues before the accept loop takes them. std's `bind` asks for 128: a
/// burst of a few hundred connects (a client that opens and resets connections in a loop)
/// overflowed it and a probe's SYN was dropped, to be retried a second later.
const LISTEN_BACKLOG: i32 = 1024;

/// Binds the listening socket with [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`, as std does).
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Gives the cheap answers on the connection's own thread.
struct Early(Arc<Site>);

impl tiny_http::EarlyAnswer for Early {
    fn answer(&self, request: &tiny_http::Request) -> Option<tiny_http::Response> {
        let reply = answer_early(
            &self.0,
            request.method().as_str(),
            request.url(),
            request.header("Authorization"),
        )?;
        Some(response(&self.0, reply))
    }
}

impl Server {
    /// Binds the listener and starts the workers.
    pub fn start(site: Site) -> Result<Server, Error> {
        let addr = site.config.metrics_addr;
        let listen_error = |source| Error::Listen {
            addr: addr.to_string(),
            source,
        };
        let listener = listen(addr).map_err(listen_error)?;
        let addr = listener.local_addr().map_err(listen_error)?;
        let site = Arc::new(site);
        let tls = site
            .web
            .clone()
            .filter(|w| w.tls())
            .map(|w| w as Arc<dyn tiny_http::Handshake>);
        let server = tiny_http::Server::from_listener(
            listener,
            tiny_http::ServerConfig {
                limits: tiny_http::Limits::default(),
                tls,
                early: Some(Arc::new(Early(site.clone()))),
            },
        )
        .map_err(|source| Error::Start {
            what: "http server",
            source: Box::new(source),
        })?;
        let server = Arc::new(server);
        let stopping = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        for i in 0..site.config.http_workers {
            let (server, stopping, site) = (server.clone(), stopping.clone(), site.clone());
            let handle = std::thread::Builder::new()
                .name(format!("http-{i}"))
                .spawn(move || serve(&server, &stopping, &site))
                .map_err(|source| Error::Start {
                    what: "http worker",
                    source: Box::new(source),
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
                log::warn!("http worker woke without a request error={err}");
                continue;
            }
        };
        let gzip = request
            .headers()
            .iter()
            .any(|h| h.field.equiv("Accept-Encoding") && accepts_gzip(h.value.as_str()));
        let path = request.url().split('?').next().unwrap_or_default();
        if path == site.config.metrics_path {
            let stats = server.stats();
            site.cache.metrics.observe_http(&HttpCounts {
                open: stats.open,
                refused: stats.refused,
                evicted: stats.evicted,
                deadline: stats.timed_out,
                slow_writer: stats.writers_cut,
            });
        }
        let reply = route_received(
            site,
            request.method().as_str(),
            request.url(),
            gzip,
            request.received(),
        );
        if let Err(err) = request.respond(response(site, reply)) {
            log::debug!("http response not delivered error={err}");
        }
    }
}

/// The server's response for a reply, with the web configuration's extra headers.
fn response(site: &Site, reply: Reply) -> tiny_http::Response {
    let mut response = tiny_http::Response::new(reply.status, reply.body)
        .with_header_str("Content-Type", reply.content_type);
    for (name, value) in &reply.headers {
        response = response.with_header_str(name, value);
    }
    if let Some(web) = &site.web {
        for (name, value) in web.headers() {
            response = response.with_header_str(&name, &value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_used_only_when_accepted() {
        for (value, accepted) in [
            ("gzip", true),
            ("deflate, gzip;q=0.5", true),
            ("*", true),
            ("x-gzip", true),
            ("gzip;q=0", false),
            ("GZIP;Q=0", false),
            ("gzip; q=0.000", false),
            ("*, gzip;q=0", false),
            ("gzip;q=0, *", false),
            ("*;q=0", false),
            ("identity, *;q=0", false),
            ("br, *;q=0.1", true),
            ("identity", false),
            ("", false),
        ] {
            assert_eq!(accepts_gzip(value), accepted, "{value:?}");
        }
    }

    #[test]
    fn gzipped_bodies_decompress_to_the_original() {
        use std::io::Read;
        let body = "binpacking_cluster_nodes 3\n".repeat(1000);
        let gz = spliced(b"", None, body.as_bytes()).unwrap();
        assert_eq!(gz.encoding(), Some("gzip"));
        let bytes = (*std::sync::Arc::new(gz)).as_ref().to_vec();
        assert!(bytes.len() < body.len() / 10);
        let mut out = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, body);
    }
}

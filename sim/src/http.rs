//! A small HTTP/1.1 server on `std::net`: one thread per connection, keep-alive, Content-Length
//! and chunked request bodies, chunked streaming responses, size limits on the request head.
//!
//! It owns its listener so that an outage can be simulated: `refuse` drops the listener and every
//! open connection, then re-binds the same port (std sets SO_REUSEADDR on Unix listeners). It knows
//! nothing about Kubernetes; handlers get a parsed `Request` and an `Exchange` to answer on.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Longest accepted request line or header line.
const MAX_LINE_BYTES: usize = 16 * 1024;
/// Largest accepted header section.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most headers in one request.
const MAX_HEADERS: usize = 128;
/// Largest accepted body (a control `List` of a whole large cluster fits).
const MAX_BODY_BYTES: usize = 2 << 30;

/// A parsed request.
#[derive(Debug, Default)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Percent-decoded path.
    pub path: String,
    /// The raw query string (without `?`).
    pub raw_query: String,
    /// Decoded query pairs in order.
    pub query: Vec<(String, String)>,
    /// Headers with lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
    /// False when the client asked to close or spoke HTTP/1.0 without keep-alive.
    pub keep_alive: bool,
}

impl Request {
    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection between requests.
    Closed,
    /// A socket error.
    Io,
    /// The request is not valid HTTP/1.1 (answered with 400).
    Malformed(&'static str),
    /// The request head is too large (431).
    HeadTooLarge,
    /// The body is too large (413).
    BodyTooLarge,
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Io
    }
}

/// Reads one line ending in LF, without the line ending; `None` at a clean EOF.
fn read_line(r: &mut impl BufRead, max: usize) -> Result<Option<String>, ReadError> {
    let mut buf = Vec::new();
    let n = r
        .take(u64::try_from(max + 2).unwrap_or(u64::MAX))
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(if buf.len() > max {
            ReadError::HeadTooLarge
        } else {
            ReadError::Malformed("unexpected end of request")
        });
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| ReadError::Malformed("request head is not UTF-8"))
}

/// Decodes `%XX` escapes (and `+` as space when `plus_is_space`), leaving invalid escapes as-is.
pub fn percent_decode(input: &str, plus_is_space: bool) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(b) = hex {
                    out.push(b);
                    i += 3;
                } else {
                    out.push(b'%');
                    i += 1;
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a query string into decoded pairs (`a=1&b&c=x%20y`).
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// Reads one request; the body is read fully (Content-Length or chunked).
pub fn read_request(r: &mut impl BufRead) -> Result<Request, ReadError> {
    // Tolerate blank lines before a request line (RFC 9112 §2.2).
    let line = loop {
        match read_line(r, MAX_LINE_BYTES)? {
            None => return Err(ReadError::Closed),
            Some(l) if l.is_empty() => {}
            Some(l) => break l,
        }
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed("bad request line"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ReadError::Malformed("bad method"));
    }
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(ReadError::Malformed("unsupported HTTP version")),
    };
    if !target.starts_with('/') {
        return Err(ReadError::Malformed("request target must be a path"));
    }
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    let mut head_bytes = line.len();
    loop {
        let Some(h) = read_line(r, MAX_LINE_BYTES)? else {
            return Err(ReadError::Malformed("unexpected end of headers"));
        };
        if h.is_empty() {
            break;
        }
        head_bytes += h.len();
        if head_bytes > MAX_HEAD_BYTES || headers.len() >= MAX_HEADERS {
            return Err(ReadError::HeadTooLarge);
        }
        let Some((name, value)) = h.split_once(':') else {
            return Err(ReadError::Malformed("header without colon"));
        };
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(ReadError::Malformed("bad header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut req = Request {
        method: method.to_string(),
        path: percent_decode(raw_path, false),
        raw_query: raw_query.to_string(),
        query: parse_query(raw_query),
        headers,
        body: Vec::new(),
        keep_alive: http11,
    };
    if let Some(conn) = req.header("connection") {
        let conn = conn.to_ascii_lowercase();
        if conn.contains("close") {
            req.keep_alive = false;
        } else if conn.contains("keep-alive") {
            req.keep_alive = true;
        }
    }
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        req.body = read_chunked_body(r)?;
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| ReadError::Malformed("bad content-length"))?;
        if len > MAX_BODY_BYTES {
            return Err(ReadError::BodyTooLarge);
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body)
            .map_err(|_| ReadError::Malformed("body shorter than content-length"))?;
        req.body = body;
    }
    Ok(req)
}

fn read_chunked_body(r: &mut impl BufRead) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r, MAX_LINE_BYTES)?
            .ok_or(ReadError::Malformed("unexpected end of chunked body"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ReadError::Malformed("bad chunk size"))?;
        if size == 0 {
            // Trailers up to the blank line.
            loop {
                match read_line(r, MAX_LINE_BYTES)? {
                    Some(l) if !l.is_empty() => {}
                    _ => return Ok(body),
                }
            }
        }
        if body.len() + size > MAX_BODY_BYTES {
            return Err(ReadError::BodyTooLarge);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])
            .map_err(|_| ReadError::Malformed("chunk shorter than its size"))?;
        let crlf = read_line(r, 2)?;
        if crlf.as_deref() != Some("") {
            return Err(ReadError::Malformed("chunk not followed by CRLF"));
        }
    }
}

/// A piece of a response body: owned bytes or bytes shared with the store.
pub enum Part {
    /// Bytes built for this response.
    Owned(Vec<u8>),
    /// Fixed text.
    Static(&'static [u8]),
    /// Bytes kept elsewhere (a stored object); never copied.
    Shared(Arc<dyn AsRef<[u8]> + Send + Sync>),
}

impl Part {
    fn bytes(&self) -> &[u8] {
        match self {
            Part::Owned(v) => v,
            Part::Static(s) => s,
            Part::Shared(s) => (**s).as_ref(),
        }
    }
}

/// A complete (non-streaming) response.
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Extra headers (Content-Type included).
    pub headers: Vec<(&'static str, String)>,
    /// The body, written part by part.
    pub body: Vec<Part>,
}

impl Response {
    /// A JSON response from ready bytes.
    pub fn json(status: u16, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body: vec![Part::Owned(body)],
        }
    }

    /// A plain-text response.
    pub fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", "text/plain; charset=utf-8".into())],
            body: vec![Part::Owned(body.as_bytes().to_vec())],
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        410 => "Gone",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// One request's answer channel.
pub struct Exchange<'a> {
    writer: &'a mut BufWriter<TcpStream>,
    probe: &'a TcpStream,
    keep_alive: bool,
    /// The status sent, once sent.
    pub status: Option<u16>,
}

impl Exchange<'_> {
    /// True when the peer has closed the connection (checked without blocking).
    pub fn peer_closed(&self) -> bool {
        peer_closed(self.probe)
    }

    fn head(
        &mut self,
        status: u16,
        headers: &[(&'static str, String)],
        framing: &str,
    ) -> io::Result<()> {
        self.status = Some(status);
        let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        for (k, v) in headers {
            head.push_str(k);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        head.push_str(framing);
        if !self.keep_alive {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        self.writer.write_all(head.as_bytes())
    }

    /// Sends a complete response with Content-Length.
    pub fn send(&mut self, response: Response) -> io::Result<()> {
        let len: usize = response.body.iter().map(|p| p.bytes().len()).sum();
        self.head(
            response.status,
            &response.headers,
            &format!("Content-Length: {len}\r\n"),
        )?;
        for part in &response.body {
            self.writer.write_all(part.bytes())?;
        }
        self.writer.flush()
    }

    /// Starts a chunked response; the caller writes chunks and finishes the stream.
    pub fn stream(
        &mut self,
        status: u16,
        headers: &[(&'static str, String)],
    ) -> io::Result<ChunkedStream<'_>> {
        self.head(status, headers, "Transfer-Encoding: chunked\r\n")?;
        self.writer.flush()?;
        Ok(ChunkedStream {
            writer: self.writer,
            probe: self.probe,
            buffer: Vec::with_capacity(64 * 1024),
        })
    }
}

/// True when the peer has closed its side (checked without blocking).
fn peer_closed(probe: &TcpStream) -> bool {
    if probe.set_nonblocking(true).is_err() {
        return true;
    }
    let mut byte = [0u8; 1];
    let closed = match probe.peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    };
    let _ = probe.set_nonblocking(false);
    closed
}

/// A chunked response body; data is buffered and sent as one chunk per `flush`.
pub struct ChunkedStream<'a> {
    writer: &'a mut BufWriter<TcpStream>,
    probe: &'a TcpStream,
    buffer: Vec<u8>,
}

impl ChunkedStream<'_> {
    /// True when the peer has closed the connection (checked without blocking).
    pub fn peer_closed(&self) -> bool {
        peer_closed(self.probe)
    }

    /// Appends bytes to the current chunk, sending it early when it grows large.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= 256 * 1024 {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends the buffered bytes as one chunk.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.buffer.is_empty() {
            write!(self.writer, "{:x}\r\n", self.buffer.len())?;
            self.writer.write_all(&self.buffer)?;
            self.writer.write_all(b"\r\n")?;
            self.buffer.clear();
        }
        self.writer.flush()
    }

    /// Sends what is buffered and the terminating chunk.
    pub fn finish(mut self) -> io::Result<()> {
        self.flush()?;
        self.writer.write_all(b"0\r\n\r\n")?;
        self.writer.flush()
    }
}

/// Answers requests.
pub trait Handler: Send + Sync + 'static {
    /// Handles one request; an error closes the connection.
    fn handle(&self, request: Request, exchange: &mut Exchange<'_>) -> io::Result<()>;
}

/// A listening server.
pub struct Server {
    addr: SocketAddr,
    handler: Arc<dyn Handler>,
    connections: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
    refuse_until: Mutex<Option<Instant>>,
    name: &'static str,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Server {
    /// Starts accepting on `listener` in a background thread.
    pub fn start(
        listener: TcpListener,
        handler: Arc<dyn Handler>,
        name: &'static str,
    ) -> io::Result<Arc<Server>> {
        let server = Arc::new(Server {
            addr: listener.local_addr()?,
            handler,
            connections: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            refuse_until: Mutex::new(None),
            name,
        });
        let accepting = server.clone();
        thread::Builder::new()
            .name(format!("{name}-accept"))
            .spawn(move || accepting.accept_loop(listener))?;
        Ok(server)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn refusing(&self) -> bool {
        lock(&self.refuse_until).is_some_and(|until| Instant::now() < until)
    }

    /// Simulates an outage: the listener is closed and every open connection dropped for
    /// `duration`, then the same port listens again.
    pub fn refuse(&self, duration: Duration) {
        *lock(&self.refuse_until) = Some(Instant::now() + duration);
        // Wake the blocked accept() so the loop sees the flag and drops the listener.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(500));
        for conn in lock(&self.connections).values() {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }

    fn accept_loop(self: Arc<Self>, mut listener: TcpListener) {
        loop {
            for incoming in listener.incoming() {
                if self.refusing() {
                    break;
                }
                match incoming {
                    Ok(stream) => self.spawn_connection(stream),
                    Err(e) => {
                        eprintln!("kube-sim: {} accept failed: {e}", self.name);
                        thread::sleep(Duration::from_millis(10));
                    }
                }
            }
            drop(listener);
            // A connection that raced the flag may still be registered; drop it too.
            for conn in lock(&self.connections).values() {
                let _ = conn.shutdown(Shutdown::Both);
            }
            loop {
                let until = *lock(&self.refuse_until);
                let now = Instant::now();
                match until {
                    Some(u) if now < u => thread::sleep((u - now).min(Duration::from_millis(50))),
                    _ => break,
                }
            }
            listener = loop {
                match TcpListener::bind(self.addr) {
                    Ok(l) => break l,
                    Err(e) => {
                        eprintln!(
                            "kube-sim: {} re-bind {} failed: {e}; retrying",
                            self.name, self.addr
                        );
                        thread::sleep(Duration::from_millis(50));
                    }
                }
            };
            eprintln!("kube-sim: {} listening again on {}", self.name, self.addr);
        }
    }

    fn spawn_connection(self: &Arc<Self>, stream: TcpStream) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            lock(&self.connections).insert(id, clone);
        }
        let server = self.clone();
        let spawned = thread::Builder::new()
            .name(format!("{}-conn", self.name))
            .spawn(move || {
                server.serve_connection(&stream);
                let _ = stream.shutdown(Shutdown::Both);
                lock(&server.connections).remove(&id);
            });
        if let Err(e) = spawned {
            eprintln!(
                "kube-sim: {} cannot start a connection thread: {e}",
                self.name
            );
            lock(&self.connections).remove(&id);
        }
    }

    fn serve_connection(&self, stream: &TcpStream) {
        let _ = stream.set_nodelay(true);
        let (Ok(read_half), Ok(write_half)) = (stream.try_clone(), stream.try_clone()) else {
            return;
        };
        let mut reader = BufReader::with_capacity(16 * 1024, read_half);
        let mut writer = BufWriter::with_capacity(256 * 1024, write_half);
        loop {
            let mut exchange = Exchange {
                writer: &mut writer,
                probe: stream,
                keep_alive: false,
                status: None,
            };
            match read_request(&mut reader) {
                Ok(request) => {
                    exchange.keep_alive = request.keep_alive;
                    let keep_alive = request.keep_alive;
                    if self.handler.handle(request, &mut exchange).is_err() || !keep_alive {
                        return;
                    }
                    if exchange.status.is_none() {
                        // A handler that answered nothing: close rather than desynchronize.
                        return;
                    }
                }
                Err(ReadError::Closed | ReadError::Io) => return,
                Err(err) => {
                    let (status, message) = match err {
                        ReadError::HeadTooLarge => (431, "request header fields too large"),
                        ReadError::BodyTooLarge => (413, "request body too large"),
                        ReadError::Malformed(m) => (400, m),
                        ReadError::Closed | ReadError::Io => (400, "bad request"),
                    };
                    let _ = exchange.send(Response::text(status, message));
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<Request, ReadError> {
        read_request(&mut BufReader::new(raw))
    }

    #[test]
    fn a_get_with_query_and_headers_parses() {
        let r = parse(b"GET /api/v1/pods?labelSelector=app%3Dweb%2Ctier+in+(a)&watch=1 HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n").unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/api/v1/pods");
        assert_eq!(r.param("labelSelector"), Some("app=web,tier in (a)"));
        assert_eq!(r.param("watch"), Some("1"));
        assert_eq!(r.header("accept"), Some("application/json"));
        assert!(r.keep_alive);
    }

    #[test]
    fn bodies_are_read_by_length_or_chunks() {
        let r = parse(b"POST /objects HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello").unwrap();
        assert_eq!(r.body, b"hello");
        let r = parse(b"POST /objects HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nhel\r\n2\r\nlo\r\n0\r\nT: v\r\n\r\n").unwrap();
        assert_eq!(r.body, b"hello");
        let r = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert!(!r.keep_alive);
    }

    #[test]
    fn malformed_requests_are_rejected_not_panicked_on() {
        let cases: &[&[u8]] = &[
            b"GET\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"get / HTTP/1.1\r\n\r\n",
            b"GET noslash HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
            b"GET / HTTP/1.1 extra\r\n\r\n",
            b"\xff\xfe / HTTP/1.1\r\n\r\n",
        ];
        for raw in cases {
            assert!(
                parse(raw).is_err(),
                "{:?} should fail",
                String::from_utf8_lossy(raw)
            );
        }
        assert!(matches!(parse(b""), Err(ReadError::Closed)));
    }

    #[test]
    fn oversized_heads_are_refused() {
        let mut long = b"GET /".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_LINE_BYTES + 10));
        long.extend_from_slice(b" HTTP/1.1\r\n\r\n");
        assert!(matches!(parse(&long), Err(ReadError::HeadTooLarge)));
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..(MAX_HEADERS + 1) {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert!(matches!(parse(&many), Err(ReadError::HeadTooLarge)));
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        assert_eq!(percent_decode("a%2Fb%zz%4", false), "a/b%zz%4");
        assert_eq!(percent_decode("a+b", true), "a b");
        assert_eq!(percent_decode("a+b", false), "a+b");
        assert_eq!(
            parse_query("a=1&&b&c=%3D"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), String::new()),
                ("c".into(), "=".into())
            ]
        );
    }
}

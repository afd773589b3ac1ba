//! A request as the workers see it. PATCH(binpacking-exporter): upstream's `Request` carried a
//! reader of the body and a writer to the socket, so the worker that answered also wrote (and a
//! client that did not read held that worker). Here a request carries only its head and a
//! one-shot channel back to its connection's own thread, which writes the answer under the
//! connection table's deadline; the body is never read.

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc::SyncSender;
use std::time::Instant;

use crate::common::{HTTPVersion, Header, Method};
use crate::response::Response;

/// One request: method, target, version and headers.
pub struct Request {
    method: Method,
    url: String,
    version: HTTPVersion,
    headers: Vec<Header>,
    remote_addr: Option<SocketAddr>,
    secure: bool,
    received: Instant,
    answer: Option<SyncSender<Response>>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("remote_addr", &self.remote_addr)
            .finish_non_exhaustive()
    }
}

impl Request {
    /// A request with no connection behind it (for the early answer and for tests).
    pub fn new(
        method: Method,
        url: String,
        version: HTTPVersion,
        headers: Vec<Header>,
        remote_addr: Option<SocketAddr>,
        secure: bool,
    ) -> Request {
        Request {
            method,
            url,
            version,
            headers,
            remote_addr,
            secure,
            received: Instant::now(),
            answer: None,
        }
    }

    /// When the whole head had arrived (PATCH(binpacking-exporter): lets the caller answer a
    /// request that waited in the queue with a response built after it arrived).
    pub fn received(&self) -> Instant {
        self.received
    }

    pub(crate) fn with_answer(mut self, answer: SyncSender<Response>) -> Request {
        self.answer = Some(answer);
        self
    }

    /// Whether the connection is TLS.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target as sent (path and query).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every header, in the order sent.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The first value of the header `name` (compared without case).
    pub fn header(&self, name: &'static str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str())
    }

    /// The HTTP version of the request.
    pub fn http_version(&self) -> &HTTPVersion {
        &self.version
    }

    /// The peer's address (absent when the peer reset the connection before it was read).
    pub fn remote_addr(&self) -> Option<&SocketAddr> {
        self.remote_addr.as_ref()
    }

    /// Hands the response to the connection's thread, which writes it. Fails when the
    /// connection is already gone (the client left or its deadline passed).
    pub fn respond(mut self, response: Response) -> io::Result<()> {
        let Some(answer) = self.answer.take() else {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "request has no connection",
            ));
        };
        answer
            .send(response)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the connection is gone"))
    }
}

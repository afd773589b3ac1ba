//! A response and how it is written. PATCH(binpacking-exporter): upstream's `Response<R: Read>`
//! streamed a reader, chose chunked encoding above 32 KiB and wrote 8 KiB per `write(2)`. Here a
//! body is bytes in memory, owned or shared (many connections can write one body built once),
//! always sent with a Content-Length in blocks of up to 256 KiB.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::SystemTime;

use crate::common::{Header, StatusCode};

/// Bytes of a body copied into the same `write` as the head.
const INLINE_BODY_BYTES: usize = 16 * 1024;
/// Largest single write of a body.
const WRITE_BLOCK_BYTES: usize = 256 * 1024;

/// A response body.
#[derive(Clone)]
pub enum Body {
    /// No body.
    Empty,
    /// Bytes owned by this response.
    Bytes(Vec<u8>),
    /// Bytes shared with other responses (and their owner), freed when the last one is done.
    Shared(Arc<dyn AsRef<[u8]> + Send + Sync>),
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Body({} bytes)", self.as_slice().len())
    }
}

impl Body {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Body::Empty => &[],
            Body::Bytes(bytes) => bytes,
            Body::Shared(shared) => (**shared).as_ref(),
        }
    }

    /// The identity of the memory behind the body: equal for responses sharing one body.
    pub(crate) fn identity(&self) -> usize {
        match self {
            Body::Empty => 0,
            Body::Bytes(bytes) => bytes.as_ptr() as usize,
            Body::Shared(shared) => Arc::as_ptr(shared).cast::<u8>() as usize,
        }
    }
}

/// A status, headers and a body.
#[derive(Debug, Clone)]
pub struct Response {
    status: StatusCode,
    headers: Vec<Header>,
    body: Body,
}

impl Response {
    /// A response with a status and a body.
    pub fn new(status: impl Into<StatusCode>, body: Body) -> Response {
        Response {
            status: status.into(),
            headers: Vec::new(),
            body,
        }
    }

    /// A plain-text response.
    pub fn text(status: impl Into<StatusCode>, text: impl Into<String>) -> Response {
        Response::new(status, Body::Bytes(text.into().into_bytes()))
            .with_header_str("Content-Type", "text/plain; charset=utf-8")
    }

    /// Adds a header.
    pub fn with_header(mut self, header: Header) -> Response {
        self.headers.push(header);
        self
    }

    /// Adds a header from a name and value; a name or value that is not valid ASCII, or a value
    /// with a line break, is dropped (and logged), never sent half-formed.
    pub fn with_header_str(self, name: &str, value: &str) -> Response {
        if value.contains(['\r', '\n']) {
            log::warn!("dropping a response header with a line break name={name}");
            return self;
        }
        match Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            Ok(header) => self.with_header(header),
            Err(()) => {
                log::warn!("dropping an invalid response header name={name}");
                self
            }
        }
    }

    /// The status.
    pub fn status_code(&self) -> StatusCode {
        self.status
    }

    /// The headers added so far.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// Writes the response: status line, headers (with Date, Content-Length and, when the
    /// connection ends after it, `Connection: close`), and the body unless `head_only`.
    pub(crate) fn write_to(
        &self,
        out: &mut dyn Write,
        head_only: bool,
        close: bool,
    ) -> io::Result<()> {
        let body = self.body.as_slice();
        let no_body = matches!(self.status.0, 100..=199 | 204 | 304);
        let mut head = Vec::with_capacity(256 + body.len().min(INLINE_BODY_BYTES));
        write!(
            head,
            "HTTP/1.1 {} {}\r\nDate: {}\r\n",
            self.status.0,
            self.status.default_reason_phrase(),
            httpdate::fmt_http_date(SystemTime::now())
        )?;
        for h in &self.headers {
            if h.field.equiv("Content-Length")
                || h.field.equiv("Transfer-Encoding")
                || h.field.equiv("Connection")
                || h.field.equiv("Date")
            {
                continue;
            }
            write!(head, "{}: {}\r\n", h.field, h.value)?;
        }
        if !no_body {
            write!(head, "Content-Length: {}\r\n", body.len())?;
        }
        if close {
            head.extend_from_slice(b"Connection: close\r\n");
        }
        head.extend_from_slice(b"\r\n");
        let send_body = !head_only && !no_body;
        if send_body && body.len() <= INLINE_BODY_BYTES {
            head.extend_from_slice(body);
            return out.write_all(&head);
        }
        out.write_all(&head)?;
        if send_body {
            for block in body.chunks(WRITE_BLOCK_BYTES) {
                out.write_all(block)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(response: &Response, head_only: bool, close: bool) -> String {
        let mut out = Vec::new();
        response.write_to(&mut out, head_only, close).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_response_has_a_length_and_says_when_the_connection_closes() {
        let r = Response::text(200, "ok\n");
        let text = written(&r, false, true);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nDate: "), "{text}");
        assert!(text.contains("Content-Length: 3\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\nok\n"));
        let kept = written(&r, false, false);
        assert!(!kept.contains("Connection:"));
    }

    #[test]
    fn head_sends_the_length_of_the_body_it_leaves_out() {
        let r = Response::new(200, Body::Bytes(vec![b'x'; 100_000]));
        let text = written(&r, true, false);
        assert!(text.contains("Content-Length: 100000\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn a_shared_body_is_written_whole_and_has_one_identity() {
        let shared: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(vec![b'y'; 600_000]);
        let a = Response::new(200, Body::Shared(shared.clone()));
        let b = Response::new(200, Body::Shared(shared));
        assert_eq!(a.body().identity(), b.body().identity());
        let text = written(&a, false, false);
        assert!(text.ends_with(&"y".repeat(600_000)));
    }

    #[test]
    fn framing_headers_of_the_caller_are_not_sent_twice() {
        let r = Response::text(200, "a").with_header_str("Content-Length", "99");
        let text = written(&r, false, false);
        assert_eq!(text.matches("Content-Length").count(), 1);
    }
}

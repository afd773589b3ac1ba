//! PATCH(binpacking-exporter): reading one request head into a buffer bounded by
//! `Limits::max_head_bytes` (request line and headers together), and parsing it. Replaces
//! upstream's `client.rs`, which read byte by byte into growing lines and read ahead pipelined
//! requests. Bytes after the head (a pipelined request) stay in the buffer, never more than the
//! buffer's bound; a request body is never read.

use std::io::{self, Read};
use std::str::FromStr;

use crate::common::{HTTPVersion, Header, Method};

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) method: Method,
    pub(crate) target: String,
    pub(crate) version: HTTPVersion,
    pub(crate) headers: Vec<Header>,
}

impl Head {
    /// The first value of a header.
    fn header(&self, name: &'static str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str())
    }

    /// Whether the request carries a body (which this server never reads).
    pub(crate) fn has_body(&self) -> Result<bool, HeadError> {
        if self
            .headers
            .iter()
            .any(|h| h.field.equiv("Transfer-Encoding"))
        {
            return Ok(true);
        }
        let mut length: Option<u64> = None;
        for h in self
            .headers
            .iter()
            .filter(|h| h.field.equiv("Content-Length"))
        {
            let value = h.value.as_str();
            // Digits only: no sign, no spaces. A number that does not fit is still a body.
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(HeadError::Malformed);
            }
            let this = value.parse::<u64>().unwrap_or(u64::MAX);
            if length.is_some_and(|l| l != this) {
                return Err(HeadError::Malformed);
            }
            length = Some(this);
        }
        Ok(length.unwrap_or(0) > 0)
    }

    /// Whether the client asks to keep the connection open after this request.
    pub(crate) fn keep_alive(&self) -> bool {
        let tokens = |wanted: &str| {
            self.headers
                .iter()
                .filter(|h| h.field.equiv("Connection"))
                .flat_map(|h| h.value.as_str().split(','))
                .any(|t| t.trim().eq_ignore_ascii_case(wanted))
        };
        if self.version == HTTPVersion(1, 0) {
            tokens("keep-alive")
        } else {
            !tokens("close") && !tokens("upgrade")
        }
    }

    /// The `Host` header, when present.
    #[allow(dead_code)]
    pub(crate) fn host(&self) -> Option<&str> {
        self.header("Host")
    }
}

/// Why a head could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// The connection ended (or was cut) before a whole head arrived.
    Closed,
    /// The head passed the byte or header bound: 431.
    TooLarge,
    /// Not an HTTP/1 request head: 400.
    Malformed,
    /// An HTTP version other than 1.0 and 1.1: 505.
    Version,
}

/// The bytes read from a connection and not yet consumed.
pub(crate) struct HeadBuffer {
    bytes: Vec<u8>,
    /// Bytes already searched for the end of the head.
    scanned: usize,
    max: usize,
}

impl HeadBuffer {
    /// An empty buffer that never holds more than `max` bytes.
    pub(crate) fn new(max: usize) -> HeadBuffer {
        HeadBuffer {
            bytes: Vec::new(),
            scanned: 0,
            max,
        }
    }

    /// Whether no byte is buffered.
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Reads once from `source`, at most up to the bound; `Ok(0)` means the peer closed.
    pub(crate) fn fill(&mut self, source: &mut dyn Read) -> io::Result<usize> {
        let room = self.max.saturating_sub(self.bytes.len()).min(4096);
        if room == 0 {
            return Ok(0);
        }
        let start = self.bytes.len();
        self.bytes.resize(start + room, 0);
        let result = loop {
            match source.read(&mut self.bytes[start..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        self.bytes.truncate(start + *result.as_ref().unwrap_or(&0));
        result
    }

    /// Reads until one whole head is buffered and parses it; the bytes after it stay.
    pub(crate) fn read_head(
        &mut self,
        source: &mut dyn Read,
        max_headers: usize,
    ) -> Result<Head, HeadError> {
        loop {
            // Empty lines before a request line are ignored (RFC 9112 section 2.2).
            let blank = self
                .bytes
                .iter()
                .take_while(|b| **b == b'\r' || **b == b'\n')
                .count();
            if blank > 0 {
                self.bytes.drain(..blank);
                self.scanned = 0;
            }
            if let Some(end) = self.head_end() {
                let head = parse(&self.bytes[..end], max_headers);
                self.bytes.drain(..end);
                self.scanned = 0;
                return head;
            }
            if self.bytes.len() >= self.max {
                return Err(HeadError::TooLarge);
            }
            match self.fill(source) {
                Ok(0) | Err(_) => return Err(HeadError::Closed),
                Ok(_) => {}
            }
        }
    }

    /// The length of the head (through its empty line) when it is whole in the buffer.
    fn head_end(&mut self) -> Option<usize> {
        let from = self.scanned.saturating_sub(3);
        let found = self.bytes[from..]
            .windows(2)
            .enumerate()
            .find_map(|(i, w)| match w {
                [b'\n', b'\n'] => Some(from + i + 2),
                [b'\n', b'\r'] if self.bytes.get(from + i + 2) == Some(&b'\n') => {
                    Some(from + i + 3)
                }
                _ => None,
            });
        self.scanned = self.bytes.len();
        found
    }
}

/// Parses a head (request line, headers, the empty line).
fn parse(head: &[u8], max_headers: usize) -> Result<Head, HeadError> {
    let text = std::str::from_utf8(head).map_err(|_| HeadError::Malformed)?;
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .take_while(|l| !l.is_empty());
    let (method, target, version) = request_line(lines.next().ok_or(HeadError::Malformed)?)?;
    let mut headers = Vec::new();
    for line in lines {
        if headers.len() >= max_headers {
            return Err(HeadError::TooLarge);
        }
        // Obsolete line folding is rejected, as RFC 9112 section 5.2 allows.
        if line.starts_with([' ', '\t']) {
            return Err(HeadError::Malformed);
        }
        let (name, _) = line.split_once(':').ok_or(HeadError::Malformed)?;
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(HeadError::Malformed);
        }
        headers.push(Header::from_str(line).map_err(|()| HeadError::Malformed)?);
    }
    Ok(Head {
        method,
        target,
        version,
        headers,
    })
}

fn request_line(line: &str) -> Result<(Method, String, HTTPVersion), HeadError> {
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed);
    };
    if method.is_empty() || !method.bytes().all(is_token_byte) || target.is_empty() {
        return Err(HeadError::Malformed);
    }
    if !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(HeadError::Malformed);
    }
    let version = match version {
        "HTTP/1.1" => HTTPVersion(1, 1),
        "HTTP/1.0" => HTTPVersion(1, 0),
        v if v.starts_with("HTTP/") => return Err(HeadError::Version),
        _ => return Err(HeadError::Malformed),
    };
    let method = Method::from_str(method).map_err(|()| HeadError::Malformed)?;
    Ok((method, target.to_owned(), version))
}

/// A `tchar` of RFC 9110 section 5.6.2.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &[u8], max: usize) -> (Result<Head, HeadError>, HeadBuffer) {
        let mut buffer = HeadBuffer::new(max);
        let mut source = input;
        let head = buffer.read_head(&mut source, 100);
        (head, buffer)
    }

    #[test]
    fn a_head_is_parsed_and_a_pipelined_request_stays_buffered() {
        let (head, buffer) = read(
            b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\nGET / HTTP/1.1\r\n\r\n",
            1024,
        );
        let head = head.unwrap();
        assert_eq!(head.method, Method::Get);
        assert_eq!(head.target, "/metrics?x=1");
        assert_eq!(head.version, HTTPVersion(1, 1));
        assert_eq!(head.headers.len(), 2);
        assert!(head.keep_alive());
        assert_eq!(head.has_body(), Ok(false));
        assert_eq!(buffer.bytes, b"GET / HTTP/1.1\r\n\r\n");
    }

    #[test]
    fn the_whole_head_is_bounded_not_each_line() {
        let mut input = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..50 {
            input.extend_from_slice(format!("X-{i}: {}\r\n", "v".repeat(100)).as_bytes());
        }
        input.extend_from_slice(b"\r\n");
        let (head, buffer) = read(&input, 4096);
        assert_eq!(head.unwrap_err(), HeadError::TooLarge);
        assert!(buffer.bytes.len() <= 4096);
    }

    #[test]
    fn bad_heads_are_refused_with_the_right_error() {
        for (input, want) in [
            (&b"GARBAGE\r\n\r\n"[..], HeadError::Malformed),
            (b"GET\r\n\r\n", HeadError::Malformed),
            (b"\x00\x01\x02\xff\r\n\r\n", HeadError::Malformed),
            (b"GET / HTTP/9.9\r\n\r\n", HeadError::Version),
            (b"GET / HTTP/1.1\r\n folded\r\n\r\n", HeadError::Malformed),
            (
                b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
                HeadError::Malformed,
            ),
            (b"GET /  HTTP/1.1\r\n\r\n", HeadError::Malformed),
            (b"GET / HTTP/1.1\r\nHost: a", HeadError::Closed),
        ] {
            assert_eq!(read(input, 1024).0.unwrap_err(), want, "{input:?}");
        }
    }

    #[test]
    fn a_body_is_recognised_without_reading_it_and_lengths_are_checked() {
        let body = |headers: &str| {
            read(format!("POST / HTTP/1.1\r\n{headers}\r\n").as_bytes(), 1024)
                .0
                .unwrap()
                .has_body()
        };
        assert_eq!(body("Content-Length: 0\r\n"), Ok(false));
        assert_eq!(body("Content-Length: 18446744073709551615\r\n"), Ok(true));
        assert_eq!(
            body("Content-Length: 99999999999999999999999\r\n"),
            Ok(true)
        );
        assert_eq!(body("Transfer-Encoding: chunked\r\n"), Ok(true));
        assert_eq!(body("Content-Length: -1\r\n"), Err(HeadError::Malformed));
        assert_eq!(
            body("Content-Length: 1\r\nContent-Length: 2\r\n"),
            Err(HeadError::Malformed)
        );
    }

    #[test]
    fn keep_alive_follows_the_version_and_the_connection_header() {
        let keep = |text: &str| read(text.as_bytes(), 1024).0.unwrap().keep_alive();
        assert!(keep("GET / HTTP/1.1\r\n\r\n"));
        assert!(!keep("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"));
        assert!(!keep("GET / HTTP/1.0\r\n\r\n"));
        assert!(keep("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    }

    #[test]
    fn a_head_that_arrives_one_byte_at_a_time_is_found() {
        struct Drip<'a>(&'a [u8]);
        impl Read for Drip<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let Some((first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                out[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        let mut buffer = HeadBuffer::new(1024);
        let mut drip = Drip(b"\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        let head = buffer.read_head(&mut drip, 100).unwrap();
        assert_eq!(head.target, "/healthz");
    }
}

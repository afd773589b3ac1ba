//! PATCH(binpacking-exporter): one connection's thread. It reads a head (bounded in bytes and,
//! through the connection table, in time), answers it itself when the early answer knows the
//! path, else queues it for the workers and waits for their response, and writes the response
//! under a deadline scaled to its size. It reads the next request only after the response is
//! written, so a pipelining client never has more than one request in the workers' hands, and a
//! client that does not read holds only its own connection thread. A request body is never read:
//! the response is sent and the connection closed.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use crate::common::Method;
use crate::head::{HeadBuffer, HeadError};
use crate::request::Request;
use crate::response::Response;
use crate::table::{BodyKey, Phase};
use crate::{Shared, Stream};

/// After a response to a request whose body was not read, how long the socket stays open with
/// its write side shut, so the client reads the response before the close resets the
/// connection (Go's net/http waits for the same reason).
const UNREAD_BODY_CLOSE_DELAY: Duration = Duration::from_millis(250);

/// Removes the connection from the table when its thread ends, however it ends.
struct Leave<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.shared.table.leave(self.id);
    }
}

/// Serves one connection until it closes, fails or is cut.
pub(crate) fn serve(shared: &Shared, id: u64, tcp: TcpStream, remote: Option<SocketAddr>) {
    let _leave = Leave { shared, id };
    let limits = &shared.config.limits;
    // Backstops only: the table's deadlines are the bounds that hold.
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_read_timeout(Some(limits.idle_timeout.max(limits.head_timeout)));
    let _ = tcp.set_write_timeout(Some(limits.write_timeout));
    let secure = shared.config.tls.is_some();
    let mut stream: Box<dyn Stream> = match &shared.config.tls {
        Some(tls) => match tls.accept(tcp) {
            Ok(stream) => stream,
            Err(err) => {
                log::debug!("tls setup failed error={err}");
                return;
            }
        },
        None => Box::new(tcp),
    };
    let mut buffer = HeadBuffer::new(limits.max_head_bytes);
    let mut first = true;
    loop {
        if !first {
            // Kept alive: idle until the next request's first byte, then the head deadline.
            shared
                .table
                .enter(id, Phase::Idle, Some(limits.idle_timeout), None, limits);
            if buffer.is_empty() && !matches!(buffer.fill(&mut *stream), Ok(n) if n > 0) {
                return;
            }
            shared
                .table
                .enter(id, Phase::Head, Some(limits.head_timeout), None, limits);
        }
        first = false;
        let head = match buffer
            .read_head(&mut *stream, limits.max_headers)
            .and_then(|head| Ok((head.has_body()?, head)))
        {
            Ok(head) => head,
            Err(err) => return refuse(shared, id, &mut *stream, &err),
        };
        let (has_body, head) = head;
        let close = has_body || !head.keep_alive();
        let head_only = head.method == Method::Head;
        let request = Request::new(
            head.method,
            head.target,
            head.version,
            head.headers,
            remote,
            secure,
        );
        let early = shared
            .config
            .early
            .as_ref()
            .and_then(|e| e.answer(&request));
        let response = match early {
            Some(response) => response,
            None => ask_workers(shared, id, request),
        };
        if write(shared, id, &mut *stream, &response, head_only, close).is_err() {
            return;
        }
        if close {
            return end(shared, id, has_body);
        }
    }
}

/// Queues the request for the workers and waits for their answer.
fn ask_workers(shared: &Shared, id: u64, request: Request) -> Response {
    let limits = &shared.config.limits;
    let (answer, answered) = mpsc::sync_channel(1);
    shared.table.enter(id, Phase::Queued, None, None, limits);
    shared.queue.push(request.with_answer(answer));
    match answered.recv_timeout(limits.answer_timeout) {
        Ok(response) => response,
        Err(RecvTimeoutError::Timeout) => {
            log::warn!("no http worker answered in time; answering 503");
            Response::text(503, "no worker answered in time\n")
        }
        Err(RecvTimeoutError::Disconnected) => {
            Response::text(500, "the request was dropped without an answer\n")
        }
    }
}

/// Writes a response under the writing deadline and the bound on bytes being written.
fn write(
    shared: &Shared,
    id: u64,
    stream: &mut dyn Stream,
    response: &Response,
    head_only: bool,
    close: bool,
) -> io::Result<()> {
    let limits = &shared.config.limits;
    let body = response.body();
    let bytes = if head_only { 0 } else { body.as_slice().len() };
    let key = (bytes > 0).then(|| BodyKey {
        identity: body.identity(),
        bytes,
    });
    shared.table.enter(
        id,
        Phase::Writing,
        Some(limits.write_time(bytes)),
        key,
        limits,
    );
    let written = response
        .write_to(stream, head_only, close)
        .and_then(|()| stream.flush());
    if let Err(err) = &written {
        log::debug!("http response not delivered error={err}");
    }
    written
}

/// Answers a head that could not be read with its error status and closes.
fn refuse(shared: &Shared, id: u64, stream: &mut dyn Stream, err: &HeadError) {
    let response = match err {
        HeadError::Closed => return,
        HeadError::TooLarge => Response::text(431, "request head too large\n"),
        HeadError::Malformed => Response::text(400, "bad request\n"),
        HeadError::Version => Response::text(505, "only HTTP/1.0 and HTTP/1.1 are served\n"),
    };
    if write(shared, id, stream, &response, false, true).is_ok() {
        end(shared, id, true);
    }
}

/// Ends a connection after its last response: the write side is shut at once; when the client
/// may still be sending (an unread body, an unparsed head) the close waits a moment.
fn end(shared: &Shared, id: u64, unread: bool) {
    shared.table.finish(id);
    if unread {
        std::thread::sleep(UNREAD_BODY_CLOSE_DELAY);
    }
}

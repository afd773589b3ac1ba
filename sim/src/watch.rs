//! Watch streams: newline-delimited JSON events over a chunked response. Replays history from a
//! resourceVersion or sends the current state as synthetic ADDED events (with the
//! `k8s.io/initial-events-end` BOOKMARK for streaming lists), then follows the store live,
//! applying selectors with transitions (an object that stops matching arrives as DELETED, one that
//! starts matching as ADDED, as kube-apiserver's watch cache does).
//!
//! A stream ends on `timeoutSeconds`, when the control interface closes all watches or compacts
//! the history, when the peer goes away, or with a 410 ERROR event when it falls behind history.
//!
//! The API handler validates the request and hands it over with what the stream reads
//! (`Watches`); this module never routes, parses queries or imports the API handler.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::now_unix;
use crate::faults::Faults;
use crate::format::Format;
use crate::http::{ChunkedStream, Exchange, Response};
use crate::object::{Kind, Object};
use crate::request_log::LogEntry;
use crate::select::Filter;
use crate::status::expired_status;
use crate::store::{EventType, Store, VersionError};
use crate::table;

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// From the current version, without initial events.
    Now,
    /// The current state as ADDED events first; `end_bookmark` adds the initial-events-end BOOKMARK.
    InitialEvents {
        /// True for `sendInitialEvents=true`.
        end_bookmark: bool,
    },
    /// Every change after this version.
    From(u64),
}

/// A validated watch request.
pub struct WatchRequest {
    /// Nodes or pods.
    pub kind: Kind,
    /// Namespace, label and field selection.
    pub filter: Filter,
    /// Where to start.
    pub start: Start,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `timeoutSeconds`.
    pub timeout: Duration,
    /// JSON objects or Table rows.
    pub format: Format,
}

/// What a watch stream reads besides its request, lent by the API handler.
pub struct Watches<'a> {
    /// The objects and their history.
    pub store: &'a Store,
    /// Whether an expired start is answered with HTTP 410 rather than an ERROR event.
    pub faults: &'a Faults,
    /// Period of BOOKMARK events on watches that allow them.
    pub bookmark_interval: Duration,
    /// Number of watch streams open now; kept right however a stream ends.
    pub open_watches: &'a AtomicUsize,
}

/// Keeps the open-watch count right however the stream ends.
struct OpenWatch<'a>(&'a AtomicUsize);

impl Drop for OpenWatch<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

struct EventWriter<'s, 'w> {
    stream: &'s mut ChunkedStream<'w>,
    kind: Kind,
    format: Format,
    columns_sent: bool,
    now: i64,
}

impl EventWriter<'_, '_> {
    fn object(&mut self, event_type: &str, obj: &Object) -> io::Result<()> {
        self.stream.write(b"{\"type\":\"")?;
        self.stream.write(event_type.as_bytes())?;
        self.stream.write(b"\",\"object\":")?;
        match self.format {
            Format::Json => self.stream.write(&obj.json)?,
            Format::Table(opts) => {
                let t = table::render(
                    self.kind,
                    &[obj],
                    Some(obj.resource_version),
                    None,
                    opts,
                    !self.columns_sent,
                    self.now,
                );
                self.columns_sent = true;
                self.stream.write(&t)?;
            }
        }
        self.stream.write(b"}\n")
    }

    fn bookmark(&mut self, rv: u64, initial_end: bool) -> io::Result<()> {
        let annotations = if initial_end {
            ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}"
        } else {
            ""
        };
        let line = format!(
            "{{\"type\":\"BOOKMARK\",\"object\":{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{rv}\",\"creationTimestamp\":null{annotations}}}}}}}\n",
            self.kind.kind_name(),
            self.kind.api_version()
        );
        self.stream.write(line.as_bytes())
    }

    fn error(&mut self, status: &[u8]) -> io::Result<()> {
        self.stream.write(b"{\"type\":\"ERROR\",\"object\":")?;
        self.stream.write(status)?;
        self.stream.write(b"}\n")
    }
}

impl Watches<'_> {
    /// Serves one watch request on the exchange until the stream ends.
    pub fn serve(
        &self,
        req: WatchRequest,
        log: &mut LogEntry<'_>,
        ex: &mut Exchange<'_>,
    ) -> io::Result<()> {
        let epoch = self.store.watch_epoch();
        let mut initial = Vec::new();
        let cursor_start = match req.start {
            Start::Now => self.store.current_rv(),
            Start::From(rv) => rv,
            Start::InitialEvents { .. } => {
                match self.store.list(req.kind, None, None, 0, &req.filter) {
                    Ok(page) => {
                        initial = page.items;
                        page.rv
                    }
                    Err(_) => self.store.current_rv(),
                }
            }
        };
        // An expired start answered before the stream starts, when compaction is in HTTP mode.
        if let Start::From(rv) = req.start {
            if let Err(VersionError::Expired { requested, oldest }) = self.store.events_after(rv) {
                if self.faults.compact_as_http() {
                    log.done(410);
                    return ex.send(Response::json(410, expired_status(requested, oldest)));
                }
            }
        }
        let mut stream = ex.stream(200, &[("Content-Type", "application/json".into())])?;
        log.done(200);
        self.open_watches.fetch_add(1, Ordering::Relaxed);
        let _open = OpenWatch(self.open_watches);
        let mut out = EventWriter {
            stream: &mut stream,
            kind: req.kind,
            format: req.format,
            columns_sent: false,
            now: now_unix(),
        };
        for obj in &initial {
            out.object(EventType::Added.as_str(), obj)?;
        }
        drop(initial);
        if req.start == (Start::InitialEvents { end_bookmark: true }) {
            out.bookmark(cursor_start, true)?;
        }
        out.stream.flush()?;
        let deadline = Instant::now() + req.timeout;
        let mut cursor = cursor_start;
        let mut last_bookmark = Instant::now();
        loop {
            let (events, current, current_epoch) = match self.store.events_after(cursor) {
                Ok(x) => x,
                Err(VersionError::Expired { requested, oldest }) => {
                    out.error(&expired_status(requested, oldest))?;
                    break;
                }
                Err(VersionError::TooLarge { .. }) => break,
            };
            if current_epoch != epoch {
                break;
            }
            out.now = now_unix();
            for ev in &events {
                if ev.object.kind != req.kind {
                    continue;
                }
                let now_matches =
                    ev.event_type != EventType::Deleted && req.filter.matches(&ev.object);
                let was_matching = ev.prev.as_ref().is_some_and(|p| req.filter.matches(p));
                match (ev.event_type, was_matching, now_matches) {
                    (EventType::Deleted, true, _) => {
                        out.object(EventType::Deleted.as_str(), &ev.object)?
                    }
                    (EventType::Added | EventType::Modified, false, true) => {
                        out.object(EventType::Added.as_str(), &ev.object)?
                    }
                    (EventType::Modified, true, true) => {
                        out.object(EventType::Modified.as_str(), &ev.object)?
                    }
                    (EventType::Modified, true, false) => {
                        // Stopped matching: the previous content, at the event's version.
                        let prev = ev
                            .prev
                            .as_ref()
                            .map_or_else(|| Arc::clone(&ev.object), Arc::clone);
                        out.object(
                            EventType::Deleted.as_str(),
                            &prev.with_resource_version(ev.rv),
                        )?;
                    }
                    _ => {}
                }
            }
            cursor = current.max(cursor);
            if req.bookmarks && last_bookmark.elapsed() >= self.bookmark_interval {
                out.bookmark(cursor, false)?;
                last_bookmark = Instant::now();
            }
            out.stream.flush()?;
            let now = Instant::now();
            if now >= deadline || out.stream.peer_closed() {
                break;
            }
            let until_bookmark = if req.bookmarks {
                self.bookmark_interval
                    .saturating_sub(last_bookmark.elapsed())
            } else {
                Duration::from_secs(1)
            };
            // Wake at least every second to notice a vanished peer.
            let wait = until_bookmark
                .min(deadline - now)
                .min(Duration::from_secs(1));
            self.store.wait_change(cursor, epoch, wait);
        }
        stream.finish()
    }
}

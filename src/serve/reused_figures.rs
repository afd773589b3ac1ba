//! The figures' text of the last metrics response, kept with the key of the state it was
//! rendered from ([`FiguresKey`]) and reused while that state is unchanged: a scrape of an
//! unchanged state then costs a copy of the plain text, or the compression of the few kilobytes
//! around the text deflated once ([`crate::serve::gzip`]). Only the encodings clients asked for
//! are kept: Prometheus asks for gzip, so at 5,000 nodes 0.7 MB is kept, not 9.5. A render
//! after a change takes the node families' text kept per block of nodes ([`NodeText`]) and
//! renders only the blocks whose nodes changed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::serve::buffers::{SharedBody, SPARES};
use crate::serve::gzip::Deflated;
use crate::serve::node_text::NodeText;
use crate::serve::scrape::FiguresKey;

/// The figures' text of one state, in the encodings asked for so far.
pub struct Figures {
    key: FiguresKey,
    /// The plain text (its buffer goes back to the spares when dropped).
    pub plain: Option<Arc<SharedBody>>,
    /// The text deflated once.
    pub deflated: Option<Arc<Deflated>>,
}

/// Where a response's figures came from (`binpacking_exporter_scrape_figures_total{source}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Rendered from the state.
    Rendered,
    /// The text of an earlier response: the state had not changed.
    Reused,
}

impl Source {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Rendered => "rendered",
            Source::Reused => "reused",
        }
    }
}

/// The last figures' text and the node text kept for the next render.
#[derive(Default)]
struct Kept {
    last: Option<Arc<Figures>>,
    nodes: NodeText,
}

/// The last figures' text; see the module header.
#[derive(Default)]
pub struct ReusedFigures {
    kept: Mutex<Kept>,
    /// Size of the last plain text plus an eighth: the capacity of the next one.
    next_capacity: AtomicUsize,
}

impl ReusedFigures {
    /// The figures of the state `key` names, with the plain text, or with the deflated text
    /// when `deflated` (unless deflating failed: then the plain text). When the kept text is of
    /// another state, `render` makes it with the kept node text: it returns the deflated text
    /// when `deflated` asks for it, else (or when deflating failed) `None` and writes the plain
    /// text into the buffer. Renders run one at a time.
    pub fn get(
        &self,
        key: FiguresKey,
        deflated: bool,
        render: impl FnOnce(&mut NodeText, bool, &mut Vec<u8>) -> Option<Deflated>,
    ) -> (Arc<Figures>, Source) {
        let mut guard = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let Kept { last, nodes } = &mut *guard;
        let kept = last.as_ref().filter(|f| f.key == key);
        if let Some(f) = kept {
            let has = if deflated {
                f.deflated.is_some()
            } else {
                f.plain.is_some()
            };
            if has {
                return (f.clone(), Source::Reused);
            }
            if let (true, Some(plain)) = (deflated, &f.plain) {
                if let Some(d) = deflate((**plain).as_ref()) {
                    let f = Arc::new(Figures {
                        key,
                        plain: Some(plain.clone()),
                        deflated: Some(Arc::new(d)),
                    });
                    *last = Some(f.clone());
                    return (f, Source::Reused);
                }
            }
        }
        // The same state in the other encoding stays; another state's text goes (before the
        // render: one text less held at once).
        let other = kept.cloned();
        *last = None;
        let mut f = Figures {
            key,
            plain: other.as_ref().and_then(|o| o.plain.clone()),
            deflated: other.as_ref().and_then(|o| o.deflated.clone()),
        };
        // A spare buffer for plain text only: a gzip render writes none (unless deflating
        // fails, and then the text grows as it must).
        let mut text = if deflated {
            Vec::new()
        } else {
            SPARES.take(self.next_capacity.load(Ordering::Relaxed))
        };
        if let Some(d) = render(nodes, deflated, &mut text) {
            f.deflated = Some(Arc::new(d));
            SPARES.give_back(text);
        } else {
            self.next_capacity
                .store(text.len() + text.len() / 8, Ordering::Relaxed);
            let text = Arc::new(SharedBody::new(text, &SPARES));
            nodes.keep_plain(&text);
            f.plain = Some(text);
        }
        let f = Arc::new(f);
        *last = Some(f.clone());
        (f, Source::Rendered)
    }
}

fn deflate(text: &[u8]) -> Option<Deflated> {
    Deflated::of(text)
        .inspect_err(|err| log::warn!("gzip failed; sending plain text error={err}"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(generation: u64, usage: Option<u64>) -> FiguresKey {
        FiguresKey { generation, usage }
    }

    fn plain(f: &Figures) -> Vec<u8> {
        (**f.plain.as_ref().unwrap()).as_ref().to_vec()
    }

    #[test]
    fn the_text_is_rendered_once_per_state_and_encoding() {
        let reused = ReusedFigures::default();
        let mut renders = 0;
        let get = |k: FiguresKey, deflated: bool, renders: &mut u32| {
            reused.get(k, deflated, |_, deflated, out| {
                *renders += 1;
                let text = format!("figures of {k:?}\n");
                if deflated {
                    return Some(Deflated::of(text.as_bytes()).unwrap());
                }
                out.extend_from_slice(text.as_bytes());
                None
            })
        };
        let (f, source) = get(key(1, None), false, &mut renders);
        assert_eq!((source, renders), (Source::Rendered, 1));
        assert_eq!(
            plain(&f),
            b"figures of FiguresKey { generation: 1, usage: None }\n"
        );
        let (_, source) = get(key(1, None), false, &mut renders);
        assert_eq!((source, renders), (Source::Reused, 1));
        // gzip of the same state: deflated from the kept text, not rendered again.
        let (f, source) = get(key(1, None), true, &mut renders);
        assert_eq!((source, renders), (Source::Reused, 1));
        assert!(f.deflated.is_some() && f.plain.is_some());
        // Another state: rendered again, and only the encoding asked for is kept.
        let (f, source) = get(key(2, None), true, &mut renders);
        assert_eq!((source, renders), (Source::Rendered, 2));
        assert!(f.deflated.is_some() && f.plain.is_none());
        let (f, source) = get(key(2, None), false, &mut renders);
        assert_eq!((source, renders), (Source::Rendered, 3));
        assert!(
            f.deflated.is_some(),
            "the deflated text of the same state stays"
        );
        assert_eq!(
            plain(&f),
            b"figures of FiguresKey { generation: 2, usage: None }\n"
        );
        // A new usage poll is another state.
        let (_, source) = get(key(2, Some(1)), false, &mut renders);
        assert_eq!((source, renders), (Source::Rendered, 4));
        let (_, source) = get(key(2, Some(2)), false, &mut renders);
        assert_eq!((source, renders), (Source::Rendered, 5));
        let (_, source) = get(key(2, Some(2)), true, &mut renders);
        assert_eq!((source, renders), (Source::Reused, 5));
    }
}

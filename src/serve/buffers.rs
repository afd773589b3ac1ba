//! Buffers kept from one scrape to the next. A 5,000-node exposition is ~10 MB and its snapshot
//! ~3 MB; musl's allocator maps such a buffer fresh and unmaps it when it is freed, so every
//! scrape paid a page fault per 4 KiB (a quarter of its time) and a `munmap`. A few spare
//! buffers, emptied but with their capacity, are handed out again instead: sequential scrapes
//! reuse the same ones, concurrent ones beyond the kept number allocate and free as before.

use std::sync::Mutex;

/// Byte buffers kept at most (one per scrape being written, for a scrape or two at once).
pub const SPARES_KEPT: usize = 2;

/// Smaller buffers (in bytes) are not kept: allocating them is cheap, and a small spare would
/// only be regrown.
pub const SMALLEST_SPARE: usize = 64 * 1024;

/// A set of at most `kept` spare vectors.
#[derive(Debug)]
pub struct Spares<T> {
    kept: usize,
    vectors: Mutex<Vec<Vec<T>>>,
}

impl<T> Spares<T> {
    /// No spares yet; at most `kept` will be kept.
    pub const fn new(kept: usize) -> Spares<T> {
        Spares {
            kept,
            vectors: Mutex::new(Vec::new()),
        }
    }

    /// An empty vector with room for at least `capacity` items: the largest spare when there
    /// is one (a gzipped body's small buffer would have to be regrown).
    pub fn take(&self, capacity: usize) -> Vec<T> {
        let spare = self.vectors.lock().ok().and_then(|mut spares| {
            let largest = (0..spares.len()).max_by_key(|&i| spares[i].capacity())?;
            Some(spares.swap_remove(largest))
        });
        let mut vector = spare.unwrap_or_default();
        vector.clear();
        vector.reserve(capacity);
        vector
    }

    /// Keeps `vector` (emptied) for a later [`Spares::take`]; when enough are kept already, it
    /// replaces the smallest one if it is larger (the largest are the ones worth keeping).
    pub fn give_back(&self, mut vector: Vec<T>) {
        if vector.capacity().saturating_mul(std::mem::size_of::<T>()) < SMALLEST_SPARE {
            return;
        }
        vector.clear();
        if let Ok(mut spares) = self.vectors.lock() {
            if spares.len() < self.kept {
                spares.push(vector);
            } else if let Some(smallest) = spares.iter_mut().min_by_key(|v| v.capacity()) {
                if smallest.capacity() < vector.capacity() {
                    *smallest = vector;
                }
            }
        }
    }
}

/// The process's spare byte buffers, shared by the HTTP workers.
pub static SPARES: Spares<u8> = Spares::new(SPARES_KEPT);

/// A finished response body, shared by every response that sends it; its buffer goes back to
/// the spares when the last of them is done.
#[derive(Debug)]
pub struct SharedBody {
    data: Vec<u8>,
    encoding: Option<&'static str>,
    spares: &'static Spares<u8>,
}

impl SharedBody {
    /// A body of `data`, whose buffer returns to `spares` when dropped.
    pub fn new(data: Vec<u8>, spares: &'static Spares<u8>) -> SharedBody {
        SharedBody {
            data,
            encoding: None,
            spares,
        }
    }

    /// The same body, marked as compressed with `encoding` (a Content-Encoding).
    #[must_use]
    pub fn encoded(mut self, encoding: &'static str) -> SharedBody {
        self.encoding = Some(encoding);
        self
    }

    /// The Content-Encoding of the body, if compressed.
    pub fn encoding(&self) -> Option<&'static str> {
        self.encoding
    }
}

impl AsRef<[u8]> for SharedBody {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for SharedBody {
    fn drop(&mut self) {
        self.spares.give_back(std::mem::take(&mut self.data));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_body_gives_its_buffer_back_when_the_last_holder_is_done() {
        static OURS: Spares<u8> = Spares::new(SPARES_KEPT);
        let mut data = OURS.take(1 << 20);
        data.extend_from_slice(b"hello, scraper");
        let address = data.as_ptr();
        let body = std::sync::Arc::new(SharedBody::new(data, &OURS));
        let second = body.clone();
        assert_eq!((*body).as_ref(), b"hello, scraper");
        drop(body);
        // Still held by the second response: nothing to reuse yet.
        let fresh = OURS.take(10);
        assert_ne!(fresh.as_ptr(), address);
        drop(second);
        let again = OURS.take(10);
        assert_eq!(again.as_ptr(), address);
        assert!(again.is_empty() && again.capacity() >= 1 << 20);
    }

    #[test]
    fn the_largest_spares_are_kept_and_handed_out_first() {
        let spares: Spares<u8> = Spares::new(SPARES_KEPT);
        for size in [
            SMALLEST_SPARE,
            8 * SMALLEST_SPARE,
            2 * SMALLEST_SPARE,
            4 * SMALLEST_SPARE,
        ] {
            spares.give_back(Vec::with_capacity(size));
        }
        assert!(spares.take(1).capacity() >= 8 * SMALLEST_SPARE);
        let next = spares.take(1).capacity();
        assert!(
            (4 * SMALLEST_SPARE..8 * SMALLEST_SPARE).contains(&next),
            "{next}"
        );
        assert!(
            spares.take(1).capacity() < SMALLEST_SPARE,
            "no spare left: a new buffer"
        );
    }

    #[test]
    fn at_most_the_kept_number_of_spares_is_kept() {
        let spares: Spares<u8> = Spares::new(SPARES_KEPT);
        for _ in 0..SPARES_KEPT + 3 {
            spares.give_back(Vec::with_capacity(SMALLEST_SPARE));
        }
        spares.give_back(Vec::with_capacity(100));
        assert_eq!(spares.vectors.lock().unwrap().len(), SPARES_KEPT);
    }
}

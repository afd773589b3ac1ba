//! Buffers kept from one scrape to the next. A 5,000-node exposition is ~10 MB and its snapshot
//! ~3 MB; musl's allocator maps such a buffer fresh and unmaps it when it is freed, so every
//! scrape paid a page fault per 4 KiB (a quarter of its time) and a `munmap`. A few spare
//! buffers, emptied but with their capacity, are handed out again instead: sequential scrapes
//! reuse the same ones, concurrent ones beyond the kept number allocate and free as before.

use std::io::{self, Read};
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

/// A response body that gives its buffer back when the response is done with it.
pub struct Body {
    data: Vec<u8>,
    read: usize,
    spares: &'static Spares<u8>,
}

impl Body {
    /// Reads `data` from the start; its buffer goes back to `spares` afterwards.
    pub fn new(data: Vec<u8>, spares: &'static Spares<u8>) -> Body {
        Body {
            data,
            read: 0,
            spares,
        }
    }

    /// Bytes in the body.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl Read for Body {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let rest = self.data.get(self.read..).unwrap_or_default();
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.read += n;
        Ok(n)
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        self.spares.give_back(std::mem::take(&mut self.data));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_reads_its_bytes_in_pieces_and_its_buffer_is_reused() {
        static OURS: Spares<u8> = Spares::new(SPARES_KEPT);
        let mut data = OURS.take(1 << 20);
        data.extend_from_slice(b"hello, scraper");
        let address = data.as_ptr();
        let mut body = Body::new(data, &OURS);
        assert_eq!((body.len(), body.is_empty()), (14, false));
        let mut out = Vec::new();
        let mut piece = [0u8; 5];
        loop {
            let n = body.read(&mut piece).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&piece[..n]);
        }
        assert_eq!(out, b"hello, scraper");
        drop(body);
        let again = OURS.take(10);
        assert_eq!(again.as_ptr(), address);
        assert!(again.is_empty() && again.capacity() >= 1 << 20);
        // A second take finds no spare: a new buffer.
        let fresh = OURS.take(10);
        assert_ne!(fresh.as_ptr(), address);
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

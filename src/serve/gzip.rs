//! Gzip bodies (RFC 1952) assembled from parts: text deflated on the spot around a part that was
//! deflated once ([`Deflated`]: raw deflate blocks ending on a byte boundary, not final, with the
//! part's CRC-32 and length). A scrape of an unchanged state so compresses only its few
//! kilobytes of clock-driven and operational text, not the megabytes of figures. The result is
//! one gzip member, read whole by every client (not a concatenation of members, which some
//! clients stop after the first of).

use flate2::{Compress, CompressError, Compression, FlushCompress, Status};

/// Gzip header: deflate, no flags, no modification time, unknown OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// Raw deflate blocks of one part of a body, ending with a sync flush (byte-aligned, not
/// final), made by a fresh compressor (no reference to earlier text): valid anywhere in a
/// deflate stream.
pub struct Deflated {
    bytes: Vec<u8>,
    crc: crc32fast::Hasher,
}

impl Deflated {
    /// `text` deflated at level 1 (most of the size gain of level 6 at a tenth of the time).
    pub fn of(text: &[u8]) -> Result<Deflated, CompressError> {
        Deflated::with(&mut compressor(), text)
    }

    /// `text` deflated as [`Deflated::of`] does, by `compressor` (reset first, so a compressor
    /// made once serves many parts). No text is no bytes at all.
    pub fn with(compressor: &mut Compress, text: &[u8]) -> Result<Deflated, CompressError> {
        let mut crc = crc32fast::Hasher::new();
        if text.is_empty() {
            return Ok(Deflated {
                bytes: Vec::new(),
                crc,
            });
        }
        compressor.reset();
        let mut bytes = Vec::with_capacity(text.len() / 8 + 1024);
        deflate(compressor, text, FlushCompress::Sync, &mut bytes)?;
        bytes.shrink_to_fit();
        crc.update(text);
        Ok(Deflated { bytes, crc })
    }

    /// No text: the start of a part joined from others ([`Deflated::push`]).
    pub fn empty() -> Deflated {
        Deflated {
            bytes: Vec::new(),
            crc: crc32fast::Hasher::new(),
        }
    }

    /// Appends `part` after this part's text: the blocks are copied, the CRCs combined.
    pub fn push(&mut self, part: &Deflated) {
        self.bytes.extend_from_slice(&part.bytes);
        self.crc.combine(&part.crc);
    }

    /// Frees the room a part joined from others grew beyond its bytes.
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }

    /// Compressed size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the part holds no bytes (no text).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Length of the text in bytes.
    pub fn text_len(&self) -> u64 {
        self.crc.total_len()
    }
}

/// A raw-deflate compressor at level 1.
pub fn compressor() -> Compress {
    Compress::new(Compression::fast(), false)
}

/// Appends to `out` one gzip member of `before`, the text of `middle` and `after`.
pub fn gzip(
    before: &[u8],
    middle: Option<&Deflated>,
    after: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CompressError> {
    out.extend_from_slice(&HEADER);
    let mut compressor = compressor();
    let mut crc = crc32fast::Hasher::new();
    if !before.is_empty() {
        deflate(&mut compressor, before, FlushCompress::Sync, out)?;
        crc.update(before);
        // The middle part was deflated without this text as its history.
        compressor.reset();
    }
    if let Some(middle) = middle {
        out.extend_from_slice(&middle.bytes);
        crc.combine(&middle.crc);
    }
    deflate(&mut compressor, after, FlushCompress::Finish, out)?;
    crc.update(after);
    // ISIZE is the length modulo 2^32 (RFC 1952 §2.3.1): the truncation is the format.
    #[allow(clippy::cast_possible_truncation)]
    let length = crc.total_len() as u32;
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&length.to_le_bytes());
    Ok(())
}

/// Deflates all of `input` into `out` and flushes as `flush` asks (sync: until the output is
/// byte-aligned and complete; finish: until the final block is written).
fn deflate(
    compressor: &mut Compress,
    input: &[u8],
    flush: FlushCompress,
    out: &mut Vec<u8>,
) -> Result<(), CompressError> {
    let start = compressor.total_in();
    loop {
        // Room for progress on every call: each call consumes input or writes output.
        let room = input.len() / 8 + 4096;
        if out.capacity() - out.len() < room {
            out.reserve(room);
        }
        let read = usize::try_from(compressor.total_in() - start).unwrap_or(input.len());
        let status = compressor.compress_vec(&input[read.min(input.len())..], out, flush)?;
        let read = usize::try_from(compressor.total_in() - start).unwrap_or(input.len());
        match status {
            Status::StreamEnd => return Ok(()),
            // zlib's rule: the flush is complete when it left output space unused.
            Status::Ok | Status::BufError
                if matches!(flush, FlushCompress::Sync)
                    && read >= input.len()
                    && out.len() < out.capacity() =>
            {
                return Ok(());
            }
            Status::Ok | Status::BufError => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(body: &[u8]) -> Vec<u8> {
        // A single-member reader: the body must be one member.
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut text)
            .expect("valid gzip");
        text
    }

    /// Text like an exposition: long runs of similar lines, plus some noise.
    fn text(lines: usize, seed: u64) -> Vec<u8> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut out = Vec::new();
        for i in 0..lines {
            out.extend_from_slice(
                format!(
                    "binpacking_node_allocated{{node=\"node-{i:05}\",resource=\"cpu\"}} {}.{:03}\n",
                    rng.u32(0..64),
                    rng.u32(0..1000)
                )
                .as_bytes(),
            );
        }
        out
    }

    #[test]
    fn a_body_spliced_around_a_deflated_part_is_one_valid_member_of_all_the_text() {
        for (before, middle, after) in [
            (text(3, 1), text(200_000, 2), text(50, 3)),
            (Vec::new(), text(10, 4), text(5, 5)),
            (text(5, 6), Vec::new(), Vec::new()),
            (Vec::new(), Vec::new(), Vec::new()),
        ] {
            let part = Deflated::of(&middle).unwrap();
            let mut body = Vec::new();
            gzip(&before, Some(&part), &after, &mut body).unwrap();
            let whole = [before.as_slice(), &middle, &after].concat();
            assert_eq!(gunzip(&body), whole, "{} bytes", whole.len());
            // Deflated once, the part compresses as the whole would (level 1).
            if middle.len() > 1_000_000 {
                let mut alone = Vec::new();
                gzip(&[], None, &whole, &mut alone).unwrap();
                assert!(body.len() < alone.len() + alone.len() / 50 + 1024);
                assert!(
                    body.len() < whole.len() / 4,
                    "{} of {}",
                    body.len(),
                    whole.len()
                );
            }
        }
    }

    #[test]
    fn a_part_is_reused_unchanged_between_bodies() {
        let middle = text(5_000, 7);
        let part = Deflated::of(&middle).unwrap();
        let size = part.len();
        for round in 0..3u64 {
            let before = text(2, 10 + round);
            let after = text(3, 20 + round);
            let mut body = Vec::new();
            gzip(&before, Some(&part), &after, &mut body).unwrap();
            assert_eq!(gunzip(&body), [before, middle.clone(), after].concat());
        }
        assert_eq!(part.len(), size);
        assert!(!part.is_empty());
    }

    #[test]
    fn a_body_without_a_part_is_plain_gzip() {
        let whole = text(1_000, 8);
        let mut body = Vec::new();
        gzip(&whole[..100], None, &whole[100..], &mut body).unwrap();
        assert_eq!(gunzip(&body), whole);
        assert_eq!(&body[..3], &[0x1f, 0x8b, 8]);
    }
}

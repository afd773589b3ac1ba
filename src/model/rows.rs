//! Fixed-width rows of figures in one vector, with a free list: the figures of every stored pod
//! in one allocation instead of one per pod — no allocator header or size-class rounding per
//! pod, and no small long-lived allocations scattered among the decoder's short-lived ones
//! (which keep the allocator's pages from being returned).

/// Row index.
pub type Row = u32;

/// Rows of `width` figures; see the module header.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    width: usize,
    data: Vec<u64>,
    /// Rows removed, reused first.
    free: Vec<Row>,
}

impl Rows {
    /// No rows yet, each of `width` figures.
    pub fn new(width: usize) -> Rows {
        Rows {
            width,
            data: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Stores `figures` (cut or padded with zeros to the width) in a free row.
    pub fn insert(&mut self, figures: &[u64]) -> Row {
        let figures = figures.iter().copied().chain(std::iter::repeat(0));
        if let Some(row) = self.free.pop() {
            let at = row as usize * self.width;
            for (slot, value) in self.data[at..at + self.width].iter_mut().zip(figures) {
                *slot = value;
            }
            return row;
        }
        let row = Row::try_from(self.data.len() / self.width.max(1)).unwrap_or(Row::MAX);
        self.data.extend(figures.take(self.width));
        row
    }

    /// The figures of a row.
    pub fn get(&self, row: Row) -> &[u64] {
        let at = row as usize * self.width;
        self.data.get(at..at + self.width).unwrap_or_default()
    }

    /// Frees a row for the next [`Rows::insert`].
    pub fn remove(&mut self, row: Row) {
        self.free.push(row);
    }

    /// Moves the rows in use (every one of them given by `live`, each once) to the front, in
    /// their order, renumbering them, and gives the rest back to the allocator.
    pub fn compact<'a>(&mut self, live: impl Iterator<Item = &'a mut Row>) {
        let mut live: Vec<&mut Row> = live.collect();
        live.sort_unstable_by_key(|row| **row);
        let width = self.width;
        for (index, row) in live.iter_mut().enumerate() {
            let (from, to) = (**row as usize * width, index * width);
            if from != to {
                self.data.copy_within(from..from + width, to);
            }
            **row = Row::try_from(index).unwrap_or(Row::MAX);
        }
        self.data.truncate(live.len() * width);
        self.data.shrink_to_fit();
        self.free = Vec::new();
    }

    /// Rows freed and not reused yet.
    pub fn free(&self) -> usize {
        self.free.len()
    }

    /// Rows in use.
    pub fn len(&self) -> usize {
        self.data.len() / self.width.max(1) - self.free.len()
    }

    /// Whether no row is in use.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_stored_read_freed_and_reused() {
        let mut rows = Rows::new(3);
        let a = rows.insert(&[1, 2, 3]);
        let b = rows.insert(&[4, 5]);
        assert_eq!(rows.get(a), [1, 2, 3]);
        assert_eq!(rows.get(b), [4, 5, 0], "padded to the width");
        assert_eq!(rows.len(), 2);
        rows.remove(a);
        assert_eq!(rows.len(), 1);
        let c = rows.insert(&[7, 8, 9, 10]);
        assert_eq!(c, a, "a freed row is reused");
        assert_eq!(rows.get(c), [7, 8, 9], "cut to the width");
        assert_eq!(rows.get(b), [4, 5, 0], "others untouched");
        assert_eq!(rows.data.len(), 6, "no growth while a free row exists");
        rows.remove(b);
        rows.remove(c);
        assert!(rows.is_empty());
    }

    #[test]
    fn compacting_keeps_the_live_rows_and_drops_the_rest() {
        let mut rows = Rows::new(2);
        let mut live: Vec<Row> = (0..10u64).map(|i| rows.insert(&[i, i * 10])).collect();
        for gone in [0, 3, 4, 9] {
            rows.remove(live[gone]);
        }
        let mut kept: Vec<(u64, Row)> = [1usize, 2, 5, 6, 7, 8]
            .iter()
            .map(|&i| (i as u64, live[i]))
            .collect();
        live.clear();
        // In any order: compaction sorts by row.
        kept.reverse();
        rows.compact(kept.iter_mut().map(|(_, row)| row));
        assert_eq!(rows.free(), 0);
        assert_eq!(rows.len(), 6);
        assert_eq!(rows.data.len(), 12);
        for (i, row) in &kept {
            assert_eq!(rows.get(*row), [*i, *i * 10], "row {row}");
        }
        let mut numbers: Vec<Row> = kept.iter().map(|(_, row)| *row).collect();
        numbers.sort_unstable();
        assert_eq!(numbers, [0, 1, 2, 3, 4, 5]);
    }
}

//! Pod keys (`namespace/name`) kept as 128-bit keyed hashes instead of strings: 16 bytes in a map
//! entry and no allocation per pod (a key string is ~31 bytes plus the allocator's rounding).
//! Two SipHash-1-3 hashes under independent random keys drawn once per process: two distinct pod
//! keys get the same hash with probability about n² / 2¹²⁹, below 10⁻²⁵ for ten million pods.
//! The state never needs a key back as text: a record's namespace is interned from the key at
//! hand when the record is made.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};

/// A pod key as its 128-bit hash, in 32-bit words: aligned to 4 bytes, not 16 like a `u128`, so
/// a map entry of a key and a 12-byte record is 28 bytes instead of 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodKey([u32; 4]);

impl Hash for PodKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Already uniform: its low half serves as the map's hash.
        state.write_u64(u64::from(self.0[2]) << 32 | u64::from(self.0[3]));
    }
}

/// The two random hash keys of this process.
#[derive(Debug, Clone, Default)]
pub struct PodKeys {
    high: RandomState,
    low: RandomState,
}

impl PodKeys {
    /// The hash of a pod key.
    pub fn of(&self, key: &str) -> PodKey {
        let (high, low) = (self.high.hash_one(key), self.low.hash_one(key));
        #[allow(clippy::cast_possible_truncation)]
        PodKey([
            (high >> 32) as u32,
            high as u32,
            (low >> 32) as u32,
            low as u32,
        ])
    }
}

/// The hasher of maps keyed by [`PodKey`]: passes the key's own hash through.
#[derive(Debug, Clone, Copy, Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by `PodKey`; a plain FNV-1a keeps the hasher total.
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map keyed by pod key.
pub type PodMap<V> = HashMap<PodKey, V, BuildHasherDefault<Prehashed>>;

/// A set of pod keys.
pub type PodSet = HashSet<PodKey, BuildHasherDefault<Prehashed>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_equal_and_a_million_distinct_keys_stay_distinct() {
        let keys = PodKeys::default();
        assert_eq!(keys.of("ns/a"), keys.of("ns/a"));
        assert_ne!(keys.of("ns/a"), keys.of("ns/b"));
        assert_ne!(keys.of("a/b"), keys.of("ab/"), "the separator counts");
        let mut seen = PodSet::default();
        for i in 0..1_000_000u32 {
            assert!(seen.insert(keys.of(&format!("namespace-{}/pod-{i}", i % 97))));
        }
        // Another process (other random keys) hashes differently.
        assert_ne!(PodKeys::default().of("ns/a"), keys.of("ns/a"));
    }

    #[test]
    fn a_map_finds_what_it_holds() {
        let keys = PodKeys::default();
        let mut map = PodMap::default();
        for i in 0..1000 {
            map.insert(keys.of(&format!("ns/p{i}")), i);
        }
        assert_eq!(map.get(&keys.of("ns/p500")), Some(&500));
        assert_eq!(map.get(&keys.of("ns/p1000")), None);
    }
}

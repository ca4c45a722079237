//! The memtable: a concurrent skiplist of versioned entries.
//!
//! Each write gets a sequence number; entries are ordered by key, then newest first. A reader
//! takes the published sequence number when it starts and ignores newer entries, so it never
//! sees half of a batch that the writer is still applying.
//!
//! A small bloom filter of atomic words rides along, so a point lookup of a key the memtable
//! does not hold usually skips the skiplist search (dozens of cache misses in a large one).

use std::cmp::Reverse;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crossbeam_skiplist::SkipMap;

use crate::sst::bloom::key_hash;

/// Approximate bookkeeping bytes per entry (skiplist node, two vectors).
const ENTRY_OVERHEAD_BYTES: usize = 64;

/// A value or a tombstone.
pub type Slot = Option<Vec<u8>>;

/// Entries are ordered by key, then newest (highest sequence number) first.
type InternalKey = (Vec<u8>, Reverse<u64>);
type MapEntry<'a> = crossbeam_skiplist::map::Entry<'a, InternalKey, Slot>;

/// A memtable and the number of its WAL (also its identity and its age).
#[derive(Debug)]
pub struct Memtable {
    pub number: u64,
    map: SkipMap<(Vec<u8>, Reverse<u64>), Slot>,
    bytes: AtomicUsize,
    /// The highest sequence number inserted (0: none): a flush records it in its edit.
    last_seq: AtomicU64,
    /// Bloom filter bits; empty means "no filter".
    filter: Vec<AtomicU64>,
}

const FILTER_PROBES: u8 = 6;

impl Memtable {
    /// A memtable without a filter (recovery, tests).
    pub fn new(number: u64) -> Memtable {
        Memtable {
            number,
            map: SkipMap::new(),
            bytes: AtomicUsize::new(0),
            last_seq: AtomicU64::new(0),
            filter: Vec::new(),
        }
    }

    /// A memtable whose filter is sized for about `capacity_bytes` of entries.
    pub fn with_filter(number: u64, capacity_bytes: usize) -> Memtable {
        // One bit per 16 bytes of capacity: about 10 bits per entry of a 16-byte key and a
        // 100-byte value as the memtable counts it (~180 bytes); 8 MiB at most.
        let words = (capacity_bytes / 1024)
            .clamp(8, 1 << 20)
            .next_multiple_of(8);
        Memtable {
            number,
            map: SkipMap::new(),
            bytes: AtomicUsize::new(0),
            last_seq: AtomicU64::new(0),
            filter: (0..words).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn filter_bits(&self, hash: u64) -> impl Iterator<Item = (usize, u64)> + use<> {
        let nbits = self.filter.len() as u64 * 64;
        crate::sst::bloom::probe_positions(hash, FILTER_PROBES, nbits)
            .map(|bit| ((bit / 64) as usize, 1u64 << (bit % 64)))
    }

    /// Inserts one entry with sequence number `seq`. Inserts must not run concurrently (the
    /// single writer holds the writer lock); reads may.
    pub fn insert(&self, key: Vec<u8>, seq: u64, slot: Slot) {
        let size = key.len() + slot.as_ref().map_or(0, Vec::len) + ENTRY_OVERHEAD_BYTES;
        if !self.filter.is_empty() {
            // Set before the entry is inserted, and so before the batch is published: a reader
            // that may see the entry sees its bits.
            // Only the single writer (under the writer lock) inserts, so a load and a store do
            // the work of an atomic read-modify-write at a fraction of its cost.
            for (word, mask) in self.filter_bits(key_hash(&key)) {
                let bits = &self.filter[word];
                let old = bits.load(Ordering::Relaxed);
                if old & mask == 0 {
                    bits.store(old | mask, Ordering::Release);
                }
            }
        }
        self.map.insert((key, Reverse(seq)), slot);
        self.bytes.fetch_add(size, Ordering::Relaxed);
        // Single writer: a load and a store instead of a read-modify-write.
        if seq > self.last_seq.load(Ordering::Relaxed) {
            self.last_seq.store(seq, Ordering::Relaxed);
        }
    }

    /// The highest sequence number inserted, 0 if none.
    pub fn last_seq(&self) -> u64 {
        self.last_seq.load(Ordering::Relaxed)
    }

    /// False only if no entry for the key with this hash is in the memtable.
    pub fn may_contain(&self, hash: u64) -> bool {
        self.filter.is_empty()
            || self
                .filter_bits(hash)
                .all(|(word, mask)| self.filter[word].load(Ordering::Acquire) & mask != 0)
    }

    /// Approximate memory used.
    pub fn approximate_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The newest entry for `key` with a sequence number at most `snapshot`.
    pub fn get(&self, key: &[u8], snapshot: u64) -> Option<Slot> {
        self.get_at(&(key.to_vec(), Reverse(snapshot)))
    }

    /// Like `get`, with the lookup key built once by the caller for several memtables.
    pub fn get_at(&self, start: &(Vec<u8>, Reverse<u64>)) -> Option<Slot> {
        let entry = self.map.lower_bound(Bound::Included(start))?;
        (entry.key().0 == start.0).then(|| entry.value().clone())
    }

    /// The newest visible entry of every key in the range, in key order.
    pub fn scan(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        snapshot: u64,
    ) -> Vec<(Vec<u8>, Slot)> {
        let start = match lower {
            Bound::Included(k) => Bound::Included((k.to_vec(), Reverse(u64::MAX))),
            Bound::Excluded(k) => Bound::Excluded((k.to_vec(), Reverse(0))),
            Bound::Unbounded => Bound::Unbounded,
        };
        let mut out: Vec<(Vec<u8>, Slot)> = Vec::new();
        for entry in self.map.range((start, Bound::Unbounded)) {
            let (key, Reverse(seq)) = entry.key();
            let past_end = match upper {
                Bound::Included(u) => key.as_slice() > u,
                Bound::Excluded(u) => key.as_slice() >= u,
                Bound::Unbounded => false,
            };
            if past_end {
                break;
            }
            if *seq > snapshot || out.last().is_some_and(|(k, _)| k == key) {
                continue;
            }
            out.push((key.clone(), entry.value().clone()));
        }
        out
    }

    /// Calls `f` with every key's newest entry, in key order, without copying (for a flush: the
    /// memtable is frozen). Stops at the first error.
    pub fn try_for_each_newest<E>(
        &self,
        mut f: impl FnMut(&[u8], &Slot) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut last: Option<MapEntry<'_>> = None;
        for entry in self.map.iter() {
            if last.as_ref().is_some_and(|l| l.key().0 == entry.key().0) {
                continue;
            }
            f(&entry.key().0, entry.value())?;
            last = Some(entry);
        }
        Ok(())
    }

    /// Every key's newest entry, in key order (for a flush: the memtable is frozen).
    pub fn newest_entries(&self) -> impl Iterator<Item = (Vec<u8>, Slot)> + '_ {
        let mut last: Option<Vec<u8>> = None;
        self.map.iter().filter_map(move |entry| {
            let key = &entry.key().0;
            if last.as_ref() == Some(key) {
                return None;
            }
            last = Some(key.clone());
            Some((key.clone(), entry.value().clone()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_ignores_entries_newer_than_its_snapshot() {
        let m = Memtable::new(1);
        m.insert(b"a".to_vec(), 1, Some(b"old".to_vec()));
        m.insert(b"a".to_vec(), 2, Some(b"new".to_vec()));
        m.insert(b"b".to_vec(), 3, None);
        assert_eq!(m.get(b"a", 1), Some(Some(b"old".to_vec())));
        assert_eq!(m.get(b"a", 5), Some(Some(b"new".to_vec())));
        assert_eq!(m.get(b"b", 5), Some(None));
        assert_eq!(m.get(b"b", 2), None);
        let all = m.scan(Bound::Unbounded, Bound::Unbounded, 2);
        assert_eq!(all, vec![(b"a".to_vec(), Some(b"new".to_vec()))]);
        let newest: Vec<_> = m.newest_entries().collect();
        assert_eq!(newest.len(), 2);
        assert_eq!(newest[1], (b"b".to_vec(), None));
    }

    #[test]
    fn scan_bounds_are_honoured() {
        let m = Memtable::new(1);
        for (i, k) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
            m.insert(k.to_vec(), i as u64 + 1, Some(vec![]));
        }
        let keys = |v: Vec<(Vec<u8>, Slot)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        let r = m.scan(Bound::Excluded(b"a"), Bound::Included(b"c"), 10);
        assert_eq!(keys(r), vec![b"b".to_vec(), b"c".to_vec()]);
        let r = m.scan(Bound::Included(b"b"), Bound::Excluded(b"d"), 10);
        assert_eq!(keys(r), vec![b"b".to_vec(), b"c".to_vec()]);
    }
}

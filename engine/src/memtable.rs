//! The memtable: a concurrent skiplist of versioned entries.
//!
//! Each write gets a sequence number; entries are ordered by key, then newest first. A reader
//! takes the published sequence number when it starts and ignores newer entries, so it never
//! sees half of a batch that the writer is still applying.

use std::cmp::Reverse;
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_skiplist::SkipMap;

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
}

impl Memtable {
    pub fn new(number: u64) -> Memtable {
        Memtable {
            number,
            map: SkipMap::new(),
            bytes: AtomicUsize::new(0),
        }
    }

    /// Inserts one entry with sequence number `seq`.
    pub fn insert(&self, key: Vec<u8>, seq: u64, slot: Slot) {
        let size = key.len() + slot.as_ref().map_or(0, Vec::len) + ENTRY_OVERHEAD_BYTES;
        self.map.insert((key, Reverse(seq)), slot);
        self.bytes.fetch_add(size, Ordering::Relaxed);
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

//! The memtable: an ordered set of versioned entries, shared between one writer and readers.
//!
//! Each write gets a sequence number; entries are ordered by key, then newest first. A reader
//! takes the published sequence number when it starts and ignores newer entries, so it never
//! sees half of a batch that the writer is still applying.
//!
//! The entries are a B-tree set behind a reader-writer lock. A lock-free skiplist was here
//! before; the single writer inserts one entry at a time under a lock held for a few hundred
//! instructions, while the skiplist paid a node allocation, an epoch pin (a full fence) and a
//! compare-and-swap per level on every insert: about 815 instructions an insert on a seeded
//! crash run, against about 500 now (the filter and the entry's own allocation included). Readers hold the lock only while they look: a point lookup,
//! or a scan copying its range into a block (see [`Memtable::scan_block`]); a flush walks a
//! frozen memtable, which nobody writes to.
//!
//! A small bloom filter of atomic words rides along, so a point lookup of a key the memtable
//! does not hold usually skips the lock and the search.

use std::cmp::Ordering as KeyOrdering;
use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::sst::block::{Block, BlockBuilder};
use crate::sst::bloom::key_hash;

/// Approximate bookkeeping bytes per entry (its place in the set, two vectors). Flush points,
/// and so every file the engine writes, follow from this accounting: it stays as it was when
/// entries were two vectors in skiplist nodes.
const ENTRY_OVERHEAD_BYTES: usize = 64;

/// Keys up to this long live inside the entry, so comparing them touches no other memory and
/// inserting them allocates nothing but the value.
const INLINE_KEY_BYTES: usize = 16;

/// A value or a tombstone.
pub type Slot = Option<Vec<u8>>;

/// One versioned entry, ordered by key, then newest (highest sequence number) first.
///
/// The first [`INLINE_KEY_BYTES`] of the key, zero-padded, are kept in `head`: comparing two
/// heads as big-endian numbers orders entries like their keys whenever the heads differ (a
/// shorter key padded with zeros sorts before any longer key that continues it with a non-zero
/// byte, as it should), so most comparisons never leave the node. `bytes` holds the rest: the
/// whole key when it is longer than the head, then the value.
#[derive(Debug)]
struct Entry {
    head: u128,
    seq: u64,
    key_len: u32,
    tombstone: bool,
    bytes: Box<[u8]>,
}

fn head_of(key: &[u8]) -> u128 {
    let mut head = [0u8; INLINE_KEY_BYTES];
    let n = key.len().min(INLINE_KEY_BYTES);
    head[..n].copy_from_slice(&key[..n]);
    u128::from_be_bytes(head)
}

impl Entry {
    fn new(key: &[u8], seq: u64, value: Option<&[u8]>) -> Entry {
        let spilled: &[u8] = if key.len() > INLINE_KEY_BYTES {
            key
        } else {
            &[]
        };
        let value_bytes = value.unwrap_or_default();
        let bytes = if spilled.is_empty() {
            Box::from(value_bytes)
        } else {
            let mut v = Vec::with_capacity(spilled.len() + value_bytes.len());
            v.extend_from_slice(spilled);
            v.extend_from_slice(value_bytes);
            v.into_boxed_slice()
        };
        Entry {
            head: head_of(key),
            seq,
            key_len: key.len() as u32,
            tombstone: value.is_none(),
            bytes,
        }
    }

    /// A search key: sorts before every entry of `key` with a sequence number above `seq`.
    /// Allocates only for a key longer than the head.
    fn probe(key: &[u8], seq: u64) -> Entry {
        Entry::new(key, seq, Some(&[]))
    }

    fn inline(&self) -> bool {
        self.key_len as usize <= INLINE_KEY_BYTES
    }

    /// The head's bytes (the key itself when it is inline).
    fn head_bytes(&self) -> [u8; INLINE_KEY_BYTES] {
        self.head.to_be_bytes()
    }

    fn with_key<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        if self.inline() {
            f(&self.head_bytes()[..self.key_len as usize])
        } else {
            f(&self.bytes[..self.key_len as usize])
        }
    }

    fn value_bytes(&self) -> Option<&[u8]> {
        if self.tombstone {
            return None;
        }
        let from = if self.inline() {
            0
        } else {
            self.key_len as usize
        };
        Some(&self.bytes[from..])
    }

    fn slot(&self) -> Slot {
        self.value_bytes().map(<[u8]>::to_vec)
    }

    fn same_key(&self, other: &Entry) -> bool {
        self.cmp_keys(other) == KeyOrdering::Equal
    }

    fn cmp_keys(&self, other: &Entry) -> KeyOrdering {
        match self.head.cmp(&other.head) {
            KeyOrdering::Equal => {}
            unequal => return unequal,
        }
        if self.inline() && other.inline() {
            // Equal heads: the keys agree on every byte the shorter one has.
            return self.key_len.cmp(&other.key_len);
        }
        self.with_key(|a| other.with_key(|b| a.cmp(b)))
    }

    fn key_cmp(&self, key: &[u8]) -> KeyOrdering {
        self.with_key(|k| k.cmp(key))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == KeyOrdering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<KeyOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> KeyOrdering {
        self.cmp_keys(other).then(other.seq.cmp(&self.seq))
    }
}

/// A memtable and the number of its WAL (also its identity and its age).
#[derive(Debug)]
pub struct Memtable {
    pub number: u64,
    set: RwLock<BTreeSet<Entry>>,
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
            set: RwLock::new(BTreeSet::new()),
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
            set: RwLock::new(BTreeSet::new()),
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

    /// Inserts one entry (`None`: a tombstone) with sequence number `seq`, copying it once into
    /// the memtable's own memory. Inserts must not run concurrently (the single writer holds the
    /// writer lock); reads may.
    pub fn insert(&self, key: &[u8], seq: u64, value: Option<&[u8]>) {
        let size = key.len() + value.map_or(0, <[u8]>::len) + ENTRY_OVERHEAD_BYTES;
        if !self.filter.is_empty() {
            // Set before the entry is inserted, and so before the batch is published: a reader
            // that may see the entry sees its bits.
            // Only the single writer (under the writer lock) inserts, so a load and a store do
            // the work of an atomic read-modify-write at a fraction of its cost.
            for (word, mask) in self.filter_bits(key_hash(key)) {
                let bits = &self.filter[word];
                let old = bits.load(Ordering::Relaxed);
                if old & mask == 0 {
                    bits.store(old | mask, Ordering::Release);
                }
            }
        }
        // Built before the lock is taken, so readers wait only for the set's own work. An entry
        // with the same key and sequence number (a WAL replayed twice) is replaced, as the
        // newer copy of the same write.
        let entry = Entry::new(key, seq, value);
        self.write_set().replace(entry);
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
        self.read_set().is_empty()
    }

    /// The entries, for a look (a writer waits meanwhile; a panic elsewhere leaves the set
    /// whole: every change to it is one call on the set).
    fn read_set(&self) -> RwLockReadGuard<'_, BTreeSet<Entry>> {
        self.set.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_set(&self) -> RwLockWriteGuard<'_, BTreeSet<Entry>> {
        self.set.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The newest entry for `key` with a sequence number at most `snapshot`.
    pub fn get(&self, key: &[u8], snapshot: u64) -> Option<Slot> {
        self.get_at(&Lookup::new(key, snapshot))
    }

    /// Like `get`, with the lookup key built once by the caller for several memtables.
    pub fn get_at(&self, lookup: &Lookup) -> Option<Slot> {
        let set = self.read_set();
        let entry = set
            .range((Bound::Included(&lookup.probe), Bound::Unbounded))
            .next()?;
        entry.same_key(&lookup.probe).then(|| entry.slot())
    }

    /// The newest visible entry of every key in the range, in key order.
    pub fn scan(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        snapshot: u64,
    ) -> Vec<(Vec<u8>, Slot)> {
        let mut out: Vec<(Vec<u8>, Slot)> = Vec::new();
        self.for_each_visible(lower, upper, snapshot, |key, value| {
            out.push((key.to_vec(), value.map(<[u8]>::to_vec)));
        });
        out
    }

    /// What [`Memtable::scan`] finds, as one in-memory block (`None` if nothing): one buffer
    /// instead of two allocations an entry, in the form a merge reads tables in.
    pub fn scan_block(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        snapshot: u64,
    ) -> Option<Block> {
        let mut block = BlockBuilder::default();
        self.for_each_visible(lower, upper, snapshot, |key, value| block.add(key, value));
        block.into_block()
    }

    /// Calls `f` with the newest visible entry (`None`: a tombstone) of every key in the range,
    /// in key order.
    fn for_each_visible(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        snapshot: u64,
        mut f: impl FnMut(&[u8], Option<&[u8]>),
    ) {
        let start = match lower {
            Bound::Included(k) => Bound::Included(Entry::probe(k, u64::MAX)),
            Bound::Excluded(k) => Bound::Excluded(Entry::probe(k, 0)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let set = self.read_set();
        let mut last: Option<&Entry> = None;
        for entry in set.range((start, Bound::Unbounded)) {
            let past_end = match upper {
                Bound::Included(u) => entry.key_cmp(u) == KeyOrdering::Greater,
                Bound::Excluded(u) => entry.key_cmp(u) != KeyOrdering::Less,
                Bound::Unbounded => false,
            };
            if past_end {
                break;
            }
            if entry.seq > snapshot || last.is_some_and(|l| l.same_key(entry)) {
                continue;
            }
            entry.with_key(|key| f(key, entry.value_bytes()));
            last = Some(entry);
        }
    }

    /// Calls `f` with every key's newest entry (`None`: a tombstone), in key order, without
    /// copying (for a flush: the memtable is frozen). Stops at the first error.
    pub fn try_for_each_newest<E>(
        &self,
        mut f: impl FnMut(&[u8], Option<&[u8]>) -> Result<(), E>,
    ) -> Result<(), E> {
        let set = self.read_set();
        let mut last: Option<&Entry> = None;
        for entry in set.iter() {
            if last.is_some_and(|l| l.same_key(entry)) {
                continue;
            }
            entry.with_key(|key| f(key, entry.value_bytes()))?;
            last = Some(entry);
        }
        Ok(())
    }

    /// Every key's newest entry, in key order (for a flush: the memtable is frozen).
    pub fn newest_entries(&self) -> Vec<(Vec<u8>, Slot)> {
        let mut out = Vec::new();
        let _ = self.try_for_each_newest(|key, value| {
            out.push((key.to_vec(), value.map(<[u8]>::to_vec)));
            Ok::<(), ()>(())
        });
        out
    }
}

/// A point lookup's search key, built once for all the memtables a read visits.
#[derive(Debug)]
pub struct Lookup {
    probe: Entry,
}

impl Lookup {
    /// Finds the newest entry of `key` with a sequence number at most `snapshot`.
    pub fn new(key: &[u8], snapshot: u64) -> Lookup {
        Lookup {
            probe: Entry::probe(key, snapshot),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_ignores_entries_newer_than_its_snapshot() {
        let m = Memtable::new(1);
        m.insert(b"a", 1, Some(b"old"));
        m.insert(b"a", 2, Some(b"new"));
        m.insert(b"b", 3, None);
        assert_eq!(m.get(b"a", 1), Some(Some(b"old".to_vec())));
        assert_eq!(m.get(b"a", 5), Some(Some(b"new".to_vec())));
        assert_eq!(m.get(b"b", 5), Some(None));
        assert_eq!(m.get(b"b", 2), None);
        let all = m.scan(Bound::Unbounded, Bound::Unbounded, 2);
        assert_eq!(all, vec![(b"a".to_vec(), Some(b"new".to_vec()))]);
        let newest = m.newest_entries();
        assert_eq!(newest.len(), 2);
        assert_eq!(newest[1], (b"b".to_vec(), None));
    }

    #[test]
    fn scan_bounds_are_honoured() {
        let m = Memtable::new(1);
        for (i, k) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
            m.insert(*k, i as u64 + 1, Some(&[]));
        }
        let keys = |v: Vec<(Vec<u8>, Slot)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        let r = m.scan(Bound::Excluded(b"a"), Bound::Included(b"c"), 10);
        assert_eq!(keys(r), vec![b"b".to_vec(), b"c".to_vec()]);
        let r = m.scan(Bound::Included(b"b"), Bound::Excluded(b"d"), 10);
        assert_eq!(keys(r), vec![b"b".to_vec(), b"c".to_vec()]);
    }

    #[test]
    fn keys_inline_or_spilled_sort_as_bytes_do() {
        let long = [7u8; 40];
        let mut keys: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\0".to_vec(),
            b"ab".to_vec(),
            b"ab\0".to_vec(),
            b"ab\0\0".to_vec(),
            b"ab\x01".to_vec(),
            [1u8; 16].to_vec(),
            [[1u8; 16].as_slice(), &[0]].concat(),
            [[1u8; 16].as_slice(), &[0, 0]].concat(),
            [[1u8; 15].as_slice(), &[2]].concat(),
            [[1u8; 16].as_slice(), &[9]].concat(),
            [[1u8; 17].as_slice(), &long].concat(),
            long.to_vec(),
            [0xffu8; 16].to_vec(),
            [0xffu8; 17].to_vec(),
        ];
        let m = Memtable::with_filter(1, 1 << 16);
        // Inserted in reverse, twice, so every key has an older and a newer entry.
        for round in 0..2u8 {
            for (i, k) in keys.iter().enumerate().rev() {
                let seq = u64::from(round) * 100 + i as u64 + 1;
                m.insert(k, seq, Some(&[round, i as u8]));
            }
        }
        keys.sort();
        let newest = m.newest_entries();
        let got: Vec<Vec<u8>> = newest.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(got, keys);
        for (k, v) in &newest {
            let v = v.as_ref().expect("a value");
            assert_eq!(v[0], 1, "the newer entry of {k:?}");
            assert_eq!(m.get(k, u64::MAX), Some(Some(v.clone())));
            assert_eq!(m.get(k, 100).map(|s| s.map(|v| v[0])), Some(Some(0)));
        }
        assert_eq!(m.get(b"a", u64::MAX), None);
        assert_eq!(m.get(&[1u8; 17], u64::MAX), None);
        let scanned = m.scan(
            Bound::Included(b"ab"),
            Bound::Excluded(&[1u8; 16]),
            u64::MAX,
        );
        let scanned: Vec<Vec<u8>> = scanned.into_iter().map(|(k, _)| k).collect();
        let expected: Vec<Vec<u8>> = keys
            .iter()
            .filter(|k| k.as_slice() >= b"ab".as_slice() && k.as_slice() < [1u8; 16].as_slice())
            .cloned()
            .collect();
        assert_eq!(scanned, expected);
    }
}

//! Reads: point lookups and range scans over one consistent snapshot.

use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use super::{Inner, LiveTable, SuperVersion};
use crate::error::Result;
use crate::memtable::{Lookup, Slot};
use crate::merge::{Input, Merge};
use crate::sst::bloom::key_hash;

fn in_range(meta: &LiveTable, key: &[u8]) -> bool {
    meta.smallest.as_slice() <= key && key <= meta.largest.as_slice()
}

fn overlaps_bounds(meta: &LiveTable, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> bool {
    let above_lower = match lower {
        Bound::Included(l) => meta.largest.as_slice() >= l,
        Bound::Excluded(l) => meta.largest.as_slice() > l,
        Bound::Unbounded => true,
    };
    let below_upper = match upper {
        Bound::Included(u) => meta.smallest.as_slice() <= u,
        Bound::Excluded(u) => meta.smallest.as_slice() < u,
        Bound::Unbounded => true,
    };
    above_lower && below_upper
}

impl Inner {
    /// The super version and the sequence number a reader works with.
    fn snapshot(&self) -> (Arc<SuperVersion>, u64) {
        let sv = Arc::clone(&self.sv.read().unwrap_or_else(PoisonError::into_inner));
        // Read after the super version: any memtable a write to a newer memtable went into is
        // newer than `sv`, and entries beyond `seq` in the memtables of `sv` are ignored.
        let seq = self.visible_seq.load(Ordering::Acquire);
        (sv, seq)
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        let (sv, seq) = self.snapshot();
        Ok(lookup(&sv, seq, key)?.flatten())
    }

    pub fn scan(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.check_open()?;
        let (sv, seq) = self.snapshot();
        let mut inputs: Vec<Input> = Vec::new();
        for mem in &sv.mems {
            if let Some(block) = mem.scan_block(lower, upper, seq) {
                inputs.push(Input::block(block));
            }
        }
        for live in sv.ssts.levels.first().into_iter().flatten() {
            if overlaps_bounds(live, lower, upper) {
                inputs.push(Input::Table(live.table.iter(lower, upper, true)));
            }
        }
        for level in sv.ssts.levels.iter().skip(1) {
            // A deeper level's files are disjoint and sorted: one input, file after file.
            let walks: VecDeque<_> = level
                .iter()
                .filter(|live| overlaps_bounds(live, lower, upper))
                .map(|live| live.table.iter(lower, upper, true))
                .collect();
            if !walks.is_empty() {
                inputs.push(Input::Level(walks));
            }
        }
        let mut merge = Merge::new(inputs);
        let mut out = Vec::new();
        while let Some((key, value)) = merge.next_entry()? {
            if let Some(value) = value {
                out.push((key.to_vec(), value.to_vec()));
            }
        }
        Ok(out)
    }
}

/// The newest entry for `key` in a snapshot: `None` if absent, `Some(None)` if deleted.
fn lookup(sv: &SuperVersion, seq: u64, key: &[u8]) -> Result<Option<Slot>> {
    let hash = key_hash(key);
    // The lookup key is built only if some memtable's filter lets the key through.
    let mut lookup = None;
    for mem in &sv.mems {
        if mem.may_contain(hash) {
            let lookup = lookup.get_or_insert_with(|| Lookup::new(key, seq));
            if let Some(slot) = mem.get_at(lookup) {
                return Ok(Some(slot));
            }
        }
    }
    for live in sv.ssts.levels.first().into_iter().flatten() {
        if in_range(live, key)
            && let Some(slot) = live.table.get(key, hash)?
        {
            return Ok(Some(slot));
        }
    }
    for (level, fences) in sv.ssts.levels.iter().zip(&sv.ssts.fences).skip(1) {
        let at = fences.first_at_or_after(key, |i| &level[i].largest);
        if let Some(live) = level.get(at)
            && in_range(live, key)
            && let Some(slot) = live.table.get(key, hash)?
        {
            return Ok(Some(slot));
        }
    }
    Ok(None)
}

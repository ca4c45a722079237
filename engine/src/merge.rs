//! Merging sorted sources, newest first, into one sorted stream with one entry per key.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::error::Result;
use crate::memtable::Slot;

/// A sorted source of entries.
pub type Source = Box<dyn Iterator<Item = Result<(Vec<u8>, Slot)>> + Send>;

struct Head {
    key: Vec<u8>,
    slot: Slot,
    source: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    /// Reversed, so the max-heap pops the smallest key, and for equal keys the newest source.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .key
            .cmp(&self.key)
            .then(other.source.cmp(&self.source))
    }
}

/// Yields each key once, with the entry of the newest source that has it (tombstones included).
pub struct MergeIter {
    sources: Vec<Source>,
    heap: BinaryHeap<Head>,
    failed: bool,
    started: bool,
}

impl MergeIter {
    /// `sources[0]` is the newest.
    pub fn new(sources: Vec<Source>) -> MergeIter {
        MergeIter {
            sources,
            heap: BinaryHeap::new(),
            failed: false,
            started: false,
        }
    }

    fn pull(&mut self, source: usize) -> Result<()> {
        if let Some(item) = self.sources[source].next() {
            let (key, slot) = item?;
            self.heap.push(Head { key, slot, source });
        }
        Ok(())
    }

    fn step(&mut self) -> Result<Option<(Vec<u8>, Slot)>> {
        if !self.started {
            self.started = true;
            for i in 0..self.sources.len() {
                self.pull(i)?;
            }
        }
        let Some(top) = self.heap.pop() else {
            return Ok(None);
        };
        self.pull(top.source)?;
        // Older sources' entries for the same key are shadowed.
        while self.heap.peek().is_some_and(|h| h.key == top.key) {
            if let Some(shadowed) = self.heap.pop() {
                self.pull(shadowed.source)?;
            }
        }
        Ok(Some((top.key, top.slot)))
    }
}

impl Iterator for MergeIter {
    type Item = Result<(Vec<u8>, Slot)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.step() {
            Ok(e) => e.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(entries: &[(&str, Option<&str>)]) -> Source {
        let v: Vec<_> = entries
            .iter()
            .map(|(k, v)| Ok((k.as_bytes().to_vec(), v.map(|s| s.as_bytes().to_vec()))))
            .collect();
        Box::new(v.into_iter())
    }

    #[test]
    fn newest_source_wins_and_keys_come_once_in_order() {
        let merged: Vec<_> = MergeIter::new(vec![
            src(&[("b", None), ("d", Some("new"))]),
            src(&[("a", Some("1")), ("b", Some("old")), ("d", Some("old"))]),
            src(&[("c", Some("3")), ("d", Some("oldest"))]),
        ])
        .map(Result::unwrap)
        .collect();
        let expect = vec![
            (b"a".to_vec(), Some(b"1".to_vec())),
            (b"b".to_vec(), None),
            (b"c".to_vec(), Some(b"3".to_vec())),
            (b"d".to_vec(), Some(b"new".to_vec())),
        ];
        assert_eq!(merged, expect);
    }
}

//! Merging sorted inputs, newest first, into one sorted stream with one entry per key.
//!
//! Used by range scans (memtables, L0 tables, deeper levels) and by compactions (their input
//! tables). Every input is read as blocks, and entries are handed out where they lie in them,
//! so nothing is copied before it is known to be the visible entry.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::error::Result;
use crate::sst::TableIter;
use crate::sst::block::Block;

/// An entry where it lies: its key and its value (`None`: a tombstone).
pub type EntryRef<'a> = (&'a [u8], Option<&'a [u8]>);

/// One sorted input of a [`Merge`].
pub enum Input {
    /// A walk over one table.
    Table(TableIter),
    /// Walks over the disjoint, sorted tables of one level, one after the other.
    Level(VecDeque<TableIter>),
    /// A block held in memory (a memtable's entries), with how many entries the input has moved
    /// past (the current one is the one before).
    Block(Arc<Block>, usize),
}

impl Input {
    /// A block of entries held in memory.
    pub fn block(block: Block) -> Input {
        Input::Block(Arc::new(block), 0)
    }

    /// Moves to the next entry (the first, on the first call) and returns where it lies, or
    /// `None` at the end.
    fn next_head(&mut self, input: usize) -> Result<Option<Head>> {
        let walk = match self {
            Input::Table(walk) => {
                if !walk.advance()? {
                    return Ok(None);
                }
                &*walk
            }
            Input::Level(walks) => loop {
                // As `Iterator::flatten` walks them: a finished walk is dropped, and the next one
                // starts within the same step.
                let Some(walk) = walks.front_mut() else {
                    return Ok(None);
                };
                if walk.advance()? {
                    break &*walk;
                }
                walks.pop_front();
            },
            Input::Block(block, next) => {
                if *next >= block.len() {
                    return Ok(None);
                }
                *next += 1;
                return Ok(Some(Head::new(input, Arc::clone(block), *next - 1)));
            }
        };
        Ok(walk
            .current()
            .map(|(block, pos)| Head::new(input, Arc::clone(block), pos)))
    }
}

/// The entry an unfinished input is on.
struct Head {
    input: usize,
    block: Arc<Block>,
    pos: usize,
    /// Where its key lies in the block's bytes.
    key_start: usize,
    key_end: usize,
}

impl Head {
    fn new(input: usize, block: Arc<Block>, pos: usize) -> Head {
        let (key_start, key_end) = block.key_span(pos);
        Head {
            input,
            block,
            pos,
            key_start,
            key_end,
        }
    }

    fn key(&self) -> &[u8] {
        self.block.bytes(self.key_start, self.key_end)
    }
}

/// Yields each key once, with the entry of the newest input that has it (tombstones included),
/// reading the inputs in the order the heap merge of boxed iterators it replaces did: every
/// input once at the start, in input order; then, for each key handed out, every input on that
/// key, newest first.
pub struct Merge {
    /// `inputs[0]` is the newest.
    inputs: Vec<Input>,
    /// The entry each unfinished input is on, in input order.
    heads: Vec<Head>,
    /// Scratch: the positions in `heads`, after the top one, of the others on its key.
    shadowed: Vec<usize>,
    /// The entry last handed out: its block and its index there.
    emitted: Option<(Arc<Block>, usize)>,
    started: bool,
    failed: bool,
}

impl Merge {
    /// `inputs[0]` is the newest.
    pub fn new(inputs: Vec<Input>) -> Merge {
        Merge {
            heads: Vec::with_capacity(inputs.len()),
            shadowed: Vec::new(),
            inputs,
            emitted: None,
            started: false,
            failed: false,
        }
    }

    /// The next entry: its key and its value (`None`: a tombstone). After an error, `None`.
    pub fn next_entry(&mut self) -> Result<Option<EntryRef<'_>>> {
        if self.failed {
            return Ok(None);
        }
        if let Err(e) = self.step() {
            self.failed = true;
            return Err(e);
        }
        Ok(self.emitted.as_ref().map(|(block, pos)| block.entry(*pos)))
    }

    /// Moves on to the next entry (`emitted`; `None` at the end).
    fn step(&mut self) -> Result<()> {
        self.emitted = None;
        if !self.started {
            self.started = true;
            for input in 0..self.inputs.len() {
                if let Some(head) = self.inputs[input].next_head(input)? {
                    self.heads.push(head);
                }
            }
        }
        // The smallest key; among equal keys the first head, the newest input.
        let mut top = 0;
        self.shadowed.clear();
        if self.heads.len() > 1 {
            let mut top_key = self.heads[0].key();
            for (i, head) in self.heads.iter().enumerate().skip(1) {
                let key = head.key();
                if key < top_key {
                    top = i;
                    top_key = key;
                }
            }
            for (i, head) in self.heads.iter().enumerate().skip(top + 1) {
                if head.key() == top_key {
                    self.shadowed.push(i);
                }
            }
        }
        let Some(head) = self.heads.get(top) else {
            return Ok(());
        };
        // Every input on the key moves on, newest first: the top one, then the shadowed ones.
        let input = head.input;
        let (emitted, mut removed) = match self.inputs[input].next_head(input)? {
            Some(next) => (std::mem::replace(&mut self.heads[top], next), 0),
            None => (self.heads.remove(top), 1),
        };
        self.emitted = Some((emitted.block, emitted.pos));
        for n in 0..self.shadowed.len() {
            let at = self.shadowed[n] - removed;
            let input = self.heads[at].input;
            match self.inputs[input].next_head(input)? {
                Some(next) => self.heads[at] = next,
                None => {
                    self.heads.remove(at);
                    removed += 1;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sst::block::BlockBuilder;

    fn src(entries: &[(&str, Option<&str>)]) -> Input {
        let mut b = BlockBuilder::default();
        for (k, v) in entries {
            b.add(k.as_bytes(), v.map(str::as_bytes));
        }
        match b.into_block() {
            Some(block) => Input::block(block),
            None => Input::Level(VecDeque::new()),
        }
    }

    #[test]
    fn newest_input_wins_and_keys_come_once_in_order() {
        let mut merge = Merge::new(vec![
            src(&[("b", None), ("d", Some("new"))]),
            src(&[("a", Some("1")), ("b", Some("old")), ("d", Some("old"))]),
            src(&[]),
            src(&[("c", Some("3")), ("d", Some("oldest"))]),
        ]);
        let mut merged = Vec::new();
        while let Some((k, v)) = merge.next_entry().unwrap() {
            merged.push((k.to_vec(), v.map(<[u8]>::to_vec)));
        }
        let expect = vec![
            (b"a".to_vec(), Some(b"1".to_vec())),
            (b"b".to_vec(), None),
            (b"c".to_vec(), Some(b"3".to_vec())),
            (b"d".to_vec(), Some(b"new".to_vec())),
        ];
        assert_eq!(merged, expect);
        assert!(merge.next_entry().unwrap().is_none());
    }
}

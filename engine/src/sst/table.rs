//! Reading an SST: point lookups through the filter and index, and ordered iteration.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use faultfs::{File, Fs};

use super::block::Block;
use super::bloom::Bloom;
use super::fence::Fences;
use super::footer::{FOOTER_BYTES, Footer};
use super::index;
use crate::cache::BlockCache;
use crate::error::{Error, IoContext, Result};
use crate::memtable::Slot;

/// How much an uncached walk reads with one call.
const READAHEAD_BYTES: u64 = 512 << 10;

/// Reads and checks the footer of an SST, and the file's length.
fn read_footer(file: &dyn File, path: &Path) -> Result<(Footer, u64)> {
    let size = file.len().ctx("reading length of SST", path)?;
    if size < FOOTER_BYTES as u64 {
        return Err(Error::corruption(path, 0, "SST shorter than its footer"));
    }
    let footer_at = size - FOOTER_BYTES as u64;
    let mut raw = [0u8; FOOTER_BYTES];
    file.read_exact_at(footer_at, &mut raw)
        .ctx("reading SST footer", path)?;
    let footer = Footer::decode(&raw, size).map_err(|r| Error::corruption(path, footer_at, r))?;
    Ok((footer, size))
}

/// The highest sequence number of the SST at `path`, read from its footer alone.
pub fn read_largest_seq(fs: &dyn Fs, path: &Path) -> Result<u64> {
    let file = fs.open(path).ctx("opening SST", path)?;
    Ok(read_footer(&*file, path)?.0.largest_seq)
}

/// The decoded index kept compact: one allocation for all last keys instead of one per block
/// (an index entry of a table with 1 KiB blocks costs 40 bytes here, about 80 as a vector of
/// `index::IndexEntry`). Blocks are contiguous from offset 0 ([`index::decode`] checks it), so
/// block `i` spans `ends[i - 1]..ends[i]`.
#[derive(Debug, Default)]
struct BlockIndex {
    ends: Vec<u64>,
    keys: Vec<u8>,
    key_ends: Vec<usize>,
}

impl BlockIndex {
    /// Verifies and decodes an index block (see [`index::decode_each`]).
    fn decode(bytes: &[u8], data_end: u64) -> std::result::Result<BlockIndex, &'static str> {
        // Sized up front from the entry count in the block's trailer (only a hint until
        // decode_each has checked it, so bounded by what the bytes can hold: an entry takes 16
        // bytes besides its key), so the vectors neither grow entry by entry nor need trimming.
        let body = bytes.len().saturating_sub(8);
        let count = bytes
            .get(body..body + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .min(body / 16);
        let mut index = BlockIndex {
            ends: Vec::with_capacity(count),
            keys: Vec::with_capacity(body - 16 * count),
            key_ends: Vec::with_capacity(count),
        };
        index::decode_each(bytes, data_end, |last_key, offset, len| {
            index.ends.push(offset + u64::from(len));
            index.keys.extend_from_slice(last_key);
            index.key_ends.push(index.keys.len());
        })?;
        index.ends.shrink_to_fit();
        index.keys.shrink_to_fit();
        index.key_ends.shrink_to_fit();
        Ok(index)
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn last_key(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.key_ends[i - 1] };
        &self.keys[start..self.key_ends[i]]
    }

    fn offset(&self, i: usize) -> u64 {
        if i == 0 { 0 } else { self.ends[i - 1] }
    }

    /// Where block `i` lies: its offset and length.
    fn span(&self, i: usize) -> (u64, u64) {
        let offset = self.offset(i);
        (offset, self.ends[i] - offset)
    }
}

/// An open SST: its index and filter in memory, its data blocks read on demand.
#[derive(Debug)]
pub struct Table {
    pub number: u64,
    path: PathBuf,
    file: Box<dyn File>,
    index: BlockIndex,
    fences: Fences,
    bloom: Bloom,
    pub size: u64,
    pub entries: u64,
    /// No write in this SST has a higher sequence number.
    pub largest_seq: u64,
    cache: Arc<BlockCache>,
}

impl Table {
    /// Opens the SST at `path`, verifying its footer, index and filter. The table keeps `path`
    /// (every caller builds it just for this call, so it is handed over instead of copied).
    pub fn open(fs: &dyn Fs, path: PathBuf, number: u64, cache: Arc<BlockCache>) -> Result<Table> {
        let file = fs.open(&path).ctx("opening SST", &path)?;
        let (footer, size) = read_footer(&*file, &path)?;
        let index = with_range(
            &*file,
            &path,
            footer.index_offset,
            footer.index_len,
            |bytes| {
                BlockIndex::decode(bytes, footer.index_offset)
                    .map_err(|r| Error::corruption(&path, footer.index_offset, r))
            },
        )?;
        let bloom_bytes = read_range(&*file, &path, footer.bloom_offset, footer.bloom_len)?;
        let bloom = Bloom::decode(bloom_bytes)
            .map_err(|r| Error::corruption(&path, footer.bloom_offset, r))?;
        Ok(Table {
            number,
            path,
            file,
            fences: Fences::new(index.len(), |i| index.last_key(i)),
            index,
            bloom,
            size,
            entries: footer.entries,
            largest_seq: footer.largest_seq,
            cache,
        })
    }

    /// The first block whose last key is >= `key` (the number of blocks if none).
    fn first_block_at_or_after(&self, key: &[u8]) -> usize {
        self.fences
            .first_at_or_after(key, |i| self.index.last_key(i))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Memory held by the index and filter.
    pub fn memory_bytes(&self) -> usize {
        self.bloom.memory_bytes()
            + self.index.keys.len()
            + self.index.len() * 16
            + self.fences.memory_bytes()
    }

    /// Reads data block `i`, through the cache when `cached`.
    fn block(&self, i: usize, cached: bool) -> Result<Arc<Block>> {
        let (offset, len) = self.index.span(i);
        if cached && let Some(block) = self.cache.get(self.number, offset) {
            return Ok(block);
        }
        let bytes = read_range(&*self.file, &self.path, offset, len)?;
        let block = Block::decode(bytes).map_err(|r| Error::corruption(&self.path, offset, r))?;
        let block = Arc::new(block);
        if cached {
            self.cache.insert(self.number, offset, Arc::clone(&block));
        }
        Ok(block)
    }

    /// Reads data blocks from `first` on, as many as fit in `max_bytes` (at least one), with one
    /// read call: compactions walk whole tables and need no cache.
    fn read_blocks(&self, first: usize, max_bytes: u64) -> Result<VecDeque<Arc<Block>>> {
        let start = self.index.offset(first);
        let mut end = first + 1;
        while end < self.index.len() && self.index.ends[end] - start <= max_bytes {
            end += 1;
        }
        with_range(
            &*self.file,
            &self.path,
            start,
            self.index.ends[end - 1] - start,
            |bytes| {
                let mut blocks = VecDeque::with_capacity(end - first);
                for i in first..end {
                    let (offset, len) = self.index.span(i);
                    let at = (offset - start) as usize;
                    let raw = bytes[at..at + len as usize].to_vec();
                    let block =
                        Block::decode(raw).map_err(|r| Error::corruption(&self.path, offset, r))?;
                    blocks.push_back(Arc::new(block));
                }
                Ok(blocks)
            },
        )
    }

    /// The entry for `key` if this table has one (`Some(None)` is a tombstone).
    pub fn get(&self, key: &[u8], hash: u64) -> Result<Option<Slot>> {
        if !self.bloom.may_contain(hash) {
            return Ok(None);
        }
        let i = self.first_block_at_or_after(key);
        if i == self.index.len() {
            return Ok(None);
        }
        let block = self.block(i, true)?;
        let at = block.seek(key);
        if at < block.len() {
            let (k, v) = block.entry(at);
            if k == key {
                return Ok(Some(v.map(<[u8]>::to_vec)));
            }
        }
        Ok(None)
    }

    /// Iterates entries from `lower` to `upper`, in key order.
    pub fn iter(
        self: &Arc<Self>,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        cached: bool,
    ) -> TableIter {
        let first_block = match lower {
            Bound::Included(k) | Bound::Excluded(k) => self.first_block_at_or_after(k),
            Bound::Unbounded => 0,
        };
        TableIter {
            table: Arc::clone(self),
            lower: lower.map(<[u8]>::to_vec),
            upper: upper.map(<[u8]>::to_vec),
            block_index: first_block,
            block: None,
            ahead: VecDeque::new(),
            pos: 0,
            on_entry: false,
            cached,
            done: false,
        }
    }
}

fn read_range(file: &dyn File, path: &Path, offset: u64, len: u64) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; len as usize];
    file.read_exact_at(offset, &mut bytes)
        .ctx("reading SST", path)?;
    Ok(bytes)
}

thread_local! {
    /// A read buffer for bytes that are only looked at (an index being decoded, a readahead
    /// being cut into blocks): reused, so each such read costs no fresh zero-filled buffer.
    /// It keeps the largest such read of the thread (at most a readahead, 512 KiB).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Reads `len` bytes at `offset` (the same single read call as [`read_range`]) and hands them
/// to `f` without keeping them.
fn with_range<T>(
    file: &dyn File,
    path: &Path,
    offset: u64,
    len: u64,
    f: impl FnOnce(&[u8]) -> Result<T>,
) -> Result<T> {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            let len = len as usize;
            if scratch.len() < len {
                scratch.resize(len, 0);
            }
            let bytes = &mut scratch[..len];
            file.read_exact_at(offset, bytes).ctx("reading SST", path)?;
            f(bytes)
        }
        // Only if `f` itself read through here; never the case, but no reason to fail.
        Err(_) => f(&read_range(file, path, offset, len)?),
    })
}

/// An ordered walk over part of a table.
#[derive(Debug)]
pub struct TableIter {
    table: Arc<Table>,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    block_index: usize,
    block: Option<Arc<Block>>,
    /// Blocks read ahead (uncached walks only).
    ahead: VecDeque<Arc<Block>>,
    pos: usize,
    /// Whether `pos` is the entry [`TableIter::advance`] last moved to.
    on_entry: bool,
    cached: bool,
    done: bool,
}

impl TableIter {
    fn load_block(&mut self) -> Result<bool> {
        if self.block_index >= self.table.index.len() {
            return Ok(false);
        }
        let block = if self.cached {
            self.table.block(self.block_index, true)?
        } else {
            if self.ahead.is_empty() {
                self.ahead = self.table.read_blocks(self.block_index, READAHEAD_BYTES)?;
            }
            match self.ahead.pop_front() {
                Some(block) => block,
                None => return Ok(false),
            }
        };
        self.pos = match &self.lower {
            Bound::Included(k) => block.seek(k),
            Bound::Excluded(k) => {
                let at = block.seek(k);
                if at < block.len() && block.key(at) == k.as_slice() {
                    at + 1
                } else {
                    at
                }
            }
            Bound::Unbounded => 0,
        };
        // Only the first block needs the lower bound.
        self.lower = Bound::Unbounded;
        self.block = Some(block);
        Ok(true)
    }

    /// Moves to the next entry in range (the first, on the first call), reading blocks as it
    /// goes: the same reads, at the same calls, as [`Iterator::next`], which is built on it.
    /// False once the walk is over; an error ends it too.
    pub fn advance(&mut self) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        if self.on_entry {
            self.pos += 1;
            self.on_entry = false;
        }
        match self.seek_entry() {
            Ok(true) => {
                self.on_entry = true;
                Ok(true)
            }
            Ok(false) => {
                self.done = true;
                Ok(false)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    /// The block holding the entry [`TableIter::advance`] moved to, and where in it it is.
    pub fn current(&self) -> Option<(&Arc<Block>, usize)> {
        match &self.block {
            Some(block) if self.on_entry => Some((block, self.pos)),
            _ => None,
        }
    }

    /// Finds the entry at or after `pos` (loading blocks as needed); false past the end.
    fn seek_entry(&mut self) -> Result<bool> {
        loop {
            if self.block.is_none() && !self.load_block()? {
                return Ok(false);
            }
            let Some(block) = &self.block else {
                return Ok(false);
            };
            if self.pos < block.len() {
                let k = block.key(self.pos);
                let past = match &self.upper {
                    Bound::Included(u) => k > u.as_slice(),
                    Bound::Excluded(u) => k >= u.as_slice(),
                    Bound::Unbounded => false,
                };
                return Ok(!past);
            }
            self.block = None;
            self.block_index += 1;
        }
    }
}

impl Iterator for TableIter {
    type Item = Result<(Vec<u8>, Slot)>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.advance() {
            Ok(true) => self.current().map(|(block, pos)| {
                let (k, v) = block.entry(pos);
                Ok((k.to_vec(), v.map(<[u8]>::to_vec)))
            }),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

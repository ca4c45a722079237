//! Writes one SST front to back.

use std::path::PathBuf;

use faultfs::{File, Fs};

use super::block::BlockWriter;
use super::bloom::{Bloom, key_hash};
use super::footer::{FOOTER_BYTES, Footer};
use super::index;
use crate::error::{IoContext, Result};

/// Buffered bytes are handed to the file once they pass this.
const WRITE_CHUNK_BYTES: usize = 256 << 10;

/// What a finished SST holds.
#[derive(Clone, Debug)]
pub struct BuiltSst {
    pub number: u64,
    /// Where it was written (the path it was created with).
    pub path: PathBuf,
    pub size: u64,
    pub entries: u64,
    pub smallest: Vec<u8>,
    pub largest: Vec<u8>,
}

/// Streams sorted entries into a new SST file.
#[derive(Debug)]
pub struct SstBuilder {
    number: u64,
    path: PathBuf,
    file: Box<dyn File>,
    block_bytes: usize,
    bloom_bits_per_key: u32,
    /// The data block being built, at the end of `buffer`.
    block: BlockWriter,
    buffer: Vec<u8>,
    written: u64,
    /// The index block so far: one entry per finished data block (see [`index::encode_entry`]).
    index: Vec<u8>,
    index_entries: usize,
    hashes: Vec<u64>,
    smallest: Option<Vec<u8>>,
    /// The last key of the last finished block.
    last_key: Vec<u8>,
    entries: u64,
    largest_seq: u64,
    /// The caller's guess of the SST's size.
    expected_bytes: u64,
}

impl SstBuilder {
    /// Starts SST `number`; `largest_seq` is the highest sequence number of any write it will
    /// hold (recorded in the footer). `expected_bytes` (a guess of the SST's size) sizes the
    /// write buffer, so it does not grow (copying what it holds) block by block.
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        fs: &dyn Fs,
        path: PathBuf,
        number: u64,
        block_bytes: usize,
        bloom_bits_per_key: u32,
        largest_seq: u64,
        overwrite_existing: bool,
        expected_bytes: u64,
    ) -> Result<SstBuilder> {
        if overwrite_existing && fs.exists(&path).ctx("looking for", &path)? {
            fs.remove(&path).ctx("removing to reuse", &path)?;
        }
        let file = fs.create(&path).ctx("creating SST", &path)?;
        Ok(SstBuilder {
            number,
            path,
            file,
            block_bytes,
            bloom_bits_per_key,
            block: BlockWriter::with_capacity(block_bytes),
            // Sized by the caller's guess, not a whole chunk: reserving the whole chunk up front
            // cost every SST, however small, an allocation of a quarter MiB (a fresh mapping, or
            // heap growth and trimming, each time), which dominated allocation in crash runs
            // where flushes write SSTs of a few KiB.
            buffer: Vec::with_capacity(
                usize::try_from(expected_bytes)
                    .unwrap_or(usize::MAX)
                    .clamp(block_bytes * 2, WRITE_CHUNK_BYTES + block_bytes * 2),
            ),
            written: 0,
            index: Vec::new(),
            index_entries: 0,
            hashes: Vec::new(),
            smallest: None,
            last_key: Vec::new(),
            entries: 0,
            largest_seq,
            expected_bytes,
        })
    }

    /// Adds an entry; keys must arrive in strictly increasing order.
    pub fn add(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        debug_assert!(self.previous_key().is_none_or(|last| key > last));
        if self.smallest.is_none() {
            self.smallest = Some(key.to_vec());
        }
        self.block.add(&mut self.buffer, key, value);
        self.hashes.push(key_hash(key));
        self.entries += 1;
        if self.block.estimated_bytes(&self.buffer) >= self.block_bytes {
            self.finish_block()?;
        }
        Ok(())
    }

    /// The key added last, if any.
    fn previous_key(&self) -> Option<&[u8]> {
        self.block
            .last_key(&self.buffer)
            .or_else(|| self.smallest.as_ref().map(|_| self.last_key.as_slice()))
    }

    /// Bytes the file would have if finished now (roughly).
    pub fn estimated_bytes(&self) -> u64 {
        // The block being built is in the buffer already, all but its trailer.
        self.written + (self.buffer.len() + self.block.trailer_bytes()) as u64
    }

    pub fn entries(&self) -> u64 {
        self.entries
    }

    fn finish_block(&mut self) -> Result<()> {
        let Some(last_key) = self.block.last_key(&self.buffer) else {
            return Ok(());
        };
        self.last_key.clear();
        self.last_key.extend_from_slice(last_key);
        let offset = self.written + self.block.start() as u64;
        self.block.finish(&mut self.buffer);
        let end = self.written + self.buffer.len() as u64;
        if self.index_entries == 0 {
            // The first block shows what a block takes in the index and how many keys it
            // holds: room for as many blocks as the expected size holds (a guess, so capped at
            // 64 MiB), so neither the index nor the key hashes grow step by step.
            let blocks = (self.expected_bytes.min(64 << 20) / (end - offset)) as usize + 1;
            self.index.reserve(blocks * (16 + self.last_key.len()) + 8);
            self.hashes.reserve(blocks * self.hashes.len());
        }
        index::encode_entry(
            &mut self.index,
            &self.last_key,
            offset,
            (end - offset) as u32,
        );
        self.index_entries += 1;
        if self.buffer.len() >= WRITE_CHUNK_BYTES {
            self.write_buffer()?;
        }
        Ok(())
    }

    fn write_buffer(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.file
            .write_at(self.written, &self.buffer)
            .ctx("writing SST", &self.path)?;
        self.written += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// Writes the index, filter and footer; with `sync`, makes the file's bytes durable.
    pub fn finish(mut self, sync: bool) -> Result<BuiltSst> {
        self.finish_block()?;
        let index_offset = self.written + self.buffer.len() as u64;
        index::finish(&mut self.index, self.index_entries);
        let bloom = Bloom::build(&self.hashes, self.bloom_bits_per_key);
        // One growth of the buffer for the whole tail instead of one per part.
        self.buffer
            .reserve(self.index.len() + bloom.len() + FOOTER_BYTES);
        self.buffer.extend_from_slice(&self.index);
        let bloom_offset = self.written + self.buffer.len() as u64;
        self.buffer.extend_from_slice(&bloom);
        let footer = Footer {
            index_offset,
            index_len: self.index.len() as u64,
            bloom_offset,
            bloom_len: bloom.len() as u64,
            entries: self.entries,
            largest_seq: self.largest_seq,
        };
        self.buffer.extend_from_slice(&footer.encode());
        self.write_buffer()?;
        if sync {
            // Protects against a MANIFEST that names this SST while its bytes are still only in
            // the page cache: after a power cut the edit would point at a hole.
            self.file.sync().ctx("syncing SST", &self.path)?;
        }
        Ok(BuiltSst {
            number: self.number,
            path: self.path,
            size: self.written,
            entries: self.entries,
            smallest: self.smallest.unwrap_or_default(),
            largest: self.last_key,
        })
    }
}

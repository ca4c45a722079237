//! An SST data block: sorted entries, an offset array for binary search, a checksum.
//!
//! ```text
//! entries, each:
//!   kind u8          1 = value, 2 = tombstone
//!   key_len u32
//!   value_len u32    (0 for a tombstone)
//!   key bytes, value bytes
//! offsets u32 x n    where each entry starts
//! n u32              entry count (>= 1)
//! crc32c u32         of every byte before it
//! ```

const KIND_VALUE: u8 = 1;
const KIND_TOMBSTONE: u8 = 2;
const ENTRY_HEADER_BYTES: usize = 9;

/// Builds one block.
#[derive(Debug, Default)]
pub struct BlockBuilder {
    data: Vec<u8>,
    offsets: Vec<u32>,
}

impl BlockBuilder {
    /// Appends an entry (`None`: a tombstone).
    pub fn add(&mut self, key: &[u8], value: Option<&[u8]>) {
        self.offsets.push(self.data.len() as u32);
        put_entry(&mut self.data, key, value);
    }

    /// Size the finished block would have.
    pub fn estimated_bytes(&self) -> usize {
        self.data.len() + self.offsets.len() * 4 + 8
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// The finished block, kept in memory (a snapshot of entries to merge, never written);
    /// `None` if it holds no entry.
    pub fn into_block(self) -> Option<Block> {
        let count = self.offsets.len();
        if count == 0 {
            return None;
        }
        let mut data = self.data;
        let offsets_at = data.len();
        data.reserve(count * 4 + 8);
        for off in &self.offsets {
            data.extend_from_slice(&off.to_le_bytes());
        }
        data.extend_from_slice(&(count as u32).to_le_bytes());
        let crc = crc32c::crc32c(&data);
        data.extend_from_slice(&crc.to_le_bytes());
        Some(Block {
            data,
            offsets_at,
            count,
        })
    }

    /// Appends the finished block to `out` and resets the builder.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) {
        let start = out.len();
        out.reserve(self.estimated_bytes());
        out.extend_from_slice(&self.data);
        put_trailer(out, start, &self.offsets);
        self.data.clear();
        self.offsets.clear();
    }
}

/// Appends an entry (`None`: a tombstone) to a block's bytes.
fn put_entry(out: &mut Vec<u8>, key: &[u8], value: Option<&[u8]>) {
    let (kind, value): (u8, &[u8]) = match value {
        Some(v) => (KIND_VALUE, v),
        None => (KIND_TOMBSTONE, &[]),
    };
    out.reserve(ENTRY_HEADER_BYTES + key.len() + value.len());
    out.push(kind);
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
}

/// Ends the block whose entries are `out[start..]` (starting at `offsets`, counted from
/// `start`): appends the offsets, the count and the checksum.
fn put_trailer(out: &mut Vec<u8>, start: usize, offsets: &[u32]) {
    out.reserve(offsets.len() * 4 + 8);
    for off in offsets {
        out.extend_from_slice(&off.to_le_bytes());
    }
    out.extend_from_slice(&(offsets.len() as u32).to_le_bytes());
    let crc = crc32c::crc32c(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Builds blocks in place at the end of the caller's buffer (an SST's write buffer), so their
/// bytes are written once, not built aside and copied over. Between `add`s of one block the
/// caller appends nothing else to the buffer.
#[derive(Debug, Default)]
pub struct BlockWriter {
    /// Where the block being built starts in the buffer (once it has an entry).
    start: usize,
    offsets: Vec<u32>,
}

impl BlockWriter {
    /// A writer with room for the offsets of a block of about `block_bytes`.
    pub fn with_capacity(block_bytes: usize) -> BlockWriter {
        BlockWriter {
            start: 0,
            offsets: Vec::with_capacity(block_bytes / 32 + 1),
        }
    }

    /// Appends an entry (`None`: a tombstone) to `out`.
    pub fn add(&mut self, out: &mut Vec<u8>, key: &[u8], value: Option<&[u8]>) {
        if self.offsets.is_empty() {
            self.start = out.len();
        }
        self.offsets.push((out.len() - self.start) as u32);
        put_entry(out, key, value);
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Where the block being built starts in the buffer (meaningful once it has an entry).
    pub fn start(&self) -> usize {
        self.start
    }

    /// Size the finished block would have, its entries being `out[self.start()..]`.
    pub fn estimated_bytes(&self, out: &[u8]) -> usize {
        let data = if self.offsets.is_empty() {
            0
        } else {
            out.len() - self.start
        };
        data + self.trailer_bytes()
    }

    /// What finishing the block adds to the buffer.
    pub fn trailer_bytes(&self) -> usize {
        self.offsets.len() * 4 + 8
    }

    /// The key of the block's last entry, in `out`.
    pub fn last_key<'a>(&self, out: &'a [u8]) -> Option<&'a [u8]> {
        let last = *self.offsets.last()? as usize;
        Some(key_at(out, self.start + last))
    }

    /// Finishes the block in `out` and starts the next.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        put_trailer(out, self.start, &self.offsets);
        self.offsets.clear();
    }
}

/// A decoded, verified block.
#[derive(Debug)]
pub struct Block {
    /// The whole block as read, trailer included: the offsets are read where they lie.
    data: Vec<u8>,
    /// Where the offsets array starts (the entries end); every entry and offset was
    /// bounds-checked when the block was decoded.
    offsets_at: usize,
    count: usize,
}

/// The key of the entry at `at` of `data` (bounds checked by `Block::decode`).
fn key_at(data: &[u8], at: usize) -> &[u8] {
    let b = &data[at + 1..at + 5];
    let key_len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    &data[at + ENTRY_HEADER_BYTES..at + ENTRY_HEADER_BYTES + key_len]
}

/// Where entry `i` starts, from the offsets array at `offsets_at` (checked by `Block::decode`).
fn offset_at(data: &[u8], offsets_at: usize, i: usize) -> usize {
    let b = &data[offsets_at + 4 * i..offsets_at + 4 * i + 4];
    u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

impl Block {
    /// Verifies and decodes a block; on damage says what is wrong.
    pub fn decode(bytes: Vec<u8>) -> Result<Block, &'static str> {
        if bytes.len() < 8 {
            return Err("block shorter than its trailer");
        }
        let crc_at = bytes.len() - 4;
        let crc = u32_at(&bytes, crc_at).ok_or("block trailer cut short")?;
        if crc32c::crc32c(&bytes[..crc_at]) != crc {
            return Err("block checksum mismatch");
        }
        let count = u32_at(&bytes, crc_at - 4).ok_or("block trailer cut short")? as usize;
        let offsets_at = (crc_at - 4)
            .checked_sub(
                count
                    .checked_mul(4)
                    .ok_or("block entry count out of range")?,
            )
            .ok_or("block entry count out of range")?;
        if count == 0 {
            return Err("empty block");
        }
        let mut expected = 0usize;
        for i in 0..count {
            let off = u32_at(&bytes, offsets_at + 4 * i).ok_or("block offsets cut short")?;
            if off as usize != expected {
                return Err("block entry offsets inconsistent");
            }
            let key_len = u32_at(&bytes, expected + 1).ok_or("block entry cut short")? as usize;
            let val_len = u32_at(&bytes, expected + 5).ok_or("block entry cut short")? as usize;
            let kind = bytes[expected];
            if kind != KIND_VALUE && kind != KIND_TOMBSTONE {
                return Err("unknown entry kind");
            }
            expected += ENTRY_HEADER_BYTES + key_len + val_len;
            if expected > offsets_at {
                return Err("block entry runs past the entries");
            }
        }
        if expected != offsets_at {
            return Err("block has bytes between entries and offsets");
        }
        Ok(Block {
            data: bytes,
            offsets_at,
            count,
        })
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Where entry `i` starts.
    fn offset(&self, i: usize) -> usize {
        offset_at(&self.data, self.offsets_at, i)
    }

    /// The key of entry `i`.
    pub fn key(&self, i: usize) -> &[u8] {
        key_at(&self.data, self.offset(i))
    }

    /// Where the key of entry `i` lies in the block's bytes (see [`Block::bytes`]).
    pub fn key_span(&self, i: usize) -> (usize, usize) {
        let at = self.offset(i);
        let start = at + ENTRY_HEADER_BYTES;
        (start, start + self.len_at(at + 1))
    }

    /// The block's bytes from `start` to `end` (a span from [`Block::key_span`]).
    pub fn bytes(&self, start: usize, end: usize) -> &[u8] {
        &self.data[start..end]
    }

    /// The key and value (or tombstone) of entry `i`.
    pub fn entry(&self, i: usize) -> (&[u8], Option<&[u8]>) {
        let at = self.offset(i);
        let key_len = self.len_at(at + 1);
        let val_len = self.len_at(at + 5);
        let key_end = at + ENTRY_HEADER_BYTES + key_len;
        let key = &self.data[at + ENTRY_HEADER_BYTES..key_end];
        let value = (self.data[at] == KIND_VALUE).then(|| &self.data[key_end..key_end + val_len]);
        (key, value)
    }

    fn len_at(&self, at: usize) -> usize {
        let b = &self.data[at..at + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
    }

    /// Index of the first entry whose key is >= `key` (== len() if none).
    ///
    /// A plain binary search over the entries: a block read from disk is hot in the CPU's
    /// caches, and a cached block is rarely searched often enough before it is evicted to repay
    /// building a fence view of it (see [`super::fence`]), which touches every key.
    pub fn seek(&self, key: &[u8]) -> usize {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.key(mid) < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Bytes held in memory, as the cache counts them: the entries and 4 bytes an entry for
    /// their offsets (which are read in place, but were once a separate array), plus 48. The
    /// count is what decides which blocks the cache keeps, and so which reads reach the file
    /// system; it stays as it was.
    pub fn memory_bytes(&self) -> usize {
        self.offsets_at + self.count * 4 + 48
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built() -> Vec<u8> {
        let mut b = BlockBuilder::default();
        b.add(b"apple", Some(b"red"));
        b.add(b"banana", None);
        b.add(b"cherry", Some(b""));
        let mut out = Vec::new();
        b.finish_into(&mut out);
        out
    }

    #[test]
    fn block_round_trips_and_seeks() {
        let block = Block::decode(built()).unwrap();
        assert_eq!(block.len(), 3);
        assert_eq!(block.entry(0), (&b"apple"[..], Some(&b"red"[..])));
        assert_eq!(block.entry(1), (&b"banana"[..], None));
        assert_eq!(block.entry(2), (&b"cherry"[..], Some(&b""[..])));
        assert_eq!(block.seek(b"b"), 1);
        assert_eq!(block.seek(b"banana"), 1);
        assert_eq!(block.seek(b"z"), 3);
        assert_eq!(block.key(2), b"cherry");
    }

    #[test]
    fn a_block_written_in_place_is_the_block_built() {
        let mut out = b"earlier bytes".to_vec();
        let mut w = BlockWriter::default();
        assert_eq!(w.estimated_bytes(&out), 8);
        w.add(&mut out, b"apple", Some(b"red"));
        w.add(&mut out, b"banana", None);
        w.add(&mut out, b"cherry", Some(b""));
        assert_eq!(w.last_key(&out), Some(&b"cherry"[..]));
        let expected = built();
        assert_eq!(w.estimated_bytes(&out), expected.len());
        w.finish(&mut out);
        assert_eq!(&out[..13], b"earlier bytes");
        assert_eq!(&out[13..], expected.as_slice());
        assert!(w.is_empty() && w.last_key(&out).is_none());
    }

    #[test]
    fn a_block_built_in_memory_is_the_block_decoded() {
        let mut b = BlockBuilder::default();
        b.add(b"apple", Some(b"red"));
        b.add(b"banana", None);
        b.add(b"cherry", Some(b""));
        let block = b.into_block().unwrap();
        assert_eq!(block.data, built());
        assert_eq!(block.len(), 3);
        assert_eq!(block.entry(1), (&b"banana"[..], None));
        let (start, end) = block.key_span(2);
        assert_eq!(block.bytes(start, end), b"cherry");
        assert!(BlockBuilder::default().into_block().is_none());
    }

    #[test]
    fn every_single_byte_flip_of_a_block_is_detected() {
        let good = built();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x04;
            assert!(Block::decode(bad).is_err(), "flip at {i}");
        }
    }
}

//! The SST index block: one entry per data block, in key order.
//!
//! ```text
//! entries, each:
//!   key_len u32, last key of the block
//!   offset u64, len u32   where the block lies in the file
//! n u32                   entry count
//! crc32c u32              of every byte before it
//! ```

/// Where one data block lies and the last key it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub last_key: Vec<u8>,
    pub offset: u64,
    pub len: u32,
}

pub fn encode(entries: &[IndexEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        encode_entry(&mut out, &e.last_key, e.offset, e.len);
    }
    finish(&mut out, entries.len());
    out
}

/// Appends one entry to an index block being built in `out` (see [`finish`]).
pub fn encode_entry(out: &mut Vec<u8>, last_key: &[u8], offset: u64, len: u32) {
    out.reserve(last_key.len() + 16);
    out.extend_from_slice(&(last_key.len() as u32).to_le_bytes());
    out.extend_from_slice(last_key);
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
}

/// Ends an index block whose `count` entries [`encode_entry`] appended to `out`, which holds
/// nothing else.
pub fn finish(out: &mut Vec<u8>, count: usize) {
    out.reserve(8);
    out.extend_from_slice(&(count as u32).to_le_bytes());
    let crc = crc32c::crc32c(out);
    out.extend_from_slice(&crc.to_le_bytes());
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], &'static str> {
    let (head, rest) = input.split_at_checked(n).ok_or("index entry cut short")?;
    *input = rest;
    Ok(head)
}

fn take_u32(input: &mut &[u8]) -> Result<u32, &'static str> {
    let b = take(input, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Verifies and decodes an index block; `data_end` is where the data blocks end.
pub fn decode(bytes: &[u8], data_end: u64) -> Result<Vec<IndexEntry>, &'static str> {
    let mut entries = Vec::new();
    decode_each(bytes, data_end, |last_key, offset, len| {
        entries.push(IndexEntry {
            last_key: last_key.to_vec(),
            offset,
            len,
        });
    })?;
    Ok(entries)
}

/// Verifies an index block and calls `f` with each entry's last key, offset and length, in
/// order, without copying the keys (a table keeps them in one buffer). Calls `f` only for
/// entries checked so far; on damage the caller drops what it built.
pub fn decode_each(
    bytes: &[u8],
    data_end: u64,
    mut f: impl FnMut(&[u8], u64, u32),
) -> Result<(), &'static str> {
    if bytes.len() < 8 {
        return Err("index block too short");
    }
    let crc_at = bytes.len() - 4;
    let b = &bytes[crc_at..];
    if crc32c::crc32c(&bytes[..crc_at]) != u32::from_le_bytes([b[0], b[1], b[2], b[3]]) {
        return Err("index block checksum mismatch");
    }
    let mut tail = &bytes[crc_at - 4..crc_at];
    let count = take_u32(&mut tail)? as usize;
    let mut input = &bytes[..crc_at - 4];
    let mut expected_offset = 0u64;
    let mut prev: Option<&[u8]> = None;
    for _ in 0..count {
        let key_len = take_u32(&mut input)? as usize;
        let last_key = take(&mut input, key_len)?;
        let mut off = [0u8; 8];
        off.copy_from_slice(take(&mut input, 8)?);
        let offset = u64::from_le_bytes(off);
        let len = take_u32(&mut input)?;
        if offset != expected_offset || offset + u64::from(len) > data_end {
            return Err("index entry points outside the data blocks");
        }
        if prev.is_some_and(|prev| prev >= last_key) {
            return Err("index keys out of order");
        }
        expected_offset = offset + u64::from(len);
        f(last_key, offset, len);
        prev = Some(last_key);
    }
    if !input.is_empty() {
        return Err("index block has trailing bytes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<IndexEntry> {
        vec![
            IndexEntry {
                last_key: b"b".to_vec(),
                offset: 0,
                len: 40,
            },
            IndexEntry {
                last_key: b"d".to_vec(),
                offset: 40,
                len: 50,
            },
        ]
    }

    #[test]
    fn index_round_trips() {
        assert_eq!(decode(&encode(&sample()), 90).unwrap(), sample());
        assert!(decode(&encode(&sample()), 80).is_err());
    }

    #[test]
    fn every_single_byte_flip_of_an_index_block_is_detected() {
        let good = encode(&sample());
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x08;
            assert!(decode(&bad, 90).is_err(), "flip at {i}");
        }
    }
}

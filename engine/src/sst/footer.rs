//! The SST footer: fixed size, at the very end of the file, found without any other knowledge.
//!
//! ```text
//! offset  size  field
//! 0       8     index_offset
//! 8       8     index_len
//! 16      8     bloom_offset
//! 24      8     bloom_len
//! 32      8     entries
//! 40      8     largest_seq: no write in the SST has a higher sequence number
//! 48      4     format version (2)
//! 52      4     crc32c of bytes 0..52
//! 56      8     magic
//! ```
//!
//! `largest_seq` lets recovery tell an SST left by an interrupted job (its writes are also in a
//! WAL or in the job's inputs) from one whose edit the MANIFEST lost (its writes are nowhere
//! else), without trusting the SST's number.

pub const FOOTER_BYTES: usize = 64;
pub const MAGIC: u64 = 0x5043_5554_5353_5431; // "PCUTSST1"
const FORMAT_VERSION: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footer {
    pub index_offset: u64,
    pub index_len: u64,
    pub bloom_offset: u64,
    pub bloom_len: u64,
    pub entries: u64,
    pub largest_seq: u64,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Footer {
    pub fn encode(&self) -> [u8; FOOTER_BYTES] {
        let mut out = [0u8; FOOTER_BYTES];
        out[0..8].copy_from_slice(&self.index_offset.to_le_bytes());
        out[8..16].copy_from_slice(&self.index_len.to_le_bytes());
        out[16..24].copy_from_slice(&self.bloom_offset.to_le_bytes());
        out[24..32].copy_from_slice(&self.bloom_len.to_le_bytes());
        out[32..40].copy_from_slice(&self.entries.to_le_bytes());
        out[40..48].copy_from_slice(&self.largest_seq.to_le_bytes());
        out[48..52].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        let crc = crc32c::crc32c(&out[..52]);
        out[52..56].copy_from_slice(&crc.to_le_bytes());
        out[56..64].copy_from_slice(&MAGIC.to_le_bytes());
        out
    }

    /// Decodes and checks a footer against the length of its file.
    pub fn decode(b: &[u8; FOOTER_BYTES], file_len: u64) -> Result<Footer, &'static str> {
        if u64_at(b, 56) != MAGIC {
            return Err("bad SST magic (not an SST, or its end is damaged)");
        }
        if crc32c::crc32c(&b[..52]) != u32_at(b, 52) {
            return Err("footer checksum mismatch");
        }
        if u32_at(b, 48) != FORMAT_VERSION {
            return Err("unknown SST format version");
        }
        let f = Footer {
            index_offset: u64_at(b, 0),
            index_len: u64_at(b, 8),
            bloom_offset: u64_at(b, 16),
            bloom_len: u64_at(b, 24),
            entries: u64_at(b, 32),
            largest_seq: u64_at(b, 40),
        };
        let body = file_len.saturating_sub(FOOTER_BYTES as u64);
        let fits = |off: u64, len: u64| off.checked_add(len).is_some_and(|end| end <= body);
        if !fits(f.index_offset, f.index_len) || !fits(f.bloom_offset, f.bloom_len) {
            return Err("footer points outside the file");
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Footer {
        Footer {
            index_offset: 100,
            index_len: 20,
            bloom_offset: 120,
            bloom_len: 30,
            entries: 7,
            largest_seq: 99,
        }
    }

    #[test]
    fn footer_round_trips() {
        assert_eq!(Footer::decode(&sample().encode(), 500), Ok(sample()));
        assert!(Footer::decode(&sample().encode(), 150).is_err());
    }

    #[test]
    fn every_single_byte_flip_of_a_footer_is_detected() {
        let good = sample().encode();
        for i in 0..FOOTER_BYTES {
            let mut bad = good;
            bad[i] ^= 0x20;
            assert!(Footer::decode(&bad, 500).is_err(), "flip at {i}");
        }
    }
}

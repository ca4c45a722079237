//! The bloom filter of an SST: one bit array for all its keys.
//!
//! ```text
//! bits      ceil(keys * bits_per_key / 8) bytes (at least 8)
//! probes u8
//! crc32c u32 of every byte before it
//! ```
//!
//! An empty block (length 0) means no filter: every key "may" be present.
//! The filter is blocked: the key's xxh3 hash picks one 512-bit (cache-line) block, and every
//! probe falls inside it, so a lookup costs one cache miss per table, not one per probe.

use xxhash_rust::xxh3::xxh3_64;

/// The hash a filter is built and probed with.
pub fn key_hash(key: &[u8]) -> u64 {
    xxh3_64(key)
}

/// A decoded filter.
#[derive(Debug, Default)]
pub struct Bloom {
    bits: Vec<u8>,
    probes: u8,
}

/// Bits per block: one 64-byte cache line.
const BLOCK_BITS: u64 = 512;

/// The bit positions a key's hash probes in a filter of `nbits` (a multiple of `BLOCK_BITS`).
pub fn probe_positions(hash: u64, probes: u8, nbits: u64) -> impl Iterator<Item = u64> {
    // Multiply-shift maps the hash onto a block without a division.
    let block = ((u128::from(hash) * u128::from(nbits / BLOCK_BITS)) >> 64) as u64;
    let h1 = hash.rotate_left(32);
    let h2 = hash.rotate_left(13) | 1;
    (0..u64::from(probes))
        .map(move |i| block * BLOCK_BITS + (h1.wrapping_add(i.wrapping_mul(h2)) % BLOCK_BITS))
}

impl Bloom {
    /// Builds a filter block over key hashes (empty when `bits_per_key` is 0).
    pub fn build(hashes: &[u64], bits_per_key: u32) -> Vec<u8> {
        if bits_per_key == 0 || hashes.is_empty() {
            return Vec::new();
        }
        let wanted = (hashes.len() as u64 * u64::from(bits_per_key)).max(BLOCK_BITS);
        let nbits = wanted.div_ceil(BLOCK_BITS) * BLOCK_BITS;
        let nbytes = (nbits / 8) as usize;
        // ln 2 * bits per key probes minimise false positives.
        let probes = ((f64::from(bits_per_key) * 0.69) as u8).clamp(1, 30);
        // Room for the probe count and checksum too, so appending them does not reallocate.
        let mut out = Vec::with_capacity(nbytes + 5);
        out.resize(nbytes, 0);
        for &h in hashes {
            for bit in probe_positions(h, probes, nbits) {
                out[(bit / 8) as usize] |= 1 << (bit % 8);
            }
        }
        out.push(probes);
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Verifies and decodes a filter block.
    pub fn decode(mut bytes: Vec<u8>) -> Result<Bloom, &'static str> {
        if bytes.is_empty() {
            return Ok(Bloom::default());
        }
        if bytes.len() < 6 {
            return Err("bloom block too short");
        }
        let crc_at = bytes.len() - 4;
        let b = &bytes[crc_at..];
        let crc = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if crc32c::crc32c(&bytes[..crc_at]) != crc {
            return Err("bloom block checksum mismatch");
        }
        let probes = bytes[crc_at - 1];
        if probes == 0 || probes > 30 {
            return Err("bloom probe count out of range");
        }
        if !(crc_at - 1).is_multiple_of((BLOCK_BITS / 8) as usize) {
            return Err("bloom bits are not whole blocks");
        }
        bytes.truncate(crc_at - 1);
        Ok(Bloom {
            bits: bytes,
            probes,
        })
    }

    /// False only if the key is certainly absent.
    pub fn may_contain(&self, hash: u64) -> bool {
        if self.bits.is_empty() {
            return true;
        }
        let nbits = self.bits.len() as u64 * 8;
        probe_positions(hash, self.probes, nbits)
            .all(|bit| self.bits[(bit / 8) as usize] & (1 << (bit % 8)) != 0)
    }

    pub fn memory_bytes(&self) -> usize {
        self.bits.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bloom_has_no_false_negatives_and_few_false_positives() {
        let hashes: Vec<u64> = (0..1000u32).map(|i| key_hash(&i.to_le_bytes())).collect();
        let bloom = Bloom::decode(Bloom::build(&hashes, 10)).unwrap();
        assert!(hashes.iter().all(|&h| bloom.may_contain(h)));
        let fp = (1000..11000u32)
            .filter(|i| bloom.may_contain(key_hash(&i.to_le_bytes())))
            .count();
        assert!(fp < 300, "{fp} false positives in 10000");
    }

    #[test]
    fn every_single_byte_flip_of_a_bloom_block_is_detected() {
        let good = Bloom::build(&[1, 2, 3], 10);
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x02;
            assert!(Bloom::decode(bad).is_err(), "flip at {i}");
        }
    }
}

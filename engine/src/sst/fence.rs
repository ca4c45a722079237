//! Fences: a cache-friendly view of sorted keys for binary search, used over an SST's index
//! (one key per block) and over each level's files (one largest key per file): views built
//! once and searched by every lookup.
//!
//! The view keeps the prefix every key shares and, per key, one `u64` fence: the next 7 bytes
//! of the key (zero-padded, big-endian) and, in the low byte, how many bytes follow the prefix
//! (capped at 8, meaning "more than 7"). Fences order keys like the keys themselves whenever
//! they differ (a shorter rest padded with zeros is a prefix of a longer one with the same
//! bytes, so the length byte orders them right); equal fences with a length below 8 are equal
//! keys. So a search touches one contiguous array and compares whole keys only among ties of
//! keys with rests longer than 7 bytes. It lives in memory only; nothing of it is on disk.

use std::cmp::Ordering;

#[derive(Debug, Default)]
pub struct Fences {
    /// How many leading bytes every key shares (the bytes themselves are key 0's).
    prefix_len: usize,
    fences: Vec<u64>,
}

/// Bytes of a key's rest a fence holds.
const FENCE_BYTES: usize = 7;

/// The length byte of a rest longer than a fence holds.
const LONG_REST: u64 = FENCE_BYTES as u64 + 1;

fn fence_of(rest: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    match rest.get(..FENCE_BYTES) {
        Some(head) => bytes[..FENCE_BYTES].copy_from_slice(head),
        None => bytes[..rest.len()].copy_from_slice(rest),
    }
    bytes[FENCE_BYTES] = rest.len().min(LONG_REST as usize) as u8;
    u64::from_be_bytes(bytes)
}

impl Fences {
    /// Builds the view of `count` keys, key `i` given by `key(i)`, in ascending order (keys out
    /// of order give wrong answers, never a panic).
    pub fn new<'a>(count: usize, key: impl Fn(usize) -> &'a [u8]) -> Fences {
        if count == 0 {
            return Fences::default();
        }
        // Sorted keys share exactly what the first and the last share.
        let prefix_len = key(0)
            .iter()
            .zip(key(count - 1))
            .take_while(|(a, b)| a == b)
            .count();
        let fences = (0..count)
            .map(|i| fence_of(key(i).get(prefix_len..).unwrap_or_default()))
            .collect();
        Fences { prefix_len, fences }
    }

    /// The first `i` with `key(i) >= wanted` (the number of keys if none): `key` must give the
    /// keys this view was built from.
    pub fn first_at_or_after<'a>(&self, wanted: &[u8], key: impl Fn(usize) -> &'a [u8]) -> usize {
        if self.fences.is_empty() {
            return 0;
        }
        let p = self.prefix_len;
        let prefix = key(0).get(..p).unwrap_or_default();
        match wanted[..p.min(wanted.len())].cmp(prefix) {
            Ordering::Less => return 0,
            Ordering::Greater => return self.fences.len(),
            // A key that is a proper prefix of the shared prefix sorts before every key.
            Ordering::Equal if wanted.len() < p => return 0,
            Ordering::Equal => {}
        }
        let fence = fence_of(&wanted[p..]);
        let lo = self.fences.partition_point(|&f| f < fence);
        if fence & 0xff < LONG_REST {
            // Every key with this fence is `wanted` itself.
            return lo;
        }
        let mut hi = lo + self.fences[lo..].partition_point(|&f| f <= fence);
        // Among the ties, whole keys decide.
        let mut lo = lo;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if key(mid) < wanted {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Bytes held in memory.
    pub fn memory_bytes(&self) -> usize {
        self.fences.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_find_the_same_key_as_a_plain_search() {
        let keys: Vec<&[u8]> = vec![
            b"key00",
            b"key0000000001",
            b"key0000000001\0",
            b"key0000000002",
            b"key0000000002a",
            b"key0000000010",
            b"key000000001000000",
            b"key000000001000000\0",
            b"key000000001000000\0\0",
            b"key000000001000000\x01",
            b"key01",
            b"key1",
        ];
        let fences = Fences::new(keys.len(), |i| keys[i]);
        assert_eq!(fences.prefix_len, 3);
        let probes: Vec<&[u8]> = vec![
            b"",
            b"a",
            b"k",
            b"key",
            b"key0",
            b"key00",
            b"key000",
            b"key0000000001",
            b"key0000000001\0",
            b"key0000000001\0\0",
            b"key0000000002",
            b"key00000000025",
            b"key0000000010",
            b"key00000000100",
            b"key000000001000000",
            b"key000000001000000\0",
            b"key000000001000000\0\0",
            b"key000000001000000\0\0\0",
            b"key000000001000000\x01",
            b"key0000000010000\0",
            b"key01",
            b"key0100",
            b"key1",
            b"key2",
            b"z",
        ];
        for probe in probes {
            let plain = keys.partition_point(|k| *k < probe);
            assert_eq!(
                fences.first_at_or_after(probe, |i| keys[i]),
                plain,
                "{probe:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn fences_agree_with_a_plain_search_on_any_sorted_keys(
            keys in proptest::collection::btree_set(
                proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 8, b'a']), 0..14),
                1..40,
            ),
            probes in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(vec![0u8, 1, b'a', 2]), 0..15),
                1..40,
            ),
        ) {
            let keys: Vec<Vec<u8>> = keys.into_iter().collect();
            let fences = Fences::new(keys.len(), |i| &keys[i]);
            for probe in probes.iter().chain(keys.iter()) {
                let plain = keys.partition_point(|k| k < probe);
                proptest::prop_assert_eq!(fences.first_at_or_after(probe, |i| &keys[i]), plain);
            }
        }
    }
}

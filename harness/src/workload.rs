//! Seeded, parameterized workloads.
//!
//! A workload is a list of store steps (writes, reads, syncs, flushes, compactions, reopens)
//! drawn from a `ChaCha8Rng`. Every written value names the write that wrote it (`w<id>.`), so a
//! report can say which write a recovered value came from, and a value never written is obvious.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::case::Step;
use crate::model::Mutation;

/// Relative weights of the kinds of step a workload draws (0 = never).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mix {
    pub put: u32,
    pub delete: u32,
    pub batch: u32,
    pub get: u32,
    pub scan: u32,
    pub sync: u32,
    pub flush: u32,
    pub compact: u32,
    pub reopen: u32,
    /// Percentage (0..=100) of puts, deletes and batches issued with `sync: true`.
    pub synced_write_percent: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            put: 50,
            delete: 10,
            batch: 8,
            get: 10,
            scan: 2,
            sync: 5,
            flush: 2,
            compact: 1,
            reopen: 1,
            synced_write_percent: 15,
        }
    }
}

/// The shape of a generated workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkloadParams {
    /// How many steps.
    pub ops: usize,
    /// How many distinct keys (`k00000` ..).
    pub keys: u32,
    /// Percentage (0..=100) of key draws that go to the hottest tenth of the key space.
    pub hot_percent: u32,
    /// Value sizes in bytes, inclusive (a value is never shorter than its `w<id>.` tag).
    pub value_min: usize,
    pub value_max: usize,
    /// Largest batch.
    pub batch_max: usize,
    pub mix: Mix,
}

impl Default for WorkloadParams {
    fn default() -> Self {
        WorkloadParams {
            ops: 100,
            keys: 64,
            hot_percent: 50,
            value_min: 8,
            value_max: 64,
            batch_max: 6,
            mix: Mix::default(),
        }
    }
}

/// The name of key number `i`.
pub fn key_name(i: u32) -> String {
    // Written digit by digit: a key is made for nearly every step of every seeded run, and the
    // formatting machinery cost more than the rest of drawing the step.
    let mut name = String::with_capacity(11);
    name.push('k');
    push_decimal(&mut name, u64::from(i), 5);
    name
}

/// Appends `n` in decimal, zero-padded to at least `width` digits (what `{n:0width$}` gives).
fn push_decimal(out: &mut String, n: u64, width: usize) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(n);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(digits);
}

/// The alphabet, repeated: long enough that the filler of a swarm value (at most 2,000 bytes)
/// from any starting letter is one slice of it, copied at once.
const ALPHABETS: &str = {
    const LEN: usize = 26 * 80;
    const BYTES: [u8; LEN] = {
        let mut b = [0u8; LEN];
        let mut i = 0;
        while i < LEN {
            b[i] = b'a' + (i % 26) as u8;
            i += 1;
        }
        b
    };
    match std::str::from_utf8(&BYTES) {
        Ok(s) => s,
        Err(_) => panic!("the alphabet is ASCII"),
    }
};

/// A value for write `id` of `len` bytes: the tag `w<id>.` then the alphabet, starting at letter
/// `id % 26` and repeating.
pub fn value_for(id: u64, len: usize) -> String {
    let mut v = String::with_capacity(len.max(22));
    v.push('w');
    push_decimal(&mut v, id, 1);
    v.push('.');
    let mut letter = (id % 26) as usize;
    while v.len() < len {
        let take = (len - v.len()).min(ALPHABETS.len() - letter);
        v.push_str(&ALPHABETS[letter..letter + take]);
        letter = (letter + take) % 26;
    }
    v
}

/// Generates a workload from a seed.
pub fn generate(seed: u64, params: &WorkloadParams) -> Vec<Step> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    generate_with(&mut rng, params)
}

/// Generates a workload from an existing generator (the option swarm shares one).
pub fn generate_with(rng: &mut ChaCha8Rng, params: &WorkloadParams) -> Vec<Step> {
    let mut g = Generator {
        rng,
        params,
        next_write: 0,
    };
    (0..params.ops).map(|_| g.step()).collect()
}

struct Generator<'a> {
    rng: &'a mut ChaCha8Rng,
    params: &'a WorkloadParams,
    /// Numbers values so each names its write.
    next_write: u64,
}

impl Generator<'_> {
    fn step(&mut self) -> Step {
        let m = &self.params.mix;
        let weights = [
            m.put, m.delete, m.batch, m.get, m.scan, m.sync, m.flush, m.compact, m.reopen,
        ];
        let total: u32 = weights.iter().sum();
        if total == 0 {
            return Step::Sync {};
        }
        let mut pick = self.rng.random_range(0..total);
        let mut which = 0;
        for (i, w) in weights.iter().enumerate() {
            if pick < *w {
                which = i;
                break;
            }
            pick -= w;
        }
        match which {
            0 => {
                let (key, value, sync) = (self.key(), self.value(), self.sync_flag());
                Step::Put { key, value, sync }
            }
            1 => {
                self.next_write += 1;
                let (key, sync) = (self.key(), self.sync_flag());
                Step::Delete { key, sync }
            }
            2 => self.batch(),
            3 => Step::Get { key: self.key() },
            4 => {
                let (a, b) = (self.key(), self.key());
                let (start, end) = if a <= b { (a, b) } else { (b, a) };
                Step::Scan {
                    start: Some(start),
                    end: Some(end),
                }
            }
            5 => Step::Sync {},
            6 => Step::Flush {},
            7 => Step::Compact {},
            _ => Step::Reopen {},
        }
    }

    fn batch(&mut self) -> Step {
        let n = self.rng.random_range(1..=self.params.batch_max.max(1));
        let ops = (0..n)
            .map(|_| {
                if self.rng.random_ratio(1, 4) {
                    Mutation::Delete { key: self.key() }
                } else {
                    Mutation::Put {
                        key: self.key(),
                        value: self.value(),
                    }
                }
            })
            .collect();
        Step::Batch {
            ops,
            sync: self.sync_flag(),
        }
    }

    fn key(&mut self) -> String {
        let keys = self.params.keys.max(1);
        let hot = (keys / 10).max(1);
        let i = if self.rng.random_range(0..100) < self.params.hot_percent {
            self.rng.random_range(0..hot)
        } else {
            self.rng.random_range(0..keys)
        };
        key_name(i)
    }

    fn value(&mut self) -> String {
        let lo = self.params.value_min;
        let hi = self.params.value_max.max(lo);
        let len = self.rng.random_range(lo..=hi);
        let id = self.next_write;
        self.next_write += 1;
        value_for(id, len)
    }

    fn sync_flag(&mut self) -> bool {
        self.rng.random_range(0..100) < self.params.mix.synced_write_percent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_value_tags_are_spelled_as_format_spells_them() {
        for i in [0, 7, 42, 999, 12_345, 99_999, 100_000, 4_000_000_000] {
            assert_eq!(key_name(i), format!("k{i:05}"));
        }
        for id in [0u64, 9, 10, 123_456, u64::MAX] {
            let v = value_for(id, 40);
            assert!(v.starts_with(&format!("w{id}.")), "{v}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_workload() {
        let p = WorkloadParams::default();
        assert_eq!(generate(7, &p), generate(7, &p));
        assert_ne!(generate(7, &p), generate(8, &p));
    }

    #[test]
    fn a_workload_has_the_requested_length_and_only_store_steps() {
        let p = WorkloadParams {
            ops: 500,
            ..WorkloadParams::default()
        };
        let w = generate(1, &p);
        assert_eq!(w.len(), 500);
        assert!(w.iter().all(Step::is_store_op));
    }

    #[test]
    fn values_name_their_write_and_respect_the_size() {
        let v = value_for(42, 20);
        assert!(v.starts_with("w42."));
        assert_eq!(v.len(), 20);
        assert_eq!(value_for(42, 1), "w42.");
    }

    #[test]
    fn values_are_the_tag_then_the_alphabet_repeating_from_the_ids_letter() {
        const FILLER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
        for id in [0u64, 1, 7, 25, 26, 27, 42, 999, 123_456] {
            for len in [
                0usize, 1, 3, 5, 6, 20, 26, 27, 30, 52, 53, 100, 777, 2000, 2100, 5000,
            ] {
                let tag = format!("w{id}.");
                let mut want = tag.clone().into_bytes();
                let mut at = (id as usize) % FILLER.len();
                while want.len() < len {
                    want.push(FILLER[at]);
                    at = (at + 1) % FILLER.len();
                }
                assert_eq!(value_for(id, len).as_bytes(), want, "id {id} len {len}");
            }
        }
    }
}

//! The round's workload: an endless seeded stream of operations that the child runs and the
//! parent regenerates.
//!
//! The stream depends only on the round's seed and the id of its first write, never on what the
//! store answers, so the parent rebuilds exactly the writes the child issued from the child's
//! `i <id>` lines alone. Every value carries its write's global id (`w<id>.`), unique over the
//! whole kill-test, so a recovered value always names the one write it came from.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::Mutation;
use crate::workload::{key_name, value_for};

/// How many distinct keys the kill-test writes.
pub const KEYS: u32 = 2000;
/// Value sizes in bytes, inclusive.
const VALUE_BYTES_MIN: usize = 16;
const VALUE_BYTES_MAX: usize = 256;
/// Largest atomic batch.
const BATCH_MAX: usize = 8;
/// Per mille of writes issued with `sync: true`. Kept low, with the explicit syncs and flushes
/// below, because a real fsync costs milliseconds: with more, the child would spend most of each
/// round inside fsync and the kills would rarely find acknowledged writes that are not durable.
const SYNCED_WRITE_PER_MILLE: u32 = 5;

/// One operation of the child's workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KillOp {
    /// Write number `id` (global over the kill-test), applied atomically.
    Write {
        id: u64,
        mutations: Vec<Mutation>,
        sync: bool,
    },
    /// Read one key and compare with the live model.
    Get { key: String },
    /// A durability point.
    Sync,
    /// Move the memtable to an SST now (also a durability point).
    Flush,
    /// Compact until nothing is left to compact.
    Compact,
}

/// The endless stream of one round.
#[derive(Debug)]
pub struct RoundWorkload {
    rng: ChaCha8Rng,
    next_id: u64,
}

impl RoundWorkload {
    /// The stream of the round with this seed whose first write gets id `first_id`.
    pub fn new(seed: u64, first_id: u64) -> RoundWorkload {
        RoundWorkload {
            rng: ChaCha8Rng::seed_from_u64(seed),
            next_id: first_id,
        }
    }

    /// The id the next write will get.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// The next operation.
    pub fn next_op(&mut self) -> KillOp {
        // Weights per thousand: writes dominate; a flush or compaction now and then on top of the
        // ones the small memtables start in the background.
        let pick = self.rng.random_range(0..1000u32);
        match pick {
            0..600 => {
                let key = self.key();
                let value = value_for(self.next_id, self.value_len());
                self.write(vec![Mutation::Put { key, value }])
            }
            600..700 => {
                let key = self.key();
                self.write(vec![Mutation::Delete { key }])
            }
            700..800 => {
                let batch = self.batch();
                self.write(batch)
            }
            800..993 => KillOp::Get { key: self.key() },
            993..996 => KillOp::Sync,
            996..998 => KillOp::Flush,
            _ => KillOp::Compact,
        }
    }

    fn write(&mut self, mutations: Vec<Mutation>) -> KillOp {
        let sync = self.rng.random_range(0..1000) < SYNCED_WRITE_PER_MILLE;
        let id = self.next_id;
        self.next_id += 1;
        KillOp::Write {
            id,
            mutations,
            sync,
        }
    }

    fn batch(&mut self) -> Vec<Mutation> {
        let n = self.rng.random_range(2..=BATCH_MAX);
        (0..n)
            .map(|_| {
                let key = self.key();
                if self.rng.random_ratio(1, 5) {
                    Mutation::Delete { key }
                } else {
                    // Every value of the batch names the batch's write id; the key keeps them
                    // apart when a batch writes one key twice.
                    let value = format!("{}.{key}", value_for(self.next_id, self.value_len()));
                    Mutation::Put { key, value }
                }
            })
            .collect()
    }

    /// A key, half the draws from the hottest tenth so keys are overwritten and deleted often.
    fn key(&mut self) -> String {
        let i = if self.rng.random_ratio(1, 2) {
            self.rng.random_range(0..KEYS / 10)
        } else {
            self.rng.random_range(0..KEYS)
        };
        key_name(i)
    }

    fn value_len(&mut self) -> usize {
        self.rng.random_range(VALUE_BYTES_MIN..=VALUE_BYTES_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(w: &mut RoundWorkload, n: usize) -> Vec<KillOp> {
        (0..n).map(|_| w.next_op()).collect()
    }

    #[test]
    fn the_same_seed_and_first_id_give_the_same_stream() {
        let a = take(&mut RoundWorkload::new(9, 100), 500);
        let b = take(&mut RoundWorkload::new(9, 100), 500);
        assert_eq!(a, b);
        assert_ne!(a, take(&mut RoundWorkload::new(10, 100), 500));
    }

    #[test]
    fn write_ids_are_consecutive_from_the_first_id_and_values_name_them() {
        let mut w = RoundWorkload::new(3, 40);
        let ids: Vec<u64> = take(&mut w, 300)
            .into_iter()
            .filter_map(|op| match op {
                KillOp::Write { id, mutations, .. } => {
                    for m in &mutations {
                        if let Some(v) = m.value_after() {
                            assert!(v.starts_with(&format!("w{id}.")), "{v}");
                        }
                    }
                    Some(id)
                }
                _ => None,
            })
            .collect();
        assert!(ids.len() > 100);
        assert!(ids.iter().zip(40..).all(|(id, want)| *id == want));
        assert_eq!(w.next_id(), 40 + ids.len() as u64);
    }
}

//! Which seeds a gate runs and what each seed runs with.
//!
//! A gate sweeps crash policies and fault classes. Each seed's policy and fault class are a
//! function of the seed alone (never of the shard, the thread count or the budget), so a failing
//! seed replays with `powercut replay --seed S --policy P [--fault F]` whatever gate found it.
//!
//! The sweep's combinations (policy x fault slot) are dealt out in blocks: seeds
//! `b*C .. (b+1)*C` (C = number of combinations) hold every combination exactly once, in an order
//! shuffled per block. A contiguous seed range therefore covers every combination evenly, and a
//! shard that takes every N-th seed still meets every combination after a few blocks (a plain
//! rotation would give shard K only the policies congruent to K).

use faultfs::FaultClass;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::coverage::PolicyKind;
use crate::store::DiskAssumptions;
use crate::swarm::ALL_FAULTS;
use crate::swarm::RunOptions;

/// One slice of a sweep split over machines: this machine runs the seeds whose position in the
/// sweep is `index - 1` modulo `count` (1-based, as CI matrices count).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole sweep.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Parses `K/N` with `1 <= K <= N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("bad shard {text:?}: expected K/N with 1 <= K <= N, like 2/4");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The `i`-th seed (from 0) this shard runs, in a sweep starting at `start`.
    pub fn seed(self, start: u64, i: u64) -> u64 {
        start.wrapping_add(i.wrapping_mul(self.count).wrapping_add(self.index - 1))
    }
}

/// What a sweep varies and what it holds fixed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// The crash policies dealt out over seeds.
    pub policies: Vec<PolicyKind>,
    /// The fault slots dealt out over seeds; `None` is a run with crashes only.
    pub faults: Vec<Option<FaultClass>>,
    /// Store defects switched on in every run.
    pub bugs: Vec<String>,
    /// Configuration fields fixed over what each seed draws.
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    /// Disk assumptions fixed over the store's declaration.
    #[serde(default)]
    pub assumptions: Option<DiskAssumptions>,
    /// How to start this binary, for replay lines.
    #[serde(default)]
    pub command: crate::swarm::Invocation,
    /// Workload length per run.
    pub ops: usize,
}

impl Sweep {
    /// The default sweep: every policy, crash-only runs and every fault class.
    pub fn full() -> Sweep {
        Sweep {
            policies: PolicyKind::ALL.to_vec(),
            faults: std::iter::once(None)
                .chain(ALL_FAULTS.into_iter().map(Some))
                .collect(),
            bugs: Vec::new(),
            config: None,
            assumptions: None,
            command: RunOptions::default().command,
            ops: RunOptions::default().ops,
        }
    }

    /// How many (policy, fault slot) combinations the sweep deals out.
    pub fn combinations(&self) -> u64 {
        (self.policies.len() * self.faults.len()).max(1) as u64
    }

    /// The policy and fault slot of `seed`.
    pub fn combination(&self, seed: u64) -> (PolicyKind, Option<FaultClass>) {
        let c = self.combinations();
        let slot = block_order(seed / c, c)[(seed % c) as usize] as usize;
        let policy = self
            .policies
            .get(slot % self.policies.len().max(1))
            .copied()
            .unwrap_or(PolicyKind::Strict);
        let fault = self
            .faults
            .get(slot / self.policies.len().max(1))
            .copied()
            .flatten();
        (policy, fault)
    }

    /// The run options of `seed`: its policy and fault class fixed, the seed draws the rest.
    pub fn run_options(&self, seed: u64) -> RunOptions {
        let (policy, fault) = self.combination(seed);
        RunOptions {
            policy: Some(policy.policy()),
            faults: fault.into_iter().collect(),
            bugs: self.bugs.clone(),
            config: self.config.clone(),
            assumptions: self.assumptions,
            command: self.command.clone(),
            ops: self.ops,
            ..RunOptions::default()
        }
    }
}

/// The order in which block `block` deals out `c` combinations: a permutation of `0..c` drawn
/// from the block number.
fn block_order(block: u64, c: u64) -> Vec<u64> {
    let mut order: Vec<u64> = (0..c).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(block ^ 0x6761_7465_5f73_7770);
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_aligned_block_holds_every_combination_once() {
        let sweep = Sweep::full();
        let c = sweep.combinations();
        assert_eq!(c, 48);
        for block in 0..3 {
            let seen: BTreeSet<(PolicyKind, Option<FaultClass>)> = (block * c..(block + 1) * c)
                .map(|s| sweep.combination(s))
                .collect();
            assert_eq!(seen.len() as u64, c);
        }
    }

    #[test]
    fn a_shard_meets_every_policy() {
        let sweep = Sweep::full();
        let shard = Shard::parse("2/4").unwrap();
        let policies: BTreeSet<PolicyKind> = (0..200)
            .map(|i| sweep.combination(shard.seed(0, i)).0)
            .collect();
        assert_eq!(policies.len(), 4);
    }

    #[test]
    fn shards_partition_the_seeds() {
        let a: Vec<u64> = (0..3)
            .map(|i| Shard::parse("1/2").unwrap().seed(10, i))
            .collect();
        let b: Vec<u64> = (0..3)
            .map(|i| Shard::parse("2/2").unwrap().seed(10, i))
            .collect();
        assert_eq!(a, vec![10, 12, 14]);
        assert_eq!(b, vec![11, 13, 15]);
    }

    #[test]
    fn bad_shards_are_refused() {
        for bad in ["0/2", "3/2", "1/0", "x/2", "2", "1/2/3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }
}

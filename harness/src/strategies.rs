//! Proptest strategies, so users can write `proptest!` sweeps over their own stores.
//!
//! ```no_run
//! use proptest::prelude::*;
//! proptest! {
//!     #[test]
//!     fn my_store_survives_crashes(case in powercut::strategies::case::<powercut::stores::EngineStore>(60)) {
//!         let outcome = harness::execute(&case);
//!         prop_assert!(outcome.passed(), "{}", outcome.report.map(|r| r.to_string()).unwrap_or_default());
//!     }
//! }
//! # fn main() {}
//! ```

use faultfs::CrashPolicy;
use proptest::prelude::*;

use crate::case::{Case, CrashStep, Step};
use crate::model::Mutation;
use crate::store::{Store, config_to_json};
use crate::workload::{WorkloadParams, key_name};

/// A key from a space of `keys` keys.
pub fn key(keys: u32) -> impl Strategy<Value = String> {
    (0..keys.max(1)).prop_map(key_name)
}

/// A value of 1..=`max_len` printable bytes.
pub fn value(max_len: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::char::range('a', 'z'), 1..=max_len.max(1))
        .prop_map(|cs| cs.into_iter().collect())
}

/// One mutation of a batch.
pub fn mutation(keys: u32, max_len: usize) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (key(keys), value(max_len)).prop_map(|(key, value)| Mutation::Put { key, value }),
        1 => key(keys).prop_map(|key| Mutation::Delete { key }),
    ]
}

/// One store step (no crashes or faults).
pub fn store_step(keys: u32, max_len: usize) -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => (key(keys), value(max_len), any::<bool>())
            .prop_map(|(key, value, sync)| Step::Put { key, value, sync }),
        3 => (key(keys), any::<bool>()).prop_map(|(key, sync)| Step::Delete { key, sync }),
        2 => (proptest::collection::vec(mutation(keys, max_len), 1..6), any::<bool>())
            .prop_map(|(ops, sync)| Step::Batch { ops, sync }),
        2 => key(keys).prop_map(|key| Step::Get { key }),
        1 => Just(Step::Scan { start: None, end: None }),
        2 => Just(Step::Sync {}),
        1 => Just(Step::Flush {}),
        1 => Just(Step::Compact {}),
        1 => Just(Step::Reopen {}),
    ]
}

/// A crash policy.
pub fn policy() -> impl Strategy<Value = CrashPolicy> {
    prop_oneof![
        Just(CrashPolicy::Strict),
        Just(CrashPolicy::KeepAll),
        Just(CrashPolicy::Torn { sector: 512 }),
        Just(CrashPolicy::Reorder { sector: 512 }),
    ]
}

/// A crash armed after a number of mutating fs operations.
pub fn crash(max_after_ops: u64) -> impl Strategy<Value = CrashStep> {
    (policy(), 0..max_after_ops.max(1), any::<u64>()).prop_map(|(policy, after, seed)| CrashStep {
        policy,
        after_ops: Some(after),
        seed,
    })
}

/// A case of up to `max_steps` store steps with one or two crashes and a final power cut, on
/// small engine options so flushes and compactions happen.
pub fn case<S: Store>(max_steps: usize) -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(crash(max_steps as u64 * 3), 1..=2),
        proptest::collection::vec(store_step(16, 40), 1..=max_steps.max(1)),
        policy(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(
            move |(crashes, ops, final_policy, final_seed, options_seed)| {
                let config = S::draw_config(&mut crate::swarm::config_stream(options_seed));
                let mut steps: Vec<Step> = crashes.into_iter().map(Step::Crash).collect();
                steps.extend(ops);
                steps.push(Step::Crash(CrashStep {
                    policy: final_policy,
                    after_ops: None,
                    seed: final_seed,
                }));
                Case {
                    config: config_to_json::<S>(&config),
                    sim_seed: options_seed,
                    ..Case::new::<S>(steps)
                }
            },
        )
}

/// Workload parameters within sensible ranges.
pub fn workload_params(max_ops: usize) -> impl Strategy<Value = WorkloadParams> {
    (
        1..=max_ops.max(1),
        1u32..512,
        0u32..=100,
        1usize..64,
        0usize..512,
    )
        .prop_map(
            |(ops, keys, hot_percent, value_min, extra)| WorkloadParams {
                ops,
                keys,
                hot_percent,
                value_min,
                value_max: value_min + extra,
                ..WorkloadParams::default()
            },
        )
}

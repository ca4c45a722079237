//! The option swarm: one seed expands into a whole run.
//!
//! Engine options, workload shape, crash policy, faults and crash schedule are each drawn from
//! their own `ChaCha8Rng` stream derived from the seed, so widening the allowed fault classes
//! does not change a seed's workload, and a sweep covers combinations no one listed.

use faultfs::{CrashPolicy, Fault, FaultClass, FsyncMode, IoOp, PathPattern};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::case::{Case, CrashStep, DamageClass, DamageStep, Step, StoreKind};
use crate::coverage::FileKind;
use crate::run::RunOptions;
use crate::workload::{Mix, WorkloadParams, generate_with};

/// Everything a seed decided, kept for the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub seed: u64,
    pub store: StoreKind,
    pub options: engine::Options,
    pub bugs: Vec<String>,
    /// The policy every crash of the run uses.
    pub policy: CrashPolicy,
    pub workload: WorkloadParams,
    /// The crash schedule, armed one after another.
    pub crashes: Vec<CrashStep>,
    /// Faults, each inserted before the workload step at its position.
    pub faults: Vec<(usize, Step)>,
    /// The fault classes the seed could draw from (part of what a replay must repeat).
    pub allowed_faults: Vec<FaultClass>,
    /// Whether the caller fixed the policy (a replay must pass it again).
    pub policy_fixed: bool,
    /// The most crashes the schedule could draw (a replay must pass it again).
    pub crashes_max: u32,
}

/// Derives an independent seed for one stream (`tag`) of a run.
fn stream(seed: u64, tag: &str) -> ChaCha8Rng {
    let mut bytes = seed.to_le_bytes().to_vec();
    bytes.extend_from_slice(tag.as_bytes());
    ChaCha8Rng::seed_from_u64(xxhash_rust::xxh3::xxh3_64(&bytes))
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, choices: &[T]) -> T {
    choices[rng.random_range(0..choices.len())]
}

impl RunConfig {
    /// Expands a seed under the caller's constraints.
    pub fn from_seed(seed: u64, opts: &RunOptions) -> RunConfig {
        let options = draw_options(&mut stream(seed, "options"));
        let workload = opts
            .workload
            .clone()
            .unwrap_or_else(|| draw_workload(&mut stream(seed, "workload"), opts.ops));
        let mut crash_rng = stream(seed, "crashes");
        // Drawn even when fixed, so fixing the policy a seed drew replays the same schedule.
        let drawn = draw_policy(&mut crash_rng);
        let policy = opts.policy.unwrap_or(drawn);
        let crashes = draw_crashes(&mut crash_rng, policy, workload.ops, opts.crashes_max);
        let faults = if opts.faults.is_empty() {
            Vec::new()
        } else {
            draw_faults(
                &mut stream(seed, "faults"),
                &opts.faults,
                opts.store,
                workload.ops,
            )
        };
        RunConfig {
            seed,
            store: opts.store,
            options,
            bugs: opts.bugs.clone(),
            policy,
            workload,
            crashes,
            faults,
            allowed_faults: opts.faults.clone(),
            policy_fixed: opts.policy.is_some(),
            crashes_max: opts.crashes_max,
        }
    }

    /// The one command that replays this run.
    pub fn replay_command(&self) -> String {
        let mut cmd = format!("powercut replay --seed {}", self.seed);
        if self.store != StoreKind::Engine {
            cmd.push_str(&format!(" --store {}", self.store.name()));
        }
        if self.policy_fixed {
            let kind = crate::coverage::PolicyKind::of(&self.policy);
            cmd.push_str(&format!(" --policy {}", kind.name()));
        }
        for f in &self.allowed_faults {
            cmd.push_str(&format!(" --fault {}", fault_class_name(*f)));
        }
        for b in &self.bugs {
            cmd.push_str(&format!(" --bug {b}"));
        }
        let defaults = RunOptions::default();
        if self.workload.ops != defaults.ops {
            cmd.push_str(&format!(" --ops {}", self.workload.ops));
        }
        if self.crashes_max != defaults.crashes_max {
            cmd.push_str(&format!(" --crashes {}", self.crashes_max));
        }
        cmd
    }

    /// The case this configuration runs: the crash schedule, the workload with its faults, and a
    /// final power cut so every run ends with a recovery check.
    pub fn case(&self) -> Case {
        let workload = generate_with(&mut stream(self.seed, "steps"), &self.workload);
        let mut steps: Vec<Step> = self.crashes.iter().cloned().map(Step::Crash).collect();
        for (i, step) in workload.into_iter().enumerate() {
            steps.extend(
                self.faults
                    .iter()
                    .filter(|(at, _)| *at == i)
                    .map(|(_, f)| f.clone()),
            );
            steps.push(step);
        }
        steps.push(Step::Crash(CrashStep {
            policy: self.policy,
            after_ops: None,
            seed: stream(self.seed, "final").random(),
        }));
        Case {
            store: self.store,
            options: self.options.clone(),
            bugs: self.bugs.clone(),
            sim_seed: stream(self.seed, "sim").random(),
            steps,
        }
    }
}

/// Engine options small enough that flushes, compactions and MANIFEST rollovers happen within
/// a hundred operations.
fn draw_options(rng: &mut ChaCha8Rng) -> engine::Options {
    engine::Options {
        memtable_bytes: pick(rng, &[512, 1 << 10, 2 << 10, 4 << 10, 16 << 10]),
        max_immutable_memtables: rng.random_range(1..=2),
        block_bytes: pick(rng, &[128, 512, 1024, 4096]),
        sst_target_bytes: pick(rng, &[2 << 10, 8 << 10, 64 << 10]),
        bloom_bits_per_key: pick(rng, &[0, 10]),
        block_cache_bytes: pick(rng, &[0, 64 << 10]),
        wal: rng.random_ratio(5, 6),
        compaction: if rng.random_ratio(2, 3) {
            engine::CompactionStyle::Leveled
        } else {
            engine::CompactionStyle::Tiered
        },
        l0_compaction_trigger: rng.random_range(2..=4),
        level_size_ratio: pick(rng, &[2, 4, 10]),
        level1_bytes: pick(rng, &[4 << 10, 16 << 10, 64 << 10]),
        levels: rng.random_range(3..=7),
        manifest_rollover_bytes: pick(rng, &[512, 2 << 10, 8 << 10, 1 << 20]),
        background: engine::Background::Inline,
        ..engine::Options::default()
    }
}

fn draw_workload(rng: &mut ChaCha8Rng, ops: usize) -> WorkloadParams {
    let d = Mix::default();
    let mut w = |base: u32| base * rng.random_range(0..=2) + u32::from(base > 0 && rng.random());
    let mix = Mix {
        put: d.put.max(w(d.put)),
        delete: w(d.delete),
        batch: w(d.batch),
        get: w(d.get),
        scan: w(d.scan),
        sync: w(d.sync),
        flush: w(d.flush),
        compact: w(d.compact),
        reopen: w(d.reopen),
        synced_write_percent: pick(rng, &[0, 10, 30, 60]),
    };
    let (value_min, value_max) = pick(rng, &[(4, 16), (8, 64), (16, 300), (1, 2000)]);
    WorkloadParams {
        ops,
        keys: pick(rng, &[8, 32, 128, 1024]),
        hot_percent: pick(rng, &[0, 50, 90]),
        value_min,
        value_max,
        batch_max: rng.random_range(2..=8),
        mix,
    }
}

fn draw_policy(rng: &mut ChaCha8Rng) -> CrashPolicy {
    let sector = pick(rng, &[512, 4096]);
    match rng.random_range(0..4) {
        0 => CrashPolicy::Strict,
        1 => CrashPolicy::KeepAll,
        2 => CrashPolicy::Torn { sector },
        _ => CrashPolicy::Reorder { sector },
    }
}

/// The crash schedule. The first crash falls somewhere in the workload; each later one is armed
/// at the previous reboot, and half of them are small enough to fall inside recovery.
fn draw_crashes(rng: &mut ChaCha8Rng, policy: CrashPolicy, ops: usize, max: u32) -> Vec<CrashStep> {
    let count = rng.random_range(1..=max.max(1));
    let span = (ops as u64 * 3).max(4);
    (0..count)
        .map(|i| {
            let after_ops = if i > 0 && rng.random() {
                rng.random_range(0..24)
            } else {
                rng.random_range(0..span)
            };
            CrashStep {
                policy,
                after_ops: Some(after_ops),
                seed: rng.random(),
            }
        })
        .collect()
}

fn draw_faults(
    rng: &mut ChaCha8Rng,
    allowed: &[FaultClass],
    store: StoreKind,
    ops: usize,
) -> Vec<(usize, Step)> {
    let count = if rng.random_ratio(1, 3) { 2 } else { 1 };
    (0..count)
        .map(|_| {
            let class = pick(rng, allowed);
            let kind = match store {
                StoreKind::Engine => pick(
                    rng,
                    &[
                        FileKind::Wal,
                        FileKind::Sst,
                        FileKind::Manifest,
                        FileKind::Current,
                    ],
                ),
                StoreKind::Careless => FileKind::Other,
            };
            let at = rng.random_range(0..ops.max(1));
            (at, fault_step(rng, class, kind))
        })
        .collect()
}

/// The step that arms one fault of `class` aimed at files of `kind`.
pub fn fault_step(rng: &mut ChaCha8Rng, class: FaultClass, kind: FileKind) -> Step {
    let path = PathPattern(kind.pattern().to_string());
    let fsync = |rng: &mut ChaCha8Rng, mode| {
        Step::Fault(Fault::FsyncFailure {
            path: path.clone(),
            nth: rng.random_range(1..=4),
            mode,
        })
    };
    match class {
        FaultClass::ReadError => io_error(rng, IoOp::Read, path.clone(), 30),
        FaultClass::WriteError => io_error(rng, IoOp::Write, path.clone(), 30),
        FaultClass::SyncError => io_error(rng, IoOp::Sync, path.clone(), 6),
        FaultClass::NoSpace => Step::Fault(Fault::NoSpace {
            capacity_bytes: pick(rng, &[8 << 10, 32 << 10, 128 << 10]),
        }),
        FaultClass::FsyncMarkClean => fsync(rng, FsyncMode::MarkClean),
        FaultClass::FsyncReportLater => fsync(rng, FsyncMode::ReportLater),
        FaultClass::FsyncRevert => fsync(rng, FsyncMode::Revert),
        FaultClass::BitFlip => damage(rng, DamageClass::BitFlip, kind),
        FaultClass::TornSector => damage(rng, DamageClass::TornSector, kind),
        FaultClass::MisdirectedWrite => Step::Fault(Fault::MisdirectedWrite {
            path,
            nth: rng.random_range(1..=20),
        }),
        FaultClass::Truncate => Step::Fault(Fault::Truncate { path, offset: None }),
    }
}

fn io_error(rng: &mut ChaCha8Rng, op: IoOp, path: PathPattern, max_nth: u64) -> Step {
    Step::Fault(Fault::IoError {
        op,
        path,
        nth: rng.random_range(1..=max_nth),
    })
}

fn damage(rng: &mut ChaCha8Rng, class: DamageClass, file: FileKind) -> Step {
    Step::Damage(DamageStep {
        class,
        file,
        pick: rng.random(),
    })
}

/// Every fault class, in a fixed order (faultfs's own list).
pub const ALL_FAULTS: [FaultClass; 11] = FaultClass::ALL;

/// Parses a fault class name as written on the command line (`bit_flip`, `fsync_mark_clean`, ...).
pub fn parse_fault_class(name: &str) -> Option<FaultClass> {
    let quoted = format!("\"{}\"", name.replace('-', "_"));
    serde_json::from_str(&quoted).ok()
}

/// The command-line name of a fault class.
pub fn fault_class_name(class: FaultClass) -> String {
    serde_json::to_string(&class)
        .map(|s| s.trim_matches('"').to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_decides_the_whole_configuration() {
        let opts = RunOptions {
            faults: ALL_FAULTS.to_vec(),
            ..RunOptions::default()
        };
        assert_eq!(
            RunConfig::from_seed(5, &opts),
            RunConfig::from_seed(5, &opts)
        );
        assert_eq!(
            RunConfig::from_seed(5, &opts).case(),
            RunConfig::from_seed(5, &opts).case()
        );
    }

    #[test]
    fn allowing_faults_does_not_change_the_workload() {
        let plain = RunConfig::from_seed(9, &RunOptions::default());
        let faulty = RunConfig::from_seed(
            9,
            &RunOptions {
                faults: vec![FaultClass::BitFlip],
                ..RunOptions::default()
            },
        );
        assert_eq!(plain.workload, faulty.workload);
        assert!(plain.faults.is_empty());
        assert!(!faulty.faults.is_empty());
    }

    #[test]
    fn fault_class_names_round_trip() {
        for c in ALL_FAULTS {
            assert_eq!(parse_fault_class(&fault_class_name(c)), Some(c));
        }
        assert_eq!(parse_fault_class("nonsense"), None);
    }

    #[test]
    fn simulation_always_runs_background_work_inline() {
        for seed in 0..50 {
            let c = RunConfig::from_seed(seed, &RunOptions::default());
            assert_eq!(c.options.background, engine::Background::Inline);
        }
    }
}

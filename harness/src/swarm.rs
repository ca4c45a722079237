//! The option swarm: one seed expands into a whole run.
//!
//! The store's configuration ([`Store::draw_config`]), workload shape, crash policy, faults and
//! crash schedule are each drawn from their own `ChaCha8Rng` stream derived from the seed, so
//! widening the allowed fault classes does not change a seed's workload, and a sweep covers
//! combinations no one listed. Faults are aimed at the roles of the files the store has
//! ([`crate::probe::roles_of`]), so every drawn fault can fire.

use faultfs::{CrashPolicy, Fault, FaultClass, FsyncMode, IoOp, PathPattern};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::case::{Case, CrashStep, DamageClass, DamageStep, Step};
use crate::store::{DiskAssumptions, FileKind, Store, config_from_json, config_to_json};
use crate::workload::{Mix, WorkloadParams, generate_with};

/// What a caller fixes about seeded runs; the seed draws the rest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    /// A fixed crash policy, or `None` to draw one per seed.
    pub policy: Option<CrashPolicy>,
    /// The fault classes a seed may draw from (empty: no faults).
    pub faults: Vec<FaultClass>,
    /// Named store defects to switch on ([`Store::enable_defect`]).
    pub bugs: Vec<String>,
    /// Configuration fields fixed over what the seed draws (JSON object; `None`: all drawn).
    pub config: Option<serde_json::Value>,
    /// Disk assumptions fixed over the store's own declaration.
    pub assumptions: Option<DiskAssumptions>,
    /// How to start this binary, for replay lines.
    pub command: Invocation,
    /// Workload length when the shape is drawn.
    pub ops: usize,
    /// A fixed workload shape, or `None` to draw one per seed.
    pub workload: Option<WorkloadParams>,
    /// At most this many crashes per run (plus the final power cut).
    pub crashes_max: u32,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            policy: None,
            faults: Vec::new(),
            bugs: Vec::new(),
            config: None,
            assumptions: None,
            command: Invocation::default(),
            ops: 100,
            workload: None,
            crashes_max: 3,
        }
    }
}

/// How to start the binary that runs a store, for the commands reports print: its program name
/// and, in a binary offering several stores, the `--store` it needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invocation {
    /// The program as a user types it (`powercut`, `my-store-powercut`).
    pub program: String,
    /// The store to name with `--store`, in a multi-store binary (`None`: its default).
    #[serde(default)]
    pub store: Option<String>,
}

impl Invocation {
    /// The invocation of `program`, naming `store` with `--store` when given.
    pub fn named(program: &str, store: Option<String>) -> Invocation {
        Invocation {
            program: program.to_string(),
            store,
        }
    }

    /// The command line of subcommand `sub`: `powercut replay --store careless`.
    pub fn line(&self, sub: &str) -> String {
        match &self.store {
            Some(s) => format!("{} {sub} --store {s}", self.program),
            None => format!("{} {sub}", self.program),
        }
    }
}

impl Default for Invocation {
    fn default() -> Self {
        Invocation {
            program: "powercut".to_string(),
            store: None,
        }
    }
}

/// Everything a seed decided, kept for the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub seed: u64,
    /// The store's name.
    pub store: String,
    /// The store's configuration (drawn from the seed, with the caller's fixed fields over it).
    pub config: serde_json::Value,
    /// Named store defects switched on.
    pub bugs: Vec<String>,
    /// The disk assumptions the caller fixed over the store's own (`None`: the store's).
    #[serde(default)]
    pub assumptions: Option<DiskAssumptions>,
    /// The caller's fixed configuration fields (a replay must pass them again).
    #[serde(default)]
    pub config_fixed: Option<serde_json::Value>,
    /// How to start the binary that ran this seed, for the replay line.
    #[serde(default)]
    pub command: Invocation,
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

/// One of `choices`, drawn from `rng` (for [`Store::draw_config`] implementations).
pub fn pick<T: Copy>(rng: &mut ChaCha8Rng, choices: &[T]) -> T {
    choices[rng.random_range(0..choices.len())]
}

impl RunConfig {
    /// Expands a seed under the caller's constraints, for store `S`. Fails only when the caller's
    /// fixed configuration is not one `S` accepts.
    pub fn from_seed<S: Store>(seed: u64, opts: &RunOptions) -> Result<RunConfig, String> {
        Ok(RunConfig::from_seed_typed::<S>(seed, opts)?.0)
    }

    /// [`RunConfig::from_seed`], also handing back the store's configuration as the typed value
    /// it was drawn as (defects switched on), so a caller about to run it need not parse
    /// [`RunConfig::config`] back from JSON.
    pub(crate) fn from_seed_typed<S: Store>(
        seed: u64,
        opts: &RunOptions,
    ) -> Result<(RunConfig, S::Config), String> {
        let drawn = S::draw_config(&mut stream(seed, "options"));
        let mut config = match &opts.config {
            None => drawn,
            Some(fixed) => {
                let mut merged = config_to_json::<S>(&drawn);
                if let (Some(base), Some(given)) = (merged.as_object_mut(), fixed.as_object()) {
                    for (k, v) in given {
                        base.insert(k.clone(), v.clone());
                    }
                }
                config_from_json::<S>(&merged)?
            }
        };
        for b in &opts.bugs {
            S::enable_defect(&mut config, b)?;
        }
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
            let roles = crate::probe::roles_of::<S>(&config);
            draw_faults(
                &mut stream(seed, "faults"),
                &opts.faults,
                &roles,
                workload.ops,
            )
        };
        let run = RunConfig {
            seed,
            store: S::name().to_string(),
            config: config_to_json::<S>(&config),
            bugs: opts.bugs.clone(),
            assumptions: opts.assumptions,
            config_fixed: opts.config.clone(),
            command: opts.command.clone(),
            policy,
            workload,
            crashes,
            faults,
            allowed_faults: opts.faults.clone(),
            policy_fixed: opts.policy.is_some(),
            crashes_max: opts.crashes_max,
        };
        Ok((run, config))
    }

    /// The one command that replays this run.
    pub fn replay_command(&self) -> String {
        let mut cmd = format!("{} --seed {}", self.command.line("replay"), self.seed);
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
        if let Some(fixed) = &self.config_fixed {
            cmd.push_str(&format!(" --config '{fixed}'"));
        }
        if let Some(a) = &self.assumptions {
            cmd.push_str(&crate::cli::assumption_flags(a));
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
        let mut steps: Vec<Step> =
            Vec::with_capacity(self.crashes.len() + workload.len() + self.faults.len() + 1);
        steps.extend(self.crashes.iter().cloned().map(Step::Crash));
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
            store: self.store.clone(),
            config: self.config.clone(),
            // Switched on again at execution: a store may keep its defects out of the config's
            // JSON form (the engine does), and switching one on twice changes nothing.
            bugs: self.bugs.clone(),
            assumptions: self.assumptions,
            sim_seed: stream(self.seed, "sim").random(),
            steps,
        }
    }
}

/// Derives the `ChaCha8Rng` a store's [`Store::draw_config`] gets for `seed` (for tests that
/// want to see what a seed drew).
pub fn config_stream(seed: u64) -> ChaCha8Rng {
    stream(seed, "options")
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
    roles: &[FileKind],
    ops: usize,
) -> Vec<(usize, Step)> {
    let roles = if roles.is_empty() {
        &[FileKind::Other][..]
    } else {
        roles
    };
    let count = if rng.random_ratio(1, 3) { 2 } else { 1 };
    (0..count)
        .map(|_| {
            let class = pick(rng, allowed);
            let kind = pick(rng, roles);
            let at = rng.random_range(0..ops.max(1));
            (at, fault_step(rng, class, kind))
        })
        .collect()
}

/// The step that arms one fault of `class` aimed at files of role `kind`.
pub fn fault_step(rng: &mut ChaCha8Rng, class: FaultClass, kind: FileKind) -> Step {
    let path = PathPattern(kind.pattern());
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
    use crate::stores::CarelessStore;

    #[test]
    fn one_seed_decides_the_whole_configuration() {
        let opts = RunOptions {
            faults: ALL_FAULTS.to_vec(),
            ..RunOptions::default()
        };
        let a = RunConfig::from_seed::<CarelessStore>(5, &opts).unwrap();
        assert_eq!(a, RunConfig::from_seed::<CarelessStore>(5, &opts).unwrap());
        assert_eq!(a.case(), a.clone().case());
    }

    #[test]
    fn allowing_faults_does_not_change_the_workload() {
        let plain = RunConfig::from_seed::<CarelessStore>(9, &RunOptions::default()).unwrap();
        let faulty = RunConfig::from_seed::<CarelessStore>(
            9,
            &RunOptions {
                faults: vec![FaultClass::BitFlip],
                ..RunOptions::default()
            },
        )
        .unwrap();
        assert_eq!(plain.workload, faulty.workload);
        assert!(plain.faults.is_empty());
        assert!(!faulty.faults.is_empty());
    }

    #[test]
    fn faults_are_aimed_only_at_roles_the_store_has() {
        let opts = RunOptions {
            faults: vec![FaultClass::WriteError],
            ..RunOptions::default()
        };
        for seed in 0..40 {
            let c = RunConfig::from_seed::<CarelessStore>(seed, &opts).unwrap();
            for (_, step) in &c.faults {
                let Step::Fault(faultfs::Fault::IoError { path, .. }) = step else {
                    panic!("{step:?}")
                };
                assert_eq!(path.0, "role:log", "the careless store has only a log");
            }
        }
    }

    #[test]
    fn fault_class_names_round_trip() {
        for c in ALL_FAULTS {
            assert_eq!(parse_fault_class(&fault_class_name(c)), Some(c));
        }
        assert_eq!(parse_fault_class("nonsense"), None);
    }
}

//! Exploration: every crash point of one run, each with every distinct post-crash disk.

use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use faultfs::{CrashPoint, CrashPolicy, DiskImage, Phase, SimFs};
use serde::{Deserialize, Serialize};

use crate::case::{Case, Step};
use crate::checker::{Judgement, Violation, ViolationKind, judge};
use crate::model::{History, Outcome, State};
use crate::runner::DB_DIR;
use crate::store::{Background, Env, Store, StoreError};

/// What to explore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExploreOptions {
    /// The policies whose crash images are tried at each point.
    pub policies: Vec<CrashPolicy>,
    /// At most this many distinct images per point and policy.
    pub bound: usize,
    /// Stop after this many violations.
    pub max_violations: usize,
    /// Also crash inside the recovery of every distinct disk: each crash point of that recovery
    /// with its distinct disks, checked against the same D..N (a second crash in recovery).
    #[serde(default)]
    pub recovery_crashes: bool,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        ExploreOptions {
            // Torn (ordered metadata, cut tails) and Reorder (the ALICE worst case) together.
            policies: vec![
                CrashPolicy::Torn { sector: 512 },
                CrashPolicy::Reorder { sector: 512 },
            ],
            bound: 8,
            max_violations: 1,
            recovery_crashes: false,
        }
    }
}

/// A violation found at one crash point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointViolation {
    /// The mutating fs operation the power went before (0-based).
    pub op_index: u64,
    pub phase: Phase,
    /// The operation that was about to run, as JSON.
    pub op: String,
    pub policy: CrashPolicy,
    pub violation: Violation,
}

/// What an exploration tried and found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExploreOutcome {
    /// Crash points visited (mutating fs operations).
    pub points: u64,
    /// Crash points per engine phase.
    pub points_by_phase: Vec<(Phase, u64)>,
    /// Distinct disks recovered and checked.
    pub disks_tried: u64,
    /// Disks skipped because an identical one was already checked.
    pub disks_skipped: u64,
    pub violations: Vec<PointViolation>,
    /// A violation of the run itself, before any crash (a read that did not match, a store
    /// call that failed with no fault armed).
    #[serde(default)]
    pub run_violation: Option<Violation>,
    /// Mutating fs operations the run made (every one is a crash point, so this equals `points`
    /// when every point was visited).
    pub mutating_ops: u64,
    /// Crash points visited inside recoveries (with `recovery_crashes`).
    pub recovery_points: u64,
}

/// Runs `case` once on store `S` without crashing, visiting every crash point through the
/// `SimFs` mutation hook; at each, recovers every distinct crash image (up to the bound) on a
/// fresh disk and checks it against that point's D..N. Crash, fault and damage steps are
/// ignored. Fails when the case names another store or a configuration `S` rejects.
pub fn explore<S>(case: &Case, opts: &ExploreOptions) -> Result<ExploreOutcome, String>
where
    S: Store + 'static,
{
    let config = crate::run::case_config::<S>(case)?;
    Ok(explore_with::<S>(case, &config, opts))
}

/// The environment a store opens in on `fs` during exploration.
fn env_of<S: Store>(fs: &SimFs, config: &S::Config) -> Env {
    fs.set_file_kinds(Some(S::file_kind));
    Env {
        fs: Arc::new(fs.clone()),
        dir: DB_DIR.into(),
        background: Background::Inline,
        assumptions: S::assumptions(config),
    }
}

/// What the hook and the driving loop share.
struct Shared {
    history: History,
    /// Bumped when a clean reopen rebases the history, so dedup keys stay valid.
    epoch: u64,
    /// (image hash, D, epoch) already checked.
    seen: HashSet<(u64, usize, u64)>,
    out: ExploreOutcome,
    by_phase: BTreeMap<Phase, u64>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// [`explore`] with a configuration already decoded.
pub fn explore_with<S>(case: &Case, config: &S::Config, opts: &ExploreOptions) -> ExploreOutcome
where
    S: Store + 'static,
{
    let sim = SimFs::with_seed(case.sim_seed);
    // The disk promises what the run assumes, so the enumerated disks are ones it could leave.
    let assumptions = case.assumptions.unwrap_or_else(|| S::assumptions(config));
    sim.set_atomic_sectors(assumptions.atomic_sectors);
    let shared = Arc::new(Mutex::new(Shared {
        history: History::new(),
        epoch: 0,
        seen: HashSet::new(),
        out: ExploreOutcome::default(),
        by_phase: BTreeMap::new(),
    }));
    let hook_shared = shared.clone();
    let hook_config = config.clone();
    let hook_opts = opts.clone();
    sim.set_mutation_hook(Some(Box::new(move |point: &CrashPoint<'_>| {
        visit::<S>(&hook_shared, &hook_config, &hook_opts, point);
    })));
    let run_violation =
        crate::panics::catch(|| drive::<S>(&explorable(case), config, &sim, &shared))
            .unwrap_or_else(|m| {
                Some(Violation::new(
                    ViolationKind::Panic,
                    format!("the store panicked while running the workload: {m}"),
                ))
            });
    sim.set_mutation_hook(None);
    let mut g = lock(&shared);
    g.out.run_violation = run_violation;
    g.out.mutating_ops = sim.mutating_ops();
    g.out.points_by_phase = g.by_phase.iter().map(|(p, n)| (*p, *n)).collect();
    std::mem::take(&mut g.out)
}

/// One crash point: every distinct image under every policy, recovered and checked.
fn visit<S: Store>(
    shared: &Mutex<Shared>,
    config: &S::Config,
    opts: &ExploreOptions,
    point: &CrashPoint<'_>,
) {
    let mut g = lock(shared);
    g.out.points += 1;
    *g.by_phase.entry(point.phase).or_default() += 1;
    if g.out.violations.len() >= opts.max_violations {
        return;
    }
    for policy in &opts.policies {
        for image in point.crash_images(*policy, opts.bound) {
            let key = (image.content_hash(), g.history.durable, g.epoch);
            if !g.seen.insert(key) {
                g.out.disks_skipped += 1;
                continue;
            }
            g.out.disks_tried += 1;
            let mut result = crate::panics::catch(|| check_image::<S>(&g.history, config, &image))
                .unwrap_or_else(|m| {
                    Err(Violation::new(
                        ViolationKind::Panic,
                        format!("the store panicked recovering a post-crash disk: {m}"),
                    ))
                });
            if result.is_ok() && opts.recovery_crashes {
                result = check_recovery_crashes::<S>(&mut g, config, opts, &image);
            }
            if let Err(violation) = result {
                g.out.violations.push(PointViolation {
                    op_index: point.op_index,
                    phase: point.phase,
                    op: serde_json::to_string(point.op).unwrap_or_default(),
                    policy: *policy,
                    violation,
                });
                return;
            }
        }
    }
}

/// Recovers `image` once more, this time visiting every crash point of the recovery itself, and
/// checks each distinct disk such a second crash leaves against the same D..N.
fn check_recovery_crashes<S: Store>(
    g: &mut Shared,
    config: &S::Config,
    opts: &ExploreOptions,
    image: &DiskImage,
) -> Result<(), Violation> {
    let fs = SimFs::from_image(image);
    let found: Arc<Mutex<(u64, Vec<DiskImage>)>> = Arc::default();
    let hook_found = found.clone();
    let (policies, bound) = (opts.policies.clone(), opts.bound);
    fs.set_mutation_hook(Some(Box::new(move |point: &CrashPoint<'_>| {
        let mut f = hook_found.lock().unwrap_or_else(PoisonError::into_inner);
        f.0 += 1;
        for policy in &policies {
            f.1.extend(point.crash_images(*policy, bound));
        }
    })));
    let opened = S::open(&env_of::<S>(&fs, config), config);
    fs.set_mutation_hook(None);
    drop(opened);
    let (points, images) =
        std::mem::take(&mut *found.lock().unwrap_or_else(PoisonError::into_inner));
    g.out.recovery_points += points;
    for second in images {
        let key = (second.content_hash(), g.history.durable, g.epoch);
        if !g.seen.insert(key) {
            g.out.disks_skipped += 1;
            continue;
        }
        g.out.disks_tried += 1;
        check_image::<S>(&g.history, config, &second).map_err(|mut v| {
            v.message = format!("after a second crash inside recovery: {}", v.message);
            v
        })?;
    }
    Ok(())
}

/// Recovers one post-crash disk and checks it against the history's D..N.
fn check_image<S: Store>(
    history: &History,
    config: &S::Config,
    image: &DiskImage,
) -> Result<(), Violation> {
    let fs = SimFs::from_image(image);
    let unexpected = |what: &str, e: StoreError| {
        let kind = match e {
            StoreError::Damaged { .. } => ViolationKind::UncleanRefusal,
            _ => ViolationKind::UnexpectedError,
        };
        Violation::new(kind, format!("{what} failed on a post-crash disk: {e}"))
    };
    let mut store =
        S::open(&env_of::<S>(&fs, config), config).map_err(|e| unexpected("open", e))?;
    let pairs = store
        .scan(Bound::Unbounded, Bound::Unbounded)
        .map_err(|e| unexpected("scan", e))?;
    let state: State = crate::model::state_of(pairs);
    // The seeded runs' acceptance rule: the whole history, D..N (no damage is applied here).
    match judge(history, &state, history.durable, false) {
        Judgement::Accepted { .. } | Judgement::RolledBack { .. } => {
            store.check_invariants().map_err(|e| {
                let kind = match e {
                    StoreError::Damaged { .. } => ViolationKind::UncleanRefusal,
                    _ => ViolationKind::Invariant,
                };
                Violation::new(kind, format!("invariants broken after recovery: {e}"))
            })
        }
        Judgement::Rejected(v) => Err(v),
    }
}

/// Runs the case's store steps without crashing, keeping the shared history current, with the
/// same rules as a seeded run: durability advances only where the store promises it, reads must
/// match the live model, and a failing call is a violation (no fault is armed here).
fn drive<S: Store>(
    case: &Case,
    config: &S::Config,
    sim: &SimFs,
    shared: &Mutex<Shared>,
) -> Option<Violation> {
    let env = env_of::<S>(sim, config);
    let durability = S::durability(config);
    let failed = |what: &str, e: StoreError| {
        Some(Violation::new(
            ViolationKind::UnexpectedError,
            format!("{what} failed with no fault armed: {e}"),
        ))
    };
    // The first open creates the store (the same label the seeded runs give it).
    faultfs::Fs::set_phase(sim, faultfs::Phase::Create);
    let opened = S::open(&env, config);
    faultfs::Fs::set_phase(sim, faultfs::Phase::Write);
    let mut store = match opened {
        Ok(s) => s,
        Err(e) => return failed("open", e),
    };
    for step in &case.steps {
        if let Some((mutations, sync)) = step.as_write() {
            let pos = lock(shared).history.issue(mutations, sync);
            let muts = lock(shared).history.writes[pos].mutations.clone();
            let result = store.write(&muts, sync);
            let mut g = lock(shared);
            let outcome = if result.is_ok() {
                Outcome::Acked
            } else {
                Outcome::Failed
            };
            g.history.settle(pos, outcome);
            if let Err(e) = result {
                return failed("write", e);
            }
            if sync && durability.synced_write {
                g.history.mark_all_durable();
            }
            continue;
        }
        let result = match step {
            Step::Sync {} => store.sync().map(|()| durability.sync),
            Step::Flush {} => store.flush().map(|()| durability.flush),
            Step::Compact {} => store.compact().map(|()| false),
            Step::Get { key } => match store.get(key.as_bytes()) {
                Ok(got) => {
                    let got = got.map(crate::model::text);
                    let want = lock(shared).history.live.get(key).cloned();
                    if got != want {
                        return Some(read_mismatch(key, want, got));
                    }
                    Ok(false)
                }
                Err(e) => Err(e),
            },
            Step::Scan { .. } => store
                .scan(Bound::Unbounded, Bound::Unbounded)
                .map(|_| false),
            Step::Reopen {} => {
                if let Err(e) = store.close() {
                    return failed("close", e);
                }
                drop(store);
                {
                    let mut g = lock(shared);
                    if durability.close {
                        g.history.mark_all_durable();
                        let n = g.history.issued();
                        g.history.rebase(n);
                        g.epoch += 1;
                    }
                }
                match S::open(&env, config) {
                    Ok(s) => store = s,
                    Err(e) => return failed("reopen", e),
                }
                Ok(false)
            }
            _ => Ok(false),
        };
        match result {
            Ok(true) => lock(shared).history.mark_all_durable(),
            Ok(false) => {}
            Err(e) => return failed("a store call", e),
        }
    }
    store.close().err().and_then(|e| failed("close", e))
}

fn read_mismatch(key: &str, want: Option<String>, got: Option<String>) -> Violation {
    Violation {
        diffs: vec![crate::checker::KeyDiff {
            key: key.to_string(),
            expected: want,
            recovered: got,
        }],
        ..Violation::new(
            ViolationKind::ReadYourWrites,
            format!("a read of {key:?} did not match the live model"),
        )
    }
}

/// The case with its crash, fault and damage steps removed: what [`explore`] actually runs.
pub fn explorable(case: &Case) -> Case {
    let mut c = case.clone();
    c.steps
        .retain(|s| !matches!(s, Step::Crash(_) | Step::Fault(_) | Step::Damage(_)));
    c
}

/// The workload the explore test and benchmark use: `ops` steps on engine options small enough
/// that flushes, compactions and MANIFEST rollovers all happen.
#[cfg(feature = "engine")]
pub fn standard_case(ops: usize, seed: u64) -> Case {
    let params = crate::workload::WorkloadParams {
        ops,
        keys: 256,
        value_min: 8,
        value_max: 96,
        ..crate::workload::WorkloadParams::default()
    };
    let options = engine::Options {
        memtable_bytes: 4 << 10,
        block_bytes: 1024,
        sst_target_bytes: 8 << 10,
        l0_compaction_trigger: 2,
        level1_bytes: 16 << 10,
        levels: 4,
        manifest_rollover_bytes: 2 << 10,
        background: engine::Background::Inline,
        ..engine::Options::default()
    };
    Case {
        config: serde_json::to_value(options).unwrap_or_default(),
        sim_seed: seed,
        ..Case::new::<crate::stores::EngineStore>(crate::workload::generate(seed, &params))
    }
}

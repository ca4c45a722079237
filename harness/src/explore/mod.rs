//! Exploration: every crash point of one run, each with every distinct post-crash disk.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ops::Bound;
use std::sync::mpsc::{SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use faultfs::{CrashPoint, CrashPolicy, DiskImage, EventOp, Phase, SimFs};
use serde::{Deserialize, Serialize};

use crate::case::{Case, Step};
use crate::checker::{Judgement, Violation, ViolationKind};
use crate::model::History;
use crate::runner::{DB_DIR, Runner};
use crate::store::{Background, DiskAssumptions, Env, Store, StoreError};

mod snapshot;
use snapshot::{Snapshot, Snapshots};

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
    /// Threads that recover and judge the disks: 0 (the default) takes one per core, 1 does it
    /// all on the thread that runs the workload. The outcome is the same for any count (the
    /// store is opened on several disks at once, each its own `SimFs`). With
    /// `recovery_crashes`, every disk is recovered on the workload's thread.
    #[serde(default)]
    pub threads: usize,
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
            threads: 0,
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
fn env_of<S: Store>(fs: &SimFs, assumptions: DiskAssumptions) -> Env {
    fs.set_file_kinds(Some(S::file_kind));
    assumptions.apply_to(fs);
    Env {
        fs: Arc::new(fs.clone()),
        dir: DB_DIR.into(),
        background: Background::Inline,
        assumptions,
    }
}

/// What became of one disk a crash point could leave, in enumeration order.
#[derive(Clone, Copy)]
enum Disk {
    /// Identical to one met before (same image, same D, same window): not checked again.
    Duplicate,
    /// To be recovered and judged: task `n`.
    Check(usize),
}

/// A crash point with disks to account for.
struct PointDisks {
    op_index: u64,
    phase: Phase,
    op: EventOp,
    disks: Vec<(CrashPolicy, Disk)>,
}

/// Counts a point's disks in order and records its first violation, stopping there, and does
/// nothing once `max` violations are found: the rule the sequential walk and the merge of the
/// workers' results both follow, so both give the same outcome. `check(n)` is task n's verdict.
fn tally(
    out: &mut ExploreOutcome,
    max: usize,
    point: &PointDisks,
    mut check: impl FnMut(usize) -> Result<(), Violation>,
) {
    if out.violations.len() >= max {
        return;
    }
    for &(policy, disk) in &point.disks {
        let Disk::Check(n) = disk else {
            out.disks_skipped += 1;
            continue;
        };
        out.disks_tried += 1;
        if let Err(violation) = check(n) {
            out.violations.push(PointViolation {
                op_index: point.op_index,
                phase: point.phase,
                op: serde_json::to_string(&point.op).unwrap_or_default(),
                policy,
                violation,
            });
            return;
        }
    }
}

/// A disk to recover and judge on a worker: its number, its point's number, the history as it
/// stood at that point, the disk.
type Task = (usize, usize, Arc<Snapshot>, DiskImage);

/// The points where the workers found a violation, so nobody checks past the last one that can
/// still be reported.
struct Found {
    points: Mutex<BTreeSet<usize>>,
    max: usize,
}

impl Found {
    /// The last point whose violation can be reported, once `max` points have one: the tally
    /// stops at the `max`-th violating point in order, so any later one is checked in vain.
    fn last(&self) -> Option<usize> {
        let points = lock(&self.points);
        points.iter().nth(self.max.max(1) - 1).copied()
    }

    fn add(&self, point: usize) {
        lock(&self.points).insert(point);
    }
}

/// The workers that recover and judge disks while the workload runs on.
struct Pool {
    tasks: SyncSender<Task>,
    /// Tasks handed out so far.
    next: usize,
    /// Every point with disks, in order, to be tallied once the verdicts are in.
    points: Vec<PointDisks>,
    found: Arc<Found>,
}

/// What the crash-point hook keeps between points.
struct Visits {
    /// (image hash, D, the history's `rebases`) already met.
    seen: HashSet<(u64, usize, u64)>,
    out: ExploreOutcome,
    by_phase: BTreeMap<Phase, u64>,
    /// The workers, when disks are checked off the workload's thread.
    pool: Option<Pool>,
    /// The history as the disks of the latest points are judged against.
    snapshots: Snapshots,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How many threads recover disks besides the workload's (0: none).
fn workers(opts: &ExploreOptions) -> usize {
    if opts.recovery_crashes {
        return 0;
    }
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    if threads > 1 { threads } else { 0 }
}

/// [`explore`] with a configuration already decoded.
///
/// The workload runs through the same [`Runner`] as a seeded run (same durability points, same
/// read checks, same acceptance rule at the final clean reopen); no crash is ever armed, and the
/// disk's mutation hook visits every crash point instead, judging each distinct image against
/// the runner's history as it stands at that operation.
///
/// The disks of each point are enumerated and deduplicated on the workload's thread, in order.
/// Recovering and judging a disk depends on nothing but the disk and the history at its point,
/// so with [`ExploreOptions::threads`] above 1 that work goes to worker threads, each opening
/// the store on a disk of its own, and the verdicts are tallied afterwards in the order the
/// points came: the outcome is the same whatever the thread count.
pub fn explore_with<S>(case: &Case, config: &S::Config, opts: &ExploreOptions) -> ExploreOutcome
where
    S: Store + 'static,
{
    let case = explorable(case);
    let runner = Runner::<S>::new(&case, config);
    let sim = runner.sim();
    let history = runner.history_handle();
    // The disk promises what the run assumes, so the enumerated disks are ones it could leave.
    let assumptions = case.assumptions.unwrap_or_else(|| S::assumptions(config));
    let workers = workers(opts);
    // A few tasks per worker in flight keeps them busy without holding many disks in memory.
    let (task_tx, task_rx) = sync_channel::<Task>(4 * workers.max(1));
    let (verdict_tx, verdict_rx) = channel::<(usize, Result<(), Violation>)>();
    let found = Arc::new(Found {
        points: Mutex::new(BTreeSet::new()),
        max: opts.max_violations,
    });
    let visits = Arc::new(Mutex::new(Visits {
        seen: HashSet::new(),
        out: ExploreOutcome::default(),
        by_phase: BTreeMap::new(),
        snapshots: Snapshots::default(),
        pool: (workers > 0).then(|| Pool {
            tasks: task_tx,
            next: 0,
            points: Vec::new(),
            found: found.clone(),
        }),
    }));
    let task_rx = Mutex::new(task_rx);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (task_rx, verdict_tx, found) = (&task_rx, verdict_tx.clone(), &found);
            scope.spawn(move || {
                // The lock is held only to take the next task, never across a check.
                loop {
                    let Ok((n, at, history, image)) = lock(task_rx).recv() else {
                        return;
                    };
                    if found.last().is_some_and(|last| at > last) {
                        continue;
                    }
                    let verdict = check_caught::<S>(&history, config, assumptions, &image);
                    if verdict.is_err() {
                        found.add(at);
                    }
                    if verdict_tx.send((n, verdict)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(verdict_tx);
        let (hook_visits, hook_config, hook_opts) = (visits.clone(), config.clone(), opts.clone());
        sim.set_mutation_hook(Some(Box::new(move |point: &CrashPoint<'_>| {
            let mut v = lock(&hook_visits);
            visit::<S>(
                &mut v,
                &lock(&history),
                &hook_config,
                assumptions,
                &hook_opts,
                point,
            );
        })));
        let run_violation = match crate::panics::catch(|| runner.run()) {
            Ok(finished) => finished.violation,
            Err(m) => Some(Violation::new(
                ViolationKind::Panic,
                format!("the store panicked while running the workload: {m}"),
            )),
        };
        // Dropping the hook drops the pool's sender: the workers finish the queue and stop.
        sim.set_mutation_hook(None);
        let mut v = lock(&visits);
        let pool = v.pool.take();
        drop(v);
        if let Some(pool) = pool {
            let Pool {
                tasks,
                next,
                points,
                ..
            } = pool;
            drop(tasks);
            let mut verdicts: Vec<Option<Result<(), Violation>>> = vec![None; next];
            for (n, verdict) in verdict_rx.iter() {
                verdicts[n] = Some(verdict);
            }
            let mut v = lock(&visits);
            for point in &points {
                // A task the workers skipped lies past the last point that can report.
                tally(&mut v.out, opts.max_violations, point, |n| {
                    verdicts[n].take().unwrap_or(Ok(()))
                });
            }
        }
        let mut v = lock(&visits);
        v.out.run_violation = run_violation;
        v.out.mutating_ops = sim.mutating_ops();
        v.out.points_by_phase = v.by_phase.iter().map(|(p, n)| (*p, *n)).collect();
        std::mem::take(&mut v.out)
    })
}

/// [`check_image`], with a panic of the store reported as a violation.
fn check_caught<S: Store>(
    history: &Snapshot,
    config: &S::Config,
    assumptions: DiskAssumptions,
    image: &DiskImage,
) -> Result<(), Violation> {
    crate::panics::catch(|| check_image::<S>(history, config, assumptions, image)).unwrap_or_else(
        |m| {
            Err(Violation::new(
                ViolationKind::Panic,
                format!("the store panicked recovering a post-crash disk: {m}"),
            ))
        },
    )
}

/// One crash point: every distinct image under every policy, recovered and checked here or
/// handed to the workers.
fn visit<S: Store>(
    v: &mut Visits,
    history: &History,
    config: &S::Config,
    assumptions: DiskAssumptions,
    opts: &ExploreOptions,
    point: &CrashPoint<'_>,
) {
    v.out.points += 1;
    *v.by_phase.entry(point.phase).or_default() += 1;
    let done = match &v.pool {
        Some(pool) => pool.found.last().is_some(),
        None => v.out.violations.len() >= opts.max_violations,
    };
    if done {
        return;
    }
    let mut disks = Vec::new();
    let mut images = Vec::new();
    for policy in &opts.policies {
        for image in point.crash_images(*policy, opts.bound) {
            let key = (image.content_hash(), history.durable, history.rebases);
            if v.seen.insert(key) {
                disks.push((*policy, Disk::Check(images.len())));
                images.push(image);
            } else {
                disks.push((*policy, Disk::Duplicate));
            }
        }
    }
    if disks.is_empty() {
        return;
    }
    let mut point = PointDisks {
        op_index: point.op_index,
        phase: point.phase,
        op: point.op.clone(),
        disks,
    };
    let snapshot = v.snapshots.of(history);
    let Visits {
        seen, out, pool, ..
    } = v;
    if let Some(pool) = pool {
        let first = pool.next;
        for (_, disk) in &mut point.disks {
            if let Disk::Check(n) = disk {
                *n += first;
            }
        }
        let at = pool.points.len();
        for image in images {
            // A send fails only once the workers are gone, and then nothing is left to check.
            let _ = pool.tasks.send((pool.next, at, snapshot.clone(), image));
            pool.next += 1;
        }
        pool.points.push(point);
        return;
    }
    let mut extra = ExploreOutcome::default();
    tally(out, opts.max_violations, &point, |n| {
        let image = &images[n];
        check_caught::<S>(&snapshot, config, assumptions, image)?;
        if opts.recovery_crashes {
            check_recovery_crashes::<S>(
                seen,
                &mut extra,
                &snapshot,
                config,
                assumptions,
                opts,
                image,
            )?;
        }
        Ok(())
    });
    out.disks_tried += extra.disks_tried;
    out.disks_skipped += extra.disks_skipped;
    out.recovery_points += extra.recovery_points;
}

/// Recovers `image` once more, this time visiting every crash point of the recovery itself, and
/// checks each distinct disk such a second crash leaves against the same D..N.
fn check_recovery_crashes<S: Store>(
    seen: &mut HashSet<(u64, usize, u64)>,
    out: &mut ExploreOutcome,
    history: &Snapshot,
    config: &S::Config,
    assumptions: DiskAssumptions,
    opts: &ExploreOptions,
    image: &DiskImage,
) -> Result<(), Violation> {
    let fs = SimFs::from_image(image);
    let found: Arc<Mutex<(u64, Vec<DiskImage>)>> = Arc::default();
    let hook_found = found.clone();
    let (policies, bound) = (opts.policies.clone(), opts.bound);
    let env = env_of::<S>(&fs, assumptions);
    fs.set_mutation_hook(Some(Box::new(move |point: &CrashPoint<'_>| {
        let mut f = lock(&hook_found);
        f.0 += 1;
        for policy in &policies {
            f.1.extend(point.crash_images(*policy, bound));
        }
    })));
    let opened = crate::panics::catch(|| S::open(&env, config).map(drop));
    fs.set_mutation_hook(None);
    drop(opened);
    let (points, images) = std::mem::take(&mut *lock(&found));
    out.recovery_points += points;
    for second in images {
        let key = (second.content_hash(), history.durable(), history.rebases());
        if !seen.insert(key) {
            out.disks_skipped += 1;
            continue;
        }
        out.disks_tried += 1;
        check_image::<S>(history, config, assumptions, &second).map_err(|mut v| {
            v.message = format!("after a second crash inside recovery: {}", v.message);
            v
        })?;
    }
    Ok(())
}

/// Recovers one post-crash disk, judges what it holds against the history by the seeded runs'
/// acceptance rule (the whole history, D..N; no damage is applied here), then checks the store's
/// invariants.
fn check_image<S: Store>(
    history: &Snapshot,
    config: &S::Config,
    assumptions: DiskAssumptions,
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
        S::open(&env_of::<S>(&fs, assumptions), config).map_err(|e| unexpected("open", e))?;
    let pairs = store
        .scan(Bound::Unbounded, Bound::Unbounded)
        .map_err(|e| unexpected("scan", e))?;
    match history.judge_scan(pairs) {
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

//! Running a sweep's seeds on several threads with a result that does not depend on how many.
//!
//! Seeds are handed out in order from one atomic counter, and a worker that took a seed always
//! finishes it, so the seeds that ran are always a prefix of the shard's seed sequence. Two
//! things end the prefix: the budget (a seed count, checked on the counter, or a deadline, checked
//! before taking a seed) and the violation limit. Once `max_violations` seeds have failed, the
//! prefix ends at the highest of the lowest `max_violations` failing positions; results past it
//! that other threads were still computing are dropped. So with a seed budget, any thread count
//! yields the same seeds, the same failures and the same aggregate.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use faultfs::FaultClass;

use crate::coverage::PolicyKind;
use crate::gate::matrix::Cell;
use crate::gate::sweep::{Shard, Sweep};
use crate::run::{Counts, RunOutcome, run_seed};
use crate::store::Store;

/// The name prefix of worker threads (the CLI's panic hook keeps them quiet).
pub const WORKER_NAME: &str = "powercut-gate-";

/// Stack of a worker thread: a run recovers recursively (a crash inside recovery inside a
/// crash...), and an overflow would abort the whole gate rather than fail one seed.
const WORKER_STACK_BYTES: usize = 64 << 20;

/// What one seed did, kept small; the full outcome only for failures.
#[derive(Clone, Debug)]
pub struct SeedResult {
    pub seed: u64,
    pub policy: PolicyKind,
    pub fault: Option<FaultClass>,
    pub trace_hash: u64,
    /// Power cuts tried (crash records of the run).
    pub crash_points: u64,
    pub counts: Counts,
    /// Coverage cells the run reached.
    pub cells: Vec<Cell>,
    /// The whole outcome of a failing run.
    pub failure: Option<Box<RunOutcome>>,
    /// Why the seed's fault class cannot happen to the store under the seed's configuration
    /// ([`Store::unreachable_faults`]), if the store says so.
    pub unreachable: Option<&'static str>,
    /// Whether the seed's fault class fired at least once.
    pub fault_fired: bool,
}

impl SeedResult {
    fn of<S: Store>(seed: u64, sweep: &Sweep) -> SeedResult {
        let (policy, fault) = sweep.combination(seed);
        // The sweep's fixed configuration was checked before the pool started.
        let outcome = match run_seed::<S>(seed, &sweep.run_options(seed)) {
            Ok(o) => o,
            Err(e) => {
                crate::shrink::unrunnable_outcome(&crate::case::Case::new::<S>(Vec::new()), &e)
            }
        };
        let unreachable = fault.and_then(|class| {
            let config = outcome.config.as_ref()?;
            let config = crate::store::config_from_json::<S>(&config.config).ok()?;
            S::unreachable_faults(&config)
                .into_iter()
                .find(|(c, _)| *c == class)
                .map(|(_, why)| why)
        });
        let fault_fired = fault.is_some_and(|class| {
            outcome
                .coverage
                .iter()
                .any(|f| f.cause == crate::coverage::Cause::Fault(class))
        });
        let mut cells: Vec<Cell> = outcome.coverage.iter().map(Cell::of).collect();
        cells.sort();
        cells.dedup();
        SeedResult {
            seed,
            policy,
            fault,
            trace_hash: outcome.trace_hash,
            crash_points: outcome.crashes.len() as u64,
            counts: outcome.counts.clone(),
            cells,
            failure: (!outcome.passed()).then(|| Box::new(outcome)),
            unreachable,
            fault_fired,
        }
    }

    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// Where and how long to sweep.
#[derive(Clone, Debug)]
pub struct PoolPlan {
    pub sweep: Sweep,
    pub seed_start: u64,
    pub shard: Shard,
    /// At most this many seeds.
    pub seeds: Option<u64>,
    /// Take no new seed after this long.
    pub seconds: Option<f64>,
    /// Stop once this many seeds failed (at least 1).
    pub max_violations: u64,
    pub threads: usize,
}

/// Running totals for a progress display.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub seeds: u64,
    pub crash_points: u64,
    pub violations: u64,
}

/// Shared state of the workers.
struct Shared {
    next: AtomicU64,
    /// The last position that still counts (`u64::MAX`: no cut yet).
    cutoff: AtomicU64,
    failed: Mutex<BTreeSet<u64>>,
}

impl Shared {
    /// Records a failing position and lowers the cutoff once enough positions failed.
    fn record_failure(&self, pos: u64, max_violations: u64) {
        let Ok(mut failed) = self.failed.lock() else {
            return;
        };
        failed.insert(pos);
        let limit = usize::try_from(max_violations.max(1)).unwrap_or(usize::MAX);
        if let Some(last) = failed.iter().nth(limit - 1) {
            self.cutoff.fetch_min(*last, Ordering::SeqCst);
        }
    }
}

/// Runs the plan's seeds; `on_tick` sees running totals after each seed and about once a second.
/// Returns the results in seed order.
pub fn run_pool<S: Store>(plan: &PoolPlan, mut on_tick: impl FnMut(Tally)) -> Vec<SeedResult> {
    let shared = Shared {
        next: AtomicU64::new(0),
        cutoff: AtomicU64::new(u64::MAX),
        failed: Mutex::new(BTreeSet::new()),
    };
    let deadline = plan
        .seconds
        .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let (tx, rx) = mpsc::channel::<(u64, SeedResult)>();
    let mut results: Vec<(u64, SeedResult)> = Vec::new();
    std::thread::scope(|scope| {
        for t in 0..plan.threads.max(1) {
            let worker_tx = tx.clone();
            let shared = &shared;
            let spawned = std::thread::Builder::new()
                .name(format!("{WORKER_NAME}{t}"))
                .stack_size(WORKER_STACK_BYTES)
                .spawn_scoped(scope, move || {
                    worker::<S>(plan, shared, deadline, &worker_tx)
                });
            if spawned.is_err() && t == 0 {
                // No thread at all: run the sweep on this one rather than not at all.
                worker::<S>(plan, shared, deadline, &tx);
            }
        }
        drop(tx);
        let mut tally = Tally::default();
        loop {
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok((pos, r)) => {
                    tally.seeds += 1;
                    tally.crash_points += r.crash_points;
                    tally.violations += u64::from(!r.passed());
                    results.push((pos, r));
                    on_tick(tally);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => on_tick(tally),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    });
    let cutoff = shared.cutoff.load(Ordering::SeqCst);
    results.retain(|(pos, _)| *pos <= cutoff);
    results.sort_by_key(|(pos, _)| *pos);
    results.into_iter().map(|(_, r)| r).collect()
}

fn worker<S: Store>(
    plan: &PoolPlan,
    shared: &Shared,
    deadline: Option<Instant>,
    tx: &mpsc::Sender<(u64, SeedResult)>,
) {
    loop {
        // The deadline is checked before taking a position, never after: a taken position is
        // always run, so the positions that ran have no holes.
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        let pos = shared.next.fetch_add(1, Ordering::SeqCst);
        if plan.seeds.is_some_and(|n| pos >= n) || pos > shared.cutoff.load(Ordering::SeqCst) {
            return;
        }
        let seed = plan.shard.seed(plan.seed_start, pos);
        let result = SeedResult::of::<S>(seed, &plan.sweep);
        if !result.passed() {
            shared.record_failure(pos, plan.max_violations);
        }
        if tx.send((pos, result)).is_err() {
            return;
        }
    }
}

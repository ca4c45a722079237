//! The kill-test: the store on a real disk in a child process, killed with SIGKILL at seeded
//! moments, checked with the same model and checker as the simulated runs.
//!
//! # Why a real kill
//!
//! `SimFs` is a model of the kernel; this checks the model against the real thing: real threads
//! (the engine runs with background flush and compaction), real files, a real `flock` that the
//! kernel must drop when the holder dies.
//!
//! # Fault model
//!
//! A SIGKILL ends the process, not the machine: everything the process handed to the kernel
//! (every completed `write`, rename, create, remove) stays, in the page cache, whether or not it
//! was ever synced. That is `CrashPolicy::KeepAll`. So the recovered state must be the model
//! after k writes with A <= k <= N, where A is the last *acknowledged* write and N the last
//! issued: a store that has handed every acknowledged write to the kernel loses none of them to
//! a kill. `--lower durable` relaxes A to D, the last durability point, which is all the
//! contract of DESIGN section 3 promises after a power cut.
//!
//! What a kill cannot expose: anything about what reaches the *disk*. A missing fsync, a missing
//! directory sync, a reordered write need the power to go; the page cache hides them all. The
//! careless store's bugs are of that kind (its log's name never synced; a torn last line
//! trusted and batches without a commit marker, while each batch is one `write` call), so it
//! almost always passes the kill-test, and the simulator is what catches it. The one narrow
//! exception: the kernel stops copying a write at a page boundary when SIGKILL is pending, so a
//! kill that lands inside a multi-page `write` tears it, and a store that trusts torn tails
//! shows it. What a kill reliably exposes is state held in the process: the buffered store
//! acknowledges writes that are still in a user-space buffer, and a kill loses them.
//!
//! # A round
//!
//! 1. The parent draws the round's seed and the kill's timing from the run's seed: a delay
//!    log-uniform from 1 ms to `delay_max` (as many kills in the first milliseconds as in the
//!    last hundreds), counted in one round of four from the child's start, so the kill may
//!    land in its recovery, and otherwise from its open store, so most kills land while it
//!    writes, flushes, compacts and rolls the MANIFEST over.
//! 2. It starts the same binary's hidden `kill-test-child` subcommand with the directory, the
//!    store, the round seed and the id of the round's first write ([`child`]).
//! 3. The child opens the store (recovering from the last kill) on `StdFs` wrapped in
//!    [`phase_fs::PhaseFs`], then runs the endless seeded workload of [`workload`], reporting
//!    each issued and acknowledged write, each durability point and each phase label as a line
//!    on stdout ([`protocol`]).
//! 4. At that moment the parent sends SIGKILL, reaps the child, replays its lines into the
//!    [`crate::model::History`] (regenerating each write from the round's seed, [`round`]),
//!    opens the store itself (which proves the dead child's LOCK was released), checks the
//!    store's invariants and the recovered state ([`recover`], [`crate::checker`]), and rebases
//!    the model on the accepted prefix for the next round, on the same directory.

pub mod child;
pub mod phase_fs;
pub mod protocol;
pub mod recover;
pub mod report;
pub mod round;
mod runner;
pub mod stores;
pub mod workload;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use round::KillTiming;
use runner::Run;

use crate::store::Store;

pub use child::{ChildArgs, run_child};
pub use report::{KillReport, KillTestOutcome, LowerBound};

/// How long a kill-test runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// Rounds are started until this much wall time has passed.
    Time(Duration),
    /// Exactly this many rounds.
    Rounds(u64),
}

/// What a kill-test does.
#[derive(Clone, Debug, PartialEq)]
pub struct KillTestOptions {
    /// The directory to run in (must hold no store yet); `None`: a temporary directory.
    pub dir: Option<PathBuf>,
    pub budget: Budget,
    pub seed: u64,
    pub lower: LowerBound,
    /// The longest kill delay.
    pub delay_max: Duration,
    /// Store defects switched on (in the child and in the parent's recovery alike).
    pub bugs: Vec<String>,
    /// Configuration fields over the store's [`Store::kill_test_config`] (a JSON object).
    pub config: Option<serde_json::Value>,
    /// Kill after a seeded number of child events instead of a seeded delay (see
    /// [`round::KillTiming::after_events`]): the verdict then depends on the seed, not on the
    /// machine's speed. Default: by time, the realistic mode.
    pub by_progress: bool,
    /// The binary that has the `kill-test-child` subcommand for this store (a binary whose main
    /// is `powercut::cli::main::<S>()`, or the shipped `powercut`).
    pub child_exe: PathBuf,
    /// The `--store` the child binary needs to pick this store, in a multi-store binary.
    pub child_store: Option<String>,
}

impl KillTestOptions {
    /// Options for `child_exe` with the defaults: 20 rounds, seed 0, the acked bound, kills up
    /// to 300 ms.
    pub fn new(child_exe: impl Into<PathBuf>) -> KillTestOptions {
        KillTestOptions {
            dir: None,
            budget: Budget::Rounds(20),
            seed: 0,
            lower: LowerBound::Acked,
            delay_max: Duration::from_millis(300),
            bugs: Vec::new(),
            config: None,
            by_progress: false,
            child_exe: child_exe.into(),
            child_store: None,
        }
    }

    /// The store's configuration these options run it with.
    pub fn store_config<S: Store>(&self) -> Result<S::Config, String> {
        let Some(base) = S::kill_test_config() else {
            return Err(format!(
                "the {} store cannot run on a real disk, so it has no kill-test",
                S::name()
            ));
        };
        let mut config = match &self.config {
            None => base,
            Some(fixed) => {
                let mut merged = crate::store::config_to_json::<S>(&base);
                if let (Some(m), Some(f)) = (merged.as_object_mut(), fixed.as_object()) {
                    for (k, v) in f {
                        m.insert(k.clone(), v.clone());
                    }
                }
                crate::store::config_from_json::<S>(&merged)?
            }
        };
        for b in &self.bugs {
            S::enable_defect(&mut config, b)?;
        }
        Ok(config)
    }
}

/// Why a kill-test could not run at all (not a violation: bad usage or a broken machine).
#[derive(Debug, thiserror::Error)]
pub enum KillTestError {
    #[error("{0}")]
    Usage(String),
    /// The child binary did not behave like `powercut kill-test-child`.
    #[error("{0}")]
    Child(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> KillTestError {
    let context = context.into();
    move |source| KillTestError::Io { context, source }
}

/// The directory a run works in; a temporary one is removed at the end unless kept.
enum WorkDir {
    Given(PathBuf),
    Temp(tempfile::TempDir),
}

impl WorkDir {
    fn open(dir: Option<&Path>) -> Result<WorkDir, KillTestError> {
        let Some(dir) = dir else {
            let temp = tempfile::Builder::new()
                .prefix("powercut-kill-")
                .tempdir()
                .map_err(io_error("creating a temporary directory"))?;
            return Ok(WorkDir::Temp(temp));
        };
        let db = dir.join(recover::DB_DIR);
        if db.exists() {
            return Err(KillTestError::Usage(format!(
                "--dir {}: {} already exists; the kill-test starts from an empty store (give a \
                 new or empty directory)",
                dir.display(),
                db.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(io_error(format!("creating {}", dir.display())))?;
        // Absolute, so the report names the directory wherever it is read.
        let dir =
            std::fs::canonicalize(dir).map_err(io_error(format!("resolving {}", dir.display())))?;
        Ok(WorkDir::Given(dir))
    }

    fn path(&self) -> &Path {
        match self {
            WorkDir::Given(p) => p,
            WorkDir::Temp(t) => t.path(),
        }
    }

    /// Leaves the directory on disk and returns its path.
    fn keep(self) -> PathBuf {
        match self {
            WorkDir::Given(p) => p,
            WorkDir::Temp(t) => t.keep(),
        }
    }
}

/// Runs a kill-test of store `S`.
pub fn run_kill_test<S: Store>(
    options: &KillTestOptions,
) -> Result<KillTestOutcome, KillTestError> {
    let config = options.store_config::<S>().map_err(KillTestError::Usage)?;
    let work = WorkDir::open(options.dir.as_deref())?;
    let mut run = Run::<S>::new(
        options,
        config,
        work.path().to_path_buf(),
        options.dir.is_some(),
    );
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let start = Instant::now();
    loop {
        let more = match options.budget {
            Budget::Time(t) => start.elapsed() < t,
            Budget::Rounds(n) => run.outcome.rounds < n,
        };
        if !more {
            break;
        }
        let round_seed: u64 = rng.random();
        let delay = draw_delay(&mut rng, options.delay_max);
        let from_open = !rng.random_ratio(1, 4);
        let events: u32 = rng.random_range(1..=400);
        let timing = KillTiming {
            delay,
            from_open,
            after_events: options.by_progress.then_some(events),
        };
        run.outcome.rounds += 1;
        if let Some(report) = run.round(round_seed, timing)? {
            run.outcome.report = Some(report);
            break;
        }
    }
    run.outcome.elapsed = start.elapsed();
    if run.outcome.report.is_some() {
        run.outcome.dir_kept = true;
        run.outcome.dir = work.keep();
    } else if run.outcome.dir_kept {
        run.outcome.dir = work.keep();
    }
    Ok(run.outcome)
}

/// A delay log-uniform between 1 ms and `max`: as many kills in the first milliseconds as in the
/// last hundreds.
fn draw_delay(rng: &mut ChaCha8Rng, max: Duration) -> Duration {
    let lo = 1_000f64.ln();
    let hi = (max.as_micros().max(1_001) as f64).ln();
    let micros = rng.random_range(lo..hi).exp();
    Duration::from_micros(micros as u64)
}

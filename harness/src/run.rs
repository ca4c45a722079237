//! The crash/recover loop: runs a [`Case`] on a fresh `SimFs` and checks every recovery.

use faultfs::{CrashPolicy, FaultClass, Phase};
use serde::{Deserialize, Serialize};

use crate::case::{Case, StoreKind};
use crate::checker::Violation;
use crate::coverage::CoverageFact;
use crate::report::Report;
use crate::swarm::RunConfig;
use crate::workload::WorkloadParams;

/// What a caller fixes about seeded runs; the seed draws the rest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    pub store: StoreKind,
    /// A fixed crash policy, or `None` to draw one per seed.
    pub policy: Option<CrashPolicy>,
    /// The fault classes a seed may draw from (empty: no faults).
    pub faults: Vec<FaultClass>,
    /// Named engine defects to switch on (engine feature `bugs`).
    pub bugs: Vec<String>,
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
            store: StoreKind::Engine,
            policy: None,
            faults: Vec::new(),
            bugs: Vec::new(),
            ops: 100,
            workload: None,
            crashes_max: 3,
        }
    }
}

/// How a recovery ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryResult {
    /// Accepted: the recovered state is the model after `k` of the `n` writes issued.
    Recovered { k: usize },
    /// The store refused cleanly, naming a damaged file (allowed under damage faults).
    Refused { file: String },
    /// The power went again during recovery (the next record is that crash).
    CrashedAgain,
    /// The recovery broke the contract (see the run's violation).
    Violated,
}

/// One power cut and what followed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashRecord {
    /// The index of the event the power went at (the first that failed), in the run's log.
    pub event_index: u64,
    /// The engine phase in force then.
    pub phase: Phase,
    /// The path of the operation that was cut ("" if none).
    pub path: String,
    pub policy: CrashPolicy,
    /// Whether the power went while the store was recovering from an earlier crash.
    pub during_recovery: bool,
    /// The bounds the recovered state had to fall in: (lower, N) writes since the last accepted
    /// recovery (lower is D, or 0 when damage allowed any prefix).
    pub bounds: (usize, usize),
    pub result: RecoveryResult,
}

/// Tallies of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Steps executed.
    pub steps: u64,
    /// Writes issued and acknowledged.
    pub writes: u64,
    pub acked: u64,
    /// Power cuts (including the final one).
    pub crashes: u64,
    /// Recoveries checked and accepted.
    pub recoveries: u64,
    /// Clean refusals after damage.
    pub refusals: u64,
    /// Faults that fired.
    pub faults_fired: u64,
    /// Events in the fs log.
    pub events: u64,
}

/// Everything a run produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunOutcome {
    /// The seed, for seeded runs.
    pub seed: Option<u64>,
    /// What the seed decided, for seeded runs.
    pub config: Option<RunConfig>,
    /// The case that ran.
    pub case: Case,
    /// The digest of the fs event log; a replay must give the same.
    pub trace_hash: u64,
    pub crashes: Vec<CrashRecord>,
    /// The contract violations (a run stops at the first).
    pub violations: Vec<Violation>,
    /// Which faults and crash policies hit which files in which phase.
    pub coverage: Vec<CoverageFact>,
    pub counts: Counts,
    /// The failure report, when a violation was found.
    pub report: Option<Report>,
}

impl RunOutcome {
    /// Tells whether the run found no violation.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Runs one seed: expands it ([`RunConfig::from_seed`]) and executes the case.
pub fn run_seed(seed: u64, opts: &RunOptions) -> RunOutcome {
    let config = RunConfig::from_seed(seed, opts);
    let case = config.case();
    let mut outcome = execute(&case);
    outcome.seed = Some(seed);
    outcome.config = Some(config);
    outcome
}

/// Runs a case on a fresh `SimFs`, crashing, recovering and checking as its steps say.
pub fn execute(case: &Case) -> RunOutcome {
    let _ = case;
    todo!()
}

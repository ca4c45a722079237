//! The gate's JSON report (`--report PATH.json`).
//!
//! The schema is `report.schema.json` next to this file (`powercut gate --print-schema` prints
//! it) and is described field by field in the README. Everything but `timing` is a function of
//! the seeds that ran, so two runs over the same seed range agree on it whatever their thread
//! counts.

use serde::{Deserialize, Serialize};

use crate::gate::sweep::Shard;
use crate::report::Report;
use crate::run::Counts;

/// The schema identifier every report carries.
pub const SCHEMA_ID: &str = "powercut-gate-report/1";

/// The JSON Schema of the report.
pub const SCHEMA_JSON: &str = include_str!("report.schema.json");

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateReport {
    /// Always [`SCHEMA_ID`].
    pub schema: String,
    /// The powercut version that wrote it.
    pub version: String,
    /// Nothing was violated (and, with `--min-coverage`, every expected cell was reached).
    pub passed: bool,
    /// The exit code of the gate: 0 passed, 1 failed.
    pub exit_code: u8,
    pub config: ConfigReport,
    pub seeds: SeedsReport,
    pub totals: Totals,
    pub combinations: Vec<CombinationReport>,
    pub regressions: Vec<RegressionReport>,
    pub violations: Vec<ViolationReport>,
    pub coverage: CoverageReport,
    /// Armed vs fired per fault class; under `--min-coverage` a class armed and never fired
    /// fails the gate.
    #[serde(default)]
    pub fault_classes: Vec<FaultClassReport>,
    /// Wall-clock facts; the only part that differs between equal runs.
    pub timing: Timing,
}

/// What the gate was asked to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigReport {
    pub store: String,
    /// The disk assumptions the run fixed over the store's own (`--atomic-sectors`,
    /// `--damage-rule`); `None`: each seed's configuration declared its own (every failure
    /// report names the ones that held).
    #[serde(default)]
    pub assumptions: Option<crate::store::DiskAssumptions>,
    pub seed_start: u64,
    /// The seed budget (`--seeds`), if any.
    pub seeds_budget: Option<u64>,
    /// The time budget in seconds (`--seconds`), if any.
    pub seconds_budget: Option<f64>,
    pub shard: Shard,
    /// Crash policies swept.
    pub policies: Vec<String>,
    /// Fault slots swept (`none` is a crash-only run).
    pub faults: Vec<String>,
    /// Engine defects switched on.
    pub bugs: Vec<String>,
    /// Workload length per run.
    pub ops: usize,
    pub max_violations: u64,
    pub min_coverage: bool,
    /// The regression folder replayed first, if any.
    pub regressions_dir: Option<String>,
}

/// Which seeds ran and how they ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedsReport {
    pub run: u64,
    pub passed: u64,
    pub failed: u64,
    pub first: Option<u64>,
    pub last: Option<u64>,
    /// xxh3 (hex) over every seed's number, trace hash and verdict in seed order: equal digests
    /// mean the runs did exactly the same thing.
    pub digest: String,
}

/// Sums over all seeds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Power cuts tried.
    pub crash_points: u64,
    /// Recoveries checked and accepted.
    pub recoveries: u64,
    /// Clean refusals after damage.
    pub refusals: u64,
    pub faults_fired: u64,
    pub writes: u64,
    pub acked: u64,
    /// Store operations executed.
    pub steps: u64,
    /// File-system events logged.
    pub events: u64,
}

impl Totals {
    pub fn add(&mut self, counts: &Counts, crash_points: u64) {
        self.crash_points += crash_points;
        self.recoveries += counts.recoveries;
        self.refusals += counts.refusals;
        self.faults_fired += counts.faults_fired;
        self.writes += counts.writes;
        self.acked += counts.acked;
        self.steps += counts.steps;
        self.events += counts.events;
    }
}

/// Seeds per (policy, fault slot).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CombinationReport {
    pub policy: String,
    /// A fault class, or `none`.
    pub fault: String,
    pub seeds: u64,
    pub failed: u64,
    pub crash_points: u64,
}

/// One regression scenario replayed before the sweep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegressionReport {
    pub path: String,
    pub name: String,
    pub passed: bool,
    /// The violation the file expects (a known-bad case), if any.
    pub expected_violation: Option<String>,
    /// The first violation of the run, if any.
    pub violation: Option<String>,
}

/// One failing seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViolationReport {
    pub seed: u64,
    pub policy: String,
    pub fault: String,
    /// The violation kind (`lost_durable`, `resurrected`, ...).
    pub kind: String,
    pub message: String,
    /// The command that replays the failure.
    pub replay: String,
    /// The shrunk case, when shrinking ran.
    pub shrunk: Option<ShrunkReport>,
    /// The full failure report (of the shrunk case when there is one).
    pub report: Report,
    /// The failure page written for it (`--html`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// One fault class of the sweep: how many seeds drew it, how many could fire it, how many did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultClassReport {
    pub class: String,
    /// Seeds whose slot was this class.
    pub seeds: u64,
    /// Of those, seeds whose store configuration can meet this class.
    pub armed: u64,
    /// Seeds in which it fired at least once.
    pub fired: u64,
    /// Why the store says the class cannot happen to it, when it says so.
    pub unreachable: Option<String>,
}

impl FaultClassReport {
    /// A class that was armed and never fired: its faults test nothing (check the store's
    /// `file_kind` and `file_roles`, or declare it in `unreachable_faults` with the reason).
    pub fn dead(&self) -> bool {
        self.armed > 0 && self.fired == 0
    }
}

/// The result of shrinking a failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShrunkReport {
    /// Steps of the original case and of the shrunk one.
    pub steps_before: u64,
    pub steps_after: u64,
    /// Candidate runs tried.
    pub runs: u64,
    /// Where the regression scenario was saved (`--save-regressions`).
    pub scenario_path: Option<String>,
}

/// The coverage matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageReport {
    /// Column and row names, in display order.
    pub phases: Vec<String>,
    pub files: Vec<String>,
    pub causes: Vec<String>,
    /// Every cell that was reached or is expected.
    pub cells: Vec<CellReport>,
    /// How many cells the sweep's causes are expected to reach, and how many of those it did.
    pub expected: u64,
    pub expected_reached: u64,
    /// Expected cells not reached.
    pub missing: Vec<CellRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellReport {
    pub cause: String,
    pub file: String,
    pub phase: String,
    /// Seeds that reached the cell.
    pub seeds: u64,
    pub expected: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellRef {
    pub cause: String,
    pub file: String,
    pub phase: String,
}

/// Wall-clock facts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub seconds: f64,
    pub threads: usize,
    pub seeds_per_second: f64,
}

//! The durability gate: replay the regression folder, sweep seeds over crash policies and fault
//! classes within a budget, and decide pass or fail (DESIGN section 6).
//!
//! [`run_gate`] does the work and returns a [`GateOutcome`] holding the JSON report
//! ([`report::GateReport`]); `cli::gate` turns it into text, files and an exit code. Seeds run in
//! parallel ([`pool`]) but every aggregate is computed in seed order from per-seed results, so
//! the report depends on the seeds that ran, never on the thread count.

use std::path::PathBuf;
use std::time::Instant;

use faultfs::FaultClass;

use crate::coverage::{FileKind, PolicyKind};
use crate::run::RunOutcome;
use crate::scenario::ScenarioError;
use crate::shrink::{ShrinkOptions, ShrinkOutcome};
use crate::store::Store;
use crate::swarm::fault_class_name;

pub mod bugs;
pub mod expected;
pub mod junit;
pub mod matrix;
pub mod pool;
pub mod progress;
pub mod regressions;
pub mod report;
pub mod sweep;

use matrix::{Cell, Matrix, cause_name};
use pool::{PoolPlan, SeedResult, Tally};
use report::{
    CellRef, CellReport, CombinationReport, ConfigReport, CoverageReport, FaultClassReport,
    GateReport, RegressionReport, SeedsReport, ShrunkReport, Timing, Totals, ViolationReport,
};
use sweep::{Shard, Sweep};

/// Everything a gate run is told.
#[derive(Clone, Debug)]
pub struct GateOptions {
    /// The store's name (for the report).
    pub store: String,
    pub sweep: Sweep,
    pub seed_start: u64,
    pub shard: Shard,
    pub seeds: Option<u64>,
    pub seconds: Option<f64>,
    pub threads: usize,
    /// Stop once this many seeds failed.
    pub max_violations: u64,
    /// Fail when an expected coverage cell was not reached.
    pub min_coverage: bool,
    /// The regression folder to replay first (`None`: skip).
    pub regressions: Option<PathBuf>,
    /// Candidate runs for shrinking each failure (0: do not shrink).
    pub shrink_runs: usize,
    /// Write shrunk failures as scenarios into the regression folder.
    pub save_regressions: bool,
}

/// Why a gate could not run (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("regression scenario rejected: {0}")]
    Scenario(#[from] ScenarioError),
    #[error("{0}")]
    Usage(String),
}

/// A failing seed with its (possibly shrunk) outcome.
pub struct Failure {
    pub seed: SeedResult,
    pub shrunk: Option<ShrinkOutcome>,
    pub saved: Option<PathBuf>,
}

impl Failure {
    /// The outcome whose report is shown: the shrunk one when shrinking kept the failure.
    pub fn shown(&self) -> Option<&RunOutcome> {
        self.shrunk
            .as_ref()
            .map(|s| &s.outcome)
            .filter(|o| !o.passed())
            .or(self.seed.failure.as_deref())
    }
}

/// What a gate run produced.
pub struct GateOutcome {
    pub report: GateReport,
    pub matrix: Matrix,
    pub regressions: Vec<regressions::Replayed>,
    /// Regression files written for other stores, left to their own gates.
    pub regressions_elsewhere: Vec<PathBuf>,
    pub failures: Vec<Failure>,
}

impl GateOutcome {
    pub fn exit_code(&self) -> u8 {
        self.report.exit_code
    }
}

/// Runs the gate. `on_tick` sees running totals for a progress display.
pub fn run_gate<S: Store>(
    opts: &GateOptions,
    on_tick: impl FnMut(Tally),
) -> Result<GateOutcome, GateError> {
    let start = Instant::now();
    // A fixed configuration the store rejects is bad input, found before any seed runs.
    crate::swarm::RunConfig::from_seed::<S>(opts.seed_start, &opts.sweep.run_options(0))
        .map_err(GateError::Usage)?;
    let (replayed, regressions_elsewhere) = match &opts.regressions {
        Some(dir) => {
            let (mine, others) = regressions::load_for::<S>(dir)?;
            (regressions::replay::<S>(&mine, opts.threads), others)
        }
        None => (Vec::new(), Vec::new()),
    };
    let plan = PoolPlan {
        sweep: opts.sweep.clone(),
        seed_start: opts.seed_start,
        shard: opts.shard,
        seeds: opts.seeds,
        seconds: opts.seconds,
        max_violations: opts.max_violations.max(1),
        threads: opts.threads.max(1),
    };
    let results = pool::run_pool::<S>(&plan, on_tick);
    let seconds = start.elapsed().as_secs_f64();
    let mut failures: Vec<Failure> = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| Failure {
            seed: r.clone(),
            shrunk: None,
            saved: None,
        })
        .collect();
    for f in &mut failures {
        shrink_failure::<S>(f, opts);
    }
    let matrix = matrix_of(&opts.sweep, &results, S::name() == "engine");
    let fault_classes = fault_report(opts, &results);
    let regression_reports: Vec<RegressionReport> =
        replayed.iter().map(|r| r.report.clone()).collect();
    let report = build_report(
        opts,
        &results,
        &failures,
        regression_reports,
        &matrix,
        fault_classes,
        Timing {
            seconds,
            threads: plan.threads,
            seeds_per_second: if seconds > 0.0 {
                results.len() as f64 / seconds
            } else {
                0.0
            },
        },
    );
    Ok(GateOutcome {
        report,
        matrix,
        regressions: replayed,
        regressions_elsewhere,
        failures,
    })
}

/// Shrinks a failure (when asked) and saves it as a regression (when asked).
fn shrink_failure<S: Store>(f: &mut Failure, opts: &GateOptions) {
    let Some(outcome) = f.seed.failure.as_deref() else {
        return;
    };
    let Some(kind) = outcome.violations.first().map(|v| v.kind) else {
        return;
    };
    if opts.shrink_runs == 0 {
        return;
    }
    let shrink_opts = ShrinkOptions {
        max_runs: opts.shrink_runs,
        command: opts.sweep.command.clone(),
    };
    let mut shrunk = crate::shrink::shrink::<S>(&outcome.case, &shrink_opts);
    if shrunk.outcome.passed() {
        return;
    }
    if opts.save_regressions
        && let Some(dir) = &opts.regressions
    {
        let name = format!("seed_{}_{}", f.seed.seed, kind.name());
        let description = format!(
            "Shrunk from gate seed {} ({} under {}): {}",
            f.seed.seed,
            slot_name(f.seed.fault),
            f.seed.policy.name(),
            outcome
                .violations
                .first()
                .map(|v| v.message.as_str())
                .unwrap_or_default()
        );
        f.saved = crate::shrink::write_scenario(dir, &name, &description, &mut shrunk).ok();
    }
    f.shrunk = Some(shrunk);
}

/// The name of a fault slot: a class, or `none`.
pub fn slot_name(fault: Option<FaultClass>) -> String {
    fault.map_or_else(|| "none".to_string(), fault_class_name)
}

fn matrix_of(sweep: &Sweep, results: &[SeedResult], engine_table: bool) -> Matrix {
    let faults: Vec<FaultClass> = sweep.faults.iter().flatten().copied().collect();
    let mut m = Matrix::new(&sweep.policies, &faults, engine_table);
    for r in results {
        m.add(&r.cells);
    }
    m
}

/// xxh3 over (seed, trace hash, verdict) in seed order.
fn digest(results: &[SeedResult]) -> String {
    let mut bytes = Vec::with_capacity(results.len() * 17);
    for r in results {
        bytes.extend_from_slice(&r.seed.to_le_bytes());
        bytes.extend_from_slice(&r.trace_hash.to_le_bytes());
        bytes.push(u8::from(r.passed()));
    }
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes))
}

fn build_report(
    opts: &GateOptions,
    results: &[SeedResult],
    failures: &[Failure],
    regressions: Vec<RegressionReport>,
    matrix: &Matrix,
    fault_classes: Vec<FaultClassReport>,
    timing: Timing,
) -> GateReport {
    let mut totals = Totals::default();
    for r in results {
        totals.add(&r.counts, r.crash_points);
    }
    let failed = results.iter().filter(|r| !r.passed()).count() as u64;
    let coverage = coverage_report(matrix);
    let dead = fault_classes.iter().any(FaultClassReport::dead);
    let coverage_ok = !opts.min_coverage || (coverage.missing.is_empty() && !dead);
    let passed = failed == 0 && regressions.iter().all(|r| r.passed) && coverage_ok;
    GateReport {
        schema: report::SCHEMA_ID.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        passed,
        exit_code: u8::from(!passed),
        config: config_report(opts),
        seeds: SeedsReport {
            run: results.len() as u64,
            passed: results.len() as u64 - failed,
            failed,
            first: results.first().map(|r| r.seed),
            last: results.last().map(|r| r.seed),
            digest: digest(results),
        },
        totals,
        combinations: combinations(&opts.sweep, results),
        regressions,
        violations: failures.iter().filter_map(violation_report).collect(),
        coverage,
        fault_classes,
        timing,
    }
}

/// Armed vs fired for every fault class the sweep dealt out.
fn fault_report(opts: &GateOptions, results: &[SeedResult]) -> Vec<FaultClassReport> {
    opts.sweep
        .faults
        .iter()
        .flatten()
        .map(|class| {
            let mine: Vec<&SeedResult> =
                results.iter().filter(|r| r.fault == Some(*class)).collect();
            let unreachable: Vec<&str> = mine.iter().filter_map(|r| r.unreachable).collect();
            FaultClassReport {
                class: fault_class_name(*class),
                seeds: mine.len() as u64,
                armed: mine.iter().filter(|r| r.unreachable.is_none()).count() as u64,
                fired: mine.iter().filter(|r| r.fault_fired).count() as u64,
                unreachable: unreachable.first().map(|w| w.to_string()),
            }
        })
        .collect()
}

fn config_report(opts: &GateOptions) -> ConfigReport {
    ConfigReport {
        store: opts.store.clone(),
        assumptions: opts.sweep.assumptions,
        seed_start: opts.seed_start,
        seeds_budget: opts.seeds,
        seconds_budget: opts.seconds,
        shard: opts.shard,
        policies: opts
            .sweep
            .policies
            .iter()
            .map(|p| p.name().to_string())
            .collect(),
        faults: opts.sweep.faults.iter().map(|f| slot_name(*f)).collect(),
        bugs: opts.sweep.bugs.clone(),
        ops: opts.sweep.ops,
        max_violations: opts.max_violations.max(1),
        min_coverage: opts.min_coverage,
        regressions_dir: opts.regressions.as_ref().map(|d| d.display().to_string()),
    }
}

/// Seeds per (policy, fault slot), in the sweep's order.
fn combinations(sweep: &Sweep, results: &[SeedResult]) -> Vec<CombinationReport> {
    let mut out = Vec::new();
    for fault in &sweep.faults {
        for policy in &sweep.policies {
            let mine = results
                .iter()
                .filter(|r| r.policy == *policy && r.fault == *fault);
            let mut c = CombinationReport {
                policy: policy.name().to_string(),
                fault: slot_name(*fault),
                seeds: 0,
                failed: 0,
                crash_points: 0,
            };
            for r in mine {
                c.seeds += 1;
                c.failed += u64::from(!r.passed());
                c.crash_points += r.crash_points;
            }
            out.push(c);
        }
    }
    out
}

fn violation_report(f: &Failure) -> Option<ViolationReport> {
    let original = f.seed.failure.as_deref()?;
    let first = original.violations.first()?;
    let replay = original
        .config
        .as_ref()
        .map(|c| c.replay_command())
        .unwrap_or_default();
    let mut report = f.shown().and_then(|o| o.report.clone())?;
    // A shrunk case replays from its saved scenario; otherwise the seed's command replays it.
    if f.saved.is_none() {
        report.replay = replay.clone();
    }
    Some(ViolationReport {
        seed: f.seed.seed,
        policy: f.seed.policy.name().to_string(),
        fault: slot_name(f.seed.fault),
        kind: first.kind.name().to_string(),
        message: first.message.clone(),
        replay,
        shrunk: f.shrunk.as_ref().map(|s| ShrunkReport {
            steps_before: original.case.steps.len() as u64,
            steps_after: s.case.steps.len() as u64,
            runs: s.runs as u64,
            scenario_path: f.saved.as_ref().map(|p| p.display().to_string()),
        }),
        report,
        html: None,
    })
}

fn cell_ref(c: &Cell) -> CellRef {
    CellRef {
        cause: cause_name(c.cause),
        file: c.file.name().to_string(),
        phase: c.phase.name().to_string(),
    }
}

fn coverage_report(m: &Matrix) -> CoverageReport {
    let expected = m.expected();
    let missing = m.missing();
    let mut cells: Vec<Cell> = m.hits.keys().copied().chain(expected.clone()).collect();
    cells.sort();
    cells.dedup();
    CoverageReport {
        phases: faultfs::Phase::ALL
            .iter()
            .map(|p| p.name().to_string())
            .collect(),
        files: FileKind::ALL.iter().map(|f| f.name().to_string()).collect(),
        causes: m.causes.iter().map(|c| cause_name(*c)).collect(),
        cells: cells
            .iter()
            .map(|c| {
                let r = cell_ref(c);
                CellReport {
                    cause: r.cause,
                    file: r.file,
                    phase: r.phase,
                    seeds: m.hits.get(c).copied().unwrap_or(0),
                    expected: m.is_expected(c),
                }
            })
            .collect(),
        expected: expected.len() as u64,
        expected_reached: (expected.len() - missing.len()) as u64,
        missing: missing.iter().map(cell_ref).collect(),
    }
}

/// The policies a `--policy` list names (`all` or empty: every policy).
pub fn policies_of(names: &[PolicyKind]) -> Vec<PolicyKind> {
    if names.is_empty() {
        PolicyKind::ALL.to_vec()
    } else {
        let mut v = names.to_vec();
        v.sort();
        v.dedup();
        v
    }
}

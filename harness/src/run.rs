//! The crash/recover loop: runs a [`Case`] on a fresh `SimFs` and checks every recovery.

use faultfs::{CrashPolicy, FaultClass, Phase};
use serde::{Deserialize, Serialize};

use faultfs::{Event, EventOp};

use crate::case::{Case, StoreKind};
use crate::checker::{Violation, ViolationKind};
use crate::coverage::{self, Cause, CoverageFact, FileKind, PolicyKind};
use crate::report::Report;
use crate::runner::{Finished, PendingCrash, Runner, StepTrace};
use crate::store::Store;
use crate::stores::{CarelessConfig, CarelessStore, EngineConfig, EngineStore};
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
    /// Every damage a fault did at a reboot (file, offset, class), from the event log.
    #[serde(default)]
    pub damage: Vec<DamageDone>,
    /// The whole event log and the events of each step, kept when the run failed (a failure
    /// page draws them); not serialized, since the log of a long run is large.
    #[serde(skip)]
    pub trace: Option<Trace>,
}

/// What a failing run did, event by event.
#[derive(Clone, Debug)]
pub struct Trace {
    pub events: Vec<Event>,
    /// One per step that ran, in the order of the case's steps.
    pub steps: Vec<StepTrace>,
}

/// One damage applied at a reboot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DamageDone {
    pub path: String,
    pub offset: u64,
    pub class: faultfs::FaultClass,
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
    let mut outcome = execute_owned(config.case());
    outcome.seed = Some(seed);
    if let Some(r) = outcome.report.as_mut() {
        r.seed = Some(seed);
        r.policy = Some(config.policy);
        r.replay = config.replay_command();
    }
    outcome.config = Some(config);
    outcome
}

/// Runs a case on a fresh `SimFs`, crashing, recovering and checking as its steps say.
pub fn execute(case: &Case) -> RunOutcome {
    execute_owned(case.clone())
}

/// [`execute`] on a case the outcome may keep, so it is not copied.
fn execute_owned(case: Case) -> RunOutcome {
    let finished = match case.store {
        StoreKind::Engine => {
            let config = EngineConfig::simulated(&case.options, &case.bugs);
            finish::<EngineStore>(&case, &config)
        }
        StoreKind::Careless => finish::<CarelessStore>(&case, &CarelessConfig),
    };
    outcome_of(case, finished)
}

/// Runs a case on any [`Store`]. A panic inside the store is caught and reported as a
/// [`ViolationKind::Panic`].
pub fn execute_with<S: Store>(case: &Case, config: &S::Config) -> RunOutcome {
    let finished = finish::<S>(case, config);
    outcome_of(case.clone(), finished)
}

/// Runs the crash/recover loop, turning a panic of the store into a violation.
fn finish<S: Store>(case: &Case, config: &S::Config) -> Finished {
    let sim_slot: std::sync::Mutex<Option<faultfs::SimFs>> = std::sync::Mutex::new(None);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let runner = Runner::<S>::new(case, config);
        if let Ok(mut slot) = sim_slot.lock() {
            *slot = Some(runner.sim());
        }
        runner.run()
    }));
    match result {
        Ok(f) => f,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".to_string());
            let sim = sim_slot
                .lock()
                .ok()
                .and_then(|mut s| s.take())
                .unwrap_or_default();
            Finished {
                sim,
                crashes: Vec::new(),
                steps: Vec::new(),
                violation: Some(Violation::new(
                    ViolationKind::Panic,
                    format!("the store panicked: {msg}"),
                )),
                counts: Counts::default(),
                durable_mark: 0,
            }
        }
    }
}

/// Reads the event log once (in place, without copying it) to place each crash and list what
/// was covered.
fn outcome_of(case: Case, f: Finished) -> RunOutcome {
    let trace_hash = f.sim.trace_hash();
    let Finished {
        sim,
        crashes,
        steps,
        violation,
        mut counts,
        durable_mark,
    } = f;
    let violations: Vec<Violation> = violation.into_iter().collect();
    let (crashes, coverage, damage, report, trace) = sim.with_events(|events| {
        let crashes = place_crashes(events, crashes);
        let mut coverage = coverage::fault_facts(events);
        coverage.extend(crashes.iter().map(|c| CoverageFact {
            cause: Cause::Crash(PolicyKind::of(&c.policy)),
            file: FileKind::of(&c.path),
            path: c.path.clone(),
            phase: c.phase,
        }));
        coverage.sort();
        coverage.dedup();
        counts.events = events.len() as u64;
        // Only a failing run needs a report (the events between D and the crash, the diffs).
        let report = violations.first().map(|v| {
            crate::report::build(&case, v, crashes.last(), events, durable_mark, trace_hash)
        });
        // Copied only for a failure: a passing run has nothing to draw.
        let trace = report.is_some().then(|| Trace {
            events: events.to_vec(),
            steps,
        });
        (crashes, coverage, damage_done(events), report, trace)
    });
    RunOutcome {
        seed: None,
        config: None,
        case,
        trace_hash,
        crashes,
        violations,
        coverage,
        counts,
        report,
        damage,
        trace,
    }
}

/// Every damage a fault did at a reboot.
fn damage_done(events: &[Event]) -> Vec<DamageDone> {
    events
        .iter()
        .filter_map(|e| match (&e.op, e.fault) {
            (EventOp::Damage { path, offset, .. }, Some(class)) => Some(DamageDone {
                path: path.clone(),
                offset: *offset,
                class,
            }),
            _ => None,
        })
        .collect()
}

/// Matches each crash to the log: the k-th `Reboot` event closes the k-th crash, and the crash
/// point is the first operation after the previous reboot that the power cut refused (or the
/// explicit `PowerOff`).
fn place_crashes(events: &[Event], pending: Vec<PendingCrash>) -> Vec<CrashRecord> {
    let mut records = Vec::new();
    let mut pending = pending.into_iter();
    let mut cut: Option<&Event> = None;
    for e in events {
        match &e.op {
            EventOp::Reboot { .. } => {
                let Some(p) = pending.next() else { break };
                let (event_index, phase, path) = cut
                    .map_or((e.index, e.phase, String::new()), |c| {
                        (c.index, c.phase, coverage::event_path(&c.op).to_string())
                    });
                records.push(CrashRecord {
                    event_index,
                    phase,
                    path,
                    policy: p.policy,
                    during_recovery: p.during_recovery,
                    bounds: p.bounds,
                    result: p.result,
                });
                cut = None;
            }
            EventOp::PowerOff if cut.is_none() => cut = Some(e),
            _ if cut.is_none() && e.result.starts_with("power_loss") => cut = Some(e),
            _ => {}
        }
    }
    records
}

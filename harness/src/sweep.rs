//! Sweeps inside `cargo test`: the gate's policy x fault matrix over any store, panicking with
//! the shrunk report on a violation and naming any fault class that was armed and never fired.
//!
//! ```no_run
//! # type MyStore = powercut::stores::CarelessStore;
//! #[test]
//! fn my_store_survives_power_cuts() {
//!     powercut::sweep::<MyStore>(&powercut::SweepOptions::from_env());
//! }
//! ```
//!
//! The environment sets the size: `POWERCUT_SEEDS` (default 200), `POWERCUT_SEED_START`,
//! `POWERCUT_POLICIES` (comma-separated: strict, keepall, torn, reorder; default all) and
//! `POWERCUT_FAULTS` (comma-separated classes, `none` for crash-only runs, or `all`; default
//! crash-only runs and every class).

use faultfs::FaultClass;

use crate::coverage::PolicyKind;
use crate::gate::sweep::{Shard, Sweep};
use crate::gate::{GateOptions, run_gate};
use crate::store::{DiskAssumptions, Store};
use crate::swarm::{ALL_FAULTS, parse_fault_class};

/// What a test sweep runs.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepOptions {
    pub seeds: u64,
    pub seed_start: u64,
    pub policies: Vec<PolicyKind>,
    /// Fault slots: `None` is a crash-only run.
    pub faults: Vec<Option<FaultClass>>,
    /// Store defects switched on (a canary sweep).
    pub bugs: Vec<String>,
    /// Configuration fields fixed over what each seed draws.
    pub config: Option<serde_json::Value>,
    /// Disk assumptions over the store's own.
    pub assumptions: Option<DiskAssumptions>,
    /// Workload length per seed.
    pub ops: usize,
    /// Candidate runs to shrink a failure with.
    pub shrink_runs: usize,
    /// Fail when a fault class was armed and never fired.
    pub require_fired: bool,
}

impl Default for SweepOptions {
    fn default() -> Self {
        let full = Sweep::full();
        SweepOptions {
            seeds: 200,
            seed_start: 0,
            policies: full.policies,
            faults: full.faults,
            bugs: Vec::new(),
            config: None,
            assumptions: None,
            ops: full.ops,
            shrink_runs: 400,
            require_fired: true,
        }
    }
}

impl SweepOptions {
    /// The defaults, sized and narrowed by the environment (see the module doc). A malformed
    /// variable panics naming it: a test that silently swept something else would mislead.
    pub fn from_env() -> SweepOptions {
        let mut o = SweepOptions::default();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(v) = var("POWERCUT_SEEDS") {
            o.seeds = v
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("POWERCUT_SEEDS={v:?} is not a number"));
        }
        if let Some(v) = var("POWERCUT_SEED_START") {
            o.seed_start = v
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("POWERCUT_SEED_START={v:?} is not a number"));
        }
        if let Some(v) = var("POWERCUT_POLICIES") {
            o.policies = v
                .split(',')
                .map(|p| {
                    PolicyKind::parse(p.trim())
                        .unwrap_or_else(|| panic!("POWERCUT_POLICIES: unknown policy {p:?}"))
                })
                .collect();
        }
        if let Some(v) = var("POWERCUT_FAULTS") {
            o.faults =
                parse_fault_slots(&v).unwrap_or_else(|e| panic!("POWERCUT_FAULTS={v:?}: {e}"));
        }
        o
    }
}

/// Parses a comma-separated list of fault slots (`none`, `all`, or class names).
pub fn parse_fault_slots(text: &str) -> Result<Vec<Option<FaultClass>>, String> {
    let mut slots = Vec::new();
    for name in text.split(',').map(str::trim) {
        match name {
            "none" => slots.push(None),
            "all" => slots.extend(ALL_FAULTS.into_iter().map(Some)),
            other => slots.push(Some(
                parse_fault_class(other).ok_or_else(|| format!("unknown fault class {other:?}"))?,
            )),
        }
    }
    slots.dedup();
    Ok(slots)
}

/// Runs the sweep on store `S`; panics with the failure report (shrunk), or naming each fault
/// class that was armed and never fired.
pub fn sweep<S: Store>(opts: &SweepOptions) {
    let mut sweep = Sweep::full();
    sweep.policies = opts.policies.clone();
    sweep.faults = opts.faults.clone();
    sweep.bugs = opts.bugs.clone();
    sweep.config = opts.config.clone();
    sweep.assumptions = opts.assumptions;
    sweep.ops = opts.ops;
    sweep.command = crate::swarm::Invocation {
        program: format!(
            "<a binary whose main is powercut::cli::main::<{}>()>",
            S::name()
        ),
        store: None,
    };
    let gate = GateOptions {
        store: S::name().to_string(),
        sweep,
        seed_start: opts.seed_start,
        shard: Shard::ALL,
        seeds: Some(opts.seeds.max(1)),
        seconds: None,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        max_violations: 1,
        min_coverage: false,
        regressions: None,
        shrink_runs: opts.shrink_runs,
        save_regressions: false,
    };
    let outcome = match run_gate::<S>(&gate, |_| {}) {
        Ok(o) => o,
        Err(e) => panic!("the {} sweep could not run: {e}", S::name()),
    };
    if let Some(v) = outcome.report.violations.first() {
        panic!(
            "the {} store failed seed {} ({} + {}):\n{}\nreplay the seed: {}",
            S::name(),
            v.seed,
            v.policy,
            v.fault,
            v.report,
            v.replay
        );
    }
    if opts.require_fired {
        let dead: Vec<String> = outcome
            .report
            .fault_classes
            .iter()
            .filter(|c| c.dead())
            .map(|c| format!("{} (armed in {} seeds)", c.class, c.armed))
            .collect();
        assert!(
            dead.is_empty(),
            "fault classes armed and never fired on the {} store: {}. Their faults tested \
             nothing: check that Store::file_kind names your files' roles (and file_roles, if \
             you list them), or declare a class that cannot happen in \
             Store::unreachable_faults with the reason",
            S::name(),
            dead.join(", ")
        );
    }
}

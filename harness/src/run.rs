//! The crash/recover loop: runs a [`Case`] on a fresh `SimFs` and checks every recovery.

use faultfs::{Event, EventOp};

use crate::case::Case;
use crate::checker::{Violation, ViolationKind};
use crate::coverage::{self, Cause, CoverageFact, PolicyKind};

use crate::runner::{Finished, PendingCrash, Runner};
use crate::store::{Store, config_from_json};

pub use crate::outcome::{
    Counts, CrashRecord, DamageDone, RecoveryResult, RunOutcome, Signature, StepTrace, Trace,
};
use crate::swarm::RunConfig;
pub use crate::swarm::RunOptions;

/// Runs one seed on store `S`: expands it ([`RunConfig::from_seed`]) and executes the case.
/// Fails (before running anything) only when the caller's fixed configuration is not one `S`
/// accepts.
pub fn run_seed<S: Store>(seed: u64, opts: &RunOptions) -> Result<RunOutcome, String> {
    // The typed configuration goes straight to the run: it is what `execute` would parse back
    // from the case's JSON (the same fields, the same defects), without the round trip.
    let (config, typed) = RunConfig::from_seed_typed::<S>(seed, opts)?;
    S::validate_config(&typed)?;
    let case = config.case();
    let finished = finish::<S>(&case, &typed);
    let mut outcome = outcome_of::<S>(case, finished);
    outcome.seed = Some(seed);
    if let Some(r) = outcome.report.as_mut() {
        r.seed = Some(seed);
        r.policy = Some(config.policy);
        r.replay = config.replay_command();
    }
    outcome.config = Some(config);
    Ok(outcome)
}

/// Runs a case on a fresh `SimFs` with store `S`, crashing, recovering and checking as its steps
/// say. A panic inside the store is caught and reported as a [`ViolationKind::Panic`]. Fails
/// (before running anything) when the case names another store or a configuration `S` rejects.
pub fn execute<S: Store>(case: &Case) -> Result<RunOutcome, String> {
    let config = case_config::<S>(case)?;
    let finished = finish::<S>(case, &config);
    Ok(outcome_of::<S>(case.clone(), finished))
}

/// The configuration a case runs `S` with: its JSON config with its defects switched on.
pub fn case_config<S: Store>(case: &Case) -> Result<S::Config, String> {
    if case.store != S::name() {
        return Err(format!(
            "the case is for the {:?} store, not {:?}",
            case.store,
            S::name()
        ));
    }
    let mut config = config_from_json::<S>(&case.config)?;
    for b in &case.bugs {
        S::enable_defect(&mut config, b)?;
    }
    Ok(config)
}

/// Runs the crash/recover loop, turning a panic of the store into a violation.
fn finish<S: Store>(case: &Case, config: &S::Config) -> Finished {
    let sim_slot: std::sync::Mutex<Option<faultfs::SimFs>> = std::sync::Mutex::new(None);
    let result = crate::panics::catch(|| {
        let runner = Runner::<S>::new(case, config);
        if let Ok(mut slot) = sim_slot.lock() {
            *slot = Some(runner.sim());
        }
        runner.run()
    });
    match result {
        Ok(f) => f,
        Err(msg) => {
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
                findings: Vec::new(),
            }
        }
    }
}

/// Reads the event log once (in place, without copying it) to place each crash and list what
/// was covered.
fn outcome_of<S: Store>(case: Case, f: Finished) -> RunOutcome {
    let trace_hash = f.sim.trace_hash();
    let Finished {
        sim,
        crashes,
        steps,
        violation,
        mut counts,
        durable_mark,
        findings,
    } = f;
    let violations: Vec<Violation> = violation.into_iter().collect();
    let (crashes, coverage, damage, report, hints, trace) = sim.with_events(|events| {
        let crashes = place_crashes(events, crashes);
        // Most runs fire no fault: one tight look for any spares the two passes that collect
        // what faults did.
        let faulted = events.iter().any(|e| e.fault.is_some());
        let mut coverage = if faulted {
            coverage::fault_facts(events, S::file_kind)
        } else {
            Vec::new()
        };
        coverage.extend(crashes.iter().map(|c| CoverageFact {
            cause: Cause::Crash(PolicyKind::of(&c.policy)),
            file: S::file_kind(std::path::Path::new(&c.path)),
            path: c.path.clone(),
            phase: c.phase,
        }));
        coverage.sort();
        coverage.dedup();
        counts.events = events.len() as u64;
        // Only a failing run needs a report (the events between D and the crash, the diffs).
        let report = violations.first().map(|v| {
            crate::report::build::<S>(&case, v, crashes.last(), events, durable_mark, trace_hash)
        });
        let hints = match (&report, crashes.last()) {
            (Some(_), Some(c)) => crate::report::hints_at::<S>(events, c, durable_mark),
            _ => Vec::new(),
        };
        // Copied only for a failure: a passing run has nothing to draw.
        let trace = report.is_some().then(|| Trace {
            events: events.to_vec(),
            steps,
        });
        let damage = if faulted {
            damage_done(events)
        } else {
            Vec::new()
        };
        (crashes, coverage, damage, report, hints, trace)
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
        hints,
        signature: None,
        findings,
        trace,
    }
    .with_signature()
}

/// Every damage a fault did at a reboot.
fn damage_done(events: &[Event]) -> Vec<DamageDone> {
    let mut done = Vec::new();
    for e in events {
        // The fault first: nearly every event has none, and it is one byte to look at.
        let Some(class) = e.fault else { continue };
        if let EventOp::Damage { path, offset, .. } = &e.op {
            done.push(DamageDone {
                path: path.to_string(),
                offset: *offset,
                class,
            });
        }
    }
    done
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

//! Shrinking: reduce a failing case to a minimal one that fails for the same reason.
//!
//! The workload and the fault schedule shrink together. Passes, repeated until none helps:
//! remove runs of steps (halves, quarters, ... single steps, delta-debugging style), move each
//! armed crash earlier, drop mutations from batches, clear sync flags, and shorten values. A
//! candidate is kept only if it still fails with the same [`Signature`] (violation kind, fault
//! classes that fired, and the kinds of missing sync the hints see), so a shrink never trades one
//! bug for another that happens to share its violation kind. The result is written as a
//! scenario, with a `#[test]` snippet, so it reproduces without the seed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::case::{Case, Step};
use crate::checker::ViolationKind;
use crate::model::Mutation;
use crate::outcome::Signature;
use crate::run::{RunOutcome, execute};
use crate::scenario::Scenario;
use crate::store::Store;

/// Limits of a shrink.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShrinkOptions {
    /// At most this many candidate runs.
    pub max_runs: usize,
    /// How to start this binary, for the report's scenario line.
    pub command: crate::swarm::Invocation,
}

impl Default for ShrinkOptions {
    fn default() -> Self {
        ShrinkOptions {
            max_runs: 4000,
            command: crate::swarm::Invocation::default(),
        }
    }
}

/// The result of a shrink.
#[derive(Clone, Debug)]
pub struct ShrinkOutcome {
    /// The smallest case found that still fails with the same violation kind.
    pub case: Case,
    /// Its run (its report carries the `#[test]` snippet).
    pub outcome: RunOutcome,
    /// How many candidate runs were tried.
    pub runs: usize,
    pub kind: ViolationKind,
    /// The signature every adopted candidate kept.
    pub signature: Option<Signature>,
    /// How to start the binary that shrank it (for the scenario line).
    pub command: crate::swarm::Invocation,
}

struct Shrinker<'a> {
    signature: Signature,
    runs: usize,
    max_runs: usize,
    run: &'a dyn Fn(&Case) -> RunOutcome,
}

impl Shrinker<'_> {
    /// Runs a candidate; true if it fails the same way (and the budget is not spent).
    fn fails(&mut self, case: &Case) -> bool {
        if self.runs >= self.max_runs {
            return false;
        }
        self.runs += 1;
        Signature::of(&(self.run)(case)).as_ref() == Some(&self.signature)
    }

    /// Tries `candidate`; adopts it into `best` if it still fails.
    fn try_adopt(&mut self, best: &mut Case, candidate: Case) -> bool {
        if candidate != *best && self.fails(&candidate) {
            *best = candidate;
            true
        } else {
            false
        }
    }

    fn remove_runs(&mut self, best: &mut Case) -> bool {
        let mut progress = false;
        let mut size = best.steps.len().div_ceil(2).max(1);
        loop {
            let mut i = 0;
            while i < best.steps.len() {
                let mut c = best.clone();
                let end = (i + size).min(c.steps.len());
                c.steps.drain(i..end);
                if self.try_adopt(best, c) {
                    progress = true;
                } else {
                    i += size;
                }
            }
            if size == 1 {
                return progress;
            }
            size = size.div_ceil(2);
        }
    }

    fn earlier_crashes(&mut self, best: &mut Case) -> bool {
        let mut progress = false;
        for i in 0..best.steps.len() {
            let Some(Step::Crash(crash)) = best.steps.get(i) else {
                continue;
            };
            let Some(mut n) = crash.after_ops else {
                continue;
            };
            // Binary search for the earliest crash point that still fails.
            let mut lo = 0;
            while lo < n {
                let mid = lo + (n - lo) / 2;
                let mut c = best.clone();
                if let Step::Crash(cr) = &mut c.steps[i] {
                    cr.after_ops = Some(mid);
                }
                if self.try_adopt(best, c) {
                    n = mid;
                    progress = true;
                } else {
                    lo = mid + 1;
                }
            }
        }
        progress
    }

    /// One candidate with every value shortened at once: when the values' sizes do not matter
    /// to the failure, this saves a run per step (and makes the report readable).
    fn shorten_all_values(&mut self, best: &mut Case) -> bool {
        let mut c = best.clone();
        for (i, step) in c.steps.iter_mut().enumerate() {
            match step {
                Step::Put { value, .. } if value.len() > 2 => *value = format!("v{i}"),
                Step::Batch { ops, .. } => {
                    for (j, m) in ops.iter_mut().enumerate() {
                        if let Mutation::Put { value, .. } = m
                            && value.len() > 2
                        {
                            *value = format!("v{i}.{j}");
                        }
                    }
                }
                _ => {}
            }
        }
        self.try_adopt(best, c)
    }

    fn simplify_steps(&mut self, best: &mut Case) -> bool {
        let mut progress = false;
        for i in 0..best.steps.len() {
            // Candidates are regenerated after each adoption, so reductions compound.
            while let Some(step) = best.steps.get(i) {
                let mut adopted = false;
                for candidate in simpler(step, i) {
                    let mut c = best.clone();
                    c.steps[i] = candidate;
                    if self.try_adopt(best, c) {
                        adopted = true;
                        break;
                    }
                }
                if !adopted {
                    break;
                }
                progress = true;
            }
        }
        progress
    }
}

/// Simpler versions of one step: fewer batch mutations, no sync flag, shorter values.
fn simpler(step: &Step, i: usize) -> Vec<Step> {
    let short = |v: &str| {
        if v.len() > 2 {
            Some(format!("v{i}"))
        } else {
            None
        }
    };
    let mut out = Vec::new();
    match step {
        Step::Put { key, value, sync } => {
            if *sync {
                out.push(Step::Put {
                    key: key.clone(),
                    value: value.clone(),
                    sync: false,
                });
            }
            if let Some(v) = short(value) {
                out.push(Step::Put {
                    key: key.clone(),
                    value: v,
                    sync: *sync,
                });
            }
        }
        Step::Delete { key, sync: true } => out.push(Step::Delete {
            key: key.clone(),
            sync: false,
        }),
        Step::Batch { ops, sync } => {
            if let [single] = ops.as_slice() {
                out.push(match single {
                    Mutation::Put { key, value } => Step::Put {
                        key: key.clone(),
                        value: value.clone(),
                        sync: *sync,
                    },
                    Mutation::Delete { key } => Step::Delete {
                        key: key.clone(),
                        sync: *sync,
                    },
                });
            }
            if *sync {
                out.push(Step::Batch {
                    ops: ops.clone(),
                    sync: false,
                });
            }
            for j in 0..ops.len() {
                if ops.len() > 1 {
                    let mut fewer = ops.clone();
                    fewer.remove(j);
                    out.push(Step::Batch {
                        ops: fewer,
                        sync: *sync,
                    });
                }
                if let Mutation::Put { key, value } = &ops[j]
                    && let Some(v) = short(value)
                {
                    let mut shorter = ops.clone();
                    shorter[j] = Mutation::Put {
                        key: key.clone(),
                        value: format!("{v}.{j}"),
                    };
                    out.push(Step::Batch {
                        ops: shorter,
                        sync: *sync,
                    });
                }
            }
        }
        _ => {}
    }
    out
}

/// Shrinks `case`, a failing case of store `S`, to a smaller case failing with the same
/// signature. If `case` does not fail, it comes back unchanged.
pub fn shrink<S: Store>(case: &Case, opts: &ShrinkOptions) -> ShrinkOutcome {
    let command = opts.command.clone();
    let run = |c: &Case| match execute::<S>(c) {
        Ok(o) => o,
        Err(e) => unrunnable_outcome(c, &e),
    };
    let mut out = shrink_by(case, opts, &run);
    if let Some(r) = out.outcome.report.as_mut() {
        r.test_snippet = Some(test_snippet::<S>(
            &format!("shrunk_{}", out.kind.name()),
            &out.case,
        ));
        r.replay = format!(
            "save the case as a scenario (--save-regressions) and run `{} FILE`",
            command.line("scenario")
        );
    }
    out
}

/// The outcome of a case that could not run at all (it names another store, or a
/// configuration the store rejects).
pub fn unrunnable_outcome(case: &Case, why: &str) -> RunOutcome {
    RunOutcome {
        seed: None,
        config: None,
        case: case.clone(),
        trace_hash: 0,
        crashes: Vec::new(),
        violations: vec![crate::checker::Violation::new(
            ViolationKind::UnexpectedError,
            why,
        )],
        coverage: Vec::new(),
        counts: Default::default(),
        report: None,
        damage: Vec::new(),
        hints: Vec::new(),
        signature: None,
        findings: Vec::new(),
        trace: None,
    }
}

/// [`shrink`] with your own executor (any function from a case to its outcome).
pub fn shrink_by(
    case: &Case,
    opts: &ShrinkOptions,
    run: &dyn Fn(&Case) -> RunOutcome,
) -> ShrinkOutcome {
    let first = run(case);
    let Some(signature) = Signature::of(&first) else {
        return ShrinkOutcome {
            case: case.clone(),
            outcome: first,
            runs: 1,
            kind: ViolationKind::UnexpectedError,
            signature: None,
            command: opts.command.clone(),
        };
    };
    let kind = signature.kind;
    let mut s = Shrinker {
        signature: signature.clone(),
        runs: 0,
        max_runs: opts.max_runs,
        run,
    };
    let mut best = case.clone();
    // Damage at a seeded offset moves whenever a removed step changes a file's length, which
    // would hide the failure from every candidate: pin it to where it struck first.
    if let Some(pinned) = pin_damage(&best, &first) {
        s.try_adopt(&mut best, pinned);
    }
    loop {
        let mut progress = s.shorten_all_values(&mut best);
        progress |= s.remove_runs(&mut best);
        progress |= s.earlier_crashes(&mut best);
        progress |= s.simplify_steps(&mut best);
        if !progress || s.runs >= s.max_runs {
            break;
        }
    }
    let outcome = run(&best);
    ShrinkOutcome {
        case: best,
        outcome,
        runs: s.runs,
        kind,
        signature: Some(signature),
        command: opts.command.clone(),
    }
}

/// The case with each raw damage fault that struck at a seeded offset (`offset: null`) replaced
/// by faults at the exact files and offsets it struck in `outcome`; `None` if there is none.
fn pin_damage(case: &Case, outcome: &RunOutcome) -> Option<Case> {
    use faultfs::{Fault, FaultClass, PathPattern};
    let mut pinned = case.clone();
    let mut changed = false;
    pinned.steps = Vec::with_capacity(case.steps.len());
    for step in &case.steps {
        let class = match step {
            Step::Fault(Fault::Truncate { offset: None, .. }) => FaultClass::Truncate,
            Step::Fault(Fault::BitFlip { offset: None, .. }) => FaultClass::BitFlip,
            Step::Fault(Fault::TornSector { offset: None, .. }) => FaultClass::TornSector,
            other => {
                pinned.steps.push(other.clone());
                continue;
            }
        };
        let struck: Vec<_> = outcome.damage.iter().filter(|d| d.class == class).collect();
        if struck.is_empty() {
            pinned.steps.push(step.clone());
            continue;
        }
        changed = true;
        for d in struck {
            let path = PathPattern(d.path.clone());
            let at = Some(d.offset);
            pinned.steps.push(Step::Fault(match step {
                Step::Fault(Fault::TornSector { sector, .. }) => Fault::TornSector {
                    path,
                    offset: at,
                    sector: *sector,
                },
                Step::Fault(Fault::BitFlip { .. }) => Fault::BitFlip { path, offset: at },
                _ => Fault::Truncate { path, offset: at },
            }));
        }
    }
    changed.then_some(pinned)
}

/// A `#[test]` that reproduces a case of store `S` without the seed. It names the store's type
/// by [`Store::rust_path`] (`powercut::stores::CarelessStore`, or your own type's path).
pub fn test_snippet<S: Store>(name: &str, case: &Case) -> String {
    let scenario = Scenario::from_case(name, "shrunk failure", case);
    let json = serde_json::to_string(&scenario).unwrap_or_default();
    let store = S::rust_path();
    format!(
        "#[test]\nfn {name}() {{\n    let scenario = powercut::Scenario::parse(\n        r##\"{json}\"##,\n        \
         std::path::Path::new(\"{name}.json\"),\n    )\n    .unwrap();\n    let outcome = \
         powercut::run_scenario::<{store}>(&scenario).unwrap();\n    assert!(outcome.passed(), \"{{}}\", \
         outcome.report.map(|r| r.to_string()).unwrap_or_default());\n}}\n"
    )
}

/// Writes a shrunk case to `dir/<name>.json` as a scenario that expects no violation (it fails
/// until the bug is fixed); returns the path. The report's `scenario_path` and `replay` are
/// updated to point at it.
pub fn write_scenario(
    dir: &Path,
    name: &str,
    description: &str,
    shrunk: &mut ShrinkOutcome,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{name}.json"));
    let scenario = Scenario::from_case(name, description, &shrunk.case);
    std::fs::write(&path, scenario.to_json() + "\n")?;
    if let Some(r) = shrunk.outcome.report.as_mut() {
        r.scenario_path = Some(path.display().to_string());
        r.replay = format!("{} {}", shrunk.command.line("scenario"), path.display());
    }
    Ok(path)
}

//! The regression folder: scenario files of shrunk failures, replayed before every sweep.
//!
//! A failure the gate once found and shrank is kept as a scenario (`--save-regressions`), so
//! that later changes are checked against it first, without depending on the seed still
//! reaching the same case.

use std::path::{Path, PathBuf};

use crate::gate::report::RegressionReport;
use crate::run::RunOutcome;
use crate::scenario::{Scenario, ScenarioError, run_scenario, scenario_passed};

/// The folder the gate replays by default (relative to the working directory).
pub const DEFAULT_DIR: &str = "scenarios/regressions";

/// The scenario files in `dir`, sorted by name; an absent folder holds none.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>, ScenarioError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ScenarioError::Read {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ScenarioError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Loads every scenario of `dir`; the first malformed file is an error naming it.
pub fn load(dir: &Path) -> Result<Vec<(PathBuf, Scenario)>, ScenarioError> {
    files(dir)?
        .into_iter()
        .map(|p| Scenario::load(&p).map(|s| (p, s)))
        .collect()
}

/// One replayed regression.
pub struct Replayed {
    pub report: RegressionReport,
    pub outcome: RunOutcome,
}

/// Runs the scenarios on up to `threads` threads; results keep the input order.
pub fn replay(scenarios: &[(PathBuf, Scenario)], threads: usize) -> Vec<Replayed> {
    let chunk = scenarios.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = scenarios
            .chunks(chunk)
            .map(|part| {
                std::thread::Builder::new()
                    .name(format!("{}regressions", crate::gate::pool::WORKER_NAME))
                    .spawn_scoped(scope, move || {
                        part.iter().map(replay_one).collect::<Vec<_>>()
                    })
            })
            .collect();
        handles
            .into_iter()
            .zip(scenarios.chunks(chunk))
            .flat_map(|(h, part)| match h {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|_| part.iter().map(replay_one).collect()),
                Err(_) => part.iter().map(replay_one).collect(),
            })
            .collect()
    })
}

fn replay_one((path, scenario): &(PathBuf, Scenario)) -> Replayed {
    let outcome = run_scenario(scenario);
    Replayed {
        report: RegressionReport {
            path: path.display().to_string(),
            name: scenario.name.clone(),
            passed: scenario_passed(scenario, &outcome),
            expected_violation: scenario.expect_violation.map(|k| k.name().to_string()),
            violation: outcome
                .violations
                .first()
                .map(|v| v.kind.name().to_string()),
        },
        outcome,
    }
}

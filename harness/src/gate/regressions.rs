//! The regression folder: scenario files of shrunk failures, replayed before every sweep.
//!
//! A failure the gate once found and shrank is kept as a scenario (`--save-regressions`), so
//! that later changes are checked against it first, without depending on the seed still
//! reaching the same case.

use std::path::{Path, PathBuf};

use crate::gate::report::RegressionReport;
use crate::run::RunOutcome;
use crate::scenario::{Scenario, ScenarioError, run_scenario, scenario_passed};
use crate::store::Store;

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

/// The scenarios of `dir` written for store `S` (or for no store in particular), and the paths
/// of those written for other stores (another store's gate replays them); a malformed file is an
/// error naming it, and so is one `S` cannot run.
#[allow(clippy::type_complexity)]
pub fn load_for<S: Store>(
    dir: &Path,
) -> Result<(Vec<(PathBuf, Scenario)>, Vec<PathBuf>), ScenarioError> {
    let (mine, others): (Vec<_>, Vec<_>) = load(dir)?
        .into_iter()
        .partition(|(_, s)| s.store.as_deref().is_none_or(|n| n == S::name()));
    for (path, s) in &mine {
        s.to_case::<S>(path)?;
    }
    Ok((mine, others.into_iter().map(|(p, _)| p).collect()))
}

/// Runs the scenarios on store `S` on up to `threads` threads; results keep the input order.
pub fn replay<S: Store>(scenarios: &[(PathBuf, Scenario)], threads: usize) -> Vec<Replayed> {
    let chunk = scenarios.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = scenarios
            .chunks(chunk)
            .map(|part| {
                std::thread::Builder::new()
                    .name(format!("{}regressions", crate::gate::pool::WORKER_NAME))
                    .spawn_scoped(scope, move || {
                        part.iter().map(replay_one::<S>).collect::<Vec<_>>()
                    })
            })
            .collect();
        handles
            .into_iter()
            .zip(scenarios.chunks(chunk))
            .flat_map(|(h, part)| match h {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|_| part.iter().map(replay_one::<S>).collect()),
                Err(_) => part.iter().map(replay_one::<S>).collect(),
            })
            .collect()
    })
}

fn replay_one<S: Store>((path, scenario): &(PathBuf, Scenario)) -> Replayed {
    // `load_for` already ran `to_case`, so this cannot fail.
    let outcome = run_scenario::<S>(scenario).unwrap_or_else(|e| {
        crate::shrink::unrunnable_outcome(&crate::case::Case::new::<S>(Vec::new()), &e.to_string())
    });
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

//! Exploration: every crash point of one run, each with every distinct post-crash disk.

use faultfs::{CrashPolicy, Phase};
use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::checker::Violation;

/// What to explore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExploreOptions {
    /// The policies whose crash images are tried at each point.
    pub policies: Vec<CrashPolicy>,
    /// At most this many distinct images per point and policy.
    pub bound: usize,
    /// Stop after this many violations.
    pub max_violations: usize,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        ExploreOptions {
            policies: vec![CrashPolicy::Torn { sector: 512 }],
            bound: 8,
            max_violations: 1,
        }
    }
}

/// A violation found at one crash point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointViolation {
    /// The mutating fs operation the power went before (0-based).
    pub op_index: u64,
    pub phase: Phase,
    /// The operation that was about to run, as JSON.
    pub op: String,
    pub policy: CrashPolicy,
    pub violation: Violation,
}

/// What an exploration tried and found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExploreOutcome {
    /// Crash points visited (mutating fs operations).
    pub points: u64,
    /// Crash points per engine phase.
    pub points_by_phase: Vec<(Phase, u64)>,
    /// Distinct disks recovered and checked.
    pub disks_tried: u64,
    /// Disks skipped because an identical one was already checked.
    pub disks_skipped: u64,
    pub violations: Vec<PointViolation>,
}

/// Runs `case` once without crashing, visiting every crash point through the `SimFs` mutation
/// hook; at each, recovers every distinct crash image (up to the bound) on a fresh disk and
/// checks it against that point's D..N.
pub fn explore(case: &Case, opts: &ExploreOptions) -> ExploreOutcome {
    let _ = (case, opts);
    todo!()
}

/// The case with its crash and fault steps removed, so one uninterrupted run visits every point.
pub fn explorable(case: &Case) -> Case {
    let mut c = case.clone();
    c.steps.retain(|s| {
        !matches!(
            s,
            crate::case::Step::Crash(_)
                | crate::case::Step::Fault(_)
                | crate::case::Step::Damage(_)
        )
    });
    c
}

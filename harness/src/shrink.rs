//! Shrinking: reduce a failing case to a minimal one that fails for the same reason.

use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::checker::ViolationKind;
use crate::run::RunOutcome;

/// Limits of a shrink.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShrinkOptions {
    /// At most this many candidate runs.
    pub max_runs: usize,
}

impl Default for ShrinkOptions {
    fn default() -> Self {
        ShrinkOptions { max_runs: 4000 }
    }
}

/// The result of a shrink.
#[derive(Clone, Debug)]
pub struct ShrinkOutcome {
    /// The smallest case found that still fails with the same violation kind.
    pub case: Case,
    /// Its run.
    pub outcome: RunOutcome,
    /// How many candidate runs were tried.
    pub runs: usize,
}

/// Shrinks `case`, which fails with `kind`, to a smaller case failing with `kind`.
pub fn shrink(case: &Case, kind: ViolationKind, opts: &ShrinkOptions) -> ShrinkOutcome {
    let _ = (case, kind, opts);
    todo!()
}

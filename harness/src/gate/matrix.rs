//! The coverage matrix: cause (fault class or crash policy) x file kind x engine phase.
//!
//! Each run reports [`CoverageFact`]s; the gate counts, per cell, how many seeds reached it. The
//! cells a default sweep must reach are listed in [`super::expected`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use faultfs::{FaultClass, Phase};
use serde::{Deserialize, Serialize};

use crate::coverage::{Cause, CoverageFact, FileKind, PolicyKind};
use crate::gate::expected;
use crate::swarm::{ALL_FAULTS, fault_class_name};

/// One cell of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Cell {
    pub cause: Cause,
    pub file: FileKind,
    pub phase: Phase,
}

impl Cell {
    pub fn of(fact: &CoverageFact) -> Cell {
        Cell {
            cause: fact.cause,
            file: fact.file,
            phase: fact.phase,
        }
    }
}

/// The name of a cause in reports: `crash:torn`, `fault:bit_flip`.
pub fn cause_name(cause: Cause) -> String {
    match cause {
        Cause::Crash(p) => format!("crash:{}", p.name()),
        Cause::Fault(f) => format!("fault:{}", fault_class_name(f)),
    }
}

/// Every cause, policies first, in a fixed order.
pub fn all_causes() -> Vec<Cause> {
    PolicyKind::ALL
        .into_iter()
        .map(Cause::Crash)
        .chain(ALL_FAULTS.into_iter().map(Cause::Fault))
        .collect()
}

/// One letter per phase, in [`Phase::ALL`] order.
pub fn phase_letter(phase: Phase) -> char {
    match phase {
        Phase::Write => 'W',
        Phase::Flush => 'F',
        Phase::Compaction => 'C',
        Phase::Rollover => 'R',
        Phase::Recovery => 'V',
        Phase::Create => 'N',
    }
}

/// How many seeds reached each cell, for the causes a sweep included.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matrix {
    /// The causes the sweep could exercise (only their cells can be expected).
    pub causes: Vec<Cause>,
    pub hits: BTreeMap<Cell, u64>,
    /// Whether the built-in engine's table of expected cells ([`super::expected`]) applies;
    /// for any other store no single cell is required (every swept fault class must still
    /// fire, see the gate's fault report).
    pub engine_table: bool,
}

impl Matrix {
    /// An empty matrix for a sweep over these policies and fault classes.
    pub fn new(policies: &[PolicyKind], faults: &[FaultClass], engine_table: bool) -> Matrix {
        let causes = all_causes()
            .into_iter()
            .filter(|c| match c {
                Cause::Crash(p) => policies.contains(p),
                Cause::Fault(f) => faults.contains(f),
            })
            .collect();
        Matrix {
            causes,
            hits: BTreeMap::new(),
            engine_table,
        }
    }

    /// Tells whether the sweep must reach `cell`.
    pub fn is_expected(&self, cell: &Cell) -> bool {
        self.engine_table && expected::is_expected(cell)
    }

    /// Counts one seed's cells.
    pub fn add(&mut self, cells: &[Cell]) {
        for c in cells {
            *self.hits.entry(*c).or_default() += 1;
        }
    }

    pub fn reached(&self, cell: &Cell) -> bool {
        self.hits.get(cell).is_some_and(|n| *n > 0)
    }

    /// The cells the sweep's causes are expected to reach.
    pub fn expected(&self) -> Vec<Cell> {
        self.causes
            .iter()
            .flat_map(|cause| {
                FileKind::ALL.into_iter().flat_map(move |file| {
                    Phase::ALL
                        .into_iter()
                        .map(move |phase| Cell {
                            cause: *cause,
                            file,
                            phase,
                        })
                        .filter(|c| self.is_expected(c))
                })
            })
            .collect()
    }

    /// Expected cells that no seed reached.
    pub fn missing(&self) -> Vec<Cell> {
        self.expected()
            .into_iter()
            .filter(|c| !self.reached(c))
            .collect()
    }

    /// The matrix as text: a row per cause, a column per file kind, one character per phase
    /// (its capital letter when expected and reached, `.` when expected but not reached, its
    /// small letter when reached though not expected, `-` otherwise).
    pub fn render(&self) -> String {
        let mut out = String::from(
            "coverage (phases W=write F=flush C=compaction R=rollover V=recovery N=creation; LETTER expected \
             and reached, '.' expected but NOT reached, letter reached though not expected, '-' \
             neither)\n",
        );
        let _ = write!(out, "{:<26}", "cause");
        for f in FileKind::ALL {
            let _ = write!(out, " {:<9}", f.name());
        }
        out.push('\n');
        for cause in &self.causes {
            let _ = write!(out, "{:<26}", cause_name(*cause));
            for file in FileKind::ALL {
                let cells: String = Phase::ALL
                    .into_iter()
                    .map(|phase| {
                        let cell = Cell {
                            cause: *cause,
                            file,
                            phase,
                        };
                        let wanted = self.is_expected(&cell);
                        if self.reached(&cell) && wanted {
                            phase_letter(phase)
                        } else if self.reached(&cell) {
                            phase_letter(phase).to_ascii_lowercase()
                        } else if wanted {
                            '.'
                        } else {
                            '-'
                        }
                    })
                    .collect();
                let _ = write!(out, " {cells:<9}");
            }
            out.push('\n');
        }
        let expected = self.expected().len();
        let missing = self.missing().len();
        let _ = write!(
            out,
            "{} of {} expected cells reached; {} cells reached in all",
            expected - missing,
            expected,
            self.hits.len()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reached_cell_is_counted_per_seed() {
        let mut m = Matrix::new(&PolicyKind::ALL, &[], true);
        let cell = Cell {
            cause: Cause::Crash(PolicyKind::Torn),
            file: FileKind::Log,
            phase: Phase::Write,
        };
        m.add(&[cell]);
        m.add(&[cell]);
        assert_eq!(m.hits.get(&cell), Some(&2));
        assert!(!m.missing().contains(&cell));
    }

    #[test]
    fn causes_outside_the_sweep_expect_nothing() {
        let m = Matrix::new(&[PolicyKind::Strict], &[], true);
        assert!(
            m.expected()
                .iter()
                .all(|c| c.cause == Cause::Crash(PolicyKind::Strict))
        );
    }
}

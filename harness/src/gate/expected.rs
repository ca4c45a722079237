//! The coverage cells a default sweep is expected to reach, in one table.
//!
//! A row names a group of causes and a file kind, the phases (`W`rite, `F`lush, `C`ompaction,
//! `R`ollover, reco`V`ery) in which the sweep must reach that file, and why the other phases are
//! unreachable by design. `--min-coverage` fails the gate when an expected cell of a cause the
//! sweep included was not reached.
//!
//! Where a crash or fault "reaches" a cell is where the harness records it: a crash at the
//! mutating operation the power cut refused (reads are never crash points), a fault at the
//! operation it fired on, and damage (bit flip, torn sector, truncation) at the reboot that
//! applied it, under the phase label in force when the power went.

use faultfs::{FaultClass, Phase};

use crate::coverage::{Cause, FileKind};
use crate::gate::matrix::{Cell, phase_letter};

/// A group of causes that reach files the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// A power cut under any policy.
    Crash,
    /// EIO on a read.
    Read,
    /// A failed or misplaced write: EIO, ENOSPC, a misdirected write.
    Write,
    /// A failed sync, in any of its modes.
    Sync,
    /// Damage to durable bytes, applied at a reboot.
    Damage,
}

impl Group {
    pub fn of(cause: Cause) -> Group {
        match cause {
            Cause::Crash(_) => Group::Crash,
            Cause::Fault(f) => match f {
                FaultClass::ReadError => Group::Read,
                FaultClass::WriteError | FaultClass::NoSpace | FaultClass::MisdirectedWrite => {
                    Group::Write
                }
                FaultClass::SyncError
                | FaultClass::FsyncMarkClean
                | FaultClass::FsyncReportLater
                | FaultClass::FsyncRevert => Group::Sync,
                FaultClass::BitFlip | FaultClass::TornSector | FaultClass::Truncate => {
                    Group::Damage
                }
            },
        }
    }
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub group: Group,
    pub file: FileKind,
    /// Five characters in `WFCRV` order: the letter when expected, `-` when not.
    pub phases: &'static str,
    /// Why each `-` phase cannot be reached by design.
    pub why_not: &'static str,
}

use FileKind::{Current, Manifest, Other, Sst, Wal};
use Group::{Crash, Damage, Read, Sync, Write};

/// The table. A (group, file) pair with no row expects nothing.
pub const TABLE: &[Row] = &[
    Row {
        group: Crash,
        file: Wal,
        phases: "WF--V",
        why_not: "compaction and rollover never create, write or remove a WAL",
    },
    Row {
        group: Crash,
        file: Sst,
        phases: "-FC-V",
        why_not: "foreground writes and rollover never write an SST",
    },
    Row {
        group: Crash,
        file: Manifest,
        phases: "-FCRV",
        why_not: "foreground writes never touch the MANIFEST",
    },
    Row {
        group: Crash,
        file: Current,
        phases: "---RV",
        why_not: "CURRENT changes only when a MANIFEST is rolled over (or created at open)",
    },
    Row {
        group: Crash,
        file: Other,
        phases: "WFCRV",
        why_not: "",
    },
    Row {
        group: Read,
        file: Wal,
        phases: "----V",
        why_not: "a WAL is read back only by recovery",
    },
    Row {
        group: Read,
        file: Sst,
        phases: "W-C-V",
        why_not: "flush and rollover write SSTs but read none",
    },
    Row {
        group: Read,
        file: Manifest,
        phases: "----V",
        why_not: "the MANIFEST is read only by recovery",
    },
    Row {
        group: Read,
        file: Current,
        phases: "----V",
        why_not: "CURRENT is read only by recovery",
    },
    Row {
        group: Write,
        file: Wal,
        phases: "W----",
        why_not: "only foreground writes append to a WAL",
    },
    Row {
        group: Write,
        file: Sst,
        phases: "-FC--",
        why_not: "only flush and compaction write SSTs",
    },
    Row {
        group: Write,
        file: Manifest,
        phases: "-FCR-",
        why_not: "foreground writes do not edit the MANIFEST; recovery writes through rollover",
    },
    Row {
        group: Write,
        file: Current,
        phases: "---R-",
        why_not: "CURRENT.tmp is written only by a rollover",
    },
    Row {
        group: Sync,
        file: Wal,
        phases: "W----",
        why_not: "only foreground writes sync a WAL",
    },
    Row {
        group: Sync,
        file: Sst,
        phases: "-FC--",
        why_not: "only flush and compaction sync SSTs",
    },
    Row {
        group: Sync,
        file: Manifest,
        phases: "-FCR-",
        why_not: "the MANIFEST is synced by the edits of flush and compaction and by rollover",
    },
    Row {
        group: Sync,
        file: Current,
        phases: "---R-",
        why_not: "CURRENT.tmp is synced only by a rollover",
    },
    Row {
        group: Damage,
        file: Wal,
        phases: "W----",
        why_not: "damage is applied at the reboot after a crash; the sweep's crashes in other \
                  phases rarely leave a WAL with two durable writes to aim at",
    },
    Row {
        group: Damage,
        file: Sst,
        phases: "WF---",
        why_not: "damage is applied at the reboot after a crash",
    },
    Row {
        group: Damage,
        file: Manifest,
        phases: "WF---",
        why_not: "damage is applied at the reboot after a crash",
    },
];

/// The row for a cell's cause group and file, if any.
pub fn row(cell: &Cell) -> Option<&'static Row> {
    let group = Group::of(cell.cause);
    TABLE
        .iter()
        .find(|r| r.group == group && r.file == cell.file)
}

/// Tells whether the default sweep must reach `cell`.
pub fn is_expected(cell: &Cell) -> bool {
    row(cell).is_some_and(|r| r.phases.contains(phase_letter(cell.phase)))
}

/// Why a cell is not expected (for reports), or `None` when it is.
pub fn why_not(cell: &Cell) -> Option<&'static str> {
    if is_expected(cell) {
        return None;
    }
    Some(row(cell).map_or(
        "the sweep aims faults only at the engine's data files (WAL, SST, MANIFEST, CURRENT)",
        |r| r.why_not,
    ))
}

/// Every phase column of a row is one of `WFCRV` or `-`.
pub fn table_is_well_formed() -> bool {
    TABLE.iter().all(|r| {
        r.phases.len() == Phase::ALL.len()
            && r.phases
                .chars()
                .zip(Phase::ALL)
                .all(|(c, p)| c == '-' || c == phase_letter(p))
            && (r.phases.contains('-') != r.why_not.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_well_formed() {
        assert!(table_is_well_formed());
    }

    #[test]
    fn every_row_is_unique() {
        for (i, a) in TABLE.iter().enumerate() {
            for b in &TABLE[i + 1..] {
                assert!(!(a.group == b.group && a.file == b.file), "{a:?} twice");
            }
        }
    }
}

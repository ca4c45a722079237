//! The coverage cells a default sweep is expected to reach, in one table.
//!
//! A row names a group of causes (or one fault class) and a file kind, the phases (`W`rite,
//! `F`lush, `C`ompaction, `R`ollover, reco`V`ery) in which the sweep must reach that file, and why
//! the other phases are not expected: unreachable by design, or (said so) reachable only by rare
//! chance. `--min-coverage` fails the gate when an expected cell of a cause the sweep included
//! was not reached. The table was checked against 60-second default sweeps: every expected cell
//! is reached there by dozens of seeds or more.
//!
//! Where a crash or fault "reaches" a cell is where the harness records it: a crash at the
//! mutating operation the power cut refused (reads are never crash points), a fault at the
//! operation it fired on, and damage (bit flip, torn sector, truncation) at the reboot that
//! applied it (labelled `write`: a reboot starts a fresh power-on).

use faultfs::{FaultClass, Phase};

use crate::coverage::{Cause, FileKind};

/// The phase column the table leaves out: creation (the first open) is a rare, short window
/// that no cell requires.
const CREATE: char = 'N';
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

/// Which causes a row speaks for: a whole group, or one fault class (which overrides its
/// group's row for that file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Causes {
    Group(Group),
    Class(FaultClass),
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub causes: Causes,
    pub file: FileKind,
    /// Five characters in `WFCRV` order: the letter when expected, `-` when not.
    pub phases: &'static str,
    /// Why each `-` phase is not expected.
    pub why_not: &'static str,
}

use Causes::{Class, Group as G};
// The engine's files by their roles: WAL = log, SST = data, CURRENT = pointer.
use FileKind::{Data as Sst, Log as Wal, Manifest, Other, Pointer as Current};
use Group::{Crash, Damage, Read, Sync, Write};

const fn row(causes: Causes, file: FileKind, phases: &'static str, why_not: &'static str) -> Row {
    Row {
        causes,
        file,
        phases,
        why_not,
    }
}

/// Why damage is only ever seen in the write phase.
const DAMAGE_AT_REBOOT: &str = "damage is applied by the reboot after a crash, and the log \
     labels a reboot with the phase a fresh power-on starts in (write)";

/// The table. A (cause, file) pair with no row expects nothing: the sweep aims faults only at
/// the engine's data files, and the LOCK file and the directory carry no data.
pub const TABLE: &[Row] = &[
    // Power cuts: at the mutating operation that was refused.
    row(
        G(Crash),
        Wal,
        "WF--V-",
        "compaction and rollover never create, write or remove a WAL",
    ),
    row(
        G(Crash),
        Sst,
        "-FC-V-",
        "foreground writes and rollover never write or remove an SST",
    ),
    row(
        G(Crash),
        Manifest,
        "-FCRV-",
        "foreground writes never touch the MANIFEST",
    ),
    row(
        G(Crash),
        Current,
        "---RV-",
        "CURRENT changes only when a MANIFEST is started (rollover, or at open)",
    ),
    row(G(Crash), Other, "WFCRV-", ""),
    // EIO on reads.
    row(
        G(Read),
        Wal,
        "----V-",
        "a WAL is read back only by recovery",
    ),
    row(
        G(Read),
        Sst,
        "WFC-V-",
        "a rollover writes a MANIFEST and CURRENT and reads no SST",
    ),
    row(
        G(Read),
        Manifest,
        "----V-",
        "the MANIFEST is read only by recovery",
    ),
    row(
        G(Read),
        Current,
        "W---V-",
        "CURRENT is read at open and by the invariant check, never by flush, compaction or rollover",
    ),
    // Failed or misplaced writes.
    row(
        G(Write),
        Wal,
        "W-----",
        "only foreground writes append to a WAL; the WAL recovery creates stays empty until the next write",
    ),
    row(
        G(Write),
        Sst,
        "-FC-V-",
        "foreground writes and rollover write no SST",
    ),
    row(
        G(Write),
        Manifest,
        "-FCRV-",
        "foreground writes do not edit the MANIFEST",
    ),
    row(
        G(Write),
        Current,
        "---RV-",
        "CURRENT.tmp is written only when a MANIFEST is started",
    ),
    row(
        Class(FaultClass::NoSpace),
        Current,
        "------",
        "ENOSPC hits the write that crosses the capacity; CURRENT.tmp's few bytes are that write only by rare chance",
    ),
    // Failed syncs.
    row(G(Sync), Wal, "W-----", "only foreground writes sync a WAL"),
    row(
        G(Sync),
        Sst,
        "-FC-V-",
        "foreground writes and rollover sync no SST",
    ),
    row(
        G(Sync),
        Manifest,
        "-FCRV-",
        "foreground writes do not sync the MANIFEST",
    ),
    row(
        G(Sync),
        Current,
        "---RV-",
        "CURRENT.tmp is synced only when a MANIFEST is started",
    ),
    row(
        Class(FaultClass::FsyncReportLater),
        Sst,
        "------",
        "an SST is synced once; a deferred fsync error has no later sync of the file to surface on",
    ),
    row(
        Class(FaultClass::FsyncReportLater),
        Current,
        "------",
        "CURRENT.tmp is synced once before its rename; the deferred error has no later sync to surface on",
    ),
    // Damage to durable bytes.
    row(G(Damage), Wal, "W-----", DAMAGE_AT_REBOOT),
    row(G(Damage), Sst, "W-----", DAMAGE_AT_REBOOT),
    row(G(Damage), Manifest, "W-----", DAMAGE_AT_REBOOT),
    row(
        Class(FaultClass::Truncate),
        Current,
        "W-----",
        DAMAGE_AT_REBOOT,
    ),
];

/// The row that decides a cell: its fault class's own row, else its group's.
pub fn row_of(cell: &Cell) -> Option<&'static Row> {
    let group = Group::of(cell.cause);
    let class = match cell.cause {
        Cause::Fault(f) => Some(f),
        Cause::Crash(_) => None,
    };
    TABLE
        .iter()
        .find(|r| r.file == cell.file && class.is_some_and(|c| r.causes == Class(c)))
        .or_else(|| {
            TABLE
                .iter()
                .find(|r| r.file == cell.file && r.causes == G(group))
        })
}

/// Tells whether the default sweep of the engine must reach `cell`.
pub fn is_expected(cell: &Cell) -> bool {
    let letter = phase_letter(cell.phase);
    letter != CREATE && row_of(cell).is_some_and(|r| r.phases.contains(letter))
}

/// Why a cell is not expected (for reports), or `None` when it is.
pub fn why_not(cell: &Cell) -> Option<&'static str> {
    if is_expected(cell) {
        return None;
    }
    Some(row_of(cell).map_or(
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
            && (r.phases[..r.phases.len() - 1].contains('-') != r.why_not.is_empty())
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
                assert!(!(a.causes == b.causes && a.file == b.file), "{a:?} twice");
            }
        }
    }
}
